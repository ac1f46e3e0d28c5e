"""Wind/iFinD export adapter: the real cn-banks exports load unchanged; bad input is named."""

from __future__ import annotations

import dataclasses

import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from pipeline.adapters import load
from pipeline.adapters.wind import header_key
from pipeline.params import DataConfig
from pipeline.schema import DataValidationError, trim_period

PRICE_HEADER = ["代码", "简称", "日期", "收盘价(元)", "成交量(股)", "成交金额(元)", "总市值(元)", "总股本(股)"]
BS_HEADER = ["代码", "简称", "日期", "资产总计（万元）", "负债合计（万元）", "所有者权益合计（万元）", None, None]
IND_HEADER = ["代码", "简称", "日期", "贷款总额（万元）", "存款余额（万元）", "同业往来资产(万元)", "同业往来负债（万元）", "4资本充足率(%)", "RWA验证"]
STATES = [
    {"name": "stock_vol", "file": "../cn_csi300_cgb_yields_daily.csv", "column": "csi300_close", "transform": "rolling_vol", "window": 20},
    {"name": "money", "file": "../cn_interbank_rates_daily.csv", "column": "shibor_1w_pct", "fallback_column": "ibo007_pct", "unit": "%"},
    {"name": "bond", "file": "../cn_csi300_cgb_yields_daily.csv", "column": "cgb_10y_yield_pct", "transform": "yield_change_loss", "duration": 8.5, "unit": "%"},
    {"name": "fx", "file": "../cn_usdcny_central_parity_monthly.csv", "column": "usdcny_central_parity_monthly_avg", "date_column": "month", "transform": ["loss", "carry_forward"]},
]
GROUPS = {
    "state-owned": ["601398.SH", "601939.SH", "601988.SH", "601288.SH", "601328.SH"],
    "joint-stock": ["000001.SZ", "600000.SH", "600015.SH", "600016.SH", "600036.SH", "601166.SH", "601818.SH", "601998.SH"],
    "city": ["002142.SZ", "601009.SH", "601169.SH"],
}


# --------------------------------------------------------------------------- the real exports


@pytest.fixture(scope="module")
def cn(shared_data: Path):
    """The cn-banks Wind exports with groups and the four buildable market states (read once: 3 MB xlsx)."""
    config = DataConfig(source="files", format="wind", raw_dir="cn-banks/wind-exports", bank_groups=GROUPS, market_states=tuple(STATES))
    return load(config, root=shared_data)


@pytest.mark.realdata
def test_real_exports_banks_and_groups(cn) -> None:
    data, records = cn
    assert len(data.banks) == 16
    assert data.banks.set_index("bank_id").loc["601398.SH", "name"] == "工商银行"
    assert data.banks.groupby("group").size().to_dict() == {"city": 3, "joint-stock": 8, "state-owned": 5}
    assert not [r for r in records if r.reason == "group_default"]
    assert data.prices["bank_id"].nunique() == 16 and len(data.prices) == 37817


@pytest.mark.realdata
def test_real_exports_units(cn, shared_data: Path) -> None:
    data, _ = cn
    bs = data.balance_sheet.set_index(["bank_id", "period_end"])
    row = bs.loc[("000001.SZ", pd.Timestamp("2014-09-30"))]
    assert row["total_assets"] == 214435800 * 1e4  # 万元 -> yuan
    assert row["equity"] == 12673600 * 1e4
    ind = bs.loc[("000001.SZ", pd.Timestamp("2014-12-31"))]
    assert ind["car"] == pytest.approx(0.1175)  # % -> fraction
    assert ind["loans"] == 102473400 * 1e4
    assert ind["ldr"] == pytest.approx(102473400 / 153318300)
    assert ind["publication_date"] == pd.Timestamp("2014-12-31") + pd.Timedelta(days=120)
    # the export is newest-first: the table is sorted by bank, period_end
    assert data.balance_sheet.groupby("bank_id")["period_end"].apply(lambda s: s.is_monotonic_increasing).all()
    # prices in yuan, matching the CSV derived from the same export
    csv = pd.read_csv(shared_data / "cn-banks" / "cn_bank_daily_prices_mcap_long.csv", dtype={"code": str})
    first = csv.iloc[0]
    p = data.prices.iloc[0]
    assert (p["bank_id"], p["date"]) == (first["code"], pd.Timestamp(first["date"]))
    assert p["close"] == pytest.approx(first["close"]) and p["market_cap"] == pytest.approx(first["total_mcap_cny"])
    assert data.prices["volume"].isna().sum() == 689  # '--' cells


