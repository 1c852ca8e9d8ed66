"""``prunescale sim``: certified students on pruned data, compared with the theory.

    prunescale sim --rule R --f F --alpha-prune A [--alpha-tot B] [--theta-deg T]
                   --n N --seeds K [--seed S] [--direct] [--tol G] [--json] [--quiet]
                   [--out FILE.csv|FILE.json|DIR] [--workers W | --scheduler ADDRESS]
                   [--task-students M] [--learner L --lam LAM] [--noise ETA]

Every grid option (``--rule``, ``--learner``, ``--f``, ``--alpha-prune`` / ``--alpha-tot``,
``--theta-deg``, ``--lam``, ``--noise``, ``--n``) takes a number (name), a comma list or ``start:stop:num``; every combination is
simulated. Each (configuration, N, block of ``--task-students`` students) is one task of a
sweep (:mod:`prunescale.sims.sweep`), run on Dask (an embedded ``LocalCluster`` or
``--scheduler``) or, for a small job without ``--out DIR``, in this process. ``--out DIR``
stores one Parquet file per finished task (:mod:`prunescale.sims.store`); rerunning the same
command completes an interrupted sweep without recomputing finished tasks.

With both ``--alpha-prune`` and ``--alpha-tot`` they must satisfy ``alpha_prune = f alpha_tot``
(relative tolerance 1e-9); with only ``--alpha-tot``, ``alpha_prune = f alpha_tot``; with only
``--alpha-prune`` the pool is ``alpha_tot = alpha_prune / f`` (for ``random`` too: a uniform
subset of that pool).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import sys

import numpy as np

from prunescale._args import CliError, names_type, values_type
from prunescale._cli_theory import (add_learner_args, check_family_args, check_learner_args,
                                    check_softness_args, check_spectrum_args,
                                    check_structure_args)

RULES = ("hard", "easy", "random", "power")

EPILOG = """\
learners: max-margin (default; it needs separable data: with --noise, a student whose noisy
data have no certified positive margin is flagged, and the configuration's means are then
left empty, since the student does not exist for every draw) and the regularized students argmin_w sum_mu loss(y_mu, w.x_mu/sqrt(N)) + (lam/2)|w|^2 with
hinge (LinearSVC(loss="hinge", C=1/lam)), logistic (LogisticRegression(C=1/lam)) and ridge
(Ridge(alpha=lam)), all without intercept on inputs x/sqrt(N); --lam is required for them and
refused for max-margin; --noise ETA flips each label with probability ETA in [0, 0.5].
A max-margin student is flagged when its certified relative duality gap exceeds --tol, a
regularized one when its certified bound on |eps - eps*| (from the duality gap of its
lam-strongly convex objective) does.

