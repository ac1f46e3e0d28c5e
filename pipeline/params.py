"""Typed, validated views of ``params.yaml`` groups.

Each stage reads only the groups it declares in ``dvc.yaml``; these frozen,
keyword-only configurations reject unknown keys and out-of-range values with
the allowed values in the message (see ``measures.core.config``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from measures.core.config import Config, ConfigError, check_choice, check_range

SOURCES = ("synthetic", "files")
FORMATS = ("canonical", "wind", "toolbox")
#: data.n_banks: simulated system sizes (pipeline.simulator.roster: at 8 banks every group has one,
#: the joint-stock group two leaders and followers; above 10,000 one machine's memory is the limit)
N_BANKS_RANGE = (8, 10_000)
DEFAULT_N_BANKS = 16


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig(Config):
    """``data``: where the canonical tables come from (docs/parameters.md)."""

    source: str = "synthetic"
    seed: int = 20071012
    n_banks: int = DEFAULT_N_BANKS
    start: str | None = "2007-10-12"
    end: str | None = "2020-12-31"
    format: str = "canonical"
    raw_dir: str = "data/raw"
    files: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    currency: str = "CNY"
    money_unit: str = ""
    publication_lag_days: int | None = 120
    bank_groups: Mapping[str, str] = dataclasses.field(default_factory=dict)
    market_states: tuple[Mapping[str, Any], ...] = ()
    # data.screens: validated by the returns stage (measures.screens.ScreensConfig, whose defaults params.yaml holds);
    # kept out of the comparison so that editing the screens module reruns the returns stage only
    screens: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def validate(self) -> None:
        check_choice("data.source", self.source, SOURCES)
        check_choice("data.format", self.format, FORMATS)
        check_range("data.seed", self.seed, low=0, integer=True)
        check_n_banks(self.n_banks, self.source)
        if self.publication_lag_days is not None:
            check_range("data.publication_lag_days", self.publication_lag_days, low=0, integer=True)
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is None and self.source == "files":
                continue
            try:
                import pandas as pd

                pd.Timestamp(str(value))
            except ValueError:
                raise ValueError(f"data.{name}={value!r} is not a date; allowed: YYYY-MM-DD") from None


def check_n_banks(n_banks: Any, source: str = "synthetic") -> None:
    """``data.n_banks``: an integer in :data:`N_BANKS_RANGE` with the simulator; the default with files."""
    lo, hi = N_BANKS_RANGE
    if isinstance(n_banks, bool) or not isinstance(n_banks, int) or not lo <= n_banks <= hi:
        raise ConfigError(f"data: n_banks={n_banks!r} is not allowed; allowed: an integer from {lo} to {hi} "
                          f"(the number of simulated banks; {DEFAULT_N_BANKS} = the default system)")
    if source == "files" and n_banks != DEFAULT_N_BANKS:
        raise ConfigError(f"data: n_banks={n_banks} applies to data.source: synthetic only (the banks of data.source: files "
                          f"are those of your tables); allowed: n_banks: {DEFAULT_N_BANKS} (the default, unused) with files, "
                          "or data.source: synthetic")


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read ``params.yaml`` as a plain mapping."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameter file {path} not found")
    with path.open(encoding="utf-8") as fh:
        params = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}  # the C loader: same mapping, 6x faster
    if not isinstance(params, dict):
        raise ValueError(f"{path}: top level must be a mapping of parameter groups")
    return params


def group(params: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path (``"measures.covar_qr"``); a missing group raises naming it."""
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(f"params.yaml has no group {dotted!r} (missing {part!r})")
        node = node[part]
    return node


def known_groups() -> tuple[str, ...]:
    """Every params group a stage declares, read from the ``params={...}`` literals of
    ``pipeline/stages/*.py`` without importing them (the runner of one stage must not load the
    others: its DVC deps are its own import closure)."""
    declared = _declared_groups(tuple(sorted(Path(__file__).with_name("stages").glob("*.py"))))
    return tuple(sorted({*declared, *RUNNER_GROUPS}))


