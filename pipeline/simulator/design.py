"""Fixed design of the simulated banking system: roster, stress episodes, anchor paths.

These are structural choices documented in ``docs/simulator.md``; the numbers
fitted to the real data (volatilities, correlations, sizes, ratios) live in
``pipeline/simulator_calibration.json`` and are written by :mod:`pipeline.calibrate`.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUPS = ("state-owned", "joint-stock", "city")
GROUP_PREFIX = {"state-owned": "SOB", "joint-stock": "JSB", "city": "CCB"}
GROUP_SIZE = {"state-owned": 5, "joint-stock": 8, "city": 3}

#: The two joint-stock banks whose idiosyncratic shocks lead every other bank by one day.
LEADERS = ("JSB01", "JSB02")
#: Planted lead–lag: follower j's return gets phi_{L,y} * e_{L,t-1} from each leader L, with
#: phi_{L,y} = clip(LEAD_PHI - LEAD_PHI_CAR * (CAR_{L,y} - mean_y CAR_{L,y}), LEAD_PHI_MIN, LEAD_PHI_MAX).
LEAD_PHI = 0.25
LEAD_PHI_CAR = 10.0
LEAD_PHI_MIN = 0.05
LEAD_PHI_MAX = 0.50
#: Planted capital gap of the leaders (cross-sectional): lower CAR and lower leverage ratio.
LEADER_CAR_OFFSET = -0.007
LEADER_EQUITY_OFFSET = -0.005

#: Loadings rise with stress: beta_{i,t} = beta_i * k_t, k_t proportional to clip(1 + LOADING_STRESS * (s_t - 1), 0.8, 1.6)
#: (normalized in markets.simulate_factor),
#: s_t = factor volatility / its unconditional level.
LOADING_STRESS = 0.15
LOADING_CLIP = (0.8, 1.6)

#: Valuation anchor: log price-to-book reverts to log(PB_TARGET) at rate PB_REVERSION per year.
PB_TARGET = 1.1
PB_REVERSION = 0.75

BURN_IN_DAYS = 300  # business days simulated before ``start`` (GARCH states, rolling volatility)


@dataclass(frozen=True)
class Episode:
    """A stress episode: dates, factor-volatility multiplier, annualized drifts, state shocks."""

    name: str
    start: str
    end: str
    factor_vol: float  # multiplies the bank factor's shock
    factor_drift: float  # annualized log drift added to the bank factor
    stock_vol: float  # multiplies the broad stock market's own shock
    stock_drift: float  # annualized drift of the broad stock market's own component
    fx_vol: float = 1.0  # multiplies the daily noise of USD/CNY


EPISODES = (
    Episode("2008 bear market", "2008-01-14", "2008-06-30", 1.4, -0.50, 1.3, -0.80),
    Episode("2008 global financial crisis", "2008-07-01", "2008-12-31", 2.2, -0.50, 1.5, -0.60),
    Episode("2013 money-market squeeze", "2013-06-03", "2013-06-28", 1.6, -1.50, 1.3, -0.50),
    Episode("2014-15 stock boom", "2014-11-03", "2015-06-12", 1.15, 0.40, 1.3, 0.60),
    Episode("2015 stock-market crash", "2015-06-15", "2015-09-30", 2.2, -0.60, 2.2, -1.20),
    Episode("2015 FX devaluation", "2015-08-11", "2015-09-30", 1.2, 0.0, 1.1, 0.0, 3.0),
)

#: Shibor overnight (percent) anchor levels; log-linear in between.
MONEY_ANCHORS = (
    ("2006-01-01", 1.8), ("2007-10-12", 2.4), ("2008-06-30", 2.6), ("2008-12-31", 1.0),
    ("2009-06-30", 0.9), ("2010-06-30", 1.9), ("2011-06-30", 3.0), ("2012-06-30", 2.4),
    ("2013-05-15", 3.0), ("2013-09-30", 3.4), ("2014-06-30", 2.6), ("2015-03-31", 3.0),
    ("2015-06-30", 1.3), ("2016-06-30", 2.0), ("2017-06-30", 2.7), ("2018-06-30", 2.5),
    ("2019-06-30", 2.0), ("2020-05-15", 1.0), ("2020-12-31", 1.4),
)
#: The June 2013 squeeze: triangular bump in log money rate peaking at MONEY_SPIKE_PEAK percent.
MONEY_SPIKE = ("2013-06-06", "2013-06-20", "2013-07-05")
MONEY_SPIKE_PEAK = 13.4

#: 10-year government bond yield (percent) anchors for the bond composite.
YIELD_ANCHORS = (
    ("2006-01-01", 3.2), ("2007-10-12", 4.4), ("2008-09-15", 4.0), ("2008-12-31", 2.8),
    ("2009-12-31", 3.6), ("2010-12-31", 3.9), ("2011-09-30", 4.0), ("2012-06-30", 3.3),
    ("2013-06-30", 3.4), ("2013-11-20", 4.6), ("2014-12-31", 3.6), ("2015-12-31", 2.8),
    ("2016-10-31", 2.7), ("2017-11-20", 3.9), ("2018-12-31", 3.3), ("2019-12-31", 3.15),
    ("2020-04-30", 2.5), ("2020-12-31", 3.15),
)
BOND_DURATION = 4.5

#: USD/CNY central parity anchors (direct quotation, CNY per USD); the 2015-08-11..13 devaluation
#: is three consecutive one-day jumps.
FX_ANCHORS = (
    ("2006-01-01", 8.07), ("2007-10-12", 7.51), ("2008-07-15", 6.83), ("2010-06-18", 6.83),
    ("2014-01-15", 6.10), ("2014-06-30", 6.15), ("2015-08-10", 6.1162), ("2015-08-11", 6.2298),
    ("2015-08-12", 6.3306), ("2015-08-13", 6.4010), ("2015-12-31", 6.49), ("2016-12-30", 6.94),
    ("2017-12-29", 6.53), ("2018-10-31", 6.96), ("2019-09-03", 7.08), ("2020-05-29", 7.13),
    ("2020-12-31", 6.52),
)
FX_PEG = ("2008-07-15", "2010-06-18")