selection policies: --softness TAU (number, list or range), --metric abs|signed and --reweight
as for 'prunescale theory' (a soft policy keeps a random number of examples per student, about
f * pool; --reweight only for the regularized learners). The policy families --rule power
--power-exp A --probe-scale B and --random-share R (with --rule hard or easy) as for
'prunescale theory': each pool example is kept independently with probability pi, the
normaliser c (threshold k) taken from the N -> infinity law (the theory's), so the realised
kept fraction fluctuates around f.

output columns (one row per configuration and N): rule, learner, (lam, noise, tau, metric,
rw,) f, a_prune
(alpha_prune), a_tot (alpha_tot), theta (degrees), N, K (students), eps (mean over certified
students, against the clean teacher) +-sem, theory (replica eps; '-' where it is not
certified), z = (eps - theory) / sem ('-' without a certified theory), R, S, kappa (max-margin)
or Q = |w|^2/N (regularized), max_gap (largest relative duality gap), flag (students flagged,
excluded from the means). --json prints a list, one object per configuration and N, with keys
rule, learner, lam, noise, softness, metric, reweight, power_exp, probe_scale, random_share,
labels, snr, probe, alpha_ssl, prototype_method, prototype_source (null for a fixed probe),
f, alpha_prune, alpha_tot, theta_deg (for --probe prototype: its limiting angle),
n, seeds, seed, eps_mean,
eps_sem, eps_noisy_mean, eps_noisy_sem (error against noisy test labels), eps_theory, z,
theory_converged, n_flagged, max_gap, R/S/kappa/Q/probe_deg _mean and _sem (probe_deg: the
measured angle of the probe to the teacher), n_pool, n_kept, f_eff,
alpha_prune_eff, mode, gap_tol, seconds (solver time summed over the students); null where not
a number or not defined.

--out DIR (a path without .csv/.json) is a results folder: one Parquet file per finished task
(task-<id>.parquet, written atomically), one row per student with rule, f, alpha_prune,
alpha_tot, theta_deg, mode, gap_tol, learner, lam (0 for max-margin), noise, softness, metric,
reweight, power_exp, probe_scale, random_share, labels, snr, probe, alpha_ssl (0: alpha_tot),
prototype_method, prototype_source, n, seed, student,
eps, eps_noisy, R, S, kappa, Q, gap, probe_deg, flagged, seconds, version, task. Rerun the same command to resume: finished tasks are skipped, no
student is stored twice; a damaged task file is set aside (renamed *.damaged, with a
warning) and its task recomputed. Read it with prunescale.sims.load(DIR); extrapolate N -> infinity
with 'prunescale fss DIR'. --out FILE.csv / FILE.json writes the table above instead.

covariance spectrum (docs/spectrum-sims.md): --spectrum power:A:D or file:PATH and
--teacher-decay B as for 'prunescale theory'; inputs are generated in the eigenbasis with
N = D (--n may be left out; another --n is refused). --spectrum power:A (no D) takes D = N for
each --n (a family for 'prunescale fss'; its theory is the one at D = N). A D whose simulation
does not fit in memory is refused. The table then starts with a line naming the spectrum; --json
objects, CSV rows and the results folder add spectrum and teacher_decay.

where it runs: tasks go to a Dask cluster, --scheduler ADDRESS (an existing one, e.g. started
by dask-jobqueue on Slurm/PBS; its workers need prunescale installed and write nothing; this
process writes the results) or an embedded LocalCluster of --workers single-threaded
processes (default: one per available core). Without --out DIR, --workers or --scheduler, a
small job (at most 400 configurations x N, 8 compiled shapes and about 30 s of solving) runs
in this process.

exit status: 0 every student and theory point certified; 1 some student flagged, some theory
point not certified or some task failed (one summary line on stderr; rerun to retry failed
tasks); 2 bad input; 130 interrupted, 143 terminated by SIGTERM (finished tasks are kept
in --out DIR).
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sim",
        help="simulate certified students on pruned data",
        description="Simulate students (max-margin, or hinge, logistic or ridge regression "
        "with label noise) trained on margin-pruned Gaussian data (teacher-student perceptron "
        "of Sorscher et al. 2022); every student is certified by its duality gap, and the "
        "theory's eps is printed alongside. Grid options take a number, a comma list or "
        "start:stop:num; every combination is simulated.",
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
    p.add_argument("--theta-deg", type=values_type("--theta-deg"), default=None,
                   help="probe angle(s) to the teacher in degrees, in [0, 90) (default 0; not "
                        "with --probe prototype)")
    add_learner_args(p)
    p.add_argument("--n", type=values_type("--n"), default=None,
                   help="input dimension(s) N >= 1 (integers; required without --spectrum; "
                        "with --spectrum power:A:D or file:PATH N = D, the default)")
    p.add_argument("--seeds", type=int, required=True,
                   help="students per configuration and N, >= 1")
    p.add_argument("--seed", type=int, default=0, help="base seed >= 0 (default 0)")
    p.add_argument("--prototype-method", choices=("eigen", "kmeans"), default=None,
                   help="how --probe prototype is found: eigen (top eigenvector of the "
                        "unlabeled sample's second moments; default) or kmeans (2-means on "
                        "the normalized sample, the centroids' difference)")
    p.add_argument("--prototype-source", choices=("independent", "pool"), default=None,
                   help="the unlabeled sample of --probe prototype: independent (alpha_ssl N "
                        "fresh inputs; default) or pool (the pool being pruned; the theory "
                        "beside it is the independent sample's)")
    p.add_argument("--direct", action="store_true",
                   help="sample kept data from the N -> infinity law instead of a finite pool")
    p.add_argument("--tol", "--gap-tol", dest="tol", type=float, default=None,
                   help="certification tolerance (the API's tol): flag max-margin students "
                   "whose certified relative duality gap, and regularized students whose "
                   "certified bound on |eps - eps*|, exceeds this (default 1e-6; 1e-5 for a "
                   "regularized student with --spectrum; stored as gap_tol; --gap-tol is the "
                   "former name)")
    p.add_argument("--chunk", type=int, default=None,
                   help="students per compiled block (default: 8, fewer if memory requires)")
    p.add_argument("--out", default=None, metavar="FILE|DIR",
                   help="FILE.csv / FILE.json: also write the table there (atomically); "
                        "any other path: a results folder, one Parquet file per task, "
                        "resumed by rerunning the same command")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the embedded Dask cluster, 1 thread each "
                        "(default: the available cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the tasks on an existing Dask scheduler: its address (e.g. "
                        "tcp://host:8786) or its --scheduler-file (a .json file); waits up to "
                        "Dask's connect timeout (30 s; DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT)")
    p.add_argument("--task-students", type=int, default=None, metavar="M",
                   help="students per task (default 16); part of a task's identity")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per point")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p.add_argument("--no-theory", action="store_true", help="do not compute eps_theory")
    p.set_defaults(run=run)
    return p


