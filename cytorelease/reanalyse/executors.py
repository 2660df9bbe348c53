"""Where lot tasks run, behind one small interface: a loop, a process pool, or dask.distributed.

``map_unordered(fn, tasks)`` yields each task's result as it completes. Tasks are independent
(one per lot) and return small dicts; only the coordinator that iterates writes to the store. On
Dask a worker that dies has its task re-run elsewhere by the scheduler; the coordinator stores by
key, so a result delivered twice is stored once. Dask is handed each task and result as one
pickled bytes object: given the objects, its serialisation cost the coordinator about 2 ms more
per lot than a pickle of the same task and result (5.3 against 3.0 ms per empty task, 2 workers).

numba runs a parallel kernel on every core of the machine. A pool or LocalCluster of more than one
process on one machine therefore runs each process's numba on one thread: N processes of
``cores`` threads each on ``cores`` cores wait on each other (two processes on two cores were
slower than the serial loop). On a site's own cluster (``--scheduler``) each task sets its thread's
numba threads to its host's share: the host's cores over the worker threads the scheduler counts
on that host, so a node of 32 single-threaded workers runs each on one thread whatever their
environment says (the README still asks for ``NUMBA_NUM_THREADS=1``, which also spares the
thread pool).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from cytorelease.errors import InputError

__all__ = [
    "EXECUTORS", "ONE_NUMBA_THREAD", "TRIM", "WORKER_CONFIG", "DaskExecutor", "Executor",
    "HostShare", "LocalExecutor", "SerialExecutor", "executor", "one_numba_thread",
    "worker_config",
]  # fmt: skip

EXECUTORS = ("serial", "local", "dask")
Task = Callable[[Any], dict[str, Any]]
# numba reads it when it is first imported: a worker process's environment before any task
ONE_NUMBA_THREAD = {"NUMBA_NUM_THREADS": "1"}
# the workers' Dask configuration: the LocalCluster's, and the file a site's workers install
WORKER_CONFIG = Path(__file__).with_name("dask_worker.yaml")
TRIM = "MALLOC_TRIM_THRESHOLD_"


def worker_config() -> dict[str, Any]:
    """:data:`WORKER_CONFIG` as dotted keys, for ``dask.config.set`` (which replaces a nested
    mapping whole rather than merging it)."""
    import yaml

    def flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
        if isinstance(value, dict):
            for key, inner in value.items():
                yield from flat(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            yield prefix, value

    return dict(flat("", yaml.safe_load(WORKER_CONFIG.read_text(encoding="utf-8"))))


def one_numba_thread() -> None:
    """A pool worker's initializer: its numba kernels on one thread."""
    os.environ.update(ONE_NUMBA_THREAD)
    if "numba" in sys.modules:  # already loaded (by the spawned process's main module)
        import numba

        # per thread: the pool runs every task on the thread the initializer ran on
        numba.set_num_threads(1)


