"""dPCR copies/µL from each well's own partition volume, never an export-wide mean.

The real QIAcuity export in ../shared/data is the short layout (no "Volume per well"). Its
per-well concentrations imply partition volumes from 0.705 to 0.757 nL across one 26K plate, so
the long layout, which states each well's volume, is rebuilt here from the real file: the same
rows, plus "Volume per well [µL]" = that well's implied partition volume x 26,000 nominal
partitions, written to 2 decimals (the reader divides by the nominal count, not the valid one).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest

from cytorelease.qpcr.assay import load_assay
from cytorelease.qpcr.dpcr import pooled_concentration
from cytorelease.qpcr.readers import read_export
from cytorelease.qpcr.vcn import compute_vcn
from tests.conftest import shared_path

QIACUITY = ("qpcr", "qiacuity", "allotropy_qiacuity_dpcr_example03.csv")
NOMINAL = 26_000  # 26K nanoplate: ~25,300 valid partitions per well in the real file


def _real_rows() -> tuple[list[str], list[list[str]]]:
    text = shared_path(*QIACUITY).read_bytes().decode("cp1252")
    rows = list(csv.reader(io.StringIO(text)))
    return rows[1], rows[2:]  # rows[0] is "sep=,"


def _lam(positives: float, valid: float) -> float:
    return -math.log1p(-positives / valid)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    out = io.StringIO()
    out.write("sep=,\r\n")
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows([header, *rows])
    path.write_bytes(out.getvalue().encode("cp1252"))
    return path


def _long_layout(tmp_path: Path, reference: bool) -> Path:
    """The real rows with each well's volume; ``reference`` adds a second target per well
    (RPP30: another real well's counts in the same well, so the same volume, and the
    concentration the instrument prints for them), as the duplex CAR/RPP30 layout writes one
    row per well and target."""
    header, rows = _real_rows()
    conc, valid, positive = 6, 12, 13  # Conc. [copies/µL], Partitions (valid), (positive)
    volumes = {}
    for row in rows:
        k, n, c = float(row[positive]), float(row[valid]), float(row[conc])
        # Wells without positives imply no volume; they take the plate's median one.
        volumes[row[0]] = _lam(k, n) / c * 1e3 * NOMINAL / 1e3 if k > 0 else None
    median = float(np.median([v for v in volumes.values() if v is not None]))
    out = []
    for i, row in enumerate(rows):
        volume = f"{volumes[row[0]] or median:.2f}"
        out.append([*row, volume])
        if reference:
            other = rows[(i + 12) % len(rows)]
            ref = list(row)
            ref[2] = ref[3] = "RPP30"
            ref[positive], ref[valid] = other[positive], row[valid]
            ref[14] = str(int(row[valid]) - int(other[positive]))
            # The instrument's copies/µL for those counts in this well, 4 significant digits.
            lam = _lam(float(other[positive]), float(row[valid]))
            ref[conc] = f"{lam / (float(volume) / NOMINAL):.4g}"
            out.append([*ref, volume])
    return _write(tmp_path / "qiacuity_long.csv", [*header, "Volume per well [µL]"], out)


def _assay(tmp_path: Path, project_root: Path):
    text = (project_root / "assays" / "vcn-car-rpp30.yaml").read_text(encoding="utf-8")
    text = text.replace("targets: [CAR]", "targets: [CD3]")
    text = text.replace("require_ntc: true", "require_ntc: false")  # the real plate has no NTC
    text = text.replace("drug_product: DP", "drug_product: CD3_Digested")
    path = tmp_path / "assay.yaml"
    path.write_text(text, encoding="utf-8")
    return load_assay(path)


def _digits_tolerance(text: str) -> float:
    """Half a unit of the last digit the instrument printed, relative to the value."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals / float(text)


def test_real_qiacuity_per_well_concentration_equals_the_instruments(
    tmp_path: Path, project_root: Path
) -> None:
    export = read_export(_long_layout(tmp_path, reference=True))
    assert export.metadata["layout"] == "long"
    result = compute_vcn(export, _assay(tmp_path, project_root))
    _, rows = _real_rows()
    printed = {row[0]: row[6] for row in rows}
    wells = [w for w in result.to_dict()["wells"] if w["target"] == "CD3"]
    assert len(wells) == 24
    checked = 0
    for w in wells:
        if w["positives"] == 0:
            assert w["concentration"] == 0.0 and w["reported_concentration"] == 0.0
            continue
        # The volume was written to 2 decimals of ~18.5 µL: 0.03 % more.
        tolerance = _digits_tolerance(printed[w["well"]]) + 0.0003
        assert w["concentration"] == pytest.approx(w["reported_concentration"], rel=tolerance)
        checked += 1
    assert checked == 22
    # An export-wide mean volume (the old behaviour) misses the instrument's wells by percents.
    mean_volume = float(np.mean([w["volume_nl"] for w in wells]))
    worst = max(
        abs(
            _lam(w["positives"], w["partitions"])
            / (mean_volume * 1e-3)
            / w["reported_concentration"]
            - 1
        )
        for w in wells
        if w["positives"] >= 50
    )
    assert worst > 0.02


