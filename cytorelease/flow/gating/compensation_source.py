"""The spillover matrix a gating template's ``compensation`` block names, and its record.

Five sources (``CompensationSource``): the tube's own $SPILLOVER, a matrix written in the
template, a matrix file beside the template (pinned by the SHA-256 of its bytes), the lot's
single-stain controls (estimated when the tube is gated, with
:func:`~cytorelease.flow.spillover_estimate.estimate_spillover`), or none. Whichever it is,
:class:`Compensation` carries the matrix and the record a result keeps of it: the source, the
matrix's SHA-256 (:func:`matrix_sha256`, of a canonical serialisation, so the same numbers on
the same detectors hash alike whichever file held them) and the SHA-256 of every file it came
from. A matrix that cannot be applied as named (a changed file, a detector the tube lacks, a
marker's detector it leaves out, a control the estimator refuses) is refused, never applied in
part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

import numpy as np

from cytorelease._yaml import read_document_text
from cytorelease.errors import CytoreleaseError, InputError, TemplateError
from cytorelease.flow.compensation import SpilloverMatrix, sample_spillover
from cytorelease.flow.gating.result import Flag, FlagCode
from cytorelease.flow.gating.template_model import CompensationSource, Template
from cytorelease.flow.sample import Sample
from cytorelease.provenance import content_sha256

__all__ = ["Compensation", "ControlSet", "matrix_sha256", "resolve_compensation"]

_IDS = {
    CompensationSource.MATRIX: "template",
    CompensationSource.MATRIX_FILE: "matrix_file",
    CompensationSource.CONTROLS: "controls",
}


@dataclass(frozen=True)
class ControlSet:
    """A lot's compensation controls: one single-stain tube per fluorochrome and the unstained
    tube, acquired with the panel's settings."""

    controls: tuple[Path, ...]
    unstained: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "controls", tuple(Path(p) for p in self.controls))
        object.__setattr__(self, "unstained", Path(self.unstained))


def matrix_sha256(matrix: SpilloverMatrix) -> str:
    """SHA-256 of the matrix's canonical JSON: fluorochromes, detectors and every coefficient
    (as the shortest text that reads back the same float64). The id is a label, left out."""
    return content_sha256(
        {
            "fluorochromes": list(matrix.fluorochromes),
            "detectors": list(matrix.detectors),
            "matrix": [[float(v) for v in row] for row in matrix.matrix],
        }
    )


@dataclass(frozen=True)
class Compensation:
    """The matrix the gates use (None: uncompensated) and what a result records of it."""

    source: CompensationSource
    description: str
    matrix: SpilloverMatrix | None = None
    inputs: tuple[dict[str, str], ...] = ()
    estimate: dict[str, Any] | None = None
    flags: list[Flag] = field(default_factory=list)

    @property
    def spill_id(self) -> str | None:
        return None if self.matrix is None else self.matrix.id

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "source": self.source.value,
            "description": self.description,
            "matrix_sha256": None if self.matrix is None else matrix_sha256(self.matrix),
            "inputs": [dict(i) for i in self.inputs],
        }
        if self.matrix is not None:
            record["fluorochromes"] = list(self.matrix.fluorochromes)
            record["detectors"] = list(self.matrix.detectors)
            record["matrix"] = self.matrix.matrix.tolist()
        if self.estimate is not None:
            record["estimate"] = self.estimate
        return record

    def for_control_tube(
        self, template: Template, tube: Sample, markers: Mapping[str, str]
    ) -> Compensation:
        """The compensation of the template's control (FMO) tube: its own $SPILLOVER when the
        template says so, otherwise the very matrix the stained tube used (a file is not read,
        nor the controls estimated, twice)."""
        if self.source in (CompensationSource.FILE, CompensationSource.MATRIX):
            return resolve_compensation(template, tube, markers)
        if self.matrix is not None:
            _check_detectors(self.matrix, tube, where=self.description)
        return self


def resolve_compensation(
    template: Template,
    sample: Sample,
    markers: Mapping[str, str],
    *,
    controls: ControlSet | None = None,
) -> Compensation:
    """The compensation ``template`` names for ``sample`` (``markers``: key -> $PnN)."""
    comp = template.compensation
    source = comp.source
    if controls is not None and source is not CompensationSource.CONTROLS:
        raise TemplateError(
            f"compensation controls were given, but template {template.id!r} compensates from "
            f"{source.value!r}: they would be left out",
            path=template.source or template.id,
            hint="give controls only to a template whose compensation is source: controls",
        )
    if source is CompensationSource.NONE:
        return Compensation(source, "none (the template applies no compensation)")
    if source is CompensationSource.FILE:
        return _from_file(sample)
    if source is CompensationSource.MATRIX:
        names = tuple(
            markers.get(c) or sample.channels[sample.channel_index(c)].name
            for c in comp.channels or ()
        )
        matrix = SpilloverMatrix(_IDS[source], names, names, np.asarray(comp.matrix))
        return Compensation(source, f"matrix in gating template {template.id}", matrix)
    if source is CompensationSource.MATRIX_FILE:
        return _from_matrix_file(template, sample, markers)
    if controls is None:
        raise TemplateError(
            f"template {template.id!r} compensates from the lot's single-stain controls, and "
            "none were given",
            path=sample.path,
            hint="list the single_stain tubes and the unstained tube in the lot manifest",
        )
    return _from_controls(controls, sample, markers)


