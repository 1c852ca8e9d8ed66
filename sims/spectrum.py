"""Inputs with a covariance spectrum in the simulators (``Data.spectrum``, ``teacher_decay``).

Model (:mod:`prunescale.theory.spectrum`): inputs ``x ~ N(0, Sigma)`` in ``D`` dimensions,
``Sigma = diag(lambda_1, ..., lambda_D)`` (simulated in its eigenbasis; every learner is
rotation invariant), ``N = D``. In whitened coordinates ``g = Sigma^(-1/2) x ~ N(0, I_D)`` the
teacher field is ``t = u.g`` with ``u_k = sqrt(teacher_share_k)`` (a unit vector), labels
``y = sign(t)`` (then the flips or the label channel, which sees the standardized field
``t``), and the fixed probe is ``v = cos(theta) u + sin(theta) e`` with ``e`` uniformly random
on the unit sphere orthogonal to ``u``.

Generation: every isotropic sampler (all modes and policies) draws a random teacher ``T``
(``|T|^2 = D``) and the probe ``J_p = cos(theta) T + sin(theta) T_2`` with ``T_2`` uniformly
random orthogonal to ``T``, and examples ``g ~ N(0, I_D)`` pruned by their probe margins
``J_p.g / sqrt(D)``. Let ``H = I - 2 h h^T``, ``h = (T^ - u) / |T^ - u|`` (``T^ = T / |T|``;
``H = I`` when ``T^ = u``), the Householder reflection with ``H T^ = u``. An example is mapped to

.. math::  x = \\Sigma^{1/2} H g \\qquad (O(D) \\text{ per example}).

``H g ~ N(0, I_D)`` has teacher field ``u.(H g) = T^.g`` and probe field ``(H J_p).(H g) /
sqrt(D) = J_p.g / sqrt(D)``; ``H T_2^`` is uniformly random orthogonal to ``u`` (``T_2`` is
isotropic in the complement of ``T``), so the kept set has exactly the model's law (the
probe angle ``theta`` is the whitened one: no effective angle, unlike the spike).

Students are trained on ``x`` (``h = w.x / sqrt(D)``, the isotropic penalty
``lam |w|^2 / 2`` in input space). With ``w~ = Sigma^(1/2) w`` (so ``w.x = w~.(H g)``) the
student's whitened vector in the sampler's coordinates is ``w~_g = H w~``, and

.. math::  R = \\frac{w~_g . T^}{|w~_g|} = \\frac{w~ . u}{|w~|}, \\qquad
           S = \\frac{w~_g . T_2^}{|w~_g|}, \\qquad \\epsilon = \\arccos(R) / \\pi.

A certificate's angle bound ``|w - w*| <= r`` (``r = |w| sin(pi eps_err)``) becomes
``|w~ - w~*| <= sqrt(lambda_max) r``, so ``eps_err`` is mapped to
``asin(min(1, sqrt(lambda_max) |w| sin(pi eps_err) / |w~|)) / pi`` (:func:`whitened_eps_err`).
With ``power:0:D`` (``Sigma = I``) the students are today's isotropic ones, rotated by ``H``.

In a sweep (:class:`prunescale.sims.sweep.Config`) a spectrum may be written ``power:A``
without ``D``: each task then takes ``D = N`` (:func:`at_dim`), so a family of dimensions can
be extrapolated in ``1/N`` (``prunescale fss``).
"""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp
import numpy as np

from prunescale.errors import InputError

__all__ = ["EPS_TOL", "SpectralMap", "at_dim", "check_dimension", "check_fits", "parse",
           "prepare", "whitened_eps_err"]

#: the default flagging threshold of a regularized student's certified bound on
#: ``|eps - eps*|`` with a spectrum (1e-6 without one): the whitening multiplies the bound by up
#: to ``sqrt(lambda_max) |w| / |w~|`` (:func:`whitened_eps_err`), and a hinge student's bound,
#: ``asin(sqrt(2 G / lam) / |w|)`` with its duality gap ``G`` at rounding level, is about
#: ``1e-7`` before it (measured: 1e-6 to 2.5e-6 after it for ``power:1.5:400`` to
#: ``power:1.5:1000``)
EPS_TOL = 1e-5


