"""Fuzzing the canonical reader (CSV, Excel, Parquet) and the Wind reader with hypothesis.

Random corruptions of valid files — headers dropped, duplicated, renamed or blanked; cells
garbled (NaN, ±inf, huge numbers, empty strings, unicode, formula text, booleans); rows
truncated, cut short or shuffled; columns swapped — must either load (then every number is
finite and every ratio inside its physical bounds) or stop with one of the project's errors
(DataValidationError, UnitError, ConfigError) that names where. Never a bare pandas/numpy/
openpyxl exception. Derandomized with a modest number of examples, so CI is reproducible.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_integrity import EXT, canonical_tables, write_canonical, write_table

from measures.core.config import ConfigError
from pipeline.adapters import load
from pipeline.params import DataConfig
from pipeline.schema import SCHEMAS, DataValidationError, trim_period
from pipeline.units import UnitError

KNOWN = (DataValidationError, UnitError, ConfigError)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)

CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(["", " ", "--", "NA", "inf", "-inf", "1e400", "12,5", "1,234.5", "=SUM(A1:A2)", "+cmd", "@x", "20200230", "2020-13-01", "True", "\u00a0"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.booleans(),
    st.none(),
)
HEADERS = st.one_of(
    st.sampled_from(["close", "bank_id", "date", "car", "car [%]", "npl [bp]", "market_cap [furlongs]", "总市值(元)", "收盘价", "4资本充足率(%)", "", "Unnamed: 3", "close.1"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=10),
)
OPS = st.one_of(
    st.tuples(st.just("drop_column"), st.integers(0, 30)),
    st.tuples(st.just("duplicate_column"), st.integers(0, 30)),
    st.tuples(st.just("rename_header"), st.integers(0, 30), HEADERS),
    st.tuples(st.just("garble"), st.integers(0, 300), st.integers(0, 30), CELLS),
    st.tuples(st.just("truncate_rows"), st.integers(0, 30)),
    st.tuples(st.just("cut_row"), st.integers(0, 300), st.integers(0, 30)),
    st.tuples(st.just("shuffle"), st.integers(0, 2**16)),
    st.tuples(st.just("swap_columns"), st.integers(0, 30), st.integers(0, 30)),
)


def corrupt(header: list, rows: list[list], ops: list[tuple]) -> tuple[list, list[list]]:
    """Apply the corruptions in order (indices taken modulo the current size)."""
    header, rows = list(header), [list(r) for r in rows]
    for op, *args in ops:
        width = len(header)
        if op == "drop_column" and width > 1:
            j = args[0] % width
            header.pop(j)
            rows = [r[:j] + r[j + 1 :] for r in rows]
        elif op == "duplicate_column" and width:
            j = args[0] % width
            header.append(header[j])
            rows = [[*r, r[j] if j < len(r) else None] for r in rows]
        elif op == "rename_header" and width:
            header[args[0] % width] = args[1]
        elif op == "garble" and rows and width:
            r = rows[args[0] % len(rows)]
            j = args[1] % width
            r.extend([None] * (j + 1 - len(r)))
            r[j] = args[2]
        elif op == "truncate_rows":
            rows = rows[: args[0] % (len(rows) + 1)]
        elif op == "cut_row" and rows:
            i = args[0] % len(rows)
            rows[i] = rows[i][: args[1] % (len(rows[i]) + 1)]
        elif op == "shuffle":
            random.Random(args[0]).shuffle(rows)
        elif op == "swap_columns" and width:
            j, k = args[0] % width, args[1] % width
            header[j], header[k] = header[k], header[j]
    return header, rows


def check_outcome(run) -> None:
    """``run()`` loads and trims; it either succeeds with sane tables or raises a known, located error."""
    try:
        data, records = run()
    except KNOWN as exc:
        assert str(exc)
        if isinstance(exc, DataValidationError):
            assert exc.source is not None or exc.table is not None, str(exc)
        return
    records = [*records, *trim_period(data, None, None)]
    for name, table in data.tables().items():
        numbers = table.select_dtypes("number")
        assert np.isfinite(numbers.to_numpy(dtype=float)[~np.isnan(numbers.to_numpy(dtype=float))]).all(), name
    if data.balance_sheet is not None:
        for col in SCHEMAS["balance_sheet"].columns:
            if col.maximum is not None and col.name in data.balance_sheet:
                values = data.balance_sheet[col.name].dropna()
                assert ((values >= col.minimum) & (values <= col.maximum)).all(), col.name
    assert all(r.stage == "ingest" for r in records)


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    """The valid canonical files in each format and the Wind exports, written once for the module."""
    root = tmp_path_factory.mktemp("fuzz")
    out = {fmt: write_canonical(root / fmt / "raw", fmt) for fmt in EXT}
    out["wind"] = root / "wind" / "raw"
    for name, (header, rows) in WIND.items():
        write_table(out["wind"] / f"{name}.xlsx", header, rows)
    return out


WIND = {
    "股价数据": (["代码", "简称", "日期", "收盘价(元)", "成交量(股)", "总市值(元)"],
             [[b, n, 20140102 + i, 4.0 + i / 10, 100 + i, 1.4e12 + i * 1e10] for b, n in (("601398.SH", "工商银行"), ("600000.SH", "浦发银行")) for i in range(5)]),
    "资产负债表": (["代码", "简称", "日期", "资产总计（万元）", "负债合计（万元）", "所有者权益合计（万元）"],
              [[b, "x", f"{y}1231", 100, 90, 10] for b in ("601398.SH", "600000.SH") for y in (2012, 2013)]),
    "银行分析指标": (["代码", "简称", "日期", "贷款总额（万元）", "存款余额（万元）", "4资本充足率(%)", "不良贷款率(%)", "RWA验证"],
                [[b, "x", f"{y}1231", 60, 80, 12.5, 1.2, 1] for b in ("601398.SH", "600000.SH") for y in (2012, 2013)]),
}


def _run_corrupted(base: Path, path_name: str, header: list, rows: list[list], ops: list[tuple], config: dict):
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        shutil.copytree(base, raw)
        (raw / path_name).unlink()
        write_table(raw / path_name, *corrupt(header, rows, ops))
        check_outcome(lambda: load(DataConfig(source="files", raw_dir="raw", **config), root=Path(tmp)))


TABLES = canonical_tables()


@pytest.mark.parametrize("fmt", list(EXT))
@FUZZ
@given(table=st.sampled_from(sorted(TABLES)), ops=st.lists(OPS, min_size=1, max_size=5))
def test_fuzz_canonical_reader_raises_only_known_errors(bases, fmt: str, table: str, ops: list[tuple]) -> None:
    header, rows = TABLES[table]
    _run_corrupted(bases[fmt], f"{table}{EXT[fmt]}", header, rows, ops, {"format": "canonical", "publication_lag_days": 120})


@FUZZ
@given(role=st.sampled_from(sorted(WIND)), ops=st.lists(OPS, min_size=1, max_size=5))
def test_fuzz_wind_reader_raises_only_known_errors(bases, role: str, ops: list[tuple]) -> None:
    header, rows = WIND[role]
    _run_corrupted(bases["wind"], f"{role}.xlsx", header, rows, ops, {"format": "wind"})


def test_corrupt_applies_each_operation() -> None:
    header, rows = ["a", "b", "c"], [[1, 2, 3], [4, 5, 6]]
    assert corrupt(header, rows, [("drop_column", 1)]) == (["a", "c"], [[1, 3], [4, 6]])
    assert corrupt(header, rows, [("duplicate_column", 0)]) == (["a", "b", "c", "a"], [[1, 2, 3, 1], [4, 5, 6, 4]])
    assert corrupt(header, rows, [("garble", 1, 2, "x"), ("truncate_rows", 2)]) == (header, [[1, 2, 3], [4, 5, "x"]])
    assert corrupt(header, rows, [("cut_row", 0, 1), ("rename_header", 4, "z")]) == (["a", "z", "c"], [[1], [4, 5, 6]])
    assert corrupt(header, rows, [("truncate_rows", 0)]) == (header, [])
