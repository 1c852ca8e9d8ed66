"""Spiked inputs and the prototype probe for :func:`prunescale.theory.solve` (both engines).

The model point is mapped to whitened coordinates (:mod:`prunescale.theory.spiked`,
``docs/structure.md``): the probe's input-space angle (the given ``theta_deg``, or the
prototype's BBP angle) becomes the whitened angle ``theta_eff``, and the engines solve the
isotropic problem at ``theta_eff`` with the penalty (max-margin: the norm) weakened by
``1/(1+S)`` along the teacher (their ``snr`` argument).

An uninformative probe (``theta_eff = 90``: the prototype at or below the BBP transition) is
independent of the teacher. With a label-free policy (``metric = "abs"``, no reweighting) the
kept law of the teacher field and of the rest is then the unpruned Gaussian, the kept law of the
probe field is even, and by the symmetry ``p -> -p`` of the (convex, unique) student its probe
overlap is ``0``: the point is exactly the ``random`` rule at the same ``alpha_prune`` and
``snr``, solved as such. A label-aware metric or reweighting there is not covered (the point is
reported not certified).
"""

from __future__ import annotations

import numpy as np

from prunescale.errors import InputError
from prunescale.theory import pruning as _pr
from prunescale.theory import spiked
from prunescale.theory.result import GRID, VALUES, TheoryResult, raise_if_uncertified

#: the reason of an uninformative-probe point the reduction does not cover
NOT_COVERED = ("the prototype is uninformative here (at or below the BBP transition "
               "alpha_ssl snr^2 = 1) and the policy is label-aware or reweighted: not covered "
               "by the theory")


def _numeric(name, v):
    if v is None:
        return None
    if isinstance(v, (str, bytes)):
        raise InputError(f"{name} must be a number or an array of numbers; got {v!r}")
    return np.asarray(v, float)


def solve_spiked(m: dict, alpha_prune, alpha_tot, solve_model, opts: dict) -> TheoryResult:
    """Solve the model point ``m`` (validated by
    :func:`prunescale.theory.engine.model_arguments`) with spiked inputs or the prototype
    probe; ``solve_model(m, alpha_prune, alpha_tot, **opts, snr=...)`` is the isotropic
    dispatch to the engines."""
    f = _pr.check_f(m["f"])
    snr = _pr.check_snr(m["snr"])
    if alpha_prune is None and alpha_tot is None:
        raise InputError("give alpha_prune or alpha_tot")
    ap = None if alpha_prune is None else _pr.check_alpha("alpha_prune", alpha_prune)
    at = None if alpha_tot is None else _pr.check_alpha("alpha_tot", alpha_tot)
    pool = at if at is not None else ap / f
    if m["probe"] == "prototype":
        a_ssl = pool if m["alpha_ssl"] is None else np.asarray(m["alpha_ssl"], float)
        th_in = spiked.prototype_angle_deg(a_ssl, snr)
        a_ssl_out = a_ssl
    else:
        th_in = _pr.check_theta_deg(m["theta_deg"])
        a_ssl_out = np.nan
    th_eff = spiked.effective_angle_deg(th_in, snr)
    lam = None if m["lam"] is None else np.asarray(m["lam"], float)
    named = {"f": f, "alpha_prune": ap, "alpha_tot": at, "theta_deg": th_in, "snr": snr,
             "alpha_ssl": np.asarray(a_ssl_out, float), "lam": lam,
             "noise": _numeric("noise", m["noise"]),
             "softness": _numeric("softness", m["softness"])}
    for k in ("power_exp", "probe_scale", "random_share"):
        named[k] = _numeric(k, m[k])
    arrays = {k: v for k, v in named.items() if v is not None}
    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in arrays.values()))
    except ValueError:
        raise InputError("the model's numeric inputs must broadcast to one shape; got shapes "
                         + ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())) from None
    flat = {k: np.broadcast_to(v, shape).ravel() for k, v in arrays.items()}
    TH = np.broadcast_to(th_eff, shape).ravel()
    blind = (TH == 90.0) & (m["rule"] != "random")
    covered = m["metric"] == "abs" and not m["reweight"]
    sub_opts = {**opts, "strict": False}
    parts = []
    for mask, as_random in ((~blind, False), (blind, True)):
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            continue
        mm = dict(m)
        for k in ("f", "lam", "noise", "softness", "power_exp", "probe_scale", "random_share"):
            if k in flat:
                mm[k] = flat[k][idx]
        mm["theta_deg"] = np.where(TH[idx] == 90.0, 0.0, TH[idx])  # random: irrelevant
        if as_random:  # the uninformative probe: exactly random pruning (module docstring)
            mm.update(rule="random", softness=0.0, metric="abs", reweight=False,
                      power_exp=0.0, probe_scale=1.0, random_share=0.0)
        r = solve_model(mm, None if ap is None else flat["alpha_prune"][idx],
                        None if at is None else flat["alpha_tot"][idx], **sub_opts,
                        snr=flat["snr"][idx])
        parts.append((idx, r))
    n = int(np.prod(shape))
    out = {}
    for name in GRID + VALUES:
        col = None
        for idx, r in parts:
            v = np.ravel(getattr(r, name))
            if col is None:
                col = np.empty(n, dtype=v.dtype if name != "reason" else object)
            col[idx] = v
        out[name] = col
    for k in ("f", "softness", "power_exp", "probe_scale", "random_share", "snr", "alpha_ssl"):
        if k in flat:
            out[k] = flat[k].astype(float)
    out["theta_deg"] = flat["theta_deg"].astype(float)
    if not covered and blind.any():
        for name in ("eps", "eps_noisy", "R", "S", "kappa", "Q", "q0", "m", "s", "V",
                     "eps_bound", "quad_err"):
            out[name] = np.where(blind, np.nan, out[name])
        for name in ("residual", "gap", "gap_floor"):  # diagnostics of another problem
            out[name] = np.where(blind, np.nan, out[name])
        out["converged"] = np.where(blind, False, out["converged"])
        out["reason"] = np.where(blind, NOT_COVERED, out["reason"])
    out["reason"] = out["reason"].astype(str)
    first = parts[0][1]
    res = TheoryResult.build(rule=m["rule"], learner=first.learner, metric=first.metric
                             if not blind.all() else m["metric"],
                             reweight=first.reweight if not blind.all() else m["reweight"],
                             shape=shape, labels=first.labels, probe=m["probe"], **out)
    if opts.get("strict"):
        raise_if_uncertified(res, ("f", "alpha_prune", "theta_deg", "snr"))
    return res