def _from_file(sample: Sample) -> Compensation:
    source = CompensationSource.FILE
    inputs = ({"role": "sample", "path": str(sample.path), "sha256": sample.sha256},)
    matrix = sample_spillover(sample)
    if matrix is None:
        flag = Flag(
            FlagCode.NO_COMPENSATION,
            None,
            f"{sample.path.name} has no spillover matrix; values are uncompensated",
        )
        return Compensation(
            source, f"none: {sample.path.name} has no $SPILLOVER", None, inputs, flags=[flag]
        )
    return Compensation(source, f"$SPILLOVER of {sample.path.name}", matrix, inputs)


def _from_matrix_file(
    template: Template, sample: Sample, markers: Mapping[str, str]
) -> Compensation:
    from cytorelease.flow.spillover_csv import parse_spillover_csv

    relative = template.compensation.file
    pinned = template.compensation.sha256
    assert relative is not None and pinned is not None  # the model requires both
    if template.source is None:
        raise TemplateError(
            f"template {template.id!r} names matrix file {relative!r} relative to its own "
            "folder, but it was not read from a file",
            hint="load the template from its file (load_template)",
        )
    folder = template.source.parent
    path = folder / relative
    if not path.resolve().is_relative_to(folder.resolve()):  # a symlink out of the folder
        raise TemplateError(
            f"compensation.file {relative!r} resolves outside the template's folder",
            path=template.source,
        )
    # read once: these bytes are hashed, checked against the pin and parsed
    text = read_document_text(path, error=InputError, what="spillover matrix CSV")
    found = sha256(text.encode("utf-8")).hexdigest()
    if found != pinned:
        raise TemplateError(
            f"compensation.file {relative!r} has changed: its SHA-256 is {found}, the template "
            f"pins {pinned}; the matrix is not applied",
            path=template.source,
            hint="a new matrix is a new template version, with the new file's SHA-256",
        )
    matrix = parse_spillover_csv(text, path=path, id=_IDS[CompensationSource.MATRIX_FILE])
    _check_detectors(matrix, sample, where=str(path), header=True)
    _check_markers_covered(matrix, sample, markers, where=str(path))
    # named as the template names it: the library's folder differs from machine to machine
    inputs = ({"role": "matrix_file", "path": relative, "sha256": found},)
    return Compensation(CompensationSource.MATRIX_FILE, f"matrix file {relative}", matrix, inputs)


def _from_controls(
    controls: ControlSet, sample: Sample, markers: Mapping[str, str]
) -> Compensation:
    from cytorelease.flow.spillover_estimate import estimate_spillover

    try:
        estimate = estimate_spillover(controls.controls, controls.unstained)
    except CytoreleaseError as error:
        # the estimator names the control it refused; the gate refuses with that reason
        raise InputError(
            f"compensation from the single-stain controls refused: {error.problem}",
            path=error.path,
            hint=error.hint,
        ) from None
    matrix = estimate.matrix(_IDS[CompensationSource.CONTROLS])
    where = "the single-stain controls' matrix"
    _check_detectors(matrix, sample, where=where)
    _check_markers_covered(matrix, sample, markers, where=where)
    inputs = (
        *(
            {"role": "single_stain", "path": str(c.path), "sha256": c.sha256, "primary": c.primary}
            for c in estimate.controls
        ),
        {
            "role": "unstained",
            "path": estimate.unstained["path"],
            "sha256": estimate.unstained["sha256"],
        },
    )
    summary = {
        "iterations": estimate.iterations,
        "tolerance": estimate.tolerance,
        "max_residual": float(np.abs(estimate.residuals).max()),
        "positive_events": {c.primary: c.positive_events for c in estimate.controls},
    }
    return Compensation(
        CompensationSource.CONTROLS,
        f"estimated from {len(estimate.controls)} single-stain controls and an unstained tube",
        matrix,
        inputs,
        summary,
    )


def _check_detectors(
    matrix: SpilloverMatrix, sample: Sample, *, where: str, header: bool = False
) -> None:
    """Every detector of the matrix is a channel ($PnN) of the tube."""
    names = set(sample.channel_names)
    for column, detector in enumerate(matrix.detectors, start=1):
        if detector not in names:
            field = f"header, column {column}" if header else "detector"
            raise InputError(
                f"{field}: detector {detector!r} is not a channel of {sample.path.name}",
                path=where,
                hint=f"the tube's channels are {', '.join(sample.channel_names)}",
            )


def _check_markers_covered(
    matrix: SpilloverMatrix, sample: Sample, markers: Mapping[str, str], *, where: str
) -> None:
    """A fluorescence detector a marker reads is in the matrix: otherwise its values would be
    gated uncompensated while the result says a matrix was applied."""
    from cytorelease.flow.spillover_estimate import fluorescence_detectors

    fluorescent = set(fluorescence_detectors(sample))
    left_out = _left_out(matrix.detectors, [(k, c) for k, c in markers.items() if c in fluorescent])
    if left_out:
        raise InputError(
            "the matrix leaves out detectors the template's markers read: "
            + ", ".join(f"{key} ({channel})" for key, channel in left_out),
            path=where,
            hint="a matrix over every fluorescence detector the panel reads is needed",
        )


def _left_out(detectors: Sequence[str], read: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(key, channel) for key, channel in read if channel not in detectors]
