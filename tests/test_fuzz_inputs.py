"""Fuzzing every reference file: damaged and hostile copies never give a traceback or run away.

Each file in ../shared/data that a command reads (FCS and LMD files, GatingML documents, qPCR /
dPCR exports, plate-reader exports) is mutated the ways real damage and real hostility take
(``tests.fuzz.mutate``: truncation at random points, byte flips in the FCS HEADER, TEXT and DATA,
absurd or missing keyword values, absurd numbers and cut, lost or doubled lines in text exports,
damaged zip members) and run through ``flow inspect``, ``flow gate``, ``qpcr read`` and
``potency elisa``. Every run must keep the CLI contract (exit 0 with one JSON document, or one
``error:`` line with exit 2; ``potency elisa`` may exit 1 for a plate failing run acceptance),
within 30 s and 1 GiB (``tests.fuzz.harness``).

The default run takes one mutant per file and mutation kind; ``-m slow`` runs the larger
campaign. ``CYTORELEASE_FUZZ_SEED`` changes the seed; a failure names the mutant's file and how
it was made, so it is kept under pytest's tmp folder for reproduction. The GatingML truth tables
(gatingml/truth) are expected counts no command reads, and are not mutated.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from cytorelease._resources import ResourceKind, resource_dir
from tests.conftest import PROJECT_ROOT, SHARED_DATA
from tests.fuzz.harness import Case, Outcome, judge, run_cases
from tests.fuzz.mutate import fcs_text, mutations_for

SEED = os.environ.get("CYTORELEASE_FUZZ_SEED", "cytorelease-fuzz-1")
SAMPLE_LOT = PROJECT_ROOT / "sample_data" / "lot-CAR-0001"
ELISA_ASSAY = str(resource_dir(ResourceKind.ASSAYS) / "potency-ifng-elisa.yaml")
FCS_SUFFIXES = (".fcs", ".lmd")


def _files(folder: str, suffixes: tuple[str, ...]) -> list[Path]:
    root = SHARED_DATA / folder
    if not root.is_dir():
        pytest.skip(f"reference data not available: {root} (set CYTORELEASE_SHARED_DATA)")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def _mutants(source: Path, per_kind: int, folder: Path) -> Iterator[tuple[Path, str]]:
    """Mutated copies of ``source`` in ``folder``: (path, how it was made)."""
    data = source.read_bytes()
    for kind, mutation in mutations_for(data).items():
        for number in range(per_kind):
            origin = f"{source.name} {kind} #{number} seed={SEED}"
            rng = random.Random(origin)
            path = folder / f"{source.stem}.{kind}.{number}{source.suffix}"
            path.write_bytes(mutation(data, rng))
            yield path, origin


def _rectangle_gatingml(fcs: Path, folder: Path) -> Path | None:
    """A one-gate GatingML document on the file's own first two channels, so that gating runs
    on whatever survives of the mutated events (not only on channel-name checks)."""
    text = fcs_text(fcs.read_bytes())
    if text is None:
        return None
    _, _, pairs = text
    keywords = {key.upper(): value.decode("latin-1") for key, value in pairs}
    names = [keywords.get(f"$P{i}N") for i in (1, 2)]
    if not all(names):
        return None
    dimensions = "".join(
        f'<gating:dimension gating:min="1"><data-type:fcs-dimension data-type:name="{name}"/>'
        "</gating:dimension>"
        for name in names
    )
    path = folder / f"{fcs.stem}.rectangle.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
        'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">'
        f'<gating:RectangleGate gating:id="Fuzz">{dimensions}</gating:RectangleGate>'
        "</gating:Gating-ML>\n",
        encoding="utf-8",
    )
    return path


def _fcs_cases(per_kind: int, folder: Path) -> list[Case]:
    sources = _files("fcs", FCS_SUFFIXES) + _files("gatingml", FCS_SUFFIXES)
    cases: list[Case] = []
    for source in sources:
        gate = _rectangle_gatingml(source, folder)
        for path, origin in _mutants(source, per_kind, folder):
            cases.append(Case(("flow", "inspect", str(path), "--json"), origin))
            if gate is not None:
                cases.append(
                    Case(("flow", "gate", str(path), "--template", str(gate), "--json"), origin)
                )
    return cases


def _sample_lot_cases(per_kind: int, folder: Path) -> list[Case]:
    """The project's own tubes gated with the bundled panel: mutations reach compensation,
    transforms and the data-driven gates, which third-party files' channels never match."""
    stained, fmo = SAMPLE_LOT / "tube1_stained.fcs", SAMPLE_LOT / "tube2_fmo_car.fcs"
    if not stained.exists():
        pytest.skip(f"sample data not generated: {stained}")
    cases = []
    for path, origin in _mutants(stained, per_kind, folder):
        cases.append(
            Case(
                (
                    "flow",
                    "gate",
                    str(path),
                    "--template",
                    "cd19-car-t-panel",
                    "--control",
                    str(fmo),
                    "--json",
                ),
                origin,
            )
        )
    for path, origin in _mutants(fmo, per_kind, folder):
        cases.append(
            Case(
                (
                    "flow",
                    "gate",
                    str(stained),
                    "--template",
                    "cd19-car-t-panel",
                    "--control",
                    str(path),
                    "--json",
                ),
                origin,
            )
        )
    return cases


