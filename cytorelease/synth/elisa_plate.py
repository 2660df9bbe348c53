"""The example lot's IFN-gamma ELISA plate: optical densities drawn from a known 4PL.

The plate follows the layout of a potency assay definition (``potency-ifng-elisa`` by default):
standards at their nominal concentrations, the zero standard, and the co-culture supernatants at
known IFN-gamma concentrations divided by their dilution factors. Responses get proportional
(CV) plus additive noise, as ELISA ODs do. Wells the assay does not use read as plate
background. The file is a generic 96-well grid CSV with a header block, or (``file_format=
"softmax"``) a SoftMax Pro-style UTF-16 plate-format text export: both are layouts
``cytorelease.potency.readers`` sniffs. The returned dictionary is the ground truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TRUE_CURVE", "write_elisa_plate"]

# A, B, C (pg/mL), D of a typical IFN-gamma sandwich ELISA read at 450 nm
TRUE_CURVE = {"A": 0.06, "B": 1.1, "C": 350.0, "D": 3.2}


def write_elisa_plate(
    lot_dir: str | Path,
    *,
    seed: int,
    ifng_truth_pg_ml: float,
    negative_truth_pg_ml: float = 40.0,
    effectors_alone_pg_ml: float = 12.0,
    targets_alone_pg_ml: float = 0.0,
    assay: str = "potency-ifng-elisa",
    file_name: str = "elisa_ifng.csv",
    od_cv: float = 0.03,
    od_noise: float = 0.004,
    file_format: str = "grid",
    lot_id: str | None = None,
) -> dict[str, Any]:
    """Write ``lot_dir/file_name`` and return its ground truth (supernatant pg/mL, dilution
    applied back) for the manifest and the tests."""
    from cytorelease.potency.assay import SampleRole, load_potency_assay
    from cytorelease.potency.curve import logistic

    definition = load_potency_assay(assay).assay
    rng = np.random.default_rng(seed)
    truth_by_role = {
        SampleRole.ANTIGEN_POSITIVE: ifng_truth_pg_ml,
        SampleRole.ANTIGEN_NEGATIVE: negative_truth_pg_ml,
        SampleRole.EFFECTORS_ALONE: effectors_alone_pg_ml,
        SampleRole.TARGETS_ALONE: targets_alone_pg_ml,
        SampleRole.OTHER: 0.0,
    }
    in_well: dict[str, float] = {}
    for standard in definition.standards:
        in_well.update(dict.fromkeys(standard.wells, standard.concentration))
    if definition.blanks:
        in_well.update(dict.fromkeys(definition.blanks.wells, 0.0))
    samples = {}
    for sample in definition.samples:
        supernatant = truth_by_role[sample.role]
        in_well.update(dict.fromkeys(sample.wells, supernatant / sample.dilution))
        samples[sample.name] = {
            "role": sample.role.value,
            "pg_ml": supernatant,
            "dilution": sample.dilution,
        }
    rows, columns = (8, 12) if definition.plate_wells == 96 else (16, 24)
    grid = np.empty((rows, columns))
    for r in range(rows):
        for c in range(columns):
            concentration = in_well.get(f"{chr(65 + r)}{c + 1}", 0.0)
            mean = float(logistic([concentration], *TRUE_CURVE.values())[0])
            grid[r, c] = (
                mean * (1 + od_cv * rng.standard_normal()) + od_noise * rng.standard_normal()
            )
    lot_dir = Path(lot_dir)
    lot_dir.mkdir(parents=True, exist_ok=True)
    path = lot_dir / file_name
    if file_format == "grid":
        path.write_text(_grid_csv(grid, lot_id), encoding="utf-8")
    elif file_format == "softmax":
        path.write_text(_softmax_text(grid, definition.plate_wells), encoding="utf-16")
    else:
        raise ValueError(f"file_format must be 'grid' or 'softmax', not {file_format!r}")
    negative = negative_truth_pg_ml
    return {
        "file": file_name,
        "format": file_format,
        "assay": definition.id,
        "assay_version": definition.version,
        "seed": seed,
        "curve": dict(TRUE_CURVE),
        "samples": samples,
        "ifng_pg_ml": ifng_truth_pg_ml,
        "ifng_fold_over_negative": ifng_truth_pg_ml / negative if negative > 0 else None,
    }


def _grid_csv(grid: np.ndarray, lot_id: str | None = None) -> str:
    rows, columns = grid.shape
    # a plate reader's header block names what was read; the lot lets a worker route the file
    lot = [f"Lot,{lot_id}"] if lot_id else []
    lines = [
        "Plate,ELISA-IFNG-1",
        *lot,
        "Assay,IFN-gamma sandwich ELISA",
        "Wavelength,450",
        "",
        "450 nm",
        "," + ",".join(str(c + 1) for c in range(columns)),
    ]
    lines += [chr(65 + r) + "," + ",".join(f"{v:.4f}" for v in grid[r]) for r in range(rows)]
    return "\n".join(lines) + "\n"


def _softmax_text(grid: np.ndarray, wells: int) -> str:
    """One ``Plate:`` block in plate format, endpoint absorbance at 450 nm, raw values."""
    rows, columns = grid.shape
    header = [
        "Plate:", "ELISA-IFNG-1", "1.3", "PlateFormat", "Endpoint", "Absorbance", "Raw",
        "FALSE", "1", "", "", "", "", "", "1", "450 ", "1", str(columns), str(wells), "1",
        str(rows), "", "",
    ]  # fmt: skip
    lines = ["##BLOCKS= 1", "\t".join(header)]
    lines.append(
        "\tTemperature(\u00b0C)\t" + "\t".join(str(c + 1) for c in range(columns)) + "\t\t"
    )
    for r in range(rows):
        temperature = "22.5" if r == 0 else ""
        values = "\t".join(f"{v:.4f}" for v in grid[r])
        lines.append(f"\t{temperature}\t{values}\t\t")
    lines += ["", "~End", "Original Filename: ELISA-IFNG-1; Date Last Saved: (synthetic)"]
    return "\r\n".join(lines) + "\r\n"