#: The params group of the scheduler, read by the runner of every stage (docs/scale.md).
COMPUTE_GROUP = "compute"
#: Groups the runner reads for every stage, beside the groups the stages declare.
RUNNER_GROUPS = (COMPUTE_GROUP,)
#: The top-level switch of real-time estimation (docs/realtime.md): a boolean, not a group.
REALTIME_KEY = "realtime"
REALTIME_VALUES = (False, True)


def realtime_switch(params: Mapping[str, Any]) -> bool:
    """The validated top-level ``realtime`` switch (``false`` when absent).

    Raises :class:`ConfigError` for anything but a YAML boolean, naming the allowed values.
    """
    value = params.get(REALTIME_KEY, False) if isinstance(params, Mapping) else False
    if not isinstance(value, bool):
        raise ConfigError(f"{REALTIME_KEY}: {value!r} is not allowed; allowed values: false (paper defaults, some values "
                          "use the whole sample), true (every value dated t from data up to t only); docs/realtime.md")
    return value


@functools.lru_cache(maxsize=4)
def _declared_groups(files: tuple[Path, ...]) -> tuple[str, ...]:
    import ast

    groups: set[str] = set()
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Stage":
                for kw in node.keywords:
                    if kw.arg == "params" and isinstance(kw.value, ast.Dict):
                        for key in kw.value.keys:
                            value = key.value if isinstance(key, ast.Constant) else names.get(getattr(key, "id", None))
                            if not isinstance(value, str):
                                raise RuntimeError(f"{path.name}: Stage(params=...) keys must be strings or module-level string constants")
                            groups.add(value)
    return tuple(sorted(groups))


def close_match(word: str, choices) -> str | None:
    """The closest of ``choices`` to ``word`` (for "did you mean" hints), or None."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return match[0] if match else None


def _suggest(word: str, choices) -> str:
    match = close_match(word, choices)
    return f" (did you mean {match!r}?)" if match else ""


def _children(known: tuple[str, ...]) -> dict[str, list[str]]:
    """Container path ('' = top level) -> allowed child names, for the paths that are not groups."""
    out: dict[str, list[str]] = {}
    for name in known:
        parts = name.split(".")
        for i in range(len(parts)):
            parent = ".".join(parts[:i])
            if parent in known:
                break  # below a group its configuration class checks the keys
            out.setdefault(parent, [])
            if parts[i] not in out[parent]:
                out[parent].append(parts[i])
    return out


def _null(dotted: str) -> str:
    return (f"{dotted}: the group is null (its line has nothing under it); allowed: a mapping of its options, "
            "or remove the line to use the defaults (docs/parameters.md)")


def _lookup(params: Any, dotted: str) -> Any:
    node = params
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def validate_params_tree(params: Mapping[str, Any], known: tuple[str, ...] | None = None) -> list[str]:
    """Errors in the shape of the params tree: unknown groups, null groups, non-mapping groups.

    Top-level names and the names under containers such as ``measures`` and ``stress`` must be
    a known group (or lead to one); a known group may be absent (its defaults apply) but not
    ``null`` or a non-mapping. The keys inside a group are checked by its configuration class.
    Pure: returns the messages (empty when the tree is fine), each starting with the dotted path.
    """
    known = known_groups() if known is None else known
    errors: list[str] = []
    children = _children(known)

    def walk(node: Mapping[str, Any], path: str) -> None:
        allowed = children[path]
        for key, value in node.items():
            dotted = f"{path}.{key}" if path else str(key)
            if not path and key == REALTIME_KEY:
                try:
                    realtime_switch(node)
                except ConfigError as exc:
                    errors.append(str(exc))
            elif key not in allowed:
                where = f"{path}: unknown group" if path else "params.yaml: unknown top-level group"
                switch = "" if path else f"; or the switch {REALTIME_KEY}"
                names = allowed if path else [*allowed, REALTIME_KEY]
                errors.append(f"{where} {key!r}{_suggest(key, names)}; allowed groups: {', '.join(sorted(allowed))}{switch}")
            elif value is None:
                errors.append(_null(dotted))
            elif not isinstance(value, Mapping):
                errors.append(f"{dotted}: expected a mapping of options, got {value!r}")
            elif dotted in children:
                walk(value, dotted)

    if not isinstance(params, Mapping):
        return [f"params.yaml: the top level must be a mapping of parameter groups, got {type(params).__name__}"]
    walk(params, "")
    for name in known:  # a group inside a group (e.g. data.screens): its parent's class does not see null
        parent, _, last = name.rpartition(".")
        if any(parent == g or parent.startswith(g + ".") for g in known):
            node = _lookup(params, parent)
            if isinstance(node, Mapping) and last in node and node[last] is None:
                errors.append(_null(name))
    return errors


def check_groups(params: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` listing every error of :func:`validate_params_tree` (unknown, null
    or non-mapping groups), each with the allowed groups."""
    errors = validate_params_tree(params)
    if errors:
        raise ConfigError("; ".join(errors))


