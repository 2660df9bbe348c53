"""$DATATYPE A (ASCII) list-mode data: fixed-width and free-format (delimited) events.

Round trips go through our writer; the hand-built files are assembled byte by byte here, so the
reader is also checked against the FCS 2.0/3.0 rules independently of the writer. flowio 1.4
cannot read ASCII data (it fails with "bad char in struct format"), so there is no third-party
reference to compare with.
"""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import FCSOffsetWarning, InputError
from cytorelease.flow.fcs import list_datasets, read_fcs
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

runner = CliRunner()
FREE_DELIMITERS = " \t,\r\n"


def _strict_read(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_fcs(path)


def _error(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        read_fcs(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message


def _fcs_bytes(version: str, keywords: list[tuple[str, str]], data: bytes) -> bytes:
    """A one-data-set FCS file built by hand: HEADER, '/'-delimited TEXT, DATA right after it.

    $BEGINDATA/$ENDDATA are written with 8 digits (zero-padded), so their own length never moves
    the DATA segment; the HEADER gets the same offsets.
    """
    pairs = [*keywords]
    if version != "2.0":
        pairs += [("$BEGINDATA", "0" * 8), ("$ENDDATA", "0" * 8)]
    text = "/" + "".join(f"{key}/{value}/" for key, value in pairs)
    data_start = 58 + len(text)
    data_end = data_start + len(data) - 1
    text = text.replace("$BEGINDATA/00000000/", f"$BEGINDATA/{data_start:08d}/").replace(
        "$ENDDATA/00000000/", f"$ENDDATA/{data_end:08d}/"
    )
    offsets = (58, 58 + len(text) - 1, data_start, data_end, 0, 0)
    header = f"FCS{version}    " + "".join(f"{offset:>8d}" for offset in offsets)
    assert len(header) == 58
    return header.encode("ascii") + text.encode("ascii") + data


def _channel_keywords(widths: list[str], ranges: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for number, (width, range_) in enumerate(zip(widths, ranges, strict=True), start=1):
        pairs += [(f"$P{number}N", f"CH{number}"), (f"$P{number}B", width)]
        pairs += [(f"$P{number}E", "0,0"), (f"$P{number}R", range_)]
    return pairs


def _hand_built_fixed(folder: Path) -> Path:
    # FCS 2.0, $PnB 4, 5 and 3 characters; zero-padded, space-padded and signed values, a
    # decimal point and an exponent; $BYTEORD says big-endian, which text does not care about.
    data = b"0012" + b"  999" + b"-07" + b"1023" + b"12345" + b" +8" + b"   0" + b" 2.50" + b"1e2"
    keywords = [
        ("$BYTEORD", "4,3,2,1"),
        ("$DATATYPE", "A"),
        ("$MODE", "L"),
        ("$NEXTDATA", "0"),
        ("$PAR", "3"),
        ("$TOT", "3"),
        *_channel_keywords(["4", "5", "3"], ["1024", "1024", "1000"]),
    ]
    path = folder / "fixed20.fcs"
    path.write_bytes(_fcs_bytes("2.0", keywords, data))
    return path


FIXED_VALUES = [[12, 999, -7], [1023, 12345, 8], [0, 2.5, 100]]


def _hand_built_free(folder: Path, data: bytes, tot: str = "4", version: str = "3.0") -> Path:
    keywords = [
        ("$BYTEORD", "1,2,3,4"),
        ("$DATATYPE", "A"),
        ("$MODE", "L"),
        ("$NEXTDATA", "0"),
        ("$PAR", "2"),
        ("$TOT", tot),
        *_channel_keywords(["*", "*"], ["1024", "1024"]),
    ]
    path = folder / "free.fcs"
    path.write_bytes(_fcs_bytes(version, keywords, data))
    return path


# Runs of delimiters count as one (the FCS 3.0 example "1,3,, ,3" holds three values).
FREE_DATA = b"1,3,, ,3\r\n4\t\t-5\r\n 6.25 , 7e1\n0 2048 "
FREE_VALUES = [[1, 3], [3, 4], [-5, 6.25], [70, 0]]


def test_hand_built_fcs20_fixed_width(tmp_path: Path) -> None:
    sample = _strict_read(_hand_built_fixed(tmp_path))
    np.testing.assert_array_equal(sample.events, np.array(FIXED_VALUES, dtype=np.float32))
    assert sample.events.dtype == np.float32
    assert sample.fcs_version == "2.0"
    # $PnB is kept as written (characters per value); $PnR 1024 does not mask ASCII: 12345 stays.
    assert [c.bits for c in sample.channels] == [4, 5, 3]
    assert [c.range for c in sample.channels] == [1024.0, 1024.0, 1000.0]
    assert list_datasets(sample.path)[0].event_count == 3


def test_hand_built_free_format_delimiter_runs(tmp_path: Path) -> None:
    data = FREE_DATA.replace(b"0 2048 ", b"0 ")
    sample = _strict_read(_hand_built_free(tmp_path, data))
    np.testing.assert_array_equal(sample.events, np.array(FREE_VALUES, dtype=np.float32))
    assert [c.bits for c in sample.channels] == [0, 0]


def test_free_format_without_tot_counts_the_values(tmp_path: Path) -> None:
    data = FREE_DATA.replace(b"0 2048 ", b"0 ")
    path = _hand_built_free(tmp_path, data, tot=" ")
    assert list_datasets(path)[0].event_count == 4
    np.testing.assert_array_equal(_strict_read(path).events, np.array(FREE_VALUES, np.float32))


def test_fixed_width_range_is_not_a_mask(tmp_path: Path) -> None:
    events = np.array([[5000.0, 1.0], [1023.0, 65535.0]])
    specs = [ChannelSpec("A", None, 1024.0, 6), ChannelSpec("B", None, 1024.0, 5)]
    sample = _strict_read(write_fcs(tmp_path / "x.fcs", events, specs, datatype="A"))
    np.testing.assert_array_equal(sample.events, events.astype(np.float32))


def test_missing_range_defaults_to_the_widest_value(tmp_path: Path) -> None:
    specs = [ChannelSpec("A", None, 1024.0, 4)]
    path = write_fcs(tmp_path / "x.fcs", np.array([[7.0]]), specs, datatype="A")
    path.write_bytes(path.read_bytes().replace(b"/$P1R/1024/", b"/$P1R/    /"))
    assert read_fcs(path).channels[0].range == 10_000.0  # 4 characters: at most 9999


@st.composite
def fixed_layouts(draw: st.DrawFn) -> dict:
    n_channels = draw(st.integers(1, 4))
    n_events = draw(st.integers(0, 25))
    specs, columns = [], []
    for index in range(n_channels):
        if draw(st.booleans()):  # integers in a chosen width, as cytometers wrote them
            width = draw(st.integers(1, 9))
            values = st.integers(0, 10**width - 1).map(float)
            extra = draw(st.integers(0, 3))  # wider than needed: space padding
            bits: int | None = width + extra
        else:  # decimals and exponents, width from the longest value
            values = st.floats(-1e30, 1e30, allow_nan=False, allow_infinity=False)
            bits = None
        columns.append(draw(st.lists(values, min_size=n_events, max_size=n_events)))
        specs.append(ChannelSpec(f"P{index}", None, draw(st.sampled_from([2.0, 1024.0])), bits))
    events = np.array(columns, dtype=np.float64).T.reshape(n_events, n_channels)
    return {"specs": specs, "events": events, "version": draw(st.sampled_from(["2.0", "3.0"]))}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fixed_layouts())
def test_fixed_width_write_then_read_is_identity(layout: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_fcs(
            Path(folder) / "x.fcs",
            layout["events"],
            layout["specs"],
            version=layout["version"],
            datatype="A",
        )
        sample = _strict_read(path)
        np.testing.assert_array_equal(sample.events, layout["events"].astype(np.float32))
        bits = [c.bits for c in sample.channels]
        assert all(b >= 1 for b in bits)
        assert [b for b, s in zip(bits, layout["specs"], strict=True) if s.bits] == [
            s.bits for s in layout["specs"] if s.bits
        ]
        # Every event is exactly the sum of the widths: the DATA segment has no separators.
        raw = path.read_bytes()
        start, end = (int(raw[26:34]), int(raw[34:42]))
        assert (end - start + 1 if end else 0) == sum(bits) * layout["events"].shape[0]
        assert list_datasets(path)[0].event_count == layout["events"].shape[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 4).flatmap(
        lambda n: st.lists(
            st.lists(
                st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
                | st.integers(-(10**6), 10**6).map(float),
                min_size=n,
                max_size=n,
            ),
            max_size=25,
        ).map(lambda rows, n=n: np.array(rows, dtype=np.float64).reshape(len(rows), n))
    ),
    st.text(alphabet=FREE_DELIMITERS, min_size=1, max_size=4),
    st.sampled_from(["2.0", "3.0", "3.1"]),
)
def test_free_format_write_then_read_is_identity(
    events: np.ndarray, delimiter: str, version: str
) -> None:
    specs = [ChannelSpec(f"P{i}") for i in range(events.shape[1])]
    with tempfile.TemporaryDirectory() as folder:
        path = write_fcs(
            Path(folder) / "x.fcs",
            events,
            specs,
            version=version,
            datatype="A",
            ascii_delimiter=delimiter,
        )
        sample = _strict_read(path)
        np.testing.assert_array_equal(sample.events, events.astype(np.float32))
        assert [c.bits for c in sample.channels] == [0] * events.shape[1]
        assert list_datasets(path)[0].event_count == events.shape[0]


def test_writer_writes_the_spec_layout(tmp_path: Path) -> None:
    events = np.array([[1.0, -2.5], [300.0, 4e20]])
    specs = [ChannelSpec("A", bits=4), ChannelSpec("B")]
    raw = write_fcs(tmp_path / "f.fcs", events, specs, datatype="A", version="3.0").read_bytes()
    assert raw.endswith(b"   1" + b" -2.5" + b" 300" + b"4e+20")  # right-aligned, no separators
    assert b"/$P1B/4/" in raw and b"/$P2B/5/" in raw and b"/$DATATYPE/A/" in raw
    free = write_fcs(
        tmp_path / "d.fcs",
        events,
        [ChannelSpec("A"), ChannelSpec("B")],
        datatype="A",
        ascii_delimiter=",",
    ).read_bytes()
    assert free.endswith(b"1,-2.5,300,4e+20")
    assert b"/$P1B/*/" in free and b"/$P2B/*/" in free


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"events": [[12345.0]], "bits": 4}, "channel 'A': values need 5 characters, $PnB is 4"),
        ({"events": [[float("nan")]]}, "column 0: ASCII data cannot hold NaN or infinity"),
        ({"ascii_delimiter": ";"}, "ascii_delimiter must be made of space, tab, comma, CR"),
        ({"ascii_delimiter": " ", "bits": 3}, "free-format ASCII has no fixed width"),
        ({"ascii_delimiter": " ", "datatype": "F"}, "ascii_delimiter applies to $DATATYPE A"),
    ],
)
def test_writer_refuses(tmp_path: Path, kwargs: dict, message: str) -> None:
    events = np.array(kwargs.pop("events", [[1.0]]))
    spec = ChannelSpec("A", bits=kwargs.pop("bits", None))
    options = {"datatype": "A", **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        write_fcs(tmp_path / "x.fcs", events, [spec], **options)


def test_fixed_width_field_that_is_not_a_number(tmp_path: Path) -> None:
    path = _hand_built_fixed(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"12345", b"12x45"))
    assert (
        "ASCII DATA ($DATATYPE A): event 2 of 3, parameter 2 ($P2B 5 characters, bytes 16-20 "
        "of the DATA segment) holds '12x45', not a number"
    ) in _error(path)


