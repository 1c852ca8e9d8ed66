"""``prunescale sim``: certified max-margin students on pruned data, compared with the theory.

    prunescale sim --rule R --f F --alpha-prune A [--alpha-tot B] [--theta-deg T]
                   --n N --seeds K [--seed S] [--direct] [--gap-tol G] [--json] [--quiet]

``--f`` and ``--alpha-prune`` (or ``--alpha-tot``) take a number, a comma list or
``start:stop:num``; every combination is simulated. With both ``--alpha-prune`` and
``--alpha-tot`` they must satisfy ``alpha_prune = f alpha_tot`` (relative tolerance 1e-9);
with only ``--alpha-tot``, ``alpha_prune = f alpha_tot``; with only ``--alpha-prune`` the pool
is ``alpha_tot = alpha_prune / f`` (for ``random`` too: a uniform subset of that pool).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

from prunescale._args import CliError, names_type, values_type

RULES = ("hard", "easy", "random")

EPILOG = """\
output columns: rule, f, a_prune (alpha_prune), a_tot (alpha_tot), theta (degrees), N, K
(students), eps (mean over certified students) +-sem, theory (replica eps; '-' where it is
not certified), z = (eps - theory) / sem ('-' without a certified theory), R, S, kappa
(means), max_gap (largest relative duality gap), flag (students above --gap-tol, excluded
from the means). --json adds every field of SimResult.summary().

exit status: 0 every student and theory point certified; 1 some student flagged or some
theory point not certified (one summary line on stderr); 2 bad input; 130 interrupted.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sim",
        help="simulate certified max-margin students on pruned data",
        description="Simulate max-margin students trained on margin-pruned Gaussian data "
        "(teacher-student perceptron of Sorscher et al. 2022); every student is certified by "
        "its relative duality gap, and the theory's eps is printed alongside. Grid options "
        "take a number, a comma list or start:stop:num; every combination is simulated.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rule", required=True, type=names_type("--rule", RULES),
                   help="pruning rule(s): hard, easy, random, or a comma list")
    p.add_argument("--f", required=True, type=values_type("--f"),
                   help="kept fraction(s) in (0, 1]: a number, a comma list or start:stop:num")
    p.add_argument("--alpha-prune", type=values_type("--alpha-prune"), default=None,
                   help="kept examples per dimension (number, list or start:stop:num)")
    p.add_argument("--alpha-tot", type=values_type("--alpha-tot"), default=None,
                   help="pool size per dimension; alpha_prune = f * alpha_tot")
    p.add_argument("--theta-deg", type=values_type("--theta-deg"), default=np.zeros(1),
                   help="probe angle(s) to the teacher in degrees, in [0, 90) (default 0)")
    p.add_argument("--n", type=values_type("--n"), required=True,
                   help="input dimension(s) N >= 1 (integers)")
    p.add_argument("--seeds", type=int, required=True, help="number of students >= 1")
    p.add_argument("--seed", type=int, default=0, help="base seed >= 0 (default 0)")
    p.add_argument("--direct", action="store_true",
                   help="sample kept data from the N -> infinity law instead of a finite pool")
    p.add_argument("--gap-tol", type=float, default=1e-6,
                   help="flag students whose certified relative duality gap exceeds this "
                   "(default 1e-6)")
    p.add_argument("--chunk", type=int, default=None,
                   help="students per compiled block (default: 8, fewer if memory requires)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="also write the results to FILE, as CSV or JSON by its extension "
                        "(written atomically)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per point")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--no-theory", action="store_true", help="do not compute eps_theory")
    p.set_defaults(run=run)
    return p


#: Upper limits of the command line (the Python API has none): input dimension, students,
#: base seed, and the examples of one pool (``round(alpha_tot N)``).
MAX_N = 100_000
MAX_SEEDS = 1_000_000
MAX_SEED = 2**32 - 1
MAX_POOL = 10**8


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    from prunescale.theory.pruning import check_int

    return check_int(name, value, lo, hi)


def _points(args) -> list[tuple[float, float, float]]:
    """Validated ``(f, alpha_prune, alpha_tot)`` for every combination requested."""
    from prunescale.theory.pruning import check_alpha, check_f

    fs = check_f(args.f).ravel()
    if args.alpha_prune is None and args.alpha_tot is None:
        raise CliError("give --alpha-prune or --alpha-tot (or both, with alpha_prune = f * "
                       "alpha_tot)")
    aps = None if args.alpha_prune is None else check_alpha("alpha_prune", args.alpha_prune).ravel()
    ats = None if args.alpha_tot is None else check_alpha("alpha_tot", args.alpha_tot).ravel()
    out = []
    for f in fs:
        f = float(f)
        if aps is not None and ats is not None:
            if len(aps) != len(ats):
                raise CliError(f"--alpha-prune has {len(aps)} values and --alpha-tot {len(ats)}; "
                               "give the same number (alpha_prune = f * alpha_tot for each)")
            for ap, at in zip(aps, ats):
                if not math.isclose(ap, f * at, rel_tol=1e-9):
                    raise CliError(f"--alpha-prune {ap:g} must equal f * alpha_tot = {f:g} * "
                                   f"{at:g} = {f * at:g} (relative tolerance 1e-9)")
                out.append((f, float(ap), float(at)))
        elif aps is not None:
            out.extend((f, float(ap), float(ap) / f) for ap in aps)
        else:
            out.extend((f, f * float(at), float(at)) for at in ats)
    return out


