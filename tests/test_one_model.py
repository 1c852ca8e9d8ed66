"""One model description, one ``solve``, one ``simulate``, one result type per side."""

import dataclasses
import inspect
import math

import numpy as np
import pytest

from prunescale.errors import InputError
from prunescale.model import FIELDS, Data, Learner, Model, Selection
from prunescale.theory import TheoryResult, solve


def test_model_is_validated_hashable_and_printable():
    m = Model.from_fields(rule="hard", f=0.2, learner="ridge", lam=0.1, noise=0.05)
    assert m == Model(Selection("hard", 0.2), Learner("ridge", 0.1), Data(0.05))
    assert hash(m) == hash(Model.from_fields(**m.fields()))
    assert str(m) == "hard f=0.2 ridge lam=0.1 noise=0.05"
    assert m.replace(noise=0.1).data.noise == 0.1 and m.data.noise == 0.05
    assert set(m.fields()) == set(FIELDS)
    assert m.key() != m.replace(softness=0.5).key()
    with pytest.raises(InputError, match="reweight is for the regularized learners"):
        Model.from_fields(rule="hard", f=0.2, softness=0.5, reweight=True)
    with pytest.raises(InputError, match="lam is for the regularized learners"):
        Learner("max-margin", 0.1)
    with pytest.raises(InputError, match="learner ridge needs lam"):
        Learner("ridge")
    with pytest.raises(InputError, match="unknown model field 'eta'"):
        Model.from_fields(rule="hard", f=0.2, eta=0.1)
    with pytest.raises(InputError, match=r"noise must be in \[0, 0.5\]; got 0.7"):
        Data(0.7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.data.noise = 0.2  # type: ignore[misc]


def test_solve_and_simulate_take_the_same_model_arguments():
    names = ("rule", "f", "alpha_prune", "alpha_tot", "theta_deg", "learner", "lam", "noise",
             "softness", "metric", "reweight", "tol", "quad")
    from prunescale.sims import simulate

    ps, pm = inspect.signature(solve).parameters, inspect.signature(simulate).parameters
    for name in names[:-1]:
        assert name in ps and name in pm, name
    for p in (ps, pm):  # keyword-only after rule, f, alpha_prune
        assert [k for k, v in p.items() if v.kind != v.KEYWORD_ONLY] == ["rule", "f",
                                                                        "alpha_prune"]


def test_readme_check_values_from_the_one_api():
    r = solve(rule="random", f=1.0, alpha_prune=2.0, learner="ridge", lam=0.1)
    assert round(float(r.eps), 7) == 0.1955327 and bool(r.converged)
    r = solve(rule="random", f=1.0, alpha_prune=2.0, learner="logistic", lam=0.1)
    assert round(float(r.eps), 7) == 0.1796624 and bool(r.converged)


def test_a_model_object_and_keywords_give_the_same_points():
    m = Model.from_fields(rule="hard", f=0.3, learner="logistic", lam=0.01, noise=0.1)
    a = np.array([1.0, 3.0])
    r1 = solve(m, alpha_prune=a)
    r2 = solve(rule="hard", f=0.3, alpha_prune=a, learner="logistic", lam=0.01, noise=0.1)
    assert isinstance(r1, TheoryResult) and r1.learner == "logistic"
    np.testing.assert_allclose(r1.eps, r2.eps, rtol=0, atol=1e-13)
    with pytest.raises(InputError, match="noise is given twice"):
        solve(m, alpha_prune=1.0, noise=0.2)
    mm = solve(Model.from_fields(rule="hard", f=0.3), alpha_prune=a)
    assert np.all(np.isnan(mm.Q)) and np.all(np.isfinite(mm.kappa)) and np.all(np.isnan(mm.lam))
    assert np.all(np.isnan(r1.kappa)) and np.all(np.isfinite(r1.Q))


def test_theory_result_to_pandas_and_xarray_name_every_grid_axis():
    f = np.array([0.2, 0.5])[:, None]
    a = np.array([1.0, 2.0, 4.0])[None, :]
    r = solve("hard", f, a, theta_deg=10.0, learner="ridge", lam=0.1)
    ds = r.to_xarray()
    assert ds["eps"].dims == ("f", "alpha_prune")
    np.testing.assert_array_equal(ds["f"].values, [0.2, 0.5])
    np.testing.assert_array_equal(ds["alpha_tot"].values, np.asarray(r.alpha_tot))
    for k in ("converged", "eps_bound", "gap", "residual", "reason"):
        assert k in ds.data_vars
    assert ds.attrs["learner"] == "ridge"
    df = r.to_pandas()
    assert len(df) == 6 and list(df["alpha_prune"]) == [1.0, 2.0, 4.0] * 2
    np.testing.assert_array_equal(df["eps"].to_numpy(), np.ravel(r.eps))
    # an uncertified point keeps its reason in both
    bad = solve("hard", 0.5, 1.0, learner="ridge", lam=0.1, tol=1e-300)
    assert not bool(bad.converged) and bad.to_pandas()["reason"][0] != ""
    assert str(bad.to_xarray()["reason"].values) != ""


def test_simulate_every_learner_by_keywords():
    from prunescale.sims import SimResult, simulate

    r = simulate(rule="hard", f=0.5, alpha_prune=2.0, n=40, seeds=3, learner="ridge", lam=0.1)
    m = simulate(rule="hard", f=0.5, alpha_prune=2.0, n=40, seeds=3)
    for res in (r, m):
        assert isinstance(res, SimResult) and res.n_flagged == 0
        assert math.isfinite(res.eps_mean) and res.to_pandas().shape[0] == 3
        assert res.to_xarray()["eps"].dims == ("student",)
    assert np.all(np.isnan(r.kappa)) and np.all(np.isfinite(r.Q))
    assert np.all(np.isnan(m.Q)) and np.all(np.isfinite(m.kappa))
    assert r.model == Model.from_fields(rule="hard", f=0.5, learner="ridge", lam=0.1)
    s = r.summary()
    assert s["kappa_mean"] is None and s["Q_mean"] is not None and s["learner"] == "ridge"


def test_fss_reference_changes_with_every_model_field():
    """The theory attached to stored simulations is the whole stored model point: changing
    any field of :data:`prunescale.model.FIELDS` changes the reference (a field added to the
    model without a variant here fails this test)."""
    from prunescale.sims.fss import theory_eps

    base = {"rule": "hard", "f": 0.3, "alpha_prune": 2.0, "theta_deg": 10.0, "softness": 0.5,
            "metric": "abs", "reweight": False, "learner": "ridge", "lam": 0.1, "noise": 0.05}
    variants = {"rule": "easy", "f": 0.5, "theta_deg": 20.0, "softness": 1.0,
                "metric": "signed", "reweight": True, "learner": "logistic", "lam": 1.0,
                "noise": 0.2, "random_share": 0.4}
    # the power family's parameters vary around a power-policy point
    power = {**base, "rule": "power", "softness": 0.0, "power_exp": 1.0, "probe_scale": 2.0}
    power_variants = {"power_exp": -1.0, "probe_scale": 4.0}
    # the label channel varies around a max-margin point
    mm = {**base, "learner": "max-margin", "lam": None, "noise": 0.0, "softness": 0.0}
    mm_variants = {"labels": "probit:2"}
    # spiked inputs around the base point; the probe around a spiked point at theta 0 (the
    # prototype, well above its BBP transition, has its own angle); the prototype's sample
    variants["snr"] = 2.0
    spike = {**base, "theta_deg": 0.0, "snr": 3.0}
    spike_variants = {"probe": "prototype"}
    proto = {**spike, "probe": "prototype", "alpha_ssl": 20.0}
    proto_variants = {"alpha_ssl": 1.0}
    # a covariance spectrum around the base point; the teacher decay around a spectrum point
    variants["spectrum"] = "power:1:200"
    spec = {**base, "spectrum": "power:1:200"}
    spec_variants = {"teacher_decay": 3.0}
    assert (set(variants) | set(power_variants) | set(mm_variants) | set(spike_variants)
            | set(proto_variants) | set(spec_variants)) == set(FIELDS)
    for point, changes in ((base, variants), (power, power_variants), (mm, mm_variants),
                           (spike, spike_variants), (proto, proto_variants),
                           (spec, spec_variants)):
        ref, ok = theory_eps(point)
        assert ok and ref is not None
        for name, value in changes.items():
            eps, ok = theory_eps({**point, name: value})
            assert ok and abs(eps - ref) > 1e-4, (name, eps, ref)


def test_stored_configurations_carry_every_model_field():
    from prunescale.sims.store import CONFIG
    from prunescale.sims.sweep import Config

    assert set(FIELDS) <= set(CONFIG)
    m = Model.from_fields(rule="easy", f=0.4, softness=0.2, learner="hinge", lam=0.5,
                          noise=0.1, reweight=True)
    c = Config.of(m, alpha_prune=2.0, alpha_tot=5.0)
    assert c.model == m
    assert Config.of(Model.from_fields(rule="hard", f=0.5), 1.0, 2.0).lam == 0.0


def test_blas_threads_are_scoped_to_the_call():
    from threadpoolctl import threadpool_info

    from prunescale._threads import single_blas

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    inside = single_blas(blas_threads)()
    assert all(n == 1 for n in inside)
    assert blas_threads() == before
