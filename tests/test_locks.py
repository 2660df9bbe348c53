"""Released versions of gating templates and assays are immutable, like specs: the library's
LOCK records their content hash. A document changed under the same id@version still loads (a
what-if), but only the library's LOCK judges it, so it is unlocked, whatever LOCK lies beside it.
The one loader (``cytorelease.library``) reads every kind and the assays' old schema key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cytorelease._lock import read_lock
from cytorelease.errors import AssayError, TemplateError
from cytorelease.flow.gating.template import load_template
from cytorelease.library import DefinitionKind, definition, read_document
from cytorelease.potency.assay import load_potency_assay
from cytorelease.potency.cytotox import load_cytotox_assay
from cytorelease.qpcr.assay import load_assay

ROOT = Path(__file__).resolve().parents[1]
GATING = DefinitionKind.GATING_TEMPLATE
ASSAY = DefinitionKind.ASSAY


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


def _lock_beside(path: Path, ref: str, sha256: str) -> None:
    """The attacker's LOCK: the copy's own hash, written next to the copy."""
    (path.parent / "LOCK").write_text(f"{ref} {sha256}\n", encoding="utf-8")


def test_a_truncated_template_under_a_released_version_loads_unlocked(tmp_path: Path) -> None:
    path = _copy_with_lock("gating", "cd19-car-t-panel.yaml", tmp_path)
    bundled = load_template(path)
    assert definition(GATING, bundled.id, bundled.version, bundled.sha256, path).locked
    text = path.read_text(encoding="utf-8")
    cut = text.index("\n", len(text) // 2)  # cut at a line end: still valid YAML, fewer gates
    path.write_text(text[:cut] + "\n", encoding="utf-8")
    template = load_template(path)  # a what-if, not refused (the bundled LOCK beside it unread)
    assert len(template.gates) < len(bundled.gates)
    record = definition(GATING, template.id, template.version, template.sha256, path)
    assert (record.ref, record.locked) == ("cd19-car-t-panel@1.0.0", False)
    _lock_beside(path, record.ref, template.sha256)
    assert definition(GATING, template.id, template.version, template.sha256, path).locked is False


def test_a_changed_assay_under_a_released_version_loads_unlocked(tmp_path: Path) -> None:
    path = _copy_with_lock("assays", "vcn-car-rpp30.yaml", tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("r_squared_min: 0.98", "r_squared_min: 0.95"), encoding="utf-8")
    assert path.read_text(encoding="utf-8") != text, "the assay no longer has r_squared_min: 0.98"
    loaded = load_assay(path)
    assert loaded.assay.acceptance.r_squared_min == 0.95
    _lock_beside(path, "vcn-car-rpp30@1.0", loaded.sha256)
    record = definition(ASSAY, loaded.assay.id, loaded.assay.version, loaded.sha256, path)
    assert (record.version, record.locked, record.source) == ("1.0", False, str(path))


def test_a_new_version_outside_the_lock_loads(tmp_path: Path) -> None:
    path = _copy_with_lock("gating", "cd19-car-t-panel.yaml", tmp_path)
    text = path.read_text(encoding="utf-8").replace('version: "1.0.0"', 'version: "1.1.0-draft"', 1)
    path.write_text(text, encoding="utf-8")
    template = load_template(path)
    assert template.version == "1.1.0-draft"
    assert not definition(GATING, template.id, template.version, template.sha256, path).locked


def test_the_loader_records_kind_id_version_hash_source_and_lock() -> None:
    document = read_document("vcn-car-rpp30", kind=ASSAY, error=AssayError)
    assert document.by_name and document.path == ROOT / "assays" / "vcn-car-rpp30.yaml"
    record = document.definition(document.data["id"], document.data["version"])
    assert record.to_dict() == {
        "kind": "assay",
        "id": "vcn-car-rpp30",
        "version": "1.0",
        "sha256": load_assay("vcn-car-rpp30").sha256,
        "source": str(document.path),
        "locked": True,
    }


def test_bare_names_never_resolve_against_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relaxed = (ROOT / "assays" / "vcn-car-rpp30.yaml").read_text(encoding="utf-8")
    (tmp_path / "vcn-car-rpp30").write_text(relaxed.replace("0.98", "0.5"), encoding="utf-8")
    (tmp_path / "vcn-car-rpp30.yaml").write_text(relaxed.replace("0.98", "0.5"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_assay("vcn-car-rpp30").path == ROOT / "assays" / "vcn-car-rpp30.yaml"


@pytest.mark.parametrize(
    ("name", "kind"), [("potency-ifng-elisa", "elisa"), ("potency-cytotox", "cytotox")]
)
def test_the_old_assay_schema_key_still_loads_with_its_locked_hash(
    tmp_path: Path, name: str, kind: str
) -> None:
    # the bundled potency assays are still written with 'schema: cytorelease.assay/1'
    text = (ROOT / "assays" / f"{name}.yaml").read_text(encoding="utf-8")
    assert "\nschema: cytorelease.assay/1\n" in text
    load = load_potency_assay if kind == "elisa" else load_cytotox_assay
    old = load(name)
    old_sha = old.sha256 if kind == "elisa" else old[2]
    assert read_lock(ROOT / "assays" / "LOCK", error=AssayError)[f"{name}@1.0"] == old_sha
    # the unified key: the same assay, its own content hash (a new file, not the locked one)
    new = tmp_path / f"{name}.yaml"
    new.write_text(text.replace("\nschema: cytorelease.assay/1\n", "\nschema_version: 1\n"))
    unified = load(new)
    model = unified.assay if kind == "elisa" else unified[0]
    assert model.schema_version == 1 and model.id == name
    assert (unified.sha256 if kind == "elisa" else unified[2]) != old_sha


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        ("schema: cytorelease.assay/2", "schema_version (line 4): required field is missing"),
        ("schema_version: 2", "schema_version (line 4): Input should be 1"),
        (
            "schema: cytorelease.assay/1\nschema_version: 1",
            "line 4: unknown field (check the spelling)",
        ),
    ],
)
def test_an_unknown_assay_schema_is_refused_with_its_line(
    tmp_path: Path, replacement: str, message: str
) -> None:
    text = (ROOT / "assays" / "potency-ifng-elisa.yaml").read_text(encoding="utf-8")
    path = tmp_path / "assay.yaml"
    path.write_text(text.replace("schema: cytorelease.assay/1", replacement, 1))
    with pytest.raises(AssayError) as info:
        load_potency_assay(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_every_kind_is_read_through_the_one_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    import cytorelease.library as library
    from cytorelease.spec import resolve_spec

    seen: list[str] = []
    real = library.document_from_yaml

    def spy(parsed: object, *, kind: DefinitionKind, path: Path, by_name: bool = False) -> object:
        seen.append(f"{kind}:{path.name}")
        return real(parsed, kind=kind, path=path, by_name=by_name)  # type: ignore[arg-type]

    monkeypatch.setattr(library, "document_from_yaml", spy)
    monkeypatch.setattr("cytorelease.spec.loader.document_from_yaml", spy)
    load_template("cd19-car-t-panel")
    load_assay("vcn-car-rpp30")
    load_potency_assay("potency-ifng-elisa")
    load_cytotox_assay("potency-cytotox")
    spec = resolve_spec("cd19-car-t@2")
    assert seen == [
        "gating-template:cd19-car-t-panel.yaml",
        "assay:vcn-car-rpp30.yaml",
        "assay:potency-ifng-elisa.yaml",
        "assay:potency-cytotox.yaml",
        "spec:v2.yaml",
    ]
    assert spec.definition().to_dict() == {
        "kind": "spec",
        "id": "cd19-car-t",
        "version": "2",
        "sha256": spec.sha256,
        "source": str(spec.path),
        "locked": True,
    }
