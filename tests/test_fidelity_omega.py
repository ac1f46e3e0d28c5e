"""``stress.firesale.omega_rule``: ``calibrated`` (default, ω recalibrated every year) or ``fixed``
(Zhang–Guo–Wen–Sun's 1e-14 per yuan unless ``omega`` says otherwise), validated with ``omega``."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import run_stage
from measures.core.config import ConfigError
from measures.stress.firesale import PAPER_OMEGA, FireSaleConfig, OmegaRule, fire_sale
from measures.stress.firesale_inputs import calibrate_omega
from measures.stress.firesale_years import FireSaleParams
from pipeline.artifacts import artifact
from pipeline.io import read_parquet
from pipeline.simulator.stress_banks import simulate_firesale_banks

GROUP = "stress.firesale"
SMALL = {"alpha": {"start": 0.05, "stop": 0.20, "step": 0.05}, "years": [2012, 2014], "source": "synthetic"}


def cross_section(year: int = 2012) -> pd.DataFrame:
    frame = simulate_firesale_banks(seed=20120000, years=[year])
    return frame.drop(columns=[c for c in ("group", "year") if c in frame.columns])


def test_paper_omega_is_the_calibration_of_a_1e14_stock():
    assert PAPER_OMEGA == 1e-14 == calibrate_omega(1e14, sold_share=0.01, price_drop=0.01)


def test_fixed_rule_without_a_value_is_the_paper_omega_in_every_year(tmp_path):
    fixed = tmp_path / "fixed"
    run_stage(fixed, "stress_firesale", **{GROUP: {**SMALL, "omega_rule": "fixed"}})
    curve = read_parquet(fixed / artifact("firesale").path)
    assert sorted(curve["year"].unique()) == [2012, 2013, 2014] and (curve["omega"] == PAPER_OMEGA).all()
    explicit = tmp_path / "explicit"
    run_stage(explicit, "stress_firesale", **{GROUP: {**SMALL, "omega_rule": "fixed", "omega": 1e-14}})
    pd.testing.assert_frame_equal(curve, read_parquet(explicit / artifact("firesale").path))
    calibrated = tmp_path / "calibrated"
    run_stage(calibrated, "stress_firesale", **{GROUP: SMALL})
    cal = read_parquet(calibrated / artifact("firesale").path)
    assert cal.groupby("year")["omega"].first().nunique() == 3  # recalibrated each year (the default)
    banks = simulate_firesale_banks(seed=20120000, years=[2013])
    assert cal.loc[cal.year == 2013, "omega"].iloc[0] == pytest.approx(calibrate_omega(
        float(banks["loans"].sum() + banks["securities"].sum()), sold_share=0.01, price_drop=0.01), rel=1e-12)


def test_api_keeps_a_number_meaning_fixed():
    bs = cross_section()
    fixed = fire_sale(bs, alpha=0.12, omega=2e-14)
    explicit = fire_sale(bs, alpha=0.12, omega_rule="fixed", omega=2e-14)
    assert fixed.system() == explicit.system()
    paper = fire_sale(bs, alpha=0.12, omega_rule="fixed")
    assert paper.system() == fire_sale(bs, alpha=0.12, omega=1e-14).system()
    assert FireSaleConfig.of(omega=0.5).omega_rule == "fixed" and FireSaleConfig.of().omega_rule == "calibrated"
    assert FireSaleConfig(omega_rule="fixed").omega is None  # None = PAPER_OMEGA when fixed


def test_defaults_are_the_params_defaults():
    cfg = FireSaleParams.from_mapping({}, where=GROUP)
    assert (cfg.omega_rule, cfg.omega, cfg.omega_calibration) == ("calibrated", None, OmegaRule())
    import yaml

    from conftest import REPO
    group = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["stress"]["firesale"]
    assert FireSaleParams.from_mapping(group, where=GROUP) == FireSaleParams()


# ------------------------------------------------------------------ bad inputs


def test_bad_input_omega_with_the_calibrated_rule():
    with pytest.raises(ConfigError, match=r"^stress.firesale: omega=1e-14 is a fixed price impact but omega_rule='calibrated' "
                                          r"recalibrates ω on every cross-section; allowed: omega_rule: fixed"):
        FireSaleParams.from_mapping({"omega": 1e-14}, where=GROUP)


def test_bad_input_omega_rule_unknown():
    with pytest.raises(ConfigError, match=r"^stress.firesale: omega_rule='paper' is not allowed; allowed values: 'calibrated', 'fixed'"):
        FireSaleParams.from_mapping({"omega_rule": "paper"}, where=GROUP)


def test_bad_input_omega_rule_former_mapping():
    with pytest.raises(ConfigError, match=r"^stress.firesale: omega_rule=\{'sold_share': 0.02, 'price_drop': 0.01\}: omega_rule "
                                          r"is now the choice 'calibrated' \| 'fixed'; the calibration statement .* moved to omega_calibration"):
        FireSaleParams.from_mapping({"omega_rule": {"sold_share": 0.02, "price_drop": 0.01}}, where=GROUP)


def test_bad_input_omega_negative():
    with pytest.raises(ConfigError, match=r"^stress.firesale: omega=-1.0 is out of range; allowed: \[0.0, inf\]"):
        FireSaleParams.from_mapping({"omega_rule": "fixed", "omega": -1.0}, where=GROUP)
