"""GatingML 2.0 compliance: every expected membership of the ISAC suite, bit for bit.

The suite (../shared/data/gatingml, see its MANIFEST.md) gates data1.fcs; each row of the
manifest's mapping table names a GatingML document, a gate id and a truth file with one 0/1 line
per event. data1.fcs is read with cytorelease's reader and preprocessed as GatingML intends
($PnE log amplification and $PnG gain undone: Sample.scaled_events()).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.gating.gatingml_import import read_gatingml
from cytorelease.flow.sample import Sample
from tests.conftest import SHARED_DATA, shared_path

SUITE = SHARED_DATA / "gatingml"


def _mapping() -> list[tuple[str, str, str]]:
    """(xml, gate id, truth file) rows of the manifest's mapping table."""
    manifest = SUITE / "MANIFEST.md"
    if not manifest.exists():
        return []
    rows = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].endswith(".xml"):
            rows.append((cells[0], cells[1], cells[2]))
    return rows


MAPPING = _mapping()


@cache
def _data1() -> Sample:
    return read_fcs(shared_path("gatingml", "data1.fcs"))


def test_manifest_maps_51_expected_memberships() -> None:
    shared_path("gatingml", "MANIFEST.md")
    assert len(MAPPING) == 51
    assert len({truth for _, _, truth in MAPPING}) == 51


@pytest.mark.parametrize(("xml", "gate_id", "truth"), MAPPING, ids=[m[1] for m in MAPPING])
def test_membership_matches_truth(xml: str, gate_id: str, truth: str) -> None:
    sample = _data1()
    strategy = read_gatingml(shared_path("gatingml", "gml", xml))
    result = strategy.apply(sample)
    expected = np.loadtxt(shared_path("gatingml", "truth", truth), dtype=np.int8).astype(bool)
    assert expected.shape == (sample.event_count,)
    got = result.membership[gate_id]
    mismatches = np.flatnonzero(got != expected)
    assert mismatches.size == 0, f"{mismatches.size} events differ, first: {mismatches[:10]}"


def test_all_gates_document_agrees_with_the_single_gate_documents() -> None:
    """gml_all_gates.xml holds the same gates in one tree; each population must match too."""
    sample = _data1()
    result = read_gatingml(shared_path("gatingml", "gml", "gml_all_gates.xml")).apply(sample)
    checked = 0
    for _xml, gate_id, truth in MAPPING:
        if gate_id in result.membership:
            expected = np.loadtxt(SUITE / "truth" / truth, dtype=np.int8).astype(bool)
            assert np.array_equal(result.membership[gate_id], expected), gate_id
            checked += 1
    assert checked == 49  # all but Ellipsoid3D and ParRectangle1, which only their own files hold
    # percentages name their parent: ParAnd2 is 12 of Polygon1's 1,582 events
    row = result.populations.set_index("gate_id").loc["ParAnd2"]
    assert (row["count"], row["parent_count"]) == (12, 1582)
    assert row["path"] == ("Polygon1", "ParAnd2")
