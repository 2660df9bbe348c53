"""The README's first command, for real: a fresh virtual environment, `pip install .` (runtime
dependencies only, so the newest releases of pandas and friends, not the test pins), and
`cytorelease demo` run outside the source tree, finding its bundled data in the wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pip_install_then_demo_outside_the_source_tree(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    demo = subprocess.run(
        [str(venv / "bin" / "cytorelease"), "demo", "--out", str(work / "demo-out"), "--json"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    summary = json.loads(demo.stdout)
    assert summary["verified"] is True
    assert summary["disposition"] == "PASS"
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import cytorelease, pathlib; print(pathlib.Path(cytorelease.__file__).parent)",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    package = Path(where)
    assert not package.is_relative_to(ROOT), "the demo must run from the installed wheel"
    for kind in ("gating", "assays", "specs", "reports", "sample_data"):
        assert (package / "_bundled" / kind).is_dir(), f"the wheel lacks its bundled {kind}/"
