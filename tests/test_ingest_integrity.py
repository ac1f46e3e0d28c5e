"""Ingest integrity: impossible ratios, silent ignores and opaque messages become errors or records.

Every case is a ``test_bad_input_*`` test asserting the exact message or the quality record, for
the canonical files in each of the three formats (CSV, Excel, Parquet) and for the Wind exports.
:func:`write_table` and :func:`canonical_tables` are shared with ``test_fuzz_readers.py``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from measures.core.config import ConfigError
from pipeline.adapters import load
from pipeline.params import DataConfig
from pipeline.schema import RATIO_COLUMNS, SCHEMAS, DataValidationError, trim_period

FORMATS = ("csv", "xlsx", "parquet")
EXT = {"csv": ".csv", "xlsx": ".xlsx", "parquet": ".parquet"}


def write_table(path: Path, header: list, rows: list[list], *, sheets: dict[str, list[list]] | None = None) -> Path:
    """Write a header and rows as CSV, Excel or Parquet (by suffix); headers may repeat.

    ``sheets``: further Excel sheets (name → rows, first row = header) after the first.
    Parquet columns keep their values' type when pyarrow can infer one, else become text.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
    elif path.suffix == ".xlsx":
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Data"
        for row in [header, *rows]:
            ws.append(row)
        for name, extra in (sheets or {}).items():
            other = wb.create_sheet(name)
            for row in extra:
                other.append(row)
        wb.save(path)
    else:
        width = max([len(header), *map(len, rows)]) if rows else len(header)
        columns = []
        for j in range(width):
            values = [r[j] if j < len(r) else None for r in rows]
            try:
                columns.append(pa.array(values))
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                columns.append(pa.array([None if v is None else str(v) for v in values], type=pa.string()))
        names = [str(h) for h in header] + [f"extra_{j}" for j in range(len(header), width)]
        pq.write_table(pa.Table.from_arrays(columns, names=names), path)
    return path


def canonical_tables() -> dict[str, tuple[list, list[list]]]:
    """A small valid canonical dataset: 3 banks, 6 trading days, yearly balance sheets with every ratio."""
    days = ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08", "2020-01-09"]
    banks = ["AAA", "BBB", "CCC"]
    prices = [[b, d, 10.0 + k + 0.1 * i, (1.5 + k) * (1 + 0.01 * i), 1000 + i] for k, b in enumerate(banks) for i, d in enumerate(days)]
    ratios = {"car": 0.125, "leverage_ratio": 0.06, "lcr": 1.4, "ldr": 0.75, "liquidity_ratio": 0.45, "npl": 0.015, "nim": 0.022, "loan_growth": 0.12}
    bs_header = ["bank_id", "period_end", "total_assets [10k CNY]", "total_liabilities [10k CNY]", "equity [10k CNY]", "loans [10k CNY]", "deposits [10k CNY]", *ratios]
    bs = [[b, f"{y}-12-31", 1000 + k, 920 + k, 80, 600, 800, *ratios.values()] for b in banks for k, y in enumerate((2018, 2019))]
    return {
        "banks": (["bank_id", "name", "group"], [[b, f"Bank {b}", "g1" if b != "CCC" else "g2"] for b in banks]),
        "prices": (["bank_id", "date", "close", "market_cap [100m CNY]", "volume"], prices),
        "market_states": (["date", "spread [%]", "vol"], [[d, 1.0 + 0.1 * i, 0.02] for i, d in enumerate(days)]),
        "balance_sheet": (bs_header, bs),
    }


def write_canonical(raw: Path, fmt: str, tables: dict | None = None) -> Path:
    for name, (header, rows) in (tables or canonical_tables()).items():
        write_table(raw / f"{name}{EXT[fmt]}", header, rows)
    return raw


def load_raw(raw: Path, **kw):
    return load(DataConfig(source="files", format="canonical", raw_dir=raw.name, publication_lag_days=120, **kw), root=raw.parent)


