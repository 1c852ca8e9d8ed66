"""Figure 7 (which selection wins) in smoke mode, and its winner logic."""

import numpy as np
import pytest

from prunescale.figures import fig_selection as F


def test_winner_claims_nothing_where_a_policy_is_not_certified():
    eps = np.array([[0.3, 0.2, np.nan], [0.1, 0.25, 0.4], [0.2, 0.3, 0.1]])
    w = F.winner(eps)
    assert list(w["best"]) == [1, 0, -1]  # axis 0: policies; columns: grid points
    np.testing.assert_allclose(w["margin"][:2], [np.log10(0.2 / 0.1), np.log10(0.25 / 0.2)])
    assert np.isnan(w["margin"][2])


# the simulated markers of (d) (4 JAX-compiled student programs) only in the slow run; the
# students of selection policies against the theory: tests/test_selection_sims.py
@pytest.mark.parametrize("rw_alpha_sim", [[], pytest.param([20.0], marks=pytest.mark.slow)],
                         ids=["theory", "markers"])
def test_figure_smoke(tmp_path, monkeypatch, rw_alpha_sim):
    monkeypatch.setattr(F, "config", lambda q: {
        "learner": "logistic", "lam": 0.01, "f": 0.3, "alpha_tot": [2.0, 30.0],
        "noise": [0.0, 0.3], "cut_alpha_tot": 30.0, "softness": 0.2, "rw_noise": 0.1,
        "rw_alpha_tot": [20.0], "rw_alpha_sim": rw_alpha_sim, "n": 60, "seeds": 3, "seed": 0})
    res = F.main(quick=True, out=tmp_path)
    for p in res["paths"]:
        assert p.exists() and p.stat().st_size > 1000
    text = (tmp_path / f"{F.NAME}.csv").read_text()
    assert "# winner_share:" in text and "# n_uncertified: 0" in text
    eps = res["grid"]["eps"]  # [policy, noise, alpha_tot]
    assert np.isfinite(eps).all() and res["n_flagged"] == 0
    hard_signed = F.POLICIES.index(("hard", "signed"))
    easy_signed = F.POLICIES.index(("easy", "signed"))
    # no noise: the label-aware metric is the label-free one
    np.testing.assert_allclose(eps[hard_signed, 0], eps[F.POLICIES.index(("hard", "abs")), 0],
                               atol=1e-9)
    # with noise 0.3, keeping the smallest y p keeps the flipped labels: eps > 1/2, while
    # keeping the largest y p discards them and wins on the large pool
    assert eps[hard_signed, 1, 1] > 0.5
    assert res["grid"]["best"][1, 1] == easy_signed
    assert len(res["sim"]) == 4 * len(rw_alpha_sim)
    assert all(s["theory_converged"] for s in res["sim"])
