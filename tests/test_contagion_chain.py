"""The contagion chain around the Granger → PageRank core: its input, its events, its connectedness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.contagion import (
    ConnectednessConfig,
    ContagionConfig,
    analyse_contagion,
    bank_level_spillover,
    contagion_series,
    estimate_contagion,
)
from measures.core.status import NotEstimable


def planted(n_banks: int = 4, years=(2010, 2011), seed: int = 3) -> pd.DataFrame:
    """Long ``bank_id, date, delta_covar, status``: a VAR(1) in which B0 drives every other bank."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(f"{years[0]}-01-01", f"{years[-1]}-12-31")
    coef = 0.3 * np.eye(n_banks)
    coef[1:, 0] = 0.5
    y = np.zeros((len(dates) + 50, n_banks))
    e = rng.standard_normal(y.shape)
    for t in range(1, len(y)):
        y[t] = coef @ y[t - 1] + e[t]
    wide = pd.DataFrame(y[50:], index=pd.DatetimeIndex(dates, name="date"), columns=[f"B{k}" for k in range(n_banks)])
    long = wide.stack().rename("delta_covar").reset_index().rename(columns={"level_1": "bank_id"})
    return long.assign(status="ok")[["bank_id", "date", "delta_covar", "status"]]


def test_contagion_series_keeps_usable_rows_and_reports_the_others():
    art = planted(years=(2010,))
    failed = (art.bank_id == "B1") & (art.date < "2010-02-01")
    art.loc[failed, "status"] = "failed:ConvergenceError: no"
    art.loc[(art.bank_id == "B2") & (art.date == "2010-03-01"), "status"] = "warning:ConvergenceWarning"
    art.loc[(art.bank_id == "B3") & (art.date == "2010-04-01"), "status"] = "garbage"  # unreadable = failed
    art.loc[(art.bank_id == "B0") & (art.date >= "2010-12-01"), "delta_covar"] = np.nan
    data = contagion_series(art)
    assert list(data.series.columns) == ["B0", "B1", "B2", "B3"] and data.series.index.is_monotonic_increasing
    assert data.series["B1"].notna().sum() == (art.bank_id == "B1").sum() - failed.sum()
    assert data.series.loc["2010-03-01", "B2"] == art.loc[(art.bank_id == "B2") & (art.date == "2010-03-01"), "delta_covar"].item()
    ev = data.events.set_index(["bank_id", "reason"])
    assert ev.loc[("B1", "fit_status"), "n_rows"] == failed.sum()
    assert "'failed:ConvergenceError: no'" in ev.loc[("B1", "fit_status"), "detail"]
    assert ev.loc[("B3", "fit_status"), "n_rows"] == 1
    assert ev.loc[("B0", "missing_value"), "date_start"] == pd.Timestamp("2010-12-01")
    assert set(data.events.action) == {"excluded"} and len(data.events) == 3
    # no status column: every row counts as ok
    assert contagion_series(art.drop(columns="status")).events.reason.tolist() == ["missing_value"]


@pytest.mark.parametrize(("edit", "match"), [
    (lambda f: f.drop(columns="delta_covar"), r"column\(s\) \['delta_covar'\] missing"),
    (lambda f: f.iloc[:0], "has no rows"),
    (lambda f: pd.concat([f, f.iloc[:1]]), "duplicated row for bank 'B0' on 2010-01-01"),
    (lambda f: f[f.bank_id == "B0"], "1 bank\\(s\\) with usable ΔCoVaR; the contagion network needs at least 2"),
])
def test_contagion_series_refuses_unusable_inputs(edit, match):
    with pytest.raises(NotEstimable, match=match):
        contagion_series(edit(planted(years=(2010,))), name="x.parquet")


def test_bank_level_spillover_sums_markets_or_takes_the_market_delta_covar():
    art = planted(n_banks=2, years=(2010,)).sort_values(["bank_id", "date"], ignore_index=True)
    markets = pd.concat([art.rename(columns={"delta_covar": "spillover"}).assign(market=m, spillover=lambda f, s=s: f.spillover * s)
                         for m, s in (("m0", 0.25), ("m1", 0.75))], ignore_index=True)
    markets.loc[(markets.bank_id == "B1") & (markets.market == "m0") & (markets.date == "2010-06-01"), "status"] = "failed:X: y"
    out = bank_level_spillover(markets)
    np.testing.assert_allclose(out.delta_covar, art.delta_covar, atol=1e-12)
    assert out.loc[(out.bank_id == "B1") & (out.date == "2010-06-01"), "status"].item() == "failed:X: y"  # worst status
    bank = art.rename(columns={"delta_covar": "delta_covar_m"}).assign(delta_covar=0.0)
    two = pd.concat([bank.assign(market="m0"), bank.assign(market="m1")], ignore_index=True)
    np.testing.assert_allclose(bank_level_spillover(two).delta_covar, art.delta_covar)
    two.loc[0, "delta_covar_m"] += 1.0
    with pytest.raises(NotEstimable, match="delta_covar_m differs across markets for bank 'B0' on 2010-01-01"):
        bank_level_spillover(two)
    with pytest.raises(NotEstimable, match="neither a 'delta_covar_m' nor a 'spillover' column"):
        bank_level_spillover(markets.drop(columns="spillover"))
    assert bank_level_spillover(art) is art  # a bank-level frame without delta_covar_m is used as it is