def set_column(tables: dict, table: str, column: str, value, *, header: str | None = None, row: int | None = None) -> dict:
    """Change one column's header and its values (every row, or only ``row``)."""
    head, rows = tables[table]
    j = next(i for i, h in enumerate(head) if re.split(r"\s*\[", h)[0] == column)
    head = [header if (i == j and header is not None) else h for i, h in enumerate(head)]
    rows = [[value if (i == j and (row is None or r == row)) else v for i, v in enumerate(cells)] for r, cells in enumerate(rows)]
    return {**tables, table: (head, rows)}


@pytest.fixture(params=FORMATS)
def fmt(request) -> str:
    return request.param


def test_valid_dataset_loads_in_every_format(tmp_path: Path, fmt: str) -> None:
    data, records = load_raw(write_canonical(tmp_path / "raw", fmt))
    assert list(data.banks["bank_id"]) == ["AAA", "BBB", "CCC"] and len(data.prices) == 18
    assert data.balance_sheet["car"].tolist() == [0.125] * 6
    assert data.prices["market_cap"].iloc[0] == pytest.approx(1.5e8)
    assert data.market_states["spread"].iloc[0] == pytest.approx(0.01)
    assert not [r for r in records if r.reason in ("unread_sheet", "no_prices")]


# --------------------------------------------------------------------------- physical bounds of ratios

#: A percent-looking value per ratio column, outside the column's bounds as a fraction.
PERCENT = {"car": 12.5, "leverage_ratio": 6.5, "lcr": 140.0, "ldr": 75.0, "liquidity_ratio": 45.0, "npl": 1.5, "nim": 2.2, "loan_growth": 12.0}


def test_every_ratio_column_has_physical_bounds() -> None:
    bs = SCHEMAS["balance_sheet"]
    assert set(PERCENT) == set(RATIO_COLUMNS)
    for name in RATIO_COLUMNS:
        col = bs.column(name)
        assert col.minimum is not None and col.maximum is not None
        assert not col.minimum <= PERCENT[name] <= col.maximum <= PERCENT[name] / 10  # percent outside, fraction of it inside


@pytest.mark.parametrize("column", RATIO_COLUMNS)
def test_bad_input_ratio_given_as_percent_without_unit(tmp_path: Path, fmt: str, column: str) -> None:
    raw = write_canonical(tmp_path / "raw", fmt, set_column(canonical_tables(), "balance_sheet", column, PERCENT[column]))
    hi = SCHEMAS["balance_sheet"].column(column).maximum
    lo = SCHEMAS["balance_sheet"].column(column).minimum
    with pytest.raises(DataValidationError) as err:
        load_raw(raw)
    first = 2 if fmt != "parquet" else 1
    assert str(err.value) == (
        f"{raw / ('balance_sheet' + EXT[fmt])}{' (sheet ' + repr('Data') + ')' if fmt == 'xlsx' else ''}, table balance_sheet, "
        f"column {column!r}, row {first}, bank 'AAA', date 2018-12-31, value {PERCENT[column]!r}: value above the allowed maximum "
        f"(6 values of this column are outside); looks like percent: write the header as `{column} [%]` "
        f"(allowed: {lo:g} .. {hi:g} as a fraction (0.12 = 12 %))"
    )


