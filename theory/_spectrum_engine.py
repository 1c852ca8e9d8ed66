"""A covariance spectrum for :func:`prunescale.theory.solve` (``docs/spectrum.md``).

Every learner is solved by the regularized fixed point (:func:`prunescale.theory.erm.
solve_regularized`) with the prior's sums over the spectrum. The max-margin student is the
hard-margin one, ``min |w|^2`` subject to ``y w.x / sqrt(D) >= 1``: the hinge student at a
penalty ``lam`` small enough that its proximal map never reaches the hinge's linear piece
(``y omega < 1 - V``): then the hinge loss acts as the constraint ``y h >= 1`` and the
solution is the hard-margin one exactly. The check is ``V - 1 >= 40 sqrt(Q)`` (the field
``omega`` has standard deviation at most ``sqrt(Q)``; the linear piece then carries a mass
below ``1e-300``, in the discretised law too). Once there, ``(m, s, tau)`` no longer depends
on ``lam`` and ``V`` grows like ``1/lam``. So each point is first solved at
:data:`HARD_MARGIN_LAM`; a point that fails the check is solved again, started from that
solution with ``V`` scaled by ``lam0 / lam``, at the penalty one decade below the
``lam0 V / (1 + 40 sqrt(Q))`` the scaling predicts (rounded down to a power of ten, so
points share penalties), and once more a thousand times lower if needed; a point still
failing is reported not certified (beyond the capacity of noisy data, for one).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from prunescale.errors import InputError
from prunescale.theory.result import GRID, VALUES, TheoryResult, raise_if_uncertified

#: the first penalty of the hinge student that stands for the hard-margin one
HARD_MARGIN_LAM = 1e-2
#: the ``V >= 1 + HARD_MARGIN_SIGMAS sqrt(Q)`` condition of a hard-margin point
HARD_MARGIN_SIGMAS = 40.0
NOT_HARD = ("the hinge student did not reach the hard margin (V < 1 + 40 sqrt(Q) at the "
            "smallest penalty tried): not separable at this load, or not certified")


def solve_spectrum(m: dict, alpha_prune, alpha_tot, opts: dict) -> TheoryResult:
    """Solve the validated model point ``m`` (:func:`prunescale.theory.engine.model_arguments`,
    ``m["spectrum"]`` a :class:`~prunescale.theory.spectrum.Spectrum`) on every point of the
    broadcast inputs."""
    from prunescale.theory import erm

    if opts.get("max_log_step") is not None:
        raise InputError("max_log_step is an option of the isotropic max-margin engine; not "
                         "with a spectrum")
    sp = m["spectrum"]
    from prunescale.theory.engine import channel_law

    ch = m["labels"]
    noise, law = channel_law(ch, m["noise"])
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
    if opts.get("strict"):
        raise_if_uncertified(res)
    return res


def _hard_margin(m, alpha_prune, alpha_tot, kw) -> TheoryResult:
    """The max-margin student as the hinge student at a vanishing penalty (module docstring)."""
    from prunescale.theory import erm

    numeric = {"f": m["f"], "alpha_prune": alpha_prune, "alpha_tot": alpha_tot,
               "theta_deg": m["theta_deg"]}
    numeric.update({k: kw[k] for k in ("noise", "softness", "power_exp", "probe_scale",
                                       "random_share")})
    arrays = {k: v for k, v in numeric.items() if v is not None}
    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in arrays.values()))
    except ValueError:
        raise InputError("the model's numeric inputs must broadcast to one shape; got shapes "
                         + ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())) from None
    flat = {k: np.broadcast_to(np.asarray(v, float), shape).ravel() for k, v in arrays.items()}
    n = int(np.prod(shape))
    rest = {k: v for k, v in kw.items() if k not in numeric}

    def run(sel, lam, start=None):
        sub = {k: v[sel] for k, v in flat.items()}
        return erm.solve_regularized(
            m["rule"], sub["f"], sub.get("alpha_prune"), sub.get("alpha_tot"),
            sub["theta_deg"], learner="hinge", lam=lam, margin=True, start=start,
            **{k: sub[k] for k in ("noise", "softness", "power_exp", "probe_scale",
                                   "random_share")}, **rest)

    def hard(r):
        V, Q = np.ravel(r.V), np.ravel(r.Q)
        return np.ravel(r.converged) & (V - 1.0 >= HARD_MARGIN_SIGMAS * np.sqrt(Q))

    r = run(np.arange(n), np.full(n, HARD_MARGIN_LAM))
    cols = {k: np.array(np.ravel(getattr(r, k)), dtype=object if k == "reason" else None)
            for k in GRID + VALUES}
    base = r
    ok = hard(r)
    lam = np.full(n, HARD_MARGIN_LAM)
    # the penalty the 1/lam scaling of V predicts, a decade lower, rounded down to a decade
    V, Q = np.ravel(r.V), np.ravel(r.Q)
    with np.errstate(all="ignore"):
        pred = HARD_MARGIN_LAM * V / (1.0 + HARD_MARGIN_SIGMAS * np.sqrt(Q))
        nxt = 10.0 ** (np.floor(np.log10(pred)) - 1.0)
    nxt = np.where(np.isfinite(nxt) & (nxt < HARD_MARGIN_LAM), nxt, HARD_MARGIN_LAM * 1e-3)
    start = np.stack([np.ravel(r.m), np.ravel(r.s), np.sqrt(np.ravel(r.q0)), V], axis=1)
    for attempt in range(2):
        todo = np.flatnonzero(~ok)
        if todo.size == 0:
            break
        # first the predicted penalty; then a thousand times lower than the last one tried
        prev = lam[todo].copy()
        lam[todo] = nxt[todo] if attempt == 0 else prev * 1e-3
        x0 = start[todo].copy()
        good = np.all(np.isfinite(x0), axis=1)
        x0[:, 3] *= prev / lam[todo]  # V grows like 1 / lam on the hard margin
        r = run(todo, lam[todo], np.where(good[:, None], x0, np.nan) if good.all() else None)
        for k in GRID + VALUES:
            cols[k][todo] = np.ravel(getattr(r, k))
        ok[todo] = hard(r)
        st = np.stack([np.ravel(r.m), np.ravel(r.s), np.sqrt(np.ravel(r.q0)), np.ravel(r.V)],
                      axis=1)
        start[todo] = st
    failed = ~ok & cols["converged"].astype(bool)
    cols["reason"][failed] = NOT_HARD
    conv = ok
    for k in ("eps", "eps_noisy", "R", "S", "kappa"):
        cols[k] = np.where(conv, cols[k].astype(float), np.nan)
    for k in ("Q", "q0", "m", "s", "V", "lam", "alpha_c"):  # the hinge's, not the student's
        cols[k] = np.full(n, np.nan)
    cols["reason"] = np.where(conv, "", cols["reason"]).astype(str)
    cols["converged"] = conv
    return TheoryResult.build(rule=base.rule, learner="max-margin", metric=base.metric,
                              reweight=base.reweight, shape=shape, labels=base.labels,
                              **{k: cols[k] for k in GRID + VALUES})
