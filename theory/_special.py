"""Normal-distribution special functions in plain numpy (no scipy import on the theta = 0 path).

Importing ``scipy.special`` costs ~0.2-0.3 s (its array-API layer pulls in numpy.f2py,
numpy.testing and unittest), more than the whole theta = 0 grid solve. The solver needs only

* ``ndtr(x) = Phi(x) = (1 + erf(x / sqrt 2)) / 2``, evaluated here with the Cephes rational
  approximations (Moshier, ``ndtr.c``): ``erf`` on ``|x / sqrt 2| < 1/sqrt 2``, otherwise
  ``Phi(-|x|) = erfc(z) / 2`` with ``erfc(z) = exp(-z^2) P(z) / Q(z)`` (``z < 8``) or
  ``R(z) / S(z)`` (``z >= 8``), ``exp(-z^2)`` split as in Cephes ``expx2`` so that the rounding
  of ``z^2`` does not cost relative precision in the far tail. Agreement with
  ``scipy.special.ndtr`` to a few ulps relative is tested (``tests/test_special.py``).
* ``ndtri`` (inverse of ``Phi``) on the handful of kept fractions of a grid: Wichura's AS241
  through :class:`statistics.NormalDist` (relative error ~1e-16 on ``(0, 1)``).
* ``owens_t`` (theta > 0 only): imported from scipy on first use.
"""

from __future__ import annotations

import numpy as np

_SQRTH = 0.70710678118654752440

_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
      6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
      1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)
_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)


def _poly(x, c):
    """Horner evaluation of ``c[0] x^n + ... + c[n]`` (in place after the first step)."""
    y = x * c[0]
    y += c[1]
    for ci in c[2:]:
        y *= x
        y += ci
    return y


def _exp_neg_sq(z):
    """``exp(-z^2)`` with ``z = m + g``, ``m`` a multiple of 1/128: ``m^2`` is exact, so the
    rounding of ``z^2`` (relative error ~z^2 ulp in the result) is avoided (Cephes ``expx2``)."""
    m = np.floor(z * 128.0 + 0.5) * (1.0 / 128.0)
    g = z - m
    return np.exp(-m * m) * np.exp(-(2.0 * m * g + g * g))


def _erf_small(t):
    """``erf(t)`` for ``|t| < 1``: ``t T(t^2) / U(t^2)``."""
    t2 = t * t
    return t * _poly(t2, _T) / _poly(t2, _U)


def _erfc_large(z):
    """``erfc(z)`` for ``z >= 1``: ``exp(-z^2) P(z) / Q(z)`` below 8, ``R(z) / S(z)`` above."""
    out = _poly(z, _P) / _poly(z, _Q)
    far = z >= 8.0
    if far.any():
        zf = z[far]
        out[far] = _poly(zf, _R) / _poly(zf, _S)
    return _exp_neg_sq(z) * out


def ndtr(x):
    """Standard normal CDF ``Phi(x)`` elementwise (float64; NaN in, NaN out).

    ``|x| / sqrt 2 < 1/sqrt 2``: ``(1 + erf) / 2``; up to 1: ``Phi(-|x|) = (1 - erf) / 2``;
    beyond: ``Phi(-|x|) = erfc / 2`` (``Phi(|x|) = 1 - Phi(-|x|)``), as in Cephes.
    """
    x = np.asarray(x, dtype=float)
    shape = x.shape
    t = np.ravel(x) * _SQRTH
    z = np.abs(t)
    out = np.full(t.shape, np.nan)
    with np.errstate(all="ignore"):
        centre = z < _SQRTH
        if centre.any():
            out[centre] = 0.5 + 0.5 * _erf_small(t[centre])
        mid = (z >= _SQRTH) & (z < 1.0)
        if mid.any():
            out[mid] = 0.5 * (1.0 - _erf_small(z[mid]))
        tail = (z >= 1.0) & (z < 40.0)
        if tail.any():
            out[tail] = 0.5 * _erfc_large(z[tail])
        out[z >= 40.0] = 0.0            # erfc(40) / 2 < 1e-697: below the smallest subnormal
        upper = (t > 0) & ~centre
        out[upper] = 1.0 - out[upper]
    return out.reshape(shape)


_INV_SQRT_2PI = 0.3989422804014327


def ndtr_pdf(x):
    """``(Phi(x), phi(x))`` elementwise, sharing one exponential (the solver's hot path).

    ``phi(x) = exp(-x^2 / 2) / sqrt(2 pi)`` as :func:`prunescale.theory._quadrature.normal_pdf`;
    in the tails (``|x| >= sqrt 2``) ``Phi(-|x|) = phi(x) sqrt(pi / 2) P(z) / Q(z)``
    (``z = |x| / sqrt 2``, ``erfc(z) = exp(-z^2) P / Q``, ``exp(-z^2) = exp(-x^2 / 2)``), so
    ``Phi`` carries the same relative rounding as ``phi`` (~``x^2 / 2`` ulp); elsewhere
    :func:`ndtr`.
    """
    x = np.asarray(x, dtype=float)
    shape = x.shape
    x = np.ravel(x)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-0.5 * np.square(x))
        z = np.abs(x) * _SQRTH
        zt = np.clip(z, 1.0, 8.0)
        lower = 0.5 * e * (_poly(zt, _P) / _poly(zt, _Q))
        inner = z < 1.0
        far = z >= 8.0
        if inner.any():  # Phi(-|x|) = (1 - erf(z)) / 2, as ndtr's two inner branches
            lower[inner] = 0.5 - 0.5 * _erf_small(z[inner])
        if far.any():
            zf = np.minimum(z[far], 40.0)  # e = 0 beyond: Phi(-|x|) = 0 without inf / inf
            lower[far] = 0.5 * e[far] * (_poly(zf, _R) / _poly(zf, _S))
        Phi = np.where(x > 0, 1.0 - lower, lower)
    Phi = np.where(np.isnan(x), np.nan, Phi)
    return Phi.reshape(shape), (e * _INV_SQRT_2PI).reshape(shape)


def ndtri(p):
    """Inverse of :func:`ndtr` elementwise: ``-inf`` at 0, ``+inf`` at 1, NaN outside [0, 1]."""
    from statistics import NormalDist

    p = np.asarray(p, dtype=float)
    inv = NormalDist().inv_cdf
    flat = [(-np.inf if v == 0.0 else np.inf if v == 1.0 else
             inv(v) if 0.0 < v < 1.0 else np.nan) for v in p.ravel().tolist()]
    return np.asarray(flat, dtype=float).reshape(p.shape)


def owens_t(h, a):
    """Owen's ``T(h, a)`` (scipy, imported on first use: only theta > 0 needs it)."""
    from scipy.special import owens_t as _owens_t

    return _owens_t(h, a)
