"""Spiked inputs and the prototype probe in the simulators (:mod:`prunescale.sims.spiked`)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prunescale import sims
from prunescale.errors import InputError
from prunescale.sims import spiked

# students of the isotropic simulators before the spiked model existed (same seeds, keys and
# code path: at snr = 0 nothing may change)
REFERENCE = {
    "max-margin": (dict(),
                   [0.1448667666848704, 0.13314861759780278, 0.14706180685703757]),
    "ridge": (dict(learner="ridge", lam=0.1),
              [0.11675343703477138, 0.11628930131721579, 0.1140542835994111]),
    "ridge-direct": (dict(learner="ridge", lam=0.1, mode="direct", rule="easy",
                          theta_deg=20.0),
                     [0.19340077320092125, 0.19524754440628855, 0.17033377209914996]),
    "max-margin-signed": (dict(metric="signed"),
                          [0.1431429370772053, 0.14602447194227616, 0.14224742657835251]),
}


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_isotropic_fixed_probe_students_unchanged(case):
    extra, eps = REFERENCE[case]
    kw = dict(rule="hard", f=0.5, alpha_tot=4.0, n=40, seeds=3, theta_deg=10.0,
              progress=False)
    kw.update(extra)
    r = sims.simulate(**kw, snr=0.0, probe="fixed")
    # ridge: a linear solve (to rounding); max-margin: interior-point solutions, certified to
    # a relative gap of 1e-7, agree to ~1e-9 across processors and padding
    tol = 1e-12 if extra.get("learner") == "ridge" else 1e-9
    np.testing.assert_allclose(r.eps, eps, rtol=0, atol=tol)
    assert r.snr == 0.0 and r.probe == "fixed" and r.alpha_ssl is None
    np.testing.assert_array_equal(r.probe_deg, kw["theta_deg"])


def _bbp_deg(a, s):
    """``cos^2 = (1 - 1/(A S^2)) / (1 + 1/(A S))`` above ``A S^2 = 1`` (computed inline)."""
    if a * s * s <= 1:
        return 90.0
    return math.degrees(math.acos(math.sqrt((1 - 1 / (a * s * s)) / (1 + 1 / (a * s)))))


def test_error_is_arccos_of_the_whitened_correlation():
    n, s = 5, 3.0
    c = spiked.spike_coefficient(s)
    T = jnp.asarray([math.sqrt(n), 0.0, 0.0, 0.0, 0.0])
    T2 = jnp.asarray([0.0, math.sqrt(n), 0.0, 0.0, 0.0])
    # the teacher itself: no error
    R, S = spiked.whitened_overlaps(T, T, T2, c)
    assert float(R) == pytest.approx(1.0, abs=1e-15) and float(S) == pytest.approx(0.0)
    # w = a u + b e: w~ = a sqrt(1 + S) u + b e
    a, b = 0.6, 0.8
    w = jnp.asarray([a, b, 0.0, 0.0, 0.0])
    R, _ = spiked.whitened_overlaps(w, T, T2, c)
    rho = a * math.sqrt(1 + s) / math.hypot(a * math.sqrt(1 + s), b)
    assert float(R) == pytest.approx(rho, rel=1e-14)
    # Monte Carlo: disagreement of sign(w.x) and sign(u.x) on spiked inputs
    rng = np.random.default_rng(0)
    g = rng.standard_normal((400_000, n))
    x = np.asarray(spiked.spike(jnp.asarray(g), T, c))
    assert np.var(x[:, 0]) == pytest.approx(1 + s, rel=0.01)
    err = np.mean(np.sign(x @ np.asarray(w)) != np.sign(x[:, 0]))
    assert err == pytest.approx(math.acos(rho) / math.pi, abs=3e-3)  # 4 sd of 400k draws


def test_fixed_probe_effective_angle_and_spiked_kept_inputs():
    th = math.radians(30.0)
    assert spiked.effective_theta(th, 0.0) == th
    assert math.tan(spiked.effective_theta(th, 3.0)) == pytest.approx(math.tan(th) / 2.0)
    # the unpadded sampler's kept inputs (random rule, f = 1: the pool) have the spiked law
    p = sims.Pruning("random", 1.0, 0.0)
    teacher, ex = sims.sample_kept(jax.random.key(1), p, 10, 4000, "pool", spike_c=1.0)
    t = np.asarray(ex.x @ teacher.T) / math.sqrt(10)
    assert np.var(t) == pytest.approx(4.0, rel=0.08)
    np.testing.assert_array_equal(np.sign(t), np.asarray(ex.y))
    r = sims.simulate(rule="hard", f=0.5, alpha_tot=4.0, n=40, seeds=2, theta_deg=30.0,
                      snr=3.0, learner="ridge", lam=0.1, progress=False)
    np.testing.assert_array_equal(r.probe_deg, 30.0)
    assert r.snr == 3.0 and not r.flagged.any()
    assert r.model.data.snr == 3.0
    assert r.summary()["snr"] == 3.0 and list(r.to_pandas()["snr"]) == [3.0, 3.0]


@pytest.mark.parametrize("n,snr", [(400, 4.0), (400, 1.0)])
def test_prototype_angle_approaches_the_bbp_limit(n, snr):
    """The measured angle against the ``N -> inf`` BBP angle at ``alpha_ssl = 4``: the
    per-student spread is ``O(N^-1/2)`` (measured sd 0.7 deg at S = 4, 2.2 deg at S = 1 at
    N = 400) and the bias ``O(1/N)``, so the mean of 8 students must be within 5 of its
    standard errors plus 0.5 deg."""
    r = sims.simulate(rule="hard", f=0.5, alpha_tot=4.0, n=n, seeds=8, learner="ridge",
                      lam=0.1, snr=snr, probe="prototype", progress=False)
    want = _bbp_deg(4.0, snr)
    got = r.probe_deg
    sem = got.std(ddof=1) / math.sqrt(got.size)
    assert abs(got.mean() - want) < 5 * sem + 0.5, (got, want)
    assert r.probe_deg_mean == pytest.approx(got.mean())
    assert r.probe == "prototype" and r.prototype_method == "eigen"
    assert r.summary()["prototype_source"] == "independent" and not r.flagged.any()


def test_prototype_below_the_transition_is_nearly_orthogonal():
    # A S^2 = 0.36 < 1: v is a bulk eigenvector; its overlap with u vanishes as N grows
    # (measured mean 82 deg at N = 400)
    r = sims.simulate(rule="hard", f=0.5, alpha_tot=4.0, n=400, seeds=4, learner="ridge",
                      lam=0.1, snr=0.3, probe="prototype", progress=False)
    assert r.probe_deg.mean() > 70.0


def test_kmeans_prototype_and_the_pool_variant():
    kw = dict(rule="hard", f=0.5, alpha_tot=4.0, n=100, seeds=2, snr=16.0,
              probe="prototype", progress=False)
    eig = sims.simulate(**kw, learner="ridge", lam=0.1)
    km = sims.simulate(**kw, learner="ridge", lam=0.1, prototype_method="kmeans")
    assert km.prototype_method == "kmeans" and np.all(np.isfinite(km.probe_deg))
    # at high SNR both point along the spike (BBP: 7.4 deg; 2-means on x/|x| a little wider)
    assert np.all(np.abs(km.probe_deg - eig.probe_deg) < 5.0), (km.probe_deg, eig.probe_deg)
    for learner in ("max-margin", "ridge"):
        extra = {} if learner == "max-margin" else dict(lam=0.1)
        r = sims.simulate(**kw, learner=learner, prototype_source="pool", **extra)
        assert r.prototype_source == "pool" and not r.flagged.any()
        assert np.all(r.probe_deg < 15.0) and np.all(r.eps < 0.5)


def test_prototype_refusals_are_one_line():
    kw = dict(rule="hard", f=0.5, alpha_tot=4.0, n=40, seeds=1, snr=4.0, probe="prototype",
              progress=False)
    cases = [dict(metric="signed"), dict(mode="direct"), dict(softness=0.5),
             dict(prototype_source="pool", alpha_ssl=2.0), dict(prototype_method="pca"),
             dict(alpha_ssl=1e6, n=400)]
    for extra in cases:
        with pytest.raises(InputError) as exc:
            sims.simulate(**{**kw, **extra})
        assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match="alpha_ssl"):
        sims.simulate(**{**kw, "alpha_ssl": 1e6, "n": 400, "learner": "ridge", "lam": 0.1})
    with pytest.raises(InputError, match="prototype probe"):
        sims.simulate(rule="hard", f=0.5, alpha_tot=4.0, n=40, seeds=1,
                      prototype_method="kmeans")


def test_sweep_config_of_a_spiked_model_runs_and_stores(tmp_path):
    pytest.importorskip("pyarrow")
    from prunescale.sims import store, sweep

    cfg = sweep.Config(rule="hard", f=0.5, alpha_prune=2.0, alpha_tot=4.0, snr=4.0,
                       probe="prototype", alpha_ssl=2.0, learner="ridge", lam=0.1)
    assert cfg.model.selection.alpha_ssl == 2.0 and cfg.model.data.snr == 4.0
    iso = sweep.Config(rule="hard", f=0.5, alpha_prune=2.0, alpha_tot=4.0)
    assert len(iso.ident()) < len(cfg.ident())
    rep = sweep.run(sweep.plan([cfg], [20], 2, 0), out=tmp_path, in_process=True,
                    progress=False)
    assert not rep.failed
    df = store.load(tmp_path)
    assert list(df["snr"]) == [4.0, 4.0] and set(df["probe"]) == {"prototype"}
    ref = sims.simulate(cfg.model, alpha_tot=4.0, n=20, seeds=2, progress=False)
    np.testing.assert_allclose(df["eps"], ref.eps, rtol=1e-10)