def test_a_samples_concentration_uses_only_its_own_wells(
    tmp_path: Path, project_root: Path
) -> None:
    """Two samples on one plate whose wells hold different volumes (the real plate's rows C-E
    renamed UTD, all written at 17.50 µL; the rest at 19.50 µL): each sample's copies/µL is the
    pooled Poisson estimate over its own wells with their volume, not a plate mean."""
    path = _long_layout(tmp_path, reference=True)
    text = path.read_bytes().decode("cp1252")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[1], rows[2:]
    for row in body:
        utd = row[0][0] in "CDE"
        row[-1] = "17.50" if utd else "19.50"
        if utd:
            row[1] = "UTD"
    _write(path, header, body)
    result = compute_vcn(read_export(path), _assay(tmp_path, project_root))
    assert result.passed, result.reasons
    by_name = {s.sample: s for s in result.samples}
    for name, well_ul in (("CD3_Digested", 19.50), ("UTD", 17.50)):
        mine = [r for r in body if r[1] == name and r[3] == "RPP30"]
        k = sum(float(r[13]) for r in mine)
        n = sum(float(r[12]) for r in mine)
        expected = _lam(k, n) / (well_ul / NOMINAL)  # copies/µL
        sample = by_name[name]
        assert sample.amount_unit == "copies/uL"
        assert sample.reference == pytest.approx(expected, rel=1e-12)
    # The plate-wide mean volume (the old behaviour) would have moved the product by 4 %.
    plate_mean_ul = float(np.mean([float(r[-1]) for r in body]))
    assert 19.50 / plate_mean_ul - 1 == pytest.approx(0.04)


def test_a_well_without_its_volume_leaves_the_sample_per_partition(
    tmp_path: Path, project_root: Path
) -> None:
    path = _long_layout(tmp_path, reference=True)
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("cp1252"))))
    header, body = rows[1], rows[2:]
    for row in body:
        if row[0] == "F2":
            row[-1] = ""
    _write(path, header, body)
    result = compute_vcn(read_export(path), _assay(tmp_path, project_root))
    (sample,) = result.samples
    assert sample.amount_unit == "copies/partition"  # no volume borrowed from other wells
    assert sample.vcn is not None  # the ratio needs no volume


def test_short_layout_reports_copies_per_partition(tmp_path: Path, project_root: Path) -> None:
    path = _long_layout(tmp_path, reference=True)
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("cp1252"))))
    _write(path, rows[1][:-1], [r[:-1] for r in rows[2:]])
    result = compute_vcn(read_export(path), _assay(tmp_path, project_root))
    (sample,) = result.samples
    assert sample.amount_unit == "copies/partition"
    assert all(
        w["volume_nl"] is None and w["concentration"] is None for w in result.to_dict()["wells"]
    )


def test_pooled_concentration_equal_volumes_is_the_pooled_poisson() -> None:
    k, n = np.array([100.0, 3000.0]), np.array([20_000.0, 20_500.0])
    pooled = pooled_concentration(k, n, np.array([0.85, 0.85]))
    assert pooled == pytest.approx(_lam(k.sum(), n.sum()) / 0.85e-3, rel=1e-12)
    assert pooled_concentration(k, n, np.array([0.85, math.nan])) is None


def test_a_volume_that_is_not_the_instruments_is_flagged(
    tmp_path: Path, project_root: Path
) -> None:
    """An assay stating 0.70 nL for QIAcuity partitions (the real plate's are 0.705-0.757 nL):
    our copies/µL of most wells then miss the instrument's printed ones, and the result says so
    rather than reporting them as if they were the instrument's."""
    export = read_export(_long_layout(tmp_path, reference=True))
    assert compute_vcn(export, _assay(tmp_path, project_root)).flags == []
    loaded = _assay(tmp_path, project_root)
    text = loaded.path.read_text(encoding="utf-8").replace(
        "    absoluteq: 0.432", "    absoluteq: 0.432\n    qiacuity: 0.70"
    )
    loaded.path.write_text(text, encoding="utf-8")
    result = compute_vcn(export, load_assay(loaded.path))
    (flag,) = result.flags
    assert flag.startswith("dPCR concentration differs: ")
    differing = [w for w in result.to_dict()["wells"] if w["differs_from_reported"]]
    assert {w["volume_nl"] for w in differing} == {0.70}
    # F2 implies 0.7129 nL: 1.8 % off at 0.70 nL, beyond the 1 % allowed.
    assert "F2" in {w["well"] for w in differing if w["target"] == "CD3"}