@pytest.mark.parametrize("field", [b" nan", b" inf", b"1_00", b"    ", b"1 00", b"--10"])
def test_fixed_width_field_python_would_accept_or_blank(tmp_path: Path, field: bytes) -> None:
    path = _hand_built_fixed(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"1023", field))
    shown = repr(field.decode())
    assert "event 2 of 3, parameter 1 ($P1B 4 characters, bytes 12-15 of " in _error(path)
    assert f"holds {shown}, not a number" in _error(path)


def test_first_bad_field_in_event_order(tmp_path: Path) -> None:
    path = _hand_built_fixed(tmp_path)
    raw = path.read_bytes().replace(b"1e2", b"1eX").replace(b"  999", b"  9?9")
    path.write_bytes(raw)
    assert "event 1 of 3, parameter 2" in _error(path)


def test_free_format_value_that_is_not_a_number(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, FREE_DATA.replace(b"0 2048 ", b"0 ").replace(b"7e1", b"7f1"))
    assert (
        "free-format ASCII DATA ($PnB *): value 7 (event 4, parameter 1) is '7f1', not a number"
    ) in _error(path)


def test_free_format_syntax_error_with_number_characters(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, b"1 2 3 4 5 6 7 1e")
    assert "value 8 (event 4, parameter 2) is '1e', not a number" in _error(path)