def _cores() -> int:
    # the CPUs this process may use (a container's or a batch job's limit), not the machine's
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class HostShare:
    """A task wrapper for a Dask cluster: before the task, its thread's numba runs on the host's
    cores divided by the worker threads on that host (``threads_by_host``, from the scheduler
    when the run starts; a worker that joined later counts its own threads). It takes the task
    and returns its result pickled (the module's docstring says why)."""

    def __init__(self, fn: Task, threads_by_host: dict[str, int]) -> None:
        self.fn = fn
        self.threads_by_host = threads_by_host

    def __call__(self, payload: bytes) -> bytes:
        import numba
        from distributed import get_worker
        from distributed.comm import get_address_host

        worker = get_worker()
        threads = max(self.threads_by_host.get(get_address_host(worker.address), 0),
                      worker.state.nthreads, 1)  # fmt: skip
        # per thread, as numba keeps it: the task runs on this thread
        ceiling = int(getattr(numba.config, "NUMBA_NUM_THREADS", 1))  # set_num_threads' maximum
        numba.set_num_threads(max(1, min(ceiling, _cores() // threads)))
        return pickle.dumps(self.fn(pickle.loads(payload)), protocol=pickle.HIGHEST_PROTOCOL)


def _trim_threshold() -> str | None:
    # a function run in the worker: a bound os.environ.get would pickle this process's environ
    return os.environ.get(TRIM)


class Executor(Protocol):
    dashboard: str | None

    def map_unordered(self, fn: Task, tasks: Sequence[Any]) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """In this process, one lot after another (the reference the others must equal)."""

    dashboard: str | None = None

    def map_unordered(self, fn: Task, tasks: Sequence[Any]) -> Iterator[dict[str, Any]]:
        for task in tasks:
            yield fn(task)

    def close(self) -> None:
        return None


class LocalExecutor:
    """A process pool on this machine (``--workers`` processes, default one per CPU this process may use), each
    process's numba on one thread when there is more than one process."""

    dashboard: str | None = None

    def __init__(self, workers: int | None = None) -> None:
        processes = workers or _cores()
        # spawn, never fork: the coordinator has run numba/OpenMP code (a forked child of an
        # OpenMP process aborts), and a spawned worker is what a cluster node starts as
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=one_numba_thread if processes > 1 else None,
        )

    def map_unordered(self, fn: Task, tasks: Sequence[Any]) -> Iterator[dict[str, Any]]:
        futures = {self._pool.submit(fn, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                # a worker process died (killed, out of memory): the pool is gone with every
                # lot it held; those are failed for this run, and a new run resumes them
                lot = getattr(futures[future], "lot", "?")
                reason = "its worker process died; run again to resume"
                yield {"lot": lot, "status": "failed", "reason": reason}

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


class DaskExecutor:
    """dask.distributed: the cluster at ``scheduler``, else a LocalCluster of ``workers``
    single-threaded worker processes (the analyses hold the GIL in numba/numpy sections), their
    numba on one thread when there is more than one."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - a dependency of the project
            raise InputError(
                "dask.distributed is not installed", hint="pip install distributed"
            ) from None
        self._cluster = None
        if scheduler is not None:
            self._client = Client(scheduler)
        else:
            import dask

            count = workers or 2
            # the nanny sets env in the worker process before it runs any task (and, without
            # this config, glibc's trim threshold: dask_worker.yaml says why not)
            with dask.config.set(worker_config()):
                self._cluster = LocalCluster(
                    n_workers=count, threads_per_worker=1, processes=True,
                    dashboard_address=":0", silence_logs=40,
                    env=ONE_NUMBA_THREAD if count > 1 else {},
                )  # fmt: skip
            self._client = Client(self._cluster)
        self.dashboard: str | None = self._client.dashboard_link

    def trimming_workers(self) -> list[str]:
        """The workers whose environment sets glibc's trim threshold: on a site's cluster,
        those not given :data:`WORKER_CONFIG` (each lot then costs more system time)."""
        found = self._client.run(_trim_threshold)
        return sorted(address for address, value in found.items() if value is not None)

    def map_unordered(self, fn: Task, tasks: Sequence[Any]) -> Iterator[dict[str, Any]]:
        from distributed import as_completed as dask_completed

        threads: dict[str, int] = {}
        for worker in self._client.scheduler_info(n_workers=-1)["workers"].values():
            threads[worker["host"]] = threads.get(worker["host"], 0) + int(worker["nthreads"])
        # pure=False: each lot is submitted once per run, never deduplicated by argument hash
        payloads = [pickle.dumps(t, protocol=pickle.HIGHEST_PROTOCOL) for t in tasks]
        futures = self._client.map(HostShare(fn, threads), payloads, pure=False, retries=2)
        for future in dask_completed(futures):
            result = pickle.loads(future.result())
            future.release()
            yield result

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def executor(name: str, *, scheduler: str | None = None, workers: int | None = None) -> Executor:
    if name not in EXECUTORS:
        raise InputError(f"no executor {name!r}", hint=f"choose one of {', '.join(EXECUTORS)}")
    if scheduler is not None and name != "dask":
        raise InputError("--scheduler is the address of a Dask cluster", hint="--executor dask")
    if name == "serial":
        return SerialExecutor()
    if name == "local":
        return LocalExecutor(workers)
    return DaskExecutor(scheduler, workers)
