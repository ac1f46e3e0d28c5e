"""The simulated banks for any system size: groups, names, sizes, leaders and leader pairs.

The 16-bank design (``design.GROUP_SIZE``: 5 state-owned, 8 joint-stock, 3 city banks; leaders
``JSB01`` and ``JSB02``, followed by every other bank) is scaled to ``n_banks`` banks by three
rules (docs/simulator.md, "Any number of banks"):

* **groups** keep the 16-bank proportions, allocated by largest remainder (Hamilton): each group
  gets ``floor(n * size_g / 16)`` banks, and the banks left go one each to the groups with the
  largest fractional parts (ties in the order of ``design.GROUPS``);
* **leaders** come in pairs, one pair per complete 16 banks (``P = max(1, n // 16)`` pairs): the
  ``2P`` largest joint-stock banks, pair ``p`` being ``JSB(2p+1)`` and ``JSB(2p+2)``;
* **followers** (every other bank, in roster order) are dealt to the pairs in turn: follower
  ``j`` follows pair ``j mod P``. With ``n`` a multiple of 16 every pair leads 5 state-owned,
  6 joint-stock and 3 city banks, the 16-bank motif; at ``n = 16`` every follower follows both leaders.

Bank ids are the group prefix and the rank within the group, zero-padded to at least two digits
(``SOB01``; ``JSB001`` when a group has 100 or more banks), so that id order is rank order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.params import N_BANKS_RANGE

from . import design

#: At 8 banks every group has one, the joint-stock group two leaders plus followers, and there are
#: three suspension candidates; 10,000 banks are about 33 M price rows (one machine's memory).
MIN_BANKS, MAX_BANKS = N_BANKS_RANGE
BANKS_PER_PAIR = sum(design.GROUP_SIZE.values())  # 16: one leader pair per complete 16 banks


def check_n_banks(n_banks: object) -> int:
    """``n_banks`` as an int, or ValueError naming the value and the allowed range."""
    if isinstance(n_banks, bool) or not isinstance(n_banks, (int, np.integer)) or not MIN_BANKS <= n_banks <= MAX_BANKS:
        raise ValueError(f"n_banks={n_banks!r} is not allowed; allowed: an integer from {MIN_BANKS} to {MAX_BANKS} (16 = the default system)")
    return int(n_banks)


def group_counts(n_banks: int) -> dict[str, int]:
    """Banks per group in the 16-bank proportions, by largest remainder (ties in ``design.GROUPS`` order)."""
    n = check_n_banks(n_banks)
    total = BANKS_PER_PAIR
    counts = {g: n * design.GROUP_SIZE[g] // total for g in design.GROUPS}
    remainders = {g: n * design.GROUP_SIZE[g] % total for g in design.GROUPS}
    left = n - sum(counts.values())
    for g in sorted(design.GROUPS, key=lambda g: (-remainders[g], design.GROUPS.index(g)))[:left]:
        counts[g] += 1
    return counts


def n_pairs(n_banks: int) -> int:
    """Leader pairs: one per complete 16 banks, at least one."""
    return max(1, check_n_banks(n_banks) // BANKS_PER_PAIR)


def bank_roster(n_banks: int = 16) -> pd.DataFrame:
    """The simulated banks in roster order (groups in ``design.GROUPS`` order, then size rank).

    Columns: bank_id, name, group, ``size`` (within-group weight ``exp(0.5 (1 - 2k/(n-1)))``
    normalized to mean one, bank 1 the largest), ``leader`` (bool) and ``pair`` (the leader pair
    a leader belongs to or a follower follows).
    """
    counts = group_counts(n_banks)
    pairs = n_pairs(n_banks)
    rows = []
    for group in design.GROUPS:
        n = counts[group]
        w = np.exp(0.5 * (1 - 2 * np.arange(n) / max(n - 1, 1)))
        w = w / w.mean()
        digits = max(2, len(str(n)))
        for k in range(n):
            bank_id = f"{design.GROUP_PREFIX[group]}{k + 1:0{digits}d}"
            leader = group == "joint-stock" and k < 2 * pairs
            rows.append({"bank_id": bank_id, "name": f"Simulated {group} bank {k + 1}", "group": group, "size": w[k],
                         "leader": leader, "pair": k // 2 if leader else -1})
    banks = pd.DataFrame(rows)
    follower = ~banks["leader"].to_numpy()
    banks.loc[follower, "pair"] = np.arange(int(follower.sum())) % pairs
    return banks


def leader_pairs(banks: pd.DataFrame) -> list[np.ndarray]:
    """Row positions in ``banks`` of the two leaders of each pair, pair by pair."""
    leaders = np.flatnonzero(banks["leader"].to_numpy())
    pair = banks["pair"].to_numpy()[leaders]
    return [leaders[pair == p] for p in range(int(pair.max()) + 1)]
