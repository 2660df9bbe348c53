"""SoftMax Pro ``Group:`` blocks as the export's layout, checked against the assay like Gen5's.

Plates are written the way the real SoftMax Pro export (``MD_SMP_absorbance_endpoint_example01``
in ../shared/data/plate) is: its ``##BLOCKS=`` line, its ``Plate:`` header line, a Temperature
table of one 450 nm read, then groups whose first line of a sample holds the sample name and
descriptor and whose continuation lines leave both blank, each followed by its
``Group Column / Formula Name / Formula`` table, ``Group Summaries`` and ``~End``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import InputError
from cytorelease.potency.elisa import analyse_elisa
from cytorelease.potency.layout_check import export_layout
from cytorelease.potency.readers import read_plate
from cytorelease.potency.readers._text import decode_text
from cytorelease.synth.elisa_plate import write_elisa_plate
from tests.conftest import shared_path
from tests.potency.gen5_build import write_gen5

ASSAY = "potency-ifng-elisa"
REAL_SMP = ("plate", "MD_SMP_absorbance_endpoint_example01.txt")
ROWS = "ABCDEFGH"
runner = CliRunner()

# (sample, descriptor or None, wells): one sample's wells, the descriptor on its first line
Sample = tuple[str, float | None, Sequence[str]]

STANDARD_FORMULAS = [
    "Group Column\tFormula Name\tFormula\tPrecision\tNotation",
    "1\tSample\t!SampleNames\t2 decimal places\tNumeric",
    "2\tStandard Value\t!SampleDescriptor\t3 decimal places\tNumeric",
    "3\tWells\t!WellIDs\t2 decimal places\tNumeric",
    "4\tOD\t!WellValues\t3 decimal places\tNumeric",
    "5\tWellPlateName\t!WellPlateName\t3 decimal places\tNumeric",
]
UNKNOWN_FORMULAS = [
    "Group Column\tFormula Name\tFormula\tPrecision\tNotation",
    "1\tSample\t!SampleNames\t2 decimal places\tNumeric",
    "2\tWells\t!WellIDs\t2 decimal places\tNumeric",
    "3\tOD\t!WellValues\t3 decimal places\tNumeric",
    "4\tDilution\t!SampleDescriptor\t3 decimal places\tNumeric",
    "5\tWellPlateName\t!WellPlateName\t3 decimal places\tNumeric",
]


def _real_lines() -> list[str]:
    return decode_text(shared_path(*REAL_SMP).read_bytes()).splitlines()


def _plate_block(name: str, ods: Mapping[str, float]) -> list[str]:
    """A Plate: block as the real export writes Plate01, named ``name``, holding ``ods``."""
    header = next(line for line in _real_lines() if line.startswith("Plate:\tPlate01"))
    lines = [header.replace("Plate01", name), _real_lines()[2]]
    for index, row in enumerate(ROWS):
        cells = [f"{ods[f'{row}{c}']:.6f}" if f"{row}{c}" in ods else "" for c in range(1, 13)]
        lines.append("\t" + ("NaN" if index == 0 else "") + "\t" + "\t".join(cells) + "\t\t")
    return [*lines, "", "~End"]


def _standards_group(plates: Mapping[str, Sequence[Sample]], ods: Mapping[str, float]) -> list[str]:
    lines = ["Group: Standards", "Sample\tStandard Value ng/mL\tWells\tOD\tWellPlateName\t"]
    for plate, samples in plates.items():
        for name, value, wells in samples:
            for n, well in enumerate(wells):
                first = n == 0
                lines.append(
                    f"{name if first else ' '}\t{f'{value:.3f}' if first else ' '}\t{well}\t"
                    f"{ods.get(well, 0.0):.3f}\t{plate}\t"
                )
    return [*lines, "", *STANDARD_FORMULAS, "", "Group Summaries", "~End "]


def _samples_group(
    group: str, plates: Mapping[str, Sequence[Sample]], ods: Mapping[str, float]
) -> list[str]:
    lines = [f"Group: {group}", "Sample\tWells\tOD\tDilution\tWellPlateName\t"]
    for plate, samples in plates.items():
        for name, dilution, wells in samples:
            for n, well in enumerate(wells):
                first = n == 0
                shown = f"{dilution:.3f}" if first and dilution is not None else " "
                lines.append(
                    f"{name if first else ' '}\t{well}\t{ods.get(well, 0.0):.3f}\t{shown}\t"
                    f"{plate}\t"
                )
    return [*lines, "", *UNKNOWN_FORMULAS, "", "Group Summaries", "~End "]


def write_softmax(
    path: Path, plates: Mapping[str, Mapping[str, float]], groups: list[list[str]], encoding: str
) -> Path:
    blocks = [line for name, ods in plates.items() for line in _plate_block(name, ods)]
    group_lines = [line for group in groups for line in group]
    text = "\r\n".join([f"##BLOCKS= {len(plates) + len(groups)}", *blocks, *group_lines]) + "\r\n"
    path.write_text(text, encoding=encoding, newline="")
    return path


def _ods(tmp_path: Path) -> dict[str, float]:
    """ODs of the bundled assay's plate drawn from a known 4PL (the example lot's plate)."""
    write_elisa_plate(tmp_path, seed=11, ifng_truth_pg_ml=1850.0)
    return dict(read_plate(tmp_path / "elisa_ifng.csv").select(wavelength_nm=450).values)


def _bundled(scale: float = 1.0) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """The bundled assay's standards (times ``scale``), blanks and samples as SoftMax samples."""
    from cytorelease.potency.assay import load_potency_assay

    assay = load_potency_assay(ASSAY).assay
    standards = [
        (f"{n:02d}", s.concentration * scale, s.wells)
        for n, s in enumerate(assay.standards, start=1)
    ]
    blanks = [("01", None, assay.blanks.wells)] if assay.blanks else []
    samples = [(f"{n:02d}", s.dilution, s.wells) for n, s in enumerate(assay.samples, start=1)]
    return standards, blanks, samples


