"""An archive entry altered in place before the worker reads it, as issue 13 reproduced it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.hook.hook import hook_file
from cytorelease.records import audit
from cytorelease.records.archive import archived_path
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store


def test_worker_refuses_an_altered_archive_entry_and_holds_the_item(
    data: DataDir, store: Store, small_lots: dict[int, Path], tmp_path: Path
) -> None:
    source = tmp_path / "tube1_stained.fcs"
    shutil.copyfile(small_lots[11] / "tube1_stained.fcs", source)
    sha = hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.0).sha256
    assert sha is not None
    # an insider rewrites event bytes in place (same size, still a readable FCS)
    entry = archived_path(data.archive_dir, sha)
    entry.chmod(0o644)
    payload = bytearray(entry.read_bytes())
    payload[-100] ^= 0x40
    entry.write_bytes(bytes(payload))
    done = CliRunner().invoke(
        app, ["worker", "--once", "--json", "--poll", "0.01", "--data-dir", str(data.root)]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["releases"] == []
    row = store.one("SELECT state, outcome FROM queue WHERE key = ?", (f"file:{sha}",))
    assert row is not None and row["state"] == "held"
    assert "altered" in str(row["outcome"])
    assert store.scalar("SELECT COUNT(*) FROM analyses") == 0
    assert store.scalar("SELECT COUNT(*) FROM releases") == 0
    actions = [e.action for e in audit.entries(store)]
    assert actions == ["ingest", "archive-mismatch", "item-held"]
