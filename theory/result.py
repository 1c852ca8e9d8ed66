"""The one result type of :func:`prunescale.theory.solve`, for every learner.

Both engines (the max-margin solver of :mod:`prunescale.theory.solver` and the regularized
fixed point of :mod:`prunescale.theory.erm`) return a :class:`TheoryResult`; a field that a
learner does not define is NaN there (documented per field).
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: the broadcast grid parameters, in the order tried when naming an axis in :meth:`to_xarray`
GRID = ("f", "alpha_prune", "alpha_tot", "theta_deg", "lam", "noise", "softness", "power_exp",
        "probe_scale", "random_share", "snr", "alpha_ssl")
#: the grid parameters an engine may leave out, and their values then (the families' defaults,
#: isotropic inputs; ``alpha_ssl`` is NaN for a fixed probe)
GRID_DEFAULTS = {"power_exp": 0.0, "probe_scale": 1.0, "random_share": 0.0, "snr": 0.0,
                 "alpha_ssl": np.nan}
#: the per-point answers and certificate fields
VALUES = ("eps", "eps_noisy", "R", "S", "kappa", "Q", "q0", "m", "s", "V", "alpha_c",
          "converged", "residual", "gap", "gap_floor", "eps_bound", "quad_err", "reason")


@dataclasses.dataclass(frozen=True)
class TheoryResult:
    """Solution of the replica theory at a batch of points (arrays of a common shape).

    Attributes:
        rule: pruning rule, one string for every point.
        learner: ``"max-margin"``, ``"ridge"``, ``"logistic"`` or ``"hinge"``.
        metric, reweight: the selection metric (``"abs"`` or ``"signed"``) and whether the
            kept losses are reweighted (always ``False`` for max-margin).
        f, alpha_prune, alpha_tot, theta_deg, lam, noise, softness: the parameters
            (``alpha_tot = alpha_prune / f``; ``lam`` NaN for max-margin). ``theta_deg`` is
            the probe's angle to the teacher in input space: the given one for a fixed probe,
            the prototype's limiting angle
            (:func:`prunescale.theory.spiked.prototype_angle_deg`, ``90`` below the BBP
            transition) for the prototype probe.
        power_exp, probe_scale, random_share: the policy families' ``A``, ``B`` and ``R``
            (``docs/erm.md`` section 7; ``0``, ``1``, ``0`` when not used).
        snr: the spike strength ``S`` of the inputs ``N(0, I + S u u^T)`` (``0``: isotropic;
            ``docs/structure.md``).
        alpha_ssl: the prototype's unlabeled sample per dimension (NaN for a fixed probe).
        probe: ``"fixed"`` or ``"prototype"``, one for every point.
        eps: error against the clean teacher, ``arccos(R) / pi``.
        eps_noisy: error against noisy test labels, ``noise + (1 - 2 noise) eps`` (under a
            label channel, ``P(y != sign(w.x))`` for a fresh example labelled by it).
        R, S: overlaps of the student direction with the teacher and with the probe's
            direction orthogonal to the teacher.
        kappa: the max-margin ``kappa`` (NaN for the regularized learners).
        Q, q0, m, s, V: order parameters of the regularized fixed point (``Q = |w|^2 / N``,
            ``q0`` its part outside span(teacher, probe); NaN for max-margin, whose weight
            norm is arbitrary).
        alpha_c: the max-margin capacity, the largest separable ``alpha_prune``
            (:mod:`prunescale.theory.capacity`; ``inf`` without noise; NaN for the regularized
            learners, which need no separability).
        converged: ``True`` where the point is certified.
        residual: largest residual of the equations at the returned point.
        gap: the duality gap of the certificate (relative for max-margin).
        gap_floor: the part of ``gap`` float64 rounding alone produces (max-margin; NaN for
            the regularized learners).
        eps_bound: certified bound on ``|eps - eps_exact|`` (solving and refined quadrature).
            For the regularized learners it is kept where a point is not certified (the
            bound that failed the tolerance; NaN only where none could be computed).
        quad_err: the refined rule's bound alone (the quadrature-error estimate).
        reason: ``""`` where converged, else why the point is not certified.
        labels: the label channel's spec (:mod:`prunescale.theory.labels`) when it is not a
            flip, one for every point; ``None`` for the flip ``noise``.
        spectrum, teacher_decay: the input covariance's spectrum spec and the teacher decay
            ``B`` (:mod:`prunescale.theory.spectrum`; ``None`` for isotropic or spiked inputs,
            and for a teacher isotropic in input space).

    Where ``converged`` is False the answer fields (``eps`` to ``V``) are NaN: an uncertified
    point never carries a plausible number.
    """

    rule: str
    learner: str
    metric: str
    reweight: bool
    f: np.ndarray
    alpha_prune: np.ndarray
    alpha_tot: np.ndarray
    theta_deg: np.ndarray
    lam: np.ndarray
    noise: np.ndarray
    softness: np.ndarray
    power_exp: np.ndarray
    probe_scale: np.ndarray
    random_share: np.ndarray
    snr: np.ndarray
    alpha_ssl: np.ndarray
    eps: np.ndarray
    eps_noisy: np.ndarray
    R: np.ndarray
    S: np.ndarray
    kappa: np.ndarray
    Q: np.ndarray
    q0: np.ndarray
    m: np.ndarray
    s: np.ndarray
    V: np.ndarray
    alpha_c: np.ndarray
    converged: np.ndarray
    residual: np.ndarray
    gap: np.ndarray
    gap_floor: np.ndarray
    eps_bound: np.ndarray
    quad_err: np.ndarray
    reason: np.ndarray
    labels: str | None = None
    probe: str = "fixed"
    spectrum: str | None = None
    teacher_decay: float | None = None

    @classmethod
    def build(cls, *, rule, learner, metric="abs", reweight=False, shape, labels=None,
              probe="fixed", spectrum=None, teacher_decay=None, **arrays):
        """A result of ``shape`` from flat or shaped arrays; missing value fields are NaN."""
        out = {}
        for name in GRID + VALUES:
            if name in arrays:
                out[name] = np.asarray(arrays.pop(name)).reshape(shape)
            elif name == "converged":
                raise TypeError("converged is required")
            elif name == "reason":
                out[name] = np.full(shape, "", dtype=str)
            elif name in GRID_DEFAULTS:
                out[name] = np.full(shape, GRID_DEFAULTS[name])
            else:
                out[name] = np.full(shape, np.nan)
        if arrays:
            raise TypeError(f"unknown fields {sorted(arrays)}")
        return cls(rule=rule, learner=learner, metric=metric, reweight=bool(reweight),
                   labels=None if labels is None else str(labels), probe=str(probe),
                   spectrum=None if spectrum is None else str(spectrum),
                   teacher_decay=None if teacher_decay is None else float(teacher_decay), **out)

    def _meta(self) -> dict:
        """The optional one-per-result fields that are set (label channel, spectrum)."""
        return {k: getattr(self, k) for k in ("labels", "spectrum", "teacher_decay")
                if getattr(self, k) is not None}

    @property
    def shape(self) -> tuple[int, ...]:
        return self.eps.shape

    def records(self) -> list[dict]:
        """One plain ``dict`` per point (JSON-ready; ``nan`` and ``inf`` become ``None``)."""
        floats = [k for k in GRID + VALUES if k not in ("converged", "reason")]
        cols = []
        for k in floats:
            x = np.ravel(getattr(self, k)).astype(float)
            col = x.tolist()
            for i in np.flatnonzero(~np.isfinite(x)).tolist():
                col[i] = None
            cols.append(col)
        cols.append(np.ravel(self.converged).astype(bool).tolist())
        cols.append(np.ravel(self.reason).astype(str).tolist())
        names = tuple(floats) + ("converged", "reason")
        head = {"rule": self.rule, "learner": self.learner, "metric": self.metric,
                "reweight": bool(self.reweight), "probe": self.probe, **self._meta()}
        return [{**head, **dict(zip(names, row))} for row in zip(*cols)]

    def to_pandas(self):
        """One row per point: the parameters, the answers and the certificate (``pandas``)."""
        import pandas as pd

        data = {k: getattr(self, k) for k in ("rule", "learner", "metric", "reweight", "probe")}
        data.update(self._meta())
        for k in GRID + VALUES:
            data[k] = np.ravel(getattr(self, k))
        data["reason"] = data["reason"].astype(str)
        return pd.DataFrame(data)

    def _axis_names(self) -> list[str]:
        """A name per axis: the first grid parameter that varies along that axis alone
        (distinct values, constant along the others), else ``dim_<axis>``."""
        names = []
        for ax, size in enumerate(self.shape):
            name = f"dim_{ax}"
            for g in GRID:
                if g in names:
                    continue
                a = np.asarray(getattr(self, g), dtype=float)
                if np.all(np.isnan(a)):
                    continue
                idx = tuple(slice(None) if i == ax else slice(0, 1) for i in range(a.ndim))
                line = a[idx]
                if not np.array_equal(np.broadcast_to(line, a.shape), a, equal_nan=True):
                    continue
                vals = line.ravel()
                if size > 1 and np.unique(vals).size != size:
                    continue
                if size == 1 and g not in ("f", "alpha_prune", "theta_deg", "lam", "noise",
                                           "softness"):
                    continue
                name = g
                break
            names.append(name)
        return names

    def to_xarray(self):
        """An ``xarray.Dataset``: a dimension per grid axis (named after the parameter that
        varies along it), the other parameters as coordinates, every answer and certificate
        field (``reason`` included) as a variable; ``rule``, ``learner``, ``metric`` and
        ``reweight`` and ``probe`` as attributes."""
        import xarray as xr

        dims = self._axis_names()
        coords, data = {}, {}
        for g in GRID:
            a = np.asarray(getattr(self, g))
            if g in dims:
                ax = dims.index(g)
                idx = tuple(slice(None) if i == ax else 0 for i in range(a.ndim))
                coords[g] = (g, a[idx])
            else:
                coords[g] = (dims, a)
        for k in VALUES:
            a = np.asarray(getattr(self, k))
            data[k] = (dims, a.astype(str) if k == "reason" else a)
        return xr.Dataset(data, coords=coords,
                          attrs={"rule": self.rule, "learner": self.learner,
                                 "metric": self.metric, "reweight": int(self.reweight),
                                 "probe": self.probe,
                                 **self._meta()})


def raise_if_uncertified(res: TheoryResult, names=("f", "alpha_prune", "theta_deg")) -> None:
    """Raise :class:`~prunescale.errors.NotCertified` (the ``strict=True`` of the engines)
    unless every point of ``res`` is certified, naming the count and the first uncertified
    point by the grid parameters ``names`` and its ``reason``."""
    from prunescale.errors import NotCertified

    conv = np.ravel(res.converged)
    if conv.all():
        return
    bad = np.flatnonzero(~conv)
    i = bad[0]
    where = ", ".join(f"{k} = {np.ravel(getattr(res, k))[i]:g}" for k in names)
    raise NotCertified(f"{bad.size} of {conv.size} points not certified; first: {where}: "
                       f"{np.ravel(res.reason)[i]}")
