"""Spillover compensation.

A spillover matrix ``S`` (rows = fluorochromes, columns = detectors; GatingML's
``spectrumMatrix``, or the FCS file's $SPILLOVER with fluorochromes named like its detectors)
says how much of each fluorochrome's true signal each detector sees: ``observed = true @ S``.
Compensation recovers ``true`` by solving ``S' true' = observed'`` (LU with partial pivoting; a
least-squares solve when there are more detectors than fluorochromes) rather than multiplying
by an explicitly formed inverse, which loses digits when ``S`` is ill-conditioned.
Only the matrix's detectors are touched; every other channel passes through unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.flow._compensation_kernel import (
    lu_solve_columns,
    lu_system,
    solve_columns_into,
)
from cytorelease.flow.sample import Sample, Spill

__all__ = ["SpilloverMatrix", "compensate", "uncompensate"]

FCS_SPILL_ID = "FCS"


@dataclass(frozen=True, eq=False)
class SpilloverMatrix:
    """Named spillover: ``matrix[i, j]`` is fluorochrome i's signal seen by detector j."""

    id: str
    fluorochromes: tuple[str, ...]
    detectors: tuple[str, ...]
    matrix: np.ndarray
    # LU factors of the square system, computed on first use
    _factors: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        matrix = np.array(self.matrix, dtype=np.float64)
        shape = (len(self.fluorochromes), len(self.detectors))
        if matrix.ndim != 2 or matrix.shape != shape:
            found = "x".join(str(n) for n in matrix.shape) if matrix.size else "empty"
            raise TemplateError(
                f"spillover matrix {self.id!r} is {found} but names "
                f"{shape[0]} fluorochromes and {shape[1]} detectors"
            )
        if shape[0] == 0:
            raise TemplateError(f"spillover matrix {self.id!r} names no detectors")
        if shape[0] > shape[1]:
            raise TemplateError(
                f"spillover matrix {self.id!r} has more fluorochromes ({shape[0]}) than "
                f"detectors ({shape[1]}); it cannot be solved"
            )
        if not np.isfinite(matrix).all():
            raise TemplateError(f"spillover matrix {self.id!r} holds a NaN or infinite coefficient")
        _check_names(self.id, self.fluorochromes, self.detectors)
        if np.linalg.matrix_rank(matrix) < shape[0]:
            raise TemplateError(f"spillover matrix {self.id!r} is singular")
        matrix.setflags(write=False)
        object.__setattr__(self, "matrix", matrix)

    @property
    def is_square(self) -> bool:
        return len(self.fluorochromes) == len(self.detectors)

    def output_index(self, name: str) -> int | None:
        """The compensated column (fluorochrome position) a dimension called ``name`` reads.

        A fluorochrome's name is its column. As in GatingML 2.0 and FlowKit, a square matrix
        also answers to its detectors' names, each meaning the compensated column in the
        detector's position; an empty fluorochrome name (FlowKit's export of an
        acquisition-defined matrix) therefore leaves its detector's name as the only one.
        ``None`` when the matrix does not name ``name`` at all (a channel it does not touch).
        A name meaning two different columns is refused rather than guessed.
        """
        by_fluorochrome = [i for i, f in enumerate(self.fluorochromes) if f and f == name]
        by_detector = [i for i, d in enumerate(self.detectors) if d == name]
        if not self.is_square and by_detector and not by_fluorochrome:
            raise TemplateError(
                f"compensated dimension {name!r} is a detector of spillover matrix {self.id!r}, "
                f"which unmixes {len(self.detectors)} detectors into "
                f"{len(self.fluorochromes)} fluorochromes: no compensated value is in the "
                "detector's place",
                hint="name one of its fluorochromes: " + ", ".join(self.fluorochromes),
            )
        found = set(by_fluorochrome) | (set(by_detector) if self.is_square else set())
        if len(found) > 1:
            raise TemplateError(
                f"compensated dimension {name!r} is ambiguous in spillover matrix {self.id!r}: "
                "it names the fluorochrome of one column and the detector of another"
            )
        return found.pop() if found else None

    @classmethod
    def from_spill(cls, spill: Spill, id: str = FCS_SPILL_ID) -> SpilloverMatrix:
        """The FCS file's own spillover: fluorochromes carry the detector names."""
        return cls(id, tuple(spill.channels), tuple(spill.channels), spill.matrix)

    def compensate(self, observed: np.ndarray) -> np.ndarray:
        """Detector values (n x detectors) to fluorochrome values (n x fluorochromes)."""
        observed = np.asarray(observed, dtype=np.float64)
        if self.matrix.shape[0] == self.matrix.shape[1]:
            solved = np.array(observed.T, order="C")  # one row per fluorochrome, solved in place
            lu_solve_columns(*self._lu(), solved)
            return solved.T
        solution, *_ = np.linalg.lstsq(self.matrix.T, observed.T, rcond=None)
        return solution.T

    def compensate_columns(
        self, observed: Sequence[np.ndarray], *, chunk: int = 1 << 16
    ) -> list[np.ndarray]:
        """Detector columns (one 1-D array each, any float dtype) to fluorochrome columns.

        The detector values are copied once into the output (float64) and solved there in
        place, so peak memory is the output plus small per-thread blocks, however many events
        (million-event tubes). A non-square matrix is solved by least squares, ``chunk`` events
        at a time.
        """
        n = len(observed[0]) if observed else 0
        out = np.empty((len(self.fluorochromes), n), dtype=np.float64)  # rows are contiguous
        if self.matrix.shape[0] == self.matrix.shape[1]:
            columns = tuple(np.asarray(c) for c in observed)
            if len({(c.dtype, c.ndim, c.strides) for c in columns}) == 1:
                # one type (the stored columns of a tube): read them once, straight into `out`
                solve_columns_into(*self._lu(), columns, out)
            else:
                for row, column in zip(out, columns, strict=True):
                    row[:] = column
                lu_solve_columns(*self._lu(), out)
            return list(out)
        system = self.matrix.T
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            block = np.stack([np.asarray(c[start:stop], dtype=np.float64) for c in observed])
            out[:, start:stop] = np.linalg.lstsq(system, block, rcond=None)[0]
        return list(out)

    def _lu(self) -> tuple[np.ndarray, np.ndarray]:
        if self._factors is None:
            object.__setattr__(self, "_factors", lu_system(self.matrix.T))
        assert self._factors is not None
        return self._factors

    def uncompensate(self, true: np.ndarray) -> np.ndarray:
        """Fluorochrome values back to what the detectors saw: ``true @ S``."""
        return np.asarray(true, dtype=np.float64) @ self.matrix

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "fluorochromes": list(self.fluorochromes),
            "detectors": list(self.detectors),
            "matrix": self.matrix.tolist(),
        }


