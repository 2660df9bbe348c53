"""Which versioned definitions judged a lot, and whether the library's LOCK holds each of them.

A lot is released only against definitions the library has locked: the spec, the gating
templates and the assays. Each is recorded as ``{kind, id, version, sha256, source, locked}``;
``locked`` is true only when the LOCK of the library in use (bundled, or the site library of
``--library`` / ``CYTORELEASE_LIBRARY``) lists ``id@version`` with exactly that content hash. A
LOCK lying beside a file given by path is never consulted here, so a relaxed copy with its own
LOCK is ``locked: false``. An unlocked definition is allowed for what-if and development runs
only: the disposition can then never be PASS (it becomes INCOMPLETE, the evaluator's word for
"may not be released yet") and the CoA says NOT FOR RELEASE.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cytorelease.library import DefinitionKind, definition
from cytorelease.lot.manifest import LotManifest
from cytorelease.lot.outcome import AnalysisOutcome

__all__ = [
    "NOT_FOR_RELEASE",
    "apply_unlocked",
    "definitions_of",
    "not_for_release_lines",
    "spec_definition",
]

NOT_FOR_RELEASE = "NOT FOR RELEASE"
_KINDS = {str(kind) for kind in DefinitionKind}


def _references(manifest: LotManifest) -> dict[str, str]:
    """The manifest's reference of the definition each analysis used (what the user wrote)."""
    inputs = manifest.inputs
    found: dict[str, str] = {}
    if inputs.flow:
        found["flow"] = inputs.flow.template
    if inputs.qpcr:
        found["qpcr"] = inputs.qpcr.assay
    if inputs.potency and inputs.potency.elisa:
        found["potency.elisa"] = inputs.potency.elisa.assay
    if inputs.potency and inputs.potency.cytotox:
        found["potency.cytotox"] = inputs.potency.cytotox.assay
    return found


def _entry(kind: str, ident: str, version: str, sha256: str, source: str) -> dict[str, Any]:
    """The record of one definition (``cytorelease.library``: locked by the library's LOCK);
    ``source`` is the reference the manifest or command gave."""
    return definition(DefinitionKind(kind), ident, version, sha256, source).to_dict()


def spec_definition(spec: Any, reference: str) -> dict[str, Any]:
    """The record of the spec a lot or a set of measurements was judged against; ``source`` is
    the reference given (``cd19-car-t@2``, a path)."""
    return _entry("spec", spec.spec.product, str(spec.spec.version), spec.sha256, reference)


def definitions_of(
    manifest: LotManifest,
    *,
    spec: Any,
    spec_reference: str,
    outcomes: Iterable[AnalysisOutcome],
) -> list[dict[str, Any]]:
    """Every definition the release used, spec first, each with its lock status."""
    references = _references(manifest)
    found = [spec_definition(spec, spec_reference)]
    seen: set[tuple[str, str, str]] = set()
    for outcome in outcomes:
        for method in outcome.methods:
            kind = str(method.get("kind"))
            if kind not in _KINDS or "sha256" not in method:
                continue
            key = (kind, str(method["id"]), str(method["version"]))
            if key in seen:
                continue
            seen.add(key)
            named = references.get(outcome.analysis)
            if kind == "gating-template" and outcome.analysis != "flow":
                # the killing assay names its own template; it comes from the library
                source = f"named by the {outcome.analysis} assay"
            else:
                source = named or outcome.analysis
            found.append(_entry(kind, key[1], key[2], str(method["sha256"]), source))
    return found


def not_for_release_lines(definitions: Iterable[Mapping[str, Any]]) -> list[str]:
    """``NOT FOR RELEASE: unlocked definition <kind> <id> (<source>)`` per unlocked one."""
    return [
        f"{NOT_FOR_RELEASE}: unlocked definition {d.get('kind')} {d.get('id')} ({d.get('source')})"
        for d in definitions
        if d.get("locked") is not True
    ]


def apply_unlocked(
    evaluation: Mapping[str, Any], definitions: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The evaluation with PASS withheld (INCOMPLETE) and an alert per unlocked definition."""
    lines = not_for_release_lines(definitions)
    result = dict(evaluation)
    if not lines:
        return result
    if result.get("disposition") == "PASS":
        result["disposition"] = "INCOMPLETE"
    result["alerts"] = [
        *(result.get("alerts") or []),
        *({"source": "definitions", "message": line} for line in lines),
    ]
    return result
