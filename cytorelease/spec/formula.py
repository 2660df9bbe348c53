"""Derived-criterion formulas: a tiny arithmetic language, parsed and walked, never ``eval``-ed.

Grammar: numbers, attribute names (``manual.total_viable_cells``), ``+ - * /``, unary minus,
parentheses and the functions ``min(a, b, ...)`` / ``max(a, b, ...)``. Anything else (calls,
subscripts, comparisons, keywords) is refused when the spec is validated. Arithmetic runs in
:class:`decimal.Decimal` so a formula over decimal strings stays exact up to the final division.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, DivisionByZero, InvalidOperation

__all__ = ["Formula", "FormulaError", "parse_formula"]

_CONTEXT = Context(prec=40, traps=[DivisionByZero, InvalidOperation])
_FUNCTIONS: dict[str, Callable[..., Decimal]] = {"min": min, "max": max}
_OPERATORS: dict[type[ast.operator], Callable[[Decimal, Decimal], Decimal]] = {
    ast.Add: lambda a, b: _CONTEXT.add(a, b),
    ast.Sub: lambda a, b: _CONTEXT.subtract(a, b),
    ast.Mult: lambda a, b: _CONTEXT.multiply(a, b),
    ast.Div: lambda a, b: _CONTEXT.divide(a, b),
}


class FormulaError(ValueError):
    """A formula that cannot be parsed, or that cannot be computed for these values."""


def _dotted_name(node: ast.expr) -> str | None:
    """``manual.total_viable_cells`` parses as Attribute(Name); give back the dotted text."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    return None


@dataclass(frozen=True, slots=True)
class Formula:
    """A parsed formula: its text, the attributes it reads, and its checked syntax tree."""

    text: str
    names: tuple[str, ...]
    _tree: ast.Expression

    def evaluate(self, values: Mapping[str, Decimal]) -> Decimal:
        """The formula's value; ``FormulaError`` on a division by zero."""
        try:
            return self._walk(self._tree.body, values)
        except (DivisionByZero, InvalidOperation):
            raise FormulaError(f"'{self.text}' divides by zero for these values") from None

    def _walk(self, node: ast.expr, values: Mapping[str, Decimal]) -> Decimal:
        name = _dotted_name(node)
        if name is not None:
            return values[name]
        if isinstance(node, ast.Constant):
            return Decimal(repr(node.value))
        if isinstance(node, ast.UnaryOp):
            operand = self._walk(node.operand, values)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            operator = _OPERATORS[type(node.op)]
            return operator(self._walk(node.left, values), self._walk(node.right, values))
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return _FUNCTIONS[node.func.id](*(self._walk(a, values) for a in node.args))
        raise FormulaError(f"unsupported element in '{self.text}'")  # excluded by parse_formula


def _check(node: ast.expr, text: str, names: list[str]) -> None:
    """Accept only the grammar above; collect attribute names in order of appearance."""
    name = _dotted_name(node)
    if name is not None:
        if "." not in name:
            raise FormulaError(
                f"'{name}' is not an attribute name (attributes read like 'flow.viability_pct_of_cd45')"
            )
        if name not in names:
            names.append(name)
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise FormulaError(f"constant {node.value!r} is not a number")
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, text, names)
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        _check(node.left, text, names)
        _check(node.right, text, names)
        return
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
        and len(node.args) >= 2
        and not any(isinstance(a, ast.Starred) for a in node.args)
    ):
        for arg in node.args:
            _check(arg, text, names)
        return
    snippet = ast.get_source_segment(text, node) or type(node).__name__
    raise FormulaError(
        f"'{snippet}' is not allowed in a formula (use numbers, attribute names, + - * /, "
        "parentheses, min(...), max(...))"
    )


def parse_formula(text: str) -> Formula:
    """Parse and check a formula; ``FormulaError`` says what is wrong with it."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"'{text}' is not a valid formula ({exc.msg})") from None
    names: list[str] = []
    _check(tree.body, text.strip(), names)
    return Formula(text=text.strip(), names=tuple(names), _tree=tree)
