"""Run selection: an export holding several runs is read one run at a time, never pooled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError
from cytorelease.qpcr.table import CqSource, make_table, run_names, select_run

runner = CliRunner()


def _table(runs: list[str]) -> object:
    rows = [
        {"well": f"A{i + 1}", "sample": "s", "target": "t", "task": "unknown", "cq": 20.0 + i}
        | ({"run": run} if run else {})
        for i, run in enumerate(runs)
    ]
    return make_table(rows, digital=False)


def test_rows_default_to_an_unnamed_run_and_exported_cq() -> None:
    table = _table(["", ""])
    assert table["run"].tolist() == ["", ""]
    assert table["cq_source"].tolist() == [CqSource.EXPORT.value] * 2
    assert run_names(table) == [""]


def test_single_run_needs_no_name_and_keeps_every_row() -> None:
    table = _table(["Run 1", "Run 1"])
    assert select_run(table, None, path="x.rdml") is table
    assert select_run(table, "Run 1", path="x.rdml") is table


def test_named_run_keeps_only_its_rows() -> None:
    table = _table(["QS run", "LC run", "QS run", "LC run", "LC run"])
    chosen = select_run(table, "LC run", path="x.rdml")
    assert chosen["well"].tolist() == ["A2", "A4", "A5"]
    assert set(chosen["run"]) == {"LC run"}
    assert chosen.index.tolist() == [0, 1, 2]


def test_several_runs_without_a_name_are_refused_with_the_runs_listed() -> None:
    table = _table(["QS run", "LC run", "QS run"])
    with pytest.raises(InputError) as caught:
        select_run(table, None, path=Path("two.rdml"))
    assert caught.value.one_line() == (
        "two.rdml: the export holds 2 runs ('QS run', 'LC run'); one analysis reads one run "
        "(name one with --run (lot.yaml: inputs.qpcr.run))"
    )


def test_unknown_run_is_refused() -> None:
    table = _table(["QS run", "LC run"])
    with pytest.raises(
        InputError,
        match=r"run 'Run 3' is not in the export \(runs in the "
        r"export: 'QS run', 'LC run'\)",
    ):
        select_run(table, "Run 3", path="two.rdml")


def test_a_run_named_for_an_export_that_names_none_is_refused() -> None:
    table = _table(["", ""])
    with pytest.raises(InputError, match="the export does not name its run"):
        select_run(table, "Run 1", path="plate.csv")
    with pytest.raises(InputError, match="the export does not name its run"):
        select_run(table, "", path="plate.csv")


# --- an RDML file with two runs (tests/qpcr/rdml_build.py says how it is built) -------------

QS, LC = "QS7-2026-11-30", "LC480-2026-11-30"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.qpcr.rdml_build import two_run_rdml

    path = tmp_path_factory.mktemp("rdml") / "two_runs.rdml"
    path.write_bytes(two_run_rdml())
    return path


def test_rdml_rows_say_their_run_and_where_their_cq_comes_from(two_runs: Path) -> None:
    from cytorelease.qpcr.readers import read_export

    export = read_export(two_runs)
    assert export.runs == [QS, LC]
    assert export.instrument == "QuantStudio 7 Pro + LightCycler 480"
    by_run = {run: export.table[export.table["run"] == run] for run in export.runs}
    assert set(by_run[QS]["cq_source"]) == {"export"}
    assert set(by_run[LC]["cq_source"]) == {"computed"}
    assert len(by_run[QS]) == len(by_run[LC]) == 40
    # The same well of the two runs: the instrument's Cq, and ours from the curve near it.
    qs = by_run[QS].set_index(["well", "target"])["cq"]
    lc = by_run[LC].set_index(["well", "target"])["cq"]
    assert qs[("A1", "CAR")] == pytest.approx(38 - 2 * np.log2(10) - 0.04, abs=1e-3)  # STD-1e2
    assert lc[("A1", "CAR")] == pytest.approx(qs[("A1", "CAR")], abs=0.1)
    assert np.isnan(qs[("B8", "CAR")]) and np.isnan(lc[("B8", "CAR")])  # NTC, react 20


def test_qpcr_read_lists_the_runs(two_runs: Path) -> None:
    result = runner.invoke(app, ["qpcr", "read", str(two_runs), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["runs"] == [
        {"run": QS, "rows": 40, "computed_cq": 0},
        {"run": LC, "rows": 40, "computed_cq": 40},
    ]
    assert {(r["run"], r["cq_source"]) for r in doc["rows"]} == {(QS, "export"), (LC, "computed")}
    human = runner.invoke(app, ["qpcr", "read", str(two_runs)])
    assert human.exit_code == 0, human.output
    assert f"run {QS}: 40 rows\n" in human.stdout
    assert f"run {LC}: 40 rows, 40 Cq computed from curves" in human.stdout
    assert "2 runs: analyses read one (--run)" in human.stdout


def test_a_single_run_export_has_a_null_run() -> None:
    from tests.conftest import shared_path

    path = shared_path("qpcr", "cfx", "allotropy_cfxmaestro_example01.csv")
    doc = json.loads(runner.invoke(app, ["qpcr", "read", str(path), "--json"]).stdout)
    assert doc["runs"] == [{"run": None, "rows": len(doc["rows"]), "computed_cq": 0}]
    assert {(r["run"], r["cq_source"]) for r in doc["rows"]} == {(None, "export")}


def test_qpcr_vcn_refuses_two_runs_without_run(two_runs: Path) -> None:
    result = runner.invoke(app, ["qpcr", "vcn", str(two_runs), "--assay", "vcn-car-rpp30"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {two_runs}: the export holds 2 runs ('{QS}', '{LC}'); one analysis reads one "
        "run (name one with --run (lot.yaml: inputs.qpcr.run))"
    )
    unknown = runner.invoke(
        app, ["qpcr", "vcn", str(two_runs), "--assay", "vcn-car-rpp30", "--run", "Run 1"]
    )
    assert unknown.exit_code == 2
    assert f"run 'Run 1' is not in the export (runs in the export: '{QS}', '{LC}')" in (
        unknown.stderr
    )


def test_qpcr_vcn_reads_the_named_run_and_flags_computed_cq(two_runs: Path) -> None:
    args = ["qpcr", "vcn", str(two_runs), "--assay", "vcn-car-rpp30", "--json", "--run"]
    exported = json.loads(runner.invoke(app, [*args, QS]).stdout)
    computed = json.loads(runner.invoke(app, [*args, LC]).stdout)
    assert exported["run"] == QS and exported["flags"] == []
    assert exported["provenance"]["input"]["run"] == QS
    assert computed["run"] == LC
    assert computed["flags"] == [
        "computed Cq: 40 of 40 Cq values were computed by cytorelease from the export's "
        "amplification curves (the export has no instrument Cq for them)"
    ]
    # Each run alone: 15 standards per target (not 30 pooled from two instruments).
    assert [c["n"] for c in exported["standard_curves"]] == [15, 15]
    # Built at VCN 2 x 2.5e4 / 2e4 = 2.5; the two runs' DP Cqs differ by < 0.02 cycles.
    for doc in (exported, computed):
        (dp,) = doc["samples"]
        assert dp["vcn"] == pytest.approx(2.5, rel=0.01)
    human = runner.invoke(
        app, ["qpcr", "vcn", str(two_runs), "--assay", "vcn-car-rpp30", "--run", LC]
    )
    assert human.exit_code == 0, human.output
    assert f"run {LC}" in human.stdout and "flag: computed Cq: 40 of 40" in human.stdout
