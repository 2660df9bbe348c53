"""One read per file, aligned for zero-copy float32, hashed over the very bytes decoded."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cytorelease.flow import fcs_io
from cytorelease.flow.fcs import read_fcs
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.flow.sample import Sample
from cytorelease.provenance import file_sha256


@pytest.fixture
def large_fcs(tmp_path: Path) -> Path:
    # Past the inline-hash threshold, so the worker-thread path is the one exercised.
    n_events = fcs_io._BACKGROUND_MIN // (4 * 4) + 1000
    events = np.random.default_rng(3).random((n_events, 4), dtype=np.float32)
    return write_fcs(tmp_path / "large.fcs", events, [ChannelSpec(c) for c in "ABCD"])


def test_background_sha256_equals_the_file_hash(large_fcs: Path) -> None:
    sample = read_fcs(large_fcs)
    assert isinstance(sample, Sample)
    assert sample.sha256 == file_sha256(large_fcs)
    assert sample.sha256 == sample.sha256  # resolved once, then cached


def test_native_float32_events_are_a_view(large_fcs: Path) -> None:
    sample = read_fcs(large_fcs)
    if not np.little_endian:
        pytest.skip("the test file is little-endian")
    assert not sample.events.flags.owndata
    assert sample.events.ctypes.data % 8 == 0  # the read placed DATA on an aligned byte
    assert not sample.events.flags.writeable


def test_hashing_sample_stays_a_frozen_sample(large_fcs: Path) -> None:
    sample = read_fcs(large_fcs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.sha256 = "0" * 64  # type: ignore[misc]
    doubled = dataclasses.replace(sample, events=sample.events * 2)
    assert doubled.sha256 == sample.sha256
    assert copy.copy(sample).sha256 == sample.sha256
    assert sample.channel_names == ("A", "B", "C", "D")


@pytest.mark.parametrize("aligned_offset", [0, 1, 3, 58, 497])
def test_read_file_aligns_the_requested_byte(tmp_path: Path, aligned_offset: int) -> None:
    path = tmp_path / "bytes.bin"
    path.write_bytes(bytes(range(256)) * 4)
    buffer = fcs_io.read_file(path, aligned_offset)
    assert buffer.tobytes() == path.read_bytes()
    assert (buffer.ctypes.data + aligned_offset) % 8 == 0


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="POSIX fork only")
def test_a_forked_child_can_read_a_digest_started_in_the_parent(large_fcs: Path) -> None:
    import os

    sample = read_fcs(large_fcs)  # its digest is computing on the parent's worker thread
    expected = file_sha256(large_fcs)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        ok = sample.sha256 == expected and read_fcs(large_fcs).sha256 == expected
        os.write(write_end, b"1" if ok else b"0")
        os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 1)
    os.waitpid(child, 0)
    os.close(read_end)
    assert answer == b"1"


def test_a_sample_pickles_whole_and_compares_by_identity(tmp_path: Path) -> None:
    import pickle

    from tests.conftest import shared_path

    path = shared_path("fcs", "G11.fcs")
    sample = read_fcs(path)
    copy = pickle.loads(pickle.dumps(sample))
    np.testing.assert_array_equal(copy.events, sample.events)
    assert not copy.events.flags.writeable
    assert copy.sha256 == file_sha256(path) == sample.sha256
    assert dict(copy.keywords) == dict(sample.keywords)
    assert copy.channels == sample.channels and copy.path == sample.path
    assert copy.channel_index("FSC-A") == sample.channel_index("FSC-A")
    assert sample == sample and copy != sample  # identity, never an element-wise comparison
    assert len({sample, copy}) == 2
