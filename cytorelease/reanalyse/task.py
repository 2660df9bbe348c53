"""One lot re-analysed under the proposed change: the function every executor runs.

It reads the released record and holds it to its release row's hash
(:mod:`~cytorelease.reanalyse.released`), then re-runs only what the change touches, from the
archived raw files re-hashed before use: a template change re-gates flow (and recomputes vector
copy number, which is per CAR+ cell from flow's fraction), an assay change re-runs the analysis
that names that assay, a spec change re-evaluates only. Everything else, manual results
included, is the released record's. The outcome is a small dict (measurements, evaluation,
disposition, input hashes) for the coordinator to store; bad input makes that lot ``failed``
with its reason, never an exception that would stop the run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cytorelease.errors import CytoreleaseError, InputError
from cytorelease.reanalyse.released import read_released, released_inputs
from cytorelease.reanalyse.selection import LotTask

__all__ = ["failed_result", "reanalyse_lot"]

_CAR = "flow.car_pct_of_viable_cd3"


def failed_result(task: LotTask, reason: str) -> dict[str, Any]:
    return {"lot": task.lot, "status": "failed", "reason": reason}


def reanalyse_lot(task: LotTask) -> dict[str, Any]:
    """The lot's what-if outcome, or ``{"status": "failed", "reason": ...}``."""
    try:
        return _reanalyse(task)
    except CytoreleaseError as exc:
        # the project's errors name file and field, never a line's text
        return failed_result(task, f"{type(exc).__name__}: {exc.one_line()}")
    except Exception as exc:  # one lot must never stop the run
        return failed_result(task, f"{type(exc).__name__}: internal error")


def _materialise(task: LotTask, inputs: tuple[tuple[str, str], ...], folder: Path) -> None:
    """The lot folder: the manifest and hard links to archived files whose bytes still hash to
    the name they are stored under (an altered archive file fails the lot here)."""
    from cytorelease.records.archive import check_archived

    (folder / "lot.yaml").write_text(task.manifest_text, encoding="utf-8")
    for relative, sha in inputs:
        source = check_archived(Path(task.archive_dir), sha)
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)


