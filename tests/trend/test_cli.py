"""``cytorelease trend``: the JSON contract, the HTML report, and the refusals of a bad table."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.cli_contract import assert_bad_input, invoke, one_json_document

HISTORY = str(Path(__file__).parent / "data" / "history.csv")
HEADER = "lot,date,attribute,value,site,lsl,usl\n"
CHART_KEYS = {"attribute", "site", "n", "baseline_n", "center", "ucl", "lcl", "mr_bar", "mr_ucl",
              "violations", "ewma_signals", "cusum_signals", "ppk", "ppk_ci"}  # fmt: skip


def _table(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(header + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def _rows(n: int, attribute: str = "a", site: str = "s1", start: int = 0) -> list[str]:
    return [
        f"L{i:03d},2025-01-{1 + i % 28:02d},{attribute},{10 + (i * 7) % 5},{site},0,30"
        for i in range(start, start + n)
    ]


def test_json_keys_and_values() -> None:
    result = invoke(["trend", "flow.viability_pct", "flow.car_pct_of_cd3", "--from-csv", HISTORY,
                     "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    assert document["source"]["sha256"] == hashlib.sha256(Path(HISTORY).read_bytes()).hexdigest()
    assert document["ordering"] == "by date, then by lot id"
    charts = document["charts"]
    assert [c["attribute"] for c in charts] == ["flow.viability_pct", "flow.car_pct_of_cd3"]
    for chart in charts:
        assert set(chart) >= CHART_KEYS
        assert (chart["n"], chart["baseline_n"], chart["site"]) == (30, 20, None)
        assert chart["ucl"] == pytest.approx(chart["center"] + 2.66 * chart["mr_bar"])
        assert all({"rule", "lots"} <= set(v) for v in chart["violations"])
        assert len(chart["ppk_ci"]) == 2 and chart["ppk_ci"][0] < chart["ppk"] < chart["ppk_ci"][1]
    assert charts[0]["usl"] is None and charts[0]["lsl"] == 70


def test_by_site_gives_one_chart_per_attribute_and_site() -> None:
    result = invoke(["trend", "flow.viability_pct", "--from-csv", HISTORY, "--by-site",
                     "--baseline", "10", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    charts = one_json_document(result.stdout)["charts"]
    assert [(c["site"], c["n"]) for c in charts] == [("north", 15), ("south", 15)]


def test_lots_are_ordered_by_date_then_lot(tmp_path: Path) -> None:
    rows = [f"L{i:03d},2025-02-{28 - i // 2:02d},a,{10 + i % 3},s,," for i in range(20)]
    result = invoke(["trend", "a", "--from-csv", str(_table(tmp_path, rows)), "--baseline", "5",
                     "--json"])  # fmt: skip
    lots = [row["lot"] for row in one_json_document(result.stdout)["charts"][0]["lots"]]
    expected = sorted((f"2025-02-{28 - i // 2:02d}", f"L{i:03d}") for i in range(20))
    assert lots == [lot for _, lot in expected]


def test_html_report_is_self_contained_and_escapes_the_table(tmp_path: Path) -> None:
    evil = '<img src="http://x/y.png">&'
    rows = _rows(24)
    quoted = evil.replace('"', '""')  # CSV quoting of a cell holding quotes
    rows[22] = f'"{quoted}",2025-01-23,a,99,s1,0,30'
    out = tmp_path / "report.html"
    result = invoke(["trend", "a", "--from-csv", str(_table(tmp_path, rows)), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert "<svg" in page and page.count("<svg") == 1
    assert "<img" not in page and "&lt;img src=&quot;http://x/y.png&quot;&gt;&amp;" in page
    assert not re.search(r"(?:src|href)=\"(?!#|data:)", page)
    assert "<link" not in page and "@import" not in page
    # the only script is the inert record, which no table text can close
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="application/json" id="trend-record">'
    ]
    assert (
        "baseline" in page
        and hashlib.sha256(_table(tmp_path, rows).read_bytes()).hexdigest() in page
    )


def test_out_never_overwrites_the_table(tmp_path: Path) -> None:
    table = _table(tmp_path, _rows(22))
    before = table.read_bytes()
    line = assert_bad_input(
        invoke(["trend", "a", "--from-csv", str(table), "--out", str(table)]), table
    )
    assert "choose another --out" in line
    assert table.read_bytes() == before


REFUSALS: dict[str, tuple[str, list[str], str]] = {
    "missing column": ("lot,date,attribute,site\n", [], "line 1: the header has no column 'value'"),
    "non-numeric": (HEADER, [*_rows(21), "L900,2025-01-02,a,abc,s1,,"],
                    "line 23: value 'abc' is not a finite number"),
    "not finite": (HEADER, [*_rows(21), "L900,2025-01-02,a,nan,s1,,"],
                   "line 23: value 'nan' is not a finite number"),
    "duplicate": (HEADER, [*_rows(21), "L003,2025-01-09,a,11,s1,0,30"],
                  "line 23: lot 'L003' has attribute 'a' at site 's1' a second time (first on line 5)"),
    "too few lots": (HEADER, _rows(12), "a has 12 lots; the baseline needs 20"),
    "bad date": (HEADER, [*_rows(21), "L900,03/02/2025,a,11,s1,,"],
                 "line 23: date '03/02/2025' is not an ISO 8601 date (YYYY-MM-DD)"),
    "no such attribute": (HEADER, _rows(21, attribute="b"), "no row for attribute 'a' (the table has: b)"),
    "limits changed": (HEADER, [*_rows(21), "L900,2025-01-02,a,11,s1,0,40"],
                       "line 23: usl 40.0 differs from line 2's 30.0"),
    "lsl above usl": (HEADER, ["L900,2025-01-02,a,11,s1,40,30"], "line 2: lsl 40 is not below usl 30"),
    "short row": (HEADER, ["L900,2025-01-02,a,11"], "line 2: 4 cells where the header has 7"),
    "pooled lot at two sites": (HEADER, [*_rows(21), "L003,2025-01-09,a,11,s2,0,30"],
                                "lot 'L003' has attribute 'a' at sites 's1' and 's2'"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSALS), ids=str)
def test_refusals(case: str, tmp_path: Path) -> None:
    header, rows, problem = REFUSALS[case]
    table = _table(tmp_path, rows, header)
    line = assert_bad_input(invoke(["trend", "a", "--from-csv", str(table), "--json"]), table)
    assert line.startswith(f"error: {table}: ")
    assert problem in line, line


def test_by_site_without_a_site_column(tmp_path: Path) -> None:
    rows = [r.rsplit(",", 3)[0] for r in _rows(21)]
    table = _table(tmp_path, rows, "lot,date,attribute,value\n")
    line = assert_bad_input(invoke(["trend", "a", "--from-csv", str(table), "--by-site"]), table)
    assert "--by-site needs a 'site' column" in line


def test_not_utf8_and_empty(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + "L1,2025-01-01,caf\xe9,1,s,,\n".encode("latin-1"))
    assert "not UTF-8 text" in assert_bad_input(
        invoke(["trend", "a", "--from-csv", str(latin)]), latin
    )
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "the file is empty" in assert_bad_input(
        invoke(["trend", "a", "--from-csv", str(empty)]), empty
    )
