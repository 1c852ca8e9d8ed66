"""Certification sweep (slow): random points over the whole domain, every certified one checked.

The figure of merit is *zero unflagged wrong answers*: no point that :func:`theory.solve` marks
``converged`` may differ from an independent method by more than ``TOL = 1e-6`` in ``eps``
(see ``benchmarks/bench_certification_sweep.py`` for the methods; the benchmark runs thousands
of points).
"""

import importlib.util
import pathlib

import numpy as np
import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_certification_sweep.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_certification_sweep", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_certification_sweep_has_no_unflagged_wrong_answer():
    bench = _bench()
    pts = bench.sample_points(600, seed=2024)
    rep = bench.run_sweep(pts, n_ref=24, seed=2024)
    assert rep["points"] == 600
    assert rep["converged_with_nan"] == 0 and rep["eps_out_of_range"] == 0
    # every converged point was checked by at least the refinement
    assert rep["checked_refined"] >= 0.95 * rep["converged"]
    assert rep["checked_tensor"] > 100 and rep["checked_reference"] == 24
    assert rep["disagreements"] == 0, rep["disagreement_points"]
    assert rep["tol"] == 1e-6
    # and the solver certifies nearly all of the domain
    assert rep["converged"] >= 0.98 * rep["points"], rep["flagged_by_reason"]


@pytest.mark.slow
def test_sweep_samples_the_whole_domain():
    bench = _bench()
    pts = bench.sample_points(2000, seed=1)
    assert set(pts["rule"]) == {"hard", "easy", "random"}
    assert pts["f"].min() >= 0.005 and pts["f"].max() <= 1.0
    assert pts["f"].min() < 0.006 and pts["f"].max() > 0.9
    assert pts["alpha_prune"].min() < 0.03 and pts["alpha_prune"].max() > 150
    assert 0.2 < np.mean(pts["theta_deg"] == 0) < 0.3 and pts["theta_deg"].max() < 80
