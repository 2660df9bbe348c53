"""What a `flow gate --json` process imports: pandas only when a caller asks for the DataFrame.

pandas costs a gating process ~0.3 s of import; the result keeps plain rows and builds
``GatingResult.populations`` on request, so the CLI's JSON path never loads it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating import gate_sample, load_template


def test_flow_gate_json_process_never_imports_pandas(
    small_tubes: tuple[Path, Path], tmp_path: Path
) -> None:
    stained, fmo = small_tubes
    argv = [sys.executable, "-X", "importtime", "-m", "cytorelease", "flow", "gate", str(stained)]
    argv += ["-t", "cd19-car-t-panel", "--control", str(fmo), "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "cytorelease.flow.gating.pipeline" in imported  # the listing is of the gating run
    assert "pandas" not in imported


def test_populations_frame_on_request_equals_the_rows(small_tubes: tuple[Path, Path]) -> None:
    stained, fmo = small_tubes
    result = gate_sample(
        read_fcs(stained), load_template("cd19-car-t-panel"), control=read_fcs(fmo)
    )
    frame = result.populations
    assert list(frame["gate_id"]) == [row.gate_id for row in result.rows]
    assert [int(c) for c in frame["count"]] == [result.count(r.gate_id) for r in result.rows]
    assert frame["parent"].iloc[0] is None  # text columns hold objects: a top-level parent
    # the result takes rows only: a DataFrame is refused, not read as rows
    with pytest.raises(TypeError, match="a population row is a PopulationRow or a tuple"):
        type(result)(frame, result.membership, result.sample, result.strategy)
