"""The numpy normal-distribution functions of ``prunescale.theory._special`` against scipy.

The solver avoids importing scipy on the theta = 0 path (start-up cost), so its ``Phi`` must
match ``scipy.special.ndtr`` to float64 rounding. In the tails any implementation inherits the
rounding of its argument (``x / sqrt 2`` or ``x^2 / 2``): ``d log Phi(-|x|) ~ x^2`` times the
relative rounding, so two correct implementations may differ by ~``x^2`` ulps there and by a
few ulps in the centre; that is the tolerance (see docs/theory.md).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import special as sp

from prunescale.theory import _special

EPS = np.finfo(float).eps
X = np.concatenate([np.linspace(-37.0, 37.0, 200_001), [-1.0, -np.sqrt(2.0), 8.0 * np.sqrt(2.0)]])


def test_ndtr_matches_scipy_to_a_few_ulps():
    ref = sp.ndtr(X)
    rel = np.abs(_special.ndtr(X) - ref) / ref
    assert np.all(rel <= (X * X + 8.0) * EPS)
    central = np.abs(X) < 2.0
    assert rel[central].max() <= 8 * EPS


def test_ndtr_pdf_matches_scipy_within_exp_rounding():
    Phi, phi = _special.ndtr_pdf(X)
    ref = sp.ndtr(X)
    rel = np.abs(Phi - ref) / ref
    # ndtr_pdf rounds x^2 / 2 (x^2 / 2 ulps), scipy rounds z = x / sqrt 2 (x^2 ulps): the sum
    assert np.all(rel <= (1.5 * X * X + 8.0) * EPS)
    np.testing.assert_allclose(phi, np.exp(-0.5 * X * X) / np.sqrt(2 * np.pi), rtol=1e-15)


def test_special_values():
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -40.0, 40.0, -1e300])
    for Phi in (_special.ndtr(x), _special.ndtr_pdf(x)[0]):
        np.testing.assert_array_equal(Phi, [1.0, 0.0, np.nan, 0.5, 0.0, 1.0, 0.0])
    assert _special.ndtr(np.float64(0.3)).shape == ()
    assert _special.ndtr_pdf(0.3)[0].shape == ()


@pytest.mark.parametrize("p", [1e-300, 1e-17, 1e-3, 0.3, 0.5, 0.9, 1 - 1e-12])
def test_ndtri_matches_scipy(p):
    assert _special.ndtri(p) == pytest.approx(sp.ndtri(p), rel=1e-14, abs=1e-15)


def test_ndtri_edges():
    np.testing.assert_array_equal(_special.ndtri([0.0, 1.0, -0.1, 1.1, np.nan]),
                                  [-np.inf, np.inf, np.nan, np.nan, np.nan])


def test_theta0_solve_does_not_import_scipy():
    """Start-up budget of the CLI grid: the theta = 0 solve runs on numpy alone."""
    code = ("import sys; from prunescale.theory import solve; "
            "r = solve('hard', 0.3, alpha_prune=2.0); assert bool(r.converged), r.reason; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