def test_free_format_other_separator(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, b"1 2 3;4 5 6 7 8")
    assert "value 3 (event 2, parameter 1) is '3;4', not a number" in _error(path)


def test_too_few_free_format_values(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, b"1, 2, 3, 4, 5", tot="4")
    assert (
        "free-format ASCII DATA ($PnB *) holds only 5 values but $TOT 4 events x $PAR 2 "
        "parameters need 8"
    ) in _error(path)


def test_too_many_free_format_values(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, FREE_DATA, tot="4")
    assert "holds 9 values but $TOT 4 events x $PAR 2 parameters need 8" in _error(path)


def test_free_format_without_tot_and_an_odd_count(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, b"1 2 3", tot=" ")
    assert (
        "TEXT has no $TOT and the free-format ASCII DATA holds 3 values, not a whole number of "
        "events of $PAR 2 values"
    ) in _error(path)


def test_fixed_width_data_longer_than_tot_events(tmp_path: Path) -> None:
    path = _hand_built_fixed(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"/$TOT/3/", b"/$TOT/2/"))
    assert "holds 36 bytes but $TOT 2 events x 12 bytes per event ($PAR 3) need 24" in (
        _error(path)
    )


def test_mixed_free_and_fixed_widths(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, b"1 2 3 4 5 6 7 8")
    path.write_bytes(path.read_bytes().replace(b"/$P2B/*/", b"/$P2B/4/"))
    assert (
        "ASCII $PnB mixes '*' (free format: $P1B) with character counts ($P2B 4); every "
        "parameter must be '*' or every one a number of characters"
    ) in _error(path)