def _bundled_plate(
    tmp_path: Path, encoding: str, *, scale: float = 1.0, second: float | None = None
) -> Path:
    """One plate (or two, the second's standards times ``second``) laid out as the assay."""
    ods = _ods(tmp_path)
    standards, blanks, samples = _bundled(scale)
    plates = {"Plate01": ods} | ({"Plate02": ods} if second is not None else {})
    std = {"Plate01": standards} | ({"Plate02": _bundled(second)[0]} if second is not None else {})
    groups = [
        _standards_group(std, ods),
        _samples_group("Blanks", {p: blanks for p in plates}, ods),
        _samples_group("Unknowns", {p: samples for p in plates}, ods),
    ]
    return write_softmax(tmp_path / "smp.txt", plates, groups, encoding)


def _potency(result_stdout: str) -> float:
    document = json.loads(result_stdout)
    return next(
        m["value"] for m in document["measurements"] if m["attribute"] == "potency.ifng_pg_ml"
    )


def test_real_softmax_groups_are_the_layout() -> None:
    """The real export's Standards group: 01 at 320 ng/mL in A1-A3 down to 07 at 5 in G1-G3 on
    both plates; UnknownsNoDiln: 01 in A4-A6 ... 24 in H10-H12, with no dilution column; row
    H of columns 1-3 is in no group."""
    export = read_plate(shared_path(*REAL_SMP))
    assert export.plates == ("Plate01", "Plate02")
    levels = [320.0, 160.0, 80.0, 40.0, 20.0, 10.0, 5.0]
    for n, (row, conc) in enumerate(zip("ABCDEFG", levels, strict=True), start=1):
        for column in (1, 2, 3):
            assert export.layout[f"{row}{column}"] == f"STD{n}"
            assert export.layout_values[f"{row}{column}"] == conc
    assert [export.layout[w] for w in ("A4", "A6", "H6", "A7", "H9", "A10", "H12")] == [
        "SPL1",
        "SPL1",
        "SPL8",
        "SPL9",
        "SPL16",
        "SPL17",
        "SPL24",
    ]
    assert not {"H1", "H2", "H3"} & set(export.layout)
    assert len(export.layout) == 93 and len(export.layout_values) == 21  # standards only
    assert export.metadata == {}  # no group skipped
    layout = export_layout(export)
    assert layout["A1"].concentration == 320.0 and layout["A4"].dilution is None


