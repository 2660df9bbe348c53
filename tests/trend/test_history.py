"""The seeded history with planted drifts: the charts catch what was planted and stay quiet on
the stable attribute (false alarms counted over 1,000 stable monitored lots)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cytorelease.synth.history import ATTRIBUTES, VCN, write_history
from cytorelease.trend import trend_from_csv
from cytorelease.trend.chart import Chart
from tests.cli_contract import assert_bad_input, invoke, one_json_document


def _signalled(chart: Chart) -> set[str]:
    """The lots at which any signal after the baseline was raised."""
    lots = {v.first_signal for v in chart.violations if not v.in_baseline}
    return lots | {s.lot for s in (*chart.ewma, *chart.cusum)}


def _charts(folder: Path, seed: int) -> tuple[list[Chart], dict[tuple[str, str | None], list[str]]]:
    truth = write_history(folder / str(seed), seed=seed)
    affected = {(c["attribute"], c["site"]): c["affected_lots"] for c in truth.charts}
    table = folder / str(seed) / "history.csv"
    charts = [*trend_from_csv(table, tuple(ATTRIBUTES)).charts,
              *trend_from_csv(table, tuple(ATTRIBUTES), by_site=True).charts]  # fmt: skip
    return charts, affected  # type: ignore[return-value]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    write_history(tmp_path / "a", seed=4)
    write_history(tmp_path / "b", seed=4)
    write_history(tmp_path / "c", seed=5)
    a, b, c = ((tmp_path / x / "history.csv").read_bytes() for x in "abc")
    assert a == b != c


def test_truth_names_the_lots_each_drift_touches(tmp_path: Path) -> None:
    truth = write_history(tmp_path, lots=60, sites=2, seed=1, shift_at=47).to_dict()
    charts = {(c["attribute"], c["site"]): c["affected_lots"] for c in truth["charts"]}  # type: ignore[attr-defined]
    # site-1 makes the odd-numbered lots; the step starts at lot 47
    assert charts[("flow.car_pct_of_viable_cd3", "site-1")] == [
        f"CAR-H{i:04d}" for i in range(47, 61, 2)
    ]
    assert charts[("flow.car_pct_of_viable_cd3", "site-2")] == []
    assert charts[("flow.viability_pct_of_cd45", None)] == [f"CAR-H{i:04d}" for i in range(31, 61)]
    assert charts[(VCN, None)] == []


def test_the_planted_drifts_are_caught(tmp_path: Path) -> None:
    caught, drifted = 0, 0
    for seed in range(1, 21):
        charts, affected = _charts(tmp_path, seed)
        for chart in charts:
            lots = affected[(chart.series.attribute, chart.series.site)]
            if not lots:
                continue
            drifted += 1
            first = chart.series.lots.index(lots[0])
            signalled = {chart.series.lots.index(lot) for lot in _signalled(chart)}
            caught += any(i >= first for i in signalled)
    assert drifted == 20 * 4  # step at site-1; decline pooled and at both sites
    assert caught / drifted >= 0.95, (caught, drifted)


def test_the_stable_attribute_stays_quiet(tmp_path: Path) -> None:
    monitored, alarms, rules, beyond = 0, 0, 0, 0
    for seed in range(1, 26):
        charts, _ = _charts(tmp_path, seed)
        chart = next(c for c in charts if c.series.attribute == VCN and c.series.site is None)
        monitored += len(chart.series.lots) - chart.baseline.n
        alarms += len(_signalled(chart))
        rules += len({v.first_signal for v in chart.violations if not v.in_baseline})
        beyond += sum(1 for v in chart.violations if v.rule == 1 and not v.in_baseline)
    assert monitored == 1000
    # measured over seeds 1-75 (3,000 stable lots): 7.4 % of lots raise any signal (CUSUM
    # 5.2 %, unreset, so a baseline that missed the mean gives runs of them; rules 3 %; EWMA
    # 1.7 %); rule 1 alone 0.8 % (0.27 % with known parameters: a 20-lot baseline estimates them)
    assert alarms / monitored < 0.10, alarms
    assert rules / monitored < 0.05, rules
    assert beyond / monitored < 0.015, beyond


def test_cli_json_and_refusals(tmp_path: Path) -> None:
    out = tmp_path / "h"
    result = invoke(["sample-data", "history", str(out), "--lots", "60", "--sites", "2",
                     "--seed", "3", "--shift-at", "45", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = one_json_document(result.stdout)
    assert [d["kind"] for d in document["drifts"]] == ["step", "decline"]
    assert document["drifts"][0]["from_lot"] == 45
    assert json.loads((out / "truth.json").read_text(encoding="utf-8")) == document
    again = invoke(["sample-data", "history", str(out)])
    assert "pass --force to overwrite it" in assert_bad_input(again, out / "history.csv")
    early = invoke(["sample-data", "history", str(tmp_path / "e"), "--shift-at", "30"])
    assert "after site-1's 20-lot baseline" in assert_bad_input(early, tmp_path / "e")
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("sites", [1, 3])
def test_any_number_of_sites(tmp_path: Path, sites: int) -> None:
    truth = write_history(tmp_path, lots=90, sites=sites, seed=2)
    report = trend_from_csv(tmp_path / "history.csv", (VCN,), by_site=True)
    assert [c.series.site for c in report.charts] == [f"site-{s}" for s in range(1, sites + 1)]
    assert truth.shift_at == 67
