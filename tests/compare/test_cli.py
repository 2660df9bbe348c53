"""``cytorelease compare``: the JSON contract, the paired and unpaired paths, the HTML report
(self-contained, one figure per attribute, every text escaped), and the refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from statsmodels.stats.weightstats import ttost_ind
from typer.testing import Result

from cytorelease.compare import read_set
from cytorelease.report.svg import safe_inline_svg
from tests.cli_contract import assert_bad_input, invoke, one_json_document
from tests.compare.helpers import HEADER, record, table

DATA = Path(__file__).parent / "data"
SITE_A, SITE_B, PROTOCOL = DATA / "site_a.csv", DATA / "site_b.csv", DATA / "protocol.yaml"
ATTRIBUTE_KEYS = {"attribute", "n", "bias", "bias_ci", "loa_low", "loa_high", "tost_p",
                  "equivalent"}  # fmt: skip
VIABILITY, CAR = "flow.viability_pct_of_cd45", "flow.car_pct_of_viable_cd3"


def run(args: list[object]) -> Result:
    return invoke([str(a) for a in args])


def test_paired_json_keys_and_values() -> None:
    result = run(["compare", SITE_A, SITE_B, "--pair-by", "lot", "--protocol", PROTOCOL,
                     "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "not locked" in result.stderr  # the bundled library locks no protocol
    document = one_json_document(result.stdout)
    assert set(document) >= {"attributes", "flips", "protocol", "lots", "a", "b"}
    assert (
        document["protocol"]["id"] == "site-b-transfer" and document["protocol"]["locked"] is False
    )
    by_name = {a["attribute"]: a for a in document["attributes"]}
    assert set(by_name) == {VIABILITY, CAR}
    for attribute in by_name.values():
        assert set(attribute) >= ATTRIBUTE_KEYS
        assert attribute["n"] == 13  # CAR-0014 is only in A, CAR-0099 only in B
        low, high = attribute["bias_ci"]
        assert low < attribute["bias"] < high
        assert attribute["loa_low"] < attribute["bias"] < attribute["loa_high"]
        assert isinstance(attribute["equivalent"], bool)
    # the bias is the mean of the paired differences, recomputed from the files
    a, b = read_set(SITE_A).by_attribute()[CAR], read_set(SITE_B).by_attribute()[CAR]
    diffs = [b[lot].value - a[lot].value for lot in sorted(set(a) & set(b))]  # type: ignore[operator]
    assert by_name[CAR]["bias"] == sum(diffs) / len(diffs)
    assert document["lots"]["only_in_a"] == ["CAR-0014"]
    assert document["lots"]["only_in_b"] == ["CAR-0099"]
    assert by_name[VIABILITY]["only_in_b"] == ["CAR-0099"]
    assert [(f["lot"], f["attribute"]) for f in document["flips"]] == [("CAR-0005", CAR)]
    assert document["not_compared"] == [
        {
            "attribute": "manual.sterility",
            "reason": "text results: compared by verdict only (see flips)",
        }
    ]


def test_unpaired_path_is_welch_tost_and_ks() -> None:
    result = run(["compare", SITE_A, SITE_B, "--pair-by", "none", "--margin", f"{VIABILITY}=3",
                     "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    by_name = {a["attribute"]: a for a in document["attributes"]}
    via = by_name[VIABILITY]
    assert (via["n_a"], via["n_b"], via["n"]) == (14, 14, 28)
    a = [e.value for e in read_set(SITE_A).by_attribute()[VIABILITY].values()]
    b = [e.value for e in read_set(SITE_B).by_attribute()[VIABILITY].values()]
    p, _, _ = ttost_ind(b, a, -3, 3, usevar="unequal")
    assert via["tost_p"] == pytest.approx(p, rel=1e-12) and via["equivalent"] is bool(p < 0.05)
    assert 0 <= via["ks_statistic"] <= 1 and 0 < via["ks_p"] <= 1
    assert via["loa_low"] is None and via["loa_high"] is None  # no pairs, no agreement limits
    assert by_name[CAR]["equivalent"] is None and "no margin" in by_name[CAR]["equivalence_reason"]


def test_records_folders_compare_like_tables(tmp_path: Path) -> None:
    for i in range(6):
        record(tmp_path / "v1", f"L{i}", {"x": 10.0 + i})
        record(tmp_path / "v2", f"L{i}", {"x": 10.1 + i + 0.01 * (i % 2)},
               disposition="FAIL" if i == 3 else "PASS")  # fmt: skip
    result = run(["compare", tmp_path / "v1", tmp_path / "v2", "--pair-by", "lot", "--margin",
                     "x=0.5", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    (x,) = document["attributes"]
    assert x["n"] == 6 and abs(x["bias"] - 0.105) < 1e-9 and x["equivalent"] is True
    assert document["a"]["kind"] == "records"
    assert [(f["lot"], f["what"], f["a"], f["b"]) for f in document["flips"]] == [
        ("L3", "disposition", "PASS", "FAIL")
    ]


def test_html_report_is_self_contained_with_one_figure_per_attribute(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>'
    a = table(tmp_path / "a.csv", [(f"L{i}{evil if i == 0 else ''}", "x", 10 + i, "%", "pass")
                                   for i in range(5)])  # fmt: skip
    b = table(tmp_path / "b.csv", [(f"L{i}{evil if i == 0 else ''}", "x", 10.2 + i * 1.01, "%",
                                    "pass") for i in range(5)])  # fmt: skip
    out = tmp_path / "report.html"
    result = run(["compare", a, b, "--pair-by", "lot", "--margin", "x=1", "--out", out])
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert evil not in page and "&lt;script&gt;" in page
    assert page.count("<svg") == 1 and "Bland-Altman" in page
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        safe_inline_svg(svg)  # inert: no script, nothing loaded
    assert not re.search(r"(src|href)=\"(?!#|data:)", page)
    embedded = re.search(r'<script type="application/json" id="compare-record">(.*?)</script>', page,
                         flags=re.S)  # fmt: skip
    assert embedded is not None
    assert json.loads(embedded.group(1))["attributes"][0]["n"] == 5
    # the unpaired report draws the two distributions instead
    result = run(["compare", a, b, "--pair-by", "none", "--out", out])
    assert result.exit_code == 0, result.stderr
    assert "distributions: A" in out.read_text(encoding="utf-8")


def test_out_never_overwrites_an_input(tmp_path: Path) -> None:
    a = table(tmp_path / "a.csv", [("L1", "x", 1, "%", "pass"), ("L2", "x", 2, "%", "pass")])
    before = a.read_bytes()
    result = run(["compare", a, a, "--pair-by", "lot", "--out", a])
    assert_bad_input(result, a)
    assert a.read_bytes() == before


def test_refusals_are_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "a.csv"
    bad.write_text(HEADER + "L1,p,s,d,x,inf,%,pass,sp\n", encoding="utf-8")
    line = assert_bad_input(run(["compare", bad, SITE_B, "--pair-by", "lot"]), bad)
    assert "line 2" in line
    result = run(["compare", SITE_A, SITE_B, "--pair-by", "site"])
    assert result.exit_code == 2 and "--pair-by 'site'" in result.stderr
    for margin in ("x", "x=0", "x=-1", "x=abc"):
        result = run(["compare", SITE_A, SITE_B, "--pair-by", "lot", "--margin", margin])
        assert result.exit_code == 2 and "--margin" in result.stderr, result.stderr
    result = run(["compare", SITE_A, SITE_B, "--pair-by", "none", "--protocol", PROTOCOL])
    assert result.exit_code == 2 and "fixes pairing 'lot'" in result.stderr


def test_a_protocol_locked_by_the_site_library(tmp_path: Path) -> None:
    from cytorelease._resources import set_library
    from cytorelease.compare import load_protocol

    library = tmp_path / "library"
    (library / "specs").mkdir(parents=True)  # --library accepts a folder holding a kind it knows
    (library / "protocols").mkdir()
    sha = load_protocol(PROTOCOL).sha256
    (library / "protocols" / "LOCK").write_text(f"site-b-transfer@1 {sha}\n", encoding="utf-8")
    args = ["--library", library, "compare", SITE_A, SITE_B, "--pair-by", "lot", "--protocol"]
    try:  # --library sets the site library for the process: set back after
        result = run([*args, PROTOCOL, "--json"])
        changed = tmp_path / "protocol.yaml"
        changed.write_text(PROTOCOL.read_text("utf-8").replace("margin: 3", "margin: 4"), "utf-8")
        refused = run([*args, changed, "--json"])
    finally:
        set_library(None)
    assert result.exit_code == 0, result.stderr
    assert "not locked" not in result.stderr
    assert one_json_document(result.stdout)["protocol"]["locked"] is True
    line = assert_bad_input(refused, changed)
    assert "a released protocol never changes" in line
