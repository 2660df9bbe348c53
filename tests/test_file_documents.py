"""Lot manifests and signer registries are read by the one loader, like the library's definitions.

Each hostile document is refused the same way for a qPCR assay (resolved through the library),
a lot's ``lot.yaml`` and a site's ``registry.yaml`` (both named by file): a duplicate key and a
document that is not a mapping by file and line, a file over the size bound and a device or a
pipe by file before anything is parsed; an unknown or missing ``schema`` by its line; and the
file's own text never reaches the message.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cytorelease._resources import ResourceKind, resource_dir
from cytorelease._yaml import MAX_DOCUMENT_BYTES
from cytorelease.errors import (
    AssayError,
    CytoreleaseError,
    ManifestError,
    SignatureError,
    SpecError,
)
from cytorelease.lot.manifest import load_manifest
from cytorelease.qpcr.assay import load_assay
from cytorelease.report.registry import load_registry
from cytorelease.spec.loader import load_spec_file
from tests.report.conftest import site_registry

SECRET = "hunter2-secret-value"


@dataclass(frozen=True)
class Kind:
    """A kind of versioned document: where its file is, how it is loaded, what it is called."""

    what: str
    error: type[CytoreleaseError]
    make: Callable[[Path], Path]  # writes a good document under the folder, returns its file
    load: Callable[[Path], object]  # loads the document whose file is given


def _assay(folder: Path) -> Path:
    path = folder / "assay.yaml"
    shutil.copyfile(resource_dir(ResourceKind.ASSAYS) / "vcn-car-rpp30.yaml", path)
    return path


def _lot(folder: Path) -> Path:
    shutil.copytree(resource_dir(ResourceKind.SAMPLE_DATA) / "lot-CAR-0001", folder / "lot")
    return folder / "lot" / "lot.yaml"


def _spec(folder: Path) -> Path:
    path = folder / "spec.yaml"
    shutil.copyfile(resource_dir(ResourceKind.SPECS) / "cd19-car-t" / "v1.yaml", path)
    return path


ASSAY = Kind("assay", AssayError, _assay, load_assay)
MANIFEST = Kind("lot manifest", ManifestError, _lot, lambda p: load_manifest(p.parent))
REGISTRY = Kind(
    "signer registry", SignatureError, lambda f: site_registry(f / "keys"), load_registry
)
SPEC = Kind("spec file", SpecError, _spec, load_spec_file)
KINDS = [ASSAY, MANIFEST, REGISTRY]
NAMED_BY_FILE = [MANIFEST, REGISTRY]


def _refused(kind: Kind, path: Path) -> str:
    with pytest.raises(kind.error) as info:
        kind.load(path)
    text = str(info.value)
    assert "\n" not in text
    assert SECRET not in text, text
    return text


def _first_key_line(path: Path) -> tuple[int, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if re.match(r"[a-z_]+:", line))
    return number + 1, lines[number]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.what)
def test_every_kind_loads_untouched(kind: Kind, tmp_path: Path) -> None:
    kind.load(kind.make(tmp_path))  # the hostile cases below are refused for what they add


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.what)
def test_a_duplicate_key_is_refused_with_both_lines(kind: Kind, tmp_path: Path) -> None:
    path = kind.make(tmp_path)
    first, line = _first_key_line(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(f"{text}{line}\n", encoding="utf-8")
    added = text.count("\n") + 1
    assert _refused(kind, path) == (
        f"{path}: line {added}: duplicate key (the first is on line {first})"
    )


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.what)
@pytest.mark.parametrize("document", [f"- {SECRET}\n- b\n", f"{SECRET}\n", "42\n"])
def test_a_document_that_is_not_a_mapping_is_refused_at_its_line(
    kind: Kind, document: str, tmp_path: Path
) -> None:
    path = kind.make(tmp_path)
    path.write_text(f"# a comment\n{document}", encoding="utf-8")
    assert _refused(kind, path).startswith(f"{path}: line 2: ")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.what)
def test_an_empty_document_is_refused(kind: Kind, tmp_path: Path) -> None:
    path = kind.make(tmp_path)
    path.write_text("# nothing here\n", encoding="utf-8")
    assert _refused(kind, path).startswith(f"{path}: the {kind.what} file is empty")


@pytest.mark.parametrize("kind", [*KINDS, SPEC], ids=lambda k: k.what)
def test_a_file_over_the_bound_is_refused_unread(kind: Kind, tmp_path: Path) -> None:
    path = kind.make(tmp_path)
    with path.open("ab") as handle:
        handle.write(b"#" * MAX_DOCUMENT_BYTES)
    assert _refused(kind, path) == (
        f"{path}: larger than {MAX_DOCUMENT_BYTES:,} bytes (expected the {kind.what})"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="devices and FIFOs are POSIX")
@pytest.mark.parametrize("kind", [*NAMED_BY_FILE, SPEC], ids=lambda k: k.what)
@pytest.mark.parametrize("special", ["device", "fifo"])
def test_a_device_or_a_pipe_is_refused_without_reading(
    kind: Kind, special: str, tmp_path: Path
) -> None:
    """/dev/zero would be read to the bound; a FIFO would block the reader for ever."""
    path = kind.make(tmp_path)
    path.unlink()
    if special == "device":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)
    assert _refused(kind, path) == (
        f"{path}: not a regular file (a device, pipe or socket; expected the {kind.what})"
    )


@pytest.mark.parametrize(
    ("kind", "schema"),
    [(MANIFEST, "cytorelease.lot/1"), (REGISTRY, "cytorelease.registry/1")],
    ids=["lot manifest", "signer registry"],
)
@pytest.mark.parametrize("value", ["cytorelease.registry/9", "cytorelease.lot/2", SECRET, "[1, 2]"])
def test_an_unknown_schema_is_refused_at_its_line_without_its_value(
    kind: Kind, schema: str, value: str, tmp_path: Path
) -> None:
    path = kind.make(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert f"schema: {schema}\n" in text
    path.write_text(f"# edited\n{text.replace(f'schema: {schema}', f'schema: {value}')}")
    assert _refused(kind, path) == (
        f"{path}: schema (line 2): unknown {kind.what} schema; this cytorelease reads {schema}"
    )


@pytest.mark.parametrize(
    ("kind", "schema"),
    [(MANIFEST, "cytorelease.lot/1"), (REGISTRY, "cytorelease.registry/1")],
    ids=["lot manifest", "signer registry"],
)
def test_a_document_without_its_schema_key_is_refused(
    kind: Kind, schema: str, tmp_path: Path
) -> None:
    """``schema_version`` is the library definitions' key; a file-named document has ``schema``."""
    path = kind.make(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"schema: {schema}\n", "schema_version: 1\n"), encoding="utf-8")
    assert _refused(kind, path).startswith(
        f"{path}: schema (line 1): required field is missing (this cytorelease reads {schema})"
    )


