"""Figure scripts in smoke mode: files written, the science they show, and the cache."""

import json

import numpy as np
import pytest

from prunescale.figures import (_store, fig_frontier, fig_imperfect, fig_learning_curves, fig_parity,
                     fig_phase_diagram)
from prunescale.figures.run import check_out

SMOKE = {
    fig_learning_curves: lambda q: {"f": [0.2], "alpha_theory": [0.5, 1.0, 3.0, 6.0],
                                    "alpha_sim": [3.0], "n": 30, "seeds": 3, "seed": 0},
    fig_frontier: lambda q: {"alpha": np.round(np.geomspace(0.5, 8.0, 12), 6).tolist(),
                             "f_floor": 0.01, "n_f": 9, "f_curves": [1.0, 0.1]},
    fig_phase_diagram: lambda q: {"alpha_tot": np.geomspace(0.5, 200.0, 8).tolist(),
                                  "f": [0.1, 0.3, 0.6], "theta_deg": 0.0},
    fig_imperfect: lambda q: {"theta_deg": [0.0, 20.0], "alpha": [1.0, 1.7, 2.5, 4.0, 10.0, 40.0],
                              "f_floor": 0.02, "n_f": 7},
}


@pytest.fixture
def smoke(monkeypatch):
    for mod, cfg in SMOKE.items():
        monkeypatch.setattr(mod, "config", cfg)
    monkeypatch.setattr(fig_parity, "config", lambda q: {
        "n": 30, "seeds": 3, "seed": 0, "base_f": [0.2], "base_alpha": [3.0],
        "extra": [{"rule": "hard", "f": 0.3, "alpha_prune": 2.0, "theta_deg": 20.0}]})


@pytest.mark.parametrize("mod", [fig_learning_curves, fig_frontier, fig_phase_diagram,
                                 fig_imperfect, fig_parity])
def test_figure_writes_files(mod, smoke, tmp_path):
    res = mod.main(quick=True, out=tmp_path)
    for p in res["paths"]:
        assert p.exists() and p.stat().st_size > 1000
    csv = tmp_path / f"{mod.NAME}.csv"
    text = csv.read_text().splitlines()
    assert any(line.startswith("# prunescale_version:") for line in text)
    header = [line for line in text if not line.startswith("#")][0]
    assert len([line for line in text if not line.startswith("#")]) > 1 and "," in header
    # failure is visible: the counts are in every CSV and in the result
    for key in ("n_uncertified", "n_flagged", "theory_converged"):
        assert any(line.startswith(f"# {key}:") for line in text), key
        assert key in res
    if mod is fig_frontier:  # every plotted line is in the CSV
        for f in SMOKE[fig_frontier](True)["f_curves"]:
            assert f"eps_hard_f{f:g}" in header.split(",")
    if mod is fig_learning_curves:
        assert {"n_flagged", "max_gap", "theory_converged"} <= set(header.split(","))
    if mod is fig_imperfect:  # f_min(theta) says whether it sits at the edge of the search
        assert any(line.startswith("# f_min_at_search_edge:") for line in text)


def test_phase_diagram_easy_wins_small_pools_hard_wins_large(smoke, tmp_path):
    d = fig_phase_diagram.main(quick=True, out=tmp_path)["data"]
    lr = d["log_ratio"]  # log10(eps_hard / eps_easy): > 0 where keep-easy wins
    assert np.all(lr[:, 0] > 0) and np.all(lr[:, -1] < 0)
    assert np.all(np.isfinite(d["boundary"]))


def test_frontier_perfect_metric_beats_power_laws_imperfect_does_not(smoke, tmp_path):
    res = fig_imperfect.main(quick=True, out=tmp_path)
    a = np.array(SMOKE[fig_imperfect](True)["alpha"])

    def exponents(e):
        return -np.diff(np.log(e)) / np.diff(np.log(a))

    perfect = exponents(res["frontiers"][0.0]["eps"])
    imperfect = exponents(res["frontiers"][20.0]["eps"])
    # theta = 0: somewhere the frontier falls far faster than any power law fitted to the
    # unpruned curve (exponent ~1) or to the imperfect frontier; theta = 20: never much
    # faster than alpha^-2, and back to ~alpha^-1 at the largest budgets
    assert perfect.max() > 4 and imperfect.max() < 2.5 and imperfect[-1] < 1.3
    # the optimal fraction of the imperfect metric stays well above the search floor, while
    # the perfect metric's drops to the floor as soon as the budget passes alpha ~ 2
    assert res["f_min"][20.0][0] > 3 * 0.02 and res["f_min"][0.0][0] == pytest.approx(0.02)


def test_parity_within_standard_errors(smoke, tmp_path):
    res = fig_parity.main(quick=True, out=tmp_path)
    sim = res["sim"]
    assert (sim["n_flagged"] == 0).all() and (sim["max_gap"] <= 1e-6).all()
    # 3 students at N = 30: finite-size bias of order 1/N on top of the noise
    assert np.all(np.abs(sim["eps_mean"] - sim["eps_theory"])
                  <= 4 * sim["eps_sem"] + 0.05 * sim["eps_theory"] + 0.01)


