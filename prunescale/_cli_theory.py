"""``prunescale theory``: solve the replica equations on a grid of points.

Every learner through :func:`prunescale.theory.solve`: ``max-margin`` (with label noise only
up to the capacity of the noisy kept data) and the regularized ``hinge``, ``logistic`` and
``ridge`` students. ``--noise`` flips labels. Every grid option takes a number, a comma list
or ``start:stop:num``; every combination is solved.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from prunescale._args import CliError, names_type, values_type
from prunescale.validation import PROBES, check_noise

RULES = ("hard", "easy", "random", "power")
LEARNERS = ("max-margin", "hinge", "logistic", "ridge")
METRICS = ("abs", "signed")


EPILOG = """\
learners: max-margin (the hard-margin perceptron of the paper; it needs separable data: with
--noise > 0 a load above the capacity alpha_c of the noisy kept data is reported 'NO: not
separable at this load', never a number) and the regularized students argmin_w sum_mu loss(y_mu,
w.x_mu/sqrt(N)) + (lam/2)|w|^2 with hinge (scikit-learn LinearSVC(loss="hinge", C=1/lam)),
logistic (LogisticRegression(C=1/lam)) and ridge (Ridge(alpha=lam)), all without intercept on
inputs x/sqrt(N). --lam is required (> 0) for them and refused for max-margin. --noise ETA
flips each label with probability ETA in [0, 0.5] (default 0).

output columns: rule, learner, f, alpha_prune, alpha_tot, theta (degrees), lam, noise, eps
(test error against the clean teacher, arccos(R)/pi), eps_noisy (against noisy test labels,
noise + (1 - 2 noise) eps), R and S (overlaps with the teacher and with the probe's direction
orthogonal to it), eps_bound (bound on |eps - eps_exact|: convex duality bound under the
solving and the refined quadrature, see docs/theory.md and docs/erm.md), certified ('yes', or
'NO:' and the reason; the numbers are then nan, except a regularized learner's eps_bound, which
shows by how much it missed). --json prints one object per point with
rule, learner, f, alpha_prune, alpha_tot, theta_deg, lam, noise, eps, eps_noisy, R, S,
converged, gap, residual, eps_bound, quad_err, reason, and kappa and alpha_c (max-margin: the
margin and the capacity, null without noise) or Q, q0, m, s, V (the regularized students'
order parameters); null where not a number or not defined.

selection policies (every learner): --softness TAU keeps each pool example independently with
probability pi(m) = sigmoid((k - m)/TAU) (hard) or sigmoid((m - k)/TAU) (easy), k such that the
kept fraction is f (TAU = 0: the sharp rule); --metric abs ranks by |probe margin| (label-free),
signed by observed label * probe margin (a mislabeled example the probe gets right looks
hardest); --reweight weighs each kept loss by 1/pi, normalised to mean 1 (unbiased
selection; regularized learners only: the max-margin solution would not change). --json
objects add softness, metric, reweight, power_exp, probe_scale, random_share.

