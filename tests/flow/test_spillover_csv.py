"""The spillover CSV: written as $SPILLOVER's layout, read back exactly, bad files refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import InputError
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.spillover_csv import read_spillover_csv, write_spillover_csv


def test_round_trip_is_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    values = np.eye(3) + rng.uniform(0, 0.3, (3, 3)) * (1 - np.eye(3))
    names = ("FITC-A", "PE-A", "APC-A")
    path = write_spillover_csv(tmp_path / "m.csv", SpilloverMatrix("m", names, names, values))
    assert path.read_text(encoding="utf-8").splitlines()[0] == "FITC-A,PE-A,APC-A"
    back = read_spillover_csv(path)
    assert back.detectors == names and back.fluorochromes == names
    np.testing.assert_array_equal(back.matrix, values)


def test_a_matrix_whose_fluorochromes_are_not_its_detectors_is_not_written(
    tmp_path: Path,
) -> None:
    matrix = SpilloverMatrix("m", ("PE-A", "FITC-A"), ("FITC-A", "PE-A"), np.eye(2))
    with pytest.raises(InputError, match="cannot hold it"):
        write_spillover_csv(tmp_path / "m.csv", matrix)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is empty"),
        ("A,B\n1,0\n", "2 detectors but 1 rows follow"),
        ("A,B\n1,0\n0\n", "row 3 has 1 values, not 2"),
        ("A,B\n1,x\n0,1\n", "row 2, column 2: 'x' is not a number"),
        ("A,B\n1,nan\n0,1\n", "row 2, column 2 is not finite"),
        ("A,A\n1,0\n0,1\n", "names detector 'A' twice"),
        ("A,B\n1,1\n1,1\n", "is singular"),
    ],
)
def test_bad_files_are_refused_by_name(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=problem) as caught:
        read_spillover_csv(path)
    assert caught.value.path == str(path)


def test_non_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes("r\xe9sum\xe9,B\n1,0\n0,1\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_spillover_csv(path)
