"""FCS events holding NaN or +/-inf (float data): counted per channel by ``flow inspect``, never
gated as numbers, flagged on the gating result (JSON, CLI, CoA), excluded from the denominators
only when the template says ``nonfinite_events: exclude``, refused with ``refuse``.

The files are written the way a float-data cytometer writes them: $DATATYPE F (or D), the IEEE
NaN / infinity bit patterns in place of a value its processing could not compute (a derived or
unmixed parameter divided by zero, an overflowed area), every other value, keyword, $SPILLOVER
and $TIMESTEP as in the tube it was acquired as.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError, TemplateError
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.flow.gating.pipeline import gate_sample
from cytorelease.flow.gating.result import FlagCode
from cytorelease.flow.gating.template import load_template
from cytorelease.flow.inspect import inspect_fcs
from cytorelease.flow.sample import Sample
from tests.flow.gating_lots import Lot, simulated_lot

runner = CliRunner()
PANEL = "cd19-car-t-panel"
# channel -> (value written, how many events): the CAR channel NaN, CD3 +inf, CD8 -inf
DAMAGE = {"PE-A": (np.nan, 40), "BV421-A": (np.inf, 25), "APC-H7-A": (-np.inf, 10)}


def _rewrite(tube: Sample, path: Path, events: np.ndarray, datatype: str = "F") -> Sample:
    """``tube`` written again with ``events`` (same channels, spill, $TIMESTEP)."""
    specs = [ChannelSpec(c.name, c.label, c.range) for c in tube.channels]
    keywords = {"$TIMESTEP": tube.keywords["$TIMESTEP"]}
    dtype = np.float32 if datatype == "F" else np.float64
    write_fcs(
        path, events.astype(dtype), specs, keywords=keywords, spill=tube.spill, datatype=datatype
    )
    return read_fcs(path)


def _damaged(tube: Sample, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Events with DAMAGE applied to random events (overlapping), and the damaged rows."""
    rng = np.random.default_rng(seed)
    events = np.array(tube.events, dtype=np.float64)
    rows = np.zeros(tube.event_count, dtype=bool)
    for name, (value, count) in DAMAGE.items():
        picked = rng.choice(tube.event_count, size=count, replace=False)
        events[picked, tube.channel_index(name)] = value
        rows[picked] = True
    return events, rows


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> Lot:
    return simulated_lot(tmp_path_factory.mktemp("nan-lot"), 7)


