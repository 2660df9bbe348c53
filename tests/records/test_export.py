"""``audit export``: a lot's records copied complete and checkable (21 CFR 11.10(b))."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.export import export_lot, export_lot_from_store
from cytorelease.export.bundle import BundleFile, FileRole, sums_line
from cytorelease.provenance import file_sha256
from cytorelease.records import audit
from cytorelease.records.archive import archive_file, archived_path
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store, open_store
from tests.cli_contract import assert_bad_input, invoke, one_json_document
from tests.hook.conftest import INSTRUMENTS, install_manifest

LOT = "lot-CAR-0013"
PASSPHRASE = "export-service-pass-1234"
TUBES = ("tube1_stained.fcs", "tube2_fmo_car.fcs")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(data folder, lot folder): a small synthetic lot hooked, routed, released and signed."""
    from cytorelease.hook.hook import hook_file
    from cytorelease.hook.worker import run_worker
    from cytorelease.synth.lot import generate_lot
    from cytorelease.synth.manual import write_manual_entries
    from cytorelease.synth.params import LotParams
    from cytorelease.synth.tubes import write_flow_tubes
    from tests.report.conftest import service_key

    root = tmp_path_factory.mktemp("export")
    lot_dir = generate_lot(
        root / "lots",
        seed=13,
        params=LotParams(n_events=4000, fmo_events=2000),
        steps=(write_flow_tubes, write_manual_entries),
    ).lot_dir
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CYTORELEASE_DB", raising=False)
        patch.setenv("CYTORELEASE_SERVICE_PASSPHRASE", PASSPHRASE)
        data = DataDir.open(root / "data")
        data.instruments_path.write_text(INSTRUMENTS, encoding="utf-8")
        service_key(data.keys_dir, PASSPHRASE)
        install_manifest(data, lot_dir)
        with open_store(data, url="") as store:
            for name in TUBES:
                acquired = root / "instrument" / f"{LOT}-{name}-acq.fcs"
                acquired.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(lot_dir / name, acquired)
                hook_file(data, store, acquired, instrument="FACS-01", stable_seconds=0.01)
            report = run_worker(data, store, once=True)
        assert [r["lot"] for r in report.releases] == [LOT]
        yield data.root, lot_dir