def _theory_eps(rule, f, alpha_prune, theta_deg):
    """``(eps, converged)`` from :func:`theory.solve` (``(None, False)`` if unavailable)."""
    try:
        from prunescale import theory
        res = theory.solve(rule, f, alpha_prune, theta_deg=theta_deg)
    except (ImportError, AttributeError):
        return None, False
    eps = float(np.asarray(res.eps))
    conv = bool(np.asarray(res.converged))
    return (eps if conv and math.isfinite(eps) else None), conv


def _ints(name: str, values, lo: int, hi: int) -> list[int]:
    out = []
    for v in np.ravel(values):
        out.append(_check_int(name, float(v), lo, hi))
    return list(dict.fromkeys(out))


def run(args) -> int:
    from prunescale.theory.pruning import check_theta_deg, check_tol

    from prunescale._output import check_out_file, write_records

    out = check_out_file(args.out)
    thetas = [float(t) for t in check_theta_deg(args.theta_deg).ravel()]
    ns = _ints("--n", args.n, 1, MAX_N)
    _check_int("--seeds", args.seeds, 1, MAX_SEEDS)
    _check_int("--seed", args.seed, 0, MAX_SEED)
    if args.chunk is not None:
        _check_int("--chunk", args.chunk, 1)
    check_tol("--gap-tol", args.gap_tol)
    points = _points(args)
    for f, ap, at in points:
        for n in ns:
            if at * n > MAX_POOL:
                raise CliError(f"pool of alpha_tot * N = {at:g} * {n} = {at * n:g} examples "
                               f"(f = {f:g}, alpha_prune = {ap:g}); at most {MAX_POOL:g}")

    _enable_compile_cache()
    from prunescale import sims

    rows = []
    for rule in args.rule:
        for theta in thetas:
            for f, ap, at in points:
                for n in ns:
                    rows.append(_simulate_row(sims, args, rule, f, ap, at, theta, n))

    if out is not None:
        write_records(out, rows)
    if args.json:
        json.dump(rows, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        _table(rows)
    flagged = sum(r["n_flagged"] for r in rows)
    students = sum(r["seeds"] for r in rows)
    bad_theory = sum(1 for r in rows if r["eps_theory_converged"] is False)
    if flagged or bad_theory:
        print(f"prunescale: {flagged} of {students} students flagged, {bad_theory} of "
              f"{len(rows)} theory points not certified", file=sys.stderr)
        return 1
    return 0


def _simulate_row(sims, args, rule, f, ap, at, theta, n) -> dict:
    """Simulate one configuration and return its summary row beside the theory."""
    res = sims.simulate(sims.Pruning(rule, f, theta), ap, n, args.seeds,
                        seed=args.seed, alpha_tot=at, direct=args.direct,
                        gap_tol=args.gap_tol, chunk=args.chunk,
                        progress=False if args.quiet else None)
    row = res.summary()
    row["alpha_prune"], row["alpha_tot"] = ap, at
    if args.no_theory:
        row["eps_theory"], row["eps_theory_converged"] = None, None
    else:
        row["eps_theory"], row["eps_theory_converged"] = _theory_eps(rule, f, ap, theta)
    if row["eps_theory"] is not None and row["eps_sem"]:
        row["eps_z"] = (row["eps_mean"] - row["eps_theory"]) / row["eps_sem"]
    else:
        row["eps_z"] = None  # no certified theory (or no spread): no z-score
    if res.n_flagged and not args.quiet:
        print(f"sim: warning: {res.n_flagged} of {res.seeds} students above gap "
              f"{args.gap_tol:g} (excluded from the means)", file=sys.stderr)
    return row


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def _table(rows):
    head = (f"{'rule':6} {'f':>6} {'a_prune':>8} {'a_tot':>8} {'theta':>6} {'N':>6} {'K':>5} "
            f"{'eps':>9} {'+-sem':>8} {'theory':>9} {'z':>6} {'R':>8} {'S':>8} {'kappa':>8} "
            f"{'max_gap':>8} {'flag':>4}")
    print(head)
    for r in rows:
        print(f"{r['rule']:6} {r['f']:6.3g} {r['alpha_prune']:8.4g} {r['alpha_tot']:8.4g} "
              f"{r['theta_deg']:6.3g} {r['n']:6d} {r['seeds']:5d} {_fmt(r['eps_mean'], '9.5f')} "
              f"{_fmt(r['eps_sem'], '8.5f')} {_fmt(r['eps_theory'], '9.5f')} "
              f"{_fmt(r['eps_z'], '6.2f')} {_fmt(r['R_mean'], '8.5f')} {_fmt(r['S_mean'], '8.4f')} "
              f"{_fmt(r['kappa_mean'], '8.5f')} {_fmt(r['max_gap'], '8.1e')} {r['n_flagged']:4d}")
    print(f"seed {rows[0]['seed']}; student i uses key fold_in(key(seed), i), i = 0..K-1")


def _enable_compile_cache():
    """Persist XLA compilations across runs (``$PRUNESCALE_CACHE`` or ``~/.cache/prunescale``).

    Compiling the batched solver takes seconds; with the cache a repeated ``prunescale sim``
    with the same shapes starts in about a second. Set ``PRUNESCALE_CACHE=""`` to disable.
    """
    path = os.environ.get("PRUNESCALE_CACHE")
    if path is None:
        path = os.path.join(os.path.expanduser("~"), ".cache", "prunescale", "jax")
    if not path:
        return
    try:
        import jax

        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except Exception:  # the cache is an optimisation only
        pass
