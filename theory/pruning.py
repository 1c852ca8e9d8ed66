"""The pruning specification shared by the theory and the simulator.

A pool of ``P_tot = alpha_tot * N`` Gaussian examples is ranked by the margin of a probe
``J_p`` at angle ``theta`` to the teacher, ``t_p = J_p . x / sqrt(N)``, and a fraction ``f`` of
it is kept (Sorscher et al. 2022, Sec. 2 and App. A):

* ``hard``   keeps the ``f P_tot`` smallest ``|t_p|``; as ``N -> inf`` this is ``|t_p| <= g`` with
  ``f = 2 Phi(g) - 1``;
* ``easy``   keeps the ``f P_tot`` largest ``|t_p|``; as ``N -> inf`` this is ``|t_p| >= g`` with
  ``f = 2 H(g)``, ``H = 1 - Phi``;
* ``random`` keeps a uniform subset (the unpruned learning curve at ``alpha_prune``).

The kept law of ``|t_p|`` is therefore a standard normal folded onto ``[0, inf)`` and truncated
to ``[lo, hi]`` (:func:`kept_range`); directions orthogonal to the probe stay Gaussian.
This module is the single definition of rules, fractions, angles and thresholds: the theory
(:mod:`theory.solver`) and the simulator (:mod:`sims`) both import it.

References:
    B. Sorscher, R. Geirhos, S. Shekhar, S. Ganguli, A. S. Morcos, "Beyond neural scaling laws:
    beating power law scaling via data pruning", NeurIPS 2022, https://arxiv.org/abs/2206.14486
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
from prunescale.theory import _special as special
from prunescale.errors import InputError


RULES = ("hard", "easy", "random", "power")
Rule = Literal["hard", "easy", "random", "power"]
#: the rules that rank by the probe margin (a threshold ``g``); ``power`` weighs every example

#: Largest probe angle accepted, in degrees (exclusive): theta = 90 is a probe orthogonal to
#: the teacher, which carries no information about the labels.
THETA_MAX_DEG = 90.0


def check_rule(rule: str) -> str:
    """Return ``rule`` if it is one of :data:`RULES`, else raise a one-line ``ValueError``."""
    if not isinstance(rule, str) or rule not in RULES:
        raise InputError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    return rule


def _as_float_array(name: str, value, allowed: str) -> np.ndarray:
    """``value`` as a float array, or a one-line ``ValueError`` naming ``name`` and ``allowed``."""
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise InputError(f"{name} must be a number {allowed}; got {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number {allowed}; got {value!r}") from None
    if np.asarray(value).dtype == bool:
        raise InputError(f"{name} must be a number {allowed}; got {value!r}")
    return arr


def _check_finite(name: str, value, allowed: str = "") -> np.ndarray:
    arr = _as_float_array(name, value, allowed)
    bad = ~np.isfinite(arr)
    if bad.any():
        rng = f" and {allowed}" if allowed else ""
        raise InputError(f"{name} must be finite{rng}; got {float(arr[bad].flat[0])!r}")
    return arr


def check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    """An integer ``lo <= value <= hi`` (``hi = None``: no upper limit), else a one-line
    :class:`~prunescale.errors.InputError` naming ``name``, the value and the range."""
    rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok and isinstance(value, (float, np.floating)) and float(value).is_integer():
        value, ok = int(value), True
    if not ok or value < lo or (hi is not None and value > hi):
        raise InputError(f"{name} must be an integer {rng}; got {value!r}")
    return int(value)


def check_tol(name: str, value, hi: float = 1.0, *, inclusive: bool = False) -> float:
    """A finite tolerance in ``(0, hi)`` (``(0, hi]`` if ``inclusive``), else one line."""
    rng = f"(0, {hi:g}{']' if inclusive else ')'}"
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))
    if not (ok and math.isfinite(value) and 0 < value and (value <= hi if inclusive
                                                          else value < hi)):
        raise InputError(f"{name} must be a finite number in {rng}; got {value!r}")
    return float(value)


def check_f(f) -> np.ndarray:
    """Validate pruning fractions: finite and in (0, 1]."""
    arr = _check_finite("f", f, "in (0, 1]")
    bad = (arr <= 0) | (arr > 1)
    if bad.any():
        raise InputError(f"f must be in (0, 1]; got {float(arr[bad].flat[0])!r}")
    return arr


#: largest load (examples per dimension) accepted anywhere
ALPHA_MAX = 1e12


def check_alpha(name: str, alpha) -> np.ndarray:
    """Validate a load ``alpha_prune`` or ``alpha_tot``: finite, in ``(0, ALPHA_MAX]``."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        arr = _check_finite(name, alpha, f"in (0, {ALPHA_MAX:g}]")
    bad = (arr <= 0) | (arr > ALPHA_MAX)
    if bad.any():
        raise InputError(f"{name} must be in (0, {ALPHA_MAX:g}]; got {float(arr[bad].flat[0])!r}")
    return arr


