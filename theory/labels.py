"""Label channels ``P(y = +1 | t)``, ``t`` the teacher field (unit variance).

Four families, each a frozen, hashable dataclass printable as (and parseable from) its spec:

* ``flip:ETA`` (:class:`Flip`): ``y = sign(t)`` flipped with probability ``ETA`` in
  ``[0, 0.5]`` (the ``noise`` of every engine);
* ``logistic:BETA`` (:class:`Logistic`): ``P(y = +1 | t) = sigma(BETA t)``;
* ``probit:BETA`` (:class:`Probit`): ``P(y = +1 | t) = Phi(BETA t)`` (a noisy teacher
  ``sign(t + xi / BETA)``);
* ``binned:E1,...,Ek:P0,...,Pk`` (:class:`Binned`): piecewise constant, ``P_j`` on
  ``E_j <= t < E_(j+1)`` (``E_0 = -inf``, ``E_(k+1) = +inf``), strictly increasing edges,
  probabilities in ``[0, 1]`` (non-monotone allowed).

**Symmetrisation** (``docs/erm.md`` section 8). The students are odd (no intercept) and every
label-free selection depends on ``|p|``; the law of the inputs is symmetric under
``x -> -x``. So only the law of ``(y t, y u, ...)`` matters, and under ``x -> -x`` the example
``(x, y)`` gives the same products as ``(-x, -y)``. Folding ``t`` onto ``t >= 0``: the kept law
of ``(y t, y u)`` is that of ``sign(t) (t, u)`` with probability ``a(|t|)`` and of
``-sign(t) (t, u)`` otherwise, with the *agreement*

    ``a(s) = [g(s) + 1 - g(-s)] / 2``,  ``g(t) = P(y = +1 | t)``.

So every channel acts as a flip noise whose probability ``1 - a(|t|)`` depends on ``|t|``:
``flip:ETA`` is ``a = 1 - ETA``; ``probit`` ``a(s) = Phi(BETA s)``; ``logistic``
``a(s) = sigma(BETA s)``; ``binned`` a step function with breaks at the ``|E_j|``. The odd
extension ``A(t) = 1/2 + sign(t) (a(|t|) - 1/2)`` (``= g(t)`` for the symmetric families)
gives ``P(y = +1 | p)`` and the label-aware ``signed`` metric the same way.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from prunescale.errors import InputError
from prunescale.theory._special import ndtr


def expit(x):
    """The logistic function ``1 / (1 + exp(-x))`` in numpy alone, from ``e = exp(-|x|)``
    (``1 / (1 + e)`` or ``e / (1 + e)``: no overflow, relative accuracy in both tails, within
    a few ulps of ``scipy.special.expit``), so that importing the channels, which every solve
    does, loads no scipy."""
    x = np.asarray(x, float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

__all__ = ["Channel", "Flip", "Logistic", "Probit", "Binned", "parse", "as_channel",
           "FAMILIES"]

FAMILIES = ("flip", "logistic", "probit", "binned")


def _num(text: str, what: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"labels {spec!r}: {what} must be a number; got {text!r}") from None


class Channel:
    """Base of the label channels (see the module docstring)."""

    #: whether the channel is a constant flip (the engines' historical ``noise``)
    is_flip = False

    def g(self, t):
        """``P(y = +1 | t)`` (elementwise)."""
        raise NotImplementedError

    def agree(self, s):
        """``a(s) = [g(s) + 1 - g(-s)] / 2`` for ``s >= 0``: the probability that the label
        agrees with the clean teacher ``sign(t)`` at ``|t| = s``, symmetrised."""
        s = np.asarray(s, float)
        return 0.5 * (self.g(s) + 1.0 - self.g(-s))

    def odd_agree(self, t):
        """``A(t) = 1/2 + sign(t) (a(|t|) - 1/2)``: the ``P(y = +1 | t)`` of the symmetrised
        channel."""
        t = np.asarray(t, float)
        return 0.5 + np.sign(t) * (self.agree(np.abs(t)) - 0.5)

    def jumps(self):
        """``(a0, edges, steps)``: ``a(s) = a0 + sum_j steps_j 1{s >= edges_j}`` for a
        piecewise-constant ``a`` (``edges > 0`` sorted); ``None`` for a smooth one."""
        return None

    def scale(self):
        """The width ``1 / BETA`` over which a smooth ``a`` changes (``None``: not smooth)."""
        return None

    def s_breaks(self):
        """Split points on ``s = |t| >= 0`` of a quadrature against ``a(s)``."""
        j = self.jumps()
        if j is not None:
            return np.asarray(j[1], float)
        return self.scale() * np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0])

    def flip_rate(self) -> float:
        """``P(y != sign(t))`` over ``t ~ N(0, 1)``: ``1 - E[a(|t|)]``."""
        return float(self.eps_noisy(0.0))

    def eps_noisy(self, eps):
        """``P(y != sign(h))`` for a fresh example labelled by this channel and a student
        field ``h`` with correlation ``rho = cos(pi eps)`` to ``t``:
        ``1 - 2 int_0^inf phi(s) [a(s) Phi(k s) + (1 - a(s)) Phi(-k s)] ds``,
        ``k = rho / sqrt(1 - rho^2)`` (composite Gauss-Legendre, accurate to ~1e-14)."""
        from prunescale.theory._quadrature import normal_pdf, panel_rule

        eps = np.asarray(eps, float)
        shape = eps.shape
        e = eps.ravel()
        rho = np.cos(np.pi * e)
        with np.errstate(divide="ignore", invalid="ignore"):
            kk = rho / np.sqrt(np.maximum(1.0 - rho * rho, 0.0))
            w_k = np.where(np.abs(kk) > 1e-300, 1.0 / np.abs(kk), np.nan)
        mult = np.array([0.25, 1.0, 4.0, 16.0])
        br = np.concatenate([np.broadcast_to(self.s_breaks(), (e.size, len(self.s_breaks()))),
                             w_k[:, None] * mult,
                             np.broadcast_to(np.array([2.0, 4.0, 6.0]), (e.size, 3))], -1)
        br = np.where(np.isfinite(br), br, np.nan)
        s, w = panel_rule(np.zeros(e.size), np.full(e.size, 12.0), br, 32)
        a = self.agree(s)
        with np.errstate(invalid="ignore"):
            ks = np.where(np.isinf(kk[:, None]), np.sign(kk[:, None]) * np.inf, kk[:, None] * s)
            ks = np.where(s == 0, 0.0, ks)
        val = np.sum(w * normal_pdf(s) * (a * ndtr(ks) + (1.0 - a) * ndtr(-ks)), -1)
        out = 1.0 - 2.0 * val
        out = np.where(np.isfinite(e), out, np.nan)
        return out.reshape(shape)

    def mean_odd_agree(self, mu, sd):
        """``E[A(t)]`` for ``t ~ N(mu, sd^2)`` (arrays broadcast; ``sd = 0``: ``A(mu)``):
        ``P(y = +1 | p)`` of the symmetrised channel given the probe field."""
        mu, sd = np.broadcast_arrays(np.asarray(mu, float), np.asarray(sd, float))
        j = self.jumps()
        if j is not None:
            a0, edges, steps = j
            with np.errstate(divide="ignore", invalid="ignore"):
                def cdf(x):  # P(t > x)
                    z = np.where(sd > 0, (mu - x) / np.where(sd > 0, sd, 1.0),
                                 np.where(mu > x, np.inf, np.where(mu < x, -np.inf, 0.0)))
                    return ndtr(z)
                # A(t) = (1 - a0) + (2 a0 - 1) 1{t > 0} + sum_j steps_j (1{t >= e_j} - 1{t <= -e_j})
                out = (1.0 - a0) + (2.0 * a0 - 1.0) * cdf(0.0)
                for e, d in zip(edges, steps):
                    out = out + d * (cdf(e) - (1.0 - cdf(-e)))
            return out
        return self._mean_smooth(mu, sd)

    def _mean_smooth(self, mu, sd):
        x, w = np.polynomial.hermite_e.hermegauss(96)
        w = w / np.sqrt(2.0 * np.pi)
        t = mu[..., None] + sd[..., None] * x
        return np.sum(w * self.odd_agree(t), -1)

    def flip_prob(self, t, xp=np):
        """``P(y != sign(t) | t)`` (``xp``: ``numpy`` or ``jax.numpy``) for the simulators."""
        g = self.g_xp(t, xp)
        return xp.where(t > 0, 1.0 - g, g)

    def g_xp(self, t, xp):
        return self.g(t)


@dataclasses.dataclass(frozen=True)
class Flip(Channel):
    """``y = sign(t)`` flipped with probability ``eta`` in ``[0, 0.5]``."""

    eta: float = 0.0
    is_flip = True

    def __post_init__(self):
        e = float(self.eta)
        if not (math.isfinite(e) and 0.0 <= e <= 0.5):
            raise InputError(f"labels flip:ETA needs ETA in [0, 0.5]; got {self.eta!r}")
        object.__setattr__(self, "eta", e)

    def __str__(self):
        return f"flip:{_fmt(self.eta)}"

    def g(self, t):
        t = np.asarray(t, float)
        return np.where(t > 0, 1.0 - self.eta, self.eta)

    def g_xp(self, t, xp):
        return xp.where(t > 0, 1.0 - self.eta, self.eta)

    def agree(self, s):
        return np.full(np.shape(s), 1.0 - self.eta)

    def jumps(self):
        return (1.0 - self.eta, np.zeros(0), np.zeros(0))

    def eps_noisy(self, eps):
        eps = np.asarray(eps, float)
        return self.eta + (1.0 - 2.0 * self.eta) * eps


def _check_beta(fam: str, beta) -> float:
    try:
        b = float(beta)
    except (TypeError, ValueError):
        raise InputError(f"labels {fam}:BETA needs a number BETA > 0; got {beta!r}") from None
    if not (math.isfinite(b) and b > 0):
        raise InputError(f"labels {fam}:BETA needs a finite BETA > 0; got {beta!r}")
    return b


@dataclasses.dataclass(frozen=True)
class Logistic(Channel):
    """``P(y = +1 | t) = sigma(beta t)``, ``beta > 0``; ``a(s) = sigma(beta s)``."""

    beta: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "beta", _check_beta("logistic", self.beta))

    def __str__(self):
        return f"logistic:{_fmt(self.beta)}"

    def g(self, t):
        return expit(self.beta * np.asarray(t, float))

    def g_xp(self, t, xp):
        return 1.0 / (1.0 + xp.exp(-self.beta * t))

    def agree(self, s):
        return expit(self.beta * np.asarray(s, float))

    def odd_agree(self, t):
        return self.g(t)

    def scale(self):
        return 1.0 / self.beta

    def s_breaks(self):
        return (1.0 / self.beta) * np.array([0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0])

    def derivative(self, s):
        """``a'(s) = beta sigma'(beta s)``."""
        z = expit(self.beta * np.asarray(s, float))
        return self.beta * z * (1.0 - z)

    #: ``a'`` is below 1e-17 of its peak beyond ``s = S_MAX / beta``
    S_MAX = 40.0


@dataclasses.dataclass(frozen=True)
class Probit(Channel):
    """``P(y = +1 | t) = Phi(beta t)``, ``beta > 0``; ``a(s) = Phi(beta s)``."""

    beta: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "beta", _check_beta("probit", self.beta))

    def __str__(self):
        return f"probit:{_fmt(self.beta)}"

    def g(self, t):
        return ndtr(self.beta * np.asarray(t, float))

    def g_xp(self, t, xp):
        from jax.scipy.special import ndtr as jndtr

        return jndtr(self.beta * t) if xp is not np else ndtr(self.beta * t)

    def agree(self, s):
        return ndtr(self.beta * np.asarray(s, float))

    def odd_agree(self, t):
        return self.g(t)

    def scale(self):
        return 1.0 / self.beta

    def s_breaks(self):
        return (1.0 / self.beta) * np.array([0.5, 1.0, 2.0, 3.0, 4.5, 6.0])

    def mean_odd_agree(self, mu, sd):
        mu, sd = np.broadcast_arrays(np.asarray(mu, float), np.asarray(sd, float))
        return ndtr(self.beta * mu / np.sqrt(1.0 + (self.beta * sd) ** 2))

    def derivative(self, s):
        """``a'(s) = beta phi(beta s)``."""
        z = self.beta * np.asarray(s, float)
        return self.beta * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)

    S_MAX = 9.0


