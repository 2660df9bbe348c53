"""A bug in the FCS reader is not a bad file (issue 12 item 9).

The file is a plain FCS 3.1 list-mode tube as a cytometer writes it (integer data, $PnR ranges,
scatter, two fluorescence channels and Time), written with cytorelease's writer. A reader bug is
stood in for by making one of our own parsing helpers raise TypeError: the CLI must then print
one ``internal error`` line naming the file (exit 3), never ``error: ... not a readable file``
(exit 2), and never the exception's message; the library lets the exception through with a note
naming the file and the data set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytorelease.cli import main
from cytorelease.errors import noted_input
from cytorelease.flow import fcs
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from tests.cli_contract import invoke

SECRET = "do-not-print-me"


def _tube(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    events = rng.integers(0, 1023, size=(500, 5)).astype(np.float32)
    events[:, 4] = np.arange(500)
    specs = [
        ChannelSpec("FSC-A", None, 1024),
        ChannelSpec("SSC-A", None, 1024),
        ChannelSpec("FL1-A", "CD3", 1024),
        ChannelSpec("FL2-A", "CD19", 1024),
        ChannelSpec("Time", None, 1024),
    ]
    path = tmp_path / "tube.fcs"
    write_fcs(path, events, specs, datatype="I")
    return path


def _broken(*args: object, **kwargs: object) -> object:
    raise TypeError(f"unsupported operand near {SECRET}")


@pytest.mark.parametrize("helper", ["decode_events", "build_channels"])
def test_a_reader_bug_keeps_its_type_and_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helper: str
) -> None:
    path = _tube(tmp_path)
    assert fcs.read_fcs(path).event_count == 500  # the file itself is fine
    monkeypatch.setattr(fcs, helper, _broken)
    with pytest.raises(TypeError) as caught:
        fcs.read_fcs(path)
    assert noted_input(caught.value) == str(path)
    assert any(str(path) in n and "data set 0" in n for n in caught.value.__notes__)


def test_list_datasets_and_read_keywords_name_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _tube(tmp_path)
    monkeypatch.setattr(fcs, "build_channels", _broken)
    with pytest.raises(TypeError) as listed:
        fcs.list_datasets(path)
    assert noted_input(listed.value) == str(path)
    monkeypatch.setattr(fcs, "_segment_keywords", _broken)
    with pytest.raises(TypeError) as keywords:
        fcs.read_keywords(path)
    assert noted_input(keywords.value) == str(path)


@pytest.mark.parametrize("command", [["flow", "inspect"], ["flow", "gate"]])
def test_the_cli_says_internal_error_naming_the_file_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    path = _tube(tmp_path)
    monkeypatch.setattr(fcs, "decode_events", _broken)
    monkeypatch.delenv(main.DEBUG_ENV)
    extra = ["--template", "cd19-car-t-panel"] if command[1] == "gate" else []
    result = invoke([*command, path, *extra, "--json"])
    assert result.exit_code == main.INTERNAL_ERROR_EXIT == 3, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"internal error: {path}: TypeError: please report this "
        "(set CYTORELEASE_DEBUG=1 for the traceback)"
    ]
    assert SECRET not in result.stderr and "not a readable" not in result.stderr
