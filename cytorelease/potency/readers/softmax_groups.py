"""SoftMax Pro ``Group:`` blocks read as a plate layout: the well ids the Gen5 reader gives.

A group block is ``Group: <name>``, a header line naming its columns, one line per well (a
blank Sample cell continues the sample above it, a blank descriptor cell keeps the value above
it), then the ``Group Column / Formula Name / Formula`` table, ``Group Summaries`` and ``~End``.
The formula table says what each column holds: ``!WellIDs`` the well, ``!SampleNames`` the
sample, ``!WellPlateName`` the plate, ``!SampleDescriptor`` (or the descriptor by its name,
``!Concentration``) the sample descriptor: a standard's value; a sample's fold dilution when the
descriptor is named as one (``Dilution``, ``Factor``, ``Dilution Factor``). Without a formula
table the header names are read instead.

Groups take their role from their name, as SoftMax Pro's group types do: a Standards group ->
STDn (n the standard's place in the group, its descriptor the concentration; a standard at 0 is
the zero standard, BLK), Blank(s) -> BLK,
Control(s) -> CTLn, any other group (Unknowns, Samples, ...) -> SPLn, and SPLn:k for the k-th
dilution of a sample whose wells carry several. A group that cannot be read without a guess (no
well column, a cell that is not a well, a descriptor that is not a number) is skipped, and the
reason is kept for the export's metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cytorelease.errors import InputError
from cytorelease.potency.readers._model import normalise_well, parse_value
from cytorelease.potency.readers._text import split_cells

__all__ = ["GroupWell", "SoftMaxGroups", "read_groups"]

_GROUP = "Group:"
_END = "~End"
_FORMULA_HEADER = "Group Column"
_SUMMARIES = "Group Summaries"
# the formulas SoftMax Pro writes for the columns filled from the template
_WELLS, _SAMPLES, _PLATE, _DESCRIPTOR = (
    "!WellIDs",
    "!SampleNames",
    "!WellPlateName",
    ("!SampleDescriptor"),
)
_DILUTION_NAME = re.compile(r"^(dil(ution)?s?|(dilution\s*)?factor)\b", re.IGNORECASE)
_STANDARD_VALUE = re.compile(r"^(standard\s*value|conc(entration)?)\b", re.IGNORECASE)


class GroupKind(StrEnum):
    STANDARD = "STD"
    BLANK = "BLK"
    CONTROL = "CTL"
    SAMPLE = "SPL"


def _word(*abbreviations: str) -> str:
    """A regex for abbreviations standing as words: 'Std', 'Std_1', 'BLK2' but not 'stdev'."""
    return "|".join(rf"(^|[^a-z]){a}([^a-z]|$)" for a in abbreviations)


_KINDS = (
    (GroupKind.STANDARD, re.compile(r"standard|" + _word("stds?"))),
    (GroupKind.BLANK, re.compile(r"blank|" + _word("blks?"))),
    (GroupKind.CONTROL, re.compile(r"control|" + _word("ctrls?", "ctls?", "qcs?"))),
)


def _kind(name: str) -> GroupKind:
    """The role a group's name gives its wells; Unknowns, Samples and any other name: samples."""
    lowered = name.lower()
    return next((kind for kind, pattern in _KINDS if pattern.search(lowered)), GroupKind.SAMPLE)


@dataclass(frozen=True, slots=True)
class GroupWell:
    """One well of a group: its plate (None when the group names none), id and number."""

    plate: str | None
    well: str
    well_id: str  # STD1, BLK, CTL2, SPL3, SPL3:2
    value: float | None  # a standard's concentration, a sample's fold dilution
    group: str  # the SoftMax group it comes from


@dataclass(frozen=True, slots=True)
class SoftMaxGroups:
    wells: tuple[GroupWell, ...]
    skipped: tuple[str, ...]  # "group 'X': why it was not read"


@dataclass(frozen=True, slots=True)
class _Columns:
    wells: int
    sample: int | None
    plate: int | None
    descriptor: int | None
    descriptor_name: str


def _columns(header: list[str], formulas: dict[int, tuple[str, str]]) -> _Columns | str:
    """Where the group's wells, samples, plates and descriptor are; a reason when unreadable."""
    by_formula = {formula: (index, name) for index, (name, formula) in formulas.items()}
    names = [c.strip() for c in header]

    def named(*choices: str) -> int | None:
        return next((i for i, n in enumerate(names) if n.lower() in choices), None)

    wells = by_formula[_WELLS][0] if _WELLS in by_formula else named("wells", "well")
    if wells is None or wells >= len(names):
        return "no well column (no !WellIDs formula, no Wells header)"
    sample = by_formula[_SAMPLES][0] if _SAMPLES in by_formula else named("sample", "samples")
    plate = by_formula[_PLATE][0] if _PLATE in by_formula else named("wellplatename")
    descriptor: int | None = None
    descriptor_name = ""
    # the template's descriptor: !SampleDescriptor, or named as it is (!Concentration)
    named_descriptor = next(
        (
            entry
            for formula, entry in by_formula.items()
            if formula.startswith("!")
            and (_DILUTION_NAME.match(formula[1:]) or _STANDARD_VALUE.match(formula[1:]))
        ),
        None,
    )
    if _DESCRIPTOR in by_formula:
        descriptor, descriptor_name = by_formula[_DESCRIPTOR]
    elif named_descriptor is not None:
        descriptor, descriptor_name = named_descriptor
    else:
        found = next(
            (i for i, n in enumerate(names) if _DILUTION_NAME.match(n) or _STANDARD_VALUE.match(n)),
            None,
        )
        if found is not None:
            descriptor, descriptor_name = found, names[found]
    return _Columns(wells, sample, plate, descriptor, descriptor_name)


