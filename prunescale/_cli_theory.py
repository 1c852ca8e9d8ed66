"""``prunescale theory``: solve the replica equations on a grid of (f, alpha) points."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from prunescale._args import CliError, names_type, values_type

RULES = ("hard", "easy", "random")

EPILOG = """\
output columns: rule, f, alpha_prune, alpha_tot, theta (degrees), eps (test error
arccos(R)/pi), R and S (overlaps with the teacher and with the probe's direction orthogonal
to it), kappa (the max margin), eps_bound (bound on |eps - eps_exact|: convex duality bound
under the solving and the refined quadrature, see docs/theory.md), certified ('yes', or 'NO:'
and the reason; eps, R, S, kappa and eps_bound are then nan). --json adds gap, residual,
quad_err and reason.

exit status: 0 every point certified; 1 some point not certified (one summary line on
stderr); 2 bad input; 130 interrupted.
"""

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
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rule", required=True, type=names_type("--rule", RULES),
                   help="pruning rule(s): hard, easy, random, or a comma list")
    p.add_argument("--f", required=True, type=values_type("--f"),
                   help="kept fraction(s) in (0, 1]")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--alpha-prune", type=values_type("--alpha-prune"),
                   help="kept examples per dimension (> 0)")
    g.add_argument("--alpha-tot", type=values_type("--alpha-tot"),
                   help="pool size per dimension (> 0); alpha_prune = f * alpha_tot")
    p.add_argument("--theta-deg", type=values_type("--theta-deg"), default=np.zeros(1),
                   help="probe angle(s) to the teacher in degrees, in [0, 90) (default 0)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="also write the results to FILE, as CSV or JSON by its extension "
                        "(written atomically)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per point")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    from prunescale._output import check_out_file, write_records
    from prunescale.theory import solve

    out = check_out_file(args.out)
    alphas = args.alpha_prune if args.alpha_prune is not None else args.alpha_tot
    n_points = len(args.rule) * args.f.size * alphas.size * args.theta_deg.size
    if n_points > MAX_POINTS:
        raise CliError(f"the grid of --rule, --f, --alpha-prune/--alpha-tot and --theta-deg has "
                       f"{n_points} points; at most {MAX_POINTS} per call")
    F, AL, TH = np.meshgrid(args.f, alphas, args.theta_deg, indexing="ij")
    kw = {"alpha_prune": AL} if args.alpha_prune is not None else {"alpha_tot": AL}
    recs = []
    for rule in args.rule:
        recs += solve(rule, F, theta_deg=TH, **kw).records()
    if out is not None:
        write_records(out, recs)
    if args.json:
        sys.stdout.write(json.dumps(recs) + "\n")  # one-shot: the C encoder
    else:
        _table(recs)
    bad = sum(1 for r in recs if not r["converged"])
    if bad:
        first = next(r for r in recs if not r["converged"])
        print(f"prunescale: {bad} of {len(recs)} points not certified (first: {first['reason']})",
              file=sys.stderr)
        return 1
    return 0


def _fmt(v, spec):
    return "nan" if v is None else format(v, spec)


def _table(recs):
    head = (f"{'rule':<6} {'f':>8} {'alpha_prune':>11} {'alpha_tot':>10} {'theta':>6} "
            f"{'eps':>12} {'R':>10} {'S':>10} {'kappa':>10} {'eps_bound':>9} certified")
    print(head)
    for r in recs:
        print(
            f"{r['rule']:<6} {_fmt(r['f'], '8.4g')} {_fmt(r['alpha_prune'], '11.5g')} "
            f"{_fmt(r['alpha_tot'], '10.5g')} {_fmt(r['theta_deg'], '6.3g')} "
            f"{_fmt(r['eps'], '12.7g')} {_fmt(r['R'], '10.6f')} {_fmt(r['S'], '10.6f')} "
            f"{_fmt(r['kappa'], '10.6f')} {_fmt(r['eps_bound'], '9.1e')} "
            f"{'yes' if r['converged'] else 'NO: ' + r['reason']}"
        )