@pytest.mark.parametrize("width", [b"0", b"x"])
def test_unusable_ascii_width(tmp_path: Path, width: bytes) -> None:
    path = _hand_built_free(tmp_path, b"1 2 3 4 5 6 7 8")
    path.write_bytes(path.read_bytes().replace(b"/$P2B/*/", b"/$P2B/" + width + b"/"))
    assert (
        f"$P2B is '{width.decode()}': ASCII data ($DATATYPE A) need the number of characters "
        "per value (1 or more), or '*' for values separated by delimiters"
    ) in _error(path)


def test_unknown_datatype_names_the_four_known(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, b"1 2 3 4 5 6 7 8")
    path.write_bytes(path.read_bytes().replace(b"/$DATATYPE/A/", b"/$DATATYPE/X/"))
    assert (
        "$DATATYPE is 'X': this reader reads I (integer), F (float) and D (double) binary "
        "values, and A (ASCII) text"
    ) in _error(path)


def test_fixed_width_one_byte_offset_slip_is_tolerated(tmp_path: Path) -> None:
    path = _hand_built_fixed(tmp_path)
    raw = bytearray(path.read_bytes() + b"\n")
    end = int(raw[34:42])
    raw[34:42] = f"{end + 1:>8d}".encode()  # FCS 2.0: the HEADER is the only DATA offset
    path.write_bytes(bytes(raw))
    with pytest.warns(FCSOffsetWarning, match="hold 37 bytes, 1 more than 3 events x 12 bytes"):
        sample = read_fcs(path)
    np.testing.assert_array_equal(sample.events, np.array(FIXED_VALUES, dtype=np.float32))


def test_free_format_header_and_text_one_byte_apart(tmp_path: Path) -> None:
    data = FREE_DATA.replace(b"0 2048 ", b"0 ")
    path = _hand_built_free(tmp_path, data + b" ")  # a trailing delimiter, then one byte less
    raw = bytearray(path.read_bytes())
    end = int(raw[34:42])
    raw[34:42] = f"{end - 1:>8d}".encode()
    path.write_bytes(bytes(raw))
    with pytest.warns(FCSOffsetWarning, match="disagree by one byte; using TEXT's"):
        sample = read_fcs(path)
    np.testing.assert_array_equal(sample.events, np.array(FREE_VALUES, dtype=np.float32))


def test_truncated_free_format_data(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, b"1 2 3 4 5 6 7 8")
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-3])
    assert f"DATA segment ends at byte {size - 1:,} but the file has {size - 3:,} bytes" in (
        _error(path)
    )


def test_cli_inspect_ascii_file(tmp_path: Path) -> None:
    path = _hand_built_fixed(tmp_path)
    result = runner.invoke(app, ["flow", "inspect", str(path), "--json", "--stats"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["fcs_version"] == "2.0"
    assert summary["event_count"] == 3
    first, second, third = summary["channels"]
    assert (first["name"], first["bits"], first["min"], first["max"]) == ("CH1", 4, 0.0, 1023.0)
    assert second["max"] == 12345.0  # not masked by $P2R 1024
    assert second["mean"] == pytest.approx((999 + 12345 + 2.5) / 3)
    assert (third["min"], third["max"]) == (-7.0, 100.0)


def test_cli_inspect_bad_ascii_file(tmp_path: Path) -> None:
    path = _hand_built_free(tmp_path, b"1 2 3")
    result = runner.invoke(app, ["flow", "inspect", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {path}: free-format ASCII DATA ($PnB *) holds only 3 values but $TOT 4 events "
        "x $PAR 2 parameters need 8; $TOT, $PAR or the DATA offsets are wrong"
    )
