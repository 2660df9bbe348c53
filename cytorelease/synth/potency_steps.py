"""Lot-writer steps for the potency assays: the IFN-gamma ELISA plate and the killing-assay tubes.

The true values are drawn from each step's own random stream, in ranges a conforming CAR-T lot
shows: IFN-gamma on CD19+ targets 400-3,000 pg/mL (inside the bundled assay's working range
after its 1:5 dilution), specific lysis 30-70 %.
"""

from __future__ import annotations

from cytorelease.synth.context import LotContext
from cytorelease.synth.elisa_plate import write_elisa_plate
from cytorelease.synth.killing_assay import write_killing_assay

__all__ = ["write_killing_tubes", "write_potency_plate"]

ELISA_ASSAY = "potency-ifng-elisa"
CYTOTOX_ASSAY = "potency-cytotox"


def write_potency_plate(ctx: LotContext) -> None:
    ifng = float(ctx.rng("potency.elisa.truth").uniform(400.0, 3000.0))
    truth = write_elisa_plate(
        ctx.lot_dir,
        seed=ctx.seed_for("potency.elisa"),
        ifng_truth_pg_ml=ifng,
        assay=ELISA_ASSAY,
        lot_id=ctx.lot_id,
    )
    relative = ctx.record_file(ctx.lot_dir / truth["file"])
    potency = ctx.manifest.setdefault("inputs", {}).setdefault("potency", {})
    potency["elisa"] = {"path": relative, "assay": ELISA_ASSAY}
    ctx.truth.setdefault("potency", {})["elisa"] = truth


def write_killing_tubes(ctx: LotContext) -> None:
    lysis = float(ctx.rng("potency.cytotox.truth").uniform(30.0, 70.0))
    truth = write_killing_assay(
        ctx.lot_dir,
        seed=ctx.seed_for("potency.cytotox"),
        cytotoxicity_truth_pct=lysis,
        lot_id=ctx.lot_id,
    )
    with_effectors = ctx.record_file(ctx.lot_dir / truth["with_effectors"]["file"])
    targets_alone = ctx.record_file(ctx.lot_dir / truth["targets_alone"]["file"])
    potency = ctx.manifest.setdefault("inputs", {}).setdefault("potency", {})
    potency["cytotox"] = {
        "assay": CYTOTOX_ASSAY,
        "with_effectors": with_effectors,
        "targets_alone": targets_alone,
    }
    ctx.truth.setdefault("potency", {})["cytotox"] = truth
