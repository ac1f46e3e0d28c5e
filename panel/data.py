"""Design matrices for a :class:`~panel.spec.ModelSpec`, with exclusion records and input checks.

Rows with a missing (NaN or infinite) value in any variable of a model are dropped from
that model only and returned as exclusion records ``(model, bank_id, year, reason)``
(no silent drop: docs/references.md, "Data quality"). Inputs that cannot identify the model raise a
``ValueError`` naming the model and the variable: a missing column, a duplicate
(bank, year), fewer than two years, a regressor constant within every bank (absorbed by
the bank effects) or within every year (absorbed by year effects), and perfect
collinearity of the regressors after the effects are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from panel.spec import ModelSpec

ENTITY = "bank_id"
TIME = "year"
EXCLUSION_COLUMNS = ("model", ENTITY, TIME, "reason")


@dataclass(frozen=True)
class ModelData:
    """The estimation sample of one model: ``y`` (n,), ``x`` (n, k) in ``spec.terms`` order."""

    spec: ModelSpec
    y: np.ndarray
    x: np.ndarray
    entity: np.ndarray
    time: np.ndarray
    exclusions: pd.DataFrame

    @property
    def names(self) -> tuple[str, ...]:
        return self.spec.terms


def check_panel(data: pd.DataFrame) -> None:
    """Raise ``ValueError`` unless ``data`` has ``bank_id`` and ``year`` without gaps or duplicates."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in (ENTITY, TIME) if c not in data.columns]
    if missing:
        raise ValueError(f"data: missing key column(s) {', '.join(missing)}; available columns: {', '.join(map(str, data.columns))}")
    for col in (ENTITY, TIME):
        if data[col].isna().any():
            row = int(np.flatnonzero(data[col].isna().to_numpy())[0])
            raise ValueError(f"data: column {col!r} has a missing value (row {row})")
    if not pd.api.types.is_numeric_dtype(data[TIME]) or pd.api.types.is_bool_dtype(data[TIME]):
        raise ValueError(f"data: column {TIME!r} must hold numeric years, got dtype {data[TIME].dtype}")
    dup = data.duplicated([ENTITY, TIME], keep=False)
    if dup.any():
        bank, year = (v.item() if isinstance(v, np.generic) else v for v in data.loc[dup, [ENTITY, TIME]].iloc[0])
        raise ValueError(
            f"data: duplicate (bank_id, year) = ({bank!r}, {year!r}) "
            f"({int(dup.sum())} duplicated rows); each bank may appear once per year"
        )


