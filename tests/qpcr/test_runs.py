"""Run selection: an export holding several runs is read one run at a time, never pooled."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.errors import InputError
from cytorelease.qpcr.table import CqSource, make_table, run_names, select_run


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
