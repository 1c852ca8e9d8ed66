"""``prunescale theory``: solve the replica equations on a grid of (f, alpha) points."""

from __future__ import annotations

import json
import sys

import numpy as np

from prunescale._args import CliError, values_type

#: Largest number of grid points one ``prunescale theory`` call solves.
MAX_POINTS = 1_000_000


def add_parser(sub):
    p = sub.add_parser(
        "theory",
        help="solve the replica theory of the max-margin student on pruned data",
        description=(
            "Solve the replica-theory equations of the max-margin perceptron trained on "
            "margin-pruned data at every combination of --f and --alpha-prune (or --alpha-tot). "
            "Values are a number, a comma list, or start:stop:num (like numpy.linspace)."
        ),
    )
    p.add_argument("--rule", required=True, help="pruning rule: hard, easy or random")
    p.add_argument("--f", required=True, type=values_type("--f"),
                   help="kept fraction(s) in (0, 1]")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--alpha-prune", type=values_type("--alpha-prune"),
                   help="kept examples per dimension (> 0)")
    g.add_argument("--alpha-tot", type=values_type("--alpha-tot"),
                   help="pool size per dimension (> 0); alpha_prune = f * alpha_tot")
    p.add_argument("--theta-deg", type=values_type("--theta-deg"), default=np.zeros(1),
                   help="probe angle(s) to the teacher in degrees, in [0, 90) (default 0)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per point")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    from prunescale.theory import RULES, solve

    if args.rule not in RULES:
        raise CliError(f"--rule must be one of {', '.join(RULES)}; got {args.rule!r}")
    alphas = args.alpha_prune if args.alpha_prune is not None else args.alpha_tot
    n_points = args.f.size * alphas.size * args.theta_deg.size
    if n_points > MAX_POINTS:
        raise CliError(f"the grid of --f, --alpha-prune/--alpha-tot and --theta-deg has "
                       f"{n_points} points; at most {MAX_POINTS} per call")
    F, AL, TH = np.meshgrid(args.f, alphas, args.theta_deg, indexing="ij")
    kw = {"alpha_prune": AL} if args.alpha_prune is not None else {"alpha_tot": AL}
    res = solve(args.rule, F, theta_deg=TH, **kw)
    recs = res.records()
    if args.json:
        sys.stdout.write(json.dumps(recs) + "\n")  # one-shot: the C encoder
    else:
        _table(recs)
    return 0 if all(r["converged"] for r in recs) else 1


def _fmt(v, spec):
    return "nan" if v is None else format(v, spec)


def _table(recs):
    head = (f"{'rule':<6} {'f':>8} {'alpha_prune':>11} {'alpha_tot':>10} {'theta':>6} "
            f"{'eps':>12} {'R':>10} {'S':>10} {'kappa':>10} {'gap':>8} certified")
    print(head)
    for r in recs:
        print(
            f"{r['rule']:<6} {_fmt(r['f'], '8.4g')} {_fmt(r['alpha_prune'], '11.5g')} "
            f"{_fmt(r['alpha_tot'], '10.5g')} {_fmt(r['theta_deg'], '6.3g')} "
            f"{_fmt(r['eps'], '12.7g')} {_fmt(r['R'], '10.6f')} {_fmt(r['S'], '10.6f')} "
            f"{_fmt(r['kappa'], '10.6f')} {_fmt(r['gap'], '8.1e')} "
            f"{'yes' if r['converged'] else 'NO: ' + r['reason']}"
        )