def _numeric(data: pd.DataFrame, column: str, model: str) -> np.ndarray:
    try:
        return pd.to_numeric(data[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model {model!r}: column {column!r} is not numeric ({exc})") from None


def _demean(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    codes, _ = pd.factorize(groups)
    counts = np.bincount(codes)
    out = np.empty_like(values)
    for j in range(values.shape[1]):
        out[:, j] = values[:, j] - (np.bincount(codes, weights=values[:, j]) / counts)[codes]
    return out


def _check_identified(spec: ModelSpec, x: np.ndarray, entity: np.ndarray, time: np.ndarray) -> None:
    """Absorbed regressors and perfect collinearity, named by variable."""
    where = f"model {spec.name!r}"
    terms = spec.terms
    scale = np.sqrt((x**2).mean(axis=0))
    scale[scale == 0] = 1.0
    xs = x / scale
    for effect, groups, label in ((spec.entity_effects, entity, "bank"), (spec.time_effects, time, "year")):
        if not effect:
            continue
        within = _demean(xs, groups)
        for j, term in enumerate(terms):
            if np.max(np.abs(within[:, j])) <= 1e-10:
                raise ValueError(
                    f"{where}: regressor {term!r} is constant within every {label}; it is absorbed by the "
                    f"{label} effects and cannot be estimated — remove it from the model"
                )
    # Remove the effects (dummies for the second effect, then the first by demeaning) and
    # add the terms one at a time: the first term that does not raise the rank is collinear.
    base = np.empty((len(xs), 0))
    if spec.entity_effects and spec.time_effects:
        codes, _ = pd.factorize(time)
        base = np.eye(codes.max() + 1)[codes][:, 1:]
    design = np.column_stack([base, xs])
    if spec.entity_effects:
        design = _demean(design, entity)
    elif not spec.time_effects:
        design = np.column_stack([np.ones(len(xs)), design])
    else:
        design = _demean(design, time)
    start = design.shape[1] - len(terms)
    rank = np.linalg.matrix_rank(design[:, :start]) if start else 0
    for j, term in enumerate(terms):
        new_rank = np.linalg.matrix_rank(design[:, : start + j + 1])
        if new_rank == rank:
            others = ", ".join(terms[:j]) or ("the effects" if spec.entity_effects or spec.time_effects else "the constant")
            raise ValueError(
                f"{where}: regressor {term!r} is perfectly collinear with {others} "
                f"(after removing the effects); remove it or one of them"
            )
        rank = new_rank


def model_data(data: pd.DataFrame, spec: ModelSpec) -> ModelData:
    """Select, clean and check the estimation sample of ``spec`` from a (bank_id, year) panel.

    Parameters
    ----------
    data : DataFrame
        Long panel with ``bank_id``, ``year`` and the model's variables; need not be balanced.
    spec : ModelSpec

    Returns
    -------
    ModelData
        Sorted by (bank_id, year); ``exclusions`` lists every dropped row with its reason
        (``"missing <var>[, <var>...]"``).
    """
    check_panel(data)
    missing = [c for c in spec.variables if c not in data.columns]
    if missing:
        raise ValueError(
            f"model {spec.name!r}: missing column(s) {', '.join(missing)}; "
            f"available columns: {', '.join(map(str, data.columns))}"
        )
    frame = data.sort_values([ENTITY, TIME], kind="stable")
    values = {c: _numeric(frame, c, spec.name) for c in spec.variables}
    bad = {c: ~np.isfinite(v) for c, v in values.items()}
    drop = np.zeros(len(frame), dtype=bool)
    for mask in bad.values():
        drop |= mask
    entity = frame[ENTITY].to_numpy()
    time = frame[TIME].to_numpy()
    reasons = [
        "missing " + ", ".join(c for c in spec.variables if bad[c][i]) for i in np.flatnonzero(drop)
    ]
    exclusions = pd.DataFrame(
        {"model": spec.name, ENTITY: entity[drop], TIME: time[drop], "reason": reasons},
        columns=list(EXCLUSION_COLUMNS),
    )
    keep = ~drop
    columns = [values[t][keep] for t in spec.regulators]
    columns += [values[a][keep] * values[b][keep] for a, b in spec.interactions]
    columns += [values[t][keep] for t in spec.controls]
    x = np.column_stack(columns)
    y = values[spec.dependent][keep]
    entity, time = entity[keep], time[keep]
    n_years = len(pd.unique(time))
    if n_years < 2:
        raise ValueError(
            f"model {spec.name!r}: the estimation sample has {n_years} year(s) after dropping "
            f"{int(drop.sum())} row(s) with missing values; a panel needs at least 2 periods"
        )
    _check_identified(spec, x, entity, time)
    return ModelData(spec=spec, y=y, x=x, entity=entity, time=time, exclusions=exclusions)


def lag_regressors(data: pd.DataFrame, columns: Sequence[str], *, lag: int = 1) -> pd.DataFrame:
    """Replace ``columns`` by their value ``lag`` years earlier for the same bank.

    Liu–Ma 2021 use contemporaneous year-end ratios; this is the lagged-regressor option.
    The value of (bank, year) becomes that of (bank, year - lag); it is missing (and the
    row then excluded by :func:`model_data` as ``missing <column>``) when that year is absent.
    """
    check_panel(data)
    if isinstance(lag, bool) or not isinstance(lag, int) or lag < 1:
        raise ValueError(f"lag={lag!r} must be an integer >= 1")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"lag_regressors: missing column(s) {', '.join(missing)}")
    columns = list(columns)
    earlier = data[[ENTITY, TIME, *columns]].assign(**{TIME: data[TIME] + lag})
    out = data.drop(columns=columns).merge(earlier, on=[ENTITY, TIME], how="left", validate="one_to_one")
    return out[list(data.columns)]
