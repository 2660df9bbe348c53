"""What is signed is what is shown: the page must be exactly what its embedded record renders to.

A signature covers the file's bytes, so it proves nothing changed *after* signing; a draft edited
*before* signing (a FAIL verdict rewritten as PASS) would be signed as edited. So ``verify`` and
``sign`` render the record again with the template it names (whose content hash the record
keeps) and compare every byte outside the signature area. The signature area is checked
separately, against its signed entries (see ``verify``).

A difference is reported where a reader would find it: the section, the row and column of a
table (or the element's id), and the text the page shows beside the text the record renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from cytorelease.errors import CytoreleaseError
from cytorelease.report.area import split_report
from cytorelease.report.record import record_digests
from cytorelease.report.template import RENDERING_KEY, rendering_of

__all__ = ["check_shown", "first_difference"]

# elements without an end tag
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)
_TEXT_LIMIT = 90


def check_shown(content: bytes, record: Mapping[str, Any]) -> str | None:
    """None when ``content`` (the report with its signature area emptied) is what ``record``
    renders to; otherwise the problem, in words."""
    from cytorelease import __version__

    try:
        stamped = rendering_of(record)
    except CytoreleaseError as exc:
        return f"the page cannot be checked against its record: {exc.problem}"
    if stamped is None:
        return (
            f"the record names no CoA template and content hash (no '{RENDERING_KEY}' block), so "
            "the page cannot be checked against the record; it was rendered by an older version: "
            "release the lot again"
        )
    try:
        expected = _rendered_content(record_digests(dict(record)).record_sha256, record)
    except CytoreleaseError as exc:
        return (
            f"the page cannot be re-rendered from its record with the template "
            f"{stamped.template!r} (sha256 {stamped.template_sha256[:12]}… at release): "
            f"{exc.problem}"
        )
    if expected == content:
        return None
    place = first_difference(content, expected)
    software = (record.get("software") or {}).get("version")
    note = (
        f" (rendered by cytorelease {software}, checked by {__version__})"
        if software and software != __version__
        else ""
    )
    return f"the page does not show its record{note}: first difference {place}"


# A few renders, keyed by record hash, template hash and template folder (what a render depends
# on besides the code): re-verifying one report, or signing it after a verify, renders it once.
_RENDERS: dict[tuple[str, str, str], bytes] = {}


def _rendered_content(record_sha256: str, record: Mapping[str, Any]) -> bytes:
    """The record's CoA with an empty signature area (memoised by record and template hash)."""
    from cytorelease._resources import resource_dir
    from cytorelease.report.render import page_environment, render_coa
    from cytorelease.report.template import template_sha256

    stamped = rendering_of(record)
    assert stamped is not None
    library = resource_dir("reports")
    current = template_sha256(page_environment(library), stamped.template)
    key = (record_sha256, current, str(library))
    if key not in _RENDERS:
        data = render_coa(record).encode("utf-8")
        if len(_RENDERS) >= 4:
            _RENDERS.pop(next(iter(_RENDERS)))
        _RENDERS[key] = split_report(data).content
    return _RENDERS[key]


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    start: int  # index of its start token
    cells: int = 0  # td/th children so far (for a tr)
    column: int = -1  # its own column (for a td/th)
    headers: list[str] = field(default_factory=list)  # column titles (for a table)


@dataclass(frozen=True)
class _Token:
    kind: str  # start, end, text, other
    value: str  # the token's source text
    place: tuple[_Element, ...]  # open elements before it (outermost first)