def check_pool(alpha_prune, f) -> np.ndarray:
    """The pool ``alpha_tot = alpha_prune / f`` of valid loads ``alpha_prune`` and fractions
    ``f``; one-line error naming both (the user gave them, not ``alpha_tot``) when the pool
    exceeds :data:`ALPHA_MAX`."""
    alpha_prune, f = np.broadcast_arrays(np.asarray(alpha_prune, float), np.asarray(f, float))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        at = alpha_prune / f
    bad = ~(at <= ALPHA_MAX)
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        ap, ff, a = alpha_prune.ravel()[i], f.ravel()[i], at.ravel()[i]
        raise InputError(f"alpha_prune = {ap:g} with f = {ff:g} needs a pool alpha_tot = "
                         f"alpha_prune / f = {a:g}, above the largest load {ALPHA_MAX:g}; "
                         "lower alpha_prune or raise f")
    return at


def check_noise(noise) -> np.ndarray:
    """Label-flip probabilities, each in ``[0, 0.5]`` (one-line error otherwise)."""
    arr = _check_finite("noise", noise, "in [0, 0.5]")
    bad = (arr < 0) | (arr > 0.5)
    if bad.any():
        raise InputError(f"noise must be in [0, 0.5]; got {float(arr[bad].flat[0])!r}")
    return arr


def check_theta_deg(theta_deg) -> np.ndarray:
    """Validate probe angles in degrees: finite and in [0, 90)."""
    arr = _check_finite("theta_deg", theta_deg, "in [0, 90)")
    bad = (arr < 0) | (arr >= THETA_MAX_DEG)
    if bad.any():
        raise InputError(f"theta_deg must be in [0, 90); got {float(arr[bad].flat[0])!r}")
    return arr


#: the students: the max-margin perceptron and the regularized learners (``docs/erm.md``)
LEARNERS = ("max-margin", "ridge", "logistic", "hinge")
#: the regularized learners, which take a penalty ``lam``
REGULARIZED = ("ridge", "logistic", "hinge")
#: largest penalty ``lam`` accepted
LAM_MAX = 1e6
#: selection metrics: ``|p|`` (label-free) or ``y p`` (label-aware)
METRICS = ("abs", "signed")
#: largest selection softness accepted
SOFTNESS_MAX = 10.0
#: largest ``|A|`` of the power policy accepted
POWER_EXP_MAX = 50.0
#: the probes: a ``fixed`` direction at ``theta_deg`` to the teacher, or the ``prototype`` (top
#: eigenvector of an independent unlabeled sample of ``alpha_ssl N`` inputs)
PROBES = ("fixed", "prototype")
#: largest spike strength ``S`` of the input covariance ``I + S u u^T``
SNR_MAX = 1e6
#: largest unlabeled sample per dimension of the prototype probe
ALPHA_SSL_MAX = 1e6


