"""YAML that remembers where things are: every mapping key and sequence item gets its line.

Validation errors must say ``criteria[2].limit.min (line 14)``. PyYAML's node graph carries
marks; we compose the nodes, build plain Python data from them, and keep a map from the field
path (a tuple of keys and indices) to the 1-based line. Duplicate keys, which PyYAML silently
lets the last one win, are refused: in a spec a duplicated ``max`` is a mistake, not an override.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cytorelease.errors import CytoreleaseError

__all__ = [
    "LineMap",
    "YamlDocument",
    "YamlLinesError",
    "format_path",
    "load_yaml_file",
    "load_yaml_with_lines",
    "locate",
    "validation_problems",
]

# libyaml's parser when present (several times faster); both keep node marks.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[str | int, ...]


class YamlLinesError(ValueError):
    """A YAML syntax problem or duplicate key, with the line it is on."""

    def __init__(self, message: str, line: int | None, path: Path_ = ()) -> None:
        super().__init__(message)
        self.line = line
        self.path = path


@dataclass(frozen=True, slots=True)
class LineMap:
    """Field path -> line; lookups fall back to the nearest enclosing field that has a line."""

    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


@dataclass(frozen=True, slots=True)
class YamlDocument:
    data: Any
    lines: LineMap


def format_path(path: Path_) -> str:
    """``('criteria', 2, 'limit', 'min')`` -> ``criteria[2].limit.min``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(document)"


def _build(node: yaml.Node, loader: Any, path: Path_, lines: dict[Path_, int]) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float):
                raise YamlLinesError(
                    f"mapping key {key!r} is not a plain name", key_node.start_mark.line + 1, path
                )
            key = str(key)  # YAML 1.1 reads 'on'/'no' as booleans; field names are text
            if key in result:
                raise YamlLinesError(
                    f"duplicate key '{key}' (the first is on line {lines[(*path, key)]})",
                    key_node.start_mark.line + 1,
                    (*path, key),
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, loader, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            items.append(_build(item, loader, (*path, index), lines))
        return items
    return loader.construct_object(node, deep=True)


def load_yaml_with_lines(text: str) -> YamlDocument:
    """Parse one YAML document; ``YamlLinesError`` for syntax errors and duplicate keys."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None, LineMap({}))
        lines: dict[Path_, int] = {(): node.start_mark.line + 1}
        data = _build(node, loader, (), lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        raise YamlLinesError(
            f"not valid YAML: {problem}", mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise YamlLinesError(f"not valid YAML: {exc}", None) from None
    finally:
        loader.dispose()
    return YamlDocument(data, LineMap(lines))


def document_path(data: Any, loc: tuple[Any, ...] | list[Any], *, missing: bool = False) -> Path_:
    """The part of a pydantic error location that exists in the document.

    Pydantic inserts union tags and validator names into locations; they are not keys of the
    document and are skipped. For a ``missing`` error the last part is kept: it is the field the
    user has to add.
    """
    path: list[str | int] = []
    current = data
    for position, part in enumerate(loc):
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        ):
            path.append(part)
            current = current[part]
        elif missing and position == len(loc) - 1 and isinstance(current, dict):
            path.append(part)
    return tuple(path)


def locate(
    data: Any, lines: LineMap, loc: tuple[Any, ...] | list[Any], *, missing: bool = False
) -> tuple[str, int | None]:
    """A pydantic error location as (``field.path[2]``, line of it or its nearest parent)."""
    path = document_path(data, loc, missing=missing)
    return format_path(path), lines.line_of(path)


def validation_problems(exc: ValidationError, lines: LineMap, data: Any) -> list[str]:
    """One ``field.path (line N): message`` text per pydantic error, in document order.

    Locations are matched against ``data`` (the parsed document), so union tags and validator
    names pydantic adds never appear in a field path.
    """
    problems: list[tuple[int, str]] = []
    for error in exc.errors(include_url=False):
        missing = error["type"] == "missing"
        where, line = locate(data, lines, error["loc"], missing=missing)
        message = error["msg"].removeprefix("Value error, ")  # pydantic's prefix for validators
        if error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif missing:
            message = "required field is missing"
        text = f"{where} (line {line}): {message}" if line else f"{where}: {message}"
        problems.append((line or 0, text))
    return [text for _, text in sorted(problems)]


def load_yaml_file(path: str | Path, *, error: type[CytoreleaseError], what: str) -> YamlDocument:
    """Read and parse a YAML file of kind ``what`` ("assay", "lot manifest"...).

    Every problem (missing, not UTF-8, empty, malformed, duplicate key) is raised as ``error``
    naming the file and, where known, the line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"no such file (expected the {what})", path=path) from None
    except IsADirectoryError:
        raise error(f"is a folder, not a file (expected the {what})", path=path) from None
    except UnicodeDecodeError:
        raise error(f"not a UTF-8 text file (expected the {what})", path=path) from None
    try:
        document = load_yaml_with_lines(text)
    except YamlLinesError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise error(f"{where}{exc}", path=path) from None
    if document.data is None:
        raise error(f"the {what} file is empty", path=path)
    return document