#: The folder of raw input data that the ingest stage tracks as a DVC dependency.
RAW_DIR = "data/raw"


def input_paths(config: DataConfig, *, root: str | Path = ".") -> list[tuple[str, str]]:
    """(params key, path) of every file or folder the ``data`` group names (files source only).

    Paths are normalized and relative to ``root`` when they lie under it (absolute otherwise):
    ``data.raw_dir``, each ``data.files`` entry and each ``data.market_states[i].file``
    (the last two relative to ``data.raw_dir`` unless absolute).
    """
    import os

    if config.source != "files":
        return []
    raw = config.raw_dir
    named: list[tuple[str, str]] = [("data.raw_dir", raw)]
    for role, entry in sorted(config.files.items()):
        name = entry if isinstance(entry, str) else entry.get("file") if isinstance(entry, Mapping) else None
        if name:
            named.append((f"data.files.{role}", name if os.path.isabs(name) else os.path.join(raw, str(name))))
    for i, spec in enumerate(config.market_states):
        name = spec.get("file") if isinstance(spec, Mapping) else None
        if name:
            named.append((f"data.market_states[{i}].file", name if os.path.isabs(name) else os.path.join(raw, str(name))))
    base = os.path.abspath(root)
    out = []
    for key, path in named:
        full = os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))
        rel = os.path.relpath(full, base)
        out.append((key, full if rel.startswith("..") else rel))
    return out


def untracked_inputs(config: DataConfig, *, root: str | Path, deps: list[str]) -> list[tuple[str, str]]:
    """The :func:`input_paths` that DVC would not track: not inside ``data/raw`` or a path of ``deps``.

    DVC follows a dependency that is itself a link, but not links inside a tracked folder: a
    path counts as tracked when its real location lies inside the real location of ``data/raw``
    or of a dependency.
    """
    import os

    base = os.path.abspath(root)
    real = [os.path.realpath(os.path.join(base, d)) for d in (RAW_DIR, *deps)]

    def covered(path: str) -> bool:
        target = os.path.realpath(os.path.join(base, path))
        return any(target == d or target.startswith(d.rstrip("/") + "/") for d in real)

    return [(key, path) for key, path in input_paths(config, root=root) if not covered(path)]


def check_tracked(config: DataConfig, *, root: str | Path, deps: list[str]) -> None:
    """Raise :class:`ConfigError` when a path named by the ``data`` group is not tracked by DVC."""
    missing = untracked_inputs(config, root=root, deps=deps)
    if not missing:
        return
    named = "; ".join(f"{key}={path!r}" for key, path in missing)
    raise ConfigError(
        f"data: {named}: outside {RAW_DIR} (or a link out of it, which DVC does not follow) and not a dependency "
        f"of the ingest stage in dvc.yaml, so DVC would not see an edit of it and would keep old results. Either "
        f"copy or move the data under {RAW_DIR} (and `dvc add` it if DVC should version the data itself), or run "
        f"`python -m pipeline dag --write`, which adds these paths to the ingest stage's deps (a link under "
        f"{RAW_DIR} to data elsewhere is tracked that way too)"
    )

