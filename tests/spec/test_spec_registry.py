"""Spec versions, references, the LOCK of effective versions, and new drafts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease import _resources
from cytorelease.cli.main import app
from cytorelease.errors import CytoreleaseError, SpecError
from cytorelease.spec import load_spec, load_spec_file, lock_specs, new_version, resolve_spec
from cytorelease.spec.loader import spec_identity
from cytorelease.spec.registry import check_specs, read_lock, verify_lock

runner = CliRunner()


def test_bundled_v1_is_the_release_testing_table() -> None:
    spec = resolve_spec("cd19-car-t@1").spec
    limits = {c.id: c.printed_limit() for c in spec.criteria}
    assert limits == {
        "appearance": "conforms",
        "transgene-identity": "detected",
        "cd3-identity": ">= 80 %",
        "car-expression": ">= 10 %",
        "viability": ">= 80 %",
        "dose": ">= 0.6 x 10^8 and <= 6.0 x 10^8 cells",
        "vcn": "< 5.0 copies/transduced cell",
        "potency-ifng": ">= 50 pg/mL",
        "potency-fold": ">= 2 fold",
        "potency": "all of: potency-ifng, potency-fold",
        "residual-b-cells": "<= 1 %",
        "endotoxin": "<= 5.0 EU/mL",
        "sterility": "no growth",
        "mycoplasma": "not detected",
        "rcl": "not detected",
    }
    assert spec.criterion("sterility").timing == "post-release"
    assert (spec.status, spec.market, str(spec.effective_from)) == (
        "superseded",
        "US",
        "2025-01-15",
    )


def test_references_resolve_to_versions() -> None:
    assert resolve_spec("cd19-car-t@1").ref == "cd19-car-t@1"
    latest = resolve_spec("cd19-car-t")
    assert (latest.ref, latest.spec.status, latest.spec.supersedes) == (
        "cd19-car-t@2",
        "effective",
        1,
    )
    by_path = resolve_spec(latest.path)
    assert by_path.sha256 == latest.sha256


def test_every_locked_bundled_version_matches_its_lock() -> None:
    lock = read_lock(resolve_spec("cd19-car-t").path.parents[1] / "LOCK")
    assert set(lock) == {"cd19-car-t@1", "cd19-car-t@2"}
    for ref, sha in lock.items():
        assert resolve_spec(ref).sha256 == sha


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("cd19-car-t@9", "no version 9 of cd19-car-t"),
        ("cd20-car-t", "no spec for product 'cd20-car-t'"),
        ("Not A Ref!", "not a spec file and not a reference"),
    ],
)
def test_unknown_references(reference: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        resolve_spec(reference)


def test_identity_ignores_formatting_and_lifecycle_but_not_content(specs_copy: Path) -> None:
    path = specs_copy / "cd19-car-t" / "v1.yaml"
    original = load_spec(path).sha256
    reformatted = "# a new comment\n" + path.read_text().replace(
        "limit: {min: 10}", "limit:\n      min: 10"
    )
    path.write_text(reformatted.replace("status: superseded", "status: retired"))
    same = load_spec(path)
    assert same.sha256 == original  # comments, layout, status: same identity
    assert same.locked  # content-addressed: the library's LOCK lists this very content
    path.write_text(reformatted.replace("limit:\n      min: 10", "limit:\n      min: 11"))
    changed = load_spec(path)  # loads: a what-if, never a release
    assert changed.sha256 != original and changed.locked is False
    with pytest.raises(SpecError, match="no longer matches its lock"):
        verify_lock(changed)  # the library's maintenance check still names it


def test_identity_is_the_hash_of_the_parsed_document() -> None:
    document = {"product": "x", "version": 1, "status": "draft", "criteria": []}
    assert spec_identity(document) == spec_identity({**document, "status": "effective"})
    assert spec_identity(document) != spec_identity({**document, "version": 2})


def test_an_effective_version_missing_from_its_folder_lock_is_reported(specs_copy: Path) -> None:
    (specs_copy / "LOCK").write_text("")
    loaded = load_spec(specs_copy / "cd19-car-t" / "v2.yaml")
    # the bundled library's LOCK still lists this content: an emptied LOCK beside a copy
    # changes nothing about whether it is locked
    assert loaded.locked is True
    with pytest.raises(SpecError) as caught:
        verify_lock(loaded)
    assert "cd19-car-t@2 is effective but not recorded in" in str(caught.value)
    assert "cytorelease spec lock" in str(caught.value)
    (check,) = check_specs([str(specs_copy / "cd19-car-t" / "v2.yaml")])
    assert not check.ok and "not recorded in" in check.problems[0]


def test_malformed_lock_line_names_the_lock_and_line(
    specs_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = specs_copy / "LOCK"
    lock.write_text(lock.read_text() + "cd19-car-t@3 not-a-hash\n")
    with pytest.raises(SpecError) as caught:
        verify_lock(load_spec(specs_copy / "cd19-car-t" / "v2.yaml"))
    assert str(caught.value).startswith(f"{lock}: line 6: expected '<id>@<version> <sha256>'")
    # the same LOCK as the site library's: judging any spec against it names the line too
    monkeypatch.setattr(_resources, "_library_override", specs_copy.parent)
    with pytest.raises(CytoreleaseError) as judged:
        _ = resolve_spec("cd19-car-t@2").locked
    assert str(judged.value).startswith(f"{lock}: line 6: expected '<id>@<version> <sha256>'")


def test_new_version_copies_the_latest_as_a_draft(specs_copy: Path) -> None:
    target = new_version(specs_copy / "cd19-car-t")
    assert target == specs_copy / "cd19-car-t" / "v3.yaml"
    draft = load_spec(target)  # a draft needs no lock
    v2 = load_spec(specs_copy / "cd19-car-t" / "v2.yaml")
    assert (draft.spec.version, draft.spec.status, draft.spec.supersedes) == (3, "draft", 2)
    assert draft.spec.effective_from is None
    assert draft.spec.criteria == v2.spec.criteria
    assert "# v2 (change control" in target.read_text()  # comments are kept
    assert new_version(target).name == "v4.yaml"


def test_new_version_never_overwrites(specs_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cytorelease.spec.registry as registry

    folder = specs_copy / "cd19-car-t"
    (folder / "v3.yaml").write_text("precious\n")
    real = registry.list_versions
    monkeypatch.setattr(registry, "list_versions", lambda d: [v for v in real(d) if v[0] < 3])
    with pytest.raises(SpecError, match=r"v3\.yaml already exists"):
        new_version(folder)
    assert (folder / "v3.yaml").read_text() == "precious\n"


def test_lock_records_an_approved_version_once(specs_copy: Path) -> None:
    target = new_version(specs_copy / "cd19-car-t")
    with pytest.raises(SpecError, match="is a draft"):
        lock_specs([target])
    target.write_text(
        target.read_text()
        .replace("status: draft", "status: effective")
        .replace("effective_from: null", "effective_from: 2026-11-01")
    )
    v2 = specs_copy / "cd19-car-t" / "v2.yaml"
    v2.write_text(v2.read_text().replace("status: effective", "status: superseded"))
    (entry,) = lock_specs([target])
    assert (entry.ref, entry.outcome) == ("cd19-car-t@3", "added")
    assert read_lock(specs_copy / "LOCK")["cd19-car-t@3"] == load_spec_file(target).sha256
    (again,) = lock_specs([target])
    assert again.outcome == "unchanged"


def test_two_effective_versions_are_ambiguous(
    specs_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = specs_copy / "cd19-car-t" / "v1.yaml"
    v1.write_text(v1.read_text().replace("status: superseded", "status: effective"))
    monkeypatch.setenv("CYTORELEASE_LIBRARY", str(specs_copy.parent))
    with pytest.raises(SpecError, match="more than one effective version"):
        resolve_spec("cd19-car-t")
    assert resolve_spec("cd19-car-t@1").spec.status == "effective"


def test_cli_show_and_diff_and_new_version(
    specs_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CYTORELEASE_LIBRARY", str(specs_copy.parent))
    shown = runner.invoke(app, ["spec", "show", "cd19-car-t@2", "--json"])
    assert shown.exit_code == 0, shown.stderr
    import json

    document = json.loads(shown.stdout)
    assert document["spec"]["version"] == 2
    assert [c["id"] for c in document["criteria"]][:3] == [
        "appearance",
        "transgene-identity",
        "cd3-identity",
    ]
    table = runner.invoke(app, ["spec", "show", "cd19-car-t"])
    assert table.exit_code == 0 and "cd19-car-t@2" in table.stdout and ">= 15 %" in table.stdout
    created = runner.invoke(app, ["spec", "new-version", "cd19-car-t"])
    assert created.exit_code == 0
    assert f"created {specs_copy / 'cd19-car-t' / 'v3.yaml'}" in created.stdout
