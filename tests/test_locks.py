"""Released versions of gating templates and assays are immutable, like specs: a LOCK records
their content hash, and a changed document under the same id@version is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cytorelease._lock import read_lock
from cytorelease.errors import AssayError, TemplateError
from cytorelease.flow.gating.template import load_template
from cytorelease.potency.assay import load_potency_assay
from cytorelease.qpcr.assay import load_assay

ROOT = Path(__file__).resolve().parents[1]


def test_every_bundled_template_is_locked_and_matches() -> None:
    locked = read_lock(ROOT / "gating" / "LOCK", error=TemplateError)
    for path in sorted((ROOT / "gating").glob("*.yaml")):
        template = load_template(path)
        assert locked.get(f"{template.id}@{template.version}") == template.sha256, (
            f"{path.name}: changed without a new version? add '{template.id}@<new version> "
            f"{template.sha256}' to gating/LOCK after bumping its version"
        )


def test_every_bundled_assay_is_locked_and_matches() -> None:
    locked = read_lock(ROOT / "assays" / "LOCK", error=AssayError)
    vcn = load_assay("vcn-car-rpp30")
    elisa = load_potency_assay("potency-ifng-elisa")
    assert locked[f"{vcn.assay.id}@{vcn.assay.version}"] == vcn.sha256
    assert locked[f"{elisa.assay.id}@{elisa.assay.version}"] == elisa.sha256
    assert len(locked) == len(list((ROOT / "assays").glob("*.yaml")))


def _copy_with_lock(folder: str, name: str, tmp_path: Path) -> Path:
    shutil.copy(ROOT / folder / "LOCK", tmp_path / "LOCK")
    target = tmp_path / name
    shutil.copy(ROOT / folder / name, target)
    return target


def test_a_truncated_template_under_a_released_version_is_refused(tmp_path: Path) -> None:
    path = _copy_with_lock("gating", "cd19-car-t-panel.yaml", tmp_path)
    text = path.read_text(encoding="utf-8")
    cut = text.index("\n", len(text) // 2)  # cut at a line end: still valid YAML, fewer gates
    path.write_text(text[:cut] + "\n", encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        load_template(path)
    message = info.value.one_line()
    assert "cd19-car-t-panel@1.0.0 no longer matches its lock" in message
    assert message.count("sha256 ") == 2


def test_a_changed_assay_under_a_released_version_is_refused(tmp_path: Path) -> None:
    path = _copy_with_lock("assays", "vcn-car-rpp30.yaml", tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("r_squared_min: 0.98", "r_squared_min: 0.95"), encoding="utf-8")
    assert path.read_text(encoding="utf-8") != text, "the assay no longer has r_squared_min: 0.98"
    with pytest.raises(AssayError, match=r"vcn-car-rpp30@1\.0 no longer matches its lock"):
        load_assay(path)


def test_a_new_version_outside_the_lock_loads(tmp_path: Path) -> None:
    path = _copy_with_lock("gating", "cd19-car-t-panel.yaml", tmp_path)
    text = path.read_text(encoding="utf-8").replace('version: "1.0.0"', 'version: "1.1.0-draft"', 1)
    path.write_text(text, encoding="utf-8")
    assert load_template(path).version == "1.1.0-draft"
