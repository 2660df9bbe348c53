"""YAML that remembers where things are: every mapping key and sequence item gets its line.

Validation errors must say ``criteria[2].limit.min (line 14)``. PyYAML's node graph carries
marks; we compose the nodes, build plain Python data from them, and keep a map from the field
path (a tuple of keys and indices) to the 1-based line. Duplicate keys, which PyYAML silently
lets the last one win, are refused: in a spec a duplicated ``max`` is a mistake, not an override.

Every versioned document (spec, gating template, assay, lot.yaml, signer registry, hook
configuration) is read here, so the bounds live here too. Aliases are allowed (the bundled
templates share one logicle definition between channels) but their expansion is budgeted in
proportion to the file's size, a value that contains itself is refused, nesting is bounded, and a
number YAML would turn into a 5,000-digit integer or an infinity is refused with its line.

Errors never quote the document: a definition can be any file the user pointed at (``spec:
/etc/shadow``), and its text must not reach the terminal, the queue or the audit trail. They name
the line, the schema's field path and the problem; a key the schema does not know is not named.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Mapping
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
    "document_path",
    "error_location",
    "error_message",
    "format_path",
    "load_yaml_file",
    "load_yaml_with_lines",
    "locate",
    "problem_text",
    "read_document_text",
    "validation_problems",
]

# libyaml's parser when present (several times faster); both keep node marks.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[str | int, ...]

# Aliases may expand a document to this many values per byte of its text (at least the floor):
# sharing a definition a few times stays far below; a "billion laughs" (1 KB -> 2.4 GB) does not.
ALIAS_VALUES_PER_BYTE = 2
ALIAS_VALUES_FLOOR = 10_000
# The deepest bundled definition nests 7 levels; 64 keeps the builder far from Python's recursion
# limit (libyaml itself stops at 1,000).
MAX_DEPTH = 64
# An integer longer than this is no count, version or limit any document holds; the bound also
# keeps YAML 1.1's sexagesimal ints (1:2:3:...) from computing huge numbers.
MAX_INT_CHARS = 40
# The largest document anyone should hand cytorelease (bundled ones are < 20 KB).
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
# Quoted fragments in a parser message are text of the document (a tag, a character, a key).
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|#x[0-9a-fA-F]+")


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


@dataclass(slots=True)
class _Budget:
    """How many values the build may still create, and the nodes it is inside of."""

    remaining: int
    limit: int
    size: int
    ancestors: set[int]


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _build(
    node: yaml.Node, loader: Any, path: Path_, lines: dict[Path_, int], budget: _Budget
) -> Any:
    budget.remaining -= 1
    if budget.remaining < 0:
        raise YamlLinesError(
            f"aliases expand the document to more than {budget.limit:,} values (the limit for a "
            f"file of {budget.size:,} bytes is {ALIAS_VALUES_PER_BYTE} per byte, at least "
            f"{ALIAS_VALUES_FLOOR:,})",
            _line(node),
        )
    if len(path) > MAX_DEPTH:
        raise YamlLinesError(f"nested more than {MAX_DEPTH} levels deep", _line(node))
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, loader)
    if id(node) in budget.ancestors:
        raise YamlLinesError(
            "an alias refers to a value that contains it (recursive alias)", _line(node)
        )
    budget.ancestors.add(id(node))
    try:
        if isinstance(node, yaml.MappingNode):
            return _mapping(node, loader, path, lines, budget)
        items = []
        for index, item in enumerate(node.value):
            lines[(*path, index)] = _line(item)
            items.append(_build(item, loader, (*path, index), lines, budget))
        return items
    finally:
        budget.ancestors.discard(id(node))


def _mapping(
    node: yaml.MappingNode, loader: Any, path: Path_, lines: dict[Path_, int], budget: _Budget
) -> dict[str, Any]:
    loader.flatten_mapping(node)  # merge keys (<<: *base); the merged values are budgeted below
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlLinesError("a mapping key is not a plain name", _line(key_node), path)
        key = _scalar(key_node, loader)
        if not isinstance(key, str | int | float):
            raise YamlLinesError("a mapping key is not a plain name", _line(key_node), path)
        key = str(key)  # YAML 1.1 reads 'on'/'no' as booleans; field names are text
        if key in result:
            # The key is not quoted: the file may not be a definition at all (see the module doc).
            raise YamlLinesError(
                f"duplicate key (the first is on line {lines[(*path, key)]})",
                _line(key_node),
                path,
            )
        lines[(*path, key)] = _line(key_node)
        result[key] = _build(value_node, loader, (*path, key), lines, budget)
    return result


def _scalar(node: yaml.ScalarNode, loader: Any) -> Any:
    if node.tag == _INT_TAG and len(node.value) > MAX_INT_CHARS:
        raise YamlLinesError(
            f"integer longer than {MAX_INT_CHARS} characters (no field holds such a number)",
            _line(node),
        )
    try:
        value = loader.construct_object(node, deep=True)
    except (ValueError, OverflowError):  # e.g. a malformed timestamp or binary
        raise YamlLinesError(
            "a value YAML cannot convert (check its format)", _line(node)
        ) from None
    if node.tag == _FLOAT_TAG and isinstance(value, float) and not math.isfinite(value):
        # 1.0e+999 reads as infinity and .nan compares false with every limit: both would turn
        # into a silent pass or fail downstream.
        raise YamlLinesError(
            "not a finite number (too large, or .inf/.nan, which no field accepts)", _line(node)
        )
    return value


def _safe_problem(problem: str) -> str:
    """A parser message without the quoted document text some messages carry."""
    text = _QUOTED.sub("", problem.split("\n")[0])
    return " ".join(text.split()) or "syntax error"


def load_yaml_with_lines(text: str) -> YamlDocument:
    """Parse one YAML document; ``YamlLinesError`` for syntax errors, duplicate keys and the
    bounds above (alias expansion, recursion, depth, numbers, size)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise YamlLinesError(
            f"{size:,} bytes; a definition or manifest is at most {MAX_DOCUMENT_BYTES:,}", None
        )
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None, LineMap({}))
        lines: dict[Path_, int] = {(): _line(node)}
        limit = max(ALIAS_VALUES_FLOOR, ALIAS_VALUES_PER_BYTE * size)
        data = _build(node, loader, (), lines, _Budget(limit, limit, size, set()))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = _safe_problem(exc.problem or "syntax error")
        raise YamlLinesError(
            f"not valid YAML: {problem}", mark.line + 1 if mark else None
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise YamlLinesError("not valid YAML: a character YAML does not allow", line) from None
    except yaml.YAMLError:
        raise YamlLinesError("not valid YAML", None) from None
    except RecursionError:  # unreachable with MAX_DEPTH; kept so no input can show a traceback
        raise YamlLinesError(f"nested more than {MAX_DEPTH} levels deep", None) from None
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


def error_location(data: Any, lines: LineMap, error: Mapping[str, Any]) -> tuple[str, int | None]:
    """Where a pydantic error is: (field path, line), never naming a key the schema lacks.

    For an unknown field the path is its parent's and the line is the unknown key's own: the
    key is text of the file, which may be anything the user pointed at (see the module doc).
    """
    missing = error["type"] == "missing"
    path = document_path(data, error["loc"], missing=missing)
    if error["type"] == "extra_forbidden" and path and isinstance(path[-1], str):
        return format_path(path[:-1]), lines.line_of(path)
    return format_path(path), lines.line_of(path)


def problem_text(where: str, line: int | None, message: str) -> str:
    """``field.path (line N): message``; ``line N: message`` for the document itself."""
    if where == format_path(()):
        return f"line {line}: {message}" if line else message
    return f"{where} (line {line}): {message}" if line else f"{where}: {message}"


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message in the project's words, never quoting an unknown key or an
    unknown union tag (both are text of the file)."""
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling)"
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "union_tag_invalid":
        return "unknown kind"
    return str(error["msg"]).removeprefix("Value error, ")  # pydantic's prefix for validators


def validation_problems(exc: ValidationError, lines: LineMap, data: Any) -> list[str]:
    """One ``field.path (line N): message`` text per pydantic error, in document order.

    Locations are matched against ``data`` (the parsed document), so union tags and validator
    names pydantic adds never appear in a field path. An unknown field is reported at its own
    line under its parent's path, without its name.
    """
    problems: list[tuple[int, str]] = []
    for error in exc.errors(include_url=False):
        where, line = error_location(data, lines, error)
        problems.append((line or 0, problem_text(where, line, error_message(error))))
    return [text for _, text in sorted(problems)]


def read_document_text(path: Path, *, error: type[CytoreleaseError], what: str) -> str:
    """The UTF-8 text of a definition or manifest, read at most ``MAX_DOCUMENT_BYTES`` far (a
    huge file named as a definition is refused, not read into memory; a device, pipe or socket
    is refused before anything is read, and opening a pipe never waits for a writer)."""
    try:
        # O_NONBLOCK: a FIFO opens at once instead of waiting for a writer (O_BINARY: Windows)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"no such file (expected the {what})", path=path) from None
    except IsADirectoryError:
        raise error(f"is a folder, not a file (expected the {what})", path=path) from None
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror} (expected the {what})", path=path) from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):  # checked before fdopen, which refuses a folder on its own terms
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            raise error(f"is a folder, not a file (expected the {what})", path=path)
        raise error(
            f"not a regular file (a device, pipe or socket; expected the {what})", path=path
        )
    with os.fdopen(descriptor, "rb") as handle:
        try:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise error(f"cannot read: {exc.strerror} (expected the {what})", path=path) from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise error(f"larger than {MAX_DOCUMENT_BYTES:,} bytes (expected the {what})", path=path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.start}); expected the {what}", path=path) from None


def load_yaml_file(path: str | Path, *, error: type[CytoreleaseError], what: str) -> YamlDocument:
    """Read and parse a YAML file of kind ``what`` ("assay", "lot manifest"...).

    Every problem (missing, not UTF-8, empty, malformed, duplicate key) is raised as ``error``
    naming the file and, where known, the line.
    """
    path = Path(path)
    text = read_document_text(path, error=error, what=what)
    try:
        document = load_yaml_with_lines(text)
    except YamlLinesError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise error(f"{where}{exc}", path=path) from None
    if document.data is None:
        raise error(f"the {what} file is empty", path=path)
    return document
