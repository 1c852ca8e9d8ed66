"""The one entry point of the replica theory: :func:`solve`, for every learner.

:func:`solve` reads a model point (a :class:`prunescale.model.Model`, or the same fields as
keyword arguments, any numeric one an array: they broadcast), validates it once and hands it to
the engine of its learner: the max-margin solver (:func:`prunescale.theory.solver.solve_max_margin`,
``docs/theory.md``) or the regularized fixed point
(:func:`prunescale.theory.erm.solve_regularized`, ``docs/erm.md``). Both return the one
:class:`~prunescale.theory.TheoryResult`.
"""

from __future__ import annotations

import numpy as np

from prunescale.errors import InputError
from prunescale.theory import pruning as _pr
from prunescale.theory.result import TheoryResult

#: the model fields a call may leave out, and their values then
DEFAULTS = {"theta_deg": 0.0, "learner": "max-margin", "lam": None, "noise": 0.0,
            "softness": 0.0, "metric": "abs", "reweight": False, "power_exp": 0.0,
            "probe_scale": 1.0, "random_share": 0.0, "labels": None, "snr": 0.0,
            "probe": "fixed", "alpha_ssl": None, "spectrum": None, "teacher_decay": None}


def model_arguments(rule, given: dict) -> dict:
    """The model fields of a call, for :func:`solve` and :func:`prunescale.sims.simulate`.

    ``rule`` is a rule name, a :class:`prunescale.model.Model` or a
    :class:`~prunescale.theory.Pruning` (a :class:`prunescale.model.Selection` with its
    policy): the object's fields fill in, and a field given again as an argument is refused;
    :data:`DEFAULTS` fill the rest. ``lam`` and ``reweight`` are checked against the learner
    (the numeric fields, possibly arrays, are checked by the engines)."""
    from prunescale.model import Model, Selection

    if isinstance(rule, Model):
        fields, what = rule.fields(), "model"
    elif isinstance(rule, _pr.Pruning):
        fields, what = {"rule": rule.rule, "f": rule.f, "theta_deg": rule.theta_deg}, "selection"
        if isinstance(rule, Selection):
            fields.update(softness=rule.softness, metric=rule.metric, reweight=rule.reweight,
                          power_exp=rule.power_exp, probe_scale=rule.probe_scale,
                          random_share=rule.random_share, probe=rule.probe,
                          alpha_ssl=rule.alpha_ssl)
    else:
        fields, what = {"rule": rule}, None
    given = {k: v for k, v in given.items() if v is not None}
    twice = [k for k in given if k in fields] if what else []
    if twice:
        raise InputError(f"{twice[0]} is given twice: in the {what} ({fields[twice[0]]!r}) "
                         "and as an argument")
    out = {**DEFAULTS, "f": None, **fields, **given}
    if out["rule"] is None:
        raise InputError("give rule (hard, easy, random or power) or a prunescale.model.Model")
    _pr.check_rule(out["rule"])
    learner = _pr.check_learner(out["learner"])
    out["lam"] = _pr.check_penalty(learner, out["lam"])
    _pr.check_reweight_for(learner, out["reweight"])
    _pr.check_family(out["rule"], out["metric"], out["power_exp"], out["probe_scale"],
                     out["random_share"])
    _pr.check_snr(out["snr"])
    _pr.check_probe(out["probe"], out["theta_deg"], out["alpha_ssl"], out["metric"])
    from prunescale.theory.spectrum import parse_spectrum

    sp = parse_spectrum(out["spectrum"], out["teacher_decay"])
    if sp is not None:
        if np.any(np.asarray(out["snr"], float) != 0):
            raise InputError(f"give snr or spectrum, not both; got snr = {out['snr']!r} and "
                             f"spectrum {sp.spec}")
        if out["probe"] != "fixed":
            raise InputError(f"the prototype probe needs spiked inputs (snr), not spectrum "
                             f"{sp.spec}; use probe = fixed")
    out["spectrum"] = sp
    out["teacher_decay"] = None if sp is None else sp.teacher_decay
    out["labels"] = _channel(out["labels"], out["noise"])
    if out["labels"] is not None and out["labels"].is_flip:
        out["noise"], out["labels"] = out["labels"].eta, None
    return out


def _channel(labels, noise):
    """The label channel of a call (``None``: the flip ``noise``); ``labels`` with a nonzero
    ``noise`` is refused (``flip:ETA`` with the same ``noise = ETA`` is accepted)."""
    from prunescale.theory.labels import as_channel

    ch = as_channel(labels)
    if ch is None:
        return None
    nz = np.asarray(noise, float) if not isinstance(noise, (str, bytes)) else np.nan
    same = ch.is_flip and np.all(nz == ch.eta)
    if not same and not np.all(nz == 0):
        raise InputError(f"give noise or labels, not both; got noise = {noise!r} and labels "
                         f"{ch}")
    return ch


