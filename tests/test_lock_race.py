"""Two processes adding LOCK lines at once lose none (POSIX: the writers' fcntl.flock).

Each writer reads the LOCK, adds its line and replaces the file; without the lock a writer that
read before the other's replace writes the file back without the other's line. The races here
are real processes, many rounds each, over the one LOCK writer (``protocol lock`` and the trend
freezes) and over ``spec lock``'s writer.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from cytorelease._lock import add_lock_entry, read_lock
from cytorelease.errors import InputError
from tests.cli_contract import PROJECT_ROOT

ROUNDS = 400
SPECS = 80


def _add_many(lock: str, prefix: str, start: multiprocessing.synchronize.Event) -> None:
    start.wait()
    for i in range(ROUNDS):
        add_lock_entry(
            Path(lock), f"{prefix}@{i + 1}", f"{i:064x}", header="# h\n", error=InputError
        )


def _lock_specs(paths: list[str], start: multiprocessing.synchronize.Event) -> None:
    from cytorelease.spec.registry import lock_specs

    start.wait()
    for path in paths:
        lock_specs([Path(path)])


def _race(target: object, args_a: tuple, args_b: tuple) -> None:
    context = multiprocessing.get_context("spawn")  # nothing inherited: two separate programs
    start = context.Event()
    workers = [context.Process(target=target, args=(*a, start)) for a in (args_a, args_b)]  # type: ignore[arg-type]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0


def test_two_writers_of_one_lock_lose_no_line(tmp_path: Path) -> None:
    lock = tmp_path / "protocols" / "LOCK"
    _race(_add_many, (str(lock), "proto-a"), (str(lock), "proto-b"))
    entries = read_lock(lock, error=InputError)
    expected = {f"{p}@{i + 1}" for p in ("proto-a", "proto-b") for i in range(ROUNDS)}
    assert set(entries) == expected
    assert lock.read_text(encoding="utf-8").startswith("# h\n")  # the header once, kept


def test_two_spec_locks_at_once_lose_no_line(tmp_path: Path) -> None:
    source = (PROJECT_ROOT / "specs" / "cd19-car-t" / "v2.yaml").read_text(encoding="utf-8")
    specs = tmp_path / "specs"
    paths: dict[str, list[str]] = {"a": [], "b": []}
    for side in paths:
        for i in range(SPECS):
            product = f"prod-{side}{i}"
            text = source.replace("product: cd19-car-t\n", f"product: {product}\n")
            text = text.replace("version: 2\n", "version: 1\n").replace("supersedes: 1\n", "")
            (specs / product).mkdir(parents=True)
            (specs / product / "v1.yaml").write_text(text, encoding="utf-8")
            paths[side].append(str(specs / product / "v1.yaml"))
    _race(_lock_specs, (paths["a"],), (paths["b"],))
    from cytorelease.spec.registry import read_lock as read_spec_lock

    entries = read_spec_lock(specs / "LOCK")
    assert set(entries) == {f"prod-{s}{i}@1" for s in "ab" for i in range(SPECS)}
