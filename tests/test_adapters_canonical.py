"""Canonical-format adapter: units from headers, records, and bad input with its messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.adapters import CanonicalData, load
from pipeline.params import DataConfig
from pipeline.schema import DataValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "canonical"


@pytest.fixture()
def raw(tmp_path: Path) -> Path:
    target = tmp_path / "raw"
    shutil.copytree(FIXTURES, target)
    return target


def _config(**kw) -> DataConfig:
    return DataConfig(source="files", format="canonical", raw_dir="raw", **kw)


def _load(root: Path, **kw):
    return load(_config(**kw), root=root)


def test_loads_with_units_and_records(raw: Path) -> None:
    data, records = _load(raw.parent)
    assert isinstance(data, CanonicalData)
    assert list(data.banks["bank_id"]) == ["AAA", "BBB"]
    assert list(data.banks["group"]) == ["state-owned", "joint-stock"]
    # market_cap [100m CNY] -> yuan
    assert data.prices["market_cap"].iloc[0] == pytest.approx(1.5e8)
    assert np.isnan(data.prices["volume"].iloc[1])  # '--' is missing
    bs = data.balance_sheet
    aaa = bs[bs["bank_id"] == "AAA"].iloc[0]
    assert aaa["total_assets"] == pytest.approx(1000 * 1e4)
    assert aaa["equity"] == pytest.approx(800000)  # no unit: data.money_unit '' = yuan
    assert aaa["car"] == pytest.approx(0.125)
    assert aaa["ldr"] == pytest.approx(600 / 800)
    assert aaa["publication_date"] == pd.Timestamp("2018-12-31") + pd.Timedelta(days=120)
    assert len(bs) == 3  # BBB 2019 had every value missing
    reasons = {(r.table, r.reason, r.action) for r in records}
    assert ("prices", "unmapped_column", "ignored") in reasons
    assert ("balance_sheet", "derived_ldr", "filled") in reasons
    assert ("balance_sheet", "all_values_missing", "excluded") in reasons
    assert ("balance_sheet", "publication_lag", "filled") in reasons
    dropped = next(r for r in records if r.reason == "all_values_missing")
    assert dropped.bank_id == "BBB" and dropped.date_start == pd.Timestamp("2019-12-31")
    assert data.system is not None and len(data.system) == 3


def test_money_unit_applies_to_money_without_unit(raw: Path) -> None:
    data, _ = _load(raw.parent, money_unit="10k CNY")
    assert data.balance_sheet["equity"].iloc[0] == pytest.approx(800000 * 1e4)
    assert data.prices["market_cap"].iloc[0] == pytest.approx(1.5e8)  # header unit wins


def test_parquet_and_excel_give_the_same_tables(raw: Path) -> None:
    expected, _ = _load(raw.parent)
    prices = pd.read_csv(raw / "prices.csv", dtype=str, keep_default_na=False)
    (raw / "prices.csv").unlink()
    prices.to_excel(raw / "prices.xlsx", index=False)
    banks = pd.read_csv(raw / "banks.csv")
    (raw / "banks.csv").unlink()
    banks.to_parquet(raw / "banks.parquet")
    got, _ = _load(raw.parent)
    pd.testing.assert_frame_equal(got.prices, expected.prices)
    pd.testing.assert_frame_equal(got.banks, expected.banks)


def test_missing_group_column_defaults_and_bank_groups(raw: Path) -> None:
    (raw / "banks.csv").write_text("bank_id,name\nAAA,Alpha\nBBB,Beta\n", encoding="utf-8")
    data, records = _load(raw.parent, bank_groups={"large": ["AAA"]})
    assert list(data.banks["group"]) == ["large", "unassigned"]
    defaults = [r for r in records if r.reason == "group_default"]
    assert [r.bank_id for r in defaults] == ["BBB"]


def test_unknown_unit_names_file_column_unit_and_allowed(raw: Path) -> None:
    text = (raw / "balance_sheet.csv").read_text(encoding="utf-8").replace("total_assets [10k CNY]", "total_assets [furlongs]")
    (raw / "balance_sheet.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        _load(raw.parent)
    msg = str(err.value)
    assert "balance_sheet.csv" in msg and "'total_assets [furlongs]'" in msg and "unit 'furlongs'" in msg
    assert "allowed:" in msg and "10k" in msg and "万元" in msg


def test_unknown_money_unit_in_config(raw: Path) -> None:
    with pytest.raises(DataValidationError, match=r"unit 'gazillions' \(from the data.money_unit\) cannot be read as a money unit"):
        _load(raw.parent, money_unit="gazillions")


def test_unknown_extension(raw: Path) -> None:
    (raw / "system.csv").rename(raw / "system.txt")
    with pytest.raises(DataValidationError, match=r"system.txt: unknown file extension '.txt' for the system file \(allowed: .csv, .parquet, .xlsx, .xls\)"):
        _load(raw.parent)


def test_missing_required_file_lists_what_was_looked_for(raw: Path) -> None:
    (raw / "prices.csv").unlink()
    with pytest.raises(DataValidationError) as err:
        _load(raw.parent)
    msg = str(err.value)
    assert "required prices file not found; looked for prices.csv, prices.parquet, prices.xlsx, prices.xls" in msg
    assert "data.files.prices" in msg


def test_missing_named_file(raw: Path) -> None:
    with pytest.raises(DataValidationError, match=r"nothere.csv: prices file not found \(named in data.files.prices\)"):
        _load(raw.parent, files={"prices": "nothere.csv"})


def test_missing_sheet_names_the_sheets_present(raw: Path) -> None:
    pd.read_csv(raw / "system.csv").to_excel(raw / "book.xlsx", sheet_name="Index", index=False)
    with pytest.raises(DataValidationError) as err:
        _load(raw.parent, files={"system": {"file": "book.xlsx", "sheet": "Daily"}})
    msg = str(err.value)
    assert "book.xlsx (sheet 'Daily'): sheet not found in the workbook" in msg and "sheets present: 'Index'" in msg


def test_named_sheet_is_read(raw: Path) -> None:
    with pd.ExcelWriter(raw / "book.xlsx") as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="Notes", index=False)
        pd.read_csv(raw / "system.csv").to_excel(writer, sheet_name="Index", index=False)
    (raw / "system.csv").unlink()
    data, _ = _load(raw.parent, files={"system": {"file": "book.xlsx", "sheet": "Index"}})
    assert data.system["close"].tolist() == [1000, 1010.5, 990]


def test_unknown_bank_in_balance_sheet(raw: Path) -> None:
    text = (raw / "balance_sheet.csv").read_text(encoding="utf-8") + "ZZZ,2019-12-31,1,1,0,1,1,10\n"
    (raw / "balance_sheet.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"table balance_sheet, column 'bank_id', bank 'ZZZ': unknown bank \(not in the banks table\)"):
        _load(raw.parent)


def test_several_files_for_one_table(raw: Path) -> None:
    pd.read_csv(raw / "system.csv").to_parquet(raw / "system.parquet")
    with pytest.raises(DataValidationError, match=r"several files for table system: system.csv, system.parquet"):
        _load(raw.parent)


def test_non_numeric_value_names_row_and_value(raw: Path) -> None:
    text = (raw / "prices.csv").read_text(encoding="utf-8").replace("10.5,1.575", "ten,1.575")
    (raw / "prices.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"prices.csv, table prices, column 'close', row 3, bank 'AAA', date 2020-01-03, value 'ten': not a number"):
        _load(raw.parent)


def test_unknown_files_key() -> None:
    with pytest.raises(ValueError, match=r"data.files has unknown key\(s\) price for format canonical; allowed keys: banks, prices"):
        _load(Path("/nonexistent"), files={"price": "p.csv"})


def test_bank_groups_naming_unknown_bank(raw: Path) -> None:
    with pytest.raises(DataValidationError, match=r"data.bank_groups names bank\(s\) not in the data: QQQ"):
        _load(raw.parent, bank_groups={"QQQ": "city"})


def test_duplicate_canonical_column(raw: Path) -> None:
    text = (raw / "system.csv").read_text(encoding="utf-8").replace("date,close", "date,close,close [CNY]").replace("1000\n", "1000,1\n").replace("1010.5\n", "1010.5,1\n").replace("990\n", "990,1\n")
    (raw / "system.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"column 'close \[CNY\]': column 'close' appears twice"):
        _load(raw.parent)


def test_market_state_file_keeps_names_and_reads_percent(raw: Path) -> None:
    (raw / "market_states.csv").write_text("date,VIX,spread [%]\n2020-01-02,12,1.5\n2020-01-03,13,2\n", encoding="utf-8")
    data, _ = _load(raw.parent)
    assert list(data.market_states.columns) == ["date", "VIX", "spread"]
    assert data.market_states["spread"].tolist() == pytest.approx([0.015, 0.02])


def test_xls_named_workbook_with_xlsx_content(raw: Path) -> None:
    """Some '.xls' files are Office Open XML inside (e.g. benoit-rmc/Data_RMC.xls): read by content."""
    expected, _ = _load(raw.parent)
    pd.read_csv(raw / "system.csv").to_excel(raw / "system.xlsx", index=False)
    (raw / "system.csv").unlink()
    (raw / "system.xlsx").rename(raw / "system.xls")
    got, _ = _load(raw.parent)
    pd.testing.assert_frame_equal(got.system, expected.system)
