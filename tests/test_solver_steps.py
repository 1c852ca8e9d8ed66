"""Named steps of the solver: the certificate's reduced expectations and the march's steps."""

from __future__ import annotations

import numpy as np
import pytest

from prunescale.theory import Quadrature
from prunescale.theory._equations import moments
from prunescale.theory._kept_law import nodes_theta0, nodes_theta_tensor
from prunescale.theory import solver


def _point(n):
    rng = np.random.default_rng(0)
    R = rng.uniform(0.2, 0.9, n)
    S = rng.uniform(-0.2, 0.2, n) * np.sqrt(1 - R * R)
    b = np.sqrt(1 - R * R - S * S)
    return R, S, b, rng.uniform(0.1, 2.0, n)


@pytest.mark.parametrize("theta", [0.0, 0.35])
def test_certificate_only_moments_equal_the_full_ones(theta):
    """The certificate's five expectations, from the reduced integrands, are the full ones."""
    n = 7
    R, S, b, k = _point(n)
    lo, hi, f = np.zeros(n), np.full(n, 0.8), np.full(n, 0.57)
    if theta == 0.0:
        S = np.zeros(n)
        b = np.sqrt(1 - R * R)
        nodes = nodes_theta0(lo, hi, f, R, b, k, Quadrature())
    else:
        nodes = nodes_theta_tensor(lo, hi, f, np.full(n, theta), R, S, b, k, Quadrature())
    full = moments(nodes, R, S, b, k)
    part = moments(nodes, R, S, b, k, certificate_only=True)
    for name in ("m2", "m1", "m1x1", "m1x2", "P"):
        np.testing.assert_allclose(getattr(part, name), getattr(full, name), rtol=1e-13,
                                   atol=1e-300, err_msg=name)
    assert np.isnan(part.q0).all()  # not computed: never silently zero


def _state(n_targets=3):
    G, dim = 1, 1
    T = np.array([[1.0, 2.0, 4.0][:n_targets]])
    return solver._MarchState(
        T=T, n_t=np.array([n_targets]), ptr=np.array([1]), la=np.log([1.0]),
        y=np.array([[1.0, 0.5]]), la_prev=np.log([0.5]), y_prev=np.array([[1.1, 0.6]]),
        h=np.array([0.5]), ys=np.full((G, n_targets, dim + 1), np.nan),
        conv=np.zeros((G, n_targets), bool), resid=np.full((G, n_targets), np.inf))


def test_march_predict_never_steps_past_the_target():
    st = _state()
    st.h[:] = 5.0
    lt, la_new, guess = solver._march_predict(st, np.array([0]), 1)
    assert la_new[0] == lt[0] == np.log(2.0)
    # secant in log coordinates through (log 0.5, y_prev) and (log 1, y), continued to log 2
    np.testing.assert_allclose(np.log(guess[0]), np.log([1.0, 0.5]) + (np.log([1.0, 0.5])
                                                                          - np.log([1.1, 0.6])))


def test_march_accept_records_a_reached_target_and_grows_the_step():
    st = _state()
    yn = np.array([[0.9, 0.45]])
    solver._march_accept(st, np.array([0]), np.log([2.0]), yn, np.array([1e-9]),
                         np.log([2.0]), max_log_step=0.6)
    assert st.ptr[0] == 2 and st.conv[0, 1] and st.h[0] == pytest.approx(0.6)
    np.testing.assert_array_equal(st.ys[0, 1], yn[0])
    np.testing.assert_array_equal(st.y_prev[0], [1.0, 0.5])


def test_march_reject_stops_a_stuck_curve_without_inventing_answers():
    st = _state()
    st.h[:] = 2.0 * solver._MIN_LOG_STEP  # one more cut by 3 is below the minimum
    yn = np.array([[0.7, 0.3]])
    solver._march_reject(st, np.array([0]), yn, np.array([0.1]))
    assert st.ptr[0] == st.n_t[0]
    assert not st.conv.any()  # the Newton result is kept for the certificate, not accepted
    np.testing.assert_array_equal(st.ys[0, 1], yn[0])
    assert np.isnan(st.ys[0, 2]).all()  # the targets it never reached stay NaN
