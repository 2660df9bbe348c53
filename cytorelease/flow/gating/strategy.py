"""A gate tree and its application to a Sample.

:class:`GatingStrategy` holds gate definitions (as written: a quadrant gate stays one gate) and the
populations they define (each quadrant its own), named spillover matrices, and checks the tree:
unique ids, known parents and boolean operands, no cycles. :meth:`GatingStrategy.apply` computes
every population's membership (its own shape AND its parent's membership), parents and operands
first, and returns a :class:`~cytorelease.flow.gating.result.GatingResult`: the tidy table of
populations plus the boolean membership per gate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.flow.compensation import SpilloverMatrix
from cytorelease.flow.gating.events import SampleEvents
from cytorelease.flow.gating.gates import Gate
from cytorelease.flow.gating.preprocess import PreprocessedEvents
from cytorelease.flow.gating.result import GatingResult, population_rows
from cytorelease.flow.sample import Sample

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GatingStrategy", "population_frame"]


class GatingStrategy:
    """Gates by id with parent links, spillover matrices by id; validated on every change."""

    def __init__(
        self,
        gates: Iterable[Gate] = (),
        spillovers: Iterable[SpilloverMatrix] = (),
    ) -> None:
        self._gates: dict[str, Gate] = {}
        self._populations: dict[str, Gate] = {}
        self._spillovers: dict[str, SpilloverMatrix] = {}
        for matrix in spillovers:
            self.add_spillover(matrix)
        for gate in gates:
            self._add(gate)
        self._order = self._check()

    # building -------------------------------------------------------------------------------
    def add_spillover(self, matrix: SpilloverMatrix) -> None:
        if matrix.id in ("FCS", "uncompensated"):
            raise TemplateError(f"spillover id {matrix.id!r} is reserved by GatingML")
        self._spillovers[matrix.id] = matrix

    def add_gate(self, gate: Gate) -> None:
        """Add a gate; its parent and operands may be added later, but must exist to apply."""
        self._add(gate)
        self._order = self._check(require_complete=False)

    def _add(self, gate: Gate) -> None:
        if gate.id in self._gates:
            raise TemplateError(f"gate id {gate.id!r} is used twice")
        for population in gate.populations():
            if population.id in self._populations:
                raise TemplateError(f"gate id {population.id!r} is used twice")
        self._gates[gate.id] = gate
        for population in gate.populations():
            self._populations[population.id] = population

    # reading --------------------------------------------------------------------------------
    @property
    def gates(self) -> tuple[Gate, ...]:
        """Definitions as added (a quadrant gate is one entry)."""
        return tuple(self._gates.values())

    @property
    def spillovers(self) -> Mapping[str, SpilloverMatrix]:
        return MappingProxyType(self._spillovers)

    @property
    def population_ids(self) -> tuple[str, ...]:
        """Populations in application order (parents and operands before dependants)."""
        return tuple(self._order)

    def population(self, gate_id: str) -> Gate:
        try:
            return self._populations[gate_id]
        except KeyError:
            raise TemplateError(
                f"no gate {gate_id!r}", hint="gates: " + ", ".join(self._populations)
            ) from None

    def path(self, gate_id: str) -> tuple[str, ...]:
        chain = [gate_id]
        parent = self.population(gate_id).parent
        while parent is not None:
            chain.append(parent)
            parent = self._populations[parent].parent
        return tuple(reversed(chain))

    def children(self, gate_id: str | None) -> tuple[str, ...]:
        return tuple(g for g in self._order if self._populations[g].parent == gate_id)

    # checking -------------------------------------------------------------------------------
    def _check(self, *, require_complete: bool = True) -> list[str]:
        """Validate links and return a topological order of the known populations."""
        for gate in self._populations.values():
            needed = ([gate.parent] if gate.parent is not None else []) + list(gate.references)
            for ref in needed:
                if ref not in self._populations and require_complete:
                    role = "parent" if ref == gate.parent else "operand"
                    raise TemplateError(
                        f"gate {gate.id!r} names {role} {ref!r}, which is not defined",
                        hint="gates: " + ", ".join(self._populations),
                    )
        order: list[str] = []
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        for start in self._populations:
            self._visit(start, state, order, [])
        return order

    def _visit(
        self, gate_id: str, state: dict[str, int], order: list[str], trail: list[str]
    ) -> None:
        """Depth-first, dependencies before dependants; iterative, so a chain of thousands of
        nested gates needs no deep recursion."""
        if state.get(gate_id) == 2 or gate_id not in self._populations:
            return
        state[gate_id] = 1
        trail.append(gate_id)
        pending = [iter(self._needs(gate_id))]
        while pending:
            ref = next(pending[-1], None)
            if ref is None:  # every dependency done
                pending.pop()
                done = trail.pop()
                state[done] = 2
                order.append(done)
            elif state.get(ref) == 1:
                cycle = [*trail[trail.index(ref) :], ref]
                raise TemplateError(f"gates form a cycle: {' -> '.join(cycle)}")
            elif state.get(ref) != 2 and ref in self._populations:
                state[ref] = 1
                trail.append(ref)
                pending.append(iter(self._needs(ref)))

    def _needs(self, gate_id: str) -> list[str]:
        gate = self._populations[gate_id]
        return ([gate.parent] if gate.parent is not None else []) + list(gate.references)

    def validate(self) -> None:
        """Raise a TemplateError unless every parent and operand exists and there is no cycle."""
        self._order = self._check()

    def channels(self) -> tuple[str, ...]:
        """Channel names the gates read (fluorochromes of named spillovers included)."""
        names: dict[str, None] = {}
        for gate in self._populations.values():
            for dim in gate.dimensions:
                names.update(dict.fromkeys(dim.channels))
        return tuple(names)

    # applying -------------------------------------------------------------------------------
    def apply(
        self, sample: Sample, *, events: np.ndarray | PreprocessedEvents | None = None
    ) -> GatingResult:
        """Gate a Sample (``events`` defaults to ``sample.scaled_events()``)."""
        self.validate()
        memberships: dict[str, np.ndarray] = {}

        def membership(gate_id: str) -> np.ndarray:
            return memberships[gate_id]

        source = SampleEvents(sample, self._spillovers, events=events, membership=membership)
        try:
            for gate_id in self._order:
                gate = self._populations[gate_id]
                inside = gate.apply(source)
                if gate.parent is not None:
                    inside = inside & memberships[gate.parent]
                memberships[gate_id] = inside
        except TemplateError as error:
            raise error.with_path(sample.path) from None
        return self._result(sample, memberships, source.event_count)

    def _result(
        self, sample: Sample, memberships: dict[str, np.ndarray], total: int
    ) -> GatingResult:
        rows = []
        paths: dict[str, tuple[str, ...]] = {}  # parents come first in tree order
        for gate_id in self._tree_order():
            gate = self._populations[gate_id]
            parent = gate.parent
            paths[gate_id] = (gate_id,) if parent is None else (*paths[parent], gate_id)
            count = int(np.count_nonzero(memberships[gate_id]))
            parent_count = (
                total if gate.parent is None else int(np.count_nonzero(memberships[gate.parent]))
            )
            rows.append(
                (
                    paths[gate_id],
                    gate_id,  # a gate tree's populations are named by their ids
                    gate_id,
                    gate.parent,
                    count,
                    parent_count,
                    100.0 * count / parent_count if parent_count else float("nan"),
                    100.0 * count / total if total else float("nan"),
                )
            )
        table = population_rows(rows)
        ordered = {row.gate_id: memberships[row.gate_id] for row in table}
        return GatingResult(table, ordered, sample, self)

    def _tree_order(self) -> list[str]:
        """Depth-first from the top-level gates, children in definition order."""
        out: list[str] = []
        kids: dict[str | None, list[str]] = {}
        for g in self._populations:  # definition order
            kids.setdefault(self._populations[g].parent, []).append(g)
        stack = list(reversed(self.children(None)))
        while stack:
            gate_id = stack.pop()
            out.append(gate_id)
            stack.extend(reversed(kids.get(gate_id, [])))
        return out


def population_frame(rows: Sequence[Sequence[object]], columns: Iterable[str]) -> pd.DataFrame:
    """A table of populations whose text columns (ids, names, parents, paths) hold Python
    objects: pandas 3 would store them in its string dtype, where a top-level gate's parent
    ``None`` becomes NaN. Numeric columns keep the dtype pandas infers."""
    import pandas as pd

    data = {}
    for index, name in enumerate(columns):
        values = [row[index] for row in rows]
        text = any(isinstance(v, str | tuple) for v in values)
        data[name] = pd.Series(values, dtype=object if text else None)
    return pd.DataFrame(data)
