"""The FCS writer: spec layout, and write-then-read identity over every layout (hypothesis)."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import flowio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cytorelease.flow.fcs import list_datasets, read_fcs
from cytorelease.flow.fcs_text import parse_header, parse_text
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs
from cytorelease.flow.sample import Spill

VERSIONS = ("2.0", "3.0", "3.1", "3.2")
INTEGER_BITS = (8, 16, 24, 32, 64)
DELIMITERS = ("/", "\\", "|", "\x0c", "*")
FLOWIO_INTEGER_BITS = {8, 16, 32}  # flowio 1.4 reads no 24- or 64-bit integers


def _text_of(path: Path) -> tuple[bytes, dict[str, str]]:
    raw = path.read_bytes()
    header = parse_header(raw[:58], 0)
    return raw, parse_text(raw[header.text_start : header.text_end + 1])


@st.composite
def layouts(draw: st.DrawFn) -> dict:
    datatype = draw(st.sampled_from("IFD"))
    n_channels = draw(st.integers(1, 5))
    n_events = draw(st.integers(0, 40))
    delimiter = draw(st.sampled_from(DELIMITERS))
    label_text = st.text(alphabet=f"ab CD-+{delimiter}é", min_size=1, max_size=8).filter(
        lambda s: not s.startswith(delimiter) and s.strip()
    )
    specs, columns = [], []
    for index in range(n_channels):
        if datatype == "I":
            bits = draw(st.sampled_from(INTEGER_BITS))
            # $PnR a power of two at or below the width: values above it are masked off on read.
            range_bits = draw(st.integers(1, bits))
            top = 2**bits - 1
            column = draw(st.lists(st.integers(0, top), min_size=n_events, max_size=n_events))
            columns.append(np.array(column, dtype=np.uint64))
            spec = ChannelSpec(f"P{index}-A", draw(st.none() | label_text), 2.0**range_bits, bits)
        else:
            width = 32 if datatype == "F" else 64
            values = st.floats(width=width, allow_nan=True, allow_infinity=True)
            column = draw(st.lists(values, min_size=n_events, max_size=n_events))
            columns.append(np.array(column, dtype=np.float32 if width == 32 else np.float64))
            spec = ChannelSpec(f"P{index}-A", draw(st.none() | label_text))
        specs.append(spec)
    return {
        "datatype": datatype,
        "specs": specs,
        "columns": columns,
        "n_events": n_events,
        "delimiter": delimiter,
        "version": draw(st.sampled_from(VERSIONS)),
        "byteorder": draw(st.sampled_from(("little", "big"))),
        "blank": draw(st.booleans()),
        "custom": draw(label_text),
    }


def _events(layout: dict) -> np.ndarray:
    n = layout["n_events"]
    if not layout["columns"]:
        return np.empty((n, 0))
    dtype = np.uint64 if layout["datatype"] == "I" else layout["columns"][0].dtype
    return np.stack(layout["columns"], axis=1).astype(dtype).reshape(n, len(layout["columns"]))


def _expected(layout: dict) -> np.ndarray:
    events = _events(layout)
    if layout["datatype"] != "I":
        with np.errstate(over="ignore"):  # doubles beyond float32's range read as +/-inf
            return events.astype(np.float32)
    masks = np.array([int(s.range) - 1 for s in layout["specs"]], dtype=np.uint64)
    return (events & masks).astype(np.float32)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
def test_write_then_read_is_identity(layout: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_fcs(
            Path(folder) / "x.fcs",
            _events(layout),
            layout["specs"],
            keywords={"$CYT": layout["custom"], "LOT": layout["custom"]},
            version=layout["version"],
            datatype=layout["datatype"],
            byteorder=layout["byteorder"],
            blank_header_offsets=layout["blank"],
            delimiter=layout["delimiter"],
        )
        sample = read_fcs(path)
        np.testing.assert_array_equal(sample.events, _expected(layout))
        assert sample.events.dtype == np.float32
        assert not sample.events.flags.writeable
        assert sample.fcs_version == layout["version"]
        assert [c.name for c in sample.channels] == [s.name for s in layout["specs"]]
        # Blanks around values carry no meaning in FCS and are stripped.
        assert [c.label for c in sample.channels] == [
            s.label.strip() if s.label else None for s in layout["specs"]
        ]
        assert [c.bits for c in sample.channels] == [
            s.bits or (32 if layout["datatype"] == "F" else 64) for s in layout["specs"]
        ]
        assert sample.keywords["$CYT"] == layout["custom"].strip()
        assert sample.keywords["LOT"] == layout["custom"].strip()
        assert list_datasets(path)[0].event_count == layout["n_events"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("byteorder", ["little", "big"])
@pytest.mark.parametrize(
    ("datatype", "bits"),
    [("F", [None, None, None]), ("D", [None, None, None]), ("I", [8, 16, 32]), ("I", [16] * 3)],
)
def test_flowio_reads_what_we_write(
    tmp_path: Path, version: str, byteorder: str, datatype: str, bits: list[int | None]
) -> None:
    rng = np.random.default_rng(7)
    events = rng.integers(0, 250, size=(50, 3)).astype(np.float64)
    if datatype != "I":
        events += rng.random((50, 3))
    specs = [
        ChannelSpec(n, label, 256.0, b)
        for n, label, b in zip("ABC", ("CD3", None, "x/y"), bits, strict=True)
    ]
    spill = Spill(("A", "C"), np.array([[1.0, 0.25], [0.125, 1.0]]))
    path = write_fcs(
        tmp_path / "x.fcs",
        events,
        specs,
        version=version,
        datatype=datatype,
        byteorder=byteorder,
        spill=spill,
    )
    theirs = flowio.FlowData(str(path))
    np.testing.assert_array_equal(
        np.asarray(theirs.events, dtype=np.float64).reshape(50, 3).astype(np.float32),
        events.astype(np.float32),
    )
    assert theirs.text["p3s"] == "x/y"
    spill_key = "spillover" if version in ("3.1", "3.2") else "spill"
    assert theirs.text[spill_key] == "2,A,C,1,0.25,0.125,1"
    ours = read_fcs(path)
    assert ours.spill is not None and ours.spill.channels == ("A", "C")
    np.testing.assert_array_equal(ours.spill.matrix, spill.matrix)


def test_layout_follows_the_spec(tmp_path: Path) -> None:
    events = np.arange(12, dtype=np.float64).reshape(4, 3)
    specs = [ChannelSpec("FSC-A", bits=24), ChannelSpec("SSC-A", bits=8), ChannelSpec("T", bits=64)]
    path = write_fcs(tmp_path / "x.fcs", events, specs, datatype="I", keywords={"$src": "a/b"})
    raw, text = _text_of(path)
    header = raw[:58].decode("ascii")
    assert header[:10] == "FCS3.1    "
    data_start, data_end = int(header[26:34]), int(header[34:42])
    assert (data_start, data_end) == (int(text["$BEGINDATA"]), int(text["$ENDDATA"]))
    assert data_end - data_start + 1 == len(raw) - data_start == 4 * (3 + 1 + 8)
    assert text["$TOT"] == "4" and text["$PAR"] == "3" and text["$MODE"] == "L"
    assert text["$NEXTDATA"] == "0" and text["$BYTEORD"] == "1,2,3,4"
    assert (text["$P1B"], text["$P2B"], text["$P3B"]) == ("24", "8", "64")
    assert text["$SRC"] == "a/b"
    assert b"/$SRC/a//b/" in raw  # the delimiter inside a value is doubled


def test_fcs20_16bit_byte_order_uses_the_short_form(tmp_path: Path) -> None:
    events = np.array([[1.0, 258.0]])
    specs = [ChannelSpec("A", bits=16), ChannelSpec("B", bits=16)]
    for byteorder, written, data in (
        ("little", "1,2", b"\x01\x00\x02\x01"),
        ("big", "2,1", b"\x00\x01\x01\x02"),
    ):
        path = write_fcs(
            tmp_path / f"{byteorder}.fcs",
            events,
            specs,
            version="2.0",
            datatype="I",
            byteorder=byteorder,
        )
        raw, text = _text_of(path)
        assert text["$BYTEORD"] == written
        assert raw.endswith(data)
        np.testing.assert_array_equal(read_fcs(path).events, events.astype(np.float32))


def test_blank_header_offsets_leave_offsets_to_text(tmp_path: Path) -> None:
    events = np.ones((3, 2), dtype=np.float32)
    path = write_fcs(
        tmp_path / "x.fcs", events, [ChannelSpec("A"), ChannelSpec("B")], blank_header_offsets=True
    )
    raw, text = _text_of(path)
    assert raw[26:42] == b"       0       0"
    assert int(text["$ENDDATA"]) == len(raw) - 1
    np.testing.assert_array_equal(read_fcs(path).events, events)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"datatype": "I", "channels": [ChannelSpec("A", bits=12)]}, "integer widths are"),
        ({"datatype": "F", "channels": [ChannelSpec("A", bits=16)]}, "needs 32 bits"),
        ({"datatype": "D", "channels": [ChannelSpec("A", bits=32)]}, "needs 64 bits"),
        (
            {"datatype": "I", "channels": [ChannelSpec("A", bits=8)], "events": [[256.0]]},
            "do not fit 8",
        ),
        (
            {"datatype": "I", "channels": [ChannelSpec("A", bits=8)], "events": [[-1.0]]},
            "do not fit 8",
        ),
        ({"datatype": "I", "events": [[np.nan]]}, "cannot hold NaN"),
        ({"channels": [ChannelSpec("A", label="/CD3")]}, "starts with the delimiter"),
        ({"channels": [ChannelSpec("A"), ChannelSpec("B")]}, "one column per channel"),
        ({"delimiter": "//"}, "single-byte character"),
        ({"version": "4.0"}, "4.0"),
    ],
)
def test_writer_rejects_what_it_cannot_write(tmp_path: Path, kwargs: dict, message: str) -> None:
    events = np.asarray(kwargs.pop("events", [[1.0]]))
    channels = kwargs.pop("channels", [ChannelSpec("A")])
    with pytest.raises(ValueError, match=message):
        write_fcs(tmp_path / "x.fcs", events, channels, **kwargs)


def test_large_files_get_zero_header_offsets_automatically(tmp_path: Path) -> None:
    # Past 99,999,999 bytes HEADER offsets must be 0; patching the limit keeps the test small.
    from cytorelease.flow import fcs_write

    events = np.ones((10, 2), dtype=np.float32)
    original = fcs_write._HEADER_OFFSET_LIMIT
    fcs_write._HEADER_OFFSET_LIMIT = 100
    try:
        path = write_fcs(tmp_path / "x.fcs", events, [ChannelSpec("A"), ChannelSpec("B")])
    finally:
        fcs_write._HEADER_OFFSET_LIMIT = original
    raw, _ = _text_of(path)
    assert raw[26:42] == b"       0       0"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(read_fcs(path).events, events)


GRID_LAYOUTS = {
    "F": ("F", [None, None, None]),
    "D": ("D", [None, None, None]),
    **{f"I{bits}": ("I", [bits] * 3) for bits in INTEGER_BITS},
    "I-mixed": ("I", [24, 8, 64]),
}


@pytest.mark.parametrize("blank", [False, True], ids=["header-offsets", "blank-header"])
@pytest.mark.parametrize("byteorder", ["little", "big"])
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("layout", list(GRID_LAYOUTS))
def test_every_datatype_width_order_version(
    tmp_path: Path, layout: str, version: str, byteorder: str, blank: bool
) -> None:
    """The full grid, deterministically (hypothesis samples it; this guarantees every cell)."""
    datatype, bits = GRID_LAYOUTS[layout]
    if datatype == "I":
        tops = [2**b - 1 for b in bits]
        events = np.array([[0, 0, 0], tops, [1, 2, 3], [t // 3 for t in tops]], dtype=np.uint64)
        expected = events.astype(np.float32)
    else:
        events = np.array([[0.0, -1.5, 3.25e7], [1e-3, np.inf, -0.0]])
        expected = events.astype(np.float32)
    specs = [ChannelSpec(n, range=2.0**64, bits=b) for n, b in zip("ABC", bits, strict=True)]
    path = write_fcs(
        tmp_path / "x.fcs",
        events,
        specs,
        version=version,
        datatype=datatype,
        byteorder=byteorder,
        blank_header_offsets=blank,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample = read_fcs(path)
    np.testing.assert_array_equal(sample.events, expected)
    assert sample.keywords["$BYTEORD"] in (
        ("1,2,3,4", "1,2") if byteorder == "little" else ("4,3,2,1", "2,1")
    )
    assert (path.read_bytes()[26:42] == b"       0       0") == blank


def test_fcs32_always_names_a_cytometer(tmp_path: Path) -> None:
    events = np.ones((1, 1))
    default = write_fcs(tmp_path / "a.fcs", events, [ChannelSpec("A")], version="3.2")
    named = write_fcs(
        tmp_path / "b.fcs", events, [ChannelSpec("A")], version="3.2", keywords={"$cyt": "Aurora"}
    )
    assert _text_of(default)[1]["$CYT"] == "unknown"
    assert _text_of(named)[1]["$CYT"] == "Aurora"
