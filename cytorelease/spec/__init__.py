"""Versioned acceptance specs: model, registry with content hashes, USP evaluation, diff, re-evaluation.

Typical use::

    from cytorelease.spec import evaluate, resolve_spec

    spec = resolve_spec("cd19-car-t@2")          # or a path, or "cd19-car-t" (latest effective)
    evaluation = evaluate(spec, measurements)    # Measurement objects or {"attribute", "value", "unit"}
    evaluation.disposition                       # Disposition.PASS / FAIL / INCOMPLETE
"""

from __future__ import annotations

from cytorelease.spec.diff import SpecDiff, affected_criteria, diff_specs
from cytorelease.spec.evaluate import CriterionResult, Disposition, Evaluation, Verdict, evaluate
from cytorelease.spec.inputs import MeasurementSet, measurement_set, read_measurements
from cytorelease.spec.loader import LoadedSpec, SpecValidationError, load_spec_file
from cytorelease.spec.model import Spec, SpecStatus
from cytorelease.spec.reevaluate import Reevaluation, reevaluate
from cytorelease.spec.registry import load_spec, lock_specs, new_version, resolve_spec
from cytorelease.spec.rounding import usp_round

__all__ = [
    "CriterionResult",
    "Disposition",
    "Evaluation",
    "LoadedSpec",
    "MeasurementSet",
    "Reevaluation",
    "Spec",
    "SpecDiff",
    "SpecStatus",
    "SpecValidationError",
    "Verdict",
    "affected_criteria",
    "diff_specs",
    "evaluate",
    "load_spec",
    "load_spec_file",
    "lock_specs",
    "measurement_set",
    "new_version",
    "read_measurements",
    "reevaluate",
    "resolve_spec",
    "usp_round",
]