def check_learner(learner) -> str:
    """One of :data:`LEARNERS`, else a one-line :class:`~prunescale.errors.InputError`."""
    if not isinstance(learner, str) or learner not in LEARNERS:
        raise InputError(f"learner must be one of {', '.join(LEARNERS)}; got {learner!r}")
    return learner


def check_lam(lam) -> np.ndarray:
    """Penalties ``lam`` of the regularized learners: finite, in ``(0, LAM_MAX]``."""
    arr = _check_finite("lam", lam, f"in (0, {LAM_MAX:g}]")
    bad = (arr <= 0) | (arr > LAM_MAX)
    if bad.any():
        raise InputError(f"lam must be in (0, {LAM_MAX:g}]; got {float(arr[bad].flat[0])!r}")
    return arr


def check_penalty(learner: str, lam):
    """``lam`` for ``learner``: ``None`` (or all NaN) for max-margin, which has no penalty, and
    required for the regularized learners (checked as :func:`check_lam` where it is a number
    or an array); else one line."""
    if learner == "max-margin":
        if lam is not None and not np.all(np.isnan(np.asarray(lam, dtype=float))):
            raise InputError(f"lam is for the regularized learners ({', '.join(REGULARIZED)}); "
                             f"the max-margin student has no penalty; got lam = {lam!r}")
        return None
    if lam is None:
        raise InputError(f"learner {learner} needs lam, the penalty in (0, {LAM_MAX:g}]")
    return lam


def check_reweight_for(learner: str, reweight) -> bool:
    """``reweight`` (a bool), refused for max-margin (weights do not change its solution)."""
    if check_reweight(reweight) and learner == "max-margin":
        raise InputError(f"reweight is for the regularized learners ({', '.join(REGULARIZED)}):"
                         " weights do not change the max-margin solution")
    return bool(reweight)


def check_softness(softness) -> np.ndarray:
    """Selection softness(es) ``tau``: finite, in ``[0, SOFTNESS_MAX]``."""
    arr = _check_finite("softness", softness, f"in [0, {SOFTNESS_MAX:g}]")
    bad = (arr < 0) | (arr > SOFTNESS_MAX)
    if bad.any():
        raise InputError(f"softness must be in [0, {SOFTNESS_MAX:g}]; got "
                         f"{float(arr[bad].flat[0])!r}")
    return arr


def check_metric(metric) -> str:
    """One of :data:`METRICS`, else one line."""
    if not isinstance(metric, str) or metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    return metric


def check_reweight(reweight) -> bool:
    """A bool, else one line."""
    if not isinstance(reweight, (bool, np.bool_)):
        raise InputError(f"reweight must be a bool (True or False); got {reweight!r}")
    return bool(reweight)


def check_power_exp(power_exp) -> np.ndarray:
    """Exponent(s) ``A`` of the power policy: finite, ``|A| <= POWER_EXP_MAX``."""
    arr = _check_finite("power_exp", power_exp, f"in [-{POWER_EXP_MAX:g}, {POWER_EXP_MAX:g}]")
    bad = np.abs(arr) > POWER_EXP_MAX
    if bad.any():
        raise InputError(f"power_exp must be in [-{POWER_EXP_MAX:g}, {POWER_EXP_MAX:g}]; got "
                         f"{float(arr[bad].flat[0])!r}")
    return arr


def check_probe_scale(probe_scale) -> np.ndarray:
    """Probe scale(s) ``B`` of the power policy: finite and ``> 0``."""
    arr = _check_finite("probe_scale", probe_scale, "> 0")
    bad = arr <= 0
    if bad.any():
        raise InputError(f"probe_scale must be finite and > 0; got {float(arr[bad].flat[0])!r}")
    return arr


def check_random_share(random_share) -> np.ndarray:
    """Random share(s) ``R`` of a mixed policy: in ``[0, 1]``."""
    arr = _check_finite("random_share", random_share, "in [0, 1]")
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        raise InputError(f"random_share must be in [0, 1]; got {float(arr[bad].flat[0])!r}")
    return arr


