"""Shared fixtures: the third-party reference data in ../shared/data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# rich wraps tables to the terminal width; a fixed, wide one keeps assertions on table text
# independent of how long pytest's temporary paths happen to be
os.environ.setdefault("COLUMNS", "200")
# A bug is a traceback in tests, never the CLI's one-line "internal error" (which users get);
# subprocesses inherit it, so a fuzz case that hits a bug fails with the bug's traceback.
os.environ.setdefault("CYTORELEASE_DEBUG", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(
    os.environ.get("CYTORELEASE_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")
)


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data; skips the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not available: {path} (set CYTORELEASE_SHARED_DATA)")
    return path


@pytest.fixture
def shared_data() -> Path:
    return shared_path()


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium (tests/browser.py): installed when missing, else the test skips."""
    from tests.browser import find_chromium

    return find_chromium()