@jax.tree_util.register_pytree_node_class
class SpectralMap:
    """The spectrum's map of the isotropic draws: ``sqrt(lambda_k)`` and ``u_k`` (arrays of
    length ``D``) with a hashable identity (``key``: the spec, the teacher decay and a digest
    of the arrays), so that it can be a static argument of a compiled program (its arrays
    then constants) or a traced one (a JAX pytree whose leaves are the two arrays)."""

    def __init__(self, sqrt_lam, u, key):
        self.sqrt_lam = sqrt_lam
        self.u = u
        self.key = key

    @classmethod
    def of(cls, spectrum) -> "SpectralMap":
        """The map of a :class:`prunescale.theory.spectrum.Spectrum`."""
        sl = np.sqrt(np.asarray(spectrum.eigenvalues, np.float64))
        u = np.sqrt(np.asarray(spectrum.teacher_share, np.float64))
        digest = hashlib.sha256(sl.tobytes() + u.tobytes()).hexdigest()[:16]
        return cls(sl, u, (spectrum.spec, spectrum.teacher_decay, digest))

    def tree_flatten(self):
        return (self.sqrt_lam, self.u), self.key

    @classmethod
    def tree_unflatten(cls, key, children):
        return cls(children[0], children[1], key)

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, SpectralMap) and other.key == self.key

    def __bool__(self):  # "inputs are mapped" (as a nonzero spike coefficient)
        return True

    def __repr__(self):
        return f"SpectralMap({self.key[0]!r}, teacher_decay={self.key[1]!r})"

    def _reflector(self, T):
        """``h`` of the Householder reflection ``H = I - 2 h h^T`` with ``H T^ = u`` (the zero
        vector, ``H = I``, when ``T^ = u`` to rounding)."""
        u = jnp.asarray(self.u, T.dtype)
        d = T / jnp.linalg.norm(T) - u
        nd = jnp.linalg.norm(d)
        ok = nd > 1e-12
        return jnp.where(ok, d / jnp.where(ok, nd, 1.0), 0.0)

    def inputs(self, g, T):
        """``x = Sigma^(1/2) H g`` row-wise (``g``: ``... x D`` isotropic inputs)."""
        h = self._reflector(T)
        hg = g - 2.0 * (g @ h)[..., None] * h
        return hg * jnp.asarray(self.sqrt_lam, g.dtype)

    def teacher_field(self, x):
        """The standardized teacher field ``t = u.g_w`` of mapped inputs, ``g_w = Sigma^(-1/2)
        x`` (``= T.g / sqrt(D)`` of the isotropic draw)."""
        return (x / jnp.asarray(self.sqrt_lam, x.dtype)) @ jnp.asarray(self.u, x.dtype)

    def whitened(self, w, T):
        """``w~_g = H Sigma^(1/2) w``: the student's whitened vector in the sampler's
        coordinates."""
        wt = w * jnp.asarray(self.sqrt_lam, w.dtype)
        h = self._reflector(T)
        return wt - 2.0 * (wt @ h) * h

    def overlaps(self, w, T, T2):
        """``(R, S)`` of the whitened student ``w~_g`` with ``T`` and ``T2``."""
        wg = self.whitened(w, T)
        nw = jnp.linalg.norm(wg)
        R = jnp.clip((wg @ T) / (nw * jnp.linalg.norm(T)), -1.0, 1.0)
        nt2 = jnp.linalg.norm(T2)
        S = jnp.where(nt2 > 0, (wg @ T2) / (nw * jnp.where(nt2 > 0, nt2, 1.0)), 0.0)
        return R, S


def whitened_eps_err(eps_err, w, m: SpectralMap):
    """A certificate's bound on ``|eps - eps*|`` of the input-space student ``w`` (an angle
    bound, ``|w - w*| <= |w| sin(pi eps_err)`` after scaling ``w*``) turned into one for the
    whitened student: ``asin(min(1, sqrt(lambda_max) |w| sin(pi eps_err) / |w~|)) / pi``
    (``1`` stays ``1``)."""
    sl = jnp.asarray(m.sqrt_lam, w.dtype)
    ratio = jnp.max(sl) * jnp.linalg.norm(w) / jnp.linalg.norm(w * sl)
    s = jnp.sin(jnp.pi * jnp.minimum(eps_err, 0.5)) * ratio
    return jnp.where(s < 1.0, jnp.arcsin(jnp.minimum(s, 1.0)) / jnp.pi, 1.0)


