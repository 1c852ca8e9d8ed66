"""Simulations with a covariance spectrum (:mod:`prunescale.sims.spectrum`): the Householder map
of the isotropic draws, ``power:0:D`` reproducing the isotropic students, and the replica
theory with a spectrum (:func:`prunescale.theory.solve`) against the simulated students.

The theory-vs-simulation configurations were fixed before any was run: the mean test error of
the certified students must lie within 3 standard errors of the theory (the seeds' standard
error; no finite-size allowance). ``PRUNESCALE_SPECTRUM_REPORT=FILE`` appends each comparison
to ``FILE`` as a JSON line."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunescale import sims, theory
from prunescale.errors import InputError
from prunescale.sims import spectrum as sp
from prunescale.sims._x64 import float64
from prunescale.theory.spectrum import Spectrum


# --------------------------------------------------------------------------- the map

@float64
def _map_parts(spec, decay, seed=0):
    m = sp.SpectralMap.of(Spectrum(spec, decay))
    k = jax.random.split(jax.random.key(seed), 3)
    d = m.u.size
    T = jax.random.normal(k[0], (d,))
    T = T * jnp.sqrt(d) / jnp.linalg.norm(T)
    g = jax.random.normal(k[1], (5, d))
    w = jax.random.normal(k[2], (d,))
    return m, T, g, w


def test_householder_sends_the_teacher_to_u_and_keeps_the_fields():
    m, T, g, w = _map_parts("power:1.5:30", 2.0)
    with jax.enable_x64(True):
        h = m._reflector(T)
        t_hat = T / jnp.linalg.norm(T)
        assert np.allclose(t_hat - 2 * (t_hat @ h) * h, m.u, atol=1e-14)
        x = m.inputs(g, T)
        # the teacher field of the mapped inputs is the isotropic draw's T.g / sqrt(D)
        assert np.allclose(m.teacher_field(x), g @ T / np.sqrt(T.size), atol=1e-12)
        # w.x = w~_g . g: the student acts on the draw through its whitened vector
        assert np.allclose(x @ w, g @ m.whitened(w, T), atol=1e-12)
        R, _ = m.overlaps(w, T, jnp.zeros_like(T))
        wt = w * m.sqrt_lam
        assert float(R) == pytest.approx(float(wt @ m.u / jnp.linalg.norm(wt)), abs=1e-13)


def test_reflection_is_the_identity_when_the_teacher_is_u():
    m, _, g, _ = _map_parts("power:1:12", None)
    with jax.enable_x64(True):
        T = jnp.asarray(m.u) * jnp.sqrt(12.0)
        assert np.allclose(m.inputs(g, T), g * m.sqrt_lam, atol=1e-15)


def test_whitened_bound_is_unchanged_by_an_identity_spectrum_and_grows_otherwise():
    with jax.enable_x64(True):
        w = jnp.linspace(1.0, 2.0, 10)
        iso = sp.SpectralMap.of(Spectrum("power:0:10"))
        assert float(sp.whitened_eps_err(jnp.float64(1e-7), w, iso)) == pytest.approx(1e-7,
                                                                                    rel=1e-9)
        steep = sp.SpectralMap.of(Spectrum("power:2:10"))
        assert float(sp.whitened_eps_err(jnp.float64(1e-7), w, steep)) > 1e-7
        assert float(sp.whitened_eps_err(jnp.float64(1.0), w, steep)) == 1.0


def test_map_is_a_hashable_static_argument():
    a = sp.SpectralMap.of(Spectrum("power:1:20", 2.0))
    b = sp.SpectralMap.of(Spectrum("power:1:20", 2.0))
    c = sp.SpectralMap.of(Spectrum("power:1:20"))
    assert a == b and hash(a) == hash(b) and a != c and bool(a)


def test_at_dim_and_dimension_checks():
    assert sp.at_dim("power:1.5", 300) == "power:1.5:300"
    assert sp.at_dim("power:1.5:200", 300) == "power:1.5:200"
    assert sp.at_dim("", 300) == ""
    assert sp.check_dimension(None, 50) == 50 and sp.check_dimension(50, 50) == 50
    with pytest.raises(InputError, match="n = 40 differs from the spectrum's dimension D = 50"):
        sp.check_dimension(40, 50)
    with pytest.raises(InputError, match="GiB of memory per student"):
        sp.check_fits(5000, 4.0, available=2**30)
    sp.check_fits(50, 4.0, available=2**30)


# --------------------------------------------------------------------------- the simulator

@pytest.mark.parametrize("learner,kw", [("max-margin", {}), ("ridge", {"lam": 0.01})])
def test_identity_spectrum_reproduces_the_isotropic_students(learner, kw):
    common = dict(rule="hard", f=0.5, alpha_prune=2.0, theta_deg=30.0, seeds=3,
                  learner=learner, **kw)
    iso = sims.simulate(n=40, **common)
    spec = sims.simulate(spectrum="power:0:40", **common)
    assert not spec.flagged.any()
    assert np.allclose(spec.eps, iso.eps, rtol=0, atol=1e-10)
    assert np.allclose(spec.S, iso.S, rtol=0, atol=1e-9)
    assert spec.spectrum == "power:0:40" and spec.teacher_decay is None
    assert spec.n == 40 and spec.model.data.spectrum == "power:0:40"
    assert spec.summary()["spectrum"] == "power:0:40"


def test_n_must_equal_d_and_n_defaults_to_d():
    with pytest.raises(InputError, match="n = 30 differs from the spectrum's dimension D = 40"):
        sims.simulate("hard", 0.5, 2.0, n=30, seeds=1, spectrum="power:1:40")
    with pytest.raises(InputError, match="give n"):
        sims.simulate("hard", 0.5, 2.0, seeds=1)
    with pytest.raises(InputError, match="needs a spectrum"):
        sims.simulate("hard", 0.5, 2.0, n=30, seeds=1, teacher_decay=1.0)
    with pytest.raises(InputError, match="snr or spectrum"):
        sims.simulate("hard", 0.5, 2.0, seeds=1, snr=1.0, spectrum="power:1:40")
    with pytest.raises(InputError, match="GiB of memory per student"):
        sims.simulate("hard", 0.5, 2.0, seeds=1, spectrum="power:1:200000")
    from prunescale.model import Model

    model = Model.from_fields(rule="hard", f=0.5, spectrum="power:1:40")
    assert sims.plan(model, 40, 2.0, 4.0).n_kept == 80
    with pytest.raises(InputError, match="differs from the spectrum's dimension D = 40"):
        sims.plan(model, 30, 2.0, 4.0)


def _compare(spec, decay, rule, theta, learner, seeds, report=True):
    kw = {"lam": 0.01} if learner != "max-margin" else {}
    th = theory.solve(rule, 0.5, alpha_prune=2.0, theta_deg=theta, learner=learner,
                      spectrum=spec, teacher_decay=decay, **kw)
    assert bool(th.converged), th.reason
    r = sims.simulate(rule, 0.5, 2.0, theta_deg=theta, learner=learner, spectrum=spec,
                      teacher_decay=decay, seeds=seeds, progress=False, **kw)
    assert r.n_flagged == 0, (r.gap, r.eps_err)
    eps_th = float(th.eps)
    z = (r.eps_mean - eps_th) / r.eps_sem
    path = os.environ.get("PRUNESCALE_SPECTRUM_REPORT")
    if path and report:
        with open(path, "a") as fh:
            fh.write(json.dumps(dict(spectrum=spec, teacher_decay=decay, rule=rule,
                                     theta_deg=theta, learner=learner, seeds=seeds,
                                     eps_theory=eps_th, eps_mean=r.eps_mean,
                                     eps_sem=r.eps_sem, z=z, seconds=r.seconds)) + "\n")
    assert math.isfinite(z) and abs(z) < 3, (eps_th, r.eps_mean, r.eps_sem, z)


def test_theory_matches_simulation_small():
    _compare("power:1:200", 2.0, "hard", 30.0, "ridge", seeds=16)


#: (spectrum family, teacher decay) cycled over the (rule, theta, learner) grid
SPECTRA = [("1", None), ("1.5", 2.0), ("1", 2.0), ("1.5", None)]
RULES = [("random", 0.0), ("hard", 0.0), ("hard", 30.0), ("easy", 0.0), ("easy", 30.0)]
LEARNERS = ["max-margin", "ridge", "logistic", "hinge"]
GRID = [(SPECTRA[(i + j) % len(SPECTRA)], rule, theta, learner)
        for i, (rule, theta) in enumerate(RULES) for j, learner in enumerate(LEARNERS)]

#: the one configuration of the grid outside 3 standard errors when first run (z = -3.9):
#: the finite pool's kept set (order statistics, ``sims/prune.py``) biases ridge / keep-easy
#: low for isotropic inputs too (N = 400, 64 students: pool z = -2.1, direct z = +0.8), and
#: the same configuration in direct mode agrees (:func:`test_pool_bias_is_absent_in_direct_mode`)
POOL_BIASED = ((("1", None), "easy", 0.0, "ridge"),)


def _grid_params(grid):
    return [pytest.param(*g, marks=pytest.mark.xfail(
        strict=False, reason="finite-pool bias of keep-easy ridge, also isotropic"))
        if g in POOL_BIASED else g for g in grid]


@pytest.mark.slow
@pytest.mark.parametrize("family,rule,theta,learner", _grid_params(GRID))
def test_theory_matches_simulation_d400(family, rule, theta, learner):
    a, decay = family
    _compare(f"power:{a}:400", decay, rule, theta, learner, seeds=24)


@pytest.mark.slow
def test_pool_bias_is_absent_in_direct_mode():
    """The grid's keep-easy ridge point (:data:`POOL_BIASED`) drawn from the N -> infinity kept
    law (``mode="direct"``, 64 students; added after the pool-mode run missed by 3.9 se)."""
    kw = dict(learner="ridge", lam=0.01, spectrum="power:1:400")
    th = float(theory.solve("easy", 0.5, alpha_prune=2.0, **kw).eps)
    r = sims.simulate("easy", 0.5, 2.0, seeds=64, mode="direct", progress=False, **kw)
    assert r.n_flagged == 0
    z = (r.eps_mean - th) / r.eps_sem
    assert abs(z) < 3, (th, r.eps_mean, r.eps_sem)


@pytest.mark.slow
@pytest.mark.parametrize("family,rule,theta,learner", [
    (("1", None), "random", 0.0, "max-margin"), (("1.5", 2.0), "hard", 30.0, "ridge"),
    (("1", 2.0), "easy", 0.0, "logistic"), (("1.5", None), "hard", 0.0, "hinge")])
def test_theory_matches_simulation_d1000(family, rule, theta, learner):
    a, decay = family
    _compare(f"power:{a}:1000", decay, rule, theta, learner, seeds=16)


@pytest.mark.slow
@pytest.mark.parametrize("extra", [
    {"labels": "probit:2"}, {"softness": 0.5}, {"metric": "signed", "noise": 0.1},
    {"mode": "direct"}, {"mode": "materialize"}, {"rule": "power", "power_exp": 2.0},
    {"random_share": 0.3}])
@pytest.mark.parametrize("learner", ["max-margin", "ridge"])
def test_identity_spectrum_reproduces_every_sampler(extra, learner):
    """``power:0:D`` gives the isotropic students in every sampler, mode, policy and channel
    (the map is a rotation of the draw; max-margin with noise may be non-separable, so only
    the certified students are compared)."""
    extra = dict(extra)
    common = dict(rule=extra.pop("rule", "hard"), f=0.5, alpha_prune=2.0, theta_deg=30.0,
                  seeds=3, learner=learner, **({"lam": 0.01} if learner == "ridge" else {}),
                  **extra)
    if learner == "max-margin" and common.get("noise"):
        common["alpha_prune"] = 0.5
    iso = sims.simulate(n=40, **common)
    spec = sims.simulate(spectrum="power:0:40", **common)
    ok = ~iso.flagged & ~spec.flagged
    assert ok.any()
    assert np.allclose(spec.eps[ok], iso.eps[ok], rtol=0, atol=1e-10)


@pytest.mark.slow
def test_label_channel_sees_the_standardized_field():
    """Under a spectrum the channel is applied to ``t = u.g``: the simulated noisy error
    agrees with the theory's (hard, probit channel, ridge)."""
    spec = "power:1:400"
    kw = dict(learner="ridge", lam=0.01, labels="probit:3", spectrum=spec)
    th = theory.solve("hard", 0.5, alpha_prune=2.0, **kw)
    r = sims.simulate("hard", 0.5, 2.0, seeds=24, progress=False, **kw)
    z = (r.eps_mean - float(th.eps)) / r.eps_sem
    assert abs(z) < 3, (float(th.eps), r.eps_mean, r.eps_sem)
