"""Model specifications: a panel model is data (a frozen, validated spec), not code.

Liu–Ma 2021 (eq. 7, as restored in docs/panel.md):

    CRW_it = mu_i + b1 R1_it + b2 R2_it + b3 R1_it * R2_it + sum_c g_c Control_c,it + e_it

with R1 in {CAR, LEV} (solvency) and R2 in {LCR, LDR, LIQ} (liquidity). The nine default
models are listed in :data:`SEED003_MODELS`; :func:`model_specs` builds any list of specs
from plain mappings (a ``params.yaml`` group), and :func:`seed003_models` the nine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from measures.core.adapters.linearmodels_adapter import COVARIANCES, KERNELS
from measures.core.config import Config, check_choice, check_range

#: Covariance estimators offered to the user (``unadjusted`` is used internally by Hausman).
SPEC_COVARIANCES = tuple(c for c in COVARIANCES if c != "unadjusted")

#: Liu–Ma 2021's nine models (docs/panel.md): regulator main effects and their products.
SEED003_MODELS: tuple[dict[str, Any], ...] = (
    {"name": "m1", "regulators": ["car", "lcr"], "interactions": [["car", "lcr"]]},
    {"name": "m2", "regulators": ["car", "ldr"], "interactions": [["car", "ldr"]]},
    {"name": "m3", "regulators": ["car", "liq"], "interactions": [["car", "liq"]]},
    {"name": "m4", "regulators": ["lev", "lcr"], "interactions": [["lev", "lcr"]]},
    {"name": "m5", "regulators": ["lev", "ldr"], "interactions": [["lev", "ldr"]]},
    {"name": "m6", "regulators": ["lev", "liq"], "interactions": [["lev", "liq"]]},
    {"name": "m7", "regulators": ["car"]},
    {"name": "m8", "regulators": ["lev"]},
    {"name": "m9", "regulators": ["lcr"]},
)

#: Liu–Ma 2021's controls: NPL ratio, net interest margin, loan growth.
SEED003_CONTROLS = ("npl", "nim", "loan_growth")


def interaction_name(pair: tuple[str, str]) -> str:
    """Column name of the product term ``a * b`` (R's ``a:b``)."""
    return f"{pair[0]}:{pair[1]}"


def _names(field: str, value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{where}{field}={value!r} must be a list of column names")
    for item in value:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{where}{field}={value!r}: every entry must be a non-empty column name, got {item!r}")
    return tuple(value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSpec(Config):
    """One panel regression: ``dependent ~ regulators + interactions + controls`` with effects.

    Parameters
    ----------
    name : str
        Model label (a column of Table 2, the ``model`` key of the tidy outputs).
    dependent : str
        Dependent variable (Liu–Ma 2021: the contagion risk weight ``crw``).
    regulators : sequence of str
        Regulator main effects (at least one).
    interactions : sequence of (str, str)
        Products ``a * b`` of two distinct main effects of the model (regulators or
        controls); the term is named ``"a:b"``.
    controls : sequence of str
        Control variables (Liu–Ma 2021: ``npl``, ``nim``, ``loan_growth``; ``ln_assets`` optional).
    entity_effects, time_effects : bool
        Bank fixed effects ``mu_i`` (Liu–Ma 2021) and optional year effects ``lambda_t``.
        Without entity effects the model is pooled OLS with a constant and no Hausman test.
    covariance : {"clustered", "robust", "driscoll-kraay"}
        ``clustered`` by bank (default), White ``robust``, or Driscoll & Kraay (1998).
    small_sample : bool
        Default True: the clustered covariance is scaled by G/(G-1) (n-1)/(n-k)
        (Stata ``xtreg, fe vce(cluster)``, R plm ``vcovHC(type="sss")``); robust and
        Driscoll–Kraay by n/(n-d-k). False: no G/(G-1) and no -k (see the adapter).
    kernel : {"bartlett", "parzen", "qs"}
        Driscoll–Kraay kernel.
    bandwidth : int or None
        Driscoll–Kraay bandwidth (maximum lag, >= 0, below the number of years);
        None uses linearmodels' default ``floor(4 (T/100)^(2/9))``.
    """

    name: str
    dependent: str = "crw"
    regulators: tuple[str, ...]
    interactions: tuple[tuple[str, str], ...] = ()
    controls: tuple[str, ...] = ()
    entity_effects: bool = True
    time_effects: bool = False
    covariance: str = "clustered"
    small_sample: bool = True
    kernel: str = "bartlett"
    bandwidth: int | None = None

    def __post_init__(self) -> None:
        where = f"model {self.name!r}: " if isinstance(self.name, str) else ""
        object.__setattr__(self, "regulators", _names("regulators", self.regulators, where))
        object.__setattr__(self, "controls", _names("controls", self.controls, where))
        pairs = []
        if isinstance(self.interactions, str) or not isinstance(self.interactions, Sequence):
            raise ValueError(f"{where}interactions={self.interactions!r} must be a list of [a, b] pairs")
        for pair in self.interactions:
            if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"{where}interactions entry {pair!r} must be a pair [a, b] of two column names")
            pairs.append(_names("interactions", pair, where))
        object.__setattr__(self, "interactions", tuple(pairs))
        super().__post_init__()

    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name={self.name!r} must be a non-empty string")
        where = f"model {self.name!r}: "
        if not isinstance(self.dependent, str) or not self.dependent:
            raise ValueError(f"{where}dependent={self.dependent!r} must be a column name")
        if not self.regulators:
            raise ValueError(f"{where}regulators=() is empty; a model needs at least one regulator")
        for flag in ("entity_effects", "time_effects", "small_sample"):
            check_choice(f"{where}{flag}", getattr(self, flag), (True, False))
        main = self.regulators + self.controls
        seen: set[str] = set()
        for term in main:
            if term in seen:
                raise ValueError(f"{where}term {term!r} appears twice among regulators and controls")
            seen.add(term)
        if self.dependent in seen:
            raise ValueError(f"{where}the dependent variable {self.dependent!r} is also a regressor")
        for a, b in self.interactions:
            if a == b:
                raise ValueError(f"{where}interaction [{a!r}, {b!r}] multiplies a variable by itself")
            for member in (a, b):
                if member not in seen:
                    raise ValueError(
                        f"{where}interaction [{a!r}, {b!r}]: {member!r} is not a main effect of the model; "
                        f"main effects: {', '.join(main)}"
                    )
        names = [interaction_name(p) for p in self.interactions]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}an interaction is listed twice: {names}")
        check_choice(f"{where}covariance", self.covariance, SPEC_COVARIANCES)
        check_choice(f"{where}kernel", self.kernel, KERNELS)
        if self.bandwidth is not None:
            check_range(f"{where}bandwidth", self.bandwidth, low=0, integer=True)

    @property
    def terms(self) -> tuple[str, ...]:
        """Regressor names in table order: regulators, interactions, controls."""
        return self.regulators + tuple(interaction_name(p) for p in self.interactions) + self.controls

    @property
    def variables(self) -> tuple[str, ...]:
        """Data columns the model reads: the dependent variable, then the main effects."""
        return (self.dependent,) + self.regulators + self.controls


def model_variables(specs: Sequence[ModelSpec]) -> tuple[str, ...]:
    """Distinct data columns of a model list, for Table 1: dependent variables, regulators, controls."""
    specs = tuple(specs)
    ordered = [s.dependent for s in specs] + [r for s in specs for r in s.regulators] + [c for s in specs for c in s.controls]
    return tuple(dict.fromkeys(ordered))


def model_specs(models: Sequence[Mapping[str, Any]], *, defaults: Mapping[str, Any] | None = None) -> tuple[ModelSpec, ...]:
    """Build specs from plain mappings (e.g. ``params.yaml: panel.models``).

    Each entry is merged over ``defaults`` (entry keys win); unknown keys raise naming the
    entry. Model names must be unique.
    """
    if isinstance(models, Mapping) or isinstance(models, str) or not isinstance(models, Sequence) or not models:
        raise ValueError(f"models={models!r} must be a non-empty list of model mappings")
    specs = []
    for i, entry in enumerate(models):
        if not isinstance(entry, Mapping):
            raise ValueError(f"models[{i}]={entry!r} must be a mapping with at least 'name' and 'regulators'")
        merged = {**dict(defaults or {}), **dict(entry)}
        specs.append(ModelSpec.from_mapping(merged, where=f"models[{i}]"))
    names = [s.name for s in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"model names must be unique; duplicated: {', '.join(duplicated)}")
    return tuple(specs)


def seed003_models(options: Mapping[str, Any] | None = None) -> tuple[ModelSpec, ...]:
    """Liu–Ma 2021's nine models (docs/panel.md) with common ``options``.

    ``options`` may set any :class:`ModelSpec` field except ``name``, ``regulators`` and
    ``interactions`` (default controls: NPL, NIM, loan growth), plus ``ln_assets: true``
    to append the control ``ln_assets`` (log total assets; Liu–Ma 2021's optional size control).
    """
    options = dict(options or {})
    fixed = sorted({"name", "regulators", "interactions"} & set(options))
    if fixed:
        raise ValueError(f"seed003_models: options {', '.join(fixed)} are fixed by the nine models; edit the model list instead")
    ln_assets = options.pop("ln_assets", False)
    check_choice("ln_assets", ln_assets, (True, False))
    controls = tuple(options.pop("controls", SEED003_CONTROLS))
    if ln_assets and "ln_assets" not in controls:
        controls += ("ln_assets",)
    return model_specs(SEED003_MODELS, defaults={**options, "controls": controls})
