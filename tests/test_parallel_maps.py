"""Every mapped science function of the per-bank and stress stages gives, through a real process
pool (two forkserver workers, ``fn`` sent with cloudpickle), exactly the serial result; and what
is sent to a worker stays small (one bank, one year × α chunk, one grid point)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pool_mapper import PoolMapper
from test_cascade import study_frame
from test_covar_qr import long_tables
from test_dcc import bank_panel  # noqa: F401 - fixture
from test_firesale import synthetic_cross_section
from test_panel import simulate as simulate_panel
from test_spillover import long_panel
from test_systemic_measures import bank_fits, bank_inputs  # noqa: F401 - fixtures

MAX_SENT = 2_000_000
"""Bytes: the largest pickled ``fn`` or item of these small inputs (a bank's series, not the panel)."""


@pytest.fixture(scope="module")
def pool():
    mapper = PoolMapper(2)
    yield mapper
    mapper.close()


def _small(pool: PoolMapper, since: int) -> None:
    for desc, _, fn_bytes, item_bytes in pool.sizes[since:]:
        assert fn_bytes < MAX_SENT and item_bytes < MAX_SENT, (desc, fn_bytes, item_bytes)


def test_mes_lrmes_and_historical_mes_through_a_pool_equal_serial(bank_inputs, bank_fits, pool):  # noqa: F811
    from measures.dcc import estimates_frame
    from measures.systemic import SystemicRiskConfig, dcc_mes_frame, dcc_paths_frame, historical_mes_frame

    wide, system = bank_inputs
    paths, estimates = dcc_paths_frame(bank_fits, wide, system), estimates_frame(bank_fits)
    since = len(pool.sizes)
    for config, dates in ((SystemicRiskConfig(), None),
                          (SystemicRiskConfig(lrmes_route="simulation", crash=0.1, horizon=22, n_paths=500, seed=3),
                           [wide.index[300], wide.index[-1]])):
        serial = dcc_mes_frame(paths, config=config, estimates=estimates, simulation_dates=dates)
        pooled = dcc_mes_frame(paths, config=config, estimates=estimates, simulation_dates=dates, mapper=pool)
        pd.testing.assert_frame_equal(pooled, serial)
    assert serial["lrmes"].notna().sum() == 4  # B1, B2 at two dates; B3 failed
    pd.testing.assert_frame_equal(historical_mes_frame(paths, window=100, mapper=pool), historical_mes_frame(paths, window=100))
    # B1 and B2 share the system path: one kernel item; the failed B3 its own
    assert pool.sizes[since][:2] == ("dynamic MES", 2)
    _small(pool, since)


def test_kernel_chunks_give_the_values_of_one_bank_at_a_time(bank_fits, monkeypatch):  # noqa: F811
    import measures.systemic.frames as frames
    from conftest import RecordingMapper
    from measures.systemic import dcc_mes_frame

    grouped = dcc_mes_frame(bank_fits)
    monkeypatch.setattr(frames, "MES_CHUNK", 1)
    mapper = RecordingMapper()
    alone = dcc_mes_frame(bank_fits, mapper=mapper)
    assert mapper.calls == [("dynamic MES", 3)]
    np.testing.assert_allclose(alone["mes_dyn"], grouped["mes_dyn"], rtol=1e-12)
    pd.testing.assert_frame_equal(alone.drop(columns="mes_dyn"), grouped.drop(columns="mes_dyn"))


def test_fire_sale_year_alpha_grid_through_a_pool_equals_serial_and_each_year_curve(pool):
    from measures.stress.firesale import FireSaleConfig
    from measures.stress.firesale_curve import alpha_grid, fire_sale_curve_with_banks
    from measures.stress.firesale_inputs import validate_fire_sale_balance_sheet
    from measures.stress.firesale_years import ALPHAS_PER_ITEM, fire_sale_years

    frame = pd.concat([synthetic_cross_section(s).assign(year=2010 + s) for s in range(2)], ignore_index=True)
    grid = alpha_grid(0.005, 0.30, 0.005)  # 60 shocks: three α chunks per year
    since = len(pool.sizes)
    serial = fire_sale_years(frame, grid)
    pooled = fire_sale_years(frame, grid, mapper=pool)
    assert pool.sizes[since][0] == "years x alpha" and len(grid) > 2 * ALPHAS_PER_ITEM
    for name in ("system", "banks", "regions", "inputs", "events"):
        pd.testing.assert_frame_equal(getattr(pooled, name), getattr(serial, name))
    # the chunked year is the whole-grid curve of that year (TW across chunk edges included)
    part = frame[frame.year == 2011].drop(columns="year").sort_values("bank_id", kind="mergesort").reset_index(drop=True)
    omega = FireSaleConfig().omega_for(validate_fire_sale_balance_sheet(part))
    curve, banks = fire_sale_curve_with_banks(part, grid, omega=omega)
    mine = serial.system[serial.system.year == 2011].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[curve.columns], curve)
    mine_banks = serial.banks[serial.banks.year == 2011].reset_index(drop=True)
    np.testing.assert_array_equal(mine_banks["lossla"], banks["lossla"])
    _small(pool, since)


