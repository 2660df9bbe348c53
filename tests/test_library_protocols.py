"""A site library may hold only comparability protocols, and the library hash a record carries
covers protocols/LOCK (the approved margins are part of the locked set that judged a lot)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from cytorelease import _resources
from cytorelease._resources import set_library
from tests.cli_contract import invoke, one_json_document

PROTOCOL = Path(__file__).parent / "compare" / "data" / "protocol.yaml"


@pytest.fixture
def protocols_only(tmp_path: Path) -> Iterator[Path]:
    library = tmp_path / "library"
    (library / "protocols").mkdir(parents=True)
    try:
        yield library
    finally:  # --library sets the site library for the whole process
        set_library(None)


def test_a_library_of_protocols_only_is_a_library(protocols_only: Path) -> None:
    result = invoke(["--library", str(protocols_only), "protocol", "lock", str(PROTOCOL), "--json"])
    assert result.exit_code == 0, result.stderr
    (entry,) = one_json_document(result.stdout)["protocols"]
    assert entry["outcome"] == "added"
    assert (protocols_only / "protocols" / "LOCK").is_file()


def test_a_folder_of_none_of_the_kinds_is_still_refused(tmp_path: Path) -> None:
    (tmp_path / "lib" / "other").mkdir(parents=True)
    result = invoke(["--library", str(tmp_path / "lib"), "protocol", "lock", str(PROTOCOL)])
    assert result.exit_code == 2 and "protocols/" in result.stderr


def _expected(library: Path, *, with_protocols: bool) -> str:
    """The documented hash, computed here: each kind's LOCK (name, bytes, newline), then
    protocols/LOCK when there is one."""
    digest = hashlib.sha256()
    for kind in ("specs", "gating", "assays"):
        lock = library / kind / "LOCK"
        digest.update(
            f"{kind}/LOCK\n".encode() + (lock.read_bytes() if lock.is_file() else b"") + b"\n"
        )
    if with_protocols:
        digest.update(b"protocols/LOCK\n" + (library / "protocols" / "LOCK").read_bytes() + b"\n")
    return digest.hexdigest()


def test_the_library_hash_covers_protocols_lock(tmp_path: Path) -> None:
    library = tmp_path / "library"
    (library / "specs").mkdir(parents=True)
    (library / "specs" / "LOCK").write_text("# specs\n", encoding="utf-8")
    set_library(library)
    try:
        without = _resources.library_identity()
        assert without is not None
        # no protocols/LOCK: the hash a library had before protocols were locked
        assert without["lock_sha256"] == _expected(library, with_protocols=False)
        (library / "protocols").mkdir()
        (library / "protocols" / "LOCK").write_text(f"site-b-transfer@1 {'a' * 64}\n", "utf-8")
        first = _resources.library_identity()
        assert first is not None and first["lock_sha256"] == _expected(library, with_protocols=True)
        assert first["lock_sha256"] != without["lock_sha256"]
        # an approved margin's line changed: another locked set, another hash
        (library / "protocols" / "LOCK").write_text(f"site-b-transfer@1 {'b' * 64}\n", "utf-8")
        second = _resources.library_identity()
        assert second is not None and second["lock_sha256"] != first["lock_sha256"]
    finally:
        set_library(None)
