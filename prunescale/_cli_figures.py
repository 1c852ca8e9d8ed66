"""``prunescale figures``: the main job, drawing every figure with theory and simulations."""

from __future__ import annotations

import json


def add_parser(sub):
    p = sub.add_parser(
        "figures",
        help="draw all figures (theory lines with simulation markers)",
        description=(
            "Draw the perceptron figures: learning curves, Pareto frontier, easy-vs-hard phase "
            "diagram, imperfect metrics and theory vs simulation. Results are cached in "
            "OUT/.cache by configuration: a rerun is instant and an interrupted run resumes."
        ),
    )
    p.add_argument("--out", default="prunescale-figures",
                   help="output folder (default: prunescale-figures)")
    p.add_argument("--full", action="store_true",
                   help="publication sizes (larger N, more students, finer grids; slow)")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    from prunescale.figures.run import run_all

    summary = run_all(args.out, full=args.full)
    print(json.dumps(summary, indent=2))
    return 0