def _gatingml_cases(per_kind: int, folder: Path) -> list[Case]:
    events = SHARED_DATA / "gatingml" / "data1.fcs"
    cases = []
    for source in _files("gatingml/gml", (".xml",)):
        for path, origin in _mutants(source, per_kind, folder):
            cases.append(
                Case(("flow", "gate", str(events), "--template", str(path), "--json"), origin)
            )
    return cases


def _qpcr_cases(per_kind: int, folder: Path) -> list[Case]:
    sources = _files("qpcr", (".csv", ".txt", ".xlsx", ".rdml", ".xml"))
    return [
        Case(("qpcr", "read", str(path), "--json"), origin)
        for source in sources
        for path, origin in _mutants(source, per_kind, folder)
    ]


def _plate_cases(per_kind: int, folder: Path) -> list[Case]:
    cases = []
    for source in _files("plate", (".txt", ".csv", ".xlsx")):
        for path, origin in _mutants(source, per_kind, folder):
            args = ("potency", "elisa", str(path), "--assay", ELISA_ASSAY, "--json")
            cases.append(Case(args, origin, may_fail_result=True))
    return cases


BUILDERS = {
    "fcs": _fcs_cases,
    "sample-lot": _sample_lot_cases,
    "gatingml": _gatingml_cases,
    "qpcr": _qpcr_cases,
    "plate": _plate_cases,
}


def _failures(outcomes: list[Outcome]) -> str:
    failed = [o for o in outcomes if o.problem is not None]
    shown = "\n\n".join(
        f"{' '.join(o.case.args)}\n  made as: {o.case.origin}\n  {o.problem}" for o in failed[:8]
    )
    return f"{len(failed)} of {len(outcomes)} fuzz cases broke the contract:\n\n{shown}"


def _campaign(group: str, per_kind: int, tmp_path: Path) -> None:
    cases = BUILDERS[group](per_kind, tmp_path)
    assert cases, f"no {group} files to fuzz"
    outcomes = run_cases(cases, workdir=tmp_path)
    assert all(o.problem is None for o in outcomes), _failures(outcomes)


@pytest.mark.parametrize("group", sorted(BUILDERS))
def test_mutated_reference_files_keep_the_cli_contract(group: str, tmp_path: Path) -> None:
    _campaign(group, 1, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("group", sorted(BUILDERS))
def test_larger_fuzz_campaign(group: str, tmp_path: Path) -> None:
    _campaign(group, 12, tmp_path)


def test_the_harness_catches_a_case_past_its_time_and_goes_on(tmp_path: Path) -> None:
    stained = SAMPLE_LOT / "tube1_stained.fcs"
    if not stained.exists():
        pytest.skip(f"sample data not generated: {stained}")
    slow = Case(("flow", "gate", str(stained), "--template", "cd19-car-t-panel", "--json"), "slow")
    small = SAMPLE_LOT / "elisa_ifng.csv"
    quick = Case(("potency", "elisa", str(small), "--assay", ELISA_ASSAY, "--json"), "quick", True)
    # well below a gating process (numba alone takes ~0.5 s to load): it must time out
    outcomes = run_cases([slow, quick], timeout_s=0.3, workdir=tmp_path)
    assert outcomes[0].problem is not None and "took more than" in outcomes[0].problem
    # the next case ran in a new process (its own result, or its own time-out)
    assert outcomes[1].report or (outcomes[1].problem and "took more" in outcomes[1].problem)


def test_the_harness_catches_a_case_past_its_memory(tmp_path: Path) -> None:
    stained = SAMPLE_LOT / "tube1_stained.fcs"
    if not stained.exists():
        pytest.skip(f"sample data not generated: {stained}")
    # the imports and a gate of the sample tube need well over 160 MB of data; at 330 MB the
    # outcome depended on the run (a full CI run once gated the tube within it)
    case = Case(("flow", "gate", str(stained), "--template", "cd19-car-t-panel", "--json"), "big")
    outcome = run_cases([case], memory_bytes=160 << 20, workdir=tmp_path)[0]
    # numpy says MemoryError; an import that cannot allocate says SystemError: either is caught
    assert outcome.problem is not None


def test_the_judge_refuses_what_breaks_the_contract() -> None:
    case = Case(("qpcr", "read", "x.csv", "--json"), "judge")
    good = {"exception": None, "exit_code": 2, "stdout_empty": True, "stdout_json": False}
    assert judge(case, {**good, "stderr": "warning: odd\nerror: x.csv: cut short\n"}) is None
    assert judge(case, {**good, "stderr": "error: a\nerror: b\n"}) is not None
    assert judge(case, {**good, "stderr": "error: x: internal error (please report)\n"})
    assert judge(case, {**good, "stderr": "Traceback (most recent call last):\nerror: x\n"})
    assert judge(case, {**good, "exit_code": 1, "stderr": ""}) is not None
    assert (
        judge(
            Case(case.args, "judge", may_fail_result=True),
            {**good, "exit_code": 1, "stderr": "", "stdout_json": True},
        )
        is None
    )
    assert judge(case, {**good, "exit_code": 0, "stderr": ""}) is not None  # no JSON
    assert judge(case, {**good, "exit_code": 2, "stderr": "error: x\n", "stdout_empty": False})