def test_cache_returns_identical_data_and_recomputes_on_change(tmp_path):
    calls = []

    def compute(v=1.0):
        calls.append(v)
        return {"x": np.arange(3) * v}

    a = _store.cached(tmp_path, "t", {"p": 1}, compute)
    b = _store.cached(tmp_path, "t", {"p": 1}, compute)
    assert calls == [1.0] and np.array_equal(a["x"], b["x"])
    c = _store.cached(tmp_path, "t", {"p": 2}, lambda: compute(2.0))
    assert calls == [1.0, 2.0] and np.array_equal(c["x"], [0, 2, 4])
    # a torn or foreign file under the same name is recomputed, not misread
    (path,) = [p for p in tmp_path.glob("t-*.npz") if _store.config_key({"p": 1}) in p.name]
    path.write_bytes(b"torn")
    d = _store.cached(tmp_path, "t", {"p": 1}, compute)
    assert calls == [1.0, 2.0, 1.0] and np.array_equal(d["x"], a["x"])
    assert not list(tmp_path.glob(".*.tmp"))


def test_file_of_another_version_is_recomputed(tmp_path, monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3)}

    monkeypatch.setattr(_store, "__version__", "0.0.0-old")
    _store.cached(tmp_path, "t", {"p": 1}, compute)
    monkeypatch.undo()
    _store.cached(tmp_path, "t", {"p": 1}, compute)
    assert len(calls) == 2
    # and a file whose name matches but whose recorded configuration does not is not misread
    (path,) = [p for p in tmp_path.glob("t-*.npz") if _store.config_key({"p": 1}) in p.name]
    np.savez(path, __config__=np.asarray('{"p": 2, "version": "0.0.0-old"}'), x=np.zeros(3))
    out = _store.cached(tmp_path, "t", {"p": 1}, compute)
    assert len(calls) == 3 and np.array_equal(out["x"], np.arange(3))


def test_figure_rerun_uses_cache(smoke, tmp_path, monkeypatch):
    first = fig_phase_diagram.main(quick=True, out=tmp_path)
    png = first["paths"][0].stat().st_mtime_ns
    from prunescale.figures import _plot
    from prunescale.theory import curves as theory_curves

    def boom(*a, **k):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(theory_curves, "phase_diagram", boom)
    monkeypatch.setattr(_plot, "save", boom)
    again = fig_phase_diagram.main(quick=True, out=tmp_path)  # no solve, no redraw
    assert again["paths"][0].stat().st_mtime_ns == png
    assert np.array_equal(again["data"]["log_ratio"], first["data"]["log_ratio"],
                          equal_nan=True)


def test_table_records_configuration(tmp_path):
    _store.write_table(tmp_path / "t.csv", {"a": [1.0, 2.0], "b": ["x", "y"]}, {"seed": 3})
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert "# seed: 3" in lines and lines[-2:] == ["1.0,x", "2.0,y"]
    assert json.loads(lines[lines.index("# seed: 3")].split(": ", 1)[1]) == 3


def test_bad_out_is_a_one_line_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        check_out(f)


def test_uncertified_points_are_marked_on_the_plot(smoke, tmp_path, monkeypatch):
    from prunescale.figures import _plot

    fig, (ax,) = _plot.figure(1, 1)
    assert _plot.mark_uncertified(ax, [1.0, 2.0, 3.0], [0.1, np.nan, 0.3]) == 1
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [2.0] and line.get_label() == "not certified"
    assert _plot.mark_uncertified(ax, [1.0], [0.1]) == 0 and len(ax.get_lines()) == 1

    real = fig_frontier.frontier_data

    def with_a_failure(cache, c):
        fr = dict(real(cache, c))
        fr["eps"] = fr["eps"].copy()
        fr["eps"][3] = np.nan
        return fr

    marked = []
    monkeypatch.setattr(fig_frontier, "frontier_data", with_a_failure)
    monkeypatch.setattr(_plot, "mark_uncertified",
                        lambda ax, x, y, *a: marked.append(int((~np.isfinite(y)).sum())))
    res = fig_frontier.main(quick=True, out=tmp_path)
    assert 1 in marked and not res["theory_converged"]


def test_parity_z_is_nan_without_certified_theory_and_the_title_says_so(smoke, tmp_path,
                                                                         monkeypatch):
    from prunescale.figures import _plot

    real = fig_parity.sim_points

    def one_failure(cache, configs, progress=None, **common):
        cols = {k: np.array(v) for k, v in real(cache, configs, progress, **common).items()}
        if len(configs) == 1:  # the extra point: theory not certified, one student flagged
            cols["theory_converged"] = np.array([False])
            cols["eps_theory"] = np.array([np.nan])
            cols["n_flagged"] = np.array([1])
        return cols

    drawn = []
    monkeypatch.setattr(fig_parity, "sim_points", one_failure)
    monkeypatch.setattr(_plot, "render", lambda out, name, c, draw: drawn.append(draw()) or [])
    res = fig_parity.main(quick=True, out=tmp_path)
    assert np.isnan(res["z"][-1]) and np.isfinite(res["z"][:-1]).all()
    assert res["n_uncertified"] == 1 and res["n_flagged"] == 1
    title = drawn[0].axes[0].get_title()
    assert "1 without certified theory" in title and "1 students flagged" in title
    text = (tmp_path / f"{fig_parity.NAME}.csv").read_text()
    assert "# n_uncertified: 1" in text and "# n_flagged: 1" in text