class _Tokens(HTMLParser):
    """A flat token list with each token's open elements, column titles collected on the way."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tokens: list[_Token] = []
        self.stack: list[_Element] = []
        self.ends: dict[int, int] = {}  # start token index -> its end token index

    def _add(self, kind: str, value: str) -> None:
        self.tokens.append(_Token(kind, value, tuple(self.stack)))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("start", self.get_starttag_text() or f"<{tag}>")
        if tag in _VOID:
            self.ends[len(self.tokens) - 1] = len(self.tokens) - 1
            return
        element = _Element(tag, {k: v or "" for k, v in attrs}, len(self.tokens) - 1)
        if tag in ("td", "th") and self.stack and self.stack[-1].tag == "tr":
            element.column = self.stack[-1].cells
            self.stack[-1].cells += 1
        self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("start", self.get_starttag_text() or f"<{tag}/>")
        self.ends[len(self.tokens) - 1] = len(self.tokens) - 1

    def handle_endtag(self, tag: str) -> None:
        self._add("end", f"</{tag}>")
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth].tag == tag:
                element = self.stack[depth]
                del self.stack[depth:]
                self.ends[element.start] = len(self.tokens) - 1
                if tag == "th" and any(e.tag == "thead" for e in self.stack):
                    table = next((e for e in reversed(self.stack) if e.tag == "table"), None)
                    if table is not None:
                        table.headers.append(self.text(element.start))
                return

    def handle_data(self, data: str) -> None:
        self._add("text", data)

    def handle_entityref(self, name: str) -> None:
        self._add("text", f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._add("text", f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self._add("other", f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self._add("other", f"<!{decl}>")

    def unknown_decl(self, data: str) -> None:
        self._add("other", f"<![{data}]>")

    def handle_pi(self, data: str) -> None:
        self._add("other", f"<?{data}>")

    def text(self, start: int) -> str:
        """The visible text of the element whose start token is ``start`` (so far, if open)."""
        import html

        end = self.ends.get(start, len(self.tokens) - 1)
        # a block's edge separates words as a browser shows them ("transgene" then its sub-line)
        words = "".join(
            t.value if t.kind == "text" else " " if _block_edge(t) else ""
            for t in self.tokens[start : end + 1]
        )
        return " ".join(html.unescape(words).split())


_BLOCKS = frozenset({"div", "p", "td", "th", "tr", "li", "br", "h1", "h2", "h3", "section"})


def _block_edge(token: _Token) -> bool:
    if token.kind not in ("start", "end"):
        return False
    name = token.value[1:].lstrip("/").split(">")[0].split()[0].rstrip("/").lower()
    return name in _BLOCKS


def _tokens(data: bytes) -> _Tokens:
    parser = _Tokens()
    parser.feed(data.decode("utf-8", "replace"))
    parser.close()
    return parser


def _clip(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def _where(place: tuple[_Element, ...], parser: _Tokens) -> str:
    """The section, table row and column (or element id) of a token, in a reader's words."""
    words: list[str] = []
    section = next((e for e in reversed(place) if e.tag in ("section", "header", "footer")), None)
    if section is not None:
        heading = _heading(section, parser)
        name = section.attrs.get("id") or section.tag
        words.append(f"in section '{heading}' (#{name})" if heading else f"in #{name}")
    elif any(e.tag == "head" for e in place):
        words.append("in the document head")
    row = next((e for e in reversed(place) if e.tag == "tr"), None)
    if row is not None:
        label = row.attrs.get("id") or parser.text(row.start).split(" ")[0]
        words.append(f"row {label!r}" if label else "a table row")
    cell = next((e for e in reversed(place) if e.tag in ("td", "th") and e.column >= 0), None)
    if cell is not None:
        table = next((e for e in reversed(place) if e.tag == "table"), None)
        headers = table.headers if table is not None else []
        title = headers[cell.column] if cell.column < len(headers) else None
        words.append(f"column {title!r}" if title else f"column {cell.column + 1}")
    inner = next((e for e in reversed(place) if e.attrs.get("id")), None)
    if inner is not None and inner is not section and inner is not row:
        words.append(f"element #{inner.attrs['id']}")
    return ", ".join(words) or "at the top of the document"


def _heading(section: _Element, parser: _Tokens) -> str | None:
    end = parser.ends.get(section.start, len(parser.tokens) - 1)
    for index in range(section.start + 1, end + 1):
        token = parser.tokens[index]
        if token.kind == "start" and token.value.startswith(("<h1", "<h2")):
            return parser.text(index) or None
    return None


def _shows(parser: _Tokens, index: int) -> str:
    """What the differing token amounts to for a reader: an element with its text, or text."""
    if index >= len(parser.tokens):
        return "nothing (the document ends)"
    token = parser.tokens[index]
    if token.kind == "start":
        return f"{_clip(token.value)} {_clip(parser.text(index))!r}"
    if token.kind == "end":
        return f"the end of <{token.value[2:-1]}> (nothing more inside it)"
    if token.kind == "other":
        return _clip(token.value)
    parent = token.place[-1] if token.place else None
    text = parser.text(parent.start) if parent is not None else token.value.strip()
    return repr(_clip(text))


def first_difference(shown: bytes, expected: bytes) -> str:
    """Where ``shown`` first departs from ``expected``, with both texts, in human terms."""
    page, record = _tokens(shown), _tokens(expected)
    index = next(
        (
            i
            for i, (a, b) in enumerate(zip(page.tokens, record.tokens, strict=False))
            if (a.kind, a.value) != (b.kind, b.value)
        ),
        min(len(page.tokens), len(record.tokens)),
    )
    if index == len(page.tokens) == len(record.tokens):
        offset = next(
            (i for i, (a, b) in enumerate(zip(shown, expected, strict=False)) if a != b),
            min(len(shown), len(expected)),
        )
        return f"at byte {offset} (outside any text or tag: bytes the parser does not keep)"
    # Every token before the first difference is equal, so both share the same open elements.
    ahead = record if index < len(record.tokens) else page
    where = _where(ahead.tokens[index].place, ahead)
    return (
        f"{where}: the page shows {_shows(page, index)}, the record renders {_shows(record, index)}"
    )
