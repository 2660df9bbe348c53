"""Potency assay definitions: the bundled file validates; errors name field, line and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.errors import AssayError, InputError
from cytorelease.potency.assay import SampleRole, load_potency_assay
from cytorelease.provenance import content_sha256

BUNDLED = Path(__file__).resolve().parents[2] / "assays" / "potency-ifng-elisa.yaml"


def test_bundled_assay_loads_by_name() -> None:
    loaded = load_potency_assay("potency-ifng-elisa")
    assay = loaded.assay
    assert (assay.id, assay.version, assay.plate_wells) == ("potency-ifng-elisa", "1.0", 96)
    assert [s.concentration for s in assay.standards] == [1000, 500, 250, 125, 62.5, 31.25, 15.625]
    assert {s.role for s in assay.samples} == set(SampleRole) - {SampleRole.OTHER}
    assert assay.acceptance.standard_recovery_pct.min == 80
    import yaml

    assert loaded.sha256 == content_sha256(yaml.safe_load(BUNDLED.read_text()))


def _write(tmp_path: Path, old: str, new: str) -> Path:
    text = BUNDLED.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "assay.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


@pytest.mark.parametrize(
    ("old", "new", "field", "problem", "line_fragment"),
    [
        (
            "{name: S2, concentration: 500,",
            "{name: S2, concentration: -5,",
            "standards[1].concentration",
            "greater than 0",
            "name: S2",
        ),
        ("  model: 4PL", "  model: 6PL", "curve.model", "'4PL' or '5PL'", "model: 6PL"),
        (
            "  decimals: 1",
            "  decimals: 1\n  colour: red",
            "reporting",
            "unknown field (check the spelling)",
            "colour",
        ),
        (
            "wells: [B1, B2]}",
            "wells: [B1, Z99]}",
            "standards[1].wells",
            "not a well id",
            "name: S2",
        ),
    ],
)
def test_validation_errors_name_field_and_line(
    tmp_path: Path, old: str, new: str, field: str, problem: str, line_fragment: str
) -> None:
    path = _write(tmp_path, old, new)
    with pytest.raises(AssayError) as info:
        load_potency_assay(path)
    message = info.value.one_line()
    assert message.startswith(f"{path}: {field} (line {_line_of(path, line_fragment)})")
    assert problem in message


def test_a_well_used_twice_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "wells: [B3, B4, B5]", "wells: [B3, B4, A1]")
    with pytest.raises(AssayError, match="well A1 is used by both standard S1 and sample CAR-T"):
        load_potency_assay(path)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: x\nstandards: [\n", encoding="utf-8")
    with pytest.raises(AssayError, match=r"bad\.yaml: line \d+: not valid YAML"):
        load_potency_assay(path)


def test_unknown_assay_name_lists_the_available_ones() -> None:
    with pytest.raises(InputError, match="potency-ifng-elisa"):
        load_potency_assay("no-such-assay")