def _reanalyse(task: LotTask) -> dict[str, Any]:
    from cytorelease._resources import use_data_library

    if task.library is not None:
        use_data_library(Path(task.library))
    released = read_released(task.result_path, task.record_sha256, product=task.product)
    Path(task.work_dir).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"reanalyse-{task.lot}-", dir=task.work_dir))
    try:
        _materialise(task, released_inputs(released), folder)
        return _evaluate(task, released, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _uses_assay(reference: str, ident: str) -> bool:
    from cytorelease.library import DefinitionKind, read_document

    document = read_document(reference, kind=DefinitionKind.ASSAY, error=InputError)
    return str(document.data.get("id")) == ident


def _changed_manifest(task: LotTask, manifest: Any) -> tuple[Any, list[str]]:
    """The manifest naming the proposed template/assay, and the analyses to re-run in order."""
    inputs, rerun = manifest.inputs, []
    change = task.change
    if change.template is not None and inputs.flow is not None:
        flow = inputs.flow.model_copy(update={"template": change.template.path})
        inputs = inputs.model_copy(update={"flow": flow})
        rerun += ["flow", "qpcr"] if inputs.qpcr is not None else ["flow"]
    if change.assay is not None:
        assay = change.assay
        if inputs.qpcr is not None and _uses_assay(inputs.qpcr.assay, assay.id):
            qpcr = inputs.qpcr.model_copy(update={"assay": assay.path})
            inputs = inputs.model_copy(update={"qpcr": qpcr})
            rerun += [] if "qpcr" in rerun else ["qpcr"]
        potency = inputs.potency
        for name in ("elisa", "cytotox"):
            part = getattr(potency, name, None) if potency is not None else None
            if part is not None and _uses_assay(part.assay, assay.id):
                potency = potency.model_copy(
                    update={name: part.model_copy(update={"assay": assay.path})}
                )
                inputs = inputs.model_copy(update={"potency": potency})
                rerun.append(f"potency.{name}")
    return manifest.model_copy(update={"inputs": inputs}), rerun


def _run_analyses(folder: Path, manifest: Any, rerun: list[str], released: list[dict]) -> list:
    from cytorelease.lot.analyses import run_cytotox, run_elisa, run_flow, run_qpcr

    outcomes = []
    car = next((m.get("value") for m in released if m.get("attribute") == _CAR), None)
    for name in rerun:
        if name == "flow":
            outcomes.append(run_flow(folder, manifest))
            car = next((m.value for m in outcomes[-1].measurements if m.attribute == _CAR), None)
        elif name == "qpcr":
            fraction = car / 100.0 if isinstance(car, int | float) else None
            outcomes.append(run_qpcr(folder, manifest, car_fraction=fraction))
        elif name == "potency.elisa":
            outcomes.append(run_elisa(folder, manifest))
        else:
            outcomes.append(run_cytotox(folder, manifest))
    return outcomes


def _released_spec(task: LotTask, released: dict[str, Any]) -> Any:
    """The spec the lot was released under, resolved by its recorded id@version and held to the
    recorded hash (a spec file changed since would not be the released criteria)."""
    from cytorelease.spec.registry import resolve_spec

    definitions = released.get("definitions") or []
    spec = next((d for d in definitions if d.get("kind") == "spec"), None)
    if spec is None:
        raise InputError(f"the released record of lot {task.lot} names no spec definition")
    loaded = resolve_spec(f"{spec['id']}@{spec['version']}")
    if loaded.sha256 != spec.get("sha256"):
        raise InputError(
            f"spec {spec['id']}@{spec['version']} is not the content lot {task.lot} was "
            "released under",
            path=loaded.path,
        )
    return loaded


def _evaluate(task: LotTask, record: dict[str, Any], folder: Path) -> dict[str, Any]:
    from cytorelease.lot.definitions import not_for_release_lines
    from cytorelease.lot.manifest import load_manifest
    from cytorelease.lot.record import canonical_form
    from cytorelease.spec.evaluate import evaluate
    from cytorelease.spec.registry import load_spec

    released_manifest = load_manifest(folder)
    _check_manifest(task, record, released_manifest)
    manifest, rerun = _changed_manifest(task, released_manifest)
    released = list(record.get("measurements") or [])
    outcomes = _run_analyses(folder, manifest, rerun, released)
    expected = dict(released_inputs(record))
    read: set[str] = set()
    for outcome in outcomes:
        for used in outcome.inputs:
            # the hash of the bytes the analysis parsed: the archived content it was given
            if expected.get(used.path) != used.sha256:
                raise InputError(
                    f"lot {task.lot}: {used.path} analysed is not the archived content "
                    "the release read",
                )
            read.add(used.sha256)
    fresh = [canonical_form(m.to_dict()) for o in outcomes for m in o.measurements]
    replaced = {m["attribute"] for m in fresh}
    kept = [
        m
        for m in released
        if m.get("attribute") not in replaced and not read.intersection(m.get("inputs") or [])
    ]
    measurements = kept + fresh
    change = task.change
    spec = load_spec(change.spec.path) if change.spec is not None else _released_spec(task, record)
    evaluation = canonical_form(evaluate(spec, measurements).to_dict())
    definitions = _definitions(task, record)
    released_evaluation = record.get("evaluation") or {}
    return {
        "lot": task.lot,
        "status": "reanalysed",
        "release_id": task.release_id,
        "inputs_sha256": task.inputs_sha256,
        "input_hashes": expected,
        "reanalysed": rerun,
        "measurements": measurements,
        "evaluation": evaluation,
        "disposition": str(evaluation["disposition"]),
        "released_disposition": str(released_evaluation.get("disposition")),
        "released_evaluation": {
            "disposition": released_evaluation.get("disposition"),
            "criteria": [
                {"id": c.get("id"), "verdict": c.get("verdict")}
                for c in released_evaluation.get("criteria", [])
            ],
        },
        "changes": _changes(released, measurements),
        "manifest": {"source": task.manifest_source, "sha256": _sha256(task.manifest_text)},
        "definitions": definitions,
        # a draft definition: the what-if says what it would have given, never a release
        "not_for_release": not_for_release_lines(definitions),
    }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_IDENTITY = ("id", "product", "chain_of_identity", "manufacturing_date")


def _check_manifest(task: LotTask, released: dict[str, Any], manifest: Any) -> None:
    """The manifest must be the released lot's: same id, product, chain of identity and
    manufacturing date (a lot's manifest edited since, or another lot's, is refused)."""
    lot = released.get("lot") or {}
    shown = {
        "id": manifest.lot_id,
        "product": manifest.product,
        "chain_of_identity": manifest.chain_of_identity,
        "manufacturing_date": manifest.manufacturing_date.isoformat(),
    }
    for key in _IDENTITY:
        if str(lot.get(key)) != str(shown[key]):
            raise InputError(
                f"lot {task.lot}: the {task.manifest_source} manifest names {key} "
                f"{shown[key]!r}, the release {lot.get(key)!r}",
                path="lot.yaml",
            )


def _definitions(task: LotTask, released: dict[str, Any]) -> list[dict[str, Any]]:
    """The released definitions with the proposed ones in place of theirs (same kind and id)."""
    found = [dict(d) for d in released.get("definitions") or []]
    for proposed in task.change.parts.values():
        record = proposed.record
        same = [
            i
            for i, d in enumerate(found)
            if d.get("kind") == record["kind"] and d.get("id") == record["id"]
        ]
        if same:
            for index in same:
                found[index] = dict(record)
        else:
            found.append(dict(record))
    return found


def _changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    """Each numeric attribute both hold: its released and its what-if value."""
    released = {m.get("attribute"): m.get("value") for m in before}
    found = {}
    for m in after:
        old, new = released.get(m.get("attribute")), m.get("value")
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new))
        if numbers:
            found[str(m["attribute"])] = {"from": old, "to": new}
    return found
