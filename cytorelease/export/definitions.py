"""The definitions an export copies: the spec, gating templates and assays a result names.

Each is found through the loaders' own resolvers (so a site library is honoured) and copied only
when the library still holds the content the result recorded; otherwise it is listed as not
available, with the recorded hash and the reason. Nothing is skipped silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cytorelease.errors import CytoreleaseError
from cytorelease.export.bundle import BundleWriter, FileRole

__all__ = ["copy_definitions"]


def copy_definitions(bundle: BundleWriter, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spec, gating templates and assays the results name, deduplicated, in that order."""
    wanted: dict[tuple[str, str, str, str], None] = {}  # ordered, deduplicated
    for record in results:
        spec = record.get("evaluation", {}).get("spec")
        named = [{"kind": "spec", **spec}] if spec else []
        for reference in named + list(record.get("methods", [])):
            fields = ("kind", "id", "version", "sha256")
            kind, ident, version, sha = (str(reference.get(f)) for f in fields)
            wanted[(kind, ident, version, sha)] = None
    return [_copy_definition(bundle, *key) for key in wanted]


def _copy_definition(
    bundle: BundleWriter, kind: str, ident: str, version: str, recorded: str
) -> dict[str, Any]:
    described: dict[str, Any] = {
        "kind": kind,
        "id": ident,
        "version": version,
        "content_sha256": recorded,
        "available": False,
    }
    try:
        found = _resolve_definition(kind, ident, version)
    except CytoreleaseError as exc:
        return {**described, "reason": f"not in the library: {exc.one_line()}"}
    if found is None:
        return {**described, "reason": f"no resolver for a {kind!r} definition"}
    path, found_version, found_sha, folder = found
    if found_version != version or found_sha != recorded:
        return {
            **described,
            "library_path": str(path),
            "reason": f"the library holds {ident}@{found_version} with content sha256 "
            f"{found_sha}, not the recorded content",
        }
    relative = f"definitions/{folder.name}/{_relative_to(path, folder)}"
    copied = bundle.copy(path, relative, FileRole.DEFINITION)
    return {**described, "available": True, "path": copied.path, "library_path": str(path)}


def _resolve_definition(kind: str, ident: str, version: str) -> tuple[Path, str, str, Path] | None:
    """(file, version, content sha256, its library folder) through the loaders' own resolvers."""
    from cytorelease._resources import ResourceKind, resolve_resource, resource_dir

    if kind == "spec":
        from cytorelease.spec.registry import resolve_spec

        spec = resolve_spec(f"{ident}@{version}")
        folder = resource_dir(ResourceKind.SPECS)
        return spec.path, str(spec.spec.version), spec.sha256, folder
    if kind == "gating-template":
        from cytorelease.flow.gating.template import load_template

        template = load_template(ident)
        path = template.source or resolve_resource(ResourceKind.GATING, ident)
        return path, str(template.version), template.sha256, resource_dir(ResourceKind.GATING)
    if kind == "assay":
        return _resolve_assay(ident)
    return None


def _resolve_assay(ident: str) -> tuple[Path, str, str, Path]:
    from cytorelease._resources import ResourceKind, resolve_resource, resource_dir
    from cytorelease._yaml import load_yaml_file
    from cytorelease.errors import AssayError

    folder = resource_dir(ResourceKind.ASSAYS)
    # Read through the project's loader (bounded; an error names the file and line, never its
    # text): the site library's file may be anything, and its kind picks the loader below.
    path = resolve_resource(ResourceKind.ASSAYS, ident)
    peek = load_yaml_file(path, error=AssayError, what="assay").data
    assay_kind = peek.get("kind") if isinstance(peek, dict) else None
    if assay_kind == "potency-elisa":
        from cytorelease.potency.assay import load_potency_assay

        elisa = load_potency_assay(ident)
        return elisa.path, str(elisa.assay.version), elisa.sha256, folder
    if assay_kind == "potency-cytotox":
        from cytorelease.potency.cytotox import load_cytotox_assay

        cytotox, path, sha = load_cytotox_assay(ident)
        return path, str(cytotox.version), sha, folder
    from cytorelease.qpcr.assay import load_assay

    qpcr = load_assay(ident)
    return qpcr.path, str(qpcr.assay.version), qpcr.sha256, folder


def _relative_to(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.name  # a site library outside the usual folder
