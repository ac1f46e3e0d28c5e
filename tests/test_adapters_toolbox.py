"""Toolbox-workbook adapter: Example_Large.xlsx loads unchanged, quirks survive; bad input is named."""

from __future__ import annotations

import dataclasses

import datetime as dt
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from pipeline.adapters import load
from pipeline.adapters.toolbox import quarter_end
from pipeline.params import DataConfig
from pipeline.schema import DataValidationError, trim_period

# --------------------------------------------------------------------------- the real workbook


@pytest.fixture(scope="module")
def us(shared_data: Path):
    config = DataConfig(source="files", format="toolbox", raw_dir="us-financials", files={"workbook": "Example_Large.xlsx"}, money_unit="USD m", currency="USD")
    return load(config, root=shared_data)


@pytest.mark.realdata
def test_real_workbook_banks_and_groups(us) -> None:
    data, _ = us
    assert len(data.banks) == 20
    groups = data.banks.set_index("bank_id")["group"]
    assert groups.value_counts().to_dict() == {"Commercial Banks": 7, "Investment Banks": 6, "Insurance Companies": 5, "GSE": 2}
    assert groups["AIG"] == "Insurance Companies" and groups["LEH"] == "Investment Banks" and groups["FNMA"] == "GSE"
    assert data.currency == "USD"


@pytest.mark.realdata
def test_real_workbook_prices_units_and_lehman(us, shared_data: Path) -> None:
    data, _ = us
    prices = data.prices
    assert len(prices) == 20 * 4689
    caps = pd.read_csv(shared_data / "us-financials" / "Example_Large__Capitalizations.csv")
    assert prices.iloc[0]["market_cap"] == pytest.approx(caps["AIG"].iloc[0] * 1e6)  # USD m -> USD
    leh = prices[prices["bank_id"] == "LEH"].set_index("date")
    assert leh.loc["2008-09-15", "close"] > 0
    after = leh.loc["2008-09-16":]
    assert (after["close"] == 0).all() and (after["market_cap"] == 0).all() and len(after) > 2000
    assert data.system["close"].iloc[0] == pytest.approx(1161.02)  # SP500 from the Shares sheet
    assert "2002-01-01" in set(prices["date"].dt.strftime("%Y-%m-%d"))  # holiday rows kept


@pytest.mark.realdata
def test_real_workbook_balance_sheet(us) -> None:
    data, records = us
    bs = data.balance_sheet.set_index(["bank_id", "period_end"])
    aig = bs.loc[("AIG", pd.Timestamp("2001-12-31"))]
    assert aig["total_assets"] == 492982e6 and aig["equity"] == 52150e6
    assert aig["total_liabilities"] == (492982 - 52150) * 1e6
    neg = data.balance_sheet[data.balance_sheet["equity"] < 0]
    assert set(neg["bank_id"]) == {"FMCC", "FNMA", "AIG"}  # AIG: 3 quarters in 2009-10
    assert neg["bank_id"].value_counts().to_dict() == {"FNMA": 46, "FMCC": 47, "AIG": 3}
    assert bs.loc[("FNMA", pd.Timestamp("2019-12-31")), "equity"] == -135700e6
    assert np.isnan(bs.loc[("LEH", pd.Timestamp("2008-12-31")), "total_assets"])
    masked = next(r for r in records if r.reason == "zero_balance_sheet")
    assert (masked.bank_id, masked.n_rows, masked.date_start) == ("LEH", 45, pd.Timestamp("2008-12-31"))
    assert any(r.reason == "derived_total_liabilities" for r in records)


@pytest.mark.realdata
def test_real_workbook_states_episodes_and_ignored_sheets(us) -> None:
    data, records = us
    assert list(data.market_states.columns[1:]) == ["FFR", "TBILL_DELTA", "CREDIT_SPREAD", "LIQUIDITY_SPREAD", "TED_SPREAD", "YIELD_SPREAD", "DJ_CA_EXC", "DJ_RESI_EXC", "VIX"]
    assert data.market_states["VIX"].iloc[0] == 21.4
    assert len(data.episodes) == 6
    assert data.episodes.iloc[1].tolist() == ["Subprime Mortgage", pd.Timestamp("2007-06-20"), pd.Timestamp("2009-03-10")]
    ignored = {r.detail for r in records if r.reason == "unmapped_sheet"}
    assert any("'CDS'" in d for d in ignored) and any("'Separate Accounts'" in d for d in ignored)
    assert any(r.reason == "state_orientation" for r in records)


def test_quarter_labels() -> None:
    assert quarter_end("Q4 2001") == pd.Timestamp("2001-12-31")
    assert quarter_end("2002Q1") == pd.Timestamp("2002-03-31")
    assert quarter_end("2002-Q2") == pd.Timestamp("2002-06-30")
    assert quarter_end("Q5 2001") == "Q5 2001"


# --------------------------------------------------------------------------- tiny workbooks

DAYS = [dt.datetime(2020, 1, 2), dt.datetime(2020, 1, 3), dt.datetime(2020, 1, 6)]
FIRMS = ["AAA", "BBB", "CCC"]


