"""What a lot-writer step is handed: the lot's identity, its parameters, and the documents it fills.

A step (``LotStep``) is a function ``step(ctx) -> None`` that writes its files into
``ctx.lot_dir`` with :meth:`LotContext.write_bytes` (or registers them with
:meth:`LotContext.record_file`), adds its inputs to ``ctx.manifest`` and its ground truth to
``ctx.truth``. Each step draws from its own random stream (:meth:`LotContext.rng`, keyed by the
step's name), so adding a new step (a qPCR export, an ELISA plate) never changes the files the
existing steps write for the same seed. Steps run in order, so a later step can read what an
earlier one put in ``ctx.truth`` (e.g. ``ctx.truth["measurements"]["flow.car_pct_of_viable_cd3"]``).

Example: a step that adds an existing writer to every generated lot::

    def write_potency_plate(ctx: LotContext) -> None:
        truth = write_elisa_plate(ctx.lot_dir, seed=ctx.seed_for("potency.elisa"), ...)
        ctx.record_file(ctx.lot_dir / "elisa_ifng.csv")
        ctx.manifest["inputs"]["potency"] = {"path": "elisa_ifng.csv", "assay": "..."}
        ctx.truth["potency"] = truth

and then ``DEFAULT_STEPS`` in :mod:`cytorelease.synth.lot` gains ``write_potency_plate``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cytorelease.provenance import file_sha256
from cytorelease.synth.params import LotParams

__all__ = ["LotContext", "LotStep"]


@dataclass
class LotContext:
    """The lot under construction. ``manifest`` becomes lot.yaml, ``truth`` becomes truth.json."""

    lot_dir: Path
    lot_id: str
    seed: int
    params: LotParams
    manufacturing_date: date
    testing_start: datetime  # when QC testing of the lot started (drives every timestamp)
    manifest: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256

    def rng(self, stream: str) -> np.random.Generator:
        """An independent generator for one named purpose (e.g. ``"flow.stained"``)."""
        return np.random.default_rng([self.seed, zlib.crc32(stream.encode("utf-8"))])

    def stream_seed(self, stream: str) -> tuple[int, int]:
        """The seed of :meth:`rng` for ``stream``, for APIs that take a seed rather than an rng."""
        return (self.seed, zlib.crc32(stream.encode("utf-8")))

    def seed_for(self, stream: str) -> int:
        """One integer seed for ``stream``, for writers that take ``seed: int``."""
        state = np.random.SeedSequence(self.stream_seed(stream)).generate_state(1, np.uint64)
        return int(state[0] >> np.uint64(1))  # 63 bits: a non-negative int for any API

    def record_file(self, path: Path) -> str:
        """Register a file a step wrote in the lot folder; returns its path relative to it."""
        relative = path.relative_to(self.lot_dir).as_posix()
        self.files[relative] = file_sha256(path)
        return relative

    def write_bytes(self, relative: str, data: bytes) -> Path:
        path = self.lot_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.record_file(path)
        return path


LotStep = Callable[[LotContext], None]
