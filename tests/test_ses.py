"""SES in the daily SRISK panel (measures.systemic.srisk_panel): known truth and the crisis definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.core.config import ConfigError
from measures.systemic import SRiskPanelConfig, srisk_panel

M = 0.04  # the bank's loss on every crisis day: its historical MES, exactly
D, W = 900.0, 100.0


def _panel(n: int = 400) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One bank whose return is −M on every crisis day (every 10th day, system −5% or worse) and
    small otherwise; liabilities D published on the first day, market cap W."""
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2020-01-01", periods=n)
    crisis = np.arange(n) % 10 == 0
    ret_sys = np.where(crisis, -0.05 - 0.01 * rng.uniform(size=n), np.clip(rng.normal(0, 0.01, n), -0.03, None))
    ret_bank = np.where(crisis, -M, rng.normal(0, 0.01, n))
    sigma = np.full(n, 0.01)
    paths = pd.DataFrame({"bank_id": "A", "date": dates, "ret_bank": ret_bank, "ret_sys": ret_sys, "sigma_bank": sigma,
                          "sigma_sys": sigma, "rho": 0.5, "z_bank": ret_bank / sigma, "z_sys": ret_sys / sigma,
                          "status": "ok"})
    cap = pd.DataFrame({"A": W}, index=dates)
    bs = pd.DataFrame({"bank_id": ["A"], "period_end": [dates[0]], "publication_date": [dates[0]],
                       "total_liabilities": [D]})
    return paths, cap, bs


def _run(**options):
    paths, cap, bs = _panel()
    options.setdefault("max_liability_age_days", None)  # one publication for the whole sample
    mes, sr, _, _ = srisk_panel(paths, cap, bs, SRiskPanelConfig(**options))
    return mes, sr


def test_ses_known_truth_from_a_bank_losing_its_mes_on_every_crisis_day():
    mes, sr = _run()
    full = mes["mes_hist"].notna().to_numpy()
    assert full.sum() == 400 - 251
    np.testing.assert_allclose(mes.loc[full, "mes_hist"], M, rtol=1e-12)  # the worst 13 days are crisis days
    # θ = 1, δ = 0: the shortfall against 8% of quasi-assets once equity has lost its MES
    np.testing.assert_allclose(sr.loc[full, "ses"], 0.08 * (D + W) - (1 - M) * W, rtol=1e-12)
    assert sr.loc[~full, "ses"].isna().all()
    _, other = _run(ses_theta=2.5, ses_delta=0.01, k=0.1)
    np.testing.assert_allclose(other.loc[full, "ses"], (0.1 * (D + W) / W - 1 + 2.5 * M + 0.01) * W, rtol=1e-12)
    pd.testing.assert_frame_equal(other.drop(columns=["ses", "srisk", "srisk_share"]),
                                  _run(k=0.1)[1].drop(columns=["ses", "srisk", "srisk_share"]))


def test_ses_with_the_dynamic_crisis_uses_the_dynamic_mes():
    mes, sr = _run(ses_mes="dyn")
    expected = (0.08 * (D + W) / W - 1 + mes["mes_dyn"].to_numpy()) * W
    np.testing.assert_allclose(sr["ses"], expected, rtol=1e-12)
    assert np.isfinite(sr["ses"]).all()
    # SES is the only column the crisis definition changes
    pd.testing.assert_frame_equal(sr.drop(columns="ses"), _run()[1].drop(columns="ses"))


@pytest.mark.parametrize(("options", "match"), [({"ses_mes": "worst"}, "ses_mes='worst'"),
                                                 ({"ses_theta": -1.0}, "ses_theta=-1.0 is out of range")])
def test_bad_input_ses_params(options, match):
    with pytest.raises(ConfigError, match=match):
        SRiskPanelConfig.from_mapping(options, where="measures.mes_srisk")