def parse(spec, teacher_decay=None):
    """The validated :class:`prunescale.theory.spectrum.Spectrum` of a spec and teacher decay
    (``None`` for ``spec = None``; one-line :class:`~prunescale.errors.InputError` for a
    malformed spec, a bad file or decay, or a decay without a spectrum)."""
    from prunescale.theory.spectrum import parse_spectrum

    return parse_spectrum(spec, teacher_decay)


def at_dim(spec: str, n: int) -> str:
    """A sweep's spectrum spec at dimension ``N``: ``power:A`` (no ``D``) becomes
    ``power:A:N``; any other spec is returned unchanged (``""`` too)."""
    if isinstance(spec, str) and spec.startswith("power:") and spec.count(":") == 1:
        return f"{spec}:{int(n)}"
    return spec


def check_dimension(n, dim: int) -> int:
    """``N`` of a simulation with a spectrum of dimension ``D``: ``D`` for ``n = None``; any
    other ``n`` must equal ``D`` (one-line :class:`~prunescale.errors.InputError`)."""
    if n is None:
        return int(dim)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n != dim:
        raise InputError(f"n = {n!r} differs from the spectrum's dimension D = {dim}; with a "
                         "spectrum N = D (give n = D or leave n out)")
    return int(dim)


def student_bytes(dim: int, alpha_tot: float) -> int:
    """Bytes one student of a simulation at ``D`` needs at least (float64): its pool of
    ``alpha_tot D`` inputs of ``D`` entries and the solver's ``D x D`` matrices (four)."""
    d = int(dim)
    return 8 * (max(1, int(round(alpha_tot * d))) * d + 4 * d * d)


def check_fits(dim: int, alpha_tot: float, available: int | None = None) -> None:
    """Refuse up front (one line) a dimension whose simulation does not fit in memory for a
    block of even one student (:func:`student_bytes` against
    :func:`prunescale.sims.run.available_memory`)."""
    from prunescale.sims.run import available_memory

    need = student_bytes(dim, alpha_tot)
    avail = available_memory() if available is None else available
    if avail is not None and need > avail:
        raise InputError(f"a simulation at D = {int(dim)} (alpha_tot = {alpha_tot:g}) needs "
                         f"about {need / 2**30:.3g} GiB of memory per student and "
                         f"{avail / 2**30:.3g} GiB are available; choose a smaller D")


def prepare(spectrum, teacher_decay, n: int, alpha_tot: float, *, snr=0.0, probe="fixed"):
    """The :class:`SpectralMap` of a simulation (``None`` without a spectrum), after
    refusing (one line) what is not simulated: a spectrum with ``snr`` or the prototype probe,
    ``n`` other than ``D``, and a ``D`` that does not fit in memory (:func:`check_fits`).
    ``spectrum``: a spec or a :class:`~prunescale.theory.spectrum.Spectrum`."""
    from prunescale.theory.spectrum import Spectrum, parse_spectrum

    if isinstance(spectrum, Spectrum) and teacher_decay is not None:
        spectrum = spectrum.spec
    sp = parse_spectrum(spectrum, teacher_decay)
    if sp is None:
        return None
    if float(snr) != 0:
        raise InputError(f"give snr or spectrum, not both; got snr = {float(snr):g} and "
                         f"spectrum {sp.spec}")
    if probe != "fixed":
        raise InputError(f"the prototype probe needs spiked inputs (snr), not spectrum "
                         f"{sp.spec}; use probe = fixed")
    check_dimension(n, sp.dim)
    check_fits(sp.dim, alpha_tot)
    return SpectralMap.of(sp)


def result_fields(spectral_map) -> dict:
    """The spectrum's fields of a :class:`~prunescale.sims.SimResult` (``None``: isotropic)."""
    if spectral_map is None:
        return {}
    return {"spectrum": spectral_map.key[0], "teacher_decay": spectral_map.key[1]}
