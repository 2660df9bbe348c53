"""The generator's single-stain controls: their truth, and what the tubes carry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cytorelease.flow.fcs import read_fcs
from cytorelease.synth.controls import (
    CONTROLS_TRUTH_FILE,
    UNSTAINED_FILE,
    draw_spillover,
    write_controls,
)
from cytorelease.synth.panel import FLUOROCHROMES, SPILLOVER


def test_each_seed_draws_its_own_matrix_around_the_panel() -> None:
    first, second = draw_spillover(1), draw_spillover(2)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.diag(first), 1.0)
    off = ~np.eye(len(SPILLOVER), dtype=bool)
    assert np.array_equal(first[off] == 0, SPILLOVER[off] == 0)  # zeros stay zeros
    ratio = first[off & (SPILLOVER > 0)] / SPILLOVER[off & (SPILLOVER > 0)]
    assert ratio.min() >= 0.74 and ratio.max() <= 1.26  # 0.75-1.25, rounded to 4 decimals


def test_the_tubes_and_their_truth(tmp_path: Path) -> None:
    truth = write_controls(tmp_path, seed=3, n_events=2_000)
    stored = json.loads((tmp_path / CONTROLS_TRUTH_FILE).read_text(encoding="utf-8"))
    np.testing.assert_array_equal(np.array(stored["spillover"]["matrix"]), draw_spillover(3))
    assert stored["spillover"]["detectors"] == [f.detector for f in FLUOROCHROMES]
    for control, fluorochrome in zip(truth.controls, FLUOROCHROMES, strict=True):
        sample = read_fcs(tmp_path / control["file"])
        assert sample.event_count == 2_000
        assert sample.spill is None  # the matrix is to be estimated, not read
        assert sample.keywords["CYTORELEASE_CONTROL"] == fluorochrome.detector
        assert sample.sha256 == control["sha256"]
        # the stain is brightest in its own detector, among the fluorescence detectors
        values = sample.events[:, 3 : 3 + len(FLUOROCHROMES)]
        assert int(np.argmax(np.quantile(values, 0.9, axis=0))) == FLUOROCHROMES.index(fluorochrome)
    assert read_fcs(tmp_path / UNSTAINED_FILE).keywords["CYTORELEASE_CONTROL"] == "unstained"
