"""Fixtures for the spec tests: the bundled specs, copies to tamper with, measurement sets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SPECS = Path(__file__).resolve().parents[2] / "specs"
V1 = SPECS / "cd19-car-t" / "v1.yaml"
V2 = SPECS / "cd19-car-t" / "v2.yaml"


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``needle`` (so tests never hard-code lines)."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def passing_values() -> dict[str, tuple[Any, str]]:
    """A lot that meets both v1 and v2 (attribute -> (value, unit))."""
    return {
        "manual.appearance": ("conforms", ""),
        "qpcr.transgene_detected": ("detected", ""),
        "flow.cd3_pct_of_viable_cd45": (92.4, "%"),
        "flow.car_pct_of_viable_cd3": (32.45, "%"),
        "flow.viability_pct_of_cd45": (91.2, "%"),
        "manual.total_viable_cells": (1.2e9, "cells"),
        "qpcr.vcn_per_transduced_cell": (2.31, "copies/transduced cell"),
        "qpcr.vcn_per_diploid_genome": (0.75, "copies/diploid genome"),
        "potency.ifng_pg_ml": (812.3, "pg/mL"),
        "potency.ifng_fold_over_negative": (14.2, "fold"),
        "flow.cd19_pct_of_viable": (0.3, "%"),
        "flow.cd4_cd8_ratio": (1.456, "ratio"),
        "manual.endotoxin_eu_ml": (1.2, "EU/mL"),
        "manual.sterility": ("no growth", ""),
        "manual.mycoplasma": ("not detected", ""),
        "manual.rcl": ("not detected", ""),
    }


# What a release records for a manual result a second person verified (cytorelease.manual).
VERIFIED = {"verification": "verified"}


def measurements(*, unverified: tuple[str, ...] = (), **overrides: Any) -> list[dict[str, Any]]:
    """The passing lot as a measurements list; ``name=None`` drops it, a tuple replaces it.

    Manual results carry a verification unless named in ``unverified``."""
    values = passing_values()
    for key, value in overrides.items():
        attribute = key.replace("__", ".")
        if value is None:
            values.pop(attribute, None)
        else:
            values[attribute] = value
    return [
        {"attribute": a, "value": v, "unit": u}
        | ({"details": VERIFIED} if a.startswith("manual.") and a not in unverified else {})
        for a, (v, u) in values.items()
    ]


@pytest.fixture
def specs_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled specs folder (with its LOCK)."""
    target = tmp_path / "specs"
    shutil.copytree(SPECS, target)
    return target


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "v1.yaml") -> Path:
        folder = tmp_path / "draft-specs" / "cd19-car-t"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def draft_v1_text() -> str:
    """v1 as a draft (drafts need no LOCK), for tests that edit it."""
    return V1.read_text(encoding="utf-8").replace("status: superseded", "status: draft")


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[[Any, str], Path]:
    def write(document: Any, name: str = "measurements.json") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    return write


@pytest.fixture
def lot() -> Callable[..., list[dict[str, Any]]]:
    """``lot(flow__viability_pct_of_cd45=(79.4, "%"), manual__sterility=None)``."""
    return measurements


@pytest.fixture
def find_line() -> Callable[..., int]:
    return line_of


@pytest.fixture(autouse=True)
def _no_library_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--library`` (or its env var) sets a process-wide override; undo it after each test."""
    from cytorelease import _resources

    monkeypatch.setattr(_resources, "_library_override", None)