def test_real_softmax_against_the_bundled_assay_is_refused_naming_the_wells() -> None:
    path = shared_path(*REAL_SMP)
    args = ["potency", "elisa", str(path), "--assay", ASSAY, "--plate", "Plate01"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    first = result.output.strip().splitlines()[0]
    assert first.startswith(
        f"error: {path}: layout: well A1 is STD1 (conc 320) in the export, standard S1 "
        "(conc 1000) in assay potency-ifng-elisa"
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_softmax_layout_matching_the_assay_is_analysed(tmp_path: Path, encoding: str) -> None:
    plate = _bundled_plate(tmp_path, encoding)
    export = read_plate(plate)
    assert export.layout["A1"] == "STD1" and export.layout_values["A1"] == 1000.0
    assert export.layout["H1"] == "BLK" and export.layout["A3"] == "SPL1"
    assert export.layout_values["A3"] == 5.0  # the Dilution column: fold 5
    result = runner.invoke(app, ["potency", "elisa", str(plate), "--assay", ASSAY, "--json"])
    assert result.exit_code == 0, result.output
    assert abs(_potency(result.stdout) / 1850.0 - 1) < 0.1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_softmax_standards_contradicting_the_assay_are_refused(
    tmp_path: Path, encoding: str
) -> None:
    """The Standards group starts at 2000 where the assay's S1 is 1000: exit 2 naming wells."""
    plate = _bundled_plate(tmp_path, encoding, scale=2.0)
    result = runner.invoke(app, ["potency", "elisa", str(plate), "--assay", ASSAY])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(
        f"error: {plate}: layout: well A1 is STD1 (conc 2000) in the export, standard S1 "
        "(conc 1000) in assay potency-ifng-elisa; well A2 is STD1 (conc 2000)"
    )
    assert "and 10 more wells" in result.output  # 14 standard wells, 4 named


def test_softmax_sample_at_another_dilution_is_refused(tmp_path: Path) -> None:
    ods = _ods(tmp_path)
    standards, blanks, samples = _bundled()
    samples[0] = ("01", 10.0, samples[0][2])  # assay: dilution 5
    groups = [
        _standards_group({"Plate01": standards}, ods),
        _samples_group("Blanks", {"Plate01": blanks}, ods),
        _samples_group("Unknowns", {"Plate01": samples}, ods),
    ]
    plate = write_softmax(tmp_path / "smp.txt", {"Plate01": ods}, groups, "utf-16")
    with pytest.raises(InputError, match=r"well A3 is SPL1 \(dilution 10\) in the export, sample"):
        analyse_elisa(plate, ASSAY)


def test_plates_laid_out_differently_keep_the_analysed_plates_layout(tmp_path: Path) -> None:
    """Plate02's standards are twice Plate01's: the two layouts are never merged. Without a
    plate named, the export has no one layout (refused naming the well and both plates); the
    analysis of Plate01 uses Plate01's layout and passes, that of Plate02 is refused."""
    plate = _bundled_plate(tmp_path, "utf-16", second=2.0)
    export = read_plate(plate)
    assert export.layout == {}  # no merged layout
    with pytest.raises(InputError) as caught:
        export_layout(export)
    assert "well A1 is STD1 (1000) on plate Plate01, STD1 (2000) on plate Plate02" in str(
        caught.value
    )
    assert "--plate" in str(caught.value)
    args = ["potency", "elisa", str(plate), "--assay", ASSAY]
    unnamed = runner.invoke(app, args)
    assert unnamed.exit_code == 2 and "--plate" in unnamed.output
    first = runner.invoke(app, [*args, "--plate", "Plate01", "--json"])
    assert first.exit_code == 0, first.output
    assert abs(_potency(first.stdout) / 1850.0 - 1) < 0.1
    second = runner.invoke(app, [*args, "--plate", "Plate02"])
    assert second.exit_code == 2
    assert "layout: well A1 is STD1 (conc 2000) in the export, standard S1" in second.output


def test_a_well_with_two_roles_on_one_plate_is_refused(tmp_path: Path) -> None:
    ods = _ods(tmp_path)
    standards, _, samples = _bundled()
    samples.append(("05", 1.0, ["A1"]))  # A1 is standard S1 too
    groups = [
        _standards_group({"Plate01": standards}, ods),
        _samples_group("Unknowns", {"Plate01": samples}, ods),
    ]
    plate = write_softmax(tmp_path / "smp.txt", {"Plate01": ods}, groups, "utf-8")
    with pytest.raises(InputError, match=r"well A1 of plate Plate01 two roles: STD1 \(1000\) in"):
        read_plate(plate)


def test_a_group_without_a_well_column_is_skipped_and_said(tmp_path: Path) -> None:
    """The Standards group's Wells column (and its !WellIDs formula) is gone: the group is not
    read as layout, never guessed; the assay's standard wells are then not laid out in the
    export, and the analysis says why."""
    ods = _ods(tmp_path)
    standards, blanks, samples = _bundled()
    broken = [
        line.replace("\tWells\t", "\tWhere\t").replace("!WellIDs", "!Other")
        for line in _standards_group({"Plate01": standards}, ods)
    ]
    groups = [
        broken,
        _samples_group("Blanks", {"Plate01": blanks}, ods),
        _samples_group("Unknowns", {"Plate01": samples}, ods),
    ]
    plate = write_softmax(tmp_path / "smp.txt", {"Plate01": ods}, groups, "utf-16")
    export = read_plate(plate)
    assert "A1" not in export.layout and export.layout["H1"] == "BLK"
    assert export.metadata["skipped groups"].startswith("group 'Standards' (line ")
    assert "no well column" in export.metadata["skipped groups"]
    with pytest.raises(InputError, match="well A1 is empty in the export, standard S1"):
        analyse_elisa(plate, ASSAY)
    # the only group skipped: no layout to check; the analysis notes the group it did not read
    alone = write_softmax(tmp_path / "alone.txt", {"Plate01": ods}, [broken], "utf-16")
    result = analyse_elisa(alone, ASSAY)
    assert any(
        "not read as its layout" in note and "no well column" in note for note in result.notes
    )


def test_softmax_dilution_series_from_the_export(tmp_path: Path) -> None:
    """One unknown in four dilutions (1, 2, 4, 8 in the Dilution column): SPL1:1 ... SPL1:4,
    which an assay with layout from-export analyses as one series."""
    ods = _ods(tmp_path)
    standards, blanks, _ = _bundled()
    series: list[Sample] = [
        ("01", float(2**k), [f"{'EFGH'[k]}{c}" for c in (10, 11)]) for k in range(4)
    ]
    # the sample name only on its first line, each dilution's first line its Dilution
    lines = _samples_group("Unknowns", {"Plate01": series}, ods)
    lines = [lines[0], lines[1]] + [
        line if i == 0 else (" " + line[2:] if line.startswith("01") else line)
        for i, line in enumerate(lines[2:])
    ]
    groups = [
        _standards_group({"Plate01": standards}, ods),
        _samples_group("Blanks", {"Plate01": blanks}, ods),
        lines,
    ]
    plate = write_softmax(tmp_path / "smp.txt", {"Plate01": ods}, groups, "utf-8")
    export = read_plate(plate)
    assert [export.layout[f"{r}10"] for r in "EFGH"] == ["SPL1:1", "SPL1:2", "SPL1:3", "SPL1:4"]
    assert [export.layout_values[f"{r}11"] for r in "EFGH"] == [1.0, 2.0, 4.0, 8.0]
    assay = tmp_path / "from-export.yaml"
    assay.write_text(
        "schema: cytorelease.assay/1\nid: smp-from-export\nversion: '1.0'\nkind: potency-elisa\n"
        "title: t\nanalyte: IFN-gamma\nread: {wavelength_nm: 450}\nlayout: from-export\n"
        "samples:\n  - {name: SPL1, role: antigen-positive}\ncurve: {model: 4PL}\n",
        encoding="utf-8",
    )
    result = analyse_elisa(plate, assay)
    (spl1,) = result.samples
    assert [d.dilution for d in spl1.dilutions] == [1.0, 2.0, 4.0, 8.0]


def test_a_control_where_the_assay_expects_a_sample_is_refused(tmp_path: Path) -> None:
    """Gen5 CTL1 in C3-C5, and a SoftMax Controls group there: the assay reads 'CAR-T alone'
    as a sample at dilution 1 in those wells."""
    from tests.potency.gen5_build import bundled_assay_layout

    ods = _ods(tmp_path)
    layout = bundled_assay_layout()
    layout |= {w: ("CTL1", None) for w in ("C3", "C4", "C5")}
    gen5 = write_gen5(tmp_path / "gen5.txt", layout, ods)
    with pytest.raises(InputError) as caught:
        analyse_elisa(gen5, ASSAY)
    message = str(caught.value)
    for well in ("C3", "C4", "C5"):
        assert f"well {well} is CTL1 in the export, sample 'CAR-T alone' (dilution 1)" in message
    standards, blanks, samples = _bundled()
    groups = [
        _standards_group({"Plate01": standards}, ods),
        _samples_group("Blanks", {"Plate01": blanks}, ods),
        _samples_group("Unknowns", {"Plate01": samples[:2] + samples[3:]}, ods),
        _samples_group("Controls", {"Plate01": [samples[2]]}, ods),
    ]
    smp = write_softmax(tmp_path / "smp.txt", {"Plate01": ods}, groups, "utf-16")
    assert read_plate(smp).layout["C3"] == "CTL1"
    result = runner.invoke(app, ["potency", "elisa", str(smp), "--assay", ASSAY])
    assert result.exit_code == 2
    assert "well C3 is CTL1 (dilution 1) in the export, sample 'CAR-T alone'" in result.output


def test_a_zero_standard_is_a_blank_and_a_negative_one_is_not_read(tmp_path: Path) -> None:
    """SoftMax Pro standards often end at 0.000 (a zero standard, no Blank group): those wells
    are blanks, as the assay's H1/H2, and the plate passes; a standard below zero is no
    concentration, and its group is skipped rather than read."""
    ods = _ods(tmp_path)
    standards, blanks, samples = _bundled()
    zero = [*standards, ("08", 0.0, blanks[0][2])]
    groups = [
        _standards_group({"Plate01": zero}, ods),
        _samples_group("Unknowns", {"Plate01": samples}, ods),
    ]
    plate = write_softmax(tmp_path / "smp.txt", {"Plate01": ods}, groups, "utf-16")
    export = read_plate(plate)
    assert export.layout["H1"] == "BLK" and "H1" not in export.layout_values
    assert export.layout["G1"] == "STD7" and "STD8" not in export.layout.values()
    assert analyse_elisa(plate, ASSAY).passed
    negative = [*standards, ("08", -1.0, blanks[0][2])]
    groups[0] = _standards_group({"Plate01": negative}, ods)
    plate = write_softmax(tmp_path / "neg.txt", {"Plate01": ods}, groups, "utf-16")
    export = read_plate(plate)
    assert "A1" not in export.layout
    assert "standard value '-1.000' is below zero" in export.metadata["skipped groups"]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("\tA1\t", "\tZ9\t", "group 'Standards' (line {line}): well line 1: 'Z9' is not a well"),
        (
            "01\t1000.000\t",
            "01\tn/a\t",
            "group 'Standards' (line {line}): sample '01': Standard Value 'n/a' is not a number",
        ),
    ],
)
def test_a_group_cell_that_is_not_a_well_or_a_number_skips_the_group(
    tmp_path: Path, old: str, new: str, reason: str
) -> None:
    ods = _ods(tmp_path)
    standards, _, _ = _bundled()
    group = _standards_group({"Plate01": standards}, ods)
    edited = [line.replace(old, new, 1) if line.startswith("01\t") else line for line in group]
    assert edited != group
    plate = write_softmax(tmp_path / "smp.txt", {"Plate01": ods}, [edited], "utf-8")
    line = 1 + plate.read_text(encoding="utf-8").splitlines().index("Group: Standards")
    export = read_plate(plate)
    assert export.layout == {}
    assert export.metadata["skipped groups"] == reason.format(line=line)


def test_a_group_block_cut_before_its_end_is_refused(tmp_path: Path) -> None:
    ods = _ods(tmp_path)
    standards, _, _ = _bundled()
    group = _standards_group({"Plate01": standards}, ods)[:-1]  # no ~End
    plate = write_softmax(tmp_path / "smp.txt", {"Plate01": ods}, [group], "utf-16")
    with pytest.raises(InputError, match=r"group block 'Standards' has no '~End' line"):
        read_plate(plate)


def test_a_group_well_off_the_plate_is_refused(tmp_path: Path) -> None:
    ods = _ods(tmp_path)
    standards, _, _ = _bundled()
    standards[0] = ("01", standards[0][1], ["A13", "A2"])  # a 384-well id on a 96-well plate
    groups = [_standards_group({"Plate01": standards}, ods)]
    plate = write_softmax(tmp_path / "smp.txt", {"Plate01": ods}, groups, "utf-8")
    with pytest.raises(InputError, match=r"group 'Standards' lays out well A13, which is not on "):
        read_plate(plate)