@pytest.fixture
def data_dir(released: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the released data folder (tests alter it or append to its trail)."""
    monkeypatch.delenv("CYTORELEASE_DB", raising=False)
    monkeypatch.delenv("CYTORELEASE_LIBRARY", raising=False)
    return Path(shutil.copytree(released[0], tmp_path / "data"))


def _trail(data_dir: Path) -> list[audit.AuditEntry]:
    with open_store(DataDir.open(data_dir, create=False), url="") as store:
        return audit.entries(store)


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_bundle_is_complete_and_checks_out(
    data_dir: Path, released: tuple[Path, Path], tmp_path: Path
) -> None:
    lot_dir = released[1]
    untouched = {k: v for k, v in _files(data_dir).items() if not k.startswith("cytorelease.db")}
    before = _trail(data_dir)
    out = tmp_path / "bundle"
    report = export_lot(data_dir, LOT, out)

    check = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    manifest_bytes = (out / "MANIFEST.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    bundle = _files(out)
    summed = {line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines()}
    assert summed == set(bundle) - {"SHA256SUMS"}
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(bundle) - {"MANIFEST.json", "SHA256SUMS"}
    assert all(listed[p]["sha256"] == bundle[p] for p in listed)
    assert all(listed[p]["bytes"] == (out / p).stat().st_size for p in listed)
    assert manifest["schema"] == "cytorelease.export/1"
    assert (manifest["lot"], manifest["exported_by"]) == (LOT, audit.os_user())
    assert manifest["created_at"].endswith("Z")
    assert manifest["software"]["name"] == "cytorelease"

    # raw files: byte for byte the lot's tubes, under their manifest input paths
    for name in TUBES:
        assert (out / "raw" / name).read_bytes() == (lot_dir / name).read_bytes()
        assert listed[f"raw/{name}"]["role"] == FileRole.RAW
    assert (out / "lot.yaml").read_bytes() == (data_dir / "lots" / LOT / "lot.yaml").read_bytes()

    # the release: result.json and the signed CoA exactly as stored
    (stored,) = list((data_dir / "releases" / LOT).iterdir())
    (release,) = manifest["releases"]
    assert (out / "releases/1/result.json").read_bytes() == (stored / "result.json").read_bytes()
    coa = f"coa-{LOT}.html"
    assert (out / "releases/1" / coa).read_bytes() == (stored / coa).read_bytes()
    assert release["disposition"] == "INCOMPLETE"
    assert release["record_sha256"] == report.releases[0]["record_sha256"]
    assert [(s["user_id"], s["meaning"]) for s in release["signatures"]] == [
        ("service", "computer-generated-evaluation")
    ]
    assert (
        release["coa_signatures"][0]["key_fingerprint"]
        == (release["signatures"][0]["key_fingerprint"])
    )

    # definitions: the spec and template the result names, with the recorded content hash
    result = json.loads((stored / "result.json").read_text(encoding="utf-8"))
    from cytorelease.flow.gating.template import load_template
    from cytorelease.spec.loader import load_spec_file

    by_kind = {d["kind"]: d for d in manifest["definitions"]}
    assert set(by_kind) == {"spec", "gating-template"}
    assert all(d["available"] for d in manifest["definitions"])
    spec = load_spec_file(out / by_kind["spec"]["path"])
    assert (
        spec.sha256 == result["evaluation"]["spec"]["sha256"] == by_kind["spec"]["content_sha256"]
    )
    template = load_template(out / by_kind["gating-template"]["path"])
    (method,) = result["methods"]
    assert template.sha256 == method["sha256"]

    # the audit extract: the lot's rows, with their hashes; the export row comes after them
    extract = json.loads((out / "audit/audit.json").read_text(encoding="utf-8"))["rows"]
    # (the worker's audit checkpoint rows belong to no lot)
    assert [r["sequence"] for r in extract] == [e.sequence for e in before if e.lot == LOT]
    actions = [r["action"] for r in extract]
    for action in ("ingest", "analyse", "route", "spec-load", "evaluate", "render", "sign"):
        assert action in actions
    assert all(audit.row_hash({k: r[k] for k in r if k != "hash"}) == r["hash"] for r in extract)
    with open(out / "audit/audit.csv", encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(int(r["sequence"]), r["hash"]) for r in table] == [
        (r["sequence"], r["hash"]) for r in extract
    ]
    assert manifest["audit"]["chain"] == {
        "ok": True,
        "rows": len(before),
        "last_hash": before[-1].hash,
        "broken_at": None,
        "problem": None,
    }
    after = _trail(data_dir)
    assert after[:-1] == before
    exported = after[-1]
    assert (exported.action, exported.actor, exported.lot) == ("export", audit.os_user(), LOT)
    assert exported.object == str(out)
    assert exported.details["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert report.audit_sequence == exported.sequence == before[-1].sequence + 1
    assert audit.row_hash(exported.hashed_fields()) == exported.hash

    # the human-readable page names the same facts
    page = (out / "index.html").read_text(encoding="utf-8")
    for text in (LOT, "INCOMPLETE", "computer-generated-evaluation", spec.sha256, before[-1].hash):
        assert text in page
    assert all(file_sha256(lot_dir / name) in page for name in TUBES)
    assert page.count("<tr>") >= len(extract) + 1

    # nothing in the data folder changed but the trail
    assert {k: v for k, v in _files(data_dir).items() if k in untouched} == untouched
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_rows_about_the_lots_files_and_queue_items_are_extracted(
    data_dir: Path, tmp_path: Path
) -> None:
    data = DataDir.open(data_dir, create=False)
    with open_store(data, url="") as store:
        sha = str(store.scalar("SELECT sha256 FROM lot_files WHERE input_path = ?", (TUBES[0],)))
        key = str(store.scalar("SELECT key FROM queue WHERE kind = 'release'"))
        with store.write():
            seen = audit.append(
                store, actor="instrument:FACS-01", action=audit.Action.DUPLICATE, object=sha
            )
            retried = audit.append(
                store, actor="qa", action=audit.Action.ITEM_RETRIED, object=key, details={"r": 1}
            )
            other = audit.append(
                store, actor="qa", action=audit.Action.DUPLICATE, object="f" * 64, lot="lot-X"
            )
    export_lot(data_dir, LOT, tmp_path / "bundle")
    rows = json.loads((tmp_path / "bundle/audit/audit.json").read_text(encoding="utf-8"))["rows"]
    sequences = [r["sequence"] for r in rows]
    assert seen.sequence in sequences and retried.sequence in sequences
    assert other.sequence not in sequences
    assert rows[-1] == retried.to_dict()


def test_an_export_into_an_existing_empty_folder(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    report = export_lot(data_dir, LOT, out)
    assert (out / "MANIFEST.json").is_file()
    assert report.to_dict()["files"] == len(_files(out)) == 12


def test_a_replaced_raw_file_is_kept_as_superseded(data_dir: Path, tmp_path: Path) -> None:
    data = DataDir.open(data_dir, create=False)
    newer = tmp_path / "reacquired.fcs"
    newer.write_bytes(b"a re-acquired tube\n" * 100)
    stored = archive_file(newer, data.archive_dir, data.archive_tmp)
    with open_store(data, url="") as store, store.write():
        old = str(store.scalar("SELECT sha256 FROM lot_files WHERE input_path = ?", (TUBES[0],)))
        store.execute(
            "INSERT INTO raw_files VALUES (?, ?, 'fcs', 'accepted', NULL, 'FACS-01', ?, ?, '{}',"
            " '2099-01-01T00:00:00+00:00')",
            (stored.sha256, stored.size, newer.name, str(newer)),
        )
        store.execute(
            "INSERT INTO lot_files VALUES (?, ?, ?, '2099-01-01T00:00:00+00:00')",
            (LOT, TUBES[0], stored.sha256),
        )
    out = tmp_path / "bundle"
    export_lot(data_dir, LOT, out)
    assert (out / "raw" / TUBES[0]).read_bytes() == newer.read_bytes()
    assert file_sha256(out / "superseded" / old / TUBES[0]) == old
    manifest = json.loads((out / "MANIFEST.json").read_text(encoding="utf-8"))
    roles = {f["path"]: f["role"] for f in manifest["files"]}
    assert roles[f"superseded/{old}/{TUBES[0]}"] == "raw-superseded"
    assert [r["current"] for r in manifest["raw_files"] if r["input_path"] == TUBES[0]] == [
        False,
        True,
    ]


def test_a_definition_the_library_no_longer_holds_is_listed_not_skipped(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytorelease._resources import ResourceKind, resource_dir

    library = tmp_path / "library"
    (library / "gating").mkdir(parents=True)
    original = (resource_dir(ResourceKind.GATING) / "cd19-car-t-panel.yaml").read_text("utf-8")
    changed = original.replace("no hand-drawn gates.", "no hand-drawn gates (site copy).")
    assert changed != original
    (library / "gating" / "cd19-car-t-panel.yaml").write_text(changed, encoding="utf-8")
    monkeypatch.setenv("CYTORELEASE_LIBRARY", str(library))
    out = tmp_path / "bundle"
    report = export_lot(data_dir, LOT, out)
    (missing,) = report.unavailable_definitions
    assert (missing["kind"], missing["id"], missing["available"]) == (
        "gating-template",
        "cd19-car-t-panel",
        False,
    )
    assert "not the recorded content" in missing["reason"]
    assert not (out / "definitions" / "gating").exists()
    assert (out / "definitions" / "specs" / "cd19-car-t" / "v2.yaml").is_file()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "not available" in page and missing["content_sha256"] in page

    (library / "gating" / "cd19-car-t-panel.yaml").unlink()
    gone = export_lot(data_dir, LOT, tmp_path / "bundle2").unavailable_definitions
    assert gone[0]["reason"].startswith("not in the library: ")


def _no_bundle(out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if ".partial-" in p.name]


def test_an_altered_archive_copy_is_refused_and_nothing_is_left(
    data_dir: Path, tmp_path: Path
) -> None:
    data = DataDir.open(data_dir, create=False)
    before = _trail(data_dir)
    with open_store(data, url="") as store:
        sha = str(store.scalar("SELECT sha256 FROM lot_files WHERE input_path = ?", (TUBES[1],)))
    copy = archived_path(data.archive_dir, sha)
    os.chmod(copy, stat.S_IRUSR | stat.S_IWUSR)
    content = bytearray(copy.read_bytes())
    content[-1] ^= 0xFF
    copy.write_bytes(bytes(content))
    out = tmp_path / "bundle"
    with pytest.raises(InputError) as caught:
        export_lot(data_dir, LOT, out)
    assert caught.value.path == str(copy)
    assert f"the archived copy of {TUBES[1]} was altered: recorded sha256 {sha}" in str(
        caught.value
    )
    _no_bundle(out)
    assert _trail(data_dir) == before  # no export row for an export that did not happen

    copy.unlink()
    with pytest.raises(InputError, match=r"the archived copy of tube2_fmo_car.fcs .* is missing"):
        export_lot(data_dir, LOT, out)
    _no_bundle(out)


def test_an_altered_result_record_is_refused(data_dir: Path, tmp_path: Path) -> None:
    (stored,) = list((data_dir / "releases" / LOT).iterdir())
    result = stored / "result.json"
    result.write_text(result.read_text("utf-8").replace("INCOMPLETE", "PASS"), encoding="utf-8")
    out = tmp_path / "bundle"
    with pytest.raises(InputError, match="the stored result record was altered") as caught:
        export_lot(data_dir, LOT, out)
    assert caught.value.path == str(result)
    _no_bundle(out)


def test_bad_requests_are_refused_before_anything_is_written(
    data_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="no lot 'lot-CAR-9999' in the record store") as caught:
        export_lot(data_dir, "lot-CAR-9999", tmp_path / "bundle")
    assert caught.value.path == str(data_dir)
    _no_bundle(tmp_path / "bundle")

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep\n", encoding="utf-8")
    with pytest.raises(InputError, match="is not empty") as caught:
        export_lot(data_dir, LOT, busy)
    assert caught.value.path == str(busy)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]

    with pytest.raises(InputError, match="is a file, not a folder"):
        export_lot(data_dir, LOT, busy / "notes.txt")
    with pytest.raises(InputError, match="is inside the data folder"):
        export_lot(data_dir, LOT, data_dir / "exports" / "x")
    assert not (data_dir / "exports").exists()

    empty = tmp_path / "not-data"
    empty.mkdir()
    with pytest.raises(InputError, match=r"no cytorelease record store here"):
        export_lot(empty, LOT, tmp_path / "bundle")
    assert list(empty.iterdir()) == []


def test_cli_json_and_errors(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = invoke(["audit", "export", LOT, "--out", out, "--data-dir", data_dir, "--json"])
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    assert document["lot"] == LOT
    assert document["manifest_sha256"] == file_sha256(out / "MANIFEST.json")
    assert document["files"] == len(_files(out))
    assert [r["disposition"] for r in document["releases"]] == ["INCOMPLETE"]
    assert document["chain"]["ok"] is True
    assert document["audit_sequence"] == _trail(data_dir)[-1].sequence

    plain = invoke(["audit", "export", LOT, "--out", tmp_path / "b2", "--data-dir", data_dir])
    assert plain.exit_code == 0, plain.stderr
    assert f"exported lot {LOT} to {tmp_path / 'b2'}" in plain.stdout
    assert "release 1: INCOMPLETE (releases/1)" in plain.stdout

    line = assert_bad_input(
        invoke(["audit", "export", LOT, "--out", out, "--data-dir", data_dir]), out
    )
    assert "is not empty" in line
    line = assert_bad_input(
        invoke(["audit", "export", "lot-X", "--out", tmp_path / "b3", "--data-dir", data_dir]),
        data_dir,
    )
    assert "no lot 'lot-X'" in line


def test_sha256sums_lines_escape_names_as_sha256sum_does(tmp_path: Path) -> None:
    name = "odd\\name.fcs"
    (tmp_path / name).write_bytes(b"abc")
    entry = BundleFile(name, hashlib.sha256(b"abc").hexdigest(), 3, FileRole.RAW)
    line = sums_line(entry)
    assert line.startswith("\\") and "odd\\\\name.fcs" in line
    (tmp_path / "plain").write_bytes(b"")
    plain = BundleFile("plain", hashlib.sha256(b"").hexdigest(), 0, FileRole.RAW)
    (tmp_path / "SUMS").write_text(line + sums_line(plain), encoding="utf-8")
    check = subprocess.run(
        ["sha256sum", "--strict", "-c", "SUMS"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 2


def test_the_same_export_on_each_backend(
    released: tuple[Path, Path], data: DataDir, store: Store, tmp_path: Path
) -> None:
    """The released lot's records moved into a fresh store of each backend, then exported."""
    source = DataDir.open(released[0], create=False)
    for folder in ("archive", "lots", "releases"):
        shutil.copytree(source.root / folder, data.root / folder, dirs_exist_ok=True)
    with open_store(source, url="") as original, store.write():
        for table in ("raw_files", "lot_files", "queue", "releases", "signatures"):
            for row in original.rows(f"SELECT * FROM {table}"):
                names = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                store.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))
        for entry in audit.entries(original):
            audit.append(
                store,
                actor=entry.actor,
                action=audit.Action(entry.action),
                object=entry.object,
                lot=entry.lot,
                details=entry.details,
            )
        expected = [e.action for e in audit.entries(original) if e.lot == LOT]
    out = tmp_path / "bundle"
    report = export_lot_from_store(data, store, LOT, out)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True)
    assert check.returncode == 0, check.stdout
    rows = json.loads((out / "audit/audit.json").read_text(encoding="utf-8"))["rows"]
    assert [r["action"] for r in rows] == expected
    assert [r["disposition"] for r in report.releases] == ["INCOMPLETE"]
    assert audit.entries(store)[-1].details["manifest_sha256"] == report.manifest_sha256
    assert audit.verify_chain(store).ok


