"""The two sets ``compare`` reads: a lots table CSV and a folder of result.json records; a line
that cannot be read is refused naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.compare import compare_sets, margins_from_options, read_set
from cytorelease.errors import InputError
from tests.compare.helpers import HEADER, record, table


def test_a_table_is_read_row_by_row(tmp_path: Path) -> None:
    path = table(tmp_path / "a.csv", [("L1", "x", 10.5, "%", "pass"), ("L1", "q", "conforms", "", "pass"),
                                      ("L2", "x", 11, "%", "fail")])  # fmt: skip
    s = read_set(path)
    assert (s.kind, s.lots(), s.has_verdicts) == ("csv", ["L1", "L2"], True)
    assert s.numeric_attributes() == {"x"}
    assert (
        s.by_attribute()["x"]["L2"].value == 11.0 and s.by_attribute()["x"]["L2"].verdict == "fail"
    )
    assert s.by_attribute()["q"]["L1"].value is None


@pytest.mark.parametrize(
    ("rows", "line", "problem"),
    [
        (["L1,p,s,d,x,nan,%,pass,sp"], 2, "not a finite number"),
        (["L1,p,s,d,x,1,%,pass,sp", "L2,p,s,d,x,12;3,%,pass,sp"], 3, "which is no number"),
        (["L1,p,s,d,x,1,%,pass,sp", "L1,p,s,d,x,2,%,pass,sp"], 3, "a second time"),
        (["L1,p,s,d,x,1,%,pass,sp", "L2,p,s,d,x,2,fraction,pass,sp"], 3, "one unit per attribute"),
        (["L1,p,s,d,x,1,%,pass"], 2, "8 cells where the header has 9"),
        ([",p,s,d,x,1,%,pass,sp"], 2, "the lot is empty"),
        (["L1,p,s,d,x,,%,pass,sp"], 2, "the value is empty"),
    ],
)
def test_a_bad_line_is_refused_with_file_and_line(
    tmp_path: Path, rows: list[str], line: int, problem: str
) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_set(path)
    assert caught.value.path == str(path)
    assert f"line {line}" in caught.value.problem and problem in caught.value.problem


def test_a_table_without_the_value_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("lot,attribute,result\nL1,x,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 1: the header has no column 'value'"):
        read_set(path)


def test_a_folder_of_records(tmp_path: Path) -> None:
    record(tmp_path, "L1", {"flow.viability_pct_of_cd45": 90.0446, "manual.sterility": "no growth"},
           reported={"derived.car_viable_t_cells": "3.5E8"})  # fmt: skip
    record(tmp_path, "L2", {"flow.viability_pct_of_cd45": 71.2},
           verdicts={"flow.viability_pct_of_cd45": "fail"}, disposition="FAIL")  # fmt: skip
    s = read_set(tmp_path)
    assert (s.kind, s.lots()) == ("records", ["L1", "L2"])
    values = s.by_attribute()
    assert values["flow.viability_pct_of_cd45"]["L1"].value == 90.0446  # the measurement
    assert values["derived.car_viable_t_cells"]["L1"].value == 3.5e8  # only reported
    assert values["manual.sterility"]["L1"].value is None
    assert values["flow.viability_pct_of_cd45"]["L2"].verdict == "fail"
    assert s.dispositions == {"L1": "PASS", "L2": "FAIL"}
    assert len(s.sha256) == 64


def test_records_that_cannot_be_read_are_refused_naming_the_file(tmp_path: Path) -> None:
    first = record(tmp_path / "a", "L1", {"x": 1.0})
    second = record(tmp_path / "a" / "again", "L1", {"x": 2.0})
    with pytest.raises(InputError, match="a second record of lot 'L1'") as caught:
        read_set(tmp_path / "a")
    assert caught.value.path in (str(first), str(second))
    broken = tmp_path / "b" / "L9" / "result.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"schema": "cytorelease.result/1",\n  "lot": }', encoding="utf-8")
    with pytest.raises(InputError, match="line 2: not JSON") as caught:
        read_set(tmp_path / "b")
    assert caught.value.path == str(broken)
    (tmp_path / "c").mkdir()
    with pytest.raises(InputError, match=r"no result\.json"):
        read_set(tmp_path / "c")


def test_lots_in_only_one_set_are_reported_and_flips_listed(tmp_path: Path) -> None:
    a = table(tmp_path / "a.csv", [("L1", "x", 10, "%", "pass"), ("L2", "x", 11, "%", "pass"),
                                   ("L3", "x", 12, "%", "pass"), ("L4", "x", 13, "%", "pass")])  # fmt: skip
    for lot, value in (("L1", 10.4), ("L2", 11.3), ("L3", 12.2)):
        record(tmp_path / "b", lot, {"x": value}, verdicts={"x": "fail" if lot == "L2" else "pass"},
               disposition="FAIL" if lot == "L2" else "PASS")  # fmt: skip
    record(tmp_path / "b", "L7", {"x": 9.0})
    result = compare_sets(read_set(a), read_set(tmp_path / "b"), pair_by="lot",
                          protocol=margins_from_options(["x=1"])).to_dict()  # fmt: skip
    x = result["attributes"][0]
    assert (x["n"], x["only_in_a"], x["only_in_b"]) == (3, ["L4"], ["L7"])
    assert result["lots"]["only_in_a"] == ["L4"] and result["lots"]["only_in_b"] == ["L7"]
    assert [p["lot"] for p in x["pairs"]] == ["L1", "L2", "L3"]
    # the CSV has no disposition column: the flip is the verdict's only
    assert [(f["lot"], f["what"], f["a"], f["b"]) for f in result["flips"]] == [
        ("L2", "verdict", "pass", "fail")
    ]


def test_an_attribute_numeric_in_one_set_and_text_in_the_other_is_refused(tmp_path: Path) -> None:
    a = table(tmp_path / "a.csv", [("L1", "x", 1, "%", "pass")])
    b = table(tmp_path / "b.csv", [("L1", "x", "high", "%", "pass")])
    with pytest.raises(InputError, match=r"numeric in .*a\.csv but text in .*b\.csv"):
        compare_sets(read_set(a), read_set(b), pair_by="lot", protocol=margins_from_options([]))


def test_different_units_are_refused(tmp_path: Path) -> None:
    a = table(tmp_path / "a.csv", [("L1", "x", 1, "%", "pass")])
    b = table(tmp_path / "b.csv", [("L1", "x", 0.01, "fraction", "pass")])
    with pytest.raises(InputError, match="compare one unit"):
        compare_sets(read_set(a), read_set(b), pair_by="lot", protocol=margins_from_options([]))
