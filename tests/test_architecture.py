"""The package map of docs/architecture.md, enforced: a package imports only the layers below it.

Every import of the code is read (module level and inside functions alike: an import inside a
function is still a dependency, only a later one), so a new upward edge fails here with the
module and line that adds it. Change ``ALLOWED`` only together with docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cytorelease"

BASE = {
    "<top>",
    "errors",
    "_yaml",
    "_lock",
    "_resources",
    "_xlsx",
    "library",
    "provenance",
    "measurement",
    "attributes",
    "signature_policy",
    "lot_id",
    "bench_sheet",
    "csv_table",
    "_gc",
}
DOMAIN = {"flow", "qpcr", "spec"}

# What each package may import besides itself; BASE modules import only each other.
ALLOWED: dict[str, set[str]] = {
    **{name: BASE for name in BASE},
    "flow": BASE,
    "qpcr": BASE,
    "spec": BASE,
    "potency": BASE | {"flow"},  # the killing assay is read from flow tubes
    "records": BASE,  # storage only
    "report": BASE | {"records"},
    # manual results under double entry: signs with report's keys, audits through records
    "manual": BASE | {"records", "report"},
    "lot": BASE | DOMAIN | {"potency", "records", "report", "manual"},
    "export": BASE | DOMAIN | {"potency", "records", "report", "lot"},
    # a later result added to a signed CoA: re-evaluates (spec, lot) a verified manual record
    "addendum": BASE | DOMAIN | {"potency", "records", "report", "manual", "lot"},
    "trend": BASE | DOMAIN | {"potency", "records", "report", "lot"},  # across lots, beside export
    # two sets of results (beside trend); figures checked by report; selections of the lots dataset
    "compare": BASE | {"records", "report"},
    # the worker releases with the out-of-trend review (trend.oot) a person's release uses
    "hook": BASE | DOMAIN | {"potency", "records", "report", "lot", "manual", "trend"},
    # change control's what-if re-analysis of archived lots: what hook may, and compare's
    # paired statistics for the impact report
    "reanalyse": BASE | DOMAIN | {"potency", "records", "report", "lot", "manual", "compare"},
    "selftest": BASE | DOMAIN | {"potency", "records", "report", "lot"},
    "demo": BASE | {"lot", "report", "records", "manual"},
    "synth": BASE | {"flow", "potency"},  # writes instrument files with the project's writers
    # compiles the numba kernels through the commands' own calls (a synthetic tube, the demo lot)
    "warmup": BASE | DOMAIN | {"potency", "records", "report", "lot", "manual", "synth", "demo"},
    "cli": set(),  # the top: anything (checked: nothing imports cli)
    "__main__": {"cli"},
}


# Edges docs/architecture.md lists as still to remove (issue 16 item 2): (importing file, module).
# Nothing may be added here; the list only shrinks.
KNOWN = {
    ("cytorelease/potency/readers/grid.py", "cytorelease.qpcr.readers._xlsx_table"),
    ("cytorelease/report/render.py", "cytorelease.lot.definitions"),
    ("cytorelease/report/sign.py", "cytorelease.lot.definitions"),
}


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<top>"


def _imports(path: Path) -> list[tuple[str, int]]:
    rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = rel[: len(rel) - node.level]
                found.append(
                    (".".join(base) + (f".{node.module}" if node.module else ""), node.lineno)
                )
            elif node.module:
                found.append((node.module, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "cytorelease"]


def _own_package(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    return rel[0]


def test_every_package_has_a_rule() -> None:
    names = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.parent.name for p in PACKAGE.glob("*/__init__.py")
    }
    names = {"<top>" if n == "__init__" else n for n in names}
    missing = sorted(names - set(ALLOWED))
    assert not missing, f"add these to ALLOWED and docs/architecture.md: {missing}"


def test_no_package_imports_a_layer_above_it() -> None:
    broken = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _own_package(path)
        own = "<top>" if own == "__init__" else own
        for name, line in _imports(path):
            target = _package_of(name)
            if target == own or own == "cli":
                continue
            where = str(path.relative_to(PACKAGE.parent))
            if target not in ALLOWED[own] and (where, name) not in KNOWN:
                broken.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    assert not broken, "imports against docs/architecture.md:\n" + "\n".join(broken)


def test_nothing_imports_the_cli() -> None:
    users = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in PACKAGE.rglob("*.py")
        if _own_package(path) not in {"cli", "__main__"}
        for name, line in _imports(path)
        if _package_of(name) == "cli"
    ]
    assert not users, users


def test_known_edges_are_still_there() -> None:
    """A known edge that was removed must leave KNOWN too, so the list only shrinks."""
    present = {
        (str(path.relative_to(PACKAGE.parent)), name)
        for path in PACKAGE.rglob("*.py")
        for name, _ in _imports(path)
    }
    gone = sorted(KNOWN - present)
    assert not gone, f"remove from KNOWN (and docs/architecture.md): {gone}"


def test_no_private_name_is_imported_from_another_module() -> None:
    """What a module shares is public (named for what it is); ``_name`` stays in its module.

    A private module (``_kernel.py``) may be imported by its own package; a private name inside
    another module may not.
    """
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = rel[: len(rel) - node.level] if node.level else ()
            module = ".".join((*base, *([node.module] if node.module else [])))
            if module.split(".")[0] != "cytorelease":
                continue
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                if (PACKAGE.parent / module.replace(".", "/") / f"{name}.py").exists():
                    continue  # a private module of that package
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {module}.{name}")
    assert not found, "private names imported across modules:\n" + "\n".join(found)
