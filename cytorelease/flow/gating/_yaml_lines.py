"""YAML loading that remembers where each value was written, for error messages.

``load_yaml_with_lines`` returns the plain Python document and a map from a location path
(``("gates", 2, "parent")``) to the 1-based line of that key or sequence item. A pydantic
``ValidationError`` location is then turned into ``gates[2].parent`` and its line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

__all__ = ["Location", "format_location", "line_of", "load_yaml_with_lines", "locate"]

Location = tuple[str | int, ...]


def load_yaml_with_lines(text: str) -> tuple[Any, dict[Location, int]]:
    """Parse YAML (safe subset) and record the line of every mapping key and sequence item.

    Raises ``yaml.YAMLError`` for malformed YAML (its ``problem_mark`` has the line).
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Location, int] = {}
        if node is None:
            return None, lines
        return _build(loader, node, (), lines), lines
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, where: Location, lines: dict) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            lines[(*where, key)] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, (*where, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[(*where, index)] = item.start_mark.line + 1
            items.append(_build(loader, item, (*where, index), lines))
        return items
    return loader.construct_object(node, deep=True)


def _walk(document: Any, loc: Sequence[Any], missing: bool) -> Location:
    """The part of a pydantic error location that exists in the document.

    Pydantic inserts union tags (``"density_valley"``) and validator names into locations; they
    are not keys of the document and are skipped. For a ``missing`` error the last part is kept:
    it is the field the user has to add.
    """
    path: list[str | int] = []
    current = document
    for position, part in enumerate(loc):
        if (isinstance(current, Mapping) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        ):
            path.append(part)
            current = current[part]
        elif missing and position == len(loc) - 1 and isinstance(current, Mapping):
            path.append(part)
    return tuple(path)


def format_location(path: Location) -> str:
    """``("gates", 2, "parent")`` -> ``gates[2].parent``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(document)"


def line_of(lines: Mapping[Location, int], path: Location) -> int | None:
    """Line of the deepest recorded prefix of ``path``."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def locate(
    document: Any, lines: Mapping[Location, int], loc: Sequence[Any], *, missing: bool = False
) -> tuple[str, int]:
    """A pydantic error location as (``field.path[2]``, line); line 1 when nothing matches.

    ``missing``: the error is a missing field, named by the location's last part.
    """
    path = _walk(document, loc, missing)
    return format_location(path), line_of(lines, path) or 1
