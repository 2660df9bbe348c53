"""Lot-writer step for vector copy number: a Biomark 96.96 qPCR export and a QX Manager ddPCR
export simulated from one true VCN.

The true VCN per transduced cell is drawn in 1.5-4.0 copies (a conforming lot under a < 5
limit); the export's VCN per diploid genome is that times the realised CAR+ fraction of the
flow truth, so flow and qPCR tell one consistent story. The manifest names the ddPCR export,
the method spec v2 prescribes; the Biomark export is there for `cytorelease qpcr vcn`.
"""

from __future__ import annotations

from cytorelease.synth.context import LotContext
from cytorelease.synth.qpcr_exports import write_qpcr_exports

__all__ = ["write_vcn_exports"]


def write_vcn_exports(ctx: LotContext, per_transduced: float | None = None) -> None:
    """Lot step; ``per_transduced`` sets the true VCN per transduced cell instead of drawing it
    (``sample-data history --raw`` plants each lot's value of the history)."""
    if per_transduced is None:
        per_transduced = float(ctx.rng("qpcr.truth").uniform(1.5, 4.0))
    car_fraction = ctx.truth["measurements"]["flow.car_pct_of_viable_cd3"] / 100.0
    # the lab names the product's wells by the lot, which is how the worker routes the export
    exports = write_qpcr_exports(
        ctx.lot_dir,
        seed=ctx.seed_for("qpcr"),
        vcn_truth=per_transduced * car_fraction,
        sample=ctx.lot_id,
    )
    for relative in exports["files"].values():
        ctx.record_file(ctx.lot_dir / relative)
    ctx.manifest.setdefault("inputs", {})["qpcr"] = {
        "path": exports["files"]["qx"],
        "assay": exports["assay"],
        "format": "auto",
        "sample": ctx.lot_id,
    }
    ctx.truth["qpcr"] = {
        **exports,
        "vcn_per_transduced_cell": per_transduced,
        "car_fraction_used": car_fraction,
    }