def channel_law(ch, noise):
    """``(noise, law)`` for the regularized engine: a channel of constant agreement is the flip
    ``noise = 1 - agreement`` (``law`` ``None``); any other channel is passed as its ``law``
    (``noise`` unchanged); no channel: ``(noise, None)``."""
    if ch is None:
        return noise, None
    j = ch.jumps()
    if j is not None and not len(j[1]) and 0.5 <= j[0] <= 1.0:
        return 1.0 - j[0], None
    return noise, ch


def check_tol(tol, learner: str) -> None:
    """``tol``, the certification tolerance, is ``None`` (the learner's default) or in
    ``(0, 1]`` for max-margin (a relative gap), ``(0, 0.5)`` for the others (a bound on eps)."""
    if tol is not None:
        if learner == "max-margin":
            _pr.check_tol("tol", tol, 1.0, inclusive=True)
        else:
            _pr.check_tol("tol", tol, 0.5)


def solve(rule=None, f=None, alpha_prune=None, *, alpha_tot=None, theta_deg=None,
          learner=None, lam=None, noise=None, softness=None, metric=None, reweight=None,
          power_exp=None, probe_scale=None, random_share=None, labels=None, snr=None,
          probe=None, alpha_ssl=None, spectrum=None, teacher_decay=None,
          tol: float | None = None, quad=None, strict: bool = False,
          max_log_step: float | None = None) -> TheoryResult:
    """Solve and certify the replica theory at every point of the broadcast inputs.

    Args:
        rule: ``"hard"``, ``"easy"``, ``"random"`` or ``"power"``, or a
            :class:`prunescale.model.Model`
            whose fields fill in every model argument (then none of them may be given again).
        f: kept fraction(s) in ``(0, 1]``.
        alpha_prune: kept examples per dimension (give this or ``alpha_tot``).
        alpha_tot: pool size per dimension; ``alpha_prune = f * alpha_tot``.
        theta_deg: probe angle(s) in degrees, ``[0, 90)`` (default 0: the perfect metric).
        learner: ``"max-margin"`` (default), ``"ridge"``, ``"logistic"`` or ``"hinge"``.
        lam: penalty(ies) in ``(0, 1e6]`` of a regularized learner (not for max-margin).
        noise: label-flip probability(ies) in ``[0, 0.5]``. The max-margin student exists
            only up to the capacity of the noisy kept data: beyond it a point is not
            certified, with the reason ``"not separable at this load ..."``.
        softness: selection softness(es) ``tau`` in ``[0, 10]`` (0: the sharp rule).
        metric: ``"abs"`` (``|p|``, label-free) or ``"signed"`` (``y p``).
        reweight: weight the kept losses by ``1/pi`` (regularized learners only).
        power_exp: exponent(s) ``A`` in ``[-50, 50]`` of the ``power`` policy
            ``pi = min(c sigma'(B p)^A, 1)`` (``A > 0`` keeps hard examples, ``A < 0`` easy
            ones, ``0`` is random; ``docs/erm.md`` section 7).
        probe_scale: scale(s) ``B > 0`` of the ``power`` policy.
        random_share: share(s) ``R`` in ``[0, 1]`` of random selection mixed into a ``hard``
            or ``easy`` policy: ``pi = R f + (1 - R) pi_rule``.
        labels: a label channel ``P(y = +1 | t)`` (:mod:`prunescale.theory.labels`), as an
            object or its spec (``"flip:0.1"``, ``"logistic:2"``, ``"probit:2"``,
            ``"binned:-0.1,0,0.1:0.3,0.05,0.95,0.7"``); ``flip:ETA`` is ``noise = ETA``. Not
            together with a nonzero ``noise``. ``eps`` is the error against the clean teacher,
            ``eps_noisy`` against labels drawn from the channel.
        snr: spike strength(s) ``S`` in ``[0, 1e6]`` of the input covariance
            ``I + S u u^T`` along the teacher (default 0: isotropic; ``docs/structure.md``).
        probe: ``"fixed"`` (default: the direction at ``theta_deg`` to the teacher, an angle in
            input space) or ``"prototype"`` (the top eigenvector of an independent unlabeled
            sample of ``alpha_ssl N`` inputs, ranked by the cosine distance to ``+-v``; its
            angle is the BBP limit :func:`prunescale.theory.spiked.prototype_angle_deg`, 90
            degrees, an uninformative probe, at and below ``alpha_ssl snr^2 = 1``).
        alpha_ssl: the prototype's unlabeled sample(s) per dimension (default: the pool
            ``alpha_tot``); prototype probe only.
        spectrum: the input covariance's spectrum, ``"power:A:D"`` or ``"file:PATH"``
            (:mod:`prunescale.theory.spectrum`, ``docs/spectrum.md``; default ``None``:
            isotropic inputs). ``alpha`` counts examples per input dimension ``D``; the
            fixed point sums over the spectrum (every learner, rule and policy; not with
            ``snr`` or the prototype probe).
        teacher_decay: ``B``: the teacher's share of the label-field variance in eigendirection
            ``k`` proportional to ``k^(-B)`` (default: a teacher isotropic in input space).
        tol: certification tolerance of the learner's certificate: the largest relative
            duality gap for max-margin (default ``1e-12``), the largest certified bound on
            ``|eps - eps*|`` for the regularized learners (default ``1e-5``).
        quad: quadrature resolution: a :class:`~prunescale.theory.Quadrature` for
            max-margin, an :class:`~prunescale.theory.ErmQuadrature` for the others
            (default: the engine's).
        strict: raise :class:`~prunescale.errors.NotCertified` if a point is not certified
            (by default it is returned with NaN answers and a ``reason``).
        max_log_step: largest continuation step in ``log(alpha)`` (max-margin only).

    Returns:
        A :class:`~prunescale.theory.TheoryResult` of the broadcast shape.

    Raises:
        InputError: one line naming the bad parameter, its value and the allowed range.
        NotCertified: with ``strict=True``, when a point is not certified.

    Example:
        >>> r = solve(rule="hard", f=0.2, alpha_prune=3.0)
        >>> round(float(r.eps), 6), bool(r.converged)
        (0.034721, True)
        >>> r = solve(rule="random", f=1.0, alpha_prune=2.0, learner="ridge", lam=0.1)
        >>> round(float(r.eps), 7)
        0.1955327
    """
    m = model_arguments(rule, dict(f=f, theta_deg=theta_deg, learner=learner, lam=lam,
                                   noise=noise, softness=softness, metric=metric,
                                   reweight=reweight, power_exp=power_exp,
                                   probe_scale=probe_scale, random_share=random_share,
                                   labels=labels, snr=snr, probe=probe, alpha_ssl=alpha_ssl,
                                   spectrum=spectrum, teacher_decay=teacher_decay))
    check_tol(tol, m["learner"])
    opts = dict(tol=tol, quad=quad, strict=strict, max_log_step=max_log_step)
    if m["spectrum"] is not None:
        from prunescale.theory import _spectrum_engine

        return _spectrum_engine.solve_spectrum(m, alpha_prune, alpha_tot, opts)
    if m["probe"] != "fixed" or np.any(np.asarray(m["snr"], float) != 0):
        from prunescale.theory import _spiked_engine

        return _spiked_engine.solve_spiked(m, alpha_prune, alpha_tot, _solve_model, opts)
    return _solve_model(m, alpha_prune, alpha_tot, **opts)


