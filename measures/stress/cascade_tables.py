r"""Fan–Rong–Duan's Table 1: descriptive statistics of the banks' balance-sheet items (docs/cascade.md §10).

One row per item the cross-section supports, with the count, mean, standard deviation (Fan–Rong–Duan's
column "方差" holds standard deviations: 1.66 for the log of total assets), quartiles, minimum and
maximum. Items (in Fan–Rong–Duan's order, then the network's inputs):

* ``ln_total_assets`` — :math:`\ln(\text{total assets} / 10^4)`, total assets in :math:`10^4`
  units of the data's currency (Fan–Rong–Duan: 10⁴ yuan);
* ``car`` — capital adequacy ratio, % (column ``car`` as a fraction, when the input has it);
* ``leverage`` — total assets / equity;
* ``ldr`` — loan-to-deposit ratio, % (column ``ldr``, else loans / ``deposits`` when given);
* ``loans_share``, ``securities_share``, ``interbank_assets_share``, ``interbank_liabilities_share``
  — % of total assets.

Fan–Rong–Duan's other rows (risk-weighted assets / assets, non-performing-loan and provision ratios)
are not inputs of the cascade and are not computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DESCRIPTIVE_COLUMNS = ("item", "order", "label", "n", "mean", "sd", "q25", "q50", "q75", "min", "max")


def _items(frame: pd.DataFrame) -> list[tuple[str, str, pd.Series]]:
    assets = frame["total_assets"].astype(float)
    share = {c: 100.0 * frame[c].astype(float) / assets for c in
             ("loans", "securities", "interbank_assets", "interbank_liabilities") if c in frame}
    items = [("ln_total_assets", "ln(total assets, 10^4 currency units)", np.log(assets / 1e4))]
    if "car" in frame:
        items.append(("car", "capital adequacy ratio, %", 100.0 * frame["car"].astype(float)))
    items.append(("leverage", "leverage (total assets / equity)", assets / frame["equity"].astype(float)))
    if "ldr" in frame:
        items.append(("ldr", "loan-to-deposit ratio, %", 100.0 * frame["ldr"].astype(float)))
    elif "deposits" in frame:
        items.append(("ldr", "loan-to-deposit ratio, %", 100.0 * frame["loans"] / frame["deposits"]))
    items += [(f"{c}_share", f"{c.replace('_', ' ')}, % of total assets", v) for c, v in share.items()]
    return items


def balance_sheet_descriptives(frame: pd.DataFrame) -> pd.DataFrame:
    """Table 1 of the cross-section ``frame`` (one row per bank; module docstring for the items).

    Non-finite values (e.g. a ratio with a zero denominator) are left out of an item's statistics;
    ``n`` counts the banks used. Standard deviations use ``ddof = 1``; quantiles are linear.
    """
    rows = []
    for order, (item, label, values) in enumerate(_items(frame), start=1):
        v = values.to_numpy(float)
        v = v[np.isfinite(v)]
        stats = dict(mean=np.nan, sd=np.nan, q25=np.nan, q50=np.nan, q75=np.nan, min=np.nan, max=np.nan)
        if v.size:
            q = np.quantile(v, [0.25, 0.5, 0.75])
            stats = dict(mean=v.mean(), sd=v.std(ddof=1) if v.size > 1 else np.nan, q25=q[0], q50=q[1], q75=q[2],
                         min=v.min(), max=v.max())
        rows.append({"item": item, "order": order, "label": label, "n": int(v.size), **stats})
    return pd.DataFrame(rows, columns=list(DESCRIPTIVE_COLUMNS))


BOUNDARY_STATS_COLUMNS = ("rule", "group", "n_banks", "joint_boundary", "joint_fraction", "mean", "sd", "min", "q25",
                          "q50", "q75", "max")
RULES = {"equity": ("boundary", "fraction"), "dependency": ("boundary_dependency", "fraction_dependency")}


def boundary_stats(bounds: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Fan–Rong–Duan's tables 2–3 per boundary rule (``equity``, ``dependency``) and group of ``groups``
    (name → member bank ids): the group's joint boundary and fraction (its ``kind == "group"`` row of
    ``bounds``, the output of :func:`measures.stress.cascade_study.boundaries`) and the mean, sd, min,
    quartiles and max of its members' individual boundaries (infinite boundaries left out)."""
    banks = bounds[bounds["kind"] == "bank"].set_index("id")
    joint = bounds[bounds["kind"] == "group"].set_index("id")
    rows = []
    for rule, (column, fraction) in RULES.items():
        for name, members in groups.items():
            b = banks.loc[list(members), column].replace([np.inf, -np.inf], np.nan)
            rows.append({"rule": rule, "group": name, "n_banks": len(members), "joint_boundary": joint.loc[name, column],
                         "joint_fraction": joint.loc[name, fraction], "mean": b.mean(), "sd": b.std(), "min": b.min(),
                         "q25": b.quantile(0.25), "q50": b.median(), "q75": b.quantile(0.75), "max": b.max()})
    return pd.DataFrame(rows, columns=list(BOUNDARY_STATS_COLUMNS))
