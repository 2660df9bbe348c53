"""A whole generated lot: layout, determinism, truth consistency, independent readability."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import flowio
import numpy as np
import pytest
import yaml

from cytorelease.attributes import is_known
from cytorelease.errors import InputError
from cytorelease.provenance import file_sha256
from cytorelease.synth import (
    DEFAULT_STEPS,
    LotContext,
    LotParams,
    LotTruth,
    generate_lot,
    random_params,
    read_labels,
    read_truth,
    realised_measurements,
)

FILES = {
    "tube1_stained.fcs",
    "tube2_fmo_car.fcs",
    "labels.npz",
    "qpcr/biomark_96.96_table_results.csv",
    "qpcr/qx_manager_results.csv",
    "elisa_ifng.csv",
    "killing_with_effectors.fcs",
    "killing_targets_alone.fcs",
    "bench_sheet.yaml",
    "lot.yaml",
    "truth.json",
}


def _files(lot_dir: Path) -> list[Path]:
    return sorted(p for p in lot_dir.rglob("*") if p.is_file())


SMALL = LotParams(n_events=20_000, fmo_events=10_000)


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> LotTruth:
    return generate_lot(tmp_path_factory.mktemp("lots"), seed=5)


def _bytes(lot_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(lot_dir).as_posix(): p.read_bytes() for p in _files(lot_dir)}


def test_layout_and_file_hashes(lot: LotTruth) -> None:
    assert lot.lot_id == "lot-CAR-0005"
    assert lot.lot_dir.name == "lot-CAR-0005"
    assert {p.relative_to(lot.lot_dir).as_posix() for p in _files(lot.lot_dir)} == FILES
    assert set(lot.files) == FILES - {"truth.json"}
    for name, sha in lot.files.items():
        assert file_sha256(lot.lot_dir / name) == sha
    assert read_truth(lot.lot_dir)["files"] == dict(lot.files)


def test_same_seed_gives_identical_bytes_and_another_seed_differs(
    lot: LotTruth, tmp_path: Path
) -> None:
    again = generate_lot(tmp_path / "a", seed=5)
    assert _bytes(again.lot_dir) == _bytes(lot.lot_dir)
    other = generate_lot(tmp_path / "b", seed=6, params=SMALL)
    for name in ("tube1_stained.fcs", "tube2_fmo_car.fcs", "labels.npz", "lot.yaml"):
        assert other.files[name] != lot.files[name], name


def test_truth_equals_fractions_recomputed_from_labels(lot: LotTruth) -> None:
    truth = read_truth(lot.lot_dir)
    labels = read_labels(lot.lot_dir)
    assert list(labels["code_names"][:3]) == ["debris", "doublet", "dead"]
    assert [c["name"] for c in truth["flow"]["population_codes"]] == list(labels["code_names"])
    for role in ("stained", "fmo"):
        tube = truth["flow"]["tubes"][role]
        population = labels[f"{role}_population"]
        qc_segment = labels[f"{role}_qc_segment"]
        assert population.dtype == np.uint8 and qc_segment.dtype == bool
        assert population.size == tube["n_events"]
        recomputed = realised_measurements(population, qc_segment)
        assert recomputed["measurements"] == tube["measurements"]
        assert recomputed["counts"] == tube["counts"]
        counts = np.bincount(population, minlength=len(labels["code_names"]))
        assert tube["population_counts"] == {
            str(name): int(n) for name, n in zip(labels["code_names"], counts, strict=True)
        }
        assert tube["qc_segment"]["n_events"] == int(qc_segment.sum())
    assert truth["measurements"] == truth["flow"]["tubes"]["stained"]["measurements"]
    car = truth["measurements"]["flow.car_pct_of_viable_cd3"]
    expected = truth["flow"]["tubes"]["stained"]["car_pct_expected_with_fmo_p99_5_gate"]
    assert expected == pytest.approx(car + 0.005 * (100 - car))
    assert truth["flow"]["tubes"]["fmo"]["car_pct_expected_with_fmo_p99_5_gate"] is None
    assert truth["params"] == LotParams().to_dict()
    assert truth["seed"] == 5


def test_realised_values_are_near_the_requested_params(lot: LotTruth) -> None:
    m, p = lot.measurements, lot.params
    assert m["flow.car_pct_of_viable_cd3"] == pytest.approx(p.car_pct, abs=1.0)
    assert m["flow.viability_pct_of_cd45"] == pytest.approx(p.viability_pct, abs=0.7)
    assert m["flow.cd3_pct_of_viable_cd45"] == pytest.approx(p.cd3_pct, abs=0.7)
    assert m["flow.cd4_cd8_ratio"] == pytest.approx(p.cd4_cd8_ratio, rel=0.05)
    assert m["flow.cd19_pct_of_viable"] == pytest.approx(p.cd19_pct, abs=0.25)
    assert 2.0 < m["flow.acquisition_qc_removed_pct"] < 10.0


def test_random_params_lot_is_realised_too(tmp_path: Path) -> None:
    params = random_params(2)
    truth = generate_lot(tmp_path, seed=2, params=params)
    m = truth.measurements
    assert m["flow.car_pct_of_viable_cd3"] == pytest.approx(params.car_pct, abs=1.0)
    assert m["flow.viability_pct_of_cd45"] == pytest.approx(params.viability_pct, abs=1.0)
    counts = truth.document["flow"]["tubes"]["stained"]["counts"]
    assert counts["car_t"] >= 1_000


def test_flowio_reads_the_tubes_with_labels_and_spillover(lot: LotTruth) -> None:
    expected = ["Viability", "CD45", "CD3", "CD4", "CD8", "CAR", "CD19"]
    for name, role in (("tube1_stained.fcs", "stained"), ("tube2_fmo_car.fcs", "fmo")):
        data = flowio.FlowData(str(lot.lot_dir / name))
        assert data.version == "3.1"
        assert data.event_count == (
            lot.params.n_events if role == "stained" else lot.params.fmo_events
        )
        names = [data.channels[i]["pnn"] for i in sorted(data.channels)]
        labels = [data.channels[i]["pns"] for i in sorted(data.channels)]
        assert names[:3] == ["FSC-A", "FSC-H", "SSC-A"] and names[-1] == "Time"
        assert sorted(label for label in labels if label) == sorted(expected)
        spill = data.text["spillover"].split(",")
        assert int(spill[0]) == 7
        assert spill[1:8] == names[3:10]
        assert len(spill) == 1 + 7 + 49
        assert data.text["fil"] == name
        assert data.text["cytorelease_lot"] == "lot-CAR-0005"
        assert data.text["cytorelease_tube_role"] == role
        assert data.text["src"] == f"lot-CAR-0005 {role}"
        assert data.text["timestep"] == "0.01"
        for key in ("cyt", "date", "btim", "etim"):
            assert data.text[key].strip()
        events = np.reshape(data.events, (data.event_count, data.channel_count))
        assert events.dtype == np.float32 or np.allclose(events, events.astype(np.float32))
        assert np.all(np.diff(events[:, -1]) >= 0)  # Time is monotonic


def test_time_channel_agrees_with_the_flagged_segment(lot: LotTruth) -> None:
    truth = read_truth(lot.lot_dir)["flow"]["tubes"]["stained"]
    data = flowio.FlowData(str(lot.lot_dir / "tube1_stained.fcs"))
    ticks = np.reshape(data.events, (data.event_count, data.channel_count))[:, -1]
    window = truth["qc_segment"]
    inside = (ticks >= window["start_tick"]) & (ticks < window["end_tick"])
    assert np.array_equal(inside, read_labels(lot.lot_dir)["stained_qc_segment"])


def test_project_reader_parses_the_spill(lot: LotTruth) -> None:
    from cytorelease.flow.fcs import read_fcs

    sample = read_fcs(lot.lot_dir / "tube1_stained.fcs")
    assert sample.spill is not None
    assert sample.spill.channels[2] == "PE-A"
    assert sample.spill.matrix[1, 2] == pytest.approx(0.22)  # FITC into the PE detector
    assert sample.column("CAR").shape == (lot.params.n_events,)


def test_manifest_names_the_lot_and_its_inputs_and_the_bench_sheet_its_manual_results(
    lot: LotTruth,
) -> None:
    manifest = yaml.safe_load(lot.manifest_path.read_text(encoding="utf-8"))
    assert manifest["lot_id"] == "lot-CAR-0005"
    assert manifest["product"] == "cd19-car-t"
    assert manifest["spec"] == "cd19-car-t@2"
    assert manifest["chain_of_identity"].startswith("COI-")
    datetime.fromisoformat(manifest["manufacturing_date"])
    flow = manifest["inputs"]["flow"]
    assert flow["template"] == "cd19-car-t-panel"
    assert [(t["path"], t["role"]) for t in flow["tubes"]] == [
        ("tube1_stained.fcs", "stained"),
        ("tube2_fmo_car.fcs", "fmo"),
    ]
    # manual results are not the manifest's: they count once two people enter them
    assert "manual" not in manifest
    sheet = yaml.safe_load((lot.lot_dir / "bench_sheet.yaml").read_text(encoding="utf-8"))
    assert sheet["lot_id"] == manifest["lot_id"]
    attributes = {e["attribute"] for e in sheet["results"]}
    assert attributes == {
        "manual.appearance",
        "manual.endotoxin_eu_ml",
        "manual.sterility",
        "manual.mycoplasma",
        "manual.rcl",
        "manual.total_viable_cells",
    }
    for entry in sheet["results"]:
        assert is_known(entry["attribute"])
        assert entry["recorded_by"]
        assert datetime.fromisoformat(entry["recorded_at"].replace("Z", "+00:00")).tzinfo
    assert read_truth(lot.lot_dir)["manual"]["manual.appearance"] == "conforms"


def test_a_new_step_extends_the_lot_without_changing_existing_files(
    lot: LotTruth, tmp_path: Path
) -> None:
    def write_plate(ctx: LotContext) -> None:
        value = int(ctx.rng("potency").integers(0, 1000))
        ctx.write_bytes("plate.csv", f"well,od\nA1,{value}\n".encode())
        ctx.manifest["inputs"]["potency"] = {"path": "plate.csv", "assay": "x"}
        ctx.truth["potency"] = {"value": value}

    extended = generate_lot(tmp_path, seed=5, steps=(*DEFAULT_STEPS, write_plate))
    for name in ("tube1_stained.fcs", "tube2_fmo_car.fcs", "labels.npz"):
        assert extended.files[name] == lot.files[name]
    assert "plate.csv" in extended.files
    assert yaml.safe_load(extended.manifest_path.read_text())["inputs"]["potency"]["path"] == (
        "plate.csv"
    )
    assert json.loads(extended.truth_path.read_text())["potency"]["value"] >= 0


def test_existing_lot_is_refused_unless_overwrite(tmp_path: Path) -> None:
    first = generate_lot(tmp_path, seed=9, params=SMALL)
    with pytest.raises(InputError, match="the lot folder already exists and is not empty") as info:
        generate_lot(tmp_path, seed=9, params=SMALL)
    assert info.value.path == str(first.lot_dir)
    assert "--force" in str(info.value)
    again = generate_lot(tmp_path, seed=9, params=SMALL, overwrite=True)
    assert again.files == first.files


@pytest.mark.parametrize(
    ("make_out", "message"),
    [
        (lambda d: _lot_folder(d), "is itself a lot folder"),
        (lambda d: _file(d), "is a file, not a folder"),
        (lambda d: _file(d) / "sub", "cannot create the lot folder: not a directory"),
    ],
)
def test_bad_destinations_are_one_line_errors(tmp_path: Path, make_out, message: str) -> None:  # type: ignore[no-untyped-def]
    out = make_out(tmp_path)
    with pytest.raises(InputError, match=message) as info:
        generate_lot(out, seed=1, params=SMALL)
    assert "\n" not in str(info.value)
    assert info.value.path is not None and info.value.path.startswith(str(out))


def _lot_folder(base: Path) -> Path:
    (base / "lot.yaml").write_text("lot_id: x\n")
    return base


def _file(base: Path) -> Path:
    path = base / "not-a-folder"
    path.write_text("x")
    return path


def test_negative_seed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="the seed must be 0 or more, got -1"):
        generate_lot(tmp_path, seed=-1)


def test_readers_say_when_a_folder_is_not_a_generated_lot(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no truth\.json here"):
        read_truth(tmp_path)
    with pytest.raises(InputError, match=r"no labels\.npz here"):
        read_labels(tmp_path)
    (tmp_path / "truth.json").write_text("{oops")
    with pytest.raises(InputError, match=r"truth\.json is not valid JSON"):
        read_truth(tmp_path)


def test_a_file_that_cannot_be_written_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "lot-CAR-0001" / "tube1_stained.fcs").mkdir(parents=True)
    with pytest.raises(
        InputError, match=r"cannot write tube1_stained\.fcs: is a directory"
    ) as info:
        generate_lot(tmp_path, seed=1, params=SMALL, overwrite=True)
    assert info.value.path == str(tmp_path / "lot-CAR-0001")


def test_stream_seeds_are_stable_and_independent(tmp_path: Path) -> None:
    from datetime import date

    def ctx(seed: int) -> LotContext:
        return LotContext(tmp_path, "x", seed, SMALL, date(2026, 1, 1), datetime(2026, 1, 2))

    assert ctx(1).seed_for("potency.elisa") == ctx(1).seed_for("potency.elisa")
    assert ctx(1).seed_for("potency.elisa") != ctx(1).seed_for("qpcr")
    assert ctx(1).seed_for("qpcr") != ctx(2).seed_for("qpcr")
    assert 0 <= ctx(1).seed_for("qpcr") < 2**63
    first = ctx(3).rng("flow.stained").normal(size=3)
    assert np.array_equal(first, ctx(3).rng("flow.stained").normal(size=3))
