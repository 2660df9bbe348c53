from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease._resources import ResourceKind, resolve_resource, resource_dir, set_library
from cytorelease.errors import InputError


def test_checkout_folders_found() -> None:
    for kind in ResourceKind:
        assert resource_dir(kind).is_dir()


def test_user_library_overrides(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    set_library(tmp_path)
    try:
        assert resource_dir("specs") == tmp_path / "specs"
        # a kind the library lacks falls back to the bundled folder
        assert resource_dir("gating") != tmp_path / "gating"
    finally:
        set_library(None)


def test_unknown_resource_names_what_is_available() -> None:
    with pytest.raises(InputError, match="no such file, and no such name in specs/"):
        resolve_resource("specs", "no-such-spec-anywhere")
