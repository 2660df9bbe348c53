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
_PENDING_LIMIT = threading.BoundedSemaphore(2)
_hasher: ThreadPoolExecutor | None = None
_hasher_lock = threading.Lock()
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
    storage = np.empty(size + _ALIGNMENT, dtype=np.uint8)
    pad = -(storage.ctypes.data + aligned_offset) % _ALIGNMENT
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
    _PENDING_LIMIT.acquire()  # bounds the memory held by buffers waiting to be hashed
    try:
        pending = _worker().submit(_hexdigest, buffer)
    except BaseException:
        _PENDING_LIMIT.release()
        raise
    pending.add_done_callback(lambda _: _PENDING_LIMIT.release())
    return pending


def _hexdigest(buffer: np.ndarray) -> str:
    return hashlib.sha256(buffer.data).hexdigest()


def _worker() -> ThreadPoolExecutor:
    global _hasher
    with _hasher_lock:
        if _hasher is None:
            _hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cytorelease-sha256")
        return _hasher


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
