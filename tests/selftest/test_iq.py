"""Installation qualification on a real install: the project's wheel built by its build backend
(hatchling, as a release is built) and installed by pip into a fresh environment, so RECORD is the
one an installer writes. Then the install is damaged the ways IQ must catch."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PathDistribution, distribution
from pathlib import Path

import pytest

from cytorelease.selftest.checks import Status
from cytorelease.selftest.iq import dependency_check, installed_record_check, record_check

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling", reason="the wheel is built with hatchling (test extra)")
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work), str(ROOT)],
        check=True,
    )
    (wheel,) = work.glob("cytorelease-*.whl")
    # a fresh environment of its own: pip never touches the one running the tests (pip's
    # --prefix would uninstall the project from it first)
    env = work / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    target = env / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(target), "install", "--no-deps", "--no-compile", str(wheel)],
        check=True,
    )
    (found,) = env.glob("lib/python*/site-packages")
    return found


def _copy_site(site: Path, tmp_path: Path) -> Path:
    """A private copy (a test damages it) of the whole environment: RECORD names ../../../bin."""
    import shutil

    prefix = tmp_path / "prefix"
    shutil.copytree(site.parents[2], prefix, symlinks=True)
    return prefix / site.relative_to(site.parents[2])


def _check(site: Path) -> tuple[Status, dict[str, object], list[dict[str, object]]]:
    (info,) = site.glob("cytorelease-*.dist-info")
    check = record_check(PathDistribution(info), site / "cytorelease" / "__init__.py")
    return check.status, check.observed, check.items


def test_an_intact_wheel_install_passes(site: Path, tmp_path: Path) -> None:
    status, observed, items = _check(_copy_site(site, tmp_path))
    assert status is Status.PASS, items
    assert observed["mismatches"] == 0
    # every module, bundled definition and the entry point: well over the 200 files shipped
    assert isinstance(observed["files_checked"], int) and observed["files_checked"] > 200


def test_a_changed_module_fails_naming_it(site: Path, tmp_path: Path) -> None:
    copy = _copy_site(site, tmp_path)
    rounding = copy / "cytorelease" / "spec" / "rounding.py"
    rounding.write_text(rounding.read_text().replace("ROUND_HALF_UP", "ROUND_HALF_EVEN"))
    status, _, items = _check(copy)
    assert status is Status.FAIL
    assert items == [
        {"file": "cytorelease/spec/rounding.py", "problem": "content differs from RECORD"}
    ]


def test_a_changed_bundled_spec_and_a_deleted_file_fail(site: Path, tmp_path: Path) -> None:
    copy = _copy_site(site, tmp_path)
    spec = next((copy / "cytorelease" / "_bundled" / "specs").rglob("*.yaml"))
    spec.write_bytes(spec.read_bytes() + b"\n# edited\n")
    (copy / "cytorelease" / "demo.py").unlink()
    status, _, items = _check(copy)
    assert status is Status.FAIL
    problems = {str(i["file"]): i["problem"] for i in items}
    assert problems[str(spec.relative_to(copy))] == "content differs from RECORD"
    assert problems["cytorelease/demo.py"] == "missing"


def test_a_module_dropped_into_the_package_fails(site: Path, tmp_path: Path) -> None:
    copy = _copy_site(site, tmp_path)
    (copy / "cytorelease" / "flow" / "patch.py").write_text("X = 1\n")
    status, _, items = _check(copy)
    assert status is Status.FAIL
    assert items == [{"file": "cytorelease/flow/patch.py", "problem": "not in RECORD"}]


def test_a_package_imported_from_elsewhere_fails(site: Path, tmp_path: Path) -> None:
    copy = _copy_site(site, tmp_path)
    (info,) = copy.glob("cytorelease-*.dist-info")
    check = record_check(PathDistribution(info), ROOT / "cytorelease" / "__init__.py")
    assert check.status is Status.FAIL
    assert check.items[0]["problem"] == "the package in use is not this RECORD's"


def test_an_unsatisfied_requirement_fails(site: Path, tmp_path: Path) -> None:
    copy = _copy_site(site, tmp_path)
    (info,) = copy.glob("cytorelease-*.dist-info")
    assert dependency_check(PathDistribution(info)).status is Status.PASS
    metadata = info / "METADATA"
    text = metadata.read_text(encoding="utf-8")
    metadata.write_text(text.replace("Requires-Dist: numpy>=1.26", "Requires-Dist: numpy>=99"))
    check = dependency_check(PathDistribution(info))
    assert check.status is Status.FAIL
    assert check.detail.startswith("numpy ") and check.detail.endswith("(needs >=99)")


def test_this_editable_install_is_flagged_not_passed() -> None:
    direct = distribution("cytorelease").read_text("direct_url.json") or ""
    if '"editable": true' not in direct:
        pytest.skip("cytorelease is installed from a wheel here, not editable")
    check = installed_record_check()
    assert check.status is Status.FLAG
    assert check.observed["editable"] is True
    assert check.observed["modules_from"] == str(ROOT / "cytorelease")
    assert len(check.observed["modules_sha256"]) == 64
