"""YAML documents are bounded and never quoted (cytorelease._yaml, read by every definition).

Each hostile document is the bundled qPCR assay with the hostile part appended (so it is a real
definition up to that line), read through the assay loader: alias bombs, recursive aliases,
nesting past the limit, a 5,000-digit integer and non-finite floats are refused with the file
and the line. An unknown key is reported by its field path and line, and nothing of the file's
text reaches the message, even when lot.yaml points the release at a file that is not a
definition at all (a secret in its lines must not be printed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cytorelease._resources import ResourceKind, resource_dir
from cytorelease._yaml import ALIAS_VALUES_FLOOR, MAX_DEPTH, MAX_INT_CHARS
from cytorelease.errors import AssayError
from cytorelease.qpcr.assay import load_assay
from tests.cli_contract import SAMPLE_LOT, invoke

BASE = (resource_dir(ResourceKind.ASSAYS) / "vcn-car-rpp30.yaml").read_text(encoding="utf-8")
FIRST_ADDED = BASE.count("\n") + 1  # the line the appended text starts on
SECRET = "hunter2-secret-value"

# "billion laughs" in 324 bytes: 9 levels of 9 aliases each, 9**9 values once expanded
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['x'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def _assay(tmp_path: Path, added: str) -> Path:
    path = tmp_path / "assay.yaml"
    path.write_text(BASE + added, encoding="utf-8")
    return path


def _refused(path: Path, line: int, problem: str) -> str:
    with pytest.raises(AssayError) as info:
        load_assay(path)
    text = str(info.value)
    assert text.startswith(f"{path}: line {line}: {problem}"), text
    assert "\n" not in text
    return text


def test_a_small_alias_bomb_is_refused_at_its_line(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) < 400
    path = _assay(tmp_path, ALIAS_BOMB)
    # the budget runs out expanding the anchored value the aliases repeat, defined on line 1
    # of the bomb
    _refused(
        path,
        FIRST_ADDED,
        f"aliases expand the document to more than {ALIAS_VALUES_FLOOR:,} values",
    )


def test_shared_definitions_through_aliases_still_read(tmp_path: Path) -> None:
    """A few aliases (as the bundled templates use for one logicle definition) are fine."""
    path = _assay(tmp_path, "")
    text = path.read_text(encoding="utf-8").replace(
        "efficiency_pct: {min: 90, max: 110}", "efficiency_pct: &range {min: 90, max: 110}"
    )
    path.write_text(text + "x_shared: [*range, *range, *range]\n", encoding="utf-8")
    with pytest.raises(AssayError, match=r"unknown field"):  # read fine; only the key is wrong
        load_assay(path)


@pytest.mark.parametrize("recursive", ["loop: &a\n  self: *a\n", "loop: &a [1, *a]\n"])
def test_a_recursive_alias_is_refused(tmp_path: Path, recursive: str) -> None:
    path = _assay(tmp_path, recursive)
    _refused(path, FIRST_ADDED, "an alias refers to a value that contains it (recursive alias)")


def test_nesting_past_64_levels_is_refused(tmp_path: Path) -> None:
    levels = 70
    added = "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "v: 1\n"
    path = _assay(tmp_path, added)
    # the value at depth MAX_DEPTH + 1 is the mapping under k<MAX_DEPTH>, starting with its key
    line = FIRST_ADDED + MAX_DEPTH + 1
    assert path.read_text().splitlines()[line - 1].strip() == f"k{MAX_DEPTH + 1}:"
    _refused(path, line, f"nested more than {MAX_DEPTH} levels deep")


def test_a_5000_digit_integer_is_refused(tmp_path: Path) -> None:
    path = _assay(tmp_path, "copies: " + "7" * 5000 + "\n")
    text = _refused(path, FIRST_ADDED, f"integer longer than {MAX_INT_CHARS} characters")
    assert "7777" not in text


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN", "1.0e+999"])
def test_a_non_finite_float_is_refused(tmp_path: Path, value: str) -> None:
    path = _assay(tmp_path, f"limit: {value}\n")
    _refused(path, FIRST_ADDED, "not a finite number")


def test_a_non_finite_acceptance_limit_is_refused_where_a_limit_is_read(tmp_path: Path) -> None:
    path = _assay(tmp_path, "")
    path.write_text(BASE.replace("r_squared_min: 0.98", "r_squared_min: .nan"), encoding="utf-8")
    line = next(n for n, t in enumerate(BASE.splitlines(), 1) if "r_squared_min" in t)
    _refused(path, line, "not a finite number")


def test_an_unknown_key_names_field_and_line_but_not_the_file(tmp_path: Path) -> None:
    text = BASE.replace("reference:\n", f"reference:\n  {SECRET}: {SECRET}\n", 1)
    path = tmp_path / "assay.yaml"
    path.write_text(f"# {SECRET}\n" + text, encoding="utf-8")
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if t.startswith("  h"))
    with pytest.raises(AssayError) as info:
        load_assay(path)
    assert str(info.value) == f"{path}: reference (line {line}): unknown field (check the spelling)"


@pytest.fixture
def lot(tmp_path: Path) -> Path:
    folder = tmp_path / "lot"
    shutil.copytree(SAMPLE_LOT, folder)
    return folder


def _point_assay_at(lot: Path, target: Path) -> None:
    manifest = lot / "lot.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "assay: vcn-car-rpp30" in text
    manifest.write_text(text.replace("assay: vcn-car-rpp30", f"assay: {target}"), encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        # a definition with a secret key, value and comment
        (
            f"# {SECRET}\n" + BASE.replace("reference:\n", f"reference:\n  {SECRET}: {SECRET}\n"),
            "reference (line 11): unknown field (check the spelling)",
        ),
        # a password file: every line a secret (YAML reads the lines as keys it does not know)
        (
            f"root:{SECRET}:19000:0:99999:7:::\nbin:{SECRET}:19000::::::\n",
            "id (line 1): required field is missing",
        ),
        # a secret inside broken YAML: the parser's message quotes the text; ours does not
        (f"key: [{SECRET}\nother: '{SECRET}\n", "not valid YAML"),
        # a secret as an unknown top-level key, among the assay's fields
        (BASE + f"{SECRET}: 1\n", f"line {FIRST_ADDED}: unknown field"),
    ],
    ids=["unknown-key", "password-file", "syntax-error", "top-level-key"],
)
def test_release_pointed_at_a_secret_never_prints_it(
    lot: Path, tmp_path: Path, content: str, problem: str
) -> None:
    secret_file = tmp_path / "elsewhere" / "secret.yaml"
    secret_file.parent.mkdir()
    secret_file.write_text(content, encoding="utf-8")
    _point_assay_at(lot, secret_file)
    result = invoke(["release", lot, "--out", tmp_path / "out", "--json"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {secret_file}: "), lines
    assert problem in lines[0]
    assert SECRET not in result.stderr and "hunter2" not in result.stderr