def _book(path: Path, *, drop: tuple[str, ...] = (), groups=(("Big", "B", 2),), shares_header=None, state_names=("VIX", "SPREAD")) -> None:
    sheets = {
        "Shares": (shares_header or ["Date", "IDX", *FIRMS], [[d, 100 + i, 10, 20, 30] for i, d in enumerate(DAYS)]),
        "Volumes": (["Date", *FIRMS], [[d, 1, 2, 3] for d in DAYS]),
        "Capitalizations": (["Date", *FIRMS], [[d, 1.5, 2.5, 3.5] for d in DAYS]),
        "CDS": (["Date", "RF", *FIRMS], [[d, 0.01, 1, 1, 1] for d in DAYS]),
        "Assets": (["Date", *FIRMS], [["Q4 2019", 100, 200, 0]]),
        "Equity": (["Date", *FIRMS], [["Q4 2019", 10, -5, 0]]),
        "State Variables": (["Date", *state_names], [[d, 12.0 + i, 1.0] for i, d in enumerate(DAYS)]),
        "Groups": (["Name", "Short Name", "Count"], [list(g) for g in groups]),
        "Crises": (["Name", "Start Date", "End Date"], [["Crash", dt.datetime(2020, 1, 3), dt.datetime(2020, 1, 6)]]),
    }
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, (header, rows) in sheets.items():
        if name in drop:
            continue
        ws = wb.create_sheet(name)
        ws.append(header)
        for r in rows:
            ws.append(r)
    wb.save(path)


def _load(raw: Path, **kw):
    kw.setdefault("money_unit", "USD m")
    return load(DataConfig(source="files", format="toolbox", raw_dir=raw.name, **kw), root=raw.parent)


@pytest.fixture()
def raw(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    _book(raw / "book.xlsx")
    return raw


def test_tiny_workbook_groups_other_and_signs(raw: Path) -> None:
    data, records = _load(raw, files={"state_signs": {"SPREAD": -1}})
    assert data.banks["group"].tolist() == ["Big", "Big", "Other"]
    assert [r.bank_id for r in records if r.reason == "group_default"] == ["CCC"]
    assert data.market_states["SPREAD"].tolist() == [-1.0, -1.0, -1.0]
    assert any(r.reason == "state_sign" and "SPREAD multiplied by -1" in r.detail for r in records)
    assert data.prices["market_cap"].iloc[0] == 1.5e6
    assert data.balance_sheet.set_index("bank_id").loc["BBB", "total_liabilities"] == 205e6


def test_required_sheet_missing(raw: Path) -> None:
    _book(raw / "book.xlsx", drop=("Capitalizations",))
    with pytest.raises(DataValidationError) as err:
        _load(raw)
    msg = str(err.value)
    assert "book.xlsx (sheet 'Capitalizations'): required sheet 'Capitalizations' missing" in msg
    assert "present: Shares, Volumes, CDS" in msg


def test_workbook_not_found_lists_candidates(raw: Path) -> None:
    _book(raw / "other.xlsx")
    with pytest.raises(DataValidationError, match=r"toolbox workbook not found: looked for data.files.workbook, then the only \*.xlsx/\*.xls in .* \(found 2: book.xlsx, other.xlsx\)"):
        _load(raw)


def test_group_counts_exceed_firms(raw: Path) -> None:
    _book(raw / "book.xlsx", groups=(("Big", "B", 2), ("Small", "S", 2)))
    with pytest.raises(DataValidationError, match=r"sheet 'Groups'\), column 'Count', row 3, value 2: the group counts add up to more than the 3 firms"):
        _load(raw)


def test_firm_columns_differ(raw: Path) -> None:
    _book(raw / "book.xlsx", shares_header=["Date", "IDX", "AAA", "BBB", "DDD"])
    with pytest.raises(DataValidationError, match=r"sheet 'Shares'\): firm columns differ from sheet 'Capitalizations' \(firms in only one of them: CCC, DDD\)"):
        _load(raw)


def test_first_column_not_date(raw: Path) -> None:
    _book(raw / "book.xlsx", shares_header=["Day", "IDX", *FIRMS])
    with pytest.raises(DataValidationError, match=r"sheet 'Shares'\), column 'Day': first column must be 'Date'"):
        _load(raw)


def test_state_signs_unknown_name(raw: Path) -> None:
    with pytest.raises(DataValidationError, match=r"data.files.state_signs names unknown state\(s\) TED \(allowed: state variables of the sheet: VIX, SPREAD\)"):
        _load(raw, files={"state_signs": {"TED": -1}})


def test_state_sign_value(raw: Path) -> None:
    with pytest.raises(ValueError, match=r"data.files.state_signs.VIX=2 is not allowed; allowed values: 1, -1"):
        _load(raw, files={"state_signs": {"VIX": 2}})


def test_unknown_money_unit(raw: Path) -> None:
    with pytest.raises(DataValidationError, match=r"column 'Capitalizations', value 'USD zillion': unit 'USD zillion' \(from the data.money_unit\) cannot be read"):
        _load(raw, money_unit="USD zillion")


@pytest.mark.realdata
def test_real_workbook_has_every_bank_priced_and_states_on_trading_days(us) -> None:
    data, records = us
    extra = [*records, *trim_period(dataclasses.replace(data), None, None)]
    assert not {r.reason for r in extra} & {"unread_sheet", "no_prices", "state_not_trading_day", "derived_total_liabilities_out_of_bounds"}