#: Upper limits of the command line (the Python API has none): input dimension, students,
#: base seed, and the examples of one pool (``round(alpha_tot N)``).
MAX_N = 100_000
MAX_SEEDS = 1_000_000
MAX_SEED = 2**32 - 1
MAX_POOL = 10**8


#: Largest number of (configuration, N) points one ``prunescale sim`` call simulates (as
#: ``prunescale theory`` solves at most this many points)
MAX_POINTS = 1_000_000


def _check_grid_size(args, thetas, ns) -> int:
    """The number of (configuration, N) points requested, counted before any is validated
    or built; one-line :class:`CliError` above :data:`MAX_POINTS`."""
    lams, noises = check_learner_args(args)
    n_learners = sum(noises.size * (1 if name == "max-margin" else lams.size)
                     for name in args.learner)
    sizes = [a.size for a in (args.alpha_prune, args.alpha_tot) if a is not None]
    n_points = (sum(len(v) for v in check_family_args(args).values()) * n_learners
                * len(thetas) * np.asarray(args.f).size
                * max(sizes, default=1) * check_softness_args(args).size * len(ns))
    snrs, assl = check_structure_args(args)
    n_points *= snrs.size * (1 if assl is None else assl.size)
    if n_points > MAX_POINTS:
        raise CliError(f"the grid of --rule, --learner, --f, --alpha-prune/--alpha-tot, "
                       f"--theta-deg, --lam, --noise, --softness, --snr, --alpha-ssl and --n "
                       f"has {n_points} "
                       f"points (configurations x N); at most {MAX_POINTS} per call")
    return n_points


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    from prunescale.validation import check_int

    return check_int(name, value, lo, hi)


