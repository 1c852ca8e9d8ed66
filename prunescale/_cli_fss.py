"""``prunescale fss DIR``: extrapolate a sweep's test errors to N -> infinity.

Per configuration stored in the results folder ``DIR`` (``prunescale sim --out DIR`` with
several ``--n``), fits ``eps(N) = eps_inf + a/N`` (``--quadratic``: ``+ b/N^2``) by weighted
least squares over the certified students (:mod:`prunescale.sims.fss`) and sets ``eps_inf``
beside the replica theory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from prunescale._args import CliError

EPILOG = """\
output columns (one row per configuration): rule, learner, lam ('-' for max-margin), noise,
f, a_prune (alpha_prune), theta (degrees), Ns (dimensions fitted), eps_inf +-se (the fit's
intercept at 1/N = 0 and its standard error), slope (a), chi2/dof, theory (replica eps; '-'
where not certified), z = (eps_inf - theory) / se, eps(Nmax) +-sem and z_Nmax (the largest-N
mean and its z, for comparison). --json prints a list, one object per configuration, with
keys rule, f, alpha_prune, alpha_tot, theta_deg, mode, gap_tol, learner, lam, noise,
softness, metric, reweight, power_exp, probe_scale, random_share (the selection policy), labels
(the label channel when not a flip), snr, probe, alpha_ssl (0: alpha_tot), prototype_method,
prototype_source (the spiked inputs and the prototype probe), spectrum, teacher_decay (the
input covariance's spectrum, "" for isotropic inputs; a family power:A is solved at the largest
N, so its z is null and z_Nmax is the comparison), ns, eps_inf, eps_inf_se, slope, slope_se,
curvature, chi2, dof, n_points, reason, eps_largest_n, sem_largest_n, n_flagged, eps_theory,
theory_converged, z, z_largest_n (null where not a number).

exit status: 0 every configuration fitted with a certified theory point and no flagged
student; 1 otherwise (one summary line on stderr); 2 bad input; 130 interrupted.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "fss", help="extrapolate a sweep's test error to N -> infinity",
        description="Finite-size extrapolation of a results folder of 'prunescale sim --out "
        "DIR': per configuration, a weighted least-squares fit eps(N) = eps_inf + a/N "
        "(weights 1/sem^2 per N, flagged students excluded), compared with the theory.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", metavar="DIR", help="results folder written by prunescale sim --out")
    p.add_argument("--quadratic", action="store_true",
                   help="fit eps_inf + a/N + b/N^2 (needs 3 values of N)")
    p.add_argument("--plot", default=None, metavar="FILE",
                   help="draw eps against 1/N with the fits and the theory to FILE "
                        "(.png, .svg or .pdf; written atomically)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list, one object per configuration")
    p.add_argument("--no-theory", action="store_true", help="do not compute eps_theory")
    p.set_defaults(run=run)
    return p


PLOT_FORMATS = (".png", ".svg", ".pdf")


def run(args) -> int:
    from prunescale._extras import require

    require("prunescale fss", "sweep", ("pyarrow", "pandas"))
    if args.plot is not None:
        require("prunescale fss --plot", "figures")
    from prunescale.sims import fss, store

    if args.plot is not None:
        ext = os.path.splitext(args.plot)[1].lower()
        if ext not in PLOT_FORMATS:
            raise CliError(f"--plot {args.plot!r}: the extension must be one of "
                           f"{', '.join(PLOT_FORMATS)}")
        from prunescale._output import check_writable_parent

        check_writable_parent("--plot", args.plot)
    summary = store.summarize(store.load(args.dir))
    fits = fss.extrapolate(summary, quadratic=args.quadratic, theory=not args.no_theory)
    if args.plot is not None:
        fss.plot(fits, summary, args.plot)
    if args.json:
        json.dump([_jsonable(r) for r in fits], sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        _table(fits)
    if args.plot is not None:
        print(f"fss: plot written to {args.plot}", file=sys.stderr)
    no_fit = [r for r in fits if r["reason"] is not None]
    bad_theory = sum(1 for r in fits if r["theory_converged"] is False)
    flagged = sum(r["n_flagged"] for r in fits)
    if no_fit or bad_theory or flagged:
        msg = (f"prunescale: {len(no_fit)} of {len(fits)} configurations not fitted, "
               f"{bad_theory} theory points not certified, {flagged} students flagged "
               "(excluded)")
        if no_fit:
            msg += f" (first not fitted: {no_fit[0]['reason']})"
        print(msg, file=sys.stderr)
        return 1
    return 0


def _jsonable(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


def _fmt(v, spec):
    """``v`` in ``spec``, or ``-`` right-aligned to the same width where it is missing."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-".rjust(int(spec.split(".")[0]))
    return format(v, spec)


def _table(fits):
    print(f"{'rule':6} {'learner':10} {'lam':>6} {'noise':>5} {'f':>6} {'a_prune':>8} "
          f"{'theta':>6} {'Ns':>18} {'eps_inf':>9} "
          f"{'+-se':>8} {'slope':>8} {'chi2/dof':>9} {'theory':>9} {'z':>6} "
          f"{'eps(Nmax)':>9} {'+-sem':>8} {'z_Nmax':>6}")
    for r in fits:
        ns = ",".join(str(n) for n in r["ns"])
        chi = (f"{r['chi2']:.2f}/{r['dof']}" if math.isfinite(r["chi2"]) else "-")
        lam = "-" if r.get("learner", "max-margin") == "max-margin" else f"{r['lam']:.3g}"
        print(f"{r['rule']:6} {r.get('learner', 'max-margin'):10} {lam:>6} "
              f"{r.get('noise', 0.0):5.3g} {r['f']:6.3g} {r['alpha_prune']:8.4g} "
              f"{r['theta_deg']:6.3g} "
              f"{ns:>18} {_fmt(r['eps_inf'], '9.5f')} {_fmt(r['eps_inf_se'], '8.5f')} "
              f"{_fmt(r['slope'], '8.4f')} {chi:>9} {_fmt(r['eps_theory'], '9.5f')} "
              f"{_fmt(r['z'], '6.2f')} {_fmt(r['eps_largest_n'], '9.5f')} "
              f"{_fmt(r['sem_largest_n'], '8.5f')} {_fmt(r['z_largest_n'], '6.2f')}")