policy families (docs/erm.md section 7): --rule power --power-exp A --probe-scale B keeps each
pool example with probability min(c sigma'(B p)^A, 1), sigma'(z) = sigma(z)(1 - sigma(z)), p
the probe margin, c such that the kept fraction is f (A > 0: hard examples, A < 0: easy, 0:
random; |A| <= 50, B > 0; label-free, so --metric abs only). --random-share R in [0, 1] with
--rule hard or easy keeps with probability R f + (1 - R) pi_rule (0: the rule, 1: random).
A, B and R are grid options like --f.

covariance spectrum (docs/spectrum-sims.md): --spectrum power:A:D (eigenvalues proportional to
k^-A, k = 1..D) or file:PATH (eigenvalues read from a .npy or text file), normalised to mean 1;
--teacher-decay B: the teacher's share of the label-field variance in eigendirection k
proportional to k^-B (default: proportional to the eigenvalue). The table then starts with a
line naming the spectrum; --json objects add spectrum and teacher_decay. Not with --snr or
--probe prototype.

structured inputs (docs/structure.md): --snr S (grid; default 0) draws inputs from
N(0, I + S u u^T), u the teacher's unit vector. --probe fixed (default) ranks by the margin of a
fixed probe at --theta-deg to the teacher (in input space); --probe prototype ranks by the
label-free cosine distance 1 - |v.x|/|x| to the nearest prototype +-v, v the top eigenvector of
an unlabeled sample of --alpha-ssl A times N inputs (grid; default A = alpha_tot): its angle to
the teacher follows from S and A (below the transition A S^2 = 1 the prototype is uninformative),
so --theta-deg is refused with it; theta_deg then reports the prototype's angle. --json objects
add snr, probe, alpha_ssl.

exit status: 0 every point certified; 1 some point not certified (one summary line on
stderr); 2 bad input; 130 interrupted.
"""

#: Largest number of grid points one ``prunescale theory`` call solves.
MAX_POINTS = 1_000_000


def add_parser(sub):
    p = sub.add_parser(
        "theory",
        help="solve the replica theory of a student trained on pruned data",
        description=(
            "Solve the replica-theory equations of a student (max-margin, or hinge, logistic "
            "or ridge regression with label noise) trained on margin-pruned data at every "
            "combination of the grid options. Values are a number, a comma list, or "
            "start:stop:num (like numpy.linspace)."
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
    p.add_argument("--theta-deg", type=values_type("--theta-deg"), default=None,
                   help="probe angle(s) to the teacher in degrees, in [0, 90) (default 0; not "
                        "with --probe prototype)")
    add_learner_args(p)
    p.add_argument("--out", default=None, metavar="FILE",
                   help="also write the results to FILE, as CSV or JSON by its extension "
                        "(written atomically)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per point")
    p.set_defaults(run=run)
    return p


def add_learner_args(p) -> None:
    """``--learner``, ``--lam`` and ``--noise`` (shared with ``prunescale sim``)."""
    p.add_argument("--learner", type=names_type("--learner", LEARNERS), default=["max-margin"],
                   help="student(s): max-margin (default), hinge, logistic, ridge, or a comma "
                        "list")
    p.add_argument("--lam", type=values_type("--lam"), default=None,
                   help="ridge penalty lambda > 0 of hinge, logistic and ridge (required for "
                        "them, refused for max-margin)")
    p.add_argument("--noise", type=values_type("--noise"), default=None,
                   help="label-flip probability eta in [0, 0.5] (default 0)")
    p.add_argument("--labels", default=None, metavar="SPEC",
                   help="label channel P(y=+1 | t), one of flip:ETA, logistic:BETA, "
                        "probit:BETA, binned:E1,...,Ek:P0,...,Pk (not with --noise)")
    p.add_argument("--softness", type=values_type("--softness"), default=np.zeros(1),
                   help="selection softness tau in [0, 10]: keep each pool example with "
                        "probability sigmoid(+-(k - m)/tau) (default 0: the sharp rule)")
    p.add_argument("--metric", type=names_type("--metric", METRICS), default=["abs"],
                   help="pruning metric: abs (|probe margin|, label-free; default) or signed "
                        "(label * probe margin: mislabeled examples look hardest)")
    p.add_argument("--reweight", action="store_true",
                   help="weigh each kept example's loss by 1/pi (normalised to mean 1): "
                        "unbiased selection (regularized learners only)")
    p.add_argument("--power-exp", type=values_type("--power-exp"), default=None,
                   help="exponent(s) A in [-50, 50] of --rule power: keep with probability "
                        "min(c sigma'(B p)^A, 1) (A > 0 hard, A < 0 easy, 0 random; default 0)")
    p.add_argument("--probe-scale", type=values_type("--probe-scale"), default=None,
                   help="scale(s) B > 0 of --rule power (default 1)")
    p.add_argument("--snr", type=values_type("--snr"), default=None,
                   help="spike strength(s) S in [0, 1e6] of the input covariance I + S u u^T "
                        "along the teacher (default 0: isotropic inputs)")
    p.add_argument("--spectrum", default=None, metavar="SPEC",
                   help="input covariance spectrum: power:A:D (eigenvalues proportional to "
                        "k^-A, k = 1..D, A >= 0) or file:PATH (eigenvalues from a .npy or "
                        "text file); normalised to mean 1 (default: isotropic inputs)")
    p.add_argument("--teacher-decay", type=float, default=None, metavar="B",
                   help="with --spectrum: the teacher's share of the label-field variance in "
                        "eigendirection k proportional to k^-B (default: proportional to the "
                        "eigenvalue, a teacher isotropic in input space)")
    p.add_argument("--probe", type=names_type("--probe", PROBES), default=["fixed"],
                   help="the pruning metric's probe: fixed (at --theta-deg; default) or "
                        "prototype (label-free: the top eigenvector of an unlabeled sample)")
    p.add_argument("--alpha-ssl", type=values_type("--alpha-ssl"), default=None,
                   help="unlabeled sample(s) per dimension A in (0, 1e6] of --probe prototype "
                        "(default: the pool size alpha_tot)")
    p.add_argument("--random-share", type=values_type("--random-share"), default=None,
                   help="share(s) R in [0, 1] of random selection mixed into --rule hard or "
                        "easy: keep with probability R f + (1 - R) pi_rule (default 0)")


def check_learner_args(args) -> tuple[np.ndarray | None, np.ndarray]:
    """Validated ``(lams, noises)`` for ``args.learner`` (one-line :class:`CliError` else)."""
    erm = [name for name in args.learner if name != "max-margin"]
    from prunescale.theory.labels import parse

    first = not getattr(args, "labels_checked", False)
    args.labels_checked = True
    if first and args.labels is not None and args.noise is not None:
        raise CliError("give --noise or --labels, not both")
    if first and args.labels is not None:
        ch = parse(args.labels)
        if ch.is_flip:
            args.noise, args.labels = np.array([ch.eta]), None
        else:
            args.labels = str(ch)
    if args.noise is None:
        args.noise = np.zeros(1)
    noises = np.unique(check_noise(args.noise).ravel())
    if len(args.metric) != 1:
        raise CliError(f"--metric takes one of {', '.join(METRICS)}; got "
                       f"{','.join(args.metric)}")
    if not erm and args.reweight:
        raise CliError("--reweight is for the regularized learners (hinge, logistic, ridge): "
                       "weights do not change the max-margin solution; drop --reweight or "
                       "choose --learner hinge,logistic,ridge")
    if not erm and args.lam is not None:
        raise CliError("--lam is for the regularized learners (hinge, logistic, ridge); "
                       "the max-margin student has no penalty: drop --lam or choose "
                       "--learner hinge,logistic,ridge")
    if not erm:
        return None, noises  # max-margin only: no import of the ERM engine (scipy)
    if args.lam is None:
        raise CliError(f"--learner {erm[0]} needs --lam (the ridge penalty lambda > 0)")
    from prunescale.validation import check_lam

    return np.unique(check_lam(args.lam).ravel()), noises


def check_softness_args(args) -> np.ndarray:
    """Validated ``--softness`` values (one-line :class:`~prunescale.errors.InputError`)."""
    soft = np.asarray(args.softness, float)
    if args.metric != ["abs"] or np.any(soft != 0):
        from prunescale.validation import check_softness

        soft = check_softness(soft)
    return np.unique(soft.ravel())


def check_structure_args(args) -> tuple[np.ndarray, np.ndarray | None]:
    """Validated ``(snrs, alpha_ssls)`` and ``args.theta_deg`` (default 0) for the input law
    and the probe (one-line :class:`CliError` for a combination that does not exist):
    ``alpha_ssls`` is ``None`` unless ``--alpha-ssl`` is given."""
    from prunescale.validation import check_alpha_ssl, check_snr

    if getattr(args, "structure_checked", None) is not None:
        return args.structure_checked
    if len(args.probe) != 1:
        raise CliError(f"--probe takes one of {', '.join(PROBES)}; got {','.join(args.probe)}")
    proto = args.probe[0] == "prototype"
    if proto and args.theta_deg is not None:
        raise CliError("--theta-deg is not for --probe prototype: its angle to the teacher "
                       "follows from --snr and --alpha-ssl")
    if not proto and args.alpha_ssl is not None:
        raise CliError("--alpha-ssl is the unlabeled sample of --probe prototype; got --probe "
                       "fixed")
    if proto and args.metric == ["signed"]:
        raise CliError("--metric signed is not for --probe prototype: the prototype's sign is "
                       "arbitrary (an unlabeled sample); use --metric abs")
    if args.theta_deg is None:
        args.theta_deg = np.zeros(1)
    snrs = np.unique(check_snr(np.zeros(1) if args.snr is None else args.snr).ravel())
    assl = None if args.alpha_ssl is None else np.unique(check_alpha_ssl(args.alpha_ssl).ravel())
    args.structure_checked = (snrs, assl)
    return snrs, assl


def check_spectrum_args(args, dim_free: bool = False):
    """Validated ``--spectrum`` and ``--teacher-decay`` (one-line
    :class:`~prunescale.errors.InputError`): the canonical spec (``None`` without one) and
    ``B``. ``dim_free``: a ``power:A`` without ``D`` is accepted (``prunescale sim``: ``D =
    N``), checked at ``D = 2``; returned as given."""
    spec, decay = getattr(args, "spectrum", None), getattr(args, "teacher_decay", None)
    if spec is None and decay is None:
        return None, None
    if spec is not None and not spec.strip():
        raise CliError("--spectrum is empty; give power:A:D or file:PATH")
    if spec is not None and getattr(args, "snr", None) is not None:
        raise CliError("give --snr or --spectrum, not both (a spike along the teacher is a "
                       "spectrum of its own)")
    if spec is not None and args.probe != ["fixed"]:
        raise CliError("--spectrum is simulated and solved with --probe fixed; the prototype "
                       "probe needs spiked inputs (--snr)")
    free = dim_free and spec is not None and spec.startswith("power:") and spec.count(":") == 1
    import warnings

    from prunescale.model import Data

    with warnings.catch_warnings():  # numpy's warning on an empty file: the error says it
        warnings.simplefilter("ignore", UserWarning)
        data = Data(spectrum=spec + ":2" if free else spec, teacher_decay=decay)
    return (spec if free else data.spectrum), data.teacher_decay


def check_family_args(args) -> dict:
    """Validated policy-family grids per rule: ``{rule: [(A, B, R), ...]}`` (one-line
    :class:`CliError` for an option given to a rule that has no such parameter)."""
    from prunescale import validation as _pr

    rules = list(args.rule)
    given = {o: getattr(args, o.lstrip("-").replace("-", "_")) is not None
             for o in ("--power-exp", "--probe-scale", "--random-share")}
    for opt in ("--power-exp", "--probe-scale"):
        if given[opt] and "power" not in rules:
            raise CliError(f"{opt} is a parameter of --rule power; got --rule {','.join(rules)}")
    if given["--random-share"]:
        other = [r for r in rules if r in ("random", "power")]
        if other:
            raise CliError(f"--random-share mixes random selection into --rule hard or easy; "
                           f"not for --rule {other[0]}")
    if "power" in rules and args.metric == ["signed"]:
        raise CliError("--metric signed is not for --rule power: sigma'(B p) is even in p, so "
                       "the policy is label-free; use --metric abs")

    def vals(v, default, check):
        return np.unique(check(np.zeros(1) + default if v is None else v).ravel())

    A = vals(args.power_exp, 0.0, _pr.check_power_exp)
    B = vals(args.probe_scale, 1.0, _pr.check_probe_scale)
    R = vals(args.random_share, 0.0, _pr.check_random_share)
    out = {}
    for rule in rules:
        if rule == "power":
            out[rule] = [(float(a), float(b), 0.0) for a in A for b in B]
        elif rule == "random":
            out[rule] = [(0.0, 1.0, 0.0)]
        else:
            out[rule] = [(0.0, 1.0, float(r)) for r in R]
    return out


def solve_records(rules, learners, f, alphas, thetas, lams, noises, alpha_is_tot=False,
                  softness=np.zeros(1), metric="abs", reweight=False, families=None,
                  labels=None, snrs=np.zeros(1), probe="fixed", alpha_ssls=None,
                  spectrum=None, teacher_decay=None):
    """JSON-ready records (:meth:`prunescale.theory.TheoryResult.records`: every field, None
    where a learner does not define it) of every combination (rule, learner, f, alpha,
    theta, lam, noise, softness, the rule's ``families`` (:func:`check_family_args`), snr and
    alpha_ssl) with one metric, one probe and one input ``spectrum`` (with its
    ``teacher_decay``); ``lam`` and ``reweight`` apply to the regularized learners."""
    from prunescale.theory import solve
    from prunescale.validation import REGULARIZED

    key = "alpha_tot" if alpha_is_tot else "alpha_prune"
    recs = []
    for rule in rules:
        for learner in learners:
            reg = learner in REGULARIZED
            la = lams if reg else np.array([np.nan])
            fam = np.asarray((families or {}).get(rule, [(0.0, 1.0, 0.0)]), float)
            assl = np.array([np.nan]) if alpha_ssls is None else alpha_ssls
            F, AL, TH, LA, NO, TA, FI, SN, AS = np.meshgrid(
                f, alphas, thetas, la, noises, softness, np.arange(len(fam)), snrs, assl,
                indexing="ij")
            recs += solve(rule, F, theta_deg=None if probe == "prototype" else TH,
                          learner=learner, lam=LA, noise=NO, softness=TA, metric=metric,
                          reweight=bool(reweight) and reg, power_exp=fam[FI, 0],
                          probe_scale=fam[FI, 1], random_share=fam[FI, 2], labels=labels,
                          snr=SN, probe=probe, alpha_ssl=None if alpha_ssls is None else AS,
                          spectrum=spectrum, teacher_decay=teacher_decay,
                          **{key: AL}).records()
    return recs


def run(args) -> int:
    from prunescale._output import check_out_file, json_text, write_records

    out = check_out_file(args.out)
    alphas = args.alpha_prune if args.alpha_prune is not None else args.alpha_tot
    lams, noises = check_learner_args(args)
    softs = check_softness_args(args)
    families = check_family_args(args)
    snrs, assl = check_structure_args(args)
    spectrum, decay = check_spectrum_args(args)
    n_erm = sum(1 for name in args.learner if name != "max-margin")
    per_learner = (args.f.size * alphas.size * args.theta_deg.size * softs.size * snrs.size
                   * (1 if assl is None else assl.size))
    n_points = sum(len(v) for v in families.values()) * per_learner * (
        (len(args.learner) - n_erm + n_erm * (0 if lams is None else lams.size)) * noises.size)
    if n_points > MAX_POINTS:
        raise CliError(f"the grid of --rule, --learner, --f, --alpha-prune/--alpha-tot, "
                       f"--theta-deg, --lam, --noise, --softness, --snr, --alpha-ssl and the policy "
                       f"families has "
                       f"{n_points} points; "
                       "at most "
                       f"{MAX_POINTS} per call")
    recs = solve_records(args.rule, args.learner, args.f, alphas, args.theta_deg, lams, noises,
                         alpha_is_tot=args.alpha_prune is None, softness=softs,
                         metric=args.metric[0], reweight=bool(args.reweight),
                         families=families, labels=getattr(args, "labels", None),
                         snrs=snrs, probe=args.probe[0], alpha_ssls=assl,
                         spectrum=spectrum, teacher_decay=decay)
    if out is not None:
        write_records(out, recs)
    if args.json:
        sys.stdout.write(json_text(recs) + "\n")
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
    # lam, noise and eps_noisy columns with a regularized learner or label noise
    erm = any(r["learner"] != "max-margin" or r["noise"] for r in recs)
    mm = any(r["learner"] == "max-margin" for r in recs)
    pol = any(r["softness"] or r["metric"] != "abs" or r["reweight"] for r in recs)
    fam = any(r["power_exp"] or r["probe_scale"] != 1 or r["random_share"] for r in recs)
    spk = any(r.get("snr") or r.get("probe", "fixed") != "fixed" for r in recs)
    head = (f"{'rule':<6} {'learner':<10} {'f':>8} {'alpha_prune':>11} {'alpha_tot':>10} "
            f"{'theta':>6} ")
    if erm:
        head += f"{'lam':>8} {'noise':>6} "
    if pol:
        head += f"{'tau':>6} {'metric':>6} {'rw':>3} "
    if fam:
        head += f"{'A':>6} {'B':>6} {'R':>5} "
    if spk:
        head += f"{'snr':>7} {'probe':>9} {'a_ssl':>7} "
    spec = next((r.get("spectrum") for r in recs if r.get("spectrum")), None)
    if spec is not None:
        decay = recs[0].get("teacher_decay")
        print(f"spectrum {spec}, teacher decay "
              f"{'none (share proportional to lambda_k)' if decay is None else format(decay, 'g')}")
    head += f"{'eps':>12} "
    if erm:
        head += f"{'eps_noisy':>10} "
    head += f"{'R':>10} {'S':>10} "
    if mm:
        head += f"{'kappa':>10} "
    head += f"{'eps_bound':>9} certified"
    print(head)
    for r in recs:
        line = (f"{r['rule']:<6} {r['learner']:<10} {_fmt(r['f'], '8.4g')} "
                f"{_fmt(r['alpha_prune'], '11.5g')} {_fmt(r['alpha_tot'], '10.5g')} "
                f"{_fmt(r['theta_deg'], '6.3g')} ")
        if erm:
            line += f"{_fmt(r['lam'], '8.3g') if r['lam'] is not None else '-':>8} "
            line += f"{_fmt(r['noise'], '6.3g')} "
        if pol:
            line += (f"{_fmt(r['softness'], '6.3g')} {r['metric']:>6} "
                     f"{'yes' if r['reweight'] else 'no':>3} ")
        if fam:
            line += (f"{_fmt(r['power_exp'], '6.3g')} {_fmt(r['probe_scale'], '6.3g')} "
                     f"{_fmt(r['random_share'], '5.3g')} ")
        if spk:
            line += (f"{_fmt(r['snr'], '7.3g')} {r['probe']:>9} "
                     f"{_fmt(r['alpha_ssl'], '7.3g') if r['probe'] == 'prototype' else '-':>7} ")
        line += f"{_fmt(r['eps'], '12.7g')} "
        if erm:
            line += f"{_fmt(r['eps_noisy'], '10.6f')} "
        line += f"{_fmt(r['R'], '10.6f')} {_fmt(r['S'], '10.6f')} "
        if mm:
            line += f"{_fmt(r.get('kappa'), '10.6f') if 'kappa' in r else '-':>10} "
        line += (f"{_fmt(r['eps_bound'], '9.1e')} "
                 f"{'yes' if r['converged'] else 'NO: ' + r['reason']}")
        print(line)