def test_cascade_surface_scenarios_and_boundaries_through_a_pool_equal_serial(pool):
    from measures.stress.cascade_study import CascadeStudyConfig, NamedFailure, cascade_study

    cfg = CascadeStudyConfig(alpha_grid=(0.0, 0.15, 4), beta_grid=(0.0, 1.0, 3), named_betas=(0.5, 1.0), n_largest=3,
                             named=(NamedFailure(name="largest_2", banks="largest", n=2),))
    frame, when = study_frame(), pd.Timestamp("2019-12-31")
    since = len(pool.sizes)
    serial = cascade_study(frame, cfg, when=when)
    pooled = cascade_study(frame, cfg, when=when, mapper=pool)
    assert [d for d, *_ in pool.sizes[since:]] == ["surface", "named failures", "group boundaries"]
    for name in ("matrix", "surface", "hierarchy", "boundary", "debtrank", "events"):
        pd.testing.assert_frame_equal(getattr(pooled, name), getattr(serial, name))
    _small(pool, since)


def test_dcc_bank_fits_through_a_pool_equal_serial(bank_panel, pool):  # noqa: F811
    from measures.dcc import DCCConfig, estimates_frame, fit_dcc_banks
    from measures.systemic import covar_dcc_frame, dcc_paths_frame

    wide, system = bank_panel
    since = len(pool.sizes)
    serial, events = fit_dcc_banks(wide, system, DCCConfig())
    pooled, pooled_events = fit_dcc_banks(wide, system, DCCConfig(), mapper=pool)
    assert list(pooled) == list(serial)
    pd.testing.assert_frame_equal(pooled_events, events)
    for frame in (covar_dcc_frame, estimates_frame, lambda r: dcc_paths_frame(r, wide, system)):
        pd.testing.assert_frame_equal(frame(pooled), frame(serial))
    _small(pool, since)


@pytest.mark.parametrize("estimation", ["full", "rolling"])
def test_covar_qr_bank_fits_through_a_pool_equal_serial(estimation, pool):
    from measures.covar_qr import CoVaRConfig, estimate_delta_covar_banks, loss_panel

    panel = loss_panel(*long_tables())
    config = CoVaRConfig(min_obs=250, estimation=estimation, window=200, step=50)
    since = len(pool.sizes)
    serial = estimate_delta_covar_banks(panel, config)
    pooled = estimate_delta_covar_banks(panel, config, mapper=pool)
    for name in ("values", "weekly", "coefficients", "events"):
        pd.testing.assert_frame_equal(getattr(pooled, name), getattr(serial, name))
    _small(pool, since)


def test_spillover_bank_fits_through_a_pool_equal_serial(pool):
    from measures.spillover import SpilloverConfig, estimate_spillover_banks

    panel = long_panel(short=50)
    config = SpilloverConfig(window=120, step=20)
    since = len(pool.sizes)
    serial = estimate_spillover_banks(panel, config)
    pooled = estimate_spillover_banks(panel, config, mapper=pool)
    for name in ("banks", "index", "index_weekly", "channels", "events"):
        pd.testing.assert_frame_equal(getattr(pooled, name), getattr(serial, name))
    pd.testing.assert_series_equal(pooled.statuses, serial.statuses)
    _small(pool, since)


def test_panel_models_through_a_pool_equal_serial(pool):
    from panel import PanelParams, estimate_panel

    data, _ = simulate_panel(4, n_banks=30, n_years=8)
    rng = np.random.default_rng(1)
    data = data.assign(**{c: rng.normal(size=len(data)) for c in ("lev", "ldr", "liq")})
    since = len(pool.sizes)
    serial = estimate_panel(data, PanelParams())
    pooled = estimate_panel(data, PanelParams(), mapper=pool)
    for name in ("coefficients", "fit_stats", "exclusions", "descriptives"):
        pd.testing.assert_frame_equal(getattr(pooled, name), getattr(serial, name))
    _small(pool, since)


def test_srisk_status_pairs_equal_the_row_by_row_worst():
    from measures.core.status import worst
    from measures.systemic.srisk_panel import _worst_pairs

    fit = pd.Series(["ok", "warning:A", "ok", "failed:B: x", "ok", "warning:A"] * 50)
    balance = pd.Series(["ok", "ok", "failed:MissingLiabilities: m", "warning:NegativeBookEquity", np.nan, None] * 50)
    expected = [worst(a, b) if isinstance(b, str) else a for a, b in zip(fit, balance)]
    assert _worst_pairs(fit, balance).tolist() == expected
    assert expected[2] == "failed:MissingLiabilities: m" and expected[4] == "ok" and expected[5] == "warning:A"
