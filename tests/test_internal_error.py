"""A bug is not a bad file: the CLI says ``internal error`` (exit 3), never ``error:`` (exit 2).

An exception no reader raised on purpose used to be caught as "not a readable export", so a
reader bug looked like a damaged file. Here a reader function is made to fail the way a bug does
(monkeypatching our own code to stand in for a bug): users get one line naming the file and the
exception's type, never its message (which may quote a file), and exit 3;
``CYTORELEASE_DEBUG=1`` (set for the whole test run by conftest) lets the traceback through.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.cli import main
from cytorelease.errors import InputError, note_input, noted_input
from cytorelease.qpcr.readers import rdml
from tests.cli_contract import invoke
from tests.conftest import shared_path

SECRET = "do-not-print-me"


def _rdml() -> Path:
    return shared_path("qpcr", "rdml", "rdmlpython_matrix_gaps.rdml")


def _break_rdml_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(root: object) -> dict[str, object]:
        raise TypeError(f"unsupported operand near {SECRET}")

    monkeypatch.setattr(rdml, "_samples", broken)


def test_a_reader_bug_is_one_internal_error_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = _rdml()
    _break_rdml_reader(monkeypatch)
    monkeypatch.delenv(main.DEBUG_ENV)
    result = invoke(["qpcr", "read", source, "--json"])
    assert result.exit_code == main.INTERNAL_ERROR_EXIT == 3, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        f"internal error: {source}: TypeError: please report this "
        "(set CYTORELEASE_DEBUG=1 for the traceback)"
    ]
    assert SECRET not in result.stderr and "Traceback" not in result.stderr


def test_debug_lets_the_bug_through_with_its_traceback_and_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = _rdml()
    _break_rdml_reader(monkeypatch)
    monkeypatch.setenv(main.DEBUG_ENV, "1")
    result = invoke(["qpcr", "read", source, "--json"])
    assert isinstance(result.exception, TypeError), result.output
    assert f"while reading {source} (qPCR export reader)" in result.exception.__notes__
    assert "internal error" not in result.stderr


def test_a_bug_without_a_noted_file_and_bad_input_beside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(main.DEBUG_ENV)
    assert main._error_line(ZeroDivisionError("x")) == (
        "internal error: ZeroDivisionError: please report this "
        "(set CYTORELEASE_DEBUG=1 for the traceback)",
        3,
    )
    # deliberate errors keep their line and code whatever the setting
    assert main._error_line(InputError("bad", path="/x/f.csv")) == ("error: /x/f.csv: bad", 2)
    monkeypatch.setenv(main.DEBUG_ENV, "0")
    assert main._error_line(KeyError("k"))[1] == 3


def test_the_innermost_note_names_the_file() -> None:
    error = ValueError("x")
    note_input(error, "/lot/run.rdml", "react 7")
    note_input(error, "/lot/other.rdml")
    assert noted_input(error) == "/lot/run.rdml"
    assert error.__notes__ == ["while reading /lot/run.rdml (react 7)"]


def test_a_bug_inside_a_workbook_block_is_not_a_damaged_workbook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """open_workbook turns openpyxl's errors into one InputError; our own code's are bugs."""
    from cytorelease.qpcr.readers import quantstudio, read_export

    source = shared_path(
        "qpcr", "quantstudio", "allotropy_appbio_quantstudio_design_quantity_test.xlsx"
    )

    def broken(book: object, path: Path) -> object:
        raise KeyError("Results")

    monkeypatch.setattr(quantstudio, "_xlsx_rows", broken)
    with pytest.raises(KeyError) as info:
        read_export(source)
    assert noted_input(info.value) == str(source)


def test_a_plate_reader_bug_names_the_plate_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from cytorelease.potency.readers import gen5

    source = shared_path("plate", "endpoint_stdcurve_singleplate.txt")

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError(SECRET)

    monkeypatch.setattr(gen5, "_kind", broken)
    monkeypatch.delenv(main.DEBUG_ENV)
    result = invoke(["potency", "elisa", source, "--assay", "potency-ifng-elisa", "--json"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        f"internal error: {source}: KeyError: please report this "
        "(set CYTORELEASE_DEBUG=1 for the traceback)"
    ]
    monkeypatch.setenv(main.DEBUG_ENV, "1")
    result = invoke(["potency", "elisa", source, "--assay", "potency-ifng-elisa", "--json"])
    assert isinstance(result.exception, KeyError), result.output
    assert f"while reading {source} (plate-reader export reader)" in result.exception.__notes__