def _solve_model(m: dict, alpha_prune, alpha_tot, *, tol=None, quad=None, strict=False,
                 max_log_step=None, snr=0.0) -> TheoryResult:
    """Hand the validated model point ``m`` (:func:`model_arguments`) to its learner's engine;
    ``snr`` (whitened: ``m["theta_deg"]`` is then the whitened angle) is passed on only where
    it is not the isotropic ``0``."""
    spike = {} if np.all(np.asarray(snr, float) == 0) else {"snr": snr}
    fam = {k: m[k] for k in ("power_exp", "probe_scale", "random_share")}
    shapes = [np.shape(v) for v in fam.values() if np.ndim(v)]
    if shapes and m["f"] is not None and not isinstance(m["f"], (str, bytes)):
        try:  # the family parameters broadcast with the other inputs, like f itself
            m["f"] = np.broadcast_to(np.asarray(m["f"]),
                                     np.broadcast_shapes(np.shape(m["f"]), *shapes))
        except ValueError:
            raise InputError(f"power_exp, probe_scale and random_share must broadcast with f; "
                             f"got shapes {shapes} and {np.shape(m['f'])}") from None
    if m["learner"] == "max-margin":
        from prunescale.theory import solver

        kw = {}
        if tol is not None:
            kw["gap_tol"] = tol
        if quad is not None:
            kw["quad"] = quad
        if max_log_step is not None:
            kw["max_log_step"] = max_log_step
        return solver.solve_max_margin(
            m["rule"], m["f"], alpha_prune, m["theta_deg"], alpha_tot=alpha_tot,
            noise=m["noise"], softness=m["softness"], metric=m["metric"], strict=strict,
            labels=m["labels"], **fam, **spike,
            **kw)
    if max_log_step is not None:
        raise InputError("max_log_step is an option of the max-margin engine; got "
                         f"learner {m['learner']}")
    from prunescale.theory import erm  # scipy: only for the regularized learners

    ch = m["labels"]
    noise, law = channel_law(ch, m["noise"])
    kw = {}
    if tol is not None:
        kw["bound_tol"] = tol
    if quad is not None:
        kw["quad"] = quad
    res = erm.solve_regularized(
        m["rule"], m["f"], alpha_prune, alpha_tot, m["theta_deg"], learner=m["learner"],
        lam=m["lam"], noise=noise, softness=m["softness"], metric=m["metric"],
        reweight=m["reweight"], strict=strict, labels=law, **fam, **spike, **kw)
    if ch is not None:
        import dataclasses

        res = dataclasses.replace(res, noise=np.zeros_like(res.noise),
                                  eps_noisy=ch.eps_noisy(res.eps), labels=str(ch))
    return res
