"""Irregular but readable FCS: tolerated with a warning that says what was done, or silently
when the spec allows it. Byte layouts are also checked against hand-made bytes, independent of
the writer."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import CytoreleaseWarning, FCSOffsetWarning
from cytorelease.flow.fcs import list_datasets, read_fcs
from cytorelease.flow.fcs_data import DataLayout, Datatype, decode_events, range_mask
from cytorelease.flow.fcs_text import parse_text
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.flow.sample import Spill

SPECS = [ChannelSpec("FSC-A", "size"), ChannelSpec("CD3", "CD3 PE")]
EVENTS = np.arange(20, dtype=np.float32).reshape(10, 2)


def _strict_read(path: Path, dataset: int = 0):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_fcs(path, dataset=dataset)


def _replace_once(path: Path, old: bytes, new: bytes) -> None:
    raw = path.read_bytes()
    assert raw.count(old) == 1 and len(old) == len(new)
    path.write_bytes(raw.replace(old, new))


def test_header_one_byte_off_text_trusted(tmp_path: Path) -> None:
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS)
    raw = bytearray(path.read_bytes())
    end = int(raw[34:42])
    raw[34:42] = f"{end + 1:>8d}".encode()
    path.write_bytes(bytes(raw))
    pattern = (
        rf"HEADER says DATA is bytes [\d,]+-{end + 1:,}, TEXT .* says [\d,]+-{end:,}.*using TEXT's"
    )
    with pytest.warns(FCSOffsetWarning, match=pattern):
        sample = read_fcs(path)
    np.testing.assert_array_equal(sample.events, EVENTS)


def test_text_one_byte_off_header_trusted(tmp_path: Path) -> None:
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS)
    end = int(path.read_bytes()[34:42])
    assert end % 10 != 9  # keeps the number of digits
    _replace_once(path, f"/$ENDDATA/{end}/".encode(), f"/$ENDDATA/{end + 1}/".encode())
    with pytest.warns(FCSOffsetWarning, match=r"using HEADER's, whose length fits \$TOT"):
        sample = read_fcs(path)
    np.testing.assert_array_equal(sample.events, EVENTS)


def test_trailing_bytes_shorter_than_an_event(tmp_path: Path) -> None:
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS, blank_header_offsets=True)
    path.write_bytes(path.read_bytes() + b"\0\0\0")
    end = int(parse_text(path.read_bytes()[58:])["$ENDDATA"])
    _replace_once(path, f"/$ENDDATA/{end}/".encode(), f"/$ENDDATA/{end + 3}/".encode())
    with pytest.warns(FCSOffsetWarning, match="hold 83 bytes, 3 more than 10 events x 8 bytes"):
        sample = read_fcs(path)
    np.testing.assert_array_equal(sample.events, EVENTS)


def test_blank_header_offsets_as_spaces(tmp_path: Path) -> None:
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS, version="3.0")
    raw = bytearray(path.read_bytes())
    raw[26:42] = b" " * 16
    path.write_bytes(bytes(raw))
    np.testing.assert_array_equal(_strict_read(path).events, EVENTS)


def test_missing_tot_mode_and_range_are_inferred(tmp_path: Path) -> None:
    keywords = {"$TOT": " ", "$MODE": " ", "$P1R": " "}
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS, version="3.2", keywords=keywords)
    sample = _strict_read(path)
    assert sample.event_count == 10
    assert sample.channels[0].range == 2.0**32
    assert list_datasets(path)[0].event_count == 10


def test_empty_and_duplicate_channel_names_are_made_unique(tmp_path: Path) -> None:
    specs = [ChannelSpec("FSC-A"), ChannelSpec("FSC-A"), ChannelSpec(" "), ChannelSpec("CD3")]
    path = write_fcs(tmp_path / "x.fcs", np.zeros((2, 4)), specs)
    with pytest.warns(CytoreleaseWarning, match=r"\$P2N 'FSC-A' -> 'FSC-A_P2'; \$P3N '' -> 'P3'"):
        sample = read_fcs(path)
    assert sample.channel_names == ("FSC-A", "FSC-A_P2", "P3", "CD3")


def test_spill_by_label_maps_to_names(tmp_path: Path) -> None:
    spill = Spill(("size", "CD3 PE"), np.array([[1.0, 0.5], [0.0, 1.0]]))
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS, spill=spill, version="3.0")
    sample = _strict_read(path)
    assert sample.keywords["$SPILL"].startswith("2,size,CD3 PE,")
    assert sample.spill is not None and sample.spill.channels == ("FSC-A", "CD3")
    np.testing.assert_array_equal(sample.spill.matrix, spill.matrix)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("two,FSC-A,CD3,1,0,0,1", "does not start with a channel count"),
        (
            "2,FSC-A,CD3,1,0,0",
            "holds 5 values after its count 2, expected 2 names + 4 coefficients",
        ),
        ("2,FSC-A,CD3,1,0,zero,1", "has a coefficient that is not a number"),
    ],
)
def test_malformed_spill_is_dropped_with_a_warning(
    tmp_path: Path, value: str, problem: str
) -> None:
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS, keywords={"$SPILLOVER": value})
    with pytest.warns(
        CytoreleaseWarning, match=rf"\$SPILLOVER {re.escape(problem)}.*spill ignored"
    ):
        sample = read_fcs(path)
    assert sample.spill is None
    np.testing.assert_array_equal(sample.events, EVENTS)


def test_supplemental_text_adds_keywords_primary_wins(tmp_path: Path) -> None:
    placeholder = {"$BEGINSTEXT": "0000000000", "$ENDSTEXT": "0000000000", "$CYT": "primary"}
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS, keywords=placeholder)
    size = path.stat().st_size
    supplemental = b"|$CYT|supplemental|EXTRA|a||b|$P1S|supplemental label|"
    path.write_bytes(path.read_bytes() + supplemental)
    _replace_once(path, b"/$BEGINSTEXT/0000000000/", f"/$BEGINSTEXT/{size:010d}/".encode())
    end = size + len(supplemental) - 1
    _replace_once(path, b"/$ENDSTEXT/0000000000/", f"/$ENDSTEXT/{end:010d}/".encode())
    sample = _strict_read(path)
    assert sample.keywords["EXTRA"] == "a|b"
    assert sample.keywords["$CYT"] == "primary"
    assert sample.channels[0].label == "size"


def test_three_data_sets_of_different_versions(tmp_path: Path) -> None:
    parts = []
    for index, (version, datatype) in enumerate((("2.0", "I"), ("3.0", "D"), ("3.2", "F"))):
        events = EVENTS[: 4 + index] + 100 * index
        path = write_fcs(
            tmp_path / f"{index}.fcs",
            events,
            SPECS,
            version=version,
            datatype=datatype,
            keywords={"$NEXTDATA": "0000000000"},
        )
        parts.append(path.read_bytes())
    chained = []
    for index, raw in enumerate(parts):
        following = len(raw) if index < len(parts) - 1 else 0
        chained.append(
            raw.replace(b"/$NEXTDATA/0000000000/", f"/$NEXTDATA/{following:010d}/".encode())
        )
    path = tmp_path / "chained.fcs"
    path.write_bytes(b"".join(chained))
    infos = list_datasets(path)
    assert [(i.fcs_version, i.event_count, i.offset) for i in infos] == [
        ("2.0", 4, 0),
        ("3.0", 5, len(parts[0])),
        ("3.2", 6, len(parts[0]) + len(parts[1])),
    ]
    for index in range(3):
        sample = _strict_read(path, dataset=index)
        assert sample.dataset_count == 3 and sample.dataset_index == index
        np.testing.assert_array_equal(sample.events, EVENTS[: 4 + index] + 100 * index)


def test_nextdata_beyond_the_file_stops_the_chain(tmp_path: Path) -> None:
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS, keywords={"$NEXTDATA": "5000000"})
    with pytest.warns(
        CytoreleaseWarning, match=r"\$NEXTDATA of data set 0 points to byte 5,000,000"
    ):
        sample = read_fcs(path)
    assert sample.dataset_count == 1


def test_escaped_delimiters_in_text() -> None:
    text = b"/$P1N/FSC//A/$P1S/a////b/KEY/ends with//// / /"
    assert parse_text(text) == {"$P1N": "FSC/A", "$P1S": "a//b", "KEY": "ends with//"}
    assert parse_text(b"\\$cyt\\Aria\\\\ II\\padded\\  x  \\") == {
        "$CYT": "Aria\\ II",
        "PADDED": "x",
    }


def test_hand_made_24_bit_and_mixed_bytes() -> None:
    # Independent of the writer: event 1 = (0x010203, 0x0405), event 2 = (0xFFFFFF, 0x0001).
    little = bytes([0x03, 0x02, 0x01, 0x05, 0x04, 0xFF, 0xFF, 0xFF, 0x01, 0x00])
    big = bytes([0x01, 0x02, 0x03, 0x04, 0x05, 0xFF, 0xFF, 0xFF, 0x00, 0x01])
    expected = np.array([[0x010203, 0x0405], [0xFFFFFF, 1]], dtype=np.float32)
    for raw, big_endian in ((little, False), (big, True)):
        layout = DataLayout(Datatype.INTEGER, big_endian, (24, 16), (None, None))
        decoded = decode_events(np.frombuffer(raw, dtype=np.uint8).copy(), 2, layout)
        np.testing.assert_array_equal(decoded, expected)
    # all 24-bit, masked to $PnR 1024 (10 bits): 0x010203 & 0x3FF = 0x203
    layout = DataLayout(Datatype.INTEGER, False, (24, 24), (range_mask(1024, 24), None))
    decoded = decode_events(np.frombuffer(little[:6] * 2, dtype=np.uint8).copy(), 2, layout)
    assert decoded[:, 0].tolist() == [0x203, 0x203]
    assert decoded[:, 1].tolist() == [float(0xFF0405), float(0xFF0405)]


def test_range_mask_follows_fcs31() -> None:
    assert range_mask(1024, 16) == 1023
    assert range_mask(1000, 16) == 1023  # not a power of two: the next one up
    assert range_mask(65536, 16) is None  # a full-width mask changes nothing
    assert range_mask(262144, 16) is None
    assert range_mask(float("nan"), 16) is None


def test_native_float32_is_a_view_of_the_bytes_read(tmp_path: Path) -> None:
    path = write_fcs(tmp_path / "x.fcs", EVENTS, SPECS)
    sample = _strict_read(path)
    aligned = sample.events.base is not None and sample.events.ctypes.data % 4 == 0
    if np.little_endian and aligned:
        assert not sample.events.flags.owndata  # zero copies
    with pytest.raises(ValueError):
        sample.events[0, 0] = 1.0


@pytest.mark.parametrize("big_endian", [False, True])
def test_hand_made_40_48_56_bit_values(big_endian: bool) -> None:
    values = [(0x0102030405, 0x060708090A0B, 0x0C0D0E0F101112), (1, 2**48 - 1, 2**56 - 1)]
    order = "big" if big_endian else "little"
    raw = b"".join(
        a.to_bytes(5, order) + b.to_bytes(6, order) + c.to_bytes(7, order) for a, b, c in values
    )
    layout = DataLayout(Datatype.INTEGER, big_endian, (40, 48, 56), (None, None, None))
    decoded = decode_events(np.frombuffer(raw, dtype=np.uint8).copy(), 2, layout)
    np.testing.assert_array_equal(decoded, np.array(values, dtype=np.float64).astype(np.float32))
    uniform = DataLayout(Datatype.INTEGER, big_endian, (48, 48), (None, range_mask(1024, 48)))
    raw = b"".join(v.to_bytes(6, order) for v in (0x060708090A0B, 0x060708090A0B, 7, 2**48 - 1))
    decoded = decode_events(np.frombuffer(raw, dtype=np.uint8).copy(), 2, uniform)
    assert decoded.tolist() == [[float(np.float32(0x060708090A0B)), 0x20B], [7.0, 1023.0]]
