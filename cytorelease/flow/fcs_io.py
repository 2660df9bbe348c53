"""Getting an FCS file's bytes: path checks with precise messages, one read, and its SHA-256.

The file is read once into a buffer placed so that the DATA segment starts on an 8-byte boundary
(native float32 events can then be a view of it, with no copy). The SHA-256 is taken over that
same buffer, so it attests exactly the bytes the events were decoded from; for large files it is
computed on a worker thread (hashlib releases the GIL) while the events are decoded and used, and
``Sample.sha256`` waits for it on first access. At most two buffers wait for hashing at a time.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cytorelease.errors import InputError
from cytorelease.flow.sample import Sample

__all__ = ["HashingSample", "check_fcs_path", "map_file", "read_file", "start_sha256"]

_BACKGROUND_MIN = 16 << 20  # below this, hashing inline is cheaper than handing it over
_ALIGNMENT = 8
# The kernel copies the page cache (page-aligned) into our buffer. A destination a few bytes past
# the source's page offset (glibc puts large arrays 16 bytes past a page) makes that copy 2-3x
# slower on x86 (4K aliasing between its loads and stores); starting the buffer 256 bytes past a
# page boundary avoids it.
_PAGE = 4096
_COPY_SKEW = 256
_SHA256_SLOT = Sample.__dict__["sha256"]  # the dataclass slot behind Sample.sha256


def check_fcs_path(path: Path) -> int:
    """The file's size; InputError when it is missing, a directory, unreadable or empty."""
    try:
        if path.is_dir():
            raise InputError("is a directory, not an FCS file", path=path)
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except PermissionError:
        raise InputError("cannot be read (permission denied)", path=path) from None
    if size == 0:
        raise InputError("the file is empty (0 bytes), not an FCS file", path=path)
    if not os.access(path, os.R_OK):
        raise InputError("cannot be read (permission denied)", path=path)
    return size


def read_file(path: Path, aligned_offset: int = 0) -> np.ndarray:
    """The whole file as a writable uint8 array whose byte ``aligned_offset`` is 8-byte aligned."""
    size = check_fcs_path(path)
    storage = np.empty(size + _PAGE + _COPY_SKEW + _ALIGNMENT, dtype=np.uint8)
    page_start = -storage.ctypes.data % _PAGE
    pad = page_start + _COPY_SKEW + (-aligned_offset % _ALIGNMENT)
    buffer = storage[pad : pad + size]
    try:
        with open(path, "rb") as handle:
            read = handle.readinto(buffer.data)
    except PermissionError:
        raise InputError("cannot be read (permission denied)", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", path=path) from None
    if read != size:
        raise InputError(
            f"the file changed while it was read ({size:,} bytes expected, {read:,} read)",
            path=path,
        )
    return buffer


def start_sha256(buffer: np.ndarray) -> Future[str]:
    """The SHA-256 of ``buffer``: done already for small buffers, on a worker thread for large."""
    if buffer.size < _BACKGROUND_MIN:
        done: Future[str] = Future()
        done.set_result(hashlib.sha256(buffer.data).hexdigest())
        return done
    return _HASHER.submit(buffer)


class _BackgroundHasher:
    """One worker thread hashing buffers in turn; at most two buffers wait at a time.

    Forking waits for pending hashes first, so a child never inherits a digest that no thread
    of its own will finish; the child then starts with a fresh worker.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(2)  # bounds memory held by waiting buffers
        self._pending: set[Future[str]] = set()

    def submit(self, buffer: np.ndarray) -> Future[str]:
        self._slots.acquire()
        try:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=1, thread_name_prefix="cytorelease-sha256"
                    )
                future = self._executor.submit(_hexdigest, buffer)
                self._pending.add(future)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: Future[str]) -> None:
        with self._lock:
            self._pending.discard(future)
        self._slots.release()

    def drain(self) -> None:
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.exception()  # waits; a failure is raised where the digest is read


def _hexdigest(buffer: np.ndarray) -> str:
    return hashlib.sha256(buffer.data).hexdigest()


_HASHER = _BackgroundHasher()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(before=_HASHER.drain, after_in_child=_HASHER._reset)


class HashingSample(Sample):
    """A :class:`Sample` whose ``sha256`` may still be computing; reading it waits for it."""

    __slots__ = ("_digest",)

    @classmethod
    def with_digest(cls, digest: Future[str], **fields: object) -> HashingSample:
        sample = cls(sha256="", **fields)  # type: ignore[arg-type]
        object.__setattr__(sample, "_digest", digest)
        return sample

    @property  # type: ignore[override]
    def sha256(self) -> str:
        pending: Future[str] | None = getattr(self, "_digest", None)
        if pending is not None:
            _SHA256_SLOT.__set__(self, pending.result())
            object.__setattr__(self, "_digest", None)
        value: str = _SHA256_SLOT.__get__(self, type(self))
        return value

    @sha256.setter
    def sha256(self, value: str) -> None:
        # Only reached from the dataclass __init__ and unpickling: Sample's frozen __setattr__
        # refuses ``sample.sha256 = ...`` before any descriptor is consulted.
        _SHA256_SLOT.__set__(self, value)


def map_file(path: Path) -> np.ndarray:
    """The file as a read-only memory map: for reading HEADER and TEXT without the events."""
    check_fcs_path(path)
    try:
        return np.memmap(path, dtype=np.uint8, mode="r")
    except PermissionError:
        raise InputError("cannot be read (permission denied)", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", path=path) from None