def check_family(rule: str, metric: str, power_exp=0.0, probe_scale=1.0, random_share=0.0):
    """The policy-family parameters ``(A, B, R)`` of ``rule``, validated together (one line
    else): ``power_exp`` and ``probe_scale`` belong to ``rule = "power"`` (elsewhere they must
    be the defaults ``0`` and ``1``), which is label-free (``metric = "abs"``: ``sigma'`` is
    even); ``random_share`` mixes ``hard`` or ``easy`` with random (elsewhere it must be 0)."""
    ex, sc, sh = check_power_exp(power_exp), check_probe_scale(probe_scale), \
        check_random_share(random_share)
    if rule == "power":
        if metric == "signed":
            raise InputError("metric signed is not for the power policy: sigma'(B p) is even in "
                             "p, so the policy is label-free; use metric abs")
        if np.any(sh != 0):
            raise InputError("random_share mixes random selection into the hard and easy rules; "
                             f"rule power has none (got random_share = {float(sh.flat[0])!r})")
    else:
        if np.any(ex != 0) or np.any(sc != 1):
            name, v = ("power_exp", ex[ex != 0]) if np.any(ex != 0) else \
                ("probe_scale", sc[sc != 1])
            raise InputError(f"{name} is a parameter of rule power; got {name} = "
                             f"{float(v.flat[0])!r} with rule {rule}")
        if rule == "random" and np.any(sh != 0):
            raise InputError("random_share mixes random selection into the hard and easy rules; "
                             f"rule random is random already (got random_share = "
                             f"{float(sh[sh != 0].flat[0])!r})")
    return ex, sc, sh


def check_snr(snr) -> np.ndarray:
    """Spike strength(s) ``S`` of the input covariance ``I + S u u^T``: finite, in
    ``[0, SNR_MAX]`` (``0``: isotropic inputs)."""
    arr = _check_finite("snr", snr, f"in [0, {SNR_MAX:g}]")
    bad = (arr < 0) | (arr > SNR_MAX)
    if bad.any():
        raise InputError(f"snr must be in [0, {SNR_MAX:g}]; got {float(arr[bad].flat[0])!r}")
    return arr


def check_alpha_ssl(alpha_ssl) -> np.ndarray:
    """Unlabeled sample(s) per dimension of the prototype probe: finite, in
    ``(0, ALPHA_SSL_MAX]``."""
    allowed = f"in (0, {ALPHA_SSL_MAX:g}]"
    arr = _check_finite("alpha_ssl", alpha_ssl, allowed)
    bad = (arr <= 0) | (arr > ALPHA_SSL_MAX)
    if bad.any():
        raise InputError(f"alpha_ssl must be {allowed}; got {float(arr[bad].flat[0])!r}")
    return arr


def check_probe(probe, theta_deg=0.0, alpha_ssl=None, metric: str = "abs"):
    """The probe (one of :data:`PROBES`) with its parameters, validated together: the
    ``prototype`` probe has no ``theta_deg`` (its angle follows from ``snr`` and
    ``alpha_ssl``) and no signed metric (the sign of an eigenvector of an unlabeled sample is
    arbitrary), and ``alpha_ssl`` (``None``: the pool size ``alpha_tot``, else
    :func:`check_alpha_ssl`) belongs to the prototype probe only. Returns ``alpha_ssl`` as an
    array, or ``None``."""
    if not isinstance(probe, str) or probe not in PROBES:
        raise InputError(f"probe must be one of {', '.join(PROBES)}; got {probe!r}")
    if alpha_ssl is not None:
        if probe != "prototype":
            raise InputError(f"alpha_ssl is the unlabeled sample of the prototype probe; got "
                             f"alpha_ssl = {alpha_ssl!r} with probe {probe}")
        alpha_ssl = check_alpha_ssl(alpha_ssl)
    if probe == "prototype":
        th = np.asarray(theta_deg if theta_deg is not None else 0.0)
        if th.dtype.kind in "fiu" and np.any(th != 0):
            raise InputError("theta_deg is not for the prototype probe: its angle to the "
                             "teacher follows from snr and alpha_ssl; got theta_deg = "
                             f"{float(th[th != 0].flat[0])!r}")
        if metric == "signed":
            raise InputError("metric signed is not for the prototype probe: the sign of an "
                             "unlabeled sample's eigenvector is arbitrary; use metric abs")
    return alpha_ssl