def test_bad_input_ratio_with_percent_unit_is_read_as_percent(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv", set_column(canonical_tables(), "balance_sheet", "car", 12.5, header="car [%]"))
    data, _ = load_raw(raw)
    assert data.balance_sheet["car"].tolist() == [0.125] * 6


def test_bad_input_ratio_impossible_even_as_percent(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv", set_column(canonical_tables(), "balance_sheet", "npl", 250.0, header="npl [%]", row=3))
    with pytest.raises(DataValidationError, match=re.escape(
        "table balance_sheet, column 'npl', row 5, bank 'BBB', date 2019-12-31, value 2.5: value above the allowed maximum "
        "(allowed: 0 .. 1 as a fraction (0.12 = 12 %))"
    )):
        load_raw(raw)


def test_bad_input_ratio_far_beyond_bounds_gets_no_percent_hint(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv", set_column(canonical_tables(), "balance_sheet", "car", 1250.0, row=0))
    with pytest.raises(DataValidationError) as err:
        load_raw(raw)
    assert "value 1250.0: value above the allowed maximum (allowed: 0 .. 1" in str(err.value) and "looks like percent" not in str(err.value)


def test_bad_input_negative_ratio(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv", set_column(canonical_tables(), "balance_sheet", "npl", -0.01, row=1))
    with pytest.raises(DataValidationError, match=re.escape(
        "column 'npl', row 3, bank 'AAA', date 2019-12-31, value -0.01: value below the allowed minimum (allowed: 0 .. 1 as a fraction"
    )):
        load_raw(raw)


def test_bad_input_derived_ratio_out_of_bounds_is_masked_and_recorded(tmp_path: Path) -> None:
    tables = canonical_tables()
    head, rows = tables["balance_sheet"]
    keep = [j for j, h in enumerate(head) if not h.startswith("ldr")]
    rows = [[r[j] for j in keep] for r in rows]
    rows[0][head.index("deposits [10k CNY]")] = 1  # loans 600 / deposits 1
    raw = write_canonical(tmp_path / "raw", "csv", {**tables, "balance_sheet": ([head[j] for j in keep], rows)})
    data, records = load_raw(raw)
    assert np.isnan(data.balance_sheet["ldr"].iloc[0]) and data.balance_sheet["ldr"].iloc[1] == pytest.approx(0.75)
    rec = next(r for r in records if r.reason == "derived_ldr_out_of_bounds")
    assert (rec.action, rec.bank_id, rec.n_rows, rec.date_start) == ("masked", "AAA", 1, pd.Timestamp("2018-12-31"))
    assert rec.detail == "derived ldr outside 0 .. 5 set missing (2018-12-31: 600); check the inputs it is made of"


def test_bad_input_wind_ratio_without_percent_unit(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_table(raw / "股价数据.xlsx", ["代码", "简称", "日期", "收盘价(元)", "总市值(元)"],
                [["601398.SH", "工商银行", 20140102, 4.0, 1.4e12], ["601398.SH", "工商银行", 20140103, 4.1, 1.43e12]])
    write_table(raw / "银行分析指标.xlsx", ["代码", "简称", "日期", "贷款总额（万元）", "4资本充足率"], [["601398.SH", "工商银行", 20131231, 60, 12.5]])
    with pytest.raises(DataValidationError, match=re.escape(
        "银行分析指标.xlsx (sheet 'Data'), table balance_sheet, column 'car', row 2, bank '601398.SH', date 2013-12-31, value 12.5: "
        "value above the allowed maximum; looks like percent: write the header as `4资本充足率 [%]`"
    )):
        load(DataConfig(source="files", format="wind", raw_dir="raw"), root=tmp_path)


# --------------------------------------------------------------------------- silent ignores → records


def test_bad_input_second_excel_sheet_is_recorded(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv")
    header, rows = canonical_tables()["prices"]
    (raw / "prices.csv").unlink()
    write_table(raw / "prices.xlsx", header, rows, sheets={"Notes": [["source: vendor"]], "Old": [header]})
    data, records = load_raw(raw)
    rec = next(r for r in records if r.reason == "unread_sheet")
    assert (rec.table, rec.action) == ("prices", "ignored")
    assert rec.detail == "prices.xlsx: sheet(s) 'Notes', 'Old' not read (only sheet 'Data' is)"
    assert len(data.prices) == 18


def test_bad_input_second_sheet_of_a_wind_export_is_recorded(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_table(raw / "股价数据.xlsx", ["代码", "简称", "日期", "收盘价(元)", "总市值(元)"], [["601398.SH", "工商银行", 20140102, 4.0, 1.4e12]],
                sheets={"说明": [["数据来源：Wind资讯"]]})
    _, records = load(DataConfig(source="files", format="wind", raw_dir="raw"), root=tmp_path)
    assert [r.detail for r in records if r.reason == "unread_sheet"] == ["股价数据.xlsx: sheet(s) '说明' not read (only sheet 'Data' is)"]


def test_bad_input_bank_without_prices_is_recorded(tmp_path: Path) -> None:
    tables = canonical_tables()
    head, rows = tables["prices"]
    raw = write_canonical(tmp_path / "raw", "csv", {**tables, "prices": (head, [r for r in rows if r[0] != "BBB"])})
    data, records = load_raw(raw)
    rec = [r for r in trim_period(data, None, None) if r.reason == "no_prices"]
    assert [(r.bank_id, r.action, r.table) for r in rec] == [("BBB", "kept", "prices")]
    assert rec[0].detail == "bank BBB is in the banks table but has no price row in the sample period: no returns and no market-based measures for it"
    assert "BBB" in set(data.banks["bank_id"])


def test_bad_input_bank_priced_only_outside_the_sample_is_recorded(tmp_path: Path) -> None:
    data, _ = load_raw(write_canonical(tmp_path / "raw", "csv"))
    data.prices = data.prices[~((data.prices["bank_id"] == "CCC") & (data.prices["date"] > pd.Timestamp("2020-01-03")))].reset_index(drop=True)
    records = trim_period(data, "2020-01-06", None)
    assert [r.bank_id for r in records if r.reason == "no_prices"] == ["CCC"]


def test_bad_input_market_states_on_non_trading_days_are_recorded(tmp_path: Path) -> None:
    tables = canonical_tables()
    head, rows = tables["market_states"]
    rows = sorted([*rows, ["2020-01-04", 1.0, 0.02], ["2020-01-05", 1.0, 0.02], ["2020-01-11", 1.0, 0.02]])
    data, _ = load_raw(write_canonical(tmp_path / "raw", "csv", {**tables, "market_states": (head, rows)}))
    rec = [r for r in trim_period(data, None, None) if r.reason == "state_not_trading_day"]
    assert len(rec) == 1
    assert (rec[0].table, rec[0].action, rec[0].n_rows, rec[0].date_start, rec[0].date_end) == (
        "market_states", "kept", 3, pd.Timestamp("2020-01-04"), pd.Timestamp("2020-01-11"))
    assert rec[0].detail == "3 market_states row(s) dated 2020-01-04 .. 2020-01-11 fall on dates without any price row (not trading days of the prices table)"
    assert len(data.market_states) == 9  # kept


@pytest.mark.parametrize("second", ["close", "Close", "close [CNY]"])
def test_bad_input_duplicated_header(tmp_path: Path, fmt: str, second: str) -> None:
    tables = canonical_tables()
    head, rows = tables["prices"]
    raw = write_canonical(tmp_path / "raw", fmt, {**tables, "prices": ([*head, second], [[*r, r[2]] for r in rows])})
    with pytest.raises(DataValidationError) as err:
        load_raw(raw)
    sheet = " (sheet 'Data')" if fmt == "xlsx" else ""
    assert str(err.value) == (
        f"{raw / ('prices' + EXT[fmt])}{sheet}, table prices, column {second!r}: column 'close' appears twice: header 'close' (column 3) "
        f"and header {second!r} (column 6) (allowed: each canonical column once)"
    )


def test_bad_input_duplicated_unmapped_header_is_recorded_once(tmp_path: Path) -> None:
    tables = canonical_tables()
    head, rows = tables["prices"]
    raw = write_canonical(tmp_path / "raw", "csv", {**tables, "prices": ([*head, "note", "note"], [[*r, "a", "b"] for r in rows])})
    _, records = load_raw(raw)
    assert [r.detail.split(": ", 1)[1] for r in records if r.reason == "unmapped_column"] == ["column 'note' (2 columns) ignored (not a canonical column)"]


def test_bad_input_wind_duplicated_header_and_alias(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    header = ["代码", "简称", "日期", "收盘价(元)", "总市值(元)", "总市值1(元)"]
    write_table(raw / "股价数据.xlsx", header, [["601398.SH", "工商银行", 20140102, 4.0, 1.4e12, 1.3e12]])
    data, records = load(DataConfig(source="files", format="wind", raw_dir="raw"), root=tmp_path)
    assert data.prices["market_cap"].iloc[0] == 1.4e12
    assert [r.detail.split(": ", 1)[1] for r in records if r.reason == "alias_column"] == ["column '总市值1(元)' ignored: market_cap is read from column '总市值(元)'"]
    write_table(raw / "股价数据.xlsx", [*header[:5], "收盘价"], [["601398.SH", "工商银行", 20140102, 4.0, 1.4e12, 4.0]])
    with pytest.raises(DataValidationError, match=re.escape(
        "股价数据.xlsx (sheet 'Data'), table prices, column '收盘价': header '收盘价' appears twice (columns 4 and 6) (allowed: each mapped header once)"
    )):
        load(DataConfig(source="files", format="wind", raw_dir="raw"), root=tmp_path)


def test_bad_input_notes_sheet_first_names_the_sheet_and_the_columns(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv")
    (raw / "banks.csv").unlink()
    path = raw / "banks.xlsx"
    header, rows = canonical_tables()["banks"]
    write_table(path, ["About this workbook"], [["prepared by the data team"]], sheets={"Banks": [header, *rows]})
    with pytest.raises(DataValidationError) as err:
        load_raw(raw)
    assert str(err.value) == (
        f"{path} (sheet 'Data'), table banks: missing required column(s) 'bank_id', 'name'; found: About this workbook; "
        "the workbook's other sheets: 'Banks' (choose one with data.files.banks: {file: ..., sheet: ...}) "
        "(allowed: columns bank_id, name (group optional))"
    )
    assert "group" not in str(err.value).split("found:")[1].split(";")[0]
    data, _ = load_raw(raw, files={"banks": {"file": "banks.xlsx", "sheet": "Banks"}})
    assert list(data.banks["bank_id"]) == ["AAA", "BBB", "CCC"]


def test_bad_input_missing_required_column_in_csv_lists_what_was_found(tmp_path: Path) -> None:
    tables = canonical_tables()
    raw = write_canonical(tmp_path / "raw", "csv", {**tables, "banks": (["bank", "name"], [["AAA", "A"]])})
    with pytest.raises(DataValidationError, match=re.escape(
        "banks.csv, table banks: missing required column(s) 'bank_id'; found: bank, name (allowed: columns bank_id, name (group optional))"
    )):
        load_raw(raw)


# --------------------------------------------------------------------------- inf, overflow, unreadable files


@pytest.mark.parametrize("token", ["inf", "-Infinity", "1e400"])
def test_bad_input_infinite_value_in_a_numeric_column(tmp_path: Path, fmt: str, token: str) -> None:
    value = float(token) if fmt == "parquet" else token  # Excel cannot store inf: the text is what users meet
    raw = write_canonical(tmp_path / "raw", fmt, set_column(canonical_tables(), "prices", "close", value, row=4))
    with pytest.raises(DataValidationError) as err:
        load_raw(raw)
    msg = str(err.value)
    row = 6 if fmt != "parquet" else 5
    assert f"table prices, column 'close', row {row}, bank 'AAA', date 2020-01-08, value {float(token)!r}: infinite value (allowed: finite numbers or missing)" in msg


def test_bad_input_infinite_state_value(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv", set_column(canonical_tables(), "market_states", "vol", "inf", row=2))
    with pytest.raises(DataValidationError, match=re.escape("table market_states, column 'vol', row 4, date 2020-01-06, value inf: infinite value")):
        load_raw(raw)


def test_bad_input_value_overflows_with_the_unit_factor(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv", set_column(canonical_tables(), "prices", "market_cap", "1e305", row=0))
    with pytest.raises(DataValidationError, match=re.escape(
        "column 'market_cap', row 2, bank 'AAA', date 2020-01-02, value 1e+305: value overflows when the unit factor 1e+08 is applied"
    )):
        load_raw(raw)


@pytest.mark.parametrize(("name", "kind"), [("prices.parquet", "Parquet file"), ("prices.xlsx", "Excel workbook")])
def test_bad_input_unreadable_file(tmp_path: Path, name: str, kind: str) -> None:
    raw = write_canonical(tmp_path / "raw", "csv")
    (raw / "prices.csv").unlink()
    (raw / name).write_bytes(b"PK\x03\x04 not really a zip" if name.endswith("xlsx") else b"PAR1 truncated")
    with pytest.raises(DataValidationError, match=re.escape(f"{name}: file is not a readable {kind} (")):
        load_raw(raw)


def test_bad_input_csv_row_longer_than_the_header_is_recorded(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv")
    with (raw / "prices.csv").open("a", encoding="utf-8") as fh:
        fh.write("CCC,2020-01-10,12.0,3.5,10,surplus\n")
    data, records = load_raw(raw)
    assert len(data.prices) == 19
    assert any(r.reason == "unmapped_column" and r.detail.endswith("prices.csv: 1 column(s) without a header ignored") for r in records)


def test_bad_input_files_entry_is_a_config_error(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv")
    with pytest.raises(ConfigError, match=r"^data.files has unknown key\(s\) price for format canonical; allowed keys: banks, prices"):
        load_raw(raw, files={"price": "prices.csv"})


def test_bad_input_toolbox_firm_column_twice(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    header = ["Date", "SP500", "AIG", "AIG"]
    rows = [["2008-01-02", 1400, 50, 50], ["2008-01-03", 1410, 51, 51]]
    wb = openpyxl.Workbook()
    for k, name in enumerate(("Shares", "Capitalizations")):
        ws = wb.active if k == 0 else wb.create_sheet(name)
        ws.title = name
        for row in [header if name == "Shares" else [header[0], *header[2:]], *(r if name == "Shares" else [r[0], *r[2:]] for r in rows)]:
            ws.append(row)
    raw.mkdir()
    wb.save(raw / "book.xlsx")
    with pytest.raises(DataValidationError, match=re.escape("book.xlsx (sheet 'Capitalizations'), column 'AIG': header 'AIG' appears twice (allowed: one column per firm)")):
        load(DataConfig(source="files", format="toolbox", raw_dir="raw"), root=tmp_path)


def test_bad_input_unparseable_date_names_the_bank(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv", set_column(canonical_tables(), "prices", "date", "2nd Jan", row=7))
    with pytest.raises(DataValidationError, match=re.escape("prices.csv, table prices, column 'date', row 9, bank 'BBB', value '2nd Jan': cannot parse date")):
        load_raw(raw)


def test_bad_input_infinite_value_in_a_state_series_file(tmp_path: Path) -> None:
    raw = write_canonical(tmp_path / "raw", "csv")
    write_table(raw / "rates.csv", ["date", "shibor_pct"], [["2020-01-02", 2.5], ["2020-01-03", "inf"]])
    spec = {"name": "money", "file": "rates.csv", "column": "shibor_pct", "unit": "%"}
    with pytest.raises(DataValidationError, match=re.escape("rates.csv, table market_states, column 'shibor_pct', row 3, date 2020-01-03, value inf: infinite value")):
        load_raw(raw, market_states=(spec,))