def test_analyse_contagion_events_and_connectedness():
    art = planted(years=(2010, 2011))
    art = art[~((art.bank_id == "B3") & (art.date >= "2011-03-01"))]  # B3 below min_obs in 2011
    series = contagion_series(art).series
    result = analyse_contagion(series, ContagionConfig(), ConnectednessConfig(window=120, step=60))
    assert result.key == "year" and result.panel.windows.status.tolist() == ["ok", "ok"]
    route, ev, share = result.events.iloc[:1], result.events.iloc[1:-1], result.events.iloc[-1]
    assert route.reason.tolist() == ["var_route"] and route.action.tolist() == ["kept"]
    n_sig = int(result.panel.edges.significant.sum())
    assert share.reason == "significant_edges" and share.n_rows == len(result.panel.edges) == 12 + 6
    assert share.detail == (f"contagion.filter: none: {n_sig} of 18 Granger edges significant at fdr_alpha=0.05 "
                            f"({100 * n_sig / 18:.1f} %)")
    assert route.detail.iloc[0].startswith("Granger network: ols, connectedness VARs: ols; route auto: ols:")
    assert result.panel.windows.route.tolist() == ["ols", "ols"]
    assert ev.reason.tolist() == ["min_obs"] and ev.bank_id.tolist() == ["B3"]
    assert ev.date_start.iloc[0] == pd.Timestamp("2011-01-03") and ev.date_end.iloc[0] == pd.Timestamp("2011-12-30")
    assert ev.detail.iloc[0].startswith("year 2011: fewer than min_obs=120")
    # directional connectedness on each window's own banks; totals on rolling windows
    assert result.directional.groupby("year").bank_id.apply(list).to_dict() == {
        2010: ["B0", "B1", "B2", "B3"], 2011: ["B0", "B1", "B2"]}
    np.testing.assert_allclose(result.directional.groupby("year").net.sum(), 0.0, atol=1e-9)
    assert len(result.connectedness) == (len(series) - 120) // 60 + 1 and result.connectedness.status.eq("ok").all()
    # a window with too few banks fails, is counted, and gets a window_failed event
    failing = analyse_contagion(series, ContagionConfig(min_obs=300), ConnectednessConfig(window=120, step=60, lags=60))
    assert failing.panel.windows.status.str.startswith("failed:ValueError: 0 bank(s) left").all()
    assert failing.events.reason.value_counts().to_dict() == {"min_obs": 8, "window_failed": 2, "var_route": 1,
                                                              "connectedness_failed": len(failing.connectedness)}


def test_results_do_not_depend_on_the_mapper():
    class Reversed:
        def map(self, fn, items, *, desc=""):
            return [fn(x) for x in list(items)[::-1]][::-1]

    series = contagion_series(planted(years=(2010, 2011))).series
    a = analyse_contagion(series, ContagionConfig(window="rolling", step=125), ConnectednessConfig(window=120, step=120))
    b = analyse_contagion(series, ContagionConfig(window="rolling", step=125), ConnectednessConfig(window=120, step=120),
                          mapper=Reversed())
    for x, y in ((a.panel.crw, b.panel.crw), (a.panel.edges, b.panel.edges), (a.connectedness, b.connectedness),
                 (a.directional, b.directional), (a.events, b.events)):
        pd.testing.assert_frame_equal(x, y)
    assert a.key == "window_end" and list(a.panel.spans.columns) == ["window_end", "date_start", "date_end", "n_rows"]


def test_no_fdr_columns_without_fdr_alpha():
    series = contagion_series(planted(years=(2010,))).series
    edges = estimate_contagion(series, fdr_alpha=None).edges
    assert list(edges.columns) == ["year", "source", "target", "p_value", "lags", "weight"]
    full = estimate_contagion(series).edges
    assert list(full.columns) == [*edges.columns, "q_value", "significant"]
    pd.testing.assert_frame_equal(full[edges.columns], edges)


def test_sparse_series_drops_the_gappy_series_only():
    from measures.contagion.var import sparse_series, var_needs

    rng = np.random.default_rng(0)
    y = rng.standard_normal((200, 6))
    y[rng.choice(200, 60, replace=False), 2] = np.nan  # 30 % missing: ~0.7^6 of the rows usable at lag 5
    assert var_needs(6, 5, select=True) == 37 and var_needs(6, 5, select=False) == 32
    (col, usable, need), = sparse_series(y, 5, select=True)
    valid = ~np.isnan(y[:, 2])
    lagged = np.array([valid[t - 5:t + 1].all() for t in range(5, 200)])
    assert (col, need) == (2, 37) and usable == lagged.sum() < 37
    assert sparse_series(y[:, [0, 1, 3, 4, 5]], 5, select=True) == []
    # complete series in a window too short for the VAR: a size problem, nothing is dropped
    assert sparse_series(y[:30, [0, 1, 3, 4, 5]], 5, select=True) == []
    # pairwise: each bivariate VAR needs 2 p + 1 + 2 rows; only the gappy series' pairs are short
    y[rng.choice(200, 120, replace=False), 2] = np.nan
    assert [c for c, _, _ in sparse_series(y, 5, select=True, pairwise=True)] == [2]