def test_a_site_library_without_the_page_template_is_refused(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytorelease.errors import TemplateError

    library = tmp_path / "library"
    (library / "reports").mkdir(parents=True)
    monkeypatch.setenv("CYTORELEASE_LIBRARY", str(library))
    out = tmp_path / "bundle"
    with pytest.raises(TemplateError, match="no such export page template") as caught:
        export_lot(data_dir, LOT, out)
    assert caught.value.path == str(library / "reports" / "export-index.html.j2")
    _no_bundle(out)


def test_assays_and_templates_are_resolved_by_kind_and_checked_against_their_lock(
    tmp_path: Path,
) -> None:
    from cytorelease._lock import read_lock
    from cytorelease._resources import ResourceKind, resource_dir
    from cytorelease.errors import AssayError
    from cytorelease.export.bundle import BundleWriter
    from cytorelease.export.definitions import copy_definitions

    assays = resource_dir(ResourceKind.ASSAYS)
    locked = read_lock(assays / "LOCK", error=AssayError)
    locked |= read_lock(resource_dir(ResourceKind.GATING) / "LOCK", error=AssayError)
    methods = [
        {"kind": "assay", "id": ref.split("@")[0], "version": ref.split("@")[1], "sha256": sha}
        for ref, sha in sorted(locked.items())
        if ref.split("@")[0] in ("vcn-car-rpp30", "potency-ifng-elisa", "potency-cytotox")
    ]
    methods.append(
        {
            "kind": "gating-template",
            "id": "killing-assay",
            "version": "1.0.0",
            "sha256": locked["killing-assay@1.0.0"],
        }
    )
    stale = {"kind": "assay", "id": "vcn-car-rpp30", "version": "0.9", "sha256": "0" * 64}
    unknown = {"kind": "instrument-method", "id": "x", "version": "1", "sha256": "1" * 64}
    bundle = BundleWriter(tmp_path)
    found = copy_definitions(bundle, [{"methods": [*methods, stale, unknown, methods[0]]}])
    by_ref = {(d["kind"], d["id"], d["version"]): d for d in found}
    assert len(found) == len(by_ref) == 6  # 5 definitions (one twice), 1 of an unknown kind
    for method in methods:
        copied = by_ref[(method["kind"], method["id"], method["version"])]
        assert copied["available"], copied
        assert copied["content_sha256"] == method["sha256"]
        library = Path(copied["library_path"])
        assert (tmp_path / copied["path"]).read_bytes() == library.read_bytes()
    assert by_ref[("assay", "vcn-car-rpp30", "1.0")]["path"] == (
        "definitions/assays/vcn-car-rpp30.yaml"
    )
    assert "not the recorded content" in by_ref[("assay", "vcn-car-rpp30", "0.9")]["reason"]
    assert by_ref[("instrument-method", "x", "1")]["reason"] == (
        "no resolver for a 'instrument-method' definition"
    )


@pytest.mark.parametrize(
    ("hostile", "line", "problem"),
    [
        # nested deeper than any definition: PyYAML's own loader overflows the stack
        ("schema: x\nsecret: TOPSECRET-41\nkind: " + "[" * 3000 + "]" * 3000 + "\n", 3, "nesting"),
        ("schema: x\nkind: potency-elisa\nkind: TOPSECRET-41\n", 3, "duplicate key"),
        ("schema: x\nTOPSECRET-41: [unclosed\n", 3, "not valid YAML"),
    ],
)
def test_a_hostile_assay_in_the_site_library_is_one_line_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: str, line: int, problem: str
) -> None:
    from cytorelease.export.bundle import BundleWriter
    from cytorelease.export.definitions import copy_definitions

    library = tmp_path / "library"
    (library / "assays").mkdir(parents=True)
    planted = library / "assays" / "vcn-car-rpp30.yaml"
    planted.write_text(hostile, encoding="utf-8")
    monkeypatch.setenv("CYTORELEASE_LIBRARY", str(library))
    method = {"kind": "assay", "id": "vcn-car-rpp30", "version": "1.0", "sha256": "0" * 64}
    (found,) = copy_definitions(BundleWriter(tmp_path / "bundle"), [{"methods": [method]}])
    assert found["available"] is False
    reason = found["reason"]
    assert reason.startswith(f"not in the library: {planted}: line {line}: "), reason
    assert problem in reason and len(reason.splitlines()) == 1
    assert "TOPSECRET" not in reason and "[[" not in reason