def _spectrum_dims(args) -> list[int]:
    """The validated dimensions ``N`` of the sweep: ``--n``, or with ``--spectrum`` (checked,
    :func:`prunescale._cli_theory.check_spectrum_args`) its ``D`` (``--n`` may be left out,
    another value is refused); ``power:A`` without ``D`` takes ``D = N`` of each ``--n``."""
    from prunescale.sims.spectrum import parse as parse_spectrum

    spec, decay = check_spectrum_args(args, dim_free=True)
    args.spectrum_checked = (spec, decay)
    if spec is None or (spec.startswith("power:") and spec.count(":") == 1):
        if args.n is None:
            raise CliError("give --n (the input dimension(s) N)" + (
                f"; --spectrum {spec} has no D, so each N is its D" if spec else ""))
        ns = _ints("--n", args.n, 1, MAX_N)
        if spec is not None and min(ns) < 2:
            raise CliError(f"--spectrum {spec}: D = N must be >= 2; got --n {min(ns)}")
        return ns
    dim = parse_spectrum(spec).dim
    if args.n is not None:
        ns = _ints("--n", args.n, 1, MAX_N)
        other = [n for n in ns if n != dim]
        if other:
            raise CliError(f"--n {other[0]} differs from the spectrum's dimension D = {dim}; "
                           f"with --spectrum N = D (leave --n out or give --n {dim})")
    return [_check_int("N = D of --spectrum", dim, 2, MAX_N)]


def _points(args) -> list[tuple[float, float, float]]:
    """Validated ``(f, alpha_prune, alpha_tot)`` for every combination requested."""
    from prunescale.validation import check_alpha, check_f

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


def _theory_eps(cfg, n=None):
    """``(eps, converged)`` of the replica theory at a sweep configuration (at ``D = n`` for
    a spectrum ``power:A`` written without ``D``)."""
    from prunescale.sims.fss import theory_eps

    row = dataclasses.asdict(cfg)
    if n is not None:
        row["n"] = int(n)
    return theory_eps(row)


def _ints(name: str, values, lo: int, hi: int) -> list[int]:
    out = []
    for v in np.ravel(values):
        out.append(_check_int(name, float(v), lo, hi))
    return list(dict.fromkeys(out))


#: a job runs in this process (no cluster start-up) when it compiles at most
#: :data:`SMALL_SHAPES` programs (one per learner, N and bucket of kept-set sizes: a grid's
#: configurations share them, :func:`prunescale.sims.prune.bucket`), has at most
#: :data:`SMALL_POINTS` configuration x N points and at most this much estimated solver work
#: (students x P x N^2, about 30 s at the measured ~3e8 per second)
SMALL_SHAPES = 8
SMALL_POINTS = 400
SMALL_WORK = 1e10


def _check_where(args):
    """Validate ``--out`` (file or folder), ``--workers``, ``--scheduler``, ``--task-students``;
    return ``(out_file, out_dir)``."""
    from prunescale._output import FORMATS, check_out_file, check_writable_parent

    out_file = out_dir = None
    if args.out is not None:
        if not str(args.out).strip():
            raise CliError("--out is empty; give a file name ending in .csv or .json, or a "
                           "folder for the results")
        if os.path.splitext(str(args.out))[1].lower() in FORMATS:
            out_file = check_out_file(args.out)
        else:
            out_dir = args.out
            if os.path.exists(out_dir) and not os.path.isdir(out_dir):
                raise CliError(f"--out {out_dir!r} is a file, not a folder; give a folder for "
                               "the results (or a name ending in .csv or .json)")
            # a file can be created in the folder (or beside it, before it exists)
            check_writable_parent("--out", os.path.join(out_dir, "task.parquet")
                                  if os.path.isdir(out_dir) else out_dir)
    if args.workers is not None:
        _check_int("--workers", args.workers, 1, 4096)
    if args.scheduler is not None:
        if args.workers is not None:
            raise CliError("give --workers or --scheduler, not both (--scheduler uses the "
                           "workers of that cluster)")
        from prunescale.sims.sweep import check_scheduler

        check_scheduler(args.scheduler)
    if args.task_students is not None:
        _check_int("--task-students", args.task_students, 1, MAX_SEEDS)
    _require_sweep_extra(args, out_dir)
    return out_file, out_dir


def _require_sweep_extra(args, out_dir) -> None:
    """One line naming ``prunescale[sweep]`` if an option given needs it and it is absent."""
    from prunescale._extras import require

    given = [opt for opt, v in (("--out DIR", out_dir), ("--workers", args.workers),
                                ("--scheduler", args.scheduler)) if v is not None]
    if given:
        require(f"prunescale sim {' / '.join(given)}", "sweep",
                ("distributed", "pyarrow", "pandas") if out_dir is not None
                else ("distributed",))


