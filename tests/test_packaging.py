"""The import packages resolve to this repository (HoloViz Panel and others share the names)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["measures", "panel", "pipeline"])
def test_package_resolves_to_this_repository(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().parent == REPO / name


def test_science_packages_do_not_import_pipeline():
    offenders = []
    for package in ("measures", "panel"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "import pipeline" in text or "from pipeline" in text:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == [], f"measures/ and panel/ must not import pipeline: {offenders}"


def test_every_public_measure_resolves():
    import measures

    missing = [name for name in measures.__all__ if getattr(measures, name, None) is None]
    assert missing == []


@pytest.mark.parametrize("package", ["measures", "measures.systemic", "measures.dcc"])
def test_lazy_exports_are_the_objects_not_modules_of_the_same_name(package):
    """Importing every submodule first must not shadow a function named like its module (srisk, srisk_panel)."""
    import importlib
    import pkgutil
    import types

    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)
    shadowed = [name for name in pkg.__all__ if isinstance(getattr(pkg, name), types.ModuleType)]
    assert shadowed == []
