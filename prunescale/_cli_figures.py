"""``prunescale figures``: the main job, drawing every figure with theory and simulations."""

from __future__ import annotations

import json
import sys


def add_parser(sub):
    from prunescale.figures import FIGURES  # names only: no plotting library imported

    p = sub.add_parser(
        "figures",
        help="draw all figures (theory lines with simulation markers)",
        description=(
            f"Draw the {len(FIGURES)} perceptron figures: learning curves, Pareto frontier, "
            "easy-vs-hard phase diagram, imperfect metrics, theory vs simulation, label noise, "
            "selection policies, power-law and mixed policies, self-supervised (prototype) "
            "pruning on spiked inputs and pruning on power-law spectra. Results are cached in "
            "OUT/.cache by configuration and by the code that computes them: a rerun is "
            "instant and an interrupted run resumes."
        ),
        epilog=(
            "Each figure is written as PNG, SVG and a tidy CSV (with n_uncertified, n_flagged "
            "and theory_converged), and OUT/summary.json summarises the run; uncertified theory "
            "points are left out of the lines and marked, flagged students are excluded from "
            "the means, and a warning line on stderr counts both. Exit status: 0 every figure "
            "drawn and everything in them certified; 1 a figure drawn by this run holds an "
            "uncertified theory point or a flagged student (every figure is still written; "
            "the warning line and summary.json say what was left out), as for prunescale "
            "theory and sim; 2 bad input; 130 interrupted."
        ),
    )
    p.add_argument("--out", default="prunescale-figures",
                   help="output folder (default: prunescale-figures)")
    p.add_argument("--full", action="store_true",
                   help="publication sizes (larger N, more students, finer grids; slow)")
    p.add_argument("--only", type=lambda t: [x.strip() for x in t.split(",") if x.strip()],
                   default=None, metavar="FIG",
                   help=f"draw only these figures: a comma list of fig1..fig{len(FIGURES)} or "
                        f"of {', '.join(FIGURES)} (default: all)")
    p.add_argument("--json", action="store_true",
                   help="print the run's summary (summary.json) on stdout")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    from prunescale._extras import require

    require("prunescale figures", "figures")
    from prunescale.figures.run import run_all

    summary = run_all(args.out, full=args.full, only=args.only)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for name in summary.get("drawn", summary["figures"]):
            print(f"{name}: {', '.join(summary['figures'][name])}")
        print(f"summary: {args.out}/summary.json ({summary['seconds']} s)")
    cert = summary["certification"]
    bad = {k: v for k, v in cert.items()
           if k in summary.get("drawn", cert) and (v["n_uncertified"] or v["n_flagged"])}
    if bad:
        print("prunescale: warning: not everything certified (left out and marked): " + "; ".join(
            f"{k}: {v['n_uncertified']} theory points uncertified, {v['n_flagged']} students "
            "flagged" for k, v in bad.items()), file=sys.stderr)
        return 1  # the figures are written; the status says that something was left out
    return 0