def _learners(args):
    """``(learner, lam, noise)`` of every requested student type."""
    lams, noises = check_learner_args(args)
    out = []
    for learner in args.learner:
        if learner == "max-margin":
            out += [(learner, 0.0, float(eta)) for eta in noises]
        else:
            out += [(learner, float(lam), float(eta)) for lam in lams for eta in noises]
    return out


def _configs(args, points, thetas, ns):
    """Validated sweep configurations and, per ``(config, n)``, ``(n_pool, n_kept)``."""
    from prunescale.sims import plan
    from prunescale.sims.sweep import Config

    mode = "direct" if args.direct else "pool"
    configs, sizes, work = [], {}, 0.0
    shapes = set()
    seen = set()
    softs = check_softness_args(args)
    families = check_family_args(args)
    snrs, assl = check_structure_args(args)
    proto = _prototype_options(args)
    combos = ((rule, fam) for rule in args.rule for fam in families[rule])
    for (rule, fam), (learner, lam, noise), theta, (f, ap, at), tau, snr, a_ssl in \
            itertools.product(combos, _learners(args), thetas, points, softs, snrs,
                              [0.0] if assl is None else assl):
        spec, decay = args.spectrum_checked
        tol = args.tol
        if tol is None:
            from prunescale.sims.spectrum import EPS_TOL

            tol = EPS_TOL if spec is not None and learner != "max-margin" else 1e-6
        cfg = Config(rule, f, ap, at, theta, mode, float(tol), learner, lam, noise,
                     float(tau), args.metric[0], bool(args.reweight) and learner != "max-margin",
                     *fam, labels=args.labels or "", snr=float(snr), probe=args.probe[0],
                     alpha_ssl=float(a_ssl), **proto, spectrum=spec or "",
                     teacher_decay="" if decay is None else repr(float(decay)))
        if cfg in seen:
            continue
        seen.add(cfg)
        configs.append(cfg)
        for n in ns:
            p = plan(cfg.model_at(n), n, ap, at, mode=mode, chunk=args.chunk, **proto)
            sizes[cfg, n] = (p.n_pool, p.n_kept)
            shapes.add(p.shape)
            work += args.seeds * p.n_kept * float(n) ** 2
    return configs, sizes, work, len(shapes)


def _prototype_options(args) -> dict:
    """``prototype_method`` and ``prototype_source`` of a sweep configuration (the defaults
    without ``--probe prototype``, where the options are refused)."""
    given = [o for o, v in (("--prototype-method", args.prototype_method),
                            ("--prototype-source", args.prototype_source)) if v is not None]
    if given and args.probe[0] != "prototype":
        raise CliError(f"{given[0]} is an option of --probe prototype; got --probe fixed")
    if args.prototype_source == "pool" and args.alpha_ssl is not None:
        raise CliError("--alpha-ssl is the independent sample's size; --prototype-source pool "
                       "uses the pool itself")
    return {"prototype_method": args.prototype_method or "eigen",
            "prototype_source": args.prototype_source or "independent"}


