"""Bad input through the replication CLI ``python -m pipeline panel``: exit 2 with one message, no traceback.

Every case edits the generated reference panel (tests/reference/panel/panel.csv) or its params file
and asserts the message: it names the file, the column, the row and the value, or the params key
with its group. Also: the CSV files the CLI writes are formula-safe.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.__main__ import main as cli_main

REFERENCE = Path(__file__).resolve().parent / "reference" / "panel" / "panel.csv"
TEXT = REFERENCE.read_text(encoding="utf-8")
LINES = TEXT.splitlines()
HEADER = LINES[0].split(",")


def cell(line: int, column: str, value: str) -> str:
    """The reference panel with the cell of file ``line`` (1 = header) and ``column`` set to ``value``."""
    lines = list(LINES)
    cells = lines[line - 1].split(",")
    cells[HEADER.index(column)] = value
    lines[line - 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


def drop(*columns: str) -> str:
    frame = pd.read_csv(REFERENCE, dtype=str, keep_default_na=False).drop(columns=list(columns))
    return frame.to_csv(index=False, lineterminator="\n")


def run(tmp_path: Path, capsys, *, text: str | bytes | None = TEXT, params=None, out: Path | None = None) -> tuple[int, str]:
    path = tmp_path / "in.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    args = ["panel", "--input", str(path), "--out", str(out or tmp_path / "out")]
    if params is not None:
        p = tmp_path / "p.yaml"
        p.write_text(params if isinstance(params, str) else yaml.safe_dump(params), encoding="utf-8")
        args += ["--params", str(p)]
    code = cli_main(args)
    return code, capsys.readouterr().err


def assert_one_error(code: int, err: str, pattern: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(pattern, err), err


CASES = {
    "missing_file": (dict(text=None), r"in\.csv: file not found"),
    "empty_file": (dict(text=""), r"in\.csv: not a readable CSV file \(.*\); expected UTF-8 text with a header"),
    "header_only": (dict(text=LINES[0] + "\n"), r"in\.csv: no data rows"),
    "not_utf8": (dict(text="bank_id,year,crw\n".encode() + b"\xff\xfe\x00B,2010,0.1\n"), r"in\.csv: not a readable CSV file"),
    "missing_bank_id_column": (dict(text=drop("bank_id")), r"in\.csv: missing column\(s\) bank_id; found: year, crw"),
    "missing_year_column": (dict(text=drop("year")), r"in\.csv: missing column\(s\) year; found: bank_id"),
    "duplicate_header": (dict(text=LINES[0] + ",car\n" + "\n".join(l + ",0.1" for l in LINES[1:]) + "\n"),
                         r"in\.csv: column\(s\) car appear more than once in the header"),
    "empty_bank_id": (dict(text=cell(4, "bank_id", " ")), r"column 'bank_id', row 3 \(line 4\): empty bank_id"),
    "non_integer_year": (dict(text=cell(4, "year", "2013.5")), r"column 'year', row 3 \(line 4\): '2013\.5' is not an integer year"),
    "text_year": (dict(text=cell(5, "year", "FY2014")), r"column 'year', row 4 \(line 5\): 'FY2014' is not an integer year"),
    "non_numeric_cell": (dict(text=cell(6, "car", "12%")), r"in\.csv: column 'car', row 5 \(line 6\): '12%' is not a number"),
    "inf_crw": (dict(text=cell(7, "crw", "inf")), r"in\.csv: column 'crw', row 6 \(line 7\): 'inf' is not a finite number"),
    "minus_inf_ratio": (dict(text=cell(8, "lev", "-inf")), r"column 'lev', row 7 \(line 8\): '-inf' is not a finite number"),
    "overflow_number": (dict(text=cell(9, "npl", "1e400")), r"column 'npl', row 8 \(line 9\): '1e400' is not a finite number"),
    "duplicate_bank_year": (dict(text=TEXT + LINES[1] + "\n"),
                            r"duplicate \(bank_id, year\) = \(B00, 2013\) in rows 1, 160 \(lines 2, 161\)"),
    "one_year": (dict(text="\n".join([LINES[0], *(l for l in LINES[1:] if ",2015," in l)]) + "\n"),
                 r"the panel has 1 year \(2015\); a panel needs at least 2 periods"),
    "no_crw_column": (dict(text=drop("crw")),
                      r"no model of the panel model list could be estimated; missing column\(s\): m1 lacks crw; .*"
                      r"to run: add the column\(s\) crw \(contagion risk weight; for every model\) to the panel CSV"),
    "no_regulator_columns": (dict(text=drop("car", "lev", "lcr", "ldr", "liq")),
                             r"m7 lacks car; m8 lacks lev; m9 lacks lcr; .*no model of the list has its dependent"),
    "unknown_params_key": (dict(params={"panel": {"modles": []}}), r"p\.yaml: panel: unknown option\(s\) modles"),
    "bad_params_value": (dict(params={"panel": {"effects": "bank"}}), r"p\.yaml: panel: effects='bank' is not allowed; allowed values"),
    "bad_model_entry": (dict(params={"panel": {"models": [{"name": "x", "regulators": "car"}]}}),
                        r"p\.yaml: panel: .*regulators='car' must be a list"),
    "null_params_group": (dict(params="panel:\n"), r"p\.yaml: panel: the group is empty \(null\)"),
    "params_not_yaml": (dict(params="panel: {effects: [\n"), r"p\.yaml: not a readable YAML file"),
    "params_top_level_list": (dict(params="- 1\n- 2\n"), r"p\.yaml: top level must be a mapping"),
    "strict_missing_column": (dict(text=drop("lev"), params={"panel": {"missing_columns": "raise"}}),
                              r"missing column\(s\) lev \(used by m4, m5, m6, m8\)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_panel_cli(tmp_path, capsys, case):
    kwargs, pattern = CASES[case]
    assert_one_error(*run(tmp_path, capsys, **kwargs), pattern)


def test_bad_input_panel_cli_params_file_absent(tmp_path, capsys):
    (tmp_path / "in.csv").write_text(TEXT, encoding="utf-8")
    code = cli_main(["panel", "--input", str(tmp_path / "in.csv"), "--out", str(tmp_path / "o"), "--params",
                     str(tmp_path / "none.yaml")])
    assert_one_error(code, capsys.readouterr().err, r"parameter file .*none\.yaml not found")


def test_bad_input_panel_cli_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("", encoding="utf-8")
    assert_one_error(*run(tmp_path, capsys, out=target), r"--out .*taken: cannot create the output directory")


def test_bad_input_panel_cli_formula_bank_name_is_neutralized(tmp_path, capsys):
    """A bank id that a spreadsheet would run comes out of every CSV with a leading quote."""
    evil = "=cmd|' /C calc'!A0"
    frame = pd.read_csv(REFERENCE, dtype=str, keep_default_na=False)
    frame["bank_id"] = frame["bank_id"].replace("B00", evil)
    frame.loc[frame.index[0], "nim"] = ""  # so that the bank appears in exclusions.csv
    code, err = run(tmp_path, capsys, text=frame.to_csv(index=False, lineterminator="\n"))
    assert code == 0, err
    excl = pd.read_csv(tmp_path / "out" / "exclusions.csv", dtype=str)
    assert "'" + evil in set(excl["bank_id"]) and evil not in set(excl["bank_id"])
    for path in (tmp_path / "out").glob("*.csv"):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert not any(c.startswith(("=", "@")) for c in line.split(",")), (path.name, line)


def test_table_csv_files_are_formula_safe_and_keep_signed_numbers(tmp_path, capsys):
    params = {"panel": {"models": [{"name": "=HYPERLINK(1)", "regulators": ["car"]}, {"name": "m9", "regulators": ["lcr"]}]}}
    code, err = run(tmp_path, capsys, params=params)
    assert code == 0, err
    t2 = pd.read_csv(tmp_path / "out" / "table2.csv", dtype=str, keep_default_na=False)
    assert list(t2.columns)[1:] == ["'=HYPERLINK(1)", "m9"]
    signed = [v for v in t2.iloc[:, 1:].to_numpy().ravel() if v.startswith("-")]
    assert signed and all(re.fullmatch(r"-\d+\.\d+\**", v) for v in signed)  # estimates like -0.811*** untouched