def _check_names(matrix_id: str, fluorochromes: Sequence[str], detectors: Sequence[str]) -> None:
    """Names that let every compensated column be found, and found once."""
    if not all(detectors):
        raise TemplateError(f"spillover matrix {matrix_id!r} has a detector without a name")
    for kind, names in (("detector", detectors), ("fluorochrome", [f for f in fluorochromes if f])):
        repeated = sorted(n for n, k in Counter(names).items() if k > 1)
        if repeated:
            raise TemplateError(
                f"spillover matrix {matrix_id!r} names {kind} {repeated[0]!r} twice"
            )
    if len(fluorochromes) != len(detectors) and not all(fluorochromes):
        # only a square matrix can stand a detector's name in for its fluorochrome's
        position = next(i for i, f in enumerate(fluorochromes) if not f) + 1
        raise TemplateError(
            f"spillover matrix {matrix_id!r} is not square and its fluorochrome {position} "
            "has no name: that compensated column cannot be referred to"
        )


def _detector_columns(channel_names: Sequence[str], spill: SpilloverMatrix) -> list[int]:
    lookup = {name: i for i, name in enumerate(channel_names)}
    missing = [d for d in spill.detectors if d not in lookup]
    if missing:
        raise TemplateError(
            f"spillover matrix {spill.id!r} names detectors the data lacks: {', '.join(missing)}",
            hint="channels: " + ", ".join(channel_names),
        )
    return [lookup[d] for d in spill.detectors]


def compensate(
    events: np.ndarray, channel_names: Sequence[str], spill: SpilloverMatrix
) -> np.ndarray:
    """A compensated copy (float64) of an events matrix whose columns are ``channel_names``.

    The spill's detector columns receive the fluorochrome values (in fluorochrome order); the
    matrix must be square for this in-place form. Other columns are copied unchanged.
    """
    if len(spill.fluorochromes) != len(spill.detectors):
        raise TemplateError(
            f"spillover matrix {spill.id!r} is not square; compensate detector values with "
            "SpilloverMatrix.compensate instead"
        )
    columns = _detector_columns(channel_names, spill)
    out = np.array(events, dtype=np.float64, copy=True)
    out[:, columns] = spill.compensate(out[:, columns])
    return out


def uncompensate(
    events: np.ndarray, channel_names: Sequence[str], spill: SpilloverMatrix
) -> np.ndarray:
    """The inverse of :func:`compensate`: reapply the spillover to the spill's columns."""
    columns = _detector_columns(channel_names, spill)
    out = np.array(events, dtype=np.float64, copy=True)
    out[:, columns] = spill.uncompensate(out[:, columns])
    return out


def sample_spillover(sample: Sample) -> SpilloverMatrix | None:
    """The sample's own spillover ($SPILLOVER / $SPILL) as a :class:`SpilloverMatrix`."""
    if sample.spill is None:
        return None
    names = sample.channel_names
    # a $SPILL may name channels by $PnS label; bring them to $PnN so columns line up
    channels = tuple(
        name if name in names else names[sample.channel_index(name)]
        for name in sample.spill.channels
    )
    return SpilloverMatrix(FCS_SPILL_ID, channels, channels, sample.spill.matrix)
