"""A CFX Cq Results export cut at a row boundary: refused where the replicate groups' declared
Cq Mean / Cq Std. Dev show rows are missing (the export declares no well count).

The cut copies are the real CFX Manager export in ../shared/data cut after a complete line, as
a copy interrupted at a line end or a hand-trimmed file leaves it; the European-locale variant
is the same export written with ';' between fields and decimal commas, as CFX writes it on such
a workstation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError
from cytorelease.qpcr.readers import read_export
from cytorelease.qpcr.readers.cfx_completeness import StatsRow, check_replicate_statistics
from tests.conftest import shared_path

runner = CliRunner()


def _lines(name: str) -> list[bytes]:
    return shared_path("qpcr", "cfx", name).read_bytes().splitlines(keepends=True)


def _cut(tmp_path: Path, lines: list[bytes], rows: int, name: str = "cut.csv") -> Path:
    """The header and the first ``rows`` data rows, each with its line end."""
    path = tmp_path / name
    path.write_bytes(b"".join(lines[: 1 + rows]))
    return path


def _european(lines: list[bytes]) -> list[bytes]:
    """The export as a ';' / decimal-comma locale writes it (the fields hold no commas)."""
    return [ln.replace(b",", b";").replace(b".", b",") for ln in lines]


def test_the_whole_exports_read() -> None:
    for name, wells in (("HTqPCR_CFX_sample.txt", 330), ("allotropy_cfxmaestro_example01.csv", 48)):
        assert len(read_export(shared_path("qpcr", "cfx", name)).table) == wells


def test_a_cut_inside_a_replicate_pair_is_refused(tmp_path: Path) -> None:
    lines = _lines("HTqPCR_CFX_sample.txt")
    # rows 1-2 are the duplicate pair A01/A02 (GLP1, miR-101): keep A01 only
    with pytest.raises(InputError) as info:
        read_export(_cut(tmp_path, lines, 1))
    problem = info.value.problem
    assert problem.startswith("line 2: the replicate group of well A01 (SYBR GLP1, sample '1-SI1')")
    assert "lists 1 Cq value" in problem and "Cq Mean 36.22" in problem
    assert "rows of the group are missing" in problem
    # the pair whole reads (2 wells): the check looks at the groups, not the file's length
    assert list(read_export(_cut(tmp_path, lines, 2)).table["well"]) == ["A01", "A02"]


def test_every_cut_through_a_group_is_refused(tmp_path: Path) -> None:
    lines = _lines("HTqPCR_CFX_sample.txt")
    body = [ln.split(b",") for ln in lines[1:]]
    # a group is its fluor, target, content, sample and declared Cq Mean / Std. Dev
    keys = [tuple(f[2:6] + f[8:10]) for f in body]
    numeric = [f[7] != b"N/A" for f in body]
    refused = passed = 0
    for rows in range(1, len(body)):
        listed = set(keys[:rows])
        # a Cq of a listed group is cut off: the group's statistics no longer fit its Cqs
        broken = any(keys[i] in listed and numeric[i] for i in range(rows, len(body)))
        path = _cut(tmp_path, lines, rows)
        if broken:
            with pytest.raises(InputError, match="rows of the group are missing"):
                read_export(path)
            refused += 1
        else:  # a cut between whole groups: not detectable from this export
            assert len(read_export(path).table) == rows
            passed += 1
    assert refused > 100 and passed > 100  # about half the cuts fall inside a duplicate pair


def test_the_european_locale_export_is_checked_too(tmp_path: Path) -> None:
    lines = _european(_lines("HTqPCR_CFX_sample.txt"))
    assert len(read_export(_cut(tmp_path, lines, len(lines) - 1, "whole.csv")).table) == 330
    with pytest.raises(InputError, match=r"declares Cq Mean 36,22"):
        read_export(_cut(tmp_path, lines, 1))


def test_cli_refuses_with_one_error_line(tmp_path: Path) -> None:
    path = _cut(tmp_path, _lines("HTqPCR_CFX_sample.txt"), 3)  # A01, A02, A03 of pair A03/A04
    result = runner.invoke(app, ["qpcr", "read", str(path), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: line 4: ")


def _rows(cqs: list[str], mean: str, sd: str) -> list[StatsRow]:
    group = ("FAM", "CAR", "Unkn-01", "lot-1")
    return [StatsRow(i + 2, f"A0{i + 1}", group, cq, mean, sd) for i, cq in enumerate(cqs)]


def test_a_triplicate_cut_to_two_with_the_same_mean_is_caught_by_its_sd(tmp_path: Path) -> None:
    # 20.00, 24.00, 22.00: mean 22.00, SD 2.000; the first two alone have mean 22.00, SD 2.828
    check_replicate_statistics(_rows(["20.00", "24.00", "22.00"], "22.00", "2.000"), path=tmp_path)
    with pytest.raises(InputError, match=r"lists 2 Cq values \(SD 2.828\)"):
        check_replicate_statistics(_rows(["20.00", "24.00"], "22.00", "2.000"), path=tmp_path)


def test_undetermined_replicates_and_missing_statistics_are_not_errors(tmp_path: Path) -> None:
    check_replicate_statistics(_rows(["N/A", "N/A"], "0.00", "0.000"), path=tmp_path)
    check_replicate_statistics(_rows(["NaN", "31.5"], "31.5", "0"), path=tmp_path)
    check_replicate_statistics(_rows(["31.5", "30.0"], "NaN", "NaN"), path=tmp_path)
    with pytest.raises(InputError, match=r"lists 0 Cq values but declares Cq Mean 31\.5"):
        check_replicate_statistics(_rows(["NaN"], "31.5", "0"), path=tmp_path)


def test_replicates_named_as_different_samples_are_one_group(tmp_path: Path) -> None:
    rows = _rows(["20.00", "24.00"], "22.00", "2.828")
    renamed = [
        rows[0],
        StatsRow(3, "A02", ("FAM", "CAR", "Unkn-01", "lot-1b"), "24.00", "22.00", "2.828"),
    ]
    check_replicate_statistics(renamed, path=tmp_path)
    with pytest.raises(InputError, match="well A01"):
        check_replicate_statistics(renamed[:1], path=tmp_path)
