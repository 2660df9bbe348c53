"""``cytorelease protocol lock``: a protocol's LOCK line written into the site library through the
one LOCK writer; an invalid protocol, or one whose locked version changed, refused with nothing
written; a protocol edited after locking refused by ``compare --protocol``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from cytorelease._lock import read_lock
from cytorelease._resources import set_library
from cytorelease.compare import load_protocol
from cytorelease.errors import InputError
from tests.cli_contract import assert_bad_input, invoke, one_json_document

DATA = Path(__file__).parent / "data"
SITE_A, SITE_B, PROTOCOL = DATA / "site_a.csv", DATA / "site_b.csv", DATA / "protocol.yaml"


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Path]:
    site = tmp_path / "library"
    (site / "specs").mkdir(parents=True)  # --library takes a folder holding a kind it knows
    try:
        yield site
    finally:  # --library sets the site library for the whole process: set back after
        set_library(None)


def _lock(library: Path, *paths: Path, as_json: bool = True) -> Result:
    args: list[object] = ["--library", library, "protocol", "lock", *paths]
    return invoke([str(a) for a in (*args, *(["--json"] if as_json else []))])


def _copy(tmp_path: Path, name: str = "protocol.yaml", text: str | None = None) -> Path:
    path = tmp_path / name
    path.write_text(text if text is not None else PROTOCOL.read_text("utf-8"), encoding="utf-8")
    return path


def test_lock_writes_the_line_compare_then_reads_as_locked(library: Path, tmp_path: Path) -> None:
    result = _lock(library, PROTOCOL)
    assert result.exit_code == 0, result.stderr
    (entry,) = one_json_document(result.stdout)["protocols"]
    sha = load_protocol(PROTOCOL).sha256
    lock = library / "protocols" / "LOCK"
    assert entry == {"ref": "site-b-transfer@1", "sha256": sha, "outcome": "added",
                     "protocol": str(PROTOCOL), "lock": str(lock)}  # fmt: skip
    assert read_lock(lock, error=InputError) == {"site-b-transfer@1": sha}
    compared = invoke(["--library", str(library), "compare", str(SITE_A), str(SITE_B),
                       "--pair-by", "lot", "--protocol", str(PROTOCOL), "--json"])  # fmt: skip
    assert compared.exit_code == 0, compared.stderr
    assert "not locked" not in compared.stderr
    assert one_json_document(compared.stdout)["protocol"]["locked"] is True


def test_locking_again_is_unchanged_and_keeps_the_file(library: Path) -> None:
    assert _lock(library, PROTOCOL).exit_code == 0
    lock = library / "protocols" / "LOCK"
    before = lock.read_bytes()
    again = _lock(library, PROTOCOL)
    assert again.exit_code == 0, again.stderr
    assert one_json_document(again.stdout)["protocols"][0]["outcome"] == "unchanged"
    assert lock.read_bytes() == before


def test_lines_written_by_hand_are_kept(library: Path, tmp_path: Path) -> None:
    lock = library / "protocols" / "LOCK"
    lock.parent.mkdir()
    lock.write_text(f"# site QA's protocols\nother-protocol@2 {'ab' * 32}", encoding="utf-8")
    assert _lock(library, PROTOCOL).exit_code == 0
    lines = lock.read_text("utf-8").splitlines()
    assert lines[:2] == ["# site QA's protocols", f"other-protocol@2 {'ab' * 32}"]
    assert lines[2] == f"site-b-transfer@1 {load_protocol(PROTOCOL).sha256}"


def test_a_protocol_edited_after_locking_is_refused_by_lock_and_by_compare(
    library: Path, tmp_path: Path
) -> None:
    assert _lock(library, PROTOCOL).exit_code == 0
    lock = library / "protocols" / "LOCK"
    before = lock.read_bytes()
    tampered = _copy(tmp_path, text=PROTOCOL.read_text("utf-8").replace("margin: 3", "margin: 6"))
    refused = _lock(library, tampered)
    assert "a released protocol never changes" in assert_bad_input(refused, tampered)
    assert lock.read_bytes() == before  # the locked line is never replaced
    compared = invoke(["--library", str(library), "compare", str(SITE_A), str(SITE_B),
                       "--pair-by", "lot", "--protocol", str(tampered), "--json"])  # fmt: skip
    assert "a released protocol never changes" in assert_bad_input(compared, tampered)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("margin: 3,", "margin: -3,", "margins.flow.viability_pct_of_cd45.margin (line 9)"),
        ("pairing: lot", "pairing: maybe", "pairing (line 6)"),
        ("alpha: 0.05", "alpha: 0.05\nextra: 1", "line 8: unknown field"),
    ],
)
def test_an_invalid_protocol_is_refused_with_its_field_and_line(
    library: Path, tmp_path: Path, old: str, new: str, problem: str
) -> None:
    bad = _copy(tmp_path, text=PROTOCOL.read_text("utf-8").replace(old, new))
    good = _copy(tmp_path, "good.yaml")
    line = assert_bad_input(_lock(library, good, bad), bad)
    assert problem in line
    assert not (library / "protocols" / "LOCK").exists()  # nothing locked, not even the good one


def test_two_files_of_one_version_with_other_content_lock_neither(
    library: Path, tmp_path: Path
) -> None:
    other = _copy(tmp_path, text=PROTOCOL.read_text("utf-8").replace("margin: 5", "margin: 7"))
    line = assert_bad_input(_lock(library, PROTOCOL, other), other)
    assert "site-b-transfer@1 is also given as" in line
    assert not (library / "protocols" / "LOCK").exists()


def test_without_a_site_library_nothing_is_locked(tmp_path: Path) -> None:
    result = invoke(["protocol", "lock", str(PROTOCOL), "--json"])
    assert "no site library to lock the protocol in" in assert_bad_input(result, PROTOCOL)


def test_text_output_names_the_outcome(library: Path) -> None:
    result = _lock(library, PROTOCOL, as_json=False)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("added: site-b-transfer@1 sha256 ")
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)
