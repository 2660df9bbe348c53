"""The release reads one run of a qPCR export holding several (manifest ``inputs.qpcr.run``),
and a Cq computed from curves reaches the CoA as a flag of the qPCR analysis."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.lot.release import release_lot
from cytorelease.synth import generate_lot
from tests.qpcr.rdml_build import two_run_rdml

MOMENT = datetime(2026, 7, 20, 9, 30, tzinfo=UTC)
LC = "LC480-2026-11-30"


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_lot(tmp_path_factory.mktemp("lots"), seed=3).lot_dir


def _with_rdml(lot: Path, tmp_path: Path, run: str | None) -> Path:
    copy = tmp_path / lot.name
    shutil.copytree(lot, copy)
    (copy / "qpcr" / "two_runs.rdml").write_bytes(two_run_rdml(dp=lot.name))
    manifest = copy / "lot.yaml"
    text = manifest.read_text(encoding="utf-8")
    start, end = text.index("  qpcr:\n"), text.index("  potency:\n")
    section = "  qpcr:\n    path: qpcr/two_runs.rdml\n    assay: vcn-car-rpp30\n"
    section += f"    sample: {lot.name}\n" + (f"    run: {run}\n" if run else "")
    manifest.write_text(text[:start] + section + text[end:], encoding="utf-8")
    return copy


def test_release_refuses_an_export_with_two_runs_and_no_run_named(
    lot: Path, tmp_path: Path
) -> None:
    copy = _with_rdml(lot, tmp_path, None)
    with pytest.raises(InputError) as info:
        release_lot(copy, out=tmp_path / "out", created_at=MOMENT)
    assert "two_runs.rdml: the export holds 2 runs" in info.value.one_line()
    assert "lot.yaml: inputs.qpcr.run" in info.value.one_line()
    assert not (tmp_path / "out" / "result.json").exists()


def test_release_reads_the_named_run_and_the_coa_flags_computed_cq(
    lot: Path, tmp_path: Path
) -> None:
    outcome = release_lot(_with_rdml(lot, tmp_path, LC), out=tmp_path / "out", created_at=MOMENT)
    qpcr = next(a for a in outcome.record["analyses"] if a["analysis"] == "qpcr")
    assert qpcr["status"] == "done"
    assert qpcr["summary"]["run"] == LC
    (flag,) = qpcr["flags"]
    assert flag.startswith("computed Cq: 40 of 40 Cq values were computed by cytorelease")
    vcn = next(
        m for m in outcome.record["measurements"] if m["attribute"] == "qpcr.vcn_per_diploid_genome"
    )
    assert vcn["value"] == pytest.approx(2.5, rel=0.01)  # the plate's built VCN
    html = outcome.report_path.read_text(encoding="utf-8")
    assert re.search(r"computed Cq: 40 of 40 Cq values were computed by cytorelease", html)
