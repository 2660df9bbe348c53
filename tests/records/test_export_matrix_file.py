"""``audit export`` copies the spillover matrix file a template pins (``compensation: source:
matrix_file``) beside the copied template, so the template's reference resolves in the bundle;
an altered copy fails ``sha256sum -c``; a file the library no longer holds as pinned is listed
as not available, with the reason, never skipped.

The result's compensation record is the one flow gating writes (tests/flow/
test_template_compensation.py holds its shape: role ``matrix_file``, the template's relative
path, the pinned SHA-256), in the flow analysis's summary.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from cytorelease.export.bundle import BundleWriter, FileRole, write_sums
from cytorelease.export.frozen_inputs import copy_matrix_files

CSV = "fluorochrome,FL1-A,FL2-A\nFITC,1,0.1\nPE,0.05,1\n"


def _record(relative: str, sha: str) -> dict[str, Any]:
    compensation = {"source": "matrix_file", "description": f"matrix file {relative}",
                    "inputs": [{"role": "matrix_file", "path": relative, "sha256": sha}]}  # fmt: skip
    return {"analyses": [{"analysis": "flow", "summary": {"compensation": compensation}}]}


def _library(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    gating = tmp_path / "library" / "gating"
    (gating / "matrices").mkdir(parents=True)
    (gating / "t.yaml").write_text("id: t\n", encoding="utf-8")
    (gating / "matrices" / "panel.csv").write_text(CSV, encoding="utf-8")
    definition = {"kind": "gating-template", "id": "t", "version": "1", "available": True,
                  "path": "definitions/gating/t.yaml", "library_path": str(gating / "t.yaml")}  # fmt: skip
    return gating, definition


def test_the_pinned_matrix_is_copied_beside_its_template_and_checked(tmp_path: Path) -> None:
    gating, definition = _library(tmp_path)
    sha = hashlib.sha256(CSV.encode()).hexdigest()
    bundle = BundleWriter(tmp_path / "bundle")
    bundle.copy(gating / "t.yaml", definition["path"], FileRole.DEFINITION)
    (entry,) = copy_matrix_files(bundle, [_record("matrices/panel.csv", sha)], [definition])
    assert entry["available"] and entry["path"] == "definitions/gating/matrices/panel.csv"
    copied = bundle.root / entry["path"]
    assert copied.read_text(encoding="utf-8") == CSV
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == entry["sha256"] == sha
    assert [f.role for f in bundle.files] == [FileRole.DEFINITION, FileRole.MATRIX]
    write_sums(bundle.root, bundle.files)
    ok = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=bundle.root,
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    copied.write_text(CSV.replace("0.1", "0.2"), encoding="utf-8")  # altered after export
    bad = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=bundle.root,
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0 and f"{entry['path']}: FAILED" in bad.stdout


def test_a_matrix_the_library_no_longer_holds_as_pinned_is_listed_not_copied(
    tmp_path: Path,
) -> None:
    _, definition = _library(tmp_path)
    pinned = hashlib.sha256(b"the bytes that were used").hexdigest()
    bundle = BundleWriter(tmp_path / "bundle")
    records = [_record("matrices/panel.csv", pinned), _record("../outside.csv", pinned)]
    listed = copy_matrix_files(bundle, records, [definition])
    assert [(e["file"], e["available"]) for e in listed] == [
        ("matrices/panel.csv", False), ("../outside.csv", False)
    ]  # fmt: skip
    assert "pinned SHA-256" in listed[0]["reason"] and "inside" in listed[1]["reason"]
    assert bundle.files == []
    # a template the library does not hold: nothing to put the matrix beside
    unavailable = {**definition, "available": False}
    (entry,) = copy_matrix_files(bundle, [_record("matrices/panel.csv", pinned)], [unavailable])
    assert not entry["available"]
