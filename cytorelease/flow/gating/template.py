"""Gating templates: the versioned YAML documents under ``gating/`` and their pydantic model.

A template names markers (matched to a file's channels by $PnS label or alias, case-insensitive,
or by $PnN), the transform of each marker, the compensation to apply, a tree of gates (fixed
ones with coordinates on the markers' transformed scales, and data-driven ones placed per
sample), the minimum event count of a reportable population and the measurements to report.

Validation errors name the file, the field path (``gates[3].parent``) and its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cytorelease._yaml import LineMap, error_location, format_path, locate
from cytorelease.errors import TemplateError
from cytorelease.flow.gating.template_model import (
    BooleanGateSpec,
    BoolOp,
    CompensationSource,
    CompensationSpec,
    ControlPercentileGateSpec,
    CrossCheckSpec,
    DensityValleyGateSpec,
    EllipseGateSpec,
    GateKind,
    GateSpec,
    MarkerSpec,
    MeasurementKind,
    MeasurementSpec,
    PolygonGateSpec,
    RangeSpec,
    RectangleGateSpec,
    RobustFit,
    ScatterClusterGateSpec,
    ScatterOutput,
    Side,
    SingletBandGateSpec,
    Template,
    TemplateReferenceError,
    TimeQCGateSpec,
    TransformKind,
    TransformSpec,
    UnimodalRule,
)
from cytorelease.library import DefinitionKind, Document, parse_document, read_document

__all__ = [
    "BoolOp",
    "BooleanGateSpec",
    "CompensationSource",
    "CompensationSpec",
    "ControlPercentileGateSpec",
    "CrossCheckSpec",
    "DensityValleyGateSpec",
    "EllipseGateSpec",
    "GateKind",
    "GateSpec",
    "MarkerSpec",
    "MeasurementKind",
    "MeasurementSpec",
    "PolygonGateSpec",
    "RangeSpec",
    "RectangleGateSpec",
    "RobustFit",
    "ScatterClusterGateSpec",
    "ScatterOutput",
    "Side",
    "SingletBandGateSpec",
    "Template",
    "TimeQCGateSpec",
    "TransformKind",
    "TransformSpec",
    "UnimodalRule",
    "load_template",
    "parse_template",
]


def load_template(path_or_name: str | Path) -> Template:
    """A template from a path, or by name from the gating library (``cd19-car-t-panel``).

    Read through the one loader (``cytorelease.library``); whether it is locked is the
    library's LOCK's business (``Template.definition``), so a changed copy loads as unlocked.
    """
    document = read_document(
        path_or_name,
        kind=DefinitionKind.GATING_TEMPLATE,
        error=TemplateError,
        not_mapping=_NOT_MAPPING,
    )
    return _validate(document)


def parse_template(text: str, *, path: str | Path = "<template>") -> Template:
    """Validate a template document; errors name ``path``, the field path and its line."""
    document = parse_document(
        text,
        kind=DefinitionKind.GATING_TEMPLATE,
        path=Path(path),
        error=TemplateError,
        not_mapping=_NOT_MAPPING,
    )
    return _validate(document)


_NOT_MAPPING = "a gating template is a YAML mapping (schema_version, id, version, markers, gates)"


def _validate(parsed: Document) -> Template:
    document, lines, path = parsed.data, parsed.lines, parsed.path
    try:
        template = Template.model_validate(document)
    except ValidationError as exc:
        raise TemplateError(_describe_validation(exc, document, lines), path=path) from None
    except TemplateReferenceError as exc:
        line = lines.line_of(exc.location)
        where = format_path(exc.location) + (f" (line {line})" if line else "")
        raise TemplateError(f"{where}: {exc.problem}", path=path, hint=exc.hint) from None
    template._attach_source(path, document)
    return template


def _describe_validation(exc: ValidationError, document: Any, lines: LineMap) -> str:
    """One line: every problem as ``field.path (line N): message``, separated by ``; ``."""
    seen: set[str] = set()
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = error["msg"]
        if error["type"] == "union_tag_invalid":
            loc = (*loc, "kind")
            kinds = ", ".join(kind.value for kind in GateKind)
            message = f"unknown gate kind (kinds: {kinds})"  # the file's text is not quoted
        missing = error["type"] in ("missing", "union_tag_invalid")
        field, line = locate(document, lines, loc, missing=missing)
        if error["type"] == "extra_forbidden":  # the unknown key is file text: name its parent
            field, line = error_location(document, lines, error)
        if error["type"] == "extra_forbidden":
            message = "unknown field (check its spelling against the template schema)"
        elif error["type"] == "missing":
            message = "required field is missing"
        text = f"{field} (line {line}): {message}" if line else f"{field}: {message}"
        if text not in seen:
            seen.add(text)
            parts.append(text)
    return "; ".join(parts)