@dataclasses.dataclass(frozen=True)
class Binned(Channel):
    """Piecewise constant ``P(y = +1 | t)``: ``probs[j]`` on ``edges[j-1] <= t < edges[j]``."""

    edges: tuple = (0.0,)
    probs: tuple = (0.0, 1.0)

    def __post_init__(self):
        spec = f"binned:{_join(self.edges)}:{_join(self.probs)}"
        try:
            e = tuple(float(x) for x in self.edges)
            p = tuple(float(x) for x in self.probs)
        except (TypeError, ValueError):
            raise InputError(f"labels {spec!r}: edges and probabilities must be numbers") \
                from None
        if not e:
            raise InputError(f"labels {spec!r}: give at least one edge")
        if not all(math.isfinite(x) for x in e):
            raise InputError(f"labels {spec!r}: edges must be finite")
        if any(b <= a for a, b in zip(e, e[1:])):
            raise InputError(f"labels {spec!r}: edges must be strictly increasing")
        if len(p) != len(e) + 1:
            raise InputError(f"labels {spec!r}: {len(e)} edges need {len(e) + 1} "
                             f"probabilities; got {len(p)}")
        bad = [x for x in p if not (math.isfinite(x) and 0.0 <= x <= 1.0)]
        if bad:
            raise InputError(f"labels {spec!r}: probabilities must be in [0, 1]; got {bad[0]!r}")
        object.__setattr__(self, "edges", e)
        object.__setattr__(self, "probs", p)

    def __str__(self):
        return f"binned:{_join(self.edges)}:{_join(self.probs)}"

    def g(self, t):
        t = np.asarray(t, float)
        return np.asarray(self.probs)[np.searchsorted(np.asarray(self.edges), t, side="right")]

    def g_xp(self, t, xp):
        if xp is np:
            return self.g(t)
        idx = xp.searchsorted(xp.asarray(self.edges), t, side="right")
        return xp.asarray(self.probs)[idx]

    def agree(self, s):
        s = np.asarray(s, float)
        pr, ed = np.asarray(self.probs), np.asarray(self.edges)
        up = pr[np.searchsorted(ed, s, side="right")]  # g(s), t = s >= E_j: the upper bin
        lo = pr[np.searchsorted(ed, -s, side="left")]  # g(-s) as -s -> from below (0-)
        return 0.5 * (up + 1.0 - lo)

    def jumps(self):
        pts = np.unique(np.abs(np.asarray(self.edges)))
        pts = pts[pts > 0]
        ends = np.concatenate([[0.0], pts, [pts[-1] + 1.0 if pts.size else 1.0]])
        vals = self.agree(0.5 * (ends[:-1] + ends[1:]))  # a on [0, p1), [p1, p2), ...
        return (float(vals[0]), pts, np.diff(vals))


