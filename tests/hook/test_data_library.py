"""The site library a data folder names in ``library.yaml`` judges the worker's releases
(issue 13 item 1): recorded (path, LOCK hash) and shown, its LOCK deciding what is locked."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cytorelease import _resources
from cytorelease.errors import InputError
from cytorelease.hook.worker import run_worker
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import open_store
from cytorelease.report.record import extract_record

from .conftest import hook_tubes, install_manifest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_library_leak(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CYTORELEASE_LIBRARY", raising=False)
    monkeypatch.setattr(_resources, "_library_override", None)
    yield
    _resources.set_library(None)


def _site_library(folder: Path) -> Path:
    shutil.copytree(ROOT / "specs", folder / "specs")
    shutil.copytree(ROOT / "gating", folder / "gating")
    # a new, unlocked version of the panel: only this library could have judged with it
    panel = folder / "gating" / "cd19-car-t-panel.yaml"
    text = panel.read_text(encoding="utf-8")
    panel.write_text(text.replace('version: "1.0.0"', 'version: "1.0.1"', 1), encoding="utf-8")
    return folder


def test_the_worker_judges_with_the_library_its_data_folder_names(
    data: DataDir, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    library = _site_library(tmp_path / "site")
    data.library_config_path.write_text(f"library: {library}\n", encoding="utf-8")
    assert data.configured_library() == library
    store = open_store(data, url="")
    try:
        install_manifest(data, small_lots[11])
        hook_tubes(data, store, small_lots[11], tmp_path)
        lines: list[str] = []
        report = run_worker(data, store, once=True, log=lines.append)
    finally:
        store.close()
    assert any(x.startswith(f"library: {library.resolve()} (site, LOCK sha256 ") for x in lines)
    (release,) = report.releases
    record = extract_record(Path(release["report"]).read_bytes())
    assert record["library"]["path"] == str(library.resolve())
    assert record["library"]["lock_sha256"] == _resources.library_identity()["lock_sha256"]
    template = next(d for d in record["definitions"] if d["kind"] == "gating-template")
    assert (template["version"], template["locked"]) == ("1.0.1", False)
    spec = record["definitions"][0]
    assert spec["kind"] == "spec" and spec["locked"] is True  # the site LOCK lists it
    assert record["evaluation"]["disposition"] != "PASS"


def test_a_relative_library_is_found_beside_the_data_folder_and_given_one_wins(
    data: DataDir, tmp_path: Path
) -> None:
    _site_library(data.root / "site")
    data.library_config_path.write_text("library: site\n", encoding="utf-8")
    assert data.configured_library() == data.root / "site"
    other = _site_library(tmp_path / "given")
    _resources.set_library(other)  # --library / CYTORELEASE_LIBRARY take precedence
    assert _resources.use_data_library(data.configured_library()) == other
    _resources.set_library(None)
    assert _resources.use_data_library(data.configured_library()) == data.root / "site"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("library: nowhere\n", "the library named in {config} does not exist"),
        ("library: [a, b]\n", "line 1: expected one key, 'library: <folder>'"),
        ("folder: x\nlibrary: y\n", "expected one key, 'library: <folder>'"),
        ("library: empty\n", "holds none of gating/, assays/, specs/, reports/"),
    ],
)
def test_a_library_configuration_that_names_no_library_is_refused(
    data: DataDir, text: str, message: str
) -> None:
    (data.root / "empty").mkdir()
    data.library_config_path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        data.configured_library()
    assert message.format(config=data.library_config_path) in info.value.one_line()


def test_without_a_library_configuration_the_bundled_library_judges(data: DataDir) -> None:
    assert data.configured_library() is None
    assert _resources.use_data_library(None) is None