def _scalar(name: str, arr: np.ndarray, allowed: str) -> float:
    if arr.size != 1:
        raise InputError(f"{name} must be a single number {allowed}; got an array of shape "
                         f"{arr.shape}")
    return float(arr.reshape(()))


def threshold(rule: str, f):
    """Threshold ``g`` on ``|t_p|`` of the N -> infinity pruning rule.

    $$
    f = 2\\Phi(g) - 1 \\ (\\text{hard}), \\qquad f = 2H(g) \\ (\\text{easy}).
    $$

    ``random`` has no threshold and returns ``nan``. Computed with ``ndtri`` on the smaller
    tail so that ``g`` keeps full relative precision as ``f -> 0`` and ``f -> 1``.
    """
    check_rule(rule)
    f = np.asarray(f, dtype=float)
    if rule == "hard":
        # Phi(g) = (1 + f) / 2  <=>  g = -ndtri((1 - f) / 2)
        return -special.ndtri(0.5 * (1.0 - f))
    if rule == "easy":
        return -special.ndtri(0.5 * f)
    return np.full_like(f, np.nan)


def kept_range(rule: str, f):
    """Kept interval ``[lo, hi]`` of ``|t_p|`` (``hi = inf`` for easy and random)."""
    g = threshold(rule, f)
    if rule == "hard":
        return np.zeros_like(g), g
    if rule == "easy":
        return g, np.full_like(g, np.inf)
    return np.zeros_like(g), np.full_like(g, np.inf)


@dataclasses.dataclass(frozen=True)
class Pruning:
    """How a pool is pruned: rule, kept fraction and probe angle.

    Attributes:
        rule: ``"hard"`` (keep the smallest probe margins), ``"easy"`` (keep the largest) or
            ``"random"`` (keep a uniform subset).
        f: kept fraction, ``0 < f <= 1``. ``f = 1`` is no pruning for every rule.
        theta_deg: angle between probe and teacher in degrees, ``0 <= theta_deg < 90``;
            ``0`` is the perfect metric (probe = teacher). Irrelevant for ``random``.

    Example:
        >>> p = Pruning("hard", 0.2)
        >>> round(p.g, 6)
        0.253347
    """

    rule: Rule
    f: float
    theta_deg: float = 0.0

    def __post_init__(self):
        check_rule(self.rule)
        object.__setattr__(self, "f", _scalar("f", check_f(self.f), "in (0, 1]"))
        object.__setattr__(self, "theta_deg",
                           _scalar("theta_deg", check_theta_deg(self.theta_deg), "in [0, 90)"))

    @property
    def theta(self) -> float:
        """Probe angle in radians."""
        return math.radians(self.theta_deg)

    @property
    def g(self) -> float:
        """Threshold on ``|t_p|`` (``nan`` for random), see :func:`threshold`."""
        return float(threshold(self.rule, self.f))

    @property
    def kept_range(self) -> tuple[float, float]:
        """``(lo, hi)`` of the kept ``|t_p|`` in the N -> infinity limit."""
        lo, hi = kept_range(self.rule, self.f)
        return float(lo), float(hi)

    def n_kept(self, n_pool: int) -> int:
        """Number of examples kept from a pool of ``n_pool``: ``round(f * n_pool)``, at least 1."""
        return max(1, int(round(self.f * n_pool)))
