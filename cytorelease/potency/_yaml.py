"""YAML loading that remembers where each key and list item was, for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cytorelease.errors import AssayError

__all__ = ["LocatedDocument", "format_loc", "load_located"]

Loc = tuple[str | int, ...]


class LocatedDocument:
    """A parsed YAML document and the line (1-based) of every mapping key and sequence item."""

    def __init__(self, data: Any, lines: dict[Loc, int]) -> None:
        self.data = data
        self.lines = lines

    def line_of(self, loc: Loc) -> int | None:
        """The line of ``loc``, or of its nearest located ancestor."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


def format_loc(loc: Loc) -> str:
    """``("criteria", 2, "limit", "min")`` -> ``criteria[2].limit.min``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _construct(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            if key in out:
                raise AssayError(
                    f"line {key_node.start_mark.line + 1}: duplicate key {format_loc((*loc, key))}",
                    path=path,
                )
            lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*loc, key), lines, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            items.append(_construct(item, (*loc, index), lines, path))
        return items
    return yaml.safe_load(yaml.serialize(node))


def load_located(path: str | Path) -> LocatedDocument:
    """Parse one YAML file; a syntax error becomes an :class:`AssayError` with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AssayError("no such assay file", path=path) from None
    except UnicodeDecodeError:
        raise AssayError("not a UTF-8 text file", path=path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise AssayError(
            f"{where}invalid YAML: {getattr(exc, 'problem', exc)}", path=path
        ) from None
    if node is None:
        raise AssayError("the assay file is empty", path=path)
    lines: dict[Loc, int] = {}
    return LocatedDocument(_construct(node, (), lines, path), lines)
