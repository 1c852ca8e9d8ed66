"""Gaussian inputs with a general covariance spectrum: the generic-features model with pruning.

Inputs ``x ~ N(0, Sigma)`` in ``D`` dimensions, ``Sigma = diag(lambda_1, ..., lambda_D)`` in its
eigenbasis (the learners are rotation invariant), the eigenvalues sorted in decreasing order and
normalised to mean ``1`` (so ``|x|^2 ~ D``, as for isotropic inputs with ``N = D``):

* ``power:A:D``: ``lambda_k`` proportional to ``k^(-A)``, ``A >= 0`` (``A = 0``: isotropic);
* ``file:PATH``: the eigenvalues read from a ``.npy`` or text file (for example a covariance
  estimated from real features), ``D`` their number.

The teacher ``T`` enters through its share of the label-field variance in each eigendirection,
``u_k^2 = T_k^2 lambda_k / sum_j T_j^2 lambda_j``, proportional to ``k^(-B)`` (``B`` the
teacher decay; ``B = 1 + 2 A r`` for the source exponent ``r`` of the kernel literature). The
default ``B = None`` is a teacher drawn isotropically in input space: ``u_k^2`` proportional to
``lambda_k``. In whitened coordinates ``g = Sigma^(-1/2) x ~ N(0, I_D)`` the teacher field is
``t = u.g`` (``u`` a unit vector), and the fixed probe is ``v = cos(theta) u + sin(theta) e``
with ``e`` a uniformly random unit vector orthogonal to ``u``: its error direction is spread
evenly over the whitened coordinates, ``E[e_k^2] = (1 - u_k^2) / (D - 1)``.

A student ``w`` (input space) acts through ``w~ = Sigma^(1/2) w``; its penalty is
``|w|^2 = sum_k w~_k^2 / lambda_k`` and its clean error is ``arccos(rho) / pi`` with ``rho``
the correlation of its field with the teacher's. ``docs/spectrum.md`` derives the replica fixed
point from this.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os

import numpy as np

from prunescale.errors import InputError

__all__ = ["DIM_MAX", "Spectrum", "check_teacher_decay", "parse_spectrum"]

#: the largest dimension accepted by the theory (its sums are over ``D`` terms per point)
DIM_MAX = 1_000_000
#: the largest power-law exponent ``A`` (``k^(-A)`` underflows far beyond)
EXPONENT_MAX = 20.0
#: the largest ``|B|`` of the teacher decay
DECAY_MAX = 50.0


def check_teacher_decay(decay):
    """``None`` (a teacher isotropic in input space) or a finite ``B`` in ``[-50, 50]``; else a
    one-line :class:`~prunescale.errors.InputError`."""
    if decay is None:
        return None
    if isinstance(decay, (str, bytes, bool, np.bool_)) or np.ndim(decay) != 0:
        raise InputError(f"teacher_decay must be one number in [-{DECAY_MAX:g}, {DECAY_MAX:g}]; "
                         f"got {decay!r}")
    b = float(decay)
    if not math.isfinite(b) or abs(b) > DECAY_MAX:
        raise InputError(f"teacher_decay must be finite and in [-{DECAY_MAX:g}, {DECAY_MAX:g}];"
                         f" got {decay!r}")
    return b


@functools.lru_cache(maxsize=16)
def _read_file(path: str, mtime: float) -> tuple:
    if not os.path.isfile(path):
        raise InputError(f"spectrum file {path!r} does not exist")
    try:
        if path.endswith(".npy"):
            arr = np.load(path, allow_pickle=False)
        else:
            arr = np.loadtxt(path, dtype=float, ndmin=1)
    except (OSError, ValueError) as e:
        raise InputError(f"spectrum file {path!r} could not be read as numbers "
                         f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    arr = np.asarray(arr, dtype=float).ravel()
    if arr.size == 0:
        raise InputError(f"spectrum file {path!r} is empty; it must hold D >= 2 eigenvalues")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"spectrum file {path!r} holds a non-finite eigenvalue "
                         f"({arr[~np.isfinite(arr)][0]!r}); all must be finite and > 0")
    if np.any(arr <= 0):
        raise InputError(f"spectrum file {path!r} holds an eigenvalue <= 0 "
                         f"({arr[arr <= 0][0]!r}); all must be finite and > 0")
    if arr.size < 2 or arr.size > DIM_MAX:
        raise InputError(f"spectrum file {path!r} holds {arr.size} eigenvalues; D must be in "
                         f"[2, {DIM_MAX}]")
    return tuple(np.sort(arr)[::-1].tolist())


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """A validated input spectrum with its teacher (module docstring).

    Attributes:
        spec: the canonical spec, ``power:A:D`` or ``file:PATH`` (``PATH`` absolute).
        teacher_decay: ``B``, or ``None`` for a teacher isotropic in input space.
    """

    spec: str
    teacher_decay: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "spec", _canonical(self.spec))
        object.__setattr__(self, "teacher_decay", check_teacher_decay(self.teacher_decay))
        self.eigenvalues  # noqa: B018 (a file is read and checked now)

    @property
    def kind(self) -> str:
        return self.spec.split(":", 1)[0]

    @property
    def exponent(self) -> float | None:
        """``A`` of a ``power`` spectrum (``None`` for a file)."""
        return float(self.spec.split(":")[1]) if self.kind == "power" else None

    @property
    def dim(self) -> int:
        """``D``."""
        if self.kind == "power":
            return int(self.spec.split(":")[2])
        return len(self._file_values())

    def _file_values(self) -> tuple:
        path = self.spec.split(":", 1)[1]
        try:
            mtime = os.path.getmtime(path)
        except OSError:
            mtime = -1.0
        return _read_file(path, mtime)

    @property
    def eigenvalues(self) -> np.ndarray:
        """``lambda_k``, decreasing, mean ``1`` (a new array)."""
        if self.kind == "power":
            k = np.arange(1, self.dim + 1, dtype=float)
            lam = np.exp(-self.exponent * np.log(k))
        else:
            lam = np.asarray(self._file_values(), dtype=float)
        return lam / lam.mean()

    @property
    def teacher_share(self) -> np.ndarray:
        """``u_k^2``: the teacher's share of the label-field variance per eigendirection,
        proportional to ``k^(-B)`` (or to ``lambda_k`` for ``B = None``), summing to ``1``."""
        if self.teacher_decay is None:
            w = self.eigenvalues
        else:
            k = np.arange(1, self.dim + 1, dtype=float)
            w = np.exp(-self.teacher_decay * np.log(k))
        return w / w.sum()

    @property
    def probe_share(self) -> np.ndarray:
        """``E[e_k^2] = (1 - u_k^2) / (D - 1)``: the expected squares of the probe's error
        direction, a uniformly random unit vector orthogonal to ``u`` (summing to ``1``)."""
        u2 = self.teacher_share
        return (1.0 - u2) / (self.dim - 1)

    @property
    def isotropic(self) -> bool:
        """Whether all eigenvalues are equal (``power:0:D``; the teacher is then irrelevant)."""
        lam = self.eigenvalues
        return bool(np.all(lam == lam[0]))

    def __str__(self) -> str:
        b = "" if self.teacher_decay is None else f" teacher_decay={self.teacher_decay:g}"
        return f"spectrum={self.spec}{b}"


def _canonical(spec) -> str:
    """The canonical form of a spectrum spec (one-line :class:`InputError` if malformed)."""
    form = "power:A:D (A >= 0, integer D >= 2) or file:PATH"
    if not isinstance(spec, str) or ":" not in spec:
        raise InputError(f"spectrum must be {form}; got {spec!r}")
    kind, rest = spec.split(":", 1)
    if kind == "file":
        if not rest:
            raise InputError(f"spectrum must be {form}; got {spec!r} (no path)")
        return "file:" + os.path.abspath(os.path.expanduser(rest))
    if kind != "power":
        raise InputError(f"spectrum must be {form}; got {spec!r}")
    parts = rest.split(":")
    if len(parts) != 2:
        raise InputError(f"spectrum must be {form}; got {spec!r}")
    try:
        a = float(parts[0])
    except ValueError:
        raise InputError(f"spectrum exponent A must be a number in [0, {EXPONENT_MAX:g}]; got "
                         f"{parts[0]!r} in {spec!r}") from None
    if not math.isfinite(a) or a < 0 or a > EXPONENT_MAX:
        raise InputError(f"spectrum exponent A must be finite and in [0, {EXPONENT_MAX:g}]; got "
                         f"{parts[0]!r} in {spec!r}")
    try:
        d = int(parts[1])
    except ValueError:
        raise InputError(f"spectrum dimension D must be an integer in [2, {DIM_MAX}]; got "
                         f"{parts[1]!r} in {spec!r}") from None
    if d < 2 or d > DIM_MAX:
        raise InputError(f"spectrum dimension D must be an integer in [2, {DIM_MAX}]; got "
                         f"{d} in {spec!r}")
    return f"power:{a:g}:{d}"


def parse_spectrum(spec, teacher_decay=None) -> Spectrum | None:
    """A :class:`Spectrum` from its spec and teacher decay; ``None`` for ``spec = None``
    (isotropic inputs, today's model). A teacher decay without a spectrum is refused."""
    if spec is None or isinstance(spec, Spectrum):
        if spec is None and teacher_decay is not None:
            raise InputError(f"teacher_decay = {teacher_decay!r} needs a spectrum "
                             "(power:A:D or file:PATH)")
        return spec
    return Spectrum(spec, teacher_decay)
