"""The NOT FOR RELEASE line on a what-if CoA is a red banner that also prints (issue 13 item 1).

Reproduced as the attack was: the sample lot's lot.yaml names a spec copy by path (not in the
library; a LOCK beside it does not count), so the release is a what-if; the rendered page
must carry the line inside the header with the class the stylesheet paints, and the stylesheet
must keep the colour when printed.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cytorelease import _resources
from cytorelease.demo import find_sample_lot
from cytorelease.lot.release import release_lot
from cytorelease.spec.loader import load_spec_file

ROOT = Path(__file__).resolve().parents[2]
MOMENT = datetime(2026, 7, 20, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_library_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CYTORELEASE_LIBRARY", raising=False)
    monkeypatch.setattr(_resources, "_library_override", None)


def test_an_unlocked_spec_gives_a_red_printed_banner_in_the_header(tmp_path: Path) -> None:
    copy = tmp_path / "copy" / "cd19-car-t" / "v2.yaml"
    copy.parent.mkdir(parents=True)
    # a relaxed copy (CAR expression >= 10 % instead of 15 %): another content hash than the
    # locked cd19-car-t@2 (a comment alone would not do: the hash is of the parsed document)
    original = (ROOT / "specs" / "cd19-car-t" / "v2.yaml").read_text(encoding="utf-8")
    relaxed = original.replace(
        "attribute: flow.car_pct_of_viable_cd3\n    limit: {min: 15}",
        "attribute: flow.car_pct_of_viable_cd3\n    limit: {min: 10}",
        1,
    )
    assert relaxed != original
    copy.write_text(relaxed, encoding="utf-8")
    # the copy carries its own LOCK beside it, as in the reproduced attack; only the library's
    # LOCK counts, so the copy is still an unlocked definition
    sha = load_spec_file(copy).sha256
    (tmp_path / "copy" / "LOCK").write_text(f"cd19-car-t@2 {sha}\n", encoding="utf-8")
    lot = tmp_path / "lot"
    shutil.copytree(find_sample_lot(), lot)
    manifest = lot / "lot.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "spec: cd19-car-t@2" in text
    manifest.write_text(text.replace("spec: cd19-car-t@2", f"spec: {copy}", 1), encoding="utf-8")

    outcome = release_lot(lot, out=tmp_path / "out", created_at=MOMENT)
    assert outcome.disposition != "PASS"
    html = outcome.report_path.read_text(encoding="utf-8")
    header = html[html.index('<header class="doc-header"') : html.index("</header>")]
    assert '<div class="not-for-release">NOT FOR RELEASE: unlocked definition spec' in header

    style = html[html.index("<style>") : html.index("</style>")]
    rules = re.findall(r"\.not-for-release\s*\{([^}]*)\}", style)
    assert rules, "the stylesheet has no rule for the NOT FOR RELEASE banner"
    screen = rules[0]
    assert "background: #b3261e" in screen and "color: #fff" in screen
    assert "print-color-adjust: exact" in screen  # browsers drop backgrounds when printing
    printed = style[style.rindex("@media print") :]
    assert ".not-for-release" in printed and "color: #b3261e" in printed
