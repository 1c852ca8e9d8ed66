"""Spiked inputs along the teacher and the prototype probe (``docs/structure.md``).

Inputs ``x ~ N(0, I_N + S u u^T)`` with ``u`` the teacher's unit vector and ``S = snr``.
Whitening ``x = Sigma^(1/2) g`` (``g`` isotropic, ``Sigma^(1/2) = I + (sqrt(1+S) - 1) u u^T``)
maps the model onto the isotropic one:

* the label is ``sign(u.g)``; a student ``w`` acts through ``w~ = Sigma^(1/2) w`` and its clean
  error is ``arccos(w~.u / |w~|) / pi``;
* a probe ``v = cos(theta) u + sin(theta) e`` acts through
  ``Sigma^(1/2) v = sqrt(1+S) cos(theta) u + sin(theta) e``: the whitened (effective) angle is
  ``tan(theta_eff) = tan(theta) / sqrt(1+S)`` (:func:`effective_angle_deg`);
* the penalty (or the max-margin norm) is ``|w|^2 = (w~.u)^2 / (1+S) + |w~_perp|^2``: weakened
  by ``1/(1+S)`` along the teacher only (:func:`teacher_weight`).

The prototype probe is the top eigenvector of the second-moment matrix of an independent
unlabeled sample of ``A N`` inputs (``A = alpha_ssl``). As ``N -> inf`` at fixed ``A`` its angle
to the teacher follows the Baik-Ben Arous-Peche transition of the spiked covariance
(D. Paul 2007, Theorem 4): :func:`prototype_cos2`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["effective_angle_deg", "prototype_angle_deg", "prototype_cos2", "teacher_weight"]


def prototype_cos2(alpha_ssl, snr):
    """Limiting squared overlap ``cos^2(theta)`` of the prototype with the teacher.

    .. math::

        \\cos^2\\theta = \\frac{1 - 1/(A S^2)}{1 + 1/(A S)} \\quad (A S^2 > 1), \\qquad
        \\cos^2\\theta = 0 \\quad (A S^2 \\le 1),

    for the top eigenvector of ``(1/M) sum x x^T`` over ``M = A N`` inputs
    ``x ~ N(0, I + S u u^T)``, ``N, M -> inf``. Below the transition the prototype carries no
    information about the teacher.

    Args:
        alpha_ssl: the unlabeled sample per dimension ``A > 0`` (array or number).
        snr: the spike strength ``S >= 0`` (array or number; broadcasts with ``alpha_ssl``).

    Returns:
        ``cos^2(theta)`` in ``[0, 1)``, an array of the broadcast shape (exactly ``0`` at and
        below the transition).
    """
    A, S = np.broadcast_arrays(np.asarray(alpha_ssl, float), np.asarray(snr, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        above = A * S * S > 1.0
        c2 = (1.0 - 1.0 / (A * S * S)) / (1.0 + 1.0 / (A * S))
    return np.where(above, c2, 0.0)


def prototype_angle_deg(alpha_ssl, snr):
    """The prototype's limiting angle to the teacher in input space, in degrees.

    ``arccos(sqrt(prototype_cos2(alpha_ssl, snr)))``: exactly ``90`` at and below the BBP
    transition ``alpha_ssl snr^2 <= 1`` (:func:`prototype_cos2`). This is the ``theta_deg`` a
    :class:`~prunescale.theory.TheoryResult` reports for the prototype probe (the same
    convention as a fixed probe's angle).

    Args:
        alpha_ssl: the unlabeled sample per dimension ``A > 0``.
        snr: the spike strength ``S >= 0``.

    Returns:
        The angle(s) in ``(0, 90]`` degrees.
    """
    c2 = prototype_cos2(alpha_ssl, snr)
    return np.degrees(np.arctan2(np.sqrt(1.0 - c2), np.sqrt(c2)))


def effective_angle_deg(theta_deg, snr):
    """The whitened angle of a probe at input-space angle ``theta_deg``, in degrees.

    .. math::  \\tan\\theta_{\\rm eff} = \\tan\\theta / \\sqrt{1 + S},

    computed as ``atan2(sin(theta), sqrt(1+S) cos(theta))`` (exact at ``90``, which stays
    ``90``). At ``S = 0`` the angle is returned unchanged (no round trip through radians).

    Args:
        theta_deg: the input-space angle(s) in ``[0, 90]`` degrees.
        snr: the spike strength(s) ``S >= 0``.

    Returns:
        ``theta_eff`` in degrees, an array of the broadcast shape.
    """
    th, S = np.broadcast_arrays(np.asarray(theta_deg, float), np.asarray(snr, float))
    r = np.radians(th)
    cos = np.where(th == 90.0, 0.0, np.cos(r))
    eff = np.degrees(np.arctan2(np.sin(r), np.sqrt(1.0 + S) * cos))
    eff = np.where(th == 90.0, 90.0, eff)
    return np.where(S == 0, th, eff)


def teacher_weight(snr):
    """``1 / (1 + S)``: the weight of the teacher component ``(w~.u)^2`` in the penalty
    ``|w|^2`` written in whitened coordinates (exactly ``1`` at ``S = 0``).

    Args:
        snr: the spike strength(s) ``S >= 0``.

    Returns:
        ``1 / (1 + S)`` as an array.
    """
    return 1.0 / (1.0 + np.asarray(snr, float))
