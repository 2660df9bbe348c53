"""The ``--json`` text of a report, written fast: the same bytes as the CLI's generic writer.

The CLI prints ``json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False)``;
with an indent the standard library encodes in pure Python, which for 10,000 lots x 10
attributes (a point per lot and chart) takes longer than computing the charts. This writer
gives the same text: a list of dicts with the same keys and plain values (the chart's lots,
its signals) is laid out with one format string per element. Anything it does not know
(a tuple, an object with ``to_dict``, a numpy scalar) is first made plain as ``to_jsonable``
makes it; a float that is not finite is ``null``. Tested against the generic writer.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

__all__ = ["dumps"]

_STEP = "  "


def _plain(obj: Any) -> Any:
    """What the CLI's ``to_jsonable`` makes of a value before encoding it."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return _plain(obj.to_dict())
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _scalar(value: Any) -> str | None:
    """The text of a plain scalar, or None for anything that needs the general path."""
    kind = type(value)
    if kind is str:
        return str(encode_basestring(value))
    if kind is float:
        return float.__repr__(value) if math.isfinite(value) else "null"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    return None


def _column(values: tuple[Any, ...]) -> list[str] | None:
    """The texts of one column of scalars (one C-level pass for a column of one type)."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(map(encode_basestring, values))
    if kinds == {float} and all(map(math.isfinite, values)):
        return list(map(float.__repr__, values))
    if kinds == {float, type(None)}:  # a column with gaps (the first lot's moving range)
        return ["null" if v is None or not math.isfinite(v) else float.__repr__(v) for v in values]
    texts = list(map(_scalar, values))
    return None if None in texts else texts  # type: ignore[return-value]


def _flat_rows(items: list[Any], indent: str) -> list[str] | None:
    """Each element's text when all are dicts with the same string keys and scalar values."""
    first = items[0]
    if type(first) is not dict or not first:
        return None
    keys = tuple(first)
    if any(type(k) is not str for k in keys):
        return None
    for item in items:
        if type(item) is not dict or tuple(item) != keys:
            return None
    columns = []
    for values in zip(*(item.values() for item in items), strict=True):
        texts = _column(values)
        if texts is None:
            return None
        columns.append(texts)
    inner = indent + _STEP
    template = (
        "{\n"
        + ",\n".join(f"{inner}{encode_basestring(k).replace('%', '%%')}: %s" for k in keys)
        + f"\n{indent}}}"
    )
    return list(map(template.__mod__, zip(*columns, strict=True)))


def _encode(obj: Any, indent: str, out: list[str]) -> None:
    text = _scalar(obj)
    if text is not None:
        out.append(text)
        return
    if type(obj) is not dict and type(obj) is not list:
        obj = _plain(obj)
        text = _scalar(obj)
        if text is not None:
            out.append(text)
            return
        if type(obj) not in (dict, list):  # a str, int or float subclass: as json writes it
            import json

            out.append(json.dumps(obj, ensure_ascii=False, allow_nan=False))
            return
    inner = indent + _STEP
    if type(obj) is dict:
        if not obj:
            out.append("{}")
            return
        out.append("{")
        for n, (key, value) in enumerate(obj.items()):
            out.append(f"{',' if n else ''}\n{inner}{encode_basestring(str(key))}: ")
            _encode(value, inner, out)
        out.append(f"\n{indent}}}")
        return
    if not obj:
        out.append("[]")
        return
    rows = _flat_rows(obj, inner)
    if rows is not None:
        out.append(f"[\n{inner}" + f",\n{inner}".join(rows) + f"\n{indent}]")
        return
    out.append("[")
    for n, value in enumerate(obj):
        out.append(f"{',' if n else ''}\n{inner}")
        _encode(value, inner, out)
    out.append(f"\n{indent}]")


def dumps(obj: Any) -> str:
    """``json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False)``."""
    out: list[str] = []
    _encode(obj, "", out)
    return "".join(out)