@pytest.mark.realdata
def test_real_exports_system_and_records(cn) -> None:
    data, records = cn
    assert len(data.system) == 3640 and data.system["close"].iloc[0] == 1000
    details = " | ".join(r.detail for r in records)
    assert "column 'RWA验证' (9 columns) ignored" in details
    assert "'数据来源：Wind资讯'" in details  # footer row recorded
    assert "column '成交金额(元)' ignored" in details
    assert any(r.reason == "derived_ldr" and r.n_rows == 361 for r in records)


@pytest.mark.realdata
def test_real_exports_market_states_merged(cn) -> None:
    data, _ = cn
    ms = data.market_states.set_index("date")
    assert list(ms.columns) == ["stock_vol", "money", "bond", "fx"]
    assert set(ms.index) <= set(data.prices["date"])  # placed on the trading calendar
    assert ms.loc["2013-06-20", "money"] > 0.08  # the June 2013 money-market squeeze (Shibor 1W ~ 11 %)
    assert ms["stock_vol"].max() < 0.1


def test_header_key_normalizes_prefix_and_full_width() -> None:
    assert header_key("4资本充足率(%)") == ("资本充足率", "%")
    assert header_key("资产总计（万元）") == ("资产总计", "万元")
    assert header_key(" 同业往来资产(万元） ") == ("同业往来资产", "万元")


# --------------------------------------------------------------------------- bad input, on tiny exports


def _xlsx(path: Path, header: list, rows: list[list], sheet: str = "Sheet1") -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)


def _prices(path: Path, header=PRICE_HEADER) -> None:
    _xlsx(
        path,
        header,
        [
            ["600000.SH", "浦发银行", 20140102, 9.5, 100, 950, 1.9e11, 2e10],
            ["600000.SH", "浦发银行", "20140103", 9.6, "--", "--", 1.92e11, 2e10],
            ["601398.SH", "工商银行", 20140102, 4.0, 200, 800, 1.4e12, 3.5e11],
            ["601398.SH", "工商银行", 20140103, 4.1, 210, 861, 1.43e12, 3.5e11],
        ],
        sheet="股价数据",
    )


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    _prices(raw / "股价数据.xlsx")
    _xlsx(raw / "资产负债表.xlsx", BS_HEADER, [["601398.SH", "工商银行", "20131231", 100, 90, 10, None, None], ["600000.SH", "浦发银行", 20131231, 50, 46, 4, None, None]])
    _xlsx(raw / "银行分析指标.xlsx", IND_HEADER, [["601398.SH", "工商银行", 20131231, 60, 80, 5, 6, 12.5, 1], ["600000.SH", "浦发银行", 20131231, 30, 40, 2, 3, "--", 1]])
    return raw


def _load(raw: Path, **kw):
    return load(DataConfig(source="files", format="wind", raw_dir=raw.name, **kw), root=raw.parent)


def test_tiny_export_loads(tiny: Path) -> None:
    data, records = _load(tiny)
    assert list(data.banks["bank_id"]) == ["600000.SH", "601398.SH"]
    assert list(data.banks["group"]) == ["unassigned", "unassigned"]
    assert data.prices["date"].iloc[1] == pd.Timestamp("2014-01-03")
    bs = data.balance_sheet.set_index("bank_id")
    assert bs.loc["601398.SH", "total_assets"] == 100e4 and bs.loc["601398.SH", "car"] == pytest.approx(0.125)
    assert math.isnan(bs.loc["600000.SH", "car"])
    assert data.system is None
    assert any(r.reason == "file_absent" and r.table == "system" for r in records)


def test_header_not_recognized(tiny: Path) -> None:
    header = [h if h != "收盘价(元)" else "收盘(元)" for h in PRICE_HEADER]
    _prices(tiny / "股价数据.xlsx", header)
    with pytest.raises(DataValidationError) as err:
        _load(tiny)
    msg = str(err.value)
    assert "股价数据.xlsx (sheet '股价数据'), table prices: header not recognized for close in the prices export" in msg
    assert "headers found: 代码, 简称, 日期, 收盘(元)" in msg and "close: 收盘价, close" in msg


def test_unknown_unit_in_chinese_header(tiny: Path) -> None:
    header = [h if h != "资产总计（万元）" else "资产总计（千万元）" for h in BS_HEADER]
    _xlsx(tiny / "资产负债表.xlsx", header, [["601398.SH", "工商银行", 20131231, 100, 90, 10, None, None]])
    with pytest.raises(DataValidationError) as err:
        _load(tiny)
    msg = str(err.value)
    assert "资产负债表.xlsx (sheet 'Sheet1'), table balance_sheet, column '资产总计（千万元）'" in msg
    assert "unit '千万元' (from the header) cannot be read as a money unit" in msg and "万元" in msg


