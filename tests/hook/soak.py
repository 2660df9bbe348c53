"""The crash-safety soak: files dropped into an inbox while watch and worker are SIGKILLed.

Used by test_soak.py (a small default run and the full 300-file run marked slow). The figures
(files, kills, duplicates caught, time) are returned for the test to check and print.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.queue import counts
from cytorelease.records.store import open_store
from tests.report.conftest import service_key

PASSPHRASE = "soak-service-pass"
INSTRUMENTS = """\
schema: cytorelease.instruments/1
instruments:
  - {id: FACS-01, serial: V1, kind: flow-cytometer}
  - {id: QS-01, serial: Q1, kind: qpcr}
"""
STABLE_SECONDS = 0.8
LEASE_SECONDS = 4.0


@dataclass
class Drop:
    relative: str  # under the inbox
    data: bytes
    expect: str  # good | duplicate | bad | refused
    slow: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class SoakFigures:
    files: int = 0
    good: int = 0
    duplicates: int = 0
    bad: int = 0
    refused: int = 0
    slow: int = 0
    kills: dict[str, int] = field(default_factory=lambda: {"watch": 0, "worker": 0})
    duplicates_caught: int = 0
    lease_recoveries: int = 0
    releases: int = 0
    audit_rows: int = 0
    leftover_temporaries: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _random_fcs(path: Path, rng: np.random.Generator, lot: str, index: int) -> bytes:
    channels = [ChannelSpec("FSC-A"), ChannelSpec("SSC-A"), ChannelSpec("FL1-A", "CD3")]
    events = rng.normal(50_000, 8_000, size=(int(rng.integers(300, 900)), 3)).astype(np.float32)
    write_fcs(path, events, channels, keywords={"CYTORELEASE_LOT": lot, "$FIL": f"s{index}.fcs"})
    return path.read_bytes()


def plan_drops(work: Path, lot_dir: Path, n_files: int, seed: int) -> list[Drop]:
    """A shuffled mix: a complete lot, distinct good FCS and exports, duplicates, slow
    writes, truncated and corrupt files, files for an instrument not on the allow-list."""
    from cytorelease.synth.qpcr_exports import write_qpcr_exports

    rng = np.random.default_rng(seed)
    scratch = work / "scratch"
    scratch.mkdir()
    drops = [
        Drop(f"FACS-01/{lot_dir.name}-{name}", (lot_dir / name).read_bytes(), "good")
        for name in ("tube1_stained.fcs", "tube2_fmo_car.fcs")
    ]
    index = 0
    while len(drops) < n_files:
        index += 1
        roll = rng.random()
        if roll < 0.40:
            data = _random_fcs(scratch / f"{index}.fcs", rng, f"lot-SOAK-{index % 7}", index)
            drops.append(Drop(f"FACS-01/run{index}.fcs", data, "good", slow=rng.random() < 0.25))
        elif roll < 0.50:
            exported = write_qpcr_exports(scratch / f"q{index}", seed=index, vcn_truth=2.0)
            path = scratch / f"q{index}" / exported["files"]["biomark"]
            drops.append(Drop(f"QS-01/plate{index}.csv", path.read_bytes(), "good"))
        elif roll < 0.65:
            earlier = [d for d in drops if d.expect == "good"]
            source = earlier[int(rng.integers(0, len(earlier)))]
            folder = source.relative.split("/")[0]
            drops.append(
                Drop(
                    f"{folder}/copy{index}-of-{Path(source.relative).name}",
                    source.data,
                    "duplicate",
                )
            )
        elif roll < 0.75:
            data = _random_fcs(scratch / f"{index}.fcs", rng, "lot-SOAK-T", index)
            drops.append(Drop(f"FACS-01/cut{index}.fcs", data[: len(data) * 2 // 3], "bad"))
        elif roll < 0.85:
            junk = rng.integers(0, 256, size=int(rng.integers(50, 5000)), dtype=np.uint8)
            head = b"FCS3.1" if rng.random() < 0.5 else b""
            drops.append(Drop(f"FACS-01/corrupt{index}.fcs", head + junk.tobytes(), "bad"))
        else:
            data = _random_fcs(scratch / f"{index}.fcs", rng, "lot-SOAK-U", index)
            drops.append(Drop(f"UNKNOWN-9/run{index}.fcs", data, "refused"))
    head, rest = drops[:2], drops[2:]
    random.Random(seed).shuffle(rest)
    # The complete lot's tubes arrive somewhere in the middle of the run.
    middle = len(rest) // 2
    return rest[:middle] + head + rest[middle:]


def _writer(inbox: Path, drops: list[Drop], seed: int, done: threading.Event) -> None:
    rng = random.Random(seed)
    for drop in drops:
        target = inbox / drop.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if drop.slow:
            with open(target, "wb") as handle:
                step = max(1, len(drop.data) // 6)
                for start in range(0, len(drop.data), step):
                    handle.write(drop.data[start : start + step])
                    handle.flush()
                    time.sleep(0.03)
        else:
            tmp = target.with_name(f".{target.name}.tmp")  # hidden until complete
            tmp.write_bytes(drop.data)
            os.replace(tmp, target)
        time.sleep(rng.uniform(0.0, 0.04))
    done.set()


def _start(kind: str, data: DataDir, inbox: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "cytorelease", kind]
    if kind == "watch":
        command += [str(inbox), "--stable-seconds", str(STABLE_SECONDS)]
    else:
        # Killing the worker at random is the point here, so a release it never gets to finish
        # must not be failed as a poison item (that guard is tested in test_queue.py).
        command += [
            "--lease-seconds",
            str(LEASE_SECONDS),
            "--poll",
            "0.2",
            "--max-attempts",
            "1000",
        ]
    command += ["--data-dir", str(data.root)]
    env = {**os.environ, "CYTORELEASE_SERVICE_PASSPHRASE": PASSPHRASE}
    env.pop("CYTORELEASE_DB", None)
    with open(log, "ab") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=sink, env=env)


def run_soak(work: Path, lot_dir: Path, *, n_files: int, kills: int, seed: int) -> SoakFigures:
    started = time.monotonic()
    data = DataDir.open(work / "data")
    data.instruments_path.write_text(INSTRUMENTS, encoding="utf-8")
    service_key(data.keys_dir, PASSPHRASE)
    manifest = data.lots_dir / lot_dir.name / "lot.yaml"
    manifest.parent.mkdir(parents=True)
    shutil.copyfile(lot_dir / "lot.yaml", manifest)
    inbox = work / "inbox"
    inbox.mkdir()
    drops = plan_drops(work, lot_dir, n_files, seed)
    open_store(data, url="").close()  # schema first, so both processes start on it

    figures = SoakFigures(files=len(drops))
    logs = {kind: work / f"{kind}.log" for kind in ("watch", "worker")}
    processes = {kind: _start(kind, data, inbox, logs[kind]) for kind in logs}
    done = threading.Event()
    writer = threading.Thread(target=_writer, args=(inbox, drops, seed, done))
    writer.start()
    rng = random.Random(seed + 1)
    try:
        while sum(figures.kills.values()) < kills or not done.is_set():
            time.sleep(rng.uniform(0.4, 2.0))
            if sum(figures.kills.values()) >= kills:
                continue
            victim = rng.choice(["watch", "worker"])
            processes[victim].send_signal(signal.SIGKILL)
            processes[victim].wait()
            figures.kills[victim] += 1
            processes[victim] = _start(victim, data, inbox, logs[victim])
    finally:
        writer.join()
        for process in processes.values():
            process.send_signal(signal.SIGKILL)
            process.wait()

    # After the chaos: one more pass of each, once the killed worker's lease has expired.
    time.sleep(LEASE_SECONDS + 0.2)
    env = {**os.environ, "CYTORELEASE_SERVICE_PASSPHRASE": PASSPHRASE}
    env.pop("CYTORELEASE_DB", None)  # the soak runs on SQLite, the default store
    for kind, extra in (("watch", [str(inbox), "--once"]), ("worker", ["--once"])):
        final = subprocess.run(
            [sys.executable, "-m", "cytorelease", kind, *extra, "--data-dir", str(data.root)]
            + (["--stable-seconds", str(STABLE_SECONDS)] if kind == "watch" else []),
            env=env,
            capture_output=True,
            text=True,
        )
        left = [line for line in final.stdout.splitlines() if line.startswith("not taken: ")]
        # the only files left in the inbox are the unknown instrument's, and watch says so;
        # a bad file the killed watches never reached is quarantined now, which watch also
        # lists for the operator (a loaded machine gets fewer files done before the kills)
        bad_paths = {str(inbox / d.relative) for d in drops if d.expect == "bad"}
        assert all(
            "UNKNOWN-9" in line or (line.split(": ")[1] in bad_paths and ": quarantined: " in line)
            for line in left
        ), final.stdout
        assert final.returncode == (1 if left else 0), f"final {kind}: {final.stdout}{final.stderr}"
    figures.seconds = round(time.monotonic() - started, 1)
    _check(data, inbox, drops, figures)
    return figures


def _check(data: DataDir, inbox: Path, drops: list[Drop], figures: SoakFigures) -> None:
    store = open_store(data, url="")
    try:
        rows = audit.entries(store)
        by_action: dict[str, list[audit.AuditEntry]] = {}
        for row in rows:
            by_action.setdefault(row.action, []).append(row)
        good = {d.sha256 for d in drops if d.expect == "good"}
        bad = {d.sha256 for d in drops if d.expect == "bad"}
        figures.good, figures.bad = len(good), len(bad)
        figures.duplicates = sum(d.expect == "duplicate" for d in drops)
        figures.refused = sum(d.expect == "refused" for d in drops)
        figures.slow = sum(d.slow for d in drops)
        ingested = [r.object for r in by_action.get("ingest", [])]
        analysed = [r.object for r in by_action.get("analyse", [])]
        quarantined = [r.object for r in by_action.get("quarantine", [])]
        assert sorted(ingested) == sorted(good), "every good file archived exactly once"
        assert sorted(analysed) == sorted(good), "every good file analysed exactly once"
        assert sorted(quarantined) == sorted(bad), "every bad file quarantined exactly once"
        for sha in good | bad:
            stored = data.archive_dir / sha[:2] / sha
            assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
        reasons = store.rows("SELECT reason FROM raw_files WHERE status = 'quarantined'")
        assert all(r["reason"] for r in reasons), "every quarantine has its reason"
        refused = [r.object for r in by_action.get("refuse", [])]
        expected_refused = [str(inbox / d.relative) for d in drops if d.expect == "refused"]
        assert sorted(refused) == sorted(expected_refused), "each unknown-instrument file once"
        figures.duplicates_caught = len(by_action.get("duplicate", []))
        assert figures.duplicates_caught == figures.duplicates
        state = counts(store)
        failures = store.rows("SELECT key, outcome FROM queue WHERE state != 'done'")
        assert state == {
            "pending": 0,
            "leased": 0,
            "done": len(good) + 1,  # every file item and the one release
            "failed": 0,
            "held": 0,
        }, f"no queue item lost or stuck: {state} {failures}"
        figures.releases = int(store.scalar("SELECT COUNT(*) FROM releases"))
        assert figures.releases == 1
        assert len(by_action.get("sign", [])) == 1
        figures.lease_recoveries = len(by_action.get("lease-recovered", []))
        check = audit.verify_chain(store)
        assert check.ok, check.problem
        figures.audit_rows = check.rows
        for drop in drops:  # the instrument's files are untouched
            assert (inbox / drop.relative).read_bytes() == drop.data
        figures.leftover_temporaries = len(list(data.archive_tmp.iterdir()))
    finally:
        store.close()
