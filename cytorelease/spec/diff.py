"""What changed between two spec versions: added, removed and changed criteria, old -> new.

Criteria are matched by ``id``. A change lists each field that differs, as printed on a CoA
(``limit: >= 10 % -> >= 15 %``; ``rounding: 0 decimals -> 1 decimal``), so a reviewer reads the
diff without opening the YAML. ``affected_criteria`` follows dependencies (composite components,
derived attributes read by formulas): a composite whose component's limit changed can flip even
though its own entry is unchanged. Re-evaluation uses it to explain every verdict flip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cytorelease.spec.loader import LoadedSpec
from cytorelease.spec.model import Spec

__all__ = ["CriterionChange", "FieldChange", "SpecDiff", "affected_criteria", "diff_specs"]

_HEADER_FIELDS = ("product", "version", "title", "status", "effective_from", "supersedes", "market")


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: str | None
    new: str | None

    def text(self) -> str:
        return f"{self.field}: {self.old if self.old is not None else '-'} -> {self.new if self.new is not None else '-'}"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class CriterionChange:
    id: str
    changes: tuple[FieldChange, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "changes": [c.to_dict() for c in self.changes]}


@dataclass(frozen=True, slots=True)
class SpecDiff:
    old: dict[str, Any]
    new: dict[str, Any]
    header: tuple[FieldChange, ...]
    added: tuple[dict[str, Any], ...]
    removed: tuple[dict[str, Any], ...]
    changed: tuple[CriterionChange, ...]

    @property
    def is_empty(self) -> bool:
        return not (self.header or self.added or self.removed or self.changed)

    @property
    def criteria_changed(self) -> set[str]:
        """Ids added, removed or changed (directly, not through dependencies)."""
        return (
            {c["id"] for c in self.added}
            | {c["id"] for c in self.removed}
            | {c.id for c in self.changed}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "header": [c.to_dict() for c in self.header],
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [c.to_dict() for c in self.changed],
        }


def _rounding(criterion: Any) -> str | None:
    decimals = getattr(criterion, "decimals", None)
    if decimals is None:
        return None
    text = f"{decimals} decimal{'s' * (decimals != 1)}"
    exponent = getattr(criterion, "exponent", 0)
    return f"{text} x 10^{exponent}" if exponent else text


def _alert(criterion: Any) -> str | None:
    alert = getattr(criterion, "alert", None)
    if alert is None:
        return None
    return str(alert.printed(criterion.decimals, criterion.exponent, criterion.unit))


def criterion_fields(criterion: Any) -> dict[str, str | None]:
    """The comparable face of a criterion, as printed."""
    all_of = getattr(criterion, "all_of", None)
    return {
        "kind": str(criterion.kind),
        "test": criterion.test,
        "category": str(criterion.category),
        "attribute": criterion.attribute,
        "formula": getattr(criterion, "formula", None),
        "components": ", ".join(all_of) if all_of else None,
        "limit": criterion.printed_limit(),
        "unit": criterion.unit or None,
        "rounding": _rounding(criterion),
        "method": criterion.method,
        "timing": str(criterion.timing),
        "alert": _alert(criterion),
    }


def _summary(criterion: Any) -> dict[str, Any]:
    return {"id": criterion.id, **criterion_fields(criterion)}


def _header_value(spec: Spec, name: str) -> str | None:
    value = getattr(spec, name)
    return None if value is None else str(value)


def diff_specs(old: LoadedSpec, new: LoadedSpec) -> SpecDiff:
    """Added, removed and changed criteria (and header fields) from ``old`` to ``new``."""
    old_criteria = {c.id: c for c in old.spec.criteria}
    new_criteria = {c.id: c for c in new.spec.criteria}
    changed = []
    for criterion_id, before in old_criteria.items():
        after = new_criteria.get(criterion_id)
        if after is None:
            continue
        a, b = criterion_fields(before), criterion_fields(after)
        fields = tuple(FieldChange(k, a[k], b[k]) for k in a if a[k] != b[k])
        if fields:
            changed.append(CriterionChange(criterion_id, fields))
    header = tuple(
        FieldChange(name, _header_value(old.spec, name), _header_value(new.spec, name))
        for name in _HEADER_FIELDS
        if _header_value(old.spec, name) != _header_value(new.spec, name)
    )
    return SpecDiff(
        old=old.identity(),
        new=new.identity(),
        header=header,
        added=tuple(_summary(c) for i, c in new_criteria.items() if i not in old_criteria),
        removed=tuple(_summary(c) for i, c in old_criteria.items() if i not in new_criteria),
        changed=tuple(changed),
    )


def _dependencies(spec: Spec) -> dict[str, set[str]]:
    """criterion id -> ids it is computed from (components, and declarers of derived inputs)."""
    declarer = {c.attribute: c.id for c in spec.criteria if c.kind == "derived"}
    return {
        c.id: set(c.depends_on) | {declarer[a] for a in c.reads if a in declarer}
        for c in spec.criteria
    }


def _closure(start: set[str], dependencies: dict[str, set[str]]) -> Iterator[str]:
    affected = set(start)
    grew = True
    while grew:
        grew = False
        for criterion_id, needs in dependencies.items():
            if criterion_id not in affected and needs & affected:
                affected.add(criterion_id)
                grew = True
    yield from affected


def affected_criteria(diff: SpecDiff, old: LoadedSpec, new: LoadedSpec) -> dict[str, list[str]]:
    """Every criterion whose verdict the diff may change, with the reasons (changes or the
    changed criteria it depends on). A verdict flip outside these keys would be unexplained."""
    direct: dict[str, list[str]] = {c["id"]: ["added"] for c in diff.added}
    direct.update({c["id"]: ["removed"] for c in diff.removed})
    direct.update({c.id: [f.text() for f in c.changes] for c in diff.changed})
    dependencies = _dependencies(old.spec)
    for criterion_id, needs in _dependencies(new.spec).items():
        dependencies.setdefault(criterion_id, set()).update(needs)
    affected = set(_closure(set(direct), dependencies))
    reasons = dict(direct)
    for criterion_id in sorted(affected - set(direct)):
        via = sorted(dependencies[criterion_id] & affected)
        reasons[criterion_id] = [f"depends on {', '.join(via)}"]
    return reasons
