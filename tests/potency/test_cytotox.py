"""Flow killing assay: % specific lysis from a tube pair gated with gating/killing-assay.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import AssayError, InputError
from cytorelease.potency.cytotox import analyse_cytotoxicity
from cytorelease.synth.killing_assay import write_killing_assay

ASSAY = "potency-cytotox"
BUNDLED = Path(__file__).resolve().parents[2] / "assays" / "potency-cytotox.yaml"


def _pair(tmp_path: Path, truth: float, seed: int, **kwargs: float) -> tuple[Path, Path, dict]:
    record = write_killing_assay(
        tmp_path, seed=seed, cytotoxicity_truth_pct=truth, target_cells=6000, beads=4000, **kwargs
    )
    return (
        tmp_path / record["with_effectors"]["file"],
        tmp_path / record["targets_alone"]["file"],
        record,
    )


@pytest.mark.parametrize(("truth", "seed"), [(15.0, 1), (50.0, 2), (85.0, 3)])
def test_cytotoxicity_matches_the_truth(tmp_path: Path, truth: float, seed: int) -> None:
    with_effectors, alone, record = _pair(tmp_path, truth, seed)
    # the tubes were acquired to different extents: raw counts alone would mislead
    assert (
        record["with_effectors"]["acquired_fraction"]
        != record["targets_alone"]["acquired_fraction"]
    )
    result = analyse_cytotoxicity(with_effectors, alone, ASSAY)
    assert result.passed, result.checks
    assert result.cytotoxicity_pct == pytest.approx(truth, abs=4.0)
    assert result.lower < result.cytotoxicity_pct < result.upper
    m = result.measurement
    assert m.attribute == "potency.cytotoxicity_pct" and m.unit == "%"
    assert m.inputs == (result.with_effectors.sha256, result.targets_alone.sha256)
    assert m.method is not None and (m.method.id, m.method.version) == (ASSAY, "1.0")
    assert m.details["gating_template"]["id"] == "killing-assay"
    # the definition: 100 x (1 - live targets per bead with effectors / alone)
    e, t = result.with_effectors, result.targets_alone
    assert m.value == pytest.approx(
        100 * (1 - (e.live_targets / e.beads) / (t.live_targets / t.beads))
    )


def test_fixed_volume_without_vol_says_it_assumed_equal_volumes(tmp_path: Path) -> None:
    with_effectors, alone, _ = _pair(tmp_path, 50.0, 4)
    assay = tmp_path / "fixed.yaml"
    assay.write_text(
        BUNDLED.read_text().replace("counting: beads", "counting: fixed-volume"), encoding="utf-8"
    )
    result = analyse_cytotoxicity(with_effectors, alone, assay)
    assert result.notes == ("no $VOL in both files: equal acquired volumes assumed",)
    e, t = result.with_effectors, result.targets_alone
    assert result.cytotoxicity_pct == pytest.approx(100 * (1 - e.live_targets / t.live_targets))


def test_fixed_volume_with_vol_keywords_matches_the_truth(tmp_path: Path) -> None:
    with_effectors, alone, _ = _pair(tmp_path, 60.0, 9, tube_volume_nl=200_000.0)
    assay = tmp_path / "fixed.yaml"
    assay.write_text(
        BUNDLED.read_text().replace("counting: beads", "counting: fixed-volume"), encoding="utf-8"
    )
    result = analyse_cytotoxicity(with_effectors, alone, assay)
    assert result.notes == ()
    assert result.with_effectors.volume_nl is not None and result.targets_alone.volume_nl
    assert result.cytotoxicity_pct == pytest.approx(60.0, abs=4.0)


def test_too_few_live_targets_alone_is_a_named_acceptance_failure(tmp_path: Path) -> None:
    with_effectors, alone, _ = _pair(tmp_path, 50.0, 5)
    assay = tmp_path / "strict.yaml"
    assay.write_text(
        BUNDLED.read_text().replace(
            "min_live_targets_alone: 1000", "min_live_targets_alone: 90000"
        ),
        encoding="utf-8",
    )
    result = analyse_cytotoxicity(with_effectors, alone, assay)
    failed = [c for c in result.checks if not c.passed]
    assert [c.name for c in failed] == ["live_targets_alone"]
    assert result.cytotoxicity_pct is None and result.measurement.value is None
    assert result.measurement.details["reason"] == "assay acceptance failed: live_targets_alone"


def test_same_tube_twice_is_refused(tmp_path: Path) -> None:
    with_effectors, _, _ = _pair(tmp_path, 50.0, 6)
    with pytest.raises(InputError, match="same file as the tube with effectors"):
        analyse_cytotoxicity(with_effectors, with_effectors, ASSAY)


def test_an_elisa_assay_is_not_a_cytotoxicity_assay(tmp_path: Path) -> None:
    with_effectors, alone, _ = _pair(tmp_path, 50.0, 7)
    with pytest.raises(AssayError, match=r"kind \(line \d+\): this is a 'potency-elisa' assay"):
        analyse_cytotoxicity(with_effectors, alone, "potency-ifng-elisa")


def test_cli_json_and_exit_codes(tmp_path: Path) -> None:
    with_effectors, alone, _ = _pair(tmp_path, 40.0, 8)
    runner = CliRunner()
    result = runner.invoke(
        app, ["potency", "cytotox", str(with_effectors), str(alone), "--assay", ASSAY, "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["acceptance"]["passed"] is True
    assert document["measurements"][0]["attribute"] == "potency.cytotoxicity_pct"
    assert document["cytotoxicity_pct"] == pytest.approx(40.0, abs=4.0)
    missing = runner.invoke(
        app, ["potency", "cytotox", str(with_effectors), str(tmp_path / "x.fcs"), "--assay", ASSAY]
    )
    assert missing.exit_code == 2 and missing.stderr.startswith("error: ")