@pytest.fixture(scope="module")
def files(lot: Lot, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The damaged stained tube (F), the same as D, and the tube without the damaged events."""
    folder = tmp_path_factory.mktemp("nan-files")
    events, rows = _damaged(lot.stained, 11)
    return {
        "rows": rows,
        "nan": _rewrite(lot.stained, folder / "stained_nan.fcs", events),
        "nan_d": _rewrite(lot.stained, folder / "stained_nan_d.fcs", events, "D"),
        "clean": _rewrite(lot.stained, folder / "stained_clean.fcs", events[~rows]),
    }


def _template(tmp_path: Path, action: str) -> Path:
    """The bundled panel with ``nonfinite_events: <action>`` (a copy: no LOCK beside it)."""
    text = (Path(load_template(PANEL).source or "")).read_text(encoding="utf-8")
    path = tmp_path / f"panel-{action}.yaml"
    path.write_text(f"{text.rstrip()}\nnonfinite_events: {action}\n", encoding="utf-8")
    return path


def _counts(result) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    return {r.gate_id: (int(r.count), int(r.parent_count)) for r in result.populations.itertuples()}


def test_inspect_counts_nonfinite_values_per_channel(files: dict) -> None:  # type: ignore[type-arg]
    for key in ("nan", "nan_d"):
        summary = inspect_fcs(files[key].path, stats=True)
        assert summary["nonfinite_events"] == int(np.count_nonzero(files["rows"]))
        by_name = {c["name"]: c for c in summary["channels"]}
        assert by_name["PE-A"]["nonfinite"] == {"nan": 40, "positive_inf": 0, "negative_inf": 0}
        assert by_name["BV421-A"]["nonfinite"]["positive_inf"] == 25
        assert by_name["APC-H7-A"]["nonfinite"]["negative_inf"] == 10
        assert by_name["FSC-A"]["nonfinite"] == {"nan": 0, "positive_inf": 0, "negative_inf": 0}
        # statistics are of the finite values, not swallowed by a NaN
        pe = files["clean"].events[:, files["clean"].channel_index("PE-A")]
        assert by_name["PE-A"]["mean"] is not None and np.isfinite(by_name["PE-A"]["mean"])
        assert by_name["PE-A"]["max"] >= float(pe.max())


def test_inspect_cli_json_and_table(files: dict) -> None:  # type: ignore[type-arg]
    path = str(files["nan"].path)
    result = runner.invoke(app, ["flow", "inspect", path, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["nonfinite_events"] == int(files["rows"].sum())
    table = runner.invoke(app, ["flow", "inspect", path])
    assert table.exit_code == 0, table.stderr
    assert "non-finite events" in table.stdout and "40 NaN" in table.stdout


def test_default_flags_and_gates_only_finite_events(files: dict, lot: Lot) -> None:  # type: ignore[type-arg]
    panel = load_template(PANEL)
    damaged = gate_sample(files["nan"], panel, control=lot.fmo)
    clean = gate_sample(files["clean"], panel, control=lot.fmo)
    n_bad = int(files["rows"].sum())
    (flag,) = [f for f in damaged.flags if f.code is FlagCode.NONFINITE_EVENTS]
    assert f"{n_bad:,} of {files['nan'].event_count:,} events hold non-finite values" in (
        flag.message
    )
    for part in ("PE-A (CAR): 40 NaN", "BV421-A (CD3): 25 +inf", "APC-H7-A (CD4): 10 -inf"):
        assert part in flag.message
    # gates placed on the finite events only: every count as on the tube without them...
    ours, theirs = _counts(damaged), _counts(clean)
    top = [r.gate_id for r in damaged.populations.itertuples() if r.parent is None]
    assert {g: c for g, (c, _) in ours.items()} == {g: c for g, (c, _) in theirs.items()}
    # ...but they stay in the event count: the top-level denominator is the whole file
    for gate_id in top:
        assert ours[gate_id][1] == files["nan"].event_count == theirs[gate_id][1] + n_bad
    # memberships still line up with the file's events; no damaged event in any population
    for member in damaged.membership.values():
        assert member.shape == (files["nan"].event_count,)
        assert not (member & files["rows"]).any()
    document = damaged.to_dict()
    assert document["nonfinite"]["action"] == "flag"
    assert document["nonfinite"]["events"] == n_bad
    assert document["nonfinite"]["excluded"] == 0
    assert "nonfinite_events" in {f["code"] for f in document["flags"]}


def test_exclude_removes_them_from_every_denominator(
    files: dict,  # type: ignore[type-arg]
    lot: Lot,
    tmp_path: Path,
) -> None:
    template = load_template(_template(tmp_path, "exclude"))
    damaged = gate_sample(files["nan"], template, control=lot.fmo)
    clean = gate_sample(files["clean"], template, control=lot.fmo)
    assert _counts(damaged) == _counts(clean)
    for a, b in zip(damaged.measurements, clean.measurements, strict=True):
        assert a.attribute == b.attribute and a.value == b.value
    document = damaged.to_dict()
    assert document["nonfinite"]["excluded"] == int(files["rows"].sum())
    assert document["nonfinite"]["denominator_events"] == files["clean"].event_count
    pop = document["populations"][0]
    assert pop["percent_of_total"] == pytest.approx(100 * pop["count"] / files["clean"].event_count)
    (flag,) = [f for f in damaged.flags if f.code is FlagCode.NONFINITE_EVENTS]
    assert f"remaining {files['clean'].event_count:,} events" in flag.message


def test_refuse_is_an_input_error(files: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    template = load_template(_template(tmp_path, "refuse"))
    with pytest.raises(InputError) as info:
        gate_sample(files["nan"], template)
    assert info.value.path == str(files["nan"].path)
    assert "nonfinite_events: refuse" in info.value.problem
    gate_sample(files["clean"], template)  # a finite tube gates as before


def test_an_unknown_action_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="nonfinite_events"):
        load_template(_template(tmp_path, "drop"))


def test_a_control_tube_with_nonfinite_events_is_flagged(
    files: dict,  # type: ignore[type-arg]
    lot: Lot,
    tmp_path: Path,
) -> None:
    events, rows = _damaged(lot.fmo, 5)
    control = _rewrite(lot.fmo, tmp_path / "fmo_nan.fcs", events)
    clean_control = _rewrite(lot.fmo, tmp_path / "fmo_clean.fcs", events[~rows])
    panel = load_template(PANEL)
    damaged = gate_sample(files["clean"], panel, control=control)
    clean = gate_sample(files["clean"], panel, control=clean_control)
    messages = [f.message for f in damaged.flags if f.code is FlagCode.NONFINITE_EVENTS]
    assert len(messages) == 1 and messages[0].startswith("control tube: ")
    # the control-tube threshold comes from its finite events
    assert _counts(damaged) == _counts(clean)


def test_gate_cli_json_table_membership_and_refusal(files: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    path = str(files["nan"].path)
    membership = tmp_path / "m.csv"
    result = runner.invoke(
        app, ["flow", "gate", path, "--template", PANEL, "--membership", str(membership), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["nonfinite"]["events"] == int(files["rows"].sum())
    assert any(f["code"] == "nonfinite_events" for f in document["flags"])
    frame = pd.read_csv(membership)
    assert len(frame) == files["nan"].event_count
    assert not frame[files["rows"]].to_numpy().any()
    table = runner.invoke(app, ["flow", "gate", path, "--template", PANEL])
    assert table.exit_code == 0, table.stderr
    assert "flag [nonfinite_events]" in table.stdout
    refused = runner.invoke(
        app, ["flow", "gate", path, "--template", str(_template(tmp_path, "refuse")), "--json"]
    )
    assert refused.exit_code == 2
    assert refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ")
    assert "non-finite" in lines[0]


def test_nan_time_values_are_left_out_of_the_plots(lot: Lot, tmp_path: Path) -> None:
    """A NaN in Time used to reach the acquisition-QC histogram (numpy: range [nan, nan])."""
    from cytorelease.flow.plots import gate_plots

    events = np.array(lot.stained.events, dtype=np.float64)
    events[:5, lot.stained.channel_index("Time")] = np.nan
    tube = _rewrite(lot.stained, tmp_path / "time_nan.fcs", events)
    result = gate_sample(tube, load_template(PANEL), control=lot.fmo)
    assert "Time: 5 NaN" in next(
        f.message for f in result.flags if f.code.value == "nonfinite_events"
    )
    assert result.gated_events().sum() == tube.event_count - 5
    plots = gate_plots(result)
    assert "qc" in plots and "<svg" in plots["qc"]


def test_the_flag_reaches_the_release_record_and_the_coa(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cytorelease.lot.release import release_lot
    from cytorelease.synth import generate_lot

    lot_dir = generate_lot(tmp_path / "lots", seed=3).lot_dir
    stained = read_fcs(lot_dir / "tube1_stained.fcs")
    events, rows = _damaged(stained, 2)
    (lot_dir / "tube1_stained.fcs").unlink()
    _rewrite(stained, lot_dir / "tube1_stained.fcs", events)
    moment = datetime(2026, 7, 20, 9, 30, tzinfo=UTC)
    outcome = release_lot(lot_dir, out=tmp_path / "out", created_at=moment)
    flow = next(a for a in outcome.record["analyses"] if a["analysis"] == "flow")
    expected = f"{int(rows.sum()):,} of {stained.event_count:,} events hold non-finite values"
    assert any(expected in flag for flag in flow["flags"])
    assert expected in outcome.report_path.read_text(encoding="utf-8")
