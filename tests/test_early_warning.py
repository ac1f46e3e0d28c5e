"""Early warning (measures.systemic.early_warning, stage early_warning): AUC, lead time, concordance."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from conftest import assert_not_estimable, repo_params, run_stage

from measures.core.config import ConfigError
from measures.core.status import NotEstimable
from measures.systemic.early_warning import (
    EarlyWarningConfig, auc_null_sd, bank_means, causal_threshold, concordance, early_warning, episode_table,
    horizon_labels, lead_times, roc_auc, system_series,
)
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, write_parquet

CALENDAR = pd.bdate_range("2001-01-01", periods=2000)
STARTS = (400, 900, 1400)  # calendar positions of the planted onsets
LENGTH = 40  # trading days per episode
K = 20  # the planted series rises K trading days before each onset


def _episodes(starts=STARTS, length=LENGTH) -> pd.DataFrame:
    return pd.DataFrame({"name": [f"ep{k}" for k in range(len(starts))], "start": CALENDAR[list(starts)],
                         "end": CALENDAR[[s + length - 1 for s in starts]]})


def _planted(k: int = K, seed: int = 1) -> pd.Series:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=len(CALENDAR))
    for s in STARTS:
        x[s - k:s] += 10.0
    return pd.Series(x, index=CALENDAR)


def test_planted_series_warns_with_auc_one_and_lead_k():
    config = EarlyWarningConfig(horizons=(K, 60))
    episodes = episode_table(_episodes(), CALENDAR)
    result = early_warning({"planted": _planted()}, CALENDAR, episodes, config)
    row = result.table.set_index("horizon").loc[K]
    assert row["auc"] == 1.0 and row["n_pos"] == K * len(STARTS)
    # h = 60: a third of the positive dates are planted (rank first), two thirds noise (AUC 1/2): 2/3
    assert result.table.set_index("horizon").loc[60, "auc"] == pytest.approx(2 / 3, abs=0.05)
    _assert_leads(result.leads)


def _assert_leads(leads):
    """Lead K, or a day or two more when the noise just before the planted rise is above its 0.9
    quantile (probability 0.1 per day); the signal date is the first day of that run."""
    assert (leads["status"] == "ok").all() and leads["lead_days"].between(K, K + 2).all()
    assert (leads["lead_days"] == K).sum() >= 2
    assert list(leads["signal_date"]) == list(CALENDAR[[s - int(d) for s, d in zip(STARTS, leads["lead_days"])]])


def test_noise_series_auc_is_one_half_within_sampling_error():
    config = EarlyWarningConfig()
    episodes = episode_table(_episodes(), CALENDAR)
    noise = pd.Series(np.random.default_rng(7).normal(size=len(CALENDAR)), index=CALENDAR)
    table = early_warning({"noise": noise}, CALENDAR, episodes, config).table
    for _, row in table.iterrows():
        assert abs(row["auc"] - 0.5) < 3 * row["auc_null_sd"]
        assert row["auc_null_sd"] == pytest.approx(auc_null_sd(row["n_pos"], row["n_neg"]))


def test_auc_equals_sklearn_and_pair_count_with_ties():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=300), 1)  # many ties
    labels = (rng.random(300) < 0.2).astype(int)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    assert roc_auc(scores, labels) == pytest.approx(sklearn.roc_auc_score(labels, scores), abs=1e-14)
    assert roc_auc(scores, labels) == pytest.approx(pairs, abs=1e-14)
    assert np.isnan(roc_auc(scores, np.zeros(300, dtype=int)))


def test_labels_exclude_episode_dates_and_the_unobserved_end():
    episodes = episode_table(_episodes(), CALENDAR)
    labels = horizon_labels(CALENDAR, CALENDAR, episodes, 5)
    s = STARTS[0]
    assert list(labels[s - 6:s + 1]) == [0, 1, 1, 1, 1, 1, -1]  # 0 < s - t <= 5 before; the start itself is inside
    assert (labels[s:s + LENGTH] == -1).all() and labels[s + LENGTH] == 0
    assert (labels[-5:] == -1).all() and labels[-6] == 0
    weekly = CALENDAR[::5]  # a weekly series sits on its own dates
    assert len(horizon_labels(weekly, CALENDAR, episodes, 5)) == len(weekly)


def test_nested_episode_is_not_an_onset_and_outside_episodes_are_dropped():
    frame = pd.concat([_episodes(), pd.DataFrame({"name": ["inner", "before"], "start": [CALENDAR[910], pd.Timestamp("1990-01-01")],
                                                  "end": [CALENDAR[920], pd.Timestamp("1990-06-01")]})])
    episodes = episode_table(frame, CALENDAR)
    assert list(episodes["name"]) == ["ep0", "ep1", "inner", "ep2"]
    assert list(episodes["nested"]) == [False, False, True, False]
    leads = lead_times(_planted(), CALENDAR, episodes, EarlyWarningConfig())
    assert leads.set_index("episode").loc["inner", "status"] == "nested"


def test_threshold_uses_earlier_values_only():
    config = EarlyWarningConfig(min_history=10)
    x = _planted()
    cut = CALENDAR[1000]
    changed = x.where(x.index < cut, x * 5 + 3)
    a, b = causal_threshold(x, CALENDAR, config), causal_threshold(changed, CALENDAR, config)
    before = x.index <= cut  # the threshold at the cut uses values before it
    assert a[before].equals(b[before]) and not a[~before].equals(b[~before])
    assert a.iloc[:10].isna().all() and np.isfinite(a.iloc[10])
    episodes = episode_table(_episodes(), CALENDAR)
    la, lb = (lead_times(s, CALENDAR, episodes, config) for s in (x, changed))
    early = la["start"] < cut
    assert la[early].equals(lb[early])


def test_series_on_their_own_dates_and_the_yearly_dci_at_year_end():
    calendar = pd.bdate_range("2010-01-01", "2014-12-31")
    dci = pd.DataFrame({"year": [2010, 2011, 2012, 2013], "dci": [0.1, 0.2, 0.3, 0.4]})
    system = pd.DataFrame({"date": calendar[::21], "measure": "catfin", "value": 1.0, "frequency": "monthly"})
    covar = pd.DataFrame({"bank_id": ["A", "B", "A"], "date": calendar[[0, 0, 1]], "delta_covar": [1.0, 3.0, 5.0],
                          "status": ["ok", "ok", "ok"]})
    series = system_series({"granger_dci": dci, "system_measures": system, "covar_qr": covar}, calendar)
    assert list(series["dci"].index) == [pd.Timestamp(d) for d in ("2010-12-31", "2011-12-30", "2012-12-31", "2013-12-31")]
    assert len(series["catfin"]) == len(calendar[::21])
    assert series["turbulence"] == "system_measures has no turbulence rows" and "absent" in series["spillover_improved"]
    assert "usable" in series["covar_qr_mean"]  # two dates only: fewer than the minimum
    covar = pd.concat([covar, covar.assign(date=calendar[5])], ignore_index=True)
    covar.loc[covar.index[-1], "status"] = "failed:X: y"
    means = system_series({"covar_qr": covar}, calendar)["covar_qr_mean"]
    assert list(means) == [2.0, 5.0, 2.0]  # cross-sectional mean of the usable rows, per date


def test_concordance_equals_scipy_kendall_tau():
    from scipy.stats import kendalltau

    rng = np.random.default_rng(5)
    banks = [f"B{k}" for k in range(12)]
    a = pd.Series(rng.normal(size=12), index=banks)
    b = pd.Series(a.to_numpy() + rng.normal(size=12), index=banks).drop("B3")
    frames = {"covar_qr": pd.DataFrame({"bank_id": banks, "date": pd.Timestamp("2020-01-01"), "delta_covar": a.to_numpy(),
                                        "status": "ok"}),
              "cca": pd.DataFrame({"bank_id": b.index, "distance_to_default": -b.to_numpy()})}
    means = bank_means(frames)
    assert isinstance(means["covar_dcc"], str)
    tau = concordance({n: m for n, m in means.items() if not isinstance(m, str)})
    assert len(tau) == 1 and tau["n_banks"].iloc[0] == 11
    assert tau["tau"].iloc[0] == pytest.approx(kendalltau(a.drop("B3"), b).statistic, abs=1e-15)


def test_bad_input_horizons():
    for bad, match in (((), "non-empty"), ((20, 20), "repeats"), ((0,), r"horizons\[0\]=0 is out of range"),
                       ((2.5,), "must be an integer")):
        with pytest.raises(ConfigError, match=match):
            EarlyWarningConfig(horizons=bad)
    with pytest.raises(ConfigError, match="measures.early_warning: .*episodes='paper' is not allowed; allowed values"):
        EarlyWarningConfig.from_mapping({"episodes": "paper"}, where="measures.early_warning")


def test_bad_input_no_episode_inside_the_sample():
    with pytest.raises(NotEstimable, match=r"no stress episode starts inside the sample .*listed: old \(1990-01-01\)"):
        episode_table(pd.DataFrame({"name": ["old"], "start": ["1990-01-01"], "end": ["1990-02-01"]}), CALENDAR)
    with pytest.raises(NotEstimable, match="no stress episodes are listed"):
        episode_table([], CALENDAR)


def test_bad_input_auc_scores():
    with pytest.raises(ValueError, match="same shape, finite scores and labels in"):
        roc_auc(np.array([1.0, np.nan]), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels in"):
        roc_auc(np.array([1.0, 2.0]), np.array([0, 2]))


# -- the stage on planted artifacts ------------------------------------------------------------------------
def _write(root, name, frame, stage, realtime=False):
    art = artifact(name)
    write_parquet(frame, root / art.path, key=list(art.key), dtypes=art.dtypes,
                  provenance={"stage": stage, "realtime": realtime, "params": {}, "data_source": None})


def _planted_root(root, factor: float = 1.0, cut: int = 10**9):
    x = _planted().to_numpy().copy()
    x[cut:] = x[cut:] * factor
    _write(root, "system_returns", pd.DataFrame({"date": CALENDAR, "ret": 0.0}), "returns")
    _write(root, "system_measures", pd.DataFrame({"date": CALENDAR, "measure": "turbulence", "frequency": "daily",
                                                  "value": x, "n_banks": 3}), "system_measures")
    _write(root, "srisk_total", pd.DataFrame({"date": CALENDAR, "srisk_total": x * 2.0 + 1.0}), "mes_srisk")
    return root


EPISODE_PARAMS = {"report": {"episodes": [{"name": r["name"], "start": f"{r['start']:%Y-%m-%d}", "end": f"{r['end']:%Y-%m-%d}"}
                                          for r in _episodes().to_dict("records")]}}


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    root = _planted_root(tmp_path_factory.mktemp("ew"))
    params = repo_params(**copy.deepcopy(EPISODE_PARAMS))
    params["report"]["episodes"].append({"name": "later", "start": "2030-01-01", "end": "2030-02-01"})
    return root, run_stage(root, "early_warning", params)


def test_stage_writes_the_tables_and_records_skipped_series(planted_run):
    root, ctx = planted_run
    table = read_parquet(root / artifact("early_warning").path).set_index(["series", "horizon"])
    assert table.loc[("turbulence", 20), "auc"] == 1.0
    assert table.loc[("turbulence", 20), "causal_basis"] == "causal by construction (stage system_measures)"
    assert table.loc[("srisk_aggregate", 20), "causal_basis"].startswith("realtime: false")
    assert not table.loc[("srisk_aggregate", 20), "causal"]
    assert table.loc[("dci", 20), "status"].startswith("failed:Skipped: granger_dci is absent")
    skipped = [r for r in ctx.records if r.reason == "series_absent"]
    assert len(skipped) == 11 - 2 and all(r.action == "excluded" for r in skipped)
    assert any(r.reason == "measure_absent" for r in ctx.records)
    outside = [r for r in ctx.records if r.reason == "episode_outside_sample"]
    assert len(outside) == 1 and "episode later (start 2030-01-01) does not start inside the sample" in outside[0].detail
    leads = read_parquet(root / artifact("early_warning_leads").path)
    _assert_leads(leads[leads["series"] == "turbulence"])


def test_stage_prefers_the_datas_episode_table(tmp_path):
    root = _planted_root(tmp_path)
    data = _episodes(starts=(900,))
    write_parquet(data, root / artifact("episodes").path, key=["start", "name"], provenance={"stage": "ingest"})
    run_stage(root, "early_warning", **EPISODE_PARAMS)
    table = read_parquet(root / artifact("early_warning").path)
    assert set(table["episode_source"]) == {"data"}
    assert set(read_parquet(root / artifact("early_warning_leads").path)["episode"]) == {"ep0"}


def test_bad_input_stage_without_an_episode_in_the_sample(tmp_path):
    root = _planted_root(tmp_path)
    ctx = run_stage(root, "early_warning", report={"episodes": [{"name": "old", "start": "1990-01-01", "end": "1990-02-01"}]})
    assert_not_estimable(ctx, "no stress episode starts inside the sample")


def test_stage_look_ahead_under_realtime_true(tmp_path, planted_run):
    """Inputs perturbed after a cut-off: the lead rows of episodes before it are bit-identical (the
    AUC table and the concordance summarize the whole sample: undated, as rankings/kendall)."""
    cut = 1000
    params = repo_params(realtime=True, **EPISODE_PARAMS)
    a, b = tmp_path / "a", tmp_path / "b"
    run_stage(_planted_root(a), "early_warning", params)
    run_stage(_planted_root(b, factor=3.0, cut=cut), "early_warning", params)
    la, lb = (read_parquet(r / artifact("early_warning_leads").path) for r in (a, b))
    early = la["start"] < CALENDAR[cut]
    assert early.sum() == 4 and la[early].equals(lb[early])
    assert not la.equals(lb)


@pytest.mark.realdata
@pytest.mark.slow
def test_us_financials_episodes_and_aucs(tmp_path, shared_data):
    """us-financials (2001-12-31 .. 2019-12-31): the workbook's Crises sheet lists six episodes; the
    Tech Bubble (2001-03-13) starts before the sample and is recorded, the other five are onsets
    (none nested), so a daily series covering the sample has 5 x 20 dates before an onset at h = 20."""
    from conftest import us_financials_data

    params = repo_params(data=us_financials_data(shared_data))
    for stage in ("ingest", "returns", "system_measures"):
        run_stage(tmp_path, stage, params)
    ctx = run_stage(tmp_path, "early_warning", params)
    table = read_parquet(tmp_path / artifact("early_warning").path).set_index(["series", "horizon"])
    ok = table[table["status"] == "ok"]
    assert set(table["episode_source"]) == {"data"}
    assert ok["auc"].between(0.0, 1.0).all() and len(ok) >= 6
    assert (ok["n_onsets"] == 5).all()
    assert table.loc[("turbulence", 20), "n_pos"] == 100 and table.loc[("absorption_ratio", 20), "n_pos"] == 100
    outside = [r.detail for r in ctx.records if r.reason == "episode_outside_sample"]
    assert len(outside) == 1 and "Tech Bubble" in outside[0]
    leads = read_parquet(tmp_path / artifact("early_warning_leads").path)
    assert set(leads["episode"]) == {"Subprime Mortgage", "European Sovereign Debt", "Russian Recession",
                                     "Stock Market Selloff", "USA/China Trade War"}


def test_check_says_how_many_onsets_or_why_not():
    from types import SimpleNamespace

    from pipeline.report_config import ReportConfig
    from pipeline.stages.early_warning import check

    prices = pd.DataFrame({"bank_id": "A", "date": CALENDAR, "close": 1.0})
    report = ReportConfig.from_mapping(EPISODE_PARAMS["report"], where="report")
    configs = {"measures.early_warning": EarlyWarningConfig(), "report": report}
    lines = check(SimpleNamespace(prices=prices, episodes=None), configs)
    assert lines == [("estimates", "early warning: AUC at horizons 20, 60 trading days and lead times before 3 onset(s) "
                                   "of 3 episode(s) from report")]
    old = pd.DataFrame({"name": ["old"], "start": [pd.Timestamp("1990-01-01")], "end": [pd.Timestamp("1990-02-01")]})
    kind, text = check(SimpleNamespace(prices=prices, episodes=old), configs)[0]
    assert kind == "cannot" and "no stress episode starts inside the sample" in text
    assert check(SimpleNamespace(prices=None, episodes=None), configs) == [("cannot", "early warning: no prices")]


def test_report_section_shows_the_tables_the_figure_and_the_skipped_series(planted_run):
    from pipeline.report import ReportContext
    from pipeline.report.sections import early_warning as section

    root, _ = planted_run
    built = section.build(ReportContext.open(root))
    html = "".join(built.blocks)
    assert "Early-warning quality of each system series" in html and "Lead time in trading days" in html
    assert "AUC of each system series" in html
    assert built.metrics["best_series_h20"] in ("turbulence", "srisk_aggregate") and built.metrics["best_auc_h20"] == 1.0
    assert built.metrics["series_evaluated"] == 2
    assert "Not evaluated (absent or not estimable in this run): " in built.intro and "CATFIN" in built.intro
    assert "3 episode(s) starting inside the sample" in built.intro and "(realtime: false)" in built.intro