def run(args) -> int:
    from prunescale.validation import check_theta_deg, check_tol

    from prunescale._output import write_records

    out_file, out_dir = _check_where(args)
    check_structure_args(args)  # fills in --theta-deg
    thetas = [float(t) for t in check_theta_deg(args.theta_deg).ravel()]
    ns = _spectrum_dims(args)
    _check_int("--seeds", args.seeds, 1, MAX_SEEDS)
    _check_int("--seed", args.seed, 0, MAX_SEED)
    if args.chunk is not None:
        _check_int("--chunk", args.chunk, 1)
    if args.tol is not None:
        check_tol("--tol", args.tol)
    _check_grid_size(args, thetas, ns)
    points = _points(args)
    for f, ap, at in points:
        for n in ns:
            if at * n > MAX_POOL:
                raise CliError(f"pool of alpha_tot * N = {at:g} * {n} = {at * n:g} examples "
                               f"(f = {f:g}, alpha_prune = {ap:g}); at most {MAX_POOL:g}")
            if args.spectrum_checked[0] is not None:
                from prunescale.sims.spectrum import check_fits

                check_fits(n, at)
    configs, sizes, work, n_shapes = _configs(args, points, thetas, ns)

    from prunescale.sims import sweep

    tasks = sweep.plan(configs, ns, args.seeds, args.seed,
                       args.task_students or sweep.TASK_STUDENTS)
    todo, skipped = sweep.pending(tasks, out_dir)
    if skipped and not args.quiet:
        print(f"sim: {out_dir}: {skipped} of {args.seeds * len(sizes)} students already "
              f"stored; {len(todo)} tasks to run", file=sys.stderr)
    in_process = (out_dir is None and args.workers is None and args.scheduler is None
                  and len(sizes) <= SMALL_POINTS and n_shapes <= SMALL_SHAPES
                  and work <= SMALL_WORK)
    if not in_process and not _have_sweep_extra(out_dir is not None):
        if out_dir is not None or args.workers is not None or args.scheduler is not None:
            raise CliError("--out DIR, --workers and --scheduler need the sweep extra "
                           "(dask.distributed, pyarrow): pip install 'prunescale[sweep]'")
        in_process = True
        if not args.quiet:
            print("sim: dask.distributed is not installed: running in this process "
                  "(pip install 'prunescale[sweep]' for parallel sweeps)", file=sys.stderr)
    sweep.enable_compile_cache()
    rep = sweep.run(todo, out=out_dir, scheduler=args.scheduler, workers=args.workers,
                    in_process=in_process, progress=not args.quiet, chunk=args.chunk)

    students = _gather(rep.results, out_dir, tasks)
    rows = [_summary_row(args, cfg, n, sizes[cfg, n], students.get((cfg.key(), n)))
            for cfg in configs for n in ns]
    if out_file is not None:
        write_records(out_file, rows)
    if args.json:
        json.dump(rows, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        _table(rows, args.seed)
    if out_dir is not None and not args.quiet:
        print(f"sim: {len(rep.results)} tasks written to {out_dir} ({skipped} students were "
              "already there)", file=sys.stderr)
    flagged = sum(r["n_flagged"] for r in rows)
    n_students = sum(r["seeds"] for r in rows)
    bad_theory = sum(1 for r in rows if r["theory_converged"] is False)
    failed = len(rep.failed)
    if flagged or bad_theory or failed:
        msg = (f"prunescale: {flagged} of {n_students} students flagged, {bad_theory} of "
               f"{len(rows)} theory points not certified")
        unsep = sum(1 for r in rows if r["learner"] == "max-margin" and r["noise"]
                    and r["n_flagged"])
        if unsep:
            msg += (f"; {unsep} max-margin configurations with noise have students without a "
                    "certified margin (data not separable at this load?): no means there")
        if failed:
            task, err = rep.failed[0]
            msg += (f", {failed} of {len(todo)} tasks failed (first: N={task.n} "
                    f"{task.config.rule} f={task.config.f:g}: {err[:200]}); rerun to retry")
        print(msg, file=sys.stderr)
        return 1
    return 0


def _have_sweep_extra(store: bool) -> bool:
    import importlib.util

    names = ("distributed", "pyarrow", "pandas") if store else ("distributed",)
    return all(importlib.util.find_spec(n) is not None for n in names)


_MEASURED = ("eps", "eps_noisy", "R", "S", "kappa", "Q", "gap", "probe_deg", "flagged",
             "seconds")


def _gather(results, out_dir, tasks) -> dict:
    """Per ``(config key, n)``: the students of this sweep, as arrays of :data:`_MEASURED`.

    With a results folder, they are read back from it (stored by this run or an earlier one),
    restricted to this sweep's students, seed and code version."""
    from prunescale.sims import store

    acc: dict = {}

    def add(cols):
        cfgs = zip(*(cols[k] for k in store.CONFIG))
        for i, (ck, n) in enumerate(zip(cfgs, cols["n"])):
            d = acc.setdefault((tuple(ck), int(n)), {k: [] for k in _MEASURED})
            for k in _MEASURED:
                d[k].append(cols[k][i])

    if out_dir is None:
        for res in results:
            add(res["columns"])
    else:
        wanted = {k for t in tasks for k in t.row_keys()}
        for tid in sorted(store.finished_tasks(out_dir)):
            table = store.read_task_or_none(store.task_path(out_dir, tid))
            if table is None:  # damaged: set aside with a warning, recomputed on a rerun
                continue
            cols = table.to_pydict()
            keep = [i for i, key in enumerate(zip(*(cols[k] for k in store.ROW_KEY)))
                    if key in wanted]
            if keep:
                add({k: [cols[k][i] for i in keep] for k in cols})
    return {key: {k: np.asarray(v) for k, v in d.items()} for key, d in acc.items()}


def _stat(a: np.ndarray):
    """``(mean, sem)`` of ``a`` (``None`` where undefined: no value, or fewer than 2)."""
    k = a.size
    mean = float(a.mean()) if k else None
    sem = float(a.std(ddof=1) / math.sqrt(k)) if k >= 2 else None
    return mean, sem


def _summary_row(args, cfg, n, size, st) -> dict:
    """One configuration at one N: aggregates over its certified students, beside the theory.

    ``z = (eps_mean - eps_theory) / eps_sem``; ``None`` without a certified theory point."""
    from prunescale.sims import aggregates_defined

    n_pool, n_kept = size
    mm = cfg.learner == "max-margin"
    # every model field (lam None for max-margin), in the table's column order
    model = cfg.model_at(n).fields()
    row = {"rule": cfg.rule, "f": cfg.f, "alpha_prune": cfg.alpha_prune,
           "alpha_tot": cfg.alpha_tot, "theta_deg": cfg.theta_deg, "n": int(n),
           "learner": model["learner"], "lam": model["lam"], "noise": model["noise"]}
    row.update({k: v for k, v in model.items() if k not in row})
    proto = cfg.probe == "prototype"
    row["prototype_method"] = cfg.prototype_method if proto else None
    row["prototype_source"] = cfg.prototype_source if proto else None
    if proto:  # theta_deg: the prototype's limiting angle (the theory's)
        from prunescale.theory.spiked import prototype_angle_deg

        row["theta_deg"] = float(prototype_angle_deg(cfg.alpha_ssl or cfg.alpha_tot, cfg.snr))
    row.update({"seeds": 0, "seed": int(args.seed), "n_pool": n_pool, "n_kept": n_kept,
                "f_eff": n_kept / n_pool, "alpha_prune_eff": n_kept / n, "mode": cfg.mode})
    flagged = np.zeros(0, bool) if st is None else st["flagged"].astype(bool)
    row["seeds"] = int(flagged.size)
    incomplete = not aggregates_defined(cfg.learner, cfg.noise, flagged)
    for q in ("eps", "eps_noisy", "R", "S", "kappa", "Q", "probe_deg"):
        v = np.zeros(0) if st is None or incomplete else np.asarray(st[q], float)[~flagged]
        undefined = (q == "kappa" and not mm) or (q == "Q" and mm)
        row[f"{q}_mean"], row[f"{q}_sem"] = (None, None) if undefined else _stat(v)
    if args.no_theory:
        row["eps_theory"], row["theory_converged"] = None, None
    else:
        row["eps_theory"], row["theory_converged"] = _theory_eps(cfg, n)
    row["z"] = None
    if row["eps_theory"] is not None and row["eps_sem"] and row["eps_mean"] is not None:
        row["z"] = (row["eps_mean"] - row["eps_theory"]) / row["eps_sem"]
    gaps = np.zeros(0) if st is None else np.asarray(st["gap"], float)
    row["n_flagged"] = int(flagged.sum())
    row["max_gap"] = float(gaps.max()) if gaps.size and np.isfinite(gaps.max()) else None
    row["gap_tol"] = cfg.gap_tol
    row["seconds"] = 0.0 if st is None else float(np.sum(st["seconds"]))
    return row


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def _table(rows, seed):
    noisy = any(r["learner"] != "max-margin" or r["noise"] for r in rows)  # lam, noise columns
    pol = any(r["softness"] or r["metric"] != "abs" or r["reweight"] for r in rows)
    fam = any(r["power_exp"] or r["probe_scale"] != 1 or r["random_share"] for r in rows)
    spk = any(r["snr"] or r["probe"] != "fixed" for r in rows)
    erm = any(r["learner"] != "max-margin" for r in rows)
    mm = any(r["learner"] == "max-margin" for r in rows)
    specs = list(dict.fromkeys(r["spectrum"] for r in rows if r.get("spectrum")))
    if specs:
        decay = rows[0].get("teacher_decay")
        print(f"spectrum {', '.join(specs)}, teacher decay "
              f"{'none (share proportional to lambda_k)' if decay is None else format(decay, 'g')}"
              "; N = D")
    head = f"{'rule':6} {'learner':10} "
    if noisy:
        head += f"{'lam':>7} {'noise':>5} "
    if pol:
        head += f"{'tau':>5} {'metric':>6} {'rw':>3} "
    if fam:
        head += f"{'A':>5} {'B':>5} {'R':>4} "
    if spk:
        head += f"{'snr':>6} {'probe':>9} {'a_ssl':>6} {'angle':>6} "
    head += (f"{'f':>6} {'a_prune':>8} {'a_tot':>8} {'theta':>6} {'N':>6} {'K':>5} "
             f"{'eps':>9} {'+-sem':>8} {'theory':>9} {'z':>6} {'R':>8} {'S':>8} ")
    head += f"{'kappa':>8} " if mm else ""
    head += f"{'Q':>8} " if erm else ""
    head += f"{'max_gap':>8} {'flag':>4}"
    print(head)
    for r in rows:
        learner = f"{r['rule']:6} {r['learner']:10} "
        if noisy:
            learner += f"{_fmt(r['lam'], '7.3g'):>7} {r['noise']:5.3g} "
        if pol:
            learner += (f"{r['softness']:5.3g} {r['metric']:>6} "
                        f"{'yes' if r['reweight'] else 'no':>3} ")
        if fam:
            learner += (f"{r['power_exp']:5.3g} {r['probe_scale']:5.3g} "
                        f"{r['random_share']:4.2g} ")
        if spk:
            proto = r["probe"] == "prototype"
            learner += (f"{r['snr']:6.3g} {r['probe']:>9} "
                        f"{_fmt(r['alpha_ssl'] or r['alpha_tot'], '6.3g') if proto else '-':>6} "
                        f"{_fmt(r['probe_deg_mean'], '6.3g'):>6} ")
        opt = ""
        if mm:
            opt += f"{_fmt(r['kappa_mean'], '8.5f'):>8} "
        if erm:
            opt += f"{_fmt(r['Q_mean'], '8.4f'):>8} "
        print(learner + f"{r['f']:6.3g} {r['alpha_prune']:8.4g} {r['alpha_tot']:8.4g} "
              f"{r['theta_deg']:6.3g} {r['n']:6d} {r['seeds']:5d} {_fmt(r['eps_mean'], '9.5f')} "
              f"{_fmt(r['eps_sem'], '8.5f')} {_fmt(r['eps_theory'], '9.5f')} "
              f"{_fmt(r['z'], '6.2f')} {_fmt(r['R_mean'], '8.5f')} {_fmt(r['S_mean'], '8.4f')} "
              f"{opt}{_fmt(r['max_gap'], '8.1e')} {r['n_flagged']:4d}")
    print(f"seed {seed}; student i uses key fold_in(key(seed), i), i = 0..K-1")