def test_unknown_bank_in_balance_sheet(tiny: Path) -> None:
    _xlsx(tiny / "资产负债表.xlsx", BS_HEADER, [["601398.SH", "工商银行", 20131231, 100, 90, 10], ["601988.SH", "中国银行", 20131231, 80, 72, 8]])
    with pytest.raises(DataValidationError, match=r"资产负债表.xlsx \(sheet 'Sheet1'\), table balance_sheet, column 'bank_id', row 3, bank '601988.SH': unknown bank \(not in the banks table built from the prices file\) \(allowed: bank_id values of the banks table: 600000.SH, 601398.SH\)"):
        _load(tiny)


def test_missing_prices_file_lists_what_was_looked_for(tiny: Path) -> None:
    (tiny / "股价数据.xlsx").unlink()
    with pytest.raises(DataValidationError, match=r"prices file not found; looked for data.files.prices, then 股价数据.xlsx in .*raw"):
        _load(tiny)


def test_missing_sheet(tiny: Path) -> None:
    with pytest.raises(DataValidationError, match=r"股价数据.xlsx \(sheet 'Prices'\): sheet not found in the workbook \(allowed: sheets present: '股价数据'\)"):
        _load(tiny, files={"prices": {"file": "股价数据.xlsx", "sheet": "Prices"}})


def test_unknown_extension(tiny: Path) -> None:
    with pytest.raises(DataValidationError, match=r"prices.dbf: unknown file extension '.dbf' for the prices file"):
        _load(tiny, files={"prices": "prices.dbf"})


def test_bad_date_names_row_and_value(tiny: Path) -> None:
    _xlsx(tiny / "银行分析指标.xlsx", IND_HEADER, [["601398.SH", "工商银行", "2013年12月31日", 60, 80, 5, 6, 12.5, 1]])
    with pytest.raises(DataValidationError, match=r"银行分析指标.xlsx \(sheet 'Sheet1'\), table balance_sheet, column '日期', row 2, bank '601398.SH', value '2013年12月31日': cannot parse date"):
        _load(tiny)


def test_non_numeric_value(tiny: Path) -> None:
    _xlsx(tiny / "银行分析指标.xlsx", IND_HEADER, [["601398.SH", "工商银行", 20131231, 60, "n.a.", 5, 6, 12.5, 1]])
    with pytest.raises(DataValidationError, match=r"table balance_sheet, column 'deposits', row 2, bank '601398.SH', date 2013-12-31, value 'n.a.': not a number"):
        _load(tiny)


def test_unknown_files_key(tiny: Path) -> None:
    with pytest.raises(ValueError, match=r"data.files has unknown key\(s\) balance for format wind; allowed keys: prices, balance_sheet, indicators, system"):
        _load(tiny, files={"balance": "x.xlsx"})


def test_index_export_with_two_codes(tiny: Path) -> None:
    _xlsx(tiny / "银行指数股价数据.xlsx", ["代码", "简称", "日期", "收盘价"], [["886052.WI", "银行指数", 20140102, 1000], ["881001.WI", "全A", 20140102, 3000]])
    with pytest.raises(DataValidationError, match=r"the sector-index export holds several codes: 881001.WI, 886052.WI"):
        _load(tiny)


def test_percent_ratio_and_empty_period(tiny: Path) -> None:
    _xlsx(tiny / "银行分析指标.xlsx", IND_HEADER, [["601398.SH", "工商银行", 20131231, 60, 80, 5, 6, 12.5, 1], ["601398.SH", "工商银行", 20121231, "--", "--", "--", "--", "--", None]])
    data, records = _load(tiny)
    assert len(data.balance_sheet) == 2
    assert any(r.reason == "all_values_missing" and r.bank_id == "601398.SH" for r in records)
    assert np.isclose(data.balance_sheet.set_index("bank_id").loc["601398.SH", "ldr"], 0.75)


@pytest.mark.realdata
def test_real_exports_pass_the_integrity_checks_without_new_records(cn) -> None:
    """No false positive of the ratio bounds, no unread sheet, alias, bank without prices or state off the calendar."""
    data, records = cn
    bs = data.balance_sheet
    assert 0 < bs["car"].min() and bs["car"].max() < 0.35 and bs["ldr"].max() < 1.5  # real extremes: 0.39 % (601818.SH 2006), 30 % (601009.SH 2007)
    extra = [*records, *trim_period(dataclasses.replace(data), "2007-01-01", None)]
    assert not {r.reason for r in extra} & {"unread_sheet", "alias_column", "no_prices", "state_not_trading_day", "derived_ldr_out_of_bounds"}
