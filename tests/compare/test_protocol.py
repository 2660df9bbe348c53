"""The comparability protocol: validated with file, field and line; judged by the site library's
``protocols/LOCK`` by content hash; a protocol changed under a locked version is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cytorelease._resources import set_library
from cytorelease.compare import compare, load_protocol
from cytorelease.errors import InputError
from tests.compare.helpers import table

PROTOCOL = """\
schema_version: 1
id: site-transfer-b
version: 1
pairing: lot
alpha: 0.05
margins:
  x: {margin: 1.5, unit: "%"}
  y: {margin: 2}
"""


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Path]:
    site = tmp_path / "library"
    (site / "protocols").mkdir(parents=True)
    set_library(site)
    try:
        yield site
    finally:
        set_library(None)


def _write(path: Path, text: str = PROTOCOL) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_protocol_outside_any_lock_loads_unlocked(tmp_path: Path) -> None:
    p = load_protocol(_write(tmp_path / "p.yaml"))
    assert (p.ref, p.locked, p.alpha, p.pairing) == ("site-transfer-b@1", False, 0.05, "lot")
    assert {k: m.margin for k, m in p.margins.items()} == {"x": 1.5, "y": 2.0}
    assert len(p.sha256 or "") == 64


def test_a_lock_beside_the_file_is_not_read(tmp_path: Path) -> None:
    p = load_protocol(_write(tmp_path / "p.yaml"))
    (tmp_path / "LOCK").write_text(f"site-transfer-b@1 {p.sha256}\n", encoding="utf-8")
    assert load_protocol(tmp_path / "p.yaml").locked is False


def test_the_library_lock_locks_it_and_formatting_does_not_count(
    tmp_path: Path, library: Path
) -> None:
    sha = load_protocol(_write(tmp_path / "p.yaml")).sha256
    (library / "protocols" / "LOCK").write_text(f"# protocols\nsite-transfer-b@1 {sha}\n", "utf-8")
    assert load_protocol(tmp_path / "p.yaml").locked is True
    reformatted = PROTOCOL.replace("alpha: 0.05", "alpha: 0.050   # the default") + "\n# end\n"
    assert load_protocol(_write(tmp_path / "q.yaml", reformatted)).locked is True


def test_a_tampered_locked_protocol_is_refused(tmp_path: Path, library: Path) -> None:
    sha = load_protocol(_write(tmp_path / "p.yaml")).sha256
    (library / "protocols" / "LOCK").write_text(f"site-transfer-b@1 {sha}\n", "utf-8")
    wider = _write(tmp_path / "p.yaml", PROTOCOL.replace("margin: 1.5", "margin: 3"))
    with pytest.raises(InputError, match="a released protocol never changes") as caught:
        load_protocol(wider)
    assert caught.value.path == str(wider)
    # and the comparison it would have judged is not made
    a = table(tmp_path / "a.csv", [("L1", "x", 1, "%", "pass"), ("L2", "x", 2, "%", "pass")])
    with pytest.raises(InputError, match="never changes"):
        compare(a, a, pair_by="lot", protocol=wider)
    # a new version is a new document: unlisted, it loads (unlocked)
    bumped = _write(tmp_path / "v2.yaml", PROTOCOL.replace("\nversion: 1", "\nversion: 2")
                    .replace("margin: 1.5", "margin: 3"))  # fmt: skip
    assert load_protocol(bumped).locked is False


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("margin: 1.5", "margin: -1", "margins.x.margin (line 7)"),
        ("margin: 2", "margn: 2", "margins.y (line 8)"),
        ("alpha: 0.05", "alpha: 0.7", "alpha (line 5)"),
        ("pairing: lot", "pairing: site", "pairing (line 4)"),
        ("id: site-transfer-b\n", "", "id"),
        (
            "schema_version: 1",
            "schema_version: 2",
            "schema_version (line 1): unknown protocol schema",
        ),
    ],
)
def test_an_invalid_protocol_names_field_and_line(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    path = _write(tmp_path / "p.yaml", PROTOCOL.replace(old, new))
    with pytest.raises(InputError) as caught:
        load_protocol(path)
    assert caught.value.path == str(path)
    assert caught.value.problem.startswith(where), caught.value.problem


def test_a_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.yaml", PROTOCOL + "alpha: 0.1\n")
    with pytest.raises(InputError, match="line 9"):
        load_protocol(path)


def test_the_protocol_fixes_the_pairing_and_the_margin_unit(tmp_path: Path) -> None:
    protocol = _write(tmp_path / "p.yaml")
    a = table(tmp_path / "a.csv", [("L1", "x", 1, "%", "pass"), ("L2", "x", 2, "%", "pass")])
    with pytest.raises(InputError, match="fixes pairing 'lot' but --pair-by is 'none'"):
        compare(a, a, pair_by="none", protocol=protocol)
    other = table(tmp_path / "b.csv", [("L1", "x", 1, "fraction", "pass")])
    with pytest.raises(
        InputError, match="margin of 'x' is in '%' but the results are in 'fraction'"
    ):
        compare(other, other, pair_by="lot", protocol=protocol)
    with pytest.raises(InputError, match="not both"):
        compare(a, a, pair_by="lot", protocol=protocol, margins=["x=1"])


def test_the_report_records_the_protocol_and_gives_no_verdict_without_a_margin(
    tmp_path: Path,
) -> None:
    protocol = _write(tmp_path / "p.yaml")
    rows_a = [(f"L{i}", attr, 10 + i + (0.1 if attr == "z" else 0), "%", "pass")
              for i in range(8) for attr in ("x", "z")]  # fmt: skip
    rows_b = [(lot, attr, value + 0.2 + 0.05 * (i % 3), unit, verdict)
              for i, (lot, attr, value, unit, verdict) in enumerate(rows_a)]  # fmt: skip
    result = compare(table(tmp_path / "a.csv", rows_a), table(tmp_path / "b.csv", rows_b),
                     pair_by="lot", protocol=protocol).to_dict()  # fmt: skip
    record = result["protocol"]
    assert (record["id"], record["version"], record["locked"]) == ("site-transfer-b", "1", False)
    assert record["sha256"] == load_protocol(protocol).sha256
    by_name = {a["attribute"]: a for a in result["attributes"]}
    assert by_name["x"]["equivalent"] is True and by_name["x"]["margin"] == 1.5
    assert by_name["z"]["equivalent"] is None and by_name["z"]["tost_p"] is None
    assert "no margin" in by_name["z"]["equivalence_reason"]
    # a margin for an attribute neither set holds is reported, not dropped
    assert by_name["y"]["n"] == 0 and by_name["y"]["equivalent"] is None
    assert "not in A" in by_name["y"]["equivalence_reason"]
