"""Routing files to lots by their own keywords; the instrument allow-list's validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.errors import InputError, ManifestError
from cytorelease.hook.identify import FileKind
from cytorelease.hook.instruments import InstrumentKind, load_instruments
from cytorelease.hook.routing import load_lot_plans, route_file
from cytorelease.records.datadir import DataDir

from .conftest import install_manifest


@pytest.fixture
def plans(data: DataDir, small_lots: dict[int, Path]) -> dict:  # type: ignore[type-arg]
    install_manifest(data, small_lots[11])
    found, problems = load_lot_plans(data.lots_dir)
    assert problems == []
    return found


def test_lot_from_custom_keyword_input_from_fil(plans: dict) -> None:  # type: ignore[type-arg]
    meta = {"lot": "lot-CAR-0011", "fil": "tube2_fmo_car.fcs", "src": None}
    route = route_file(FileKind.FCS, meta, "export_0042.fcs", plans)
    assert (route.lot, route.input_path) == ("lot-CAR-0011", "tube2_fmo_car.fcs")


def test_lot_from_src_input_from_role_keyword(plans: dict) -> None:  # type: ignore[type-arg]
    meta = {"lot": None, "src": "lot-CAR-0011 stained", "fil": "x.fcs", "tube_role": "stained"}
    route = route_file(FileKind.FCS, meta, "y.fcs", plans)
    assert (route.lot, route.input_path, route.reason) == (
        "lot-CAR-0011",
        "tube1_stained.fcs",
        "tube role 'stained'",
    )


def test_the_file_name_alone_never_picks_the_lot(plans: dict) -> None:  # type: ignore[type-arg]
    route = route_file(FileKind.FCS, {"lot": None, "src": None}, "tube1_stained.fcs", plans)
    assert route.lot is None
    assert route.reason == "no lot manifest matches the file's lot (none)"


def test_export_sample_name_picks_the_lot_but_the_lot_has_no_qpcr_input(
    plans: dict,  # type: ignore[type-arg]
) -> None:
    meta = {"samples": ["NTC", "lot-CAR-0011 DP"]}
    route = route_file(FileKind.QPCR_EXPORT, meta, "run.csv", plans)
    assert route.lot == "lot-CAR-0011" and route.input_path is None
    assert route.reason == "lot lot-CAR-0011 names no input that matches this qpcr-export file"


def test_an_invalid_lot_manifest_is_reported_and_skipped(data: DataDir) -> None:
    bad = data.lots_dir / "lot-X" / "lot.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("schema: cytorelease.lot/1\nlot_id: lot-X\nproduct: p\n", encoding="utf-8")
    misplaced = data.lots_dir / "lot-Y" / "lot.yaml"
    misplaced.parent.mkdir(parents=True)
    plans, problems = load_lot_plans(data.lots_dir)
    assert plans == {} and len(problems) == 1
    assert isinstance(problems[0], ManifestError) and problems[0].path == str(bad)
    assert "chain_of_identity" in problems[0].problem


def test_a_manifest_outside_its_lot_folder_is_refused(
    data: DataDir, small_lots: dict[int, Path]
) -> None:
    target = data.lots_dir / "wrong-folder" / "lot.yaml"
    target.parent.mkdir(parents=True)
    target.write_bytes((small_lots[11] / "lot.yaml").read_bytes())
    _, problems = load_lot_plans(data.lots_dir)
    assert problems[0].problem == (
        "lot_id 'lot-CAR-0011' differs from its folder name 'wrong-folder'"
    )


def test_instrument_list_loads(data: DataDir) -> None:
    listing = load_instruments(data.instruments_path)
    found = listing.find("QS-01")
    assert found is not None and found.kind is InstrumentKind.QPCR and found.serial == "272510034"
    assert listing.find("nope") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "schema: cytorelease.instruments/1\ninstruments:\n  - id: A\n    serial: S\n"
            "    kind: microscope\n",
            "instruments[0].kind (line 5): Input should be 'flow-cytometer', 'qpcr', 'dpcr' or "
            "'plate-reader'",
        ),
        (
            "schema: cytorelease.instruments/1\ninstruments:\n  - {id: A, serial: S, kind: qpcr}\n"
            "  - {id: A, serial: T, kind: qpcr}\n",
            "instruments[1].id (line 4): 'A' is listed twice",
        ),
        (
            "schema: cytorelease.instruments/1\ninstruments:\n  - {id: A, serial: S, kind: qpcr,"
            " room: 3}\n",
            "instruments[0] (line 3): unknown field (check the spelling)",
        ),
        ("instruments: [\n", "line 2: not valid YAML"),
    ],
)
def test_instrument_list_errors_name_field_and_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "instruments.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_instruments(path)
    assert caught.value.path == str(path)
    assert caught.value.problem.startswith(problem)
