"""Bad input is rejected with a message naming file, column, row, bank, date, value and what is allowed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.params import DataConfig
from pipeline.schema import (
    CanonicalData,
    DataValidationError,
    Source,
    build_table,
    validate_dataset,
)
from pipeline.units import split_header, unit_factor

SRC = Source("prices.csv")


def prices(**overrides) -> pd.DataFrame:
    base = {
        "bank_id": ["A", "A", "B"],
        "date": ["2020-01-02", "2020-01-03", "2020-01-02"],
        "close": [10.0, 10.5, 5.0],
        "market_cap": [1e9, 1.05e9, 5e8],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def banks() -> pd.DataFrame:
    return build_table(pd.DataFrame({"bank_id": ["A", "B"], "name": ["Bank A", "Bank B"], "group": ["g", "g"]}), "banks", source="banks.csv")


def check(excinfo, *fragments: str) -> None:
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_valid_table_parses_to_canonical_types():
    table = build_table(prices(date=["20200102", "2020/01/03", "2020-01-02"], close=["10", "10.5", "--"]), "prices", source=SRC)
    assert list(table.columns) == ["bank_id", "date", "close", "market_cap"]
    assert table["date"].dtype == "datetime64[ns]"
    assert table["close"].iloc[1] == 10.5 and np.isnan(table["close"].iloc[2])


def test_missing_required_column():
    with pytest.raises(DataValidationError) as e:
        build_table(prices().drop(columns="market_cap"), "prices", source=SRC)
    check(e, "prices.csv", "table prices", "missing required column(s) 'market_cap'", "found: bank_id, date, close", "required columns")


def test_duplicate_key():
    with pytest.raises(DataValidationError) as e:
        build_table(prices(date=["2020-01-02", "2020-01-02", "2020-01-02"]), "prices", source=SRC)
    check(e, "prices.csv", "duplicate key bank_id, date", "row 3", "also on row 2", "bank 'A'", "date 2020-01-02", "one row per key")


def test_unsorted_dates():
    with pytest.raises(DataValidationError) as e:
        build_table(prices(date=["2020-01-03", "2020-01-02", "2020-01-02"]), "prices", source=SRC)
    check(e, "column 'date'", "row 3", "bank 'A'", "date 2020-01-02", "not sorted", "previous row 2 has date 2020-01-03", "sorted ascending")


def test_bank_rows_not_together():
    frame = prices(bank_id=["A", "B", "A"], date=["2020-01-02", "2020-01-02", "2020-01-03"])
    with pytest.raises(DataValidationError) as e:
        build_table(frame, "prices", source=SRC)
    check(e, "row 4", "bank 'A'", "each bank's rows together")


def test_unparseable_date():
    with pytest.raises(DataValidationError) as e:
        build_table(prices(date=["2020-01-02", "2nd Jan", "2020-01-02"]), "prices", source=SRC)
    check(e, "prices.csv", "column 'date'", "row 3", "value '2nd Jan'", "cannot parse date", "YYYY-MM-DD")


def test_missing_date_in_key():
    with pytest.raises(DataValidationError) as e:
        build_table(prices(date=["2020-01-02", "", "2020-01-02"]), "prices", source=SRC)
    check(e, "column 'date'", "row 3", "bank 'A'", "missing date in a key column")


def test_non_numeric_value():
    with pytest.raises(DataValidationError) as e:
        build_table(prices(close=[10.0, "ten", 5.0]), "prices", source=SRC)
    check(e, "prices.csv", "column 'close'", "row 3", "value 'ten'", "not a number", "missing marker")


def test_decimal_comma_is_not_a_thousands_separator():
    with pytest.raises(DataValidationError) as e:
        build_table(prices(close=[10.0, "10,5", 5.0]), "prices", source=SRC)
    check(e, "value '10,5'", "not a number")


def test_infinite_value():
    with pytest.raises(DataValidationError) as e:
        build_table(prices(market_cap=[1e9, np.inf, 5e8]), "prices", source=SRC)
    check(e, "column 'market_cap'", "row 3", "infinite value", "value inf", "finite numbers")


def test_negative_market_cap():
    with pytest.raises(DataValidationError) as e:
        build_table(prices(market_cap=[1e9, 1e9, -5.0]), "prices", source=SRC)
    check(e, "column 'market_cap'", "row 4", "bank 'B'", "date 2020-01-02", "value -5.0", "below the allowed minimum", ">= 0")


def test_negative_price():
    with pytest.raises(DataValidationError) as e:
        build_table(prices(close=[10.0, -1.0, 5.0]), "prices", source=SRC)
    check(e, "column 'close'", "row 3", "value -1.0", ">= 0")


def test_empty_table():
    with pytest.raises(DataValidationError) as e:
        build_table(prices().iloc[:0], "prices", source=SRC)
    check(e, "prices.csv", "table prices", "table is empty", "at least one data row")


def test_missing_bank_name():
    with pytest.raises(DataValidationError) as e:
        build_table(pd.DataFrame({"bank_id": ["A", "B"], "name": ["Bank A", None], "group": ["g", "g"]}), "banks", source="banks.csv")
    check(e, "banks.csv", "column 'name'", "row 3", "missing value in a required text column")


def test_duplicate_bank():
    with pytest.raises(DataValidationError) as e:
        build_table(pd.DataFrame({"bank_id": ["A", "A"], "name": ["x", "y"], "group": ["g", "g"]}), "banks", source="banks.csv")
    check(e, "banks.csv", "duplicate key bank_id", "row 3", "bank 'A'")


def test_unknown_bank_in_prices():
    data = CanonicalData(
        banks=banks(),
        prices=build_table(prices(bank_id=["A", "A", "Z"]), "prices", source=SRC),
        sources={"prices": SRC},
    )
    with pytest.raises(DataValidationError) as e:
        validate_dataset(data)
    check(e, "prices.csv", "table prices", "bank 'Z'", "unknown bank", "bank_id values of the banks table: A, B")


def balance_sheet(**extra) -> pd.DataFrame:
    frame = {"bank_id": ["A", "B"], "period_end": ["2019-12-31", "2019-12-31"], "total_assets": [100.0, 50.0]}
    frame.update(extra)
    return build_table(pd.DataFrame(frame), "balance_sheet", source="bs.csv")


def test_balance_sheet_period_without_publication_date_or_lag():
    data = CanonicalData(banks=banks(), prices=build_table(prices(), "prices", source=SRC), balance_sheet=balance_sheet(),
                         sources={"balance_sheet": Source("bs.csv")})
    with pytest.raises(DataValidationError) as e:
        validate_dataset(data, publication_lag_days=None)
    check(e, "bs.csv", "column 'publication_date'", "bank 'A'", "date 2019-12-31", "without a publication date", "publication_lag_days")


def test_publication_lag_fills_and_early_publication_rejected():
    data = CanonicalData(banks=banks(), prices=build_table(prices(), "prices", source=SRC), balance_sheet=balance_sheet())
    filled = validate_dataset(data, publication_lag_days=90).balance_sheet
    assert (filled["publication_date"] == pd.Timestamp("2020-03-30")).all()
    early = balance_sheet(publication_date=["2020-03-01", "2019-06-30"])
    data = CanonicalData(banks=banks(), prices=build_table(prices(), "prices", source=SRC), balance_sheet=early)
    with pytest.raises(DataValidationError) as e:
        validate_dataset(data, publication_lag_days=90)
    check(e, "bank 'B'", "publication date 2019-06-30 precedes the period end", "publication_date >= period_end")


def test_negative_equity_is_allowed_but_negative_assets_are_not():
    assert balance_sheet(equity=[-5.0, 3.0])["equity"].iloc[0] == -5.0
    with pytest.raises(DataValidationError) as e:
        balance_sheet(total_assets=[-1.0, 3.0])
    check(e, "bs.csv", "column 'total_assets'", "bank 'A'", "date 2019-12-31", "value -1.0")


def test_market_states_need_a_state_column():
    with pytest.raises(DataValidationError) as e:
        build_table(pd.DataFrame({"date": ["2020-01-02"]}), "market_states", source="states.csv")
    check(e, "states.csv", "no state-variable column")


def test_units_cannot_be_read():
    with pytest.raises(ValueError) as e:
        unit_factor("furlongs", "money")
    check(e, "unit 'furlongs' cannot be read as a money unit", "万元", "million")


@pytest.mark.parametrize(
    ("header", "kind", "name", "factor"),
    [
        ("资产总计（万元）", "money", "资产总计", 1e4),
        ("total_assets [USD m]", "money", "total_assets", 1e6),
        ("car (%)", "ratio", "car", 0.01),
        ("4资本充足率(%)", "ratio", "4资本充足率", 0.01),
        ("market_cap [亿元]", "money", "market_cap", 1e8),
        ("收盘价(元)", "price", "收盘价", 1.0),
        ("成交量(股)", "count", "成交量", 1.0),
        ("total_assets", "money", "total_assets", 1.0),
    ],
)
def test_units_are_read_from_headers(header, kind, name, factor):
    got_name, unit = split_header(header)
    assert got_name == name
    assert unit_factor(unit, kind) == factor


def test_factors_are_applied():
    table = build_table(prices(), "prices", source=SRC, factors={"market_cap": 1e4})
    assert table["market_cap"].iloc[0] == 1e13


def test_unknown_param_option_names_allowed_values():
    with pytest.raises(ValueError) as e:
        DataConfig.from_mapping({"source": "bloomberg"})
    check(e, "data.source='bloomberg' is not allowed", "'synthetic', 'files'")
    with pytest.raises(ValueError) as e:
        DataConfig.from_mapping({"sorce": "files"})
    check(e, "unknown option(s) sorce", "allowed options:", "source")


def test_parse_text_parses_each_distinct_value_once_with_the_same_result():
    from pipeline.schema import parse_text

    values = pd.Series([1.0, 1, True, " a ", "a", 2.5, ["x"], " a "], index=range(10, 18))
    out = parse_text(values, ctx={}, rows=np.arange(2, 10))
    assert out.tolist() == ["1", "1", "True", "a", "a", "2.5", "['x']", "a"]
    assert out.index.equals(values.index)


def test_bad_input_missing_text_value_names_the_first_missing_row():
    from pipeline.schema import DataValidationError, parse_text

    with pytest.raises(DataValidationError, match="row 5"):
        parse_text(pd.Series(["a", "b", "a", "NA", None]), ctx={}, rows=np.arange(2, 7))
