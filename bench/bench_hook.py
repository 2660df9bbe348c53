"""Time ``hook`` on a stable 100 MB FCS file against the floor: ``cp`` + ``sha256sum``.

    python bench/bench_hook.py [--megabytes 100] [--repeat 3]

Writes an FCS 3.1 file of about ``--megabytes`` MB (float32 events, 10 channels) to a temporary
folder, then reports the best of ``--repeat`` runs of the library call ``hook_file`` (stability
wait skipped: the file is already stable) on fresh data folders, next to the best time of copying
the same file with ``cp`` and hashing it with ``sha256sum`` (two passes; the hook does one).
Target: well under a second for 100 MB once the file is stable.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

TARGET_S = 1.0
INSTRUMENTS = (
    "schema: cytorelease.instruments/1\n"
    "instruments:\n  - {id: FACS-01, serial: B1, kind: flow-cytometer}\n"
)


def _write_fcs(path: Path, megabytes: int) -> None:
    import numpy as np

    from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

    n_channels = 10
    n_events = megabytes * 1_000_000 // (4 * n_channels)
    rng = np.random.default_rng(1)
    events = rng.normal(5e4, 1e4, size=(n_events, n_channels)).astype(np.float32)
    channels = [ChannelSpec(f"CH{i}-A") for i in range(n_channels)]
    write_fcs(path, events, channels, keywords={"CYTORELEASE_LOT": "lot-BENCH"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from cytorelease.hook.hook import hook_file
    from cytorelease.records.datadir import DataDir
    from cytorelease.records.store import open_store

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "big.fcs"
        _write_fcs(source, args.megabytes)
        size_mb = source.stat().st_size / 1e6
        hook_best = floor_best = float("inf")
        for attempt in range(args.repeat):
            data = DataDir.open(root / f"data{attempt}")
            data.instruments_path.write_text(INSTRUMENTS, encoding="utf-8")
            store = open_store(data, url="")
            start = time.perf_counter()
            outcome = hook_file(data, store, source, instrument="FACS-01", stable_seconds=0.0)
            hook_best = min(hook_best, time.perf_counter() - start)
            store.close()
            assert outcome.status == "ingested", outcome.message
            copy = root / f"copy{attempt}.fcs"
            start = time.perf_counter()
            subprocess.run(["cp", str(source), str(copy)], check=True)
            subprocess.run(["sha256sum", str(copy)], check=True, capture_output=True)
            floor_best = min(floor_best, time.perf_counter() - start)
            copy.unlink()
            shutil.rmtree(data.root, ignore_errors=True)
    verdict = "meets" if hook_best < TARGET_S else "MISSES"
    print(f"file: {size_mb:.1f} MB FCS 3.1")
    print(f"hook_file (archive + hash + identify + record): {hook_best * 1000:.0f} ms")
    print(f"cp + sha256sum (floor, two passes): {floor_best * 1000:.0f} ms")
    print(f"ratio hook / floor: {hook_best / floor_best:.2f}")
    print(f"target < {TARGET_S:.1f} s: {verdict}")


if __name__ == "__main__":
    main()
