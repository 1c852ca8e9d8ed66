"""The one result type of :func:`prunescale.sims.simulate`, for every learner.

Per-student arrays and their aggregates over the unflagged students. Both simulators (the
max-margin one of :mod:`prunescale.sims.run` and the regularized one of
:mod:`prunescale.sims.erm`) return a :class:`SimResult`; a measurement a learner does not
define is NaN for every student (``kappa`` for the regularized learners, ``Q`` and ``flipped``
... see the attributes).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

#: per-student measurements whose mean and standard error :meth:`SimResult.summary` reports
MEASURED = ("eps", "eps_noisy", "R", "S", "kappa", "Q", "probe_deg")


def aggregates_defined(learner: str, noise: float, flagged) -> bool:
    """Whether means over the unflagged students estimate the model's error: always for the
    regularized learners and for max-margin without label noise (flagged students are
    excluded); for max-margin with noise only if no student is flagged, because a student
    left without a certified solution most likely has non-separable data, and averaging over
    the separable draws alone would be biased."""
    return learner != "max-margin" or noise == 0 or not bool(np.any(flagged))


@dataclasses.dataclass(frozen=True)
class SimResult:
    """Certified students on pruned data: per-student arrays and aggregates.

    Configuration: ``rule, f, theta_deg, softness, metric, reweight, power_exp, probe_scale,
    random_share`` (selection), ``snr`` (spike ``S`` of the input covariance ``I + S u u^T``),
    ``probe`` (``fixed`` or ``prototype``), ``alpha_ssl`` (the prototype's unlabeled sample per
    dimension; ``None``: ``alpha_tot``), ``prototype_method`` and ``prototype_source`` (the
    prototype pipeline, :mod:`prunescale.sims.spiked`; ``None`` for a fixed probe),
    ``learner, lam`` (``lam`` NaN for max-margin), ``noise`` (label flips), the loads
    ``alpha_prune, alpha_tot``, the dimension ``n``, the realised pool and kept sizes
    ``n_pool, n_kept``, the sampling ``mode``, the base ``seed`` and the ``student_seeds``,
    and ``tol``, the flagging threshold (relative duality gap of a max-margin student; the
    certified bound on ``|eps - eps*|`` of a regularized one).

    Per-student arrays (length ``len(student_seeds)``): ``eps`` (against the clean teacher),
    ``eps_noisy`` (``noise + (1 - 2 noise) eps``), ``R``, ``S``, ``kappa`` (max-margin
    margin; NaN for the regularized learners), ``Q`` (``|w|^2 / N``; NaN for max-margin,
    whose norm is arbitrary), ``gap``, ``eps_err`` (certified bound on ``|eps - eps*|``),
    ``iterations``, ``flipped`` (fraction of kept labels flipped; NaN where not recorded),
    ``kept`` (number of kept examples: random under a soft policy), ``probe_deg`` (the
    probe's angle to the teacher in input space, degrees: ``theta_deg`` for a fixed probe,
    the measured ``arccos(|v.u|)`` of a prototype) and ``flagged``
    (not certified within ``tol`` or a non-finite measurement; excluded from the aggregates).
    Under spiked inputs or a covariance spectrum (``spectrum``, the canonical spec, and
    ``teacher_decay``, :mod:`prunescale.sims.spectrum`; ``None``: isotropic) ``R`` and ``S``
    are the overlaps of the whitened student ``Sigma^(1/2) w`` (so that
    ``eps = arccos(R) / pi`` still holds).

    Aggregates ``<name>_mean`` / ``<name>_sem`` (standard error, ``ddof=1``) of every
    measurement are over unflagged students (NaN if fewer than 1 resp. 2, and NaN when the
    run is not :attr:`complete`).
    """

    rule: str
    f: float
    theta_deg: float
    alpha_prune: float
    alpha_tot: float
    n: int
    n_pool: int
    n_kept: int
    mode: str
    seed: int | None
    student_seeds: np.ndarray
    learner: str
    lam: float
    noise: float
    softness: float
    metric: str
    reweight: bool
    tol: float
    eps: np.ndarray
    eps_noisy: np.ndarray
    R: np.ndarray
    S: np.ndarray
    kappa: np.ndarray
    Q: np.ndarray
    gap: np.ndarray
    eps_err: np.ndarray
    iterations: np.ndarray
    flipped: np.ndarray
    kept: np.ndarray
    flagged: np.ndarray
    seconds: float
    power_exp: float = 0.0
    probe_scale: float = 1.0
    random_share: float = 0.0
    labels: str | None = None
    snr: float = 0.0
    probe: str = "fixed"
    alpha_ssl: float | None = None
    prototype_method: str | None = None
    prototype_source: str | None = None
    probe_deg: np.ndarray | None = None
    spectrum: str | None = None
    teacher_decay: float | None = None

    def __post_init__(self):
        if self.probe_deg is None:  # a fixed probe: its angle
            object.__setattr__(self, "probe_deg",
                               np.full(np.asarray(self.student_seeds).size,
                                       float(self.theta_deg)))

    @property
    def model(self):
        """The :class:`prunescale.model.Model` simulated."""
        from prunescale.model import Model

        return Model.from_fields(rule=self.rule, f=self.f, theta_deg=self.theta_deg,
                                 softness=self.softness, metric=self.metric,
                                 reweight=self.reweight, learner=self.learner,
                                 lam=None if self.learner == "max-margin" else self.lam,
                                 noise=self.noise, power_exp=self.power_exp,
                                 probe_scale=self.probe_scale, random_share=self.random_share,
                                 snr=self.snr, probe=self.probe,
                                 alpha_ssl=self.alpha_ssl, spectrum=self.spectrum,
                                 teacher_decay=self.teacher_decay)

    @property
    def complete(self) -> bool:
        """Whether the aggregates are defined (:func:`aggregates_defined`)."""
        return aggregates_defined(self.learner, self.noise, self.flagged)

    @property
    def seeds(self) -> int:
        """Number of students."""
        return int(self.student_seeds.size)

    @property
    def f_eff(self) -> float:
        """Realised kept fraction ``n_kept / n_pool``."""
        return self.n_kept / self.n_pool

    @property
    def alpha_prune_eff(self) -> float:
        """Realised load ``n_kept / n``."""
        return self.n_kept / self.n

    @property
    def n_flagged(self) -> int:
        return int(self.flagged.sum())

    @property
    def max_gap(self) -> float:
        """Largest duality gap of any student (flagged ones included)."""
        return float(np.max(self.gap)) if self.gap.size else float("nan")

    @property
    def max_eps_err(self) -> float:
        """Largest certified bound on ``|eps - eps*|`` among unflagged students."""
        ok = ~self.flagged
        return float(np.max(self.eps_err[ok])) if ok.any() else float("nan")

    def mean(self, name: str) -> float:
        """Mean of measurement ``name`` over unflagged students (NaN if none, or if the run
        is not :attr:`complete`)."""
        ok = ~self.flagged
        a = np.asarray(getattr(self, name))
        return float(np.mean(a[ok])) if ok.any() and self.complete else float("nan")

    def sem(self, name: str) -> float:
        """Standard error of the mean of ``name`` (``ddof=1``; NaN below 2 students)."""
        ok = ~self.flagged
        k = int(ok.sum())
        a = np.asarray(getattr(self, name))
        return (float(np.std(a[ok], ddof=1) / math.sqrt(k)) if k >= 2 and self.complete
                else float("nan"))

    def __getattr__(self, name: str):
        # eps_mean, eps_sem, R_mean, ...: the aggregates of MEASURED
        for suffix, fn in (("_mean", SimResult.mean), ("_sem", SimResult.sem)):
            if name.endswith(suffix) and name[: -len(suffix)] in MEASURED:
                return fn(self, name[: -len(suffix)])
        raise AttributeError(f"'SimResult' object has no attribute {name!r}")

    def summary(self) -> dict:
        """JSON-ready dict of the configuration, aggregates and per-student seeds."""
        nan2none = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v
        out = {
            "rule": self.rule, "learner": self.learner,
            "lam": None if self.learner == "max-margin" else self.lam, "noise": self.noise,
            "softness": self.softness, "metric": self.metric, "reweight": self.reweight,
            "power_exp": self.power_exp, "probe_scale": self.probe_scale,
            "random_share": self.random_share, "f": self.f, "alpha_prune": self.alpha_prune, "alpha_tot": self.alpha_tot,
            "theta_deg": self.theta_deg, "n": self.n, "seeds": self.seeds, "seed": self.seed,
            "n_pool": self.n_pool, "n_kept": self.n_kept, "f_eff": self.f_eff,
            "alpha_prune_eff": self.alpha_prune_eff,
            "kept_mean": float(np.mean(self.kept)) if self.kept.size else float(self.n_kept),
            "mode": self.mode,
        }
        if self.labels is not None:
            out["labels"] = self.labels
        out.update(snr=self.snr, probe=self.probe, alpha_ssl=self.alpha_ssl)
        if self.spectrum is not None:
            out.update(spectrum=self.spectrum, teacher_decay=self.teacher_decay)
        if self.probe == "prototype":
            out.update(prototype_method=self.prototype_method,
                       prototype_source=self.prototype_source)
        for name in MEASURED:
            out[f"{name}_mean"] = self.mean(name)
            out[f"{name}_sem"] = self.sem(name)
        out.update({"max_gap": self.max_gap, "tol": self.tol, "n_flagged": self.n_flagged,
                    "max_eps_err": self.max_eps_err, "seconds": self.seconds,
                    "student_seeds": [int(s) for s in self.student_seeds]})
        return {k: nan2none(v) for k, v in out.items()}

    def to_pandas(self):
        """One row per student: the configuration and every per-student array."""
        import pandas as pd

        k = self.seeds
        cols = {name: [getattr(self, name)] * k for name in (
            "rule", "learner", "lam", "noise", "softness", "metric", "reweight", "power_exp",
            "probe_scale", "random_share", "f", "alpha_prune", "alpha_tot", "theta_deg", "n",
            "n_pool", "n_kept", "mode", "seed", "tol", "snr", "probe")}
        cols["alpha_ssl"] = [np.nan if self.alpha_ssl is None else self.alpha_ssl] * k
        cols["prototype_method"] = [self.prototype_method] * k
        cols["prototype_source"] = [self.prototype_source] * k
        if self.spectrum is not None:
            cols["spectrum"] = [self.spectrum] * k
            cols["teacher_decay"] = [np.nan if self.teacher_decay is None
                                     else self.teacher_decay] * k
        cols["student"] = np.asarray(self.student_seeds, dtype=np.int64)
        for name in MEASURED + ("gap", "eps_err", "iterations", "flipped", "kept", "flagged"):
            cols[name] = np.asarray(getattr(self, name))
        return pd.DataFrame(cols)

    def to_xarray(self):
        """An ``xarray.Dataset`` over the dimension ``student`` (its seed index), every
        per-student array a variable, the configuration as attributes."""
        import xarray as xr

        data = {name: ("student", np.asarray(getattr(self, name))) for name in
                MEASURED + ("gap", "eps_err", "iterations", "flipped", "kept", "flagged")}
        attrs = {name: getattr(self, name) for name in (
            "rule", "learner", "lam", "noise", "softness", "metric", "power_exp", "probe_scale",
            "random_share", "f", "alpha_prune",
            "alpha_tot", "theta_deg", "n", "n_pool", "n_kept", "mode", "tol", "snr", "probe")}
        attrs["alpha_ssl"] = np.nan if self.alpha_ssl is None else float(self.alpha_ssl)
        if self.probe == "prototype":
            attrs["prototype_method"] = self.prototype_method
            attrs["prototype_source"] = self.prototype_source
        if self.spectrum is not None:
            attrs["spectrum"] = self.spectrum
            attrs["teacher_decay"] = (np.nan if self.teacher_decay is None
                                      else float(self.teacher_decay))
        attrs["reweight"] = int(self.reweight)
        attrs["seed"] = -1 if self.seed is None else int(self.seed)
        return xr.Dataset(data, coords={"student": np.asarray(self.student_seeds)},
                          attrs=attrs)
