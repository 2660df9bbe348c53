"""Layouts real cytometers write that bend the FCS rules, rebuilt byte by byte.

Each file here is synthetic: a HEADER, a TEXT segment with fixed-width offsets and integer
DATA, then one quirk applied (DATA offsets that HEADER and TEXT give far apart, as BD Accuri
C6 CFlow and CyAn Summit files have; $PnB 10 in 16-bit words, as Beckman Coulter CXP writes).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import CytoreleaseWarning, FCSOffsetWarning, InputError
from cytorelease.flow.fcs import list_datasets, read_fcs

RNG_EVENTS = np.random.default_rng(7).integers(0, 1024, size=(12, 3), dtype=np.uint16)


def _build(
    folder: Path,
    events: np.ndarray,
    *,
    bits: tuple[int, ...] = (16, 16, 16),
    ranges: tuple[int, ...] = (1024, 1024, 1024),
    version: str = "3.0",
    byteord: str = "1,2",
    gap: int = 0,
    trailing: int = 0,
    header_shift: tuple[int, int] = (0, 0),
    text_shift: tuple[int, int] = (0, 0),
    extra: tuple[tuple[str, str], ...] = (),
) -> tuple[Path, int, int]:
    """The file, and where its DATA really starts and ends (absolute, inclusive)."""
    data = events.astype("<u2").tobytes()
    n_events, n_channels = events.shape
    keywords = [
        ("$BYTEORD", byteord),
        ("$DATATYPE", "I"),
        ("$MODE", "L"),
        ("$NEXTDATA", "0"),
        ("$PAR", str(n_channels)),
        ("$TOT", str(n_events)),
    ]
    for number in range(1, n_channels + 1):
        keywords += [
            (f"$P{number}N", f"CH{number}"),
            (f"$P{number}B", str(bits[number - 1])),
            (f"$P{number}R", str(ranges[number - 1])),
        ]
    # Offsets written 10 digits wide (as CyAn does) so the TEXT length does not depend on them.
    keywords += [("$BEGINDATA", "{:010d}"), ("$ENDDATA", "{:010d}")]
    keywords += [("$BEGINANALYSIS", "0"), ("$ENDANALYSIS", "0")]
    keywords += [("$BEGINSTEXT", "0"), ("$ENDSTEXT", "0"), *extra]
    template = "/" + "".join(f"{key}/{value}/" for key, value in keywords)
    text_start = 58
    text_end = text_start + len(template.format(0, 0)) - 1
    data_start = text_end + 1 + gap
    data_end = data_start + len(data) - 1
    text = template.format(data_start + text_shift[0], data_end + text_shift[1]).encode()
    assert len(text) == text_end - text_start + 1
    fields = (text_start, text_end, data_start + header_shift[0], data_end + header_shift[1])
    header = f"FCS{version}    ".encode() + b"".join(f"{v:>8d}".encode() for v in fields)
    header += b"       0       0"
    path = folder / "quirk.fcs"
    path.write_bytes(header + text + b" " * gap + data + b"\xee" * trailing)
    return path, data_start, data_end


def _read(path: Path) -> tuple[np.ndarray, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sample = read_fcs(path)
    return np.asarray(sample.events), [str(w.message) for w in caught]


def _offset_messages(messages: list[str]) -> str:
    return " | ".join(m for m in messages if "HEADER says DATA is bytes" in m)


def test_text_offsets_inside_the_text_segment_lose_to_header(tmp_path: Path) -> None:
    # Accuri C6 (CFlow): TEXT's DATA offsets point hundreds of bytes back, into TEXT itself;
    # HEADER's are right but end one byte past the file.
    path, start, end = _build(tmp_path, RNG_EVENTS, text_shift=(-120, -120), header_shift=(0, 1))
    events, messages = _read(path)
    np.testing.assert_array_equal(events, RNG_EVENTS.astype(np.float32))
    message = _offset_messages(messages)
    assert message.startswith(str(path))
    assert f"HEADER says DATA is bytes {start:,}-{end + 1:,}" in message
    assert f"TEXT ($BEGINDATA/$ENDDATA) says {start - 120:,}-{end - 120:,}" in message
    assert f"TEXT's cannot be right: it overlaps the TEXT segment (bytes 58-{start - 1:,})" in (
        message
    )
    assert "using HEADER's" in message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list_datasets(path)[0].event_count == 12
    assert any("TEXT's cannot be right" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "shifts",
    [
        {"text_shift": (12, 12)},  # CyAn (Summit): TEXT's DATA starts late, trailing bytes
        {"header_shift": (6, 6)},  # the mirror case: HEADER's starts late
    ],
)
def test_both_fitting_the_file_is_refused_not_guessed(
    tmp_path: Path, shifts: dict[str, tuple[int, int]]
) -> None:
    path, _, _ = _build(tmp_path, RNG_EVENTS, trailing=64, **shifts)
    with pytest.raises(InputError) as caught:
        read_fcs(path)
    assert "both fit the file, so neither can be trusted" in str(caught.value)


def test_both_fit_and_neither_follows_text_is_refused(tmp_path: Path) -> None:
    path, start, end = _build(tmp_path, RNG_EVENTS, gap=16, trailing=64, header_shift=(8, 8))
    with pytest.raises(InputError) as caught:
        read_fcs(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: HEADER says DATA is bytes {start + 8:,}-{end + 8:,}")
    assert "\n" not in message
    assert "disagree by more than one byte and both fit the file, so neither can be trusted" in (
        message
    )


def test_data_running_past_the_file_is_ruled_out(tmp_path: Path) -> None:
    path, _, _ = _build(tmp_path, RNG_EVENTS, header_shift=(40, 40))
    events, messages = _read(path)
    np.testing.assert_array_equal(events, RNG_EVENTS.astype(np.float32))
    size = path.stat().st_size
    assert f"HEADER's cannot be right: it runs past the end of the file ({size:,} bytes)" in (
        _offset_messages(messages)
    )


def test_ten_bit_values_in_sixteen_bit_words(tmp_path: Path) -> None:
    # Beckman Coulter CXP (FC500 FCS 2.0 data sets): $PnB 10, each value in a 16-bit word whose
    # top bits carry other flags. $P3B 12 with $PnR 65536 keeps 12 bits.
    junk = np.array([5 << 10, 63 << 10, 3 << 12], dtype=np.uint16)
    stored = RNG_EVENTS | junk
    path, _, _ = _build(
        tmp_path, stored, bits=(10, 10, 12), ranges=(1024, 4096, 65536), version="2.0"
    )
    events, messages = _read(path)
    expected = np.stack(
        [stored[:, 0] & 1023, stored[:, 1] & 1023, stored[:, 2] & 4095], axis=1
    ).astype(np.float32)
    np.testing.assert_array_equal(events, expected)
    note = [m for m in messages if "not whole bytes" in m]
    assert note == [
        f"{path}: $P1B 10 (2 bytes), $P2B 10 (2 bytes), $P3B 12 (2 bytes): not whole bytes; "
        "each value was read from the bytes it occupies (the DATA segment's length fits that, "
        "not bit-packing) and masked to its $PnB bits"
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CytoreleaseWarning)
        sample = read_fcs(path)
        assert [c.bits for c in sample.channels] == [10, 10, 12]
        info = list_datasets(path)[0]
    assert (info.fcs_version, info.event_count, info.channel_count) == ("2.0", 12, 3)


def test_bit_packed_ten_bit_values_are_refused(tmp_path: Path) -> None:
    # 12 events x 3 values x 10 bits packed = 45 bytes: not the 72 whole 16-bit words need.
    path, start, _ = _build(tmp_path, RNG_EVENTS, bits=(10, 10, 10), version="2.0")
    raw = path.read_bytes()
    packed = raw[: start + 45]
    old_end = f"/$ENDDATA/{start + 71:010d}/".encode()
    packed = packed.replace(old_end, f"/$ENDDATA/{start + 44:010d}/".encode())
    packed = packed[:34] + f"{start + 44:>8d}".encode() + packed[42:]
    path.write_bytes(packed)
    with pytest.raises(InputError) as caught:
        read_fcs(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: DATA segment (bytes {start:,}-{start + 44:,}) holds 45")
    assert "(read with $P1B, $P2B, $P3B rounded up to whole bytes; bit-packed DATA cannot be " in (
        message
    )


def test_offset_warning_is_an_fcs_offset_warning(tmp_path: Path) -> None:
    path, _, _ = _build(tmp_path, RNG_EVENTS, text_shift=(-120, -120))
    with pytest.warns(FCSOffsetWarning, match="TEXT's cannot be right"):
        read_fcs(path)


def test_spill_naming_channels_by_parameter_number(tmp_path: Path) -> None:
    # BD Accuri C6 and Beckman Coulter Kaluza write "$SPILLOVER/2,2,3,..." for $P2N and $P3N.
    spill = ("$SPILLOVER", "2,2,3,1,0.25,0.125,1")
    path, _, _ = _build(tmp_path, RNG_EVENTS, extra=(spill,))
    with pytest.warns(CytoreleaseWarning, match="parameter number") as caught:
        sample = read_fcs(path)
    assert sample.spill is not None
    assert sample.spill.channels == ("CH2", "CH3")
    np.testing.assert_array_equal(sample.spill.matrix, [[1.0, 0.25], [0.125, 1.0]])
    assert (
        f"{path}: $SPILLOVER names channels by parameter number, not $PnN: 2 -> 'CH2', 3 -> 'CH3'"
    ) in [str(w.message) for w in caught]


def test_spill_numbers_beyond_par_stay_unknown(tmp_path: Path) -> None:
    spill = ("$SPILLOVER", "2,2,9,1,0.25,0.125,1")
    path, _, _ = _build(tmp_path, RNG_EVENTS, extra=(spill,))
    with pytest.warns(CytoreleaseWarning, match="neither a \\$PnN nor a \\$PnS") as caught:
        sample = read_fcs(path)
    assert sample.spill is not None and sample.spill.channels == ("2", "9")
    assert not any("parameter number" in str(w.message) for w in caught)
