"""Reading a spec file: YAML with lines, the schema-version registry, validation, identity.

``load_spec_file`` returns a :class:`LoadedSpec` or raises :class:`SpecValidationError`, whose
one line names the file, the field path and the line (``criteria[2].limit.min (line 14): ...``)
and which keeps every problem for ``cytorelease spec validate``. It does not consult the LOCK;
:mod:`cytorelease.spec.registry` does that on top.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cytorelease._yaml import (
    LineMap,
    YamlLinesError,
    format_path,
    load_yaml_with_lines,
    read_document_text,
)
from cytorelease.errors import SpecError
from cytorelease.library import Definition, DefinitionKind, definition, document_from_yaml
from cytorelease.provenance import content_sha256
from cytorelease.spec.checks import check_spec
from cytorelease.spec.model import (
    CompositeCriterion,
    CriterionKind,
    DerivedCriterion,
    Limit,
    NumericCriterion,
    QualitativeCriterion,
    ReportOnlyCriterion,
    Spec,
)

__all__ = ["LoadedSpec", "SpecProblem", "SpecValidationError", "load_spec_file", "spec_identity"]

# schema_version -> model. A new schema adds an entry (and keeps reading the old ones).
SCHEMAS: dict[int, type[BaseModel]] = {1: Spec}

# Lifecycle, not content: a version goes effective -> superseded -> retired without its
# identity changing (the LOCK would otherwise break the day a successor becomes effective).
_NOT_CONTENT = frozenset({"status"})


@dataclass(frozen=True, slots=True)
class SpecProblem:
    field: str
    line: int | None
    message: str

    def text(self) -> str:
        where = f"{self.field} (line {self.line})" if self.line else self.field
        return f"{where}: {self.message}"


class SpecValidationError(SpecError):
    """A spec that does not validate; ``problems`` holds every problem, first one in the message."""

    def __init__(self, problems: list[SpecProblem], *, path: str | Path) -> None:
        self.problems = problems
        first = problems[0].text()
        more = len(problems) - 1
        hint = (
            f"{more} more problem{'s' * (more > 1)}: run `cytorelease spec validate`"
            if more
            else None
        )
        super().__init__(first, path=path, hint=hint)


@dataclass(frozen=True, slots=True)
class LoadedSpec:
    """A validated spec with its file, its identity hash and the lines of its fields."""

    spec: Spec
    path: Path
    sha256: str
    lines: LineMap = field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        return self.spec.ref

    def definition(self) -> Definition:
        """The spec as a result records it; ``locked`` only if the library's LOCK lists this
        version with this identity hash (a LOCK beside the file is never consulted)."""
        return definition(
            DefinitionKind.SPEC, self.spec.product, self.spec.version, self.sha256, self.path
        )

    @property
    def locked(self) -> bool:
        return self.definition().locked

    def identity(self) -> dict[str, Any]:
        """What results name: ``{"id", "version", "sha256"}`` plus status and market."""
        return {
            "id": self.spec.product,
            "version": self.spec.version,
            "sha256": self.sha256,
            "status": str(self.spec.status),
            "market": self.spec.market,
            "title": self.spec.title,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def spec_identity(document: dict[str, Any]) -> str:
    """Canonical-content SHA-256 of a parsed spec document (formatting, comments and key order
    do not count; every value except the lifecycle ``status`` does)."""
    return content_sha256(_jsonable({k: v for k, v in document.items() if k not in _NOT_CONTENT}))


def _pydantic_problems(exc: ValidationError, lines: LineMap) -> list[SpecProblem]:
    kinds = set(CriterionKind)
    problems: list[tuple[int, int, SpecProblem]] = []
    for error in exc.errors(include_url=False):
        # A discriminated union puts the kind into the location; the document has no such key.
        kind = next((p for p in error["loc"] if isinstance(p, str) and p in kinds), None)
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in kinds))
        message = _message(dict(error), loc, kind)
        priority = 0 if error["type"] == "extra_forbidden" else 1
        line = lines.line_of(loc)
        # An unknown key is file text (the file may be anything): reported under its parent.
        where = loc[:-1] if error["type"] == "extra_forbidden" and loc else loc
        problems.append((priority, line or 0, SpecProblem(format_path(where), line, message)))
    problems.sort(key=lambda p: (p[0], p[1]))
    return [p[2] for p in problems]


def _message(error: dict[str, Any], loc: tuple[Any, ...], criterion_kind: str | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else "?"
        if criterion_kind is not None and name in _all_field_names():
            return f"unknown field '{name}': a {criterion_kind} criterion has no {name}"
        return f"unknown field{_field_hint(name)}"  # only the schema's own words are quoted
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        return f"unknown kind (kinds: {_KIND_LIST})"
    if kind == "union_tag_not_found":
        return f"criterion has no 'kind' (kinds: {_KIND_LIST})"
    text = str(error["msg"])
    return text.removeprefix("Value error, ")


_KIND_LIST = ", ".join(CriterionKind)


@cache
def _all_field_names() -> tuple[str, ...]:
    """Every field name schema 1 knows, for "did you mean" hints."""
    models: tuple[type[BaseModel], ...] = (
        Spec,
        Limit,
        NumericCriterion,
        QualitativeCriterion,
        ReportOnlyCriterion,
        DerivedCriterion,
        CompositeCriterion,
    )
    return tuple(sorted({name for model in models for name in model.model_fields}))


def _field_hint(name: str) -> str:
    close = difflib.get_close_matches(name, _all_field_names(), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else " (not part of spec schema 1)"


def _schema_model(data: dict[str, Any], lines: LineMap, path: Path) -> type[BaseModel]:
    version = data.get("schema_version")
    supported = ", ".join(str(v) for v in sorted(SCHEMAS))
    if version is None:
        raise SpecValidationError(
            [
                SpecProblem(
                    "schema_version",
                    1,
                    f"required field is missing (this cytorelease reads schema {supported})",
                )
            ],
            path=path,
        )
    if isinstance(version, bool) or version not in SCHEMAS:
        raise SpecValidationError(
            [
                SpecProblem(
                    "schema_version",
                    lines.line_of(("schema_version",)),
                    f"unknown spec schema version {version!r}: this cytorelease reads schema "
                    f"{supported} (upgrade cytorelease to read newer specs)",
                )
            ],
            path=path,
        )
    return SCHEMAS[version]


def parse_spec_text(text: str, path: Path) -> LoadedSpec:
    """Validate a spec document given as text (``path`` only names it in errors)."""
    try:
        document = load_yaml_with_lines(text)
    except YamlLinesError as exc:
        raise SpecValidationError(
            [SpecProblem(format_path(exc.path) if exc.path else "(document)", exc.line, str(exc))],
            path=path,
        ) from None
    data, lines = document.data, document.lines
    if not isinstance(data, dict):
        raise SpecValidationError(
            [
                SpecProblem(
                    "(document)",
                    1,
                    "a spec is a YAML mapping with schema_version, product, version, ... and criteria",
                )
            ],
            path=path,
        )
    parsed = document_from_yaml(document, kind=DefinitionKind.SPEC, path=path)
    data, lines = parsed.data, parsed.lines
    model = _schema_model(data, lines, path)
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        raise SpecValidationError(_pydantic_problems(exc, lines), path=path) from None
    assert isinstance(spec, Spec)
    problems = [
        SpecProblem(format_path(p.path), lines.line_of(p.path), p.message) for p in check_spec(spec)
    ]
    problems += _layout_problems(spec, path, lines)
    if problems:
        raise SpecValidationError(problems, path=path)
    return LoadedSpec(spec=spec, path=path, sha256=spec_identity(data), lines=lines)


def _layout_problems(spec: Spec, path: Path, lines: LineMap) -> list[SpecProblem]:
    """In a ``<product>/vN.yaml`` layout the file's place must agree with its content."""
    problems = []
    stem = path.stem
    if stem.startswith("v") and stem[1:].isdigit() and int(stem[1:]) != spec.version:
        problems.append(
            SpecProblem(
                "version",
                lines.line_of(("version",)),
                f"file {path.name} holds version {spec.version}; name it v{spec.version}.yaml",
            )
        )
    return problems


def load_spec_file(path: str | Path, *, read: Callable[[Path], str] | None = None) -> LoadedSpec:
    """Read and validate one spec file (the library's LOCK judges it: ``LoadedSpec.definition``).

    The text is read by the one loader's bounded reader (``cytorelease._yaml``), so a device or
    a huge file named as a spec is refused, not read into memory.
    """
    path = Path(path)
    text = read(path) if read else read_document_text(path, error=SpecError, what="spec file")
    return parse_spec_text(text, path)