def test_an_unsigned_signers_file_keeps_its_own_refusal(tmp_path: Path) -> None:
    path = REGISTRY.make(tmp_path)
    path.write_text("schema: cytorelease.signers/1\nsigners: []\n", encoding="utf-8")
    text = _refused(REGISTRY, path)
    assert text.startswith(f"{path}: schema (line 1): an unsigned signers.yaml is not a registry")
    assert "cytorelease keys init-registry" in text  # the hint says what to do instead


def test_a_registry_field_beside_schema_and_versions_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    path = REGISTRY.make(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(f"{text}{SECRET}: 1\n", encoding="utf-8")
    assert _refused(REGISTRY, path) == (
        f"{path}: line {text.count(chr(10)) + 1}: a registry has exactly the fields schema and "
        "versions"
    )


def test_an_unknown_field_in_a_registry_version_is_not_named(tmp_path: Path) -> None:
    path = REGISTRY.make(tmp_path)
    text = path.read_text(encoding="utf-8")
    marker = "  signed_by: "
    assert text.count(marker) == 1
    path.write_text(text.replace(marker, f"  {SECRET}: x\n{marker}"), encoding="utf-8")
    line = text[: text.index(marker)].count("\n") + 1
    assert _refused(REGISTRY, path) == (
        f"{path}: version 1: line {line}: unknown field (check the spelling)"
    )


def test_an_unknown_field_in_a_manifest_is_not_named(tmp_path: Path) -> None:
    path = MANIFEST.make(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(f"{text}{SECRET}: 1\n", encoding="utf-8")
    assert _refused(MANIFEST, path) == (
        f"{path}: line {text.count(chr(10)) + 1}: unknown field (check the spelling)"
    )