def _fmt(x: float) -> str:
    s = f"{x:g}"
    return s if float(s) == x else repr(float(x))


def _join(xs) -> str:
    try:
        return ",".join(_fmt(float(x)) for x in xs)
    except (TypeError, ValueError):
        return ",".join(str(x) for x in xs)


def parse(spec: str) -> Channel:
    """The channel of a spec string (``flip:ETA``, ``logistic:BETA``, ``probit:BETA``,
    ``binned:E1,...,Ek:P0,...,Pk``); one-line :class:`~prunescale.errors.InputError` otherwise.

    Example:
        >>> print(parse("binned:-0.1,0,0.1:0.3,0.05,0.95,0.7"))
        binned:-0.1,0,0.1:0.3,0.05,0.95,0.7
        >>> parse("probit:2") == Probit(2.0)
        True
    """
    if not isinstance(spec, str):
        raise InputError(f"labels must be a channel spec string or a channel; got {spec!r}")
    text = spec.strip()
    fam, _, rest = text.partition(":")
    fam = fam.strip().lower()
    if fam not in FAMILIES:
        raise InputError(f"labels {spec!r}: unknown family {fam!r}; the families are "
                         f"{', '.join(FAMILIES)} (e.g. flip:0.1, probit:2, "
                         "binned:-0.1,0,0.1:0.3,0.05,0.95,0.7)")
    if fam == "binned":
        parts = rest.split(":")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise InputError(f"labels {spec!r}: binned needs binned:E1,...,Ek:P0,...,Pk")
        edges = tuple(_num(x.strip(), "an edge", spec) for x in parts[0].split(","))
        probs = tuple(_num(x.strip(), "a probability", spec) for x in parts[1].split(","))
        return Binned(edges, probs)
    if not rest.strip() or ":" in rest:
        raise InputError(f"labels {spec!r}: {fam} needs one number, {fam}:"
                         f"{'ETA' if fam == 'flip' else 'BETA'}")
    val = _num(rest.strip(), "ETA" if fam == "flip" else "BETA", spec)
    return {"flip": Flip, "logistic": Logistic, "probit": Probit}[fam](val)


def as_channel(labels) -> Channel | None:
    """A channel from a spec string or a channel (``None`` stays ``None``)."""
    if labels is None or isinstance(labels, Channel):
        return labels
    return parse(labels)
