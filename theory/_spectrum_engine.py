"""A covariance spectrum for :func:`prunescale.theory.solve` (``docs/spectrum.md``).

Every learner is solved by the regularized fixed point (:func:`prunescale.theory.erm.
solve_regularized`) with the prior's sums over the spectrum. The max-margin student is the
hard-margin one, ``min |w|^2`` subject to ``y w.x / sqrt(D) >= 1``: the hinge student at a
penalty ``lam`` small enough that its proximal map never reaches the hinge's linear piece
(``y omega < 1 - V``). Since ``V`` grows like ``1/lam`` there, each point is solved at
:data:`HARD_MARGIN_LAM` and checked: ``V - 1 >= 40 sqrt(Q)`` (the field ``omega`` has standard
deviation at most ``sqrt(Q)``, and the linear piece then carries a mass below ``1e-300``), so
the hinge solution is the hard-margin one in the discretised law too; points that fail are
solved again at a penalty ``1000`` times smaller, twice at most, and are otherwise reported
not certified (beyond the capacity of noisy data, for one).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from prunescale.errors import InputError, NotCertified
from prunescale.theory.result import GRID, VALUES, TheoryResult

#: the first penalty of the hinge student that stands for the hard-margin one
HARD_MARGIN_LAM = 1e-4
#: the ``V >= 1 + HARD_MARGIN_SIGMAS sqrt(Q)`` condition of a hard-margin point
HARD_MARGIN_SIGMAS = 40.0
NOT_HARD = ("the hinge student did not reach the hard margin (V < 1 + 40 sqrt(Q) down to lam = "
            "1e-10): not separable at this load, or not certified")


def solve_spectrum(m: dict, alpha_prune, alpha_tot, opts: dict) -> TheoryResult:
    """Solve the validated model point ``m`` (:func:`prunescale.theory.engine.model_arguments`,
    ``m["spectrum"]`` a :class:`~prunescale.theory.spectrum.Spectrum`) on every point of the
    broadcast inputs."""
    from prunescale.theory import erm

    if opts.get("max_log_step") is not None:
        raise InputError("max_log_step is an option of the isotropic max-margin engine; not "
                         "with a spectrum")
    sp = m["spectrum"]
    ch, noise, law = m["labels"], m["noise"], None
    if ch is not None:  # a constant agreement is a flip noise; others: the channel's law
        j = ch.jumps()
        if j is not None and not len(j[1]) and 0.5 <= j[0] <= 1.0:
            noise = 1.0 - j[0]
        else:
            law = ch
    kw = dict(noise=noise, softness=m["softness"], metric=m["metric"], reweight=m["reweight"],
              labels=law, power_exp=m["power_exp"], probe_scale=m["probe_scale"],
              random_share=m["random_share"], spectrum=sp)
    if opts.get("tol") is not None:
        kw["bound_tol"] = opts["tol"]
    if opts.get("quad") is not None:
        kw["quad"] = opts["quad"]
    hard = m["learner"] == "max-margin"
    if not hard:
        res = erm.solve_regularized(m["rule"], m["f"], alpha_prune, alpha_tot, m["theta_deg"],
                                    learner=m["learner"], lam=m["lam"], **kw)
    else:
        res = _hard_margin(m, alpha_prune, alpha_tot, kw)
    if ch is not None:
        res = dataclasses.replace(res, noise=np.zeros_like(res.noise),
                                  eps_noisy=ch.eps_noisy(res.eps), labels=str(ch))
    res = dataclasses.replace(res, spectrum=sp.spec, teacher_decay=sp.teacher_decay)
    if opts.get("strict") and not np.all(res.converged):
        bad = np.flatnonzero(~np.ravel(res.converged))
        i = bad[0]
        raise NotCertified(
            f"{bad.size} of {res.converged.size} points not certified; first: f = "
            f"{np.ravel(res.f)[i]:g}, alpha_prune = {np.ravel(res.alpha_prune)[i]:g}, "
            f"theta_deg = {np.ravel(res.theta_deg)[i]:g}: {np.ravel(res.reason)[i]}")
    return res


def _hard_margin(m, alpha_prune, alpha_tot, kw) -> TheoryResult:
    """The max-margin student as the hinge student at a vanishing penalty (module docstring)."""
    from prunescale.theory import erm

    def run(lam, sel):
        def pick(v):
            if v is None or isinstance(v, (str, bytes)):
                return v
            return np.broadcast_to(np.asarray(v, float), shape).ravel()[sel]

        kk = {k: (pick(v) if k in ("noise", "softness", "power_exp", "probe_scale",
                                   "random_share") else v) for k, v in kw.items()}
        return erm.solve_regularized(
            m["rule"], pick(m["f"]), None if alpha_prune is None else pick(alpha_prune),
            None if alpha_tot is None else pick(alpha_tot), pick(m["theta_deg"]),
            learner="hinge", lam=lam, margin=True, **kk)

    numeric = [v for v in (m["f"], alpha_prune, alpha_tot, m["theta_deg"], kw["noise"],
                           kw["softness"], kw["power_exp"], kw["probe_scale"],
                           kw["random_share"]) if v is not None and not isinstance(v, str)]
    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in numeric))
    except ValueError:
        raise InputError("the model's numeric inputs must broadcast to one shape; got shapes "
                         + ", ".join(str(np.shape(v)) for v in numeric)) from None
    n = int(np.prod(shape))
    cols = None
    todo = np.arange(n)
    lam = HARD_MARGIN_LAM
    for _ in range(3):
        r = run(lam, todo)
        ok = np.ravel(r.converged) & (np.ravel(r.V) - 1.0
                                      >= HARD_MARGIN_SIGMAS * np.sqrt(np.ravel(r.Q)))
        if cols is None:
            cols = {k: np.array(np.ravel(getattr(r, k)), dtype=object if k == "reason"
                                else None) for k in GRID + VALUES}
            base = r
        for k in GRID + VALUES:
            cols[k][todo] = np.ravel(getattr(r, k))
        cols["converged"][todo] = ok
        miss = todo[~ok & np.ravel(r.converged)]
        cols["reason"][miss] = NOT_HARD
        todo = todo[~ok]
        if todo.size == 0:
            break
        lam *= 1e-3
    conv = cols["converged"].astype(bool)
    for k in ("eps", "eps_noisy", "R", "S", "kappa"):
        cols[k] = np.where(conv, cols[k].astype(float), np.nan)
    for k in ("Q", "q0", "m", "s", "V", "lam", "alpha_c"):  # the hinge's, not the student's
        cols[k] = np.full(n, np.nan)
    cols["reason"] = np.where(conv, "", cols["reason"]).astype(str)
    cols["converged"] = conv
    return TheoryResult.build(rule=base.rule, learner="max-margin", metric=base.metric,
                              reweight=base.reweight, shape=shape, labels=base.labels,
                              **{k: cols[k] for k in GRID + VALUES})