def _formula_table(lines: list[str]) -> dict[int, tuple[str, str]]:
    """Group column index (0-based) -> (formula name, formula)."""
    out: dict[int, tuple[str, str]] = {}
    for line in lines:
        cells = split_cells(line)
        if len(cells) >= 3 and cells[0].strip().isdigit():
            out[int(cells[0]) - 1] = (cells[1].strip(), cells[2].strip())
    return out


def _split_block(block: list[str]) -> tuple[list[str], list[list[str]], list[str]]:
    """(header cells, data lines' cells, formula table lines) of one group block."""
    header = split_cells(block[0]) if block else []
    rows: list[list[str]] = []
    formulas: list[str] = []
    part = "rows"
    for line in block[1:]:
        if line.startswith(_FORMULA_HEADER):
            part = "formulas"
            continue
        if line.startswith(_SUMMARIES):
            part = "summaries"
            continue
        if part == "rows" and line.strip():
            rows.append(split_cells(line))
        elif part == "formulas" and line.strip():
            formulas.append(line)
        elif part == "rows" and rows:
            part = "after"  # the blank line ending the well lines
    return header, rows, formulas


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _read_group(
    name: str, block: list[str], counters: dict[GroupKind, int]
) -> list[GroupWell] | str:
    header, rows, formula_lines = _split_block(block)
    columns = _columns(header, _formula_table(formula_lines))
    if isinstance(columns, str):
        return columns
    kind = _kind(name)
    read_value = columns.descriptor is not None and (
        kind is GroupKind.STANDARD or bool(_DILUTION_NAME.match(columns.descriptor_name))
    )
    # (sample name) -> number; (sample, value) -> dilution step
    numbers: dict[str, int] = {}
    steps: dict[str, list[float | None]] = {}
    out: list[tuple[str | None, str, str, float | None]] = []
    sample = value_text = ""
    for line_no, cells in enumerate(rows, start=1):
        well_text = _cell(cells, columns.wells)
        well = normalise_well(well_text)
        if well is None:
            return f"well line {line_no}: {well_text!r} is not a well"
        named = _cell(cells, columns.sample)
        if named or not sample:
            if named != sample:
                value_text = ""
            sample = named or f"line {line_no}"
        value_text = _cell(cells, columns.descriptor) or value_text
        value: float | None = None
        if read_value and value_text:
            value = parse_value(value_text)
            if value is None:
                return (
                    f"sample {sample!r}: {columns.descriptor_name} {value_text!r} is not a number"
                )
        if kind is GroupKind.STANDARD and value is not None and value < 0:
            return f"sample {sample!r}: standard value {value_text!r} is below zero"
        if kind is GroupKind.STANDARD and value == 0:
            # the zero standard: a blank, fitted at concentration 0
            out.append((_cell(cells, columns.plate) or None, well, "", None))
            continue
        if sample not in numbers:
            counters[kind] = counters.get(kind, 0) + 1
            numbers[sample] = counters[kind]
        seen = steps.setdefault(sample, [])
        if value not in seen:
            seen.append(value)
        out.append((_cell(cells, columns.plate) or None, well, sample, value))
    wells = []
    for plate, well, sample_name, value in out:
        if not sample_name:  # a zero standard
            wells.append(GroupWell(plate, well, GroupKind.BLANK.value, None, name))
            continue
        wells.append(
            GroupWell(
                plate,
                well,
                _well_id(kind, numbers[sample_name], steps, sample_name, value),
                value,
                name,
            )
        )
    return wells


def _well_id(
    kind: GroupKind,
    number: int,
    steps: dict[str, list[float | None]],
    sample: str,
    value: float | None,
) -> str:
    if kind is GroupKind.BLANK:
        return "BLK"
    if kind is GroupKind.SAMPLE and len(steps[sample]) > 1:
        return f"SPL{number}:{steps[sample].index(value) + 1}"
    return f"{kind.value}{number}"


def _group_blocks(text: str, path: str) -> list[tuple[int, str, list[str]]]:
    blocks: list[tuple[int, str, list[str]]] = []
    current: tuple[int, str, list[str]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if current is None:
            if line.startswith(_GROUP):
                current = (number, line[len(_GROUP) :].strip(), [])
            continue
        if line.strip().startswith(_END):
            blocks.append(current)
            current = None
        else:
            current[2].append(line)
    if current is not None:
        raise InputError(
            f"line {current[0]}: group block {current[1]!r} has no '{_END}' line before the end "
            "of the file (truncated copy?)",
            path=path,
        )
    return blocks


def read_groups(text: str, path: str) -> SoftMaxGroups:
    """Every group's wells with their Gen5-style ids; the groups skipped and why."""
    wells: list[GroupWell] = []
    skipped: list[str] = []
    counters: dict[GroupKind, int] = {}
    for line_no, name, block in _group_blocks(text, path):
        trial = dict(counters)  # a skipped group takes no numbers
        read = _read_group(name, block, trial)
        if isinstance(read, str):
            skipped.append(f"group {name!r} (line {line_no}): {read}")
        else:
            wells.extend(read)
            counters = trial
    return SoftMaxGroups(tuple(wells), tuple(skipped))
