"""The result record names the numeric dependencies' versions and the CoA template's hash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from cytorelease.demo import find_sample_lot
from cytorelease.lot.release import release_lot
from cytorelease.provenance import NUMERIC_DEPENDENCIES, dependency_versions, software
from cytorelease.report.render import DEFAULT_TEMPLATE, page_environment
from cytorelease.report.template import template_sha256

REPORTS = Path(__file__).resolve().parents[2] / "reports"


def test_software_names_each_numeric_dependency_at_its_installed_version() -> None:
    versions = software()["dependencies"]
    assert isinstance(versions, dict)
    assert list(versions) == list(NUMERIC_DEPENDENCIES)
    for name in ("numpy", "scipy", "pandas", "numba", "statsmodels", "cryptography"):
        assert versions[name] == metadata.version(name)


def test_a_missing_dependency_is_named_not_left_out() -> None:
    assert "not installed" not in dependency_versions().values()  # all are installed here
    assert set(dependency_versions()) == set(NUMERIC_DEPENDENCIES)


def test_release_record_carries_dependency_versions_and_template_hash(tmp_path: Path) -> None:
    moment = datetime(2026, 7, 20, 9, 30, tzinfo=UTC)
    outcome = release_lot(find_sample_lot(), out=tmp_path, created_at=moment)
    record = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert record["software"]["dependencies"]["numpy"] == metadata.version("numpy")
    assert record["software"]["dependencies"]["scipy"] == metadata.version("scipy")
    # the template hash taken here over the project's reports/ folder, not via the release
    expected = template_sha256(page_environment(REPORTS), DEFAULT_TEMPLATE)
    assert record["rendering"] == {
        "template": DEFAULT_TEMPLATE,
        "template_sha256": expected,
        "generated_at": "2026-07-20T09:30:00Z",
    }
    assert outcome.report_path.is_file()
