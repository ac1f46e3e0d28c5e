"""The balance-sheet cross-section of the network stress stages (``stress_cascade``, ``stress_interbank``).

Both stages run on the 263-bank simulated cross-section of :mod:`pipeline.simulator.network_banks`
when their ``source`` resolves to ``synthetic`` (:func:`measures.stress.coverage.resolve_source`),
else on the user's canonical ``balance_sheet`` through the stage's own input plan (which banks and
which period; its exclusions are quality records). This module is that shared wiring: one place
that labels a simulated run (``ctx.data_source``, and a ``simulated_input`` record when the
dataset is the user's files) and says why the user's data cannot be used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from measures.core.status import NotEstimable
from measures.stress.coverage import resolve_source, simulated_input_event
from pipeline.artifacts import artifact

GENERATOR = "pipeline.simulator.network_banks"


def cross_section(ctx, group: str, cfg, plan: Callable[[], object], *, columns: Sequence[str] | None = None):
    """``(frame, period end)`` the stage runs on: simulated, or ``plan()`` of the user's balance sheets.

    ``cfg`` has ``source`` and ``seed``; ``plan`` returns an input plan with ``frame``, ``period``,
    ``events``, ``reason`` and ``needs`` (``reason`` set: the stage is not estimable, with ``needs``).
    """
    data = ctx.config("data")
    if resolve_source(cfg.source, data.source) == "synthetic":
        from pipeline.simulator.network_banks import PERIOD_END, simulate_network_banks

        if data.source == "files":
            ctx.events(simulated_input_event(f"{group}.source"), table="balance_sheet")
        ctx.data_source = {"kind": "synthetic", "generator": GENERATOR, "seed": cfg.seed}
        frame = simulate_network_banks(seed=cfg.seed)
        return (frame if columns is None else frame[list(columns)]), PERIOD_END
    inputs = plan()
    ctx.events(inputs.events, table="balance_sheet")
    if inputs.reason:
        raise NotEstimable(f"{inputs.reason} (records: {artifact(f'quality/{ctx.stage.name}').path})", needs=inputs.needs)
    return inputs.frame, inputs.period


def simulated_check(group: str, cfg, data_kind: str, what: str) -> list[tuple[str, str]] | None:
    """The ``check`` line of a simulated run (None when the stage runs on the user's balance sheets)."""
    if resolve_source(cfg.source, data_kind) != "synthetic":
        return None
    note = f" — NOT your balance sheets ({group}.source: synthetic)" if data_kind == "files" else ""
    return [("estimates", f"SIMULATED data ({GENERATOR}, seed {cfg.seed}){note}: {what}")]
