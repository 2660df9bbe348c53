"""Inline SVG figures in a CoA: checked to be self-contained and inert before they are inlined.

The analyses draw their plots (gates, standard curves, dose-response curves) as SVG text. A CoA
must not load anything or run anything, so a figure is refused if it holds a script, an event
handler, foreign HTML, or a reference to anything outside itself (only ``#fragment`` and
``data:image/...`` references are allowed).
"""

from __future__ import annotations

import re

from defusedxml import ElementTree
from markupsafe import Markup

from cytorelease.errors import InputError

__all__ = ["safe_inline_svg"]

_FORBIDDEN_ELEMENTS = {"script", "foreignobject", "iframe", "object", "embed", "audio", "video"}
_EXTERNAL_URL = re.compile(r"url\(\s*['\"]?(?!#|data:image/)", re.I)
_XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*\?>\s*")


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def safe_inline_svg(svg: str, *, title: str = "figure") -> Markup:
    """The SVG markup, marked safe for the template, or :class:`InputError` saying why not."""
    text = _XML_PROLOGUE.sub("", svg)
    try:
        root = ElementTree.fromstring(text)
    except Exception as exc:  # defusedxml raises ParseError and its own DTD/entity errors
        raise InputError(f"figure '{title}' is not well-formed SVG: {exc}") from None
    if _local(root.tag) != "svg":
        raise InputError(f"figure '{title}' is a <{_local(root.tag)}>, not an <svg>")
    if "<!--" in text:
        raise InputError(f"figure '{title}' holds an XML comment; figures carry no comments")
    for element in root.iter():
        tag = _local(element.tag)
        if tag in _FORBIDDEN_ELEMENTS:
            raise InputError(f"figure '{title}' holds a <{tag}> element, which a CoA may not run")
        css = (element.text or "") if tag == "style" else ""
        if _EXTERNAL_URL.search(css) or "@import" in css:
            raise InputError(f"figure '{title}' has a style that loads an external resource")
        for name, value in element.attrib.items():
            attribute = _local(name)
            if attribute.startswith("on"):
                raise InputError(f"figure '{title}' has an event handler ({attribute})")
            if attribute in {"href", "src"} and not (
                value.startswith("#") or value.startswith("data:image/")
            ):
                raise InputError(f"figure '{title}' refers to an external resource ({value!r})")
            if _EXTERNAL_URL.search(value):
                raise InputError(f"figure '{title}' refers to an external resource in {attribute}")
    return Markup(text.strip())
