"""Time parse + VCN of a full Biomark 96.96 export (9,216 chambers), and ``cytorelease --help``.

    python bench/bench_vcn.py [--repeat 7] [--seed 1]

Writes a simulated 96.96 "Table Results" export (cytorelease.synth.qpcr_exports) to a temporary
folder, imports everything once, then reports the best of ``--repeat`` runs of
``read_export`` + ``compute_vcn`` against ``pandas.read_csv`` of the same chamber rows (the
floor: one tokenising pass, no header joining, no statistics). Targets: parse + VCN under
50 ms after import; ``cytorelease --help`` under 0.3 s in a fresh interpreter (lazy imports).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_VCN_S = 0.050
TARGET_HELP_S = 0.3


def _best_of(repeat: int, run: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _help_seconds(repeat: int) -> float:
    command = [sys.executable, "-m", "cytorelease", "--help"]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import pandas as pd

    from cytorelease.qpcr.assay import load_assay
    from cytorelease.qpcr.readers import read_export
    from cytorelease.qpcr.vcn import compute_vcn
    from cytorelease.synth.qpcr_exports import write_qpcr_exports

    with tempfile.TemporaryDirectory() as folder:
        info = write_qpcr_exports(folder, seed=args.seed, vcn_truth=2.5)
        path = Path(folder) / info["files"]["biomark"]
        assay = load_assay("vcn-car-rpp30")
        result = compute_vcn(read_export(path), assay)  # warm-up: imports, caches
        rows = len(read_export(path).table)
        text = path.read_text(encoding="utf-8")
        body = text[text.index("ID,Name,Type") :]

        def ours() -> None:
            compute_vcn(read_export(path), assay)

        def floor() -> None:
            pd.read_csv(io.StringIO(body))

        t_ours = _best_of(args.repeat, ours)
        t_read = _best_of(args.repeat, lambda: read_export(path))
        t_floor = _best_of(args.repeat, floor)
    t_help = _help_seconds(max(3, args.repeat // 2))
    dp = next(s for s in result.samples if s.sample == "DP")
    print(f"Biomark 96.96 export: {rows:,} rows; VCN of DP {dp.vcn:.3f} (truth 2.5)")
    print(f"read_export                {t_read * 1e3:8.1f} ms")
    print(
        f"read_export + compute_vcn  {t_ours * 1e3:8.1f} ms  (target < {TARGET_VCN_S * 1e3:.0f} ms)"
    )
    print(f"pandas.read_csv (floor)    {t_floor * 1e3:8.1f} ms  ratio {t_ours / t_floor:.1f}x")
    print(f"cytorelease --help         {t_help:8.3f} s   (target < {TARGET_HELP_S} s)")
    ok = t_ours < TARGET_VCN_S and t_help < TARGET_HELP_S
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
