"""A comparison of two result sets: per numeric attribute the statistics of its pairing, the
equivalence verdict against its margin, the lots only one set has, and every disposition flip.

An attribute gets an equivalence verdict only against a margin the protocol (or ``--margin``)
gives it: without one ``equivalent`` is None and ``equivalence_reason`` says so; no margin is
ever assumed. Lots present in one set only are listed (per attribute and overall), not dropped
without a word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cytorelease.compare.protocol import Protocol
from cytorelease.compare.sets import ResultSet
from cytorelease.compare.stats import PairedStats, UnpairedStats, paired_stats, unpaired_stats
from cytorelease.errors import InputError

__all__ = ["PAIRINGS", "SCHEMA", "AttributeComparison", "Comparison", "compare_sets"]

SCHEMA = "cytorelease.compare/1"
PAIRINGS = ("lot", "none")
NO_MARGIN = "no margin for this attribute in the protocol or --margin (none is assumed)"


@dataclass
class AttributeComparison:
    attribute: str
    unit: str | None
    margin: float | None
    alpha: float
    stats: PairedStats | UnpairedStats
    pairs: list[tuple[str, float, float]] = field(default_factory=list)
    values_a: list[float] = field(default_factory=list)
    values_b: list[float] = field(default_factory=list)
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)

    @property
    def paired(self) -> bool:
        return isinstance(self.stats, PairedStats)

    def equivalence(self) -> tuple[bool | None, str | None]:
        if self.margin is None:
            return None, NO_MARGIN
        if self.stats.tost_p is None:
            return None, "; ".join(self.stats.reasons) or "TOST could not be computed"
        return self.stats.tost_p < self.alpha, None

    def to_dict(self) -> dict[str, Any]:
        equivalent, reason = self.equivalence()
        s = self.stats.to_dict()
        out: dict[str, Any] = {
            "attribute": self.attribute,
            "unit": self.unit,
            "test": "paired t TOST" if self.paired else "Welch two-sample TOST",
            "margin": self.margin,
            "equivalent": equivalent,
            "equivalence_reason": reason,
            "notes": list(self.stats.reasons),
            "loa_low": None,
            "loa_high": None,
            **s,
        }
        if self.paired:
            out["only_in_a"], out["only_in_b"] = self.only_in_a, self.only_in_b
            out["pairs"] = [{"lot": lot, "a": a, "b": b} for lot, a, b in self.pairs]
        return out


@dataclass
class Comparison:
    a: ResultSet
    b: ResultSet
    pair_by: str
    protocol: Protocol
    attributes: list[AttributeComparison]
    flips: list[dict[str, Any]]
    not_compared: list[dict[str, str]]

    def lots(self) -> dict[str, Any]:
        la, lb = set(self.a.lots()), set(self.b.lots())
        return {
            "in_a": len(la),
            "in_b": len(lb),
            "in_both": len(la & lb),
            "only_in_a": sorted(la - lb),
            "only_in_b": sorted(lb - la),
        }

    def to_dict(self) -> dict[str, Any]:
        from cytorelease import __version__

        def source(s: ResultSet) -> dict[str, Any]:
            found = {"path": str(s.path), "sha256": s.sha256, "kind": s.kind, "lots": len(s.lots())}
            return found if s.selection is None else {**found, "selection": s.selection}

        return {
            "schema": SCHEMA,
            "software_version": __version__,
            "a": source(self.a),
            "b": source(self.b),
            "difference": "B - A",
            "pair_by": self.pair_by,
            "protocol": self.protocol.to_dict(),
            "alpha": self.protocol.alpha,
            "lots": self.lots(),
            "attributes": [c.to_dict() for c in self.attributes],
            "not_compared": self.not_compared,
            "flips": self.flips,
        }


def _units(a: ResultSet, b: ResultSet, attribute: str, protocol: Protocol) -> str | None:
    ua, ub = a.unit_of(attribute), b.unit_of(attribute)
    if ua is not None and ub is not None and ua != ub:
        raise InputError(
            f"attribute {attribute!r} is in {ua!r} in A ({a.path}) and in {ub!r} in B "
            f"({b.path}): compare one unit",
            path=b.path,
        )
    unit = ua or ub
    margin = protocol.margins.get(attribute)
    if margin is not None and margin.unit is not None and unit is not None and margin.unit != unit:
        raise InputError(
            f"the margin of {attribute!r} is in {margin.unit!r} but the results are in {unit!r}",
            path=protocol.path or "--margin",
        )
    return unit


def _norm(verdict: str) -> str:
    return verdict.strip().casefold()


def _flips(a: ResultSet, b: ResultSet) -> list[dict[str, Any]]:
    flips: list[dict[str, Any]] = []
    common = sorted(set(a.lots()) & set(b.lots()))
    ta, tb = a.by_attribute(), b.by_attribute()
    for lot in common:
        da, db = a.dispositions.get(lot), b.dispositions.get(lot)
        if da is not None and db is not None and _norm(da) != _norm(db):
            flips.append({"lot": lot, "what": "disposition", "attribute": None, "a": da, "b": db})
        for attribute in sorted(set(ta) & set(tb)):
            ea, eb = ta[attribute].get(lot), tb[attribute].get(lot)
            if ea is None or eb is None or ea.verdict is None or eb.verdict is None:
                continue
            if _norm(ea.verdict) != _norm(eb.verdict):
                flips.append(
                    {"lot": lot, "what": "verdict", "attribute": attribute}
                    | {"a": ea.verdict, "b": eb.verdict, "value_a": ea.text, "value_b": eb.text}
                )
    return flips


def _one(
    attribute: str, a: ResultSet, b: ResultSet, pair_by: str, protocol: Protocol
) -> AttributeComparison:
    unit = _units(a, b, attribute, protocol)
    margin = protocol.margins.get(attribute)
    va = {lot: e.value for lot, e in a.by_attribute().get(attribute, {}).items()}
    vb = {lot: e.value for lot, e in b.by_attribute().get(attribute, {}).items()}
    m = None if margin is None else margin.margin
    if pair_by == "lot":
        both = sorted(set(va) & set(vb))
        xa = np.array([va[lot] for lot in both], dtype=float)
        xb = np.array([vb[lot] for lot in both], dtype=float)
        stats = paired_stats(
            xa, xb, margin=m, alpha=protocol.alpha, ratio=protocol.deming_variance_ratio
        )
        out = AttributeComparison(attribute, unit, m, protocol.alpha, stats)
        out.pairs = [(lot, float(x), float(y)) for lot, x, y in zip(both, xa, xb, strict=True)]
        out.only_in_a, out.only_in_b = sorted(set(va) - set(vb)), sorted(set(vb) - set(va))
    else:
        xa = np.array(sorted(v for v in va.values() if v is not None), dtype=float)
        xb = np.array(sorted(v for v in vb.values() if v is not None), dtype=float)
        out = AttributeComparison(
            attribute,
            unit,
            m,
            protocol.alpha,
            unpaired_stats(xa, xb, margin=m, alpha=protocol.alpha),
        )
    out.values_a, out.values_b = [float(v) for v in xa], [float(v) for v in xb]
    if not va:
        out.stats.reasons.insert(0, "the attribute is not in A")
    if not vb:
        out.stats.reasons.insert(0, "the attribute is not in B")
    return out


def compare_sets(a: ResultSet, b: ResultSet, *, pair_by: str, protocol: Protocol) -> Comparison:
    """Compare B against A attribute by attribute (differences B - A)."""
    if pair_by not in PAIRINGS:
        raise ValueError(f"pair_by must be one of {PAIRINGS}")
    if protocol.pairing is not None and protocol.pairing != pair_by:
        raise InputError(
            f"the protocol fixes pairing {protocol.pairing!r} but --pair-by is {pair_by!r}",
            path=protocol.path,
        )
    na, nb = a.numeric_attributes(), b.numeric_attributes()
    text_a = {e.attribute for e in a.entries} - na
    text_b = {e.attribute for e in b.entries} - nb
    clash = sorted((na & text_b) | (nb & text_a))
    if clash:
        number_in, text_in = (a, b) if clash[0] in na else (b, a)
        raise InputError(
            f"attribute {clash[0]!r} is numeric in {number_in.path} but text in {text_in.path}",
            path=text_in.path,
        )
    textual = sorted(protocol.margins.keys() & (text_a | text_b))
    if textual:
        raise InputError(
            f"a margin is given for {textual[0]!r}, whose results are text, not numbers",
            path=protocol.path or "--margin",
        )
    names = sorted(na | nb | protocol.margins.keys())
    attributes = [_one(attr, a, b, pair_by, protocol) for attr in names]
    not_compared = [
        {"attribute": attr, "reason": "text results: compared by verdict only (see flips)"}
        for attr in sorted(text_a | text_b)
    ]
    return Comparison(a, b, pair_by, protocol, attributes, _flips(a, b), not_compared)
