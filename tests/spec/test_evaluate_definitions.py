"""``evaluate`` and ``audit reevaluate`` record the definitions they judged with (issue 13
item 1): a spec the library has not locked is marked unlocked, and evaluate never says PASS."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cytorelease import _resources
from cytorelease.cli.main import app
from cytorelease.spec import resolve_spec

from .conftest import SPECS

runner = CliRunner()
RELAXED = ("limit: {max: 3.5}", "limit: {max: 35.0}")


@pytest.fixture(autouse=True)
def _no_library_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CYTORELEASE_LIBRARY", raising=False)
    monkeypatch.setattr(_resources, "_library_override", None)


def _relaxed_copy(tmp_path: Path) -> Path:
    """v2 with a tenfold endotoxin limit, given by path, a LOCK beside it naming its hash."""
    text = (SPECS / "cd19-car-t" / "v2.yaml").read_text(encoding="utf-8")
    assert text.count(RELAXED[0]) == 1, "v2 no longer has the endotoxin limit this test edits"
    copy = tmp_path / "relaxed" / "cd19-car-t" / "v2.yaml"
    copy.parent.mkdir(parents=True)
    copy.write_text(text.replace(*RELAXED), encoding="utf-8")
    (copy.parent.parent / "LOCK").write_text(
        f"cd19-car-t@2 {resolve_spec(copy).sha256}\n", encoding="utf-8"
    )
    return copy


def _spec_entry(document: dict[str, Any]) -> dict[str, Any]:
    (entry,) = document["definitions"]
    return entry


def test_evaluate_records_the_locked_spec_it_judged_with(
    lot: Callable[..., list[dict[str, Any]]], write_json: Callable[..., Path]
) -> None:
    passing = write_json({"measurements": lot()}, "pass.json")
    result = runner.invoke(app, ["evaluate", str(passing), "--spec", "cd19-car-t@2", "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert _spec_entry(document) == {
        "kind": "spec",
        "id": "cd19-car-t",
        "version": "2",
        "sha256": resolve_spec("cd19-car-t@2").sha256,
        "source": "cd19-car-t@2",
        "locked": True,
    }
    assert document["disposition"] == "PASS" and "library" not in document


def test_evaluate_against_a_relaxed_copy_is_an_unlocked_what_if(
    tmp_path: Path, lot: Callable[..., list[dict[str, Any]]], write_json: Callable[..., Path]
) -> None:
    copy = _relaxed_copy(tmp_path)
    # 20 EU/mL fails the locked v2 and passes the relaxed copy's criterion
    values = write_json({"measurements": lot(manual__endotoxin_eu_ml=(20.0, "EU/mL"))}, "e.json")
    locked = runner.invoke(app, ["evaluate", str(values), "--spec", "cd19-car-t@2", "--json"])
    assert json.loads(locked.stdout)["disposition"] == "FAIL"
    result = runner.invoke(app, ["evaluate", str(values), "--spec", str(copy), "--json"])
    assert result.exit_code == 1, result.stderr
    document = json.loads(result.stdout)
    endotoxin = next(c for c in document["criteria"] if c["id"] == "endotoxin")
    assert endotoxin["verdict"] == "pass"  # only the lock withholds PASS
    entry = _spec_entry(document)
    assert (entry["locked"], entry["source"]) == (False, str(copy))
    assert document["disposition"] == "INCOMPLETE"
    line = f"NOT FOR RELEASE: unlocked definition spec cd19-car-t ({copy})"
    assert {"source": "definitions", "message": line} in document["alerts"]
    table = runner.invoke(app, ["evaluate", str(values), "--spec", str(copy)])
    assert table.exit_code == 1
    assert line in table.stdout and "disposition: INCOMPLETE" in table.stdout


def test_evaluate_in_a_site_library_records_the_library(
    tmp_path: Path, lot: Callable[..., list[dict[str, Any]]], write_json: Callable[..., Path]
) -> None:
    library = tmp_path / "site"
    shutil.copytree(SPECS, library / "specs")
    passing = write_json({"measurements": lot()}, "pass.json")
    result = runner.invoke(
        app,
        ["evaluate", str(passing), "--spec", "cd19-car-t@2", "--json"],
        env={"CYTORELEASE_LIBRARY": str(library)},
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["library"]["path"] == str(library.resolve())
    assert _spec_entry(document)["locked"] is True  # the site LOCK lists the same content


def test_audit_reevaluate_what_if_records_name_their_definitions(
    tmp_path: Path, lot: Callable[..., list[dict[str, Any]]], write_json: Callable[..., Path]
) -> None:
    copy = _relaxed_copy(tmp_path)
    source = write_json({"lot": "lot-9", "measurements": lot()}, "lot-9/result.json")
    result = runner.invoke(
        app,
        ["audit", "reevaluate", str(source), "--spec", "cd19-car-t@2", "--spec", str(copy)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    records = sorted(source.parent.glob("whatif-*.json"))
    assert len(records) == 2
    entries = {}
    for path in records:
        record = json.loads(path.read_text(encoding="utf-8"))
        (entry,) = record["definitions"]
        entries[entry["source"]] = entry
    v2 = resolve_spec("cd19-car-t@2")
    assert entries[str(v2.path)]["locked"] is True
    assert entries[str(v2.path)]["sha256"] == v2.sha256
    assert entries[str(copy)]["locked"] is False
    assert entries[str(copy)]["sha256"] == resolve_spec(copy).sha256
