"""The lot manifest: validation with field and line, and paths confined to the lot folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cytorelease._resources import resource_dir
from cytorelease.errors import InputError, ManifestError
from cytorelease.lot.manifest import TubeRole, load_manifest


@pytest.fixture
def lot(tmp_path: Path) -> Path:
    source = resource_dir("sample_data") / "lot-CAR-0001"
    target = tmp_path / "lot"
    shutil.copytree(source, target)
    return target


def _edit(lot: Path, old: str, new: str) -> None:
    manifest = lot / "lot.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert old in text
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_sample_lot_manifest_loads(lot: Path) -> None:
    manifest = load_manifest(lot)
    assert manifest.lot_id == "lot-CAR-0001"
    assert manifest.product == "cd19-car-t"
    assert manifest.inputs.flow is not None
    roles = [t.role for t in manifest.inputs.flow.tubes]
    assert roles == [TubeRole.STAINED, TubeRole.FMO]
    assert manifest.manual == []  # manual results are entered with `cytorelease manual`


@pytest.mark.parametrize("bad", ["../elsewhere.fcs", "/etc/passwd", "sub/../../x.fcs"])
def test_paths_outside_the_lot_are_refused(lot: Path, bad: str) -> None:
    _edit(lot, "path: tube1_stained.fcs", f"path: {bad}")
    with pytest.raises(ManifestError, match="leaves the lot folder"):
        load_manifest(lot)


def test_symlink_leading_outside_is_refused(lot: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.fcs"
    outside.write_bytes(b"x")
    (lot / "link.fcs").symlink_to(outside)
    _edit(lot, "path: tube1_stained.fcs", "path: link.fcs")
    with pytest.raises(ManifestError, match="resolves outside the lot folder"):
        load_manifest(lot)


def test_missing_input_file_named(lot: Path) -> None:
    (lot / "tube2_fmo_car.fcs").unlink()
    with pytest.raises(
        InputError, match=r"'tube2_fmo_car\.fcs' named in the manifest does not exist"
    ):
        load_manifest(lot)


def test_typo_field_names_field_and_line(lot: Path) -> None:
    _edit(lot, "chain_of_identity:", "chain_of_identiy:")
    with pytest.raises(ManifestError) as info:
        load_manifest(lot)
    message = info.value.one_line()
    text = (lot / "lot.yaml").read_text().splitlines()
    line = next(n for n, t in enumerate(text, 1) if t.startswith("chain_of_identiy:"))
    assert f"line {line}: unknown field" in message  # the unknown key is not quoted
    assert "chain_of_identiy" not in message


def test_unknown_manual_attribute(lot: Path) -> None:
    manifest = lot / "lot.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8")
        + "manual:\n- attribute: manual.apperance\n  value: conforms\n"
        "  entered_by: someone\n  entered_at: 2026-07-05T10:00:00Z\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ManifestError, match=r"manual\[0\]\.attribute \(line \d+\): unknown attribute"
    ):
        load_manifest(lot)


def test_not_a_lot_folder(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"no lot\.yaml"):
        load_manifest(tmp_path)
    with pytest.raises(InputError, match="not a lot folder"):
        load_manifest(tmp_path / "nope")


def test_a_tube_role_the_analysis_does_not_use_is_refused(lot: Path) -> None:
    _edit(lot, "role: fmo", "role: isotype")
    with pytest.raises(ManifestError, match=r"inputs\.flow\.tubes\[1\]\.role \(line \d+\)"):
        load_manifest(lot)


def test_a_second_fmo_tube_is_refused_not_ignored(lot: Path, tmp_path: Path) -> None:
    from cytorelease.lot.release import release_lot

    _edit(
        lot,
        "    - path: tube1_stained.fcs\n      role: stained",
        "    - path: tube1_stained.fcs\n      role: fmo",
    )
    with pytest.raises(
        ManifestError, match="exactly one stained tube and at most one FMO tube, found 0 and 2"
    ):
        release_lot(lot, out=tmp_path / "out")
