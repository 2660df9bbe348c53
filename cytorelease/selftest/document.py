"""The self-test report: one JSON document (the evidence) and an HTML page of it for people.

The page is rendered from the JSON document alone, with autoescaping, so what a reviewer reads is
what the document holds; its SHA-256 is printed on the page and the signature binds both files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["HTML_NAME", "JSON_NAME", "SCHEMA", "render_html", "write_document"]

SCHEMA = "cytorelease.selftest/1"
JSON_NAME = "selftest.json"
HTML_NAME = "selftest.html"

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="cytorelease {{ d.software.version }} selftest">
<title>cytorelease self-test {{ d.verdict }} {{ d.created_at }}</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:70em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:.25em .5em;
vertical-align:top;text-align:left}.pass{color:#1b5e20}.fail{color:#b3261e;font-weight:bold}
.flag{color:#8a5a00;font-weight:bold}code{font-size:.85em;word-break:break-all}
</style></head><body>
<h1>cytorelease installation and operational qualification</h1>
<p id="verdict" class="{{ d.verdict_class }}">Result: {{ d.verdict }}
({{ d.summary.pass }} passed, {{ d.summary.fail }} failed, {{ d.summary.flag }} flagged)</p>
<table>
<tr><th scope="row">Run at (UTC)</th><td>{{ d.created_at }}</td></tr>
<tr><th scope="row">Software</th><td>{{ d.software.name }} {{ d.software.version }}</td></tr>
<tr><th scope="row">Python</th><td>{{ d.platform.python }} ({{ d.platform.system }}
{{ d.platform.machine }})</td></tr>
<tr><th scope="row">CoA template</th><td>{{ d.coa_template.template }}
<code>{{ d.coa_template.sha256 }}</code></td></tr>
</table>
<h2>Numeric dependencies</h2>
<table><tr><th>Package</th><th>Version</th></tr>
{% for name, version in d.software.dependencies.items() %}<tr><td>{{ name }}</td>
<td>{{ version }}</td></tr>
{% endfor %}</table>
<h2>Checks</h2>
<table><tr><th>Stage</th><th>Check</th><th>Result</th><th>Expected</th><th>Observed</th>
<th>Detail</th></tr>
{% for c in d.checks %}<tr id="check-{{ c.id }}"><td>{{ c.stage }}</td><td>{{ c.title }}
<br><code>{{ c.id }}</code></td><td class="{{ c.status }}">{{ c.status | upper }}</td>
<td><code>{{ c.expected | tojson }}</code></td><td><code>{{ c.observed | tojson }}</code></td>
<td>{{ c.detail }}</td></tr>
{% endfor %}</table>
{% for c in d.checks if c["items"] %}<h3>{{ c.title }}</h3><table>
{% for item in c["items"] %}<tr>{% for key, value in item.items() %}<td>{{ key }}:
{{ value }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}
<p>Evidence: <code>{{ json_name }}</code> SHA-256 <code>{{ json_sha256 }}</code>.</p>
</body></html>
"""


def render_html(document: Mapping[str, Any], json_sha256: str) -> str:
    from jinja2 import Environment

    env = Environment(autoescape=True, keep_trailing_newline=True)
    verdict = str(document["verdict"])
    view = {**document, "verdict_class": verdict.split()[0].lower().replace("not", "flag")}
    return env.from_string(_PAGE).render(d=view, json_name=JSON_NAME, json_sha256=json_sha256)


def write_document(document: Mapping[str, Any], out: Path) -> tuple[Path, Path]:
    """Write ``selftest.json`` and ``selftest.html`` into ``out``; returns both paths."""
    import hashlib

    out.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
            + "\n").encode("utf-8")  # fmt: skip
    json_path, html_path = out / JSON_NAME, out / HTML_NAME
    json_path.write_bytes(data)
    html_path.write_bytes(render_html(document, hashlib.sha256(data).hexdigest()).encode("utf-8"))
    return json_path, html_path
