"""Theory with a covariance spectrum (docs/spectrum.md): the isotropic identity, the spectrum
and teacher specs, bad input."""

import numpy as np
import pytest

from prunescale import theory
from prunescale.errors import InputError
from prunescale.model import Model
from prunescale.theory.spectrum import Spectrum, parse_spectrum

ALPHAS = np.array([0.5, 2.0, 8.0])
CASES = [("random", 1.0, 0.0), ("hard", 0.3, 0.0), ("easy", 0.5, 20.0), ("hard", 0.4, 35.0)]


@pytest.mark.parametrize("learner,lam", [("ridge", 0.1), ("logistic", 0.05), ("hinge", 0.1),
                                         ("max-margin", None)])
def test_isotropic_spectrum_equals_the_isotropic_engines(learner, lam):
    # power:0:D has lambda_k = 1: the spectral sums reduce to the closed forms, solved anew
    for rule, f, th in CASES:
        r0 = theory.solve(rule, f, alpha_tot=ALPHAS, theta_deg=th, learner=learner, lam=lam)
        r1 = theory.solve(rule, f, alpha_tot=ALPHAS, theta_deg=th, learner=learner, lam=lam,
                          spectrum="power:0:300", teacher_decay=1.5)
        assert r0.converged.all() and r1.converged.all(), (rule, r1.reason)
        np.testing.assert_allclose(r1.eps, r0.eps, rtol=0, atol=1e-10)
        np.testing.assert_allclose(r1.R, r0.R, rtol=0, atol=1e-10)
        if learner == "max-margin":
            np.testing.assert_allclose(r1.kappa, r0.kappa, rtol=1e-9)
        else:
            np.testing.assert_allclose(r1.Q, r0.Q, rtol=1e-9)
        assert r1.spectrum == "power:0:300" and r1.teacher_decay == 1.5


def test_isotropic_spectrum_with_a_policy_and_noise():
    kw = dict(rule="hard", f=0.4, alpha_prune=ALPHAS, theta_deg=10.0, learner="ridge",
              lam=0.1, softness=0.3, noise=0.1)
    r0 = theory.solve(**kw)
    r1 = theory.solve(**kw, spectrum="power:0:50")
    np.testing.assert_allclose(r1.eps, r0.eps, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r1.eps_noisy, r0.eps_noisy, rtol=0, atol=1e-10)


def test_file_spectrum_equals_power_spectrum(tmp_path):
    lam = Spectrum("power:1.2:400").eigenvalues
    rng = np.random.default_rng(0)
    np.save(tmp_path / "ev.npy", rng.permutation(lam) * 3.7)  # order and scale are irrelevant
    np.savetxt(tmp_path / "ev.txt", lam)
    kw = dict(alpha_prune=np.array([0.3, 3.0]), learner="ridge", lam=0.01, teacher_decay=2.0)
    r0 = theory.solve("hard", 0.5, spectrum="power:1.2:400", **kw)
    for name in ("ev.npy", "ev.txt"):
        r1 = theory.solve("hard", 0.5, spectrum=f"file:{tmp_path / name}", **kw)
        np.testing.assert_allclose(r1.eps, r0.eps, rtol=1e-12)


def test_default_teacher_is_isotropic_in_input_space():
    sp = Spectrum("power:1.5:100")
    np.testing.assert_allclose(sp.teacher_share, sp.eigenvalues / sp.eigenvalues.sum())
    np.testing.assert_allclose(Spectrum("power:1.5:100", 1.5).teacher_share, sp.teacher_share)
    assert abs(sp.eigenvalues.mean() - 1) < 1e-14
    assert abs(sp.probe_share.sum() - 1) < 1e-12
    r0 = theory.solve("random", 1.0, 2.0, learner="ridge", lam=0.1, spectrum="power:1.5:100")
    r1 = theory.solve("random", 1.0, 2.0, learner="ridge", lam=0.1, spectrum="power:1.5:100",
                      teacher_decay=1.5)
    assert float(r0.eps) == pytest.approx(float(r1.eps), abs=1e-12)


def test_model_fields_and_key():
    m = Model.from_fields(rule="hard", f=0.3, spectrum="power:1:200", teacher_decay=2)
    assert m.data.spectrum == "power:1:200" and m.data.teacher_decay == 2.0
    assert '"spectrum":"power:1:200"' in m.key()
    assert "spectrum" not in Model.from_fields(rule="hard", f=0.3).key()
    r = theory.solve(m, alpha_prune=2.0)
    assert r.converged.all() and r.records()[0]["spectrum"] == "power:1:200"


@pytest.mark.parametrize("bad,msg", [
    (dict(spectrum="power:-1:10"), "exponent A"),
    (dict(spectrum="power:inf:10"), "exponent A"),
    (dict(spectrum="power:1:1"), "dimension D"),
    (dict(spectrum="power:1:2.5"), "dimension D"),
    (dict(spectrum="pow:1:3"), "power:A:D"),
    (dict(spectrum="power:1"), "power:A:D"),
    (dict(spectrum="file:/no/such/file.npy"), "does not exist"),
    (dict(teacher_decay=2.0), "needs a spectrum"),
    (dict(spectrum="power:1:10", snr=1.0), "not both"),
    (dict(spectrum="power:1:10", teacher_decay=float("nan")), "teacher_decay"),
    (dict(spectrum="power:1:10", probe="prototype"), "prototype"),
])
def test_bad_spectrum_input_is_one_line(bad, msg):
    with pytest.raises(InputError, match=msg) as e:
        theory.solve("hard", 0.5, alpha_prune=1.0, **bad)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("content,msg", [(np.array([]), "empty"),
                                         (np.array([1.0, np.nan]), "non-finite"),
                                         (np.array([1.0, 0.0, 2.0]), "<= 0"),
                                         (np.array([3.0]), "D must be")])
def test_bad_spectrum_file(tmp_path, content, msg):
    p = tmp_path / "ev.npy"
    np.save(p, content)
    with pytest.raises(InputError, match=msg):
        parse_spectrum(f"file:{p}")


@pytest.mark.parametrize("learner,lam", [("ridge", 0.1), ("max-margin", None)])
def test_isotropic_spectrum_with_a_label_channel(learner, lam):
    kw = dict(rule="hard", f=0.5, alpha_prune=np.array([0.5, 2.0]), learner=learner, lam=lam,
              labels="probit:4")
    r0 = theory.solve(**kw)
    r1 = theory.solve(**kw, spectrum="power:0:80")
    assert r0.converged.all() and r1.converged.all()
    np.testing.assert_allclose(r1.eps, r0.eps, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r1.eps_noisy, r0.eps_noisy, rtol=0, atol=1e-10)
    assert r1.labels == r0.labels == "probit:4"
