"""YAML that remembers where things are: every mapping key and sequence item gets its line.

Validation errors must say ``criteria[2].limit.min (line 14)``. PyYAML's node graph carries
marks; we compose the nodes, build plain Python data from them, and keep a map from the field
path (a tuple of keys and indices) to the 1-based line. Duplicate keys, which PyYAML silently
lets the last one win, are refused: in a spec a duplicated ``max`` is a mistake, not an override.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["LineMap", "YamlDocument", "YamlLinesError", "format_path", "load_yaml_with_lines"]

# libyaml's parser when present (several times faster); both keep node marks.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FieldPath = tuple[str | int, ...]


class YamlLinesError(ValueError):
    """A YAML syntax problem or duplicate key, with the line it is on."""

    def __init__(self, message: str, line: int | None, path: FieldPath = ()) -> None:
        super().__init__(message)
        self.line = line
        self.path = path


@dataclass(frozen=True, slots=True)
class LineMap:
    """Field path -> line; lookups fall back to the nearest enclosing field that has a line."""

    lines: dict[FieldPath, int]

    def line_of(self, path: FieldPath) -> int | None:
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


def format_path(path: FieldPath) -> str:
    """``('criteria', 2, 'limit', 'min')`` -> ``criteria[2].limit.min``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(document)"


def _build(node: yaml.Node, loader: Any, path: FieldPath, lines: dict[FieldPath, int]) -> Any:
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
        lines: dict[FieldPath, int] = {(): node.start_mark.line + 1}
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
