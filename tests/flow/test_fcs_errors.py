"""Bad FCS input: one test per message; each names the file, what is wrong and where."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cytorelease.errors import InputError
from cytorelease.flow import fcs_io
from cytorelease.flow.fcs import list_datasets, read_fcs
from cytorelease.flow.fcs_write import ChannelSpec, write_fcs

SPECS = [ChannelSpec("FSC-A", "size"), ChannelSpec("CD3", "CD3 PE")]
EVENTS = np.arange(20, dtype=np.float32).reshape(10, 2)


def _good(folder: Path, name: str = "good.fcs", **kwargs: object) -> Path:
    return write_fcs(folder / name, EVENTS, SPECS, **kwargs)  # type: ignore[arg-type]


def _patched(folder: Path, old: bytes, new: bytes, **kwargs: object) -> Path:
    """A good file with one byte string replaced (same length keeps every offset valid)."""
    path = _good(folder, **kwargs)
    raw = path.read_bytes()
    assert raw.count(old) == 1, old
    path.write_bytes(raw.replace(old, new))
    return path


def _error(path: Path, **kwargs: object) -> str:
    with pytest.raises(InputError) as caught:
        read_fcs(path, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.fcs").endswith("no such file")


def test_directory(tmp_path: Path) -> None:
    assert "is a directory, not an FCS file" in _error(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.fcs"
    path.write_bytes(b"")
    assert "the file is empty (0 bytes)" in _error(path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests may run as root, for whom chmod 000 changes nothing: simulate the refusal.
    path = _good(tmp_path)
    monkeypatch.setattr(fcs_io.os, "access", lambda *_: False)
    assert _error(path).endswith("cannot be read (permission denied)")


def test_read_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _good(tmp_path)

    def failing_open(*_: object, **__: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fcs_io, "open", failing_open, raising=False)
    assert _error(path).endswith("cannot be read (Input/output error)")


def test_file_changing_while_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _good(tmp_path)
    size = path.stat().st_size
    monkeypatch.setattr(fcs_io, "check_fcs_path", lambda _: size + 10)
    assert f"the file changed while it was read ({size + 10:,} bytes expected, {size:,} read)" in (
        _error(path)
    )


def test_not_an_fcs_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.fcs"
    path.write_bytes(b"well,cq,target\n" * 10)
    assert "not an FCS file: it starts with b'well,cq,ta'" in _error(path)


def test_shorter_than_a_header(tmp_path: Path) -> None:
    path = tmp_path / "short.fcs"
    path.write_bytes(b"FCS3.1    ")
    assert "the file has 10 bytes: too short for the 58-byte FCS HEADER" in _error(path)


def test_header_only(tmp_path: Path) -> None:
    path = _good(tmp_path)
    path.write_bytes(path.read_bytes()[:58])
    message = _error(path)
    assert re.search(
        r"TEXT segment ends at byte [\d,]+ but the file has 58 bytes \(truncated copy\?\)", message
    )


def test_truncated_data(tmp_path: Path) -> None:
    path = _good(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[:-30])
    end = len(raw) - 1
    assert (
        f"DATA segment ends at byte {end:,} but the file has {len(raw) - 30:,} bytes (truncated copy?)"
        in (_error(path))
    )


def test_tot_par_mismatch_with_data_size(tmp_path: Path) -> None:
    path = _patched(tmp_path, b"/$TOT/10/", b"/$TOT/09/")
    message = _error(path)
    assert "holds 80 bytes but $TOT 9 events x 8 bytes per event ($PAR 2) need 72" in message


def test_unknown_version(tmp_path: Path) -> None:
    path = _patched(tmp_path, b"FCS3.1", b"FCS4.0")
    assert "FCS version '4.0' is not one this reader knows (2.0, 3.0, 3.1, 3.2)" in _error(path)


def test_garbled_header_offset(tmp_path: Path) -> None:
    path = _good(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[26:34] = b"  12x456"
    path.write_bytes(bytes(raw))
    assert "HEADER DATA start offset is '12x456', not a number" in _error(path)


def test_header_without_text_segment(tmp_path: Path) -> None:
    path = _good(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[10:18] = b"       0"
    path.write_bytes(bytes(raw))
    assert "HEADER gives no usable TEXT segment (bytes 0-" in _error(path)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"$PAR": " "}, "TEXT lacks the required keyword $PAR"),
        ({"$PAR": "two"}, "$PAR is 'two', not a whole number"),
        ({"$PAR": "0"}, "$PAR is 0: a data set needs at least one parameter"),
        (
            {"$DATATYPE": "X"},
            "$DATATYPE is 'X': this reader reads I (integer), F (float) and D (double)",
        ),
        ({"$MODE": "C"}, "$MODE is 'C': only list-mode data ($MODE L) can be read"),
        (
            {"$BYTEORD": "3,4,1,2"},
            "$BYTEORD is '3,4,1,2': expected 1,2,3,4 (little-endian) or 4,3,2,1",
        ),
    ],
)
def test_unreadable_keywords(tmp_path: Path, keywords: dict[str, str], message: str) -> None:
    assert message in _error(_good(tmp_path, keywords=keywords))


def test_bit_packed_integers_are_refused_by_the_data_length(tmp_path: Path) -> None:
    # $P2B 12 read as 2 whole bytes makes an event 6 bytes, not the 8 the DATA segment holds.
    path = _patched(tmp_path, b"/$P2B/32/", b"/$P2B/12/", datatype="I")
    message = _error(path)
    assert "holds 80 bytes but $TOT 10 events x 6 bytes per event ($PAR 2) need 60" in message
    assert "(read with $P2B rounded up to whole bytes; bit-packed DATA cannot be read)" in message


@pytest.mark.parametrize("bits", [b"00", b"65", b"xx"])
def test_integer_width_that_is_not_a_bit_count(tmp_path: Path, bits: bytes) -> None:
    path = _patched(tmp_path, b"/$P2B/32/", b"/$P2B/" + bits + b"/", datatype="I")
    assert f"$P2B is '{bits.decode()}': integer data need the number of bits per value" in (
        _error(path)
    )


def test_no_data_offsets_anywhere(tmp_path: Path) -> None:
    path = _good(tmp_path, version="2.0", blank_header_offsets=True)
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"$BEGINDATA", b"$XBEGINDAT").replace(b"$ENDDATA", b"$XENDDAT"))
    assert "no DATA offsets: HEADER's are blank or zero and TEXT has no $BEGINDATA/$ENDDATA" in (
        _error(path)
    )


def test_header_and_text_offsets_far_apart_and_neither_fits(tmp_path: Path) -> None:
    # HEADER's DATA starts 8 bytes early (wrong length); TEXT's ends beyond the file.
    path = _good(tmp_path)
    raw = bytearray(path.read_bytes())
    start, end = int(raw[26:34]), int(raw[34:42])
    raw[26:34] = f"{start - 8:>8d}".encode()
    old_end = f"/$ENDDATA/{end}/".encode()
    assert raw.count(old_end) == 1
    new_end = f"/$ENDDATA/{end + 900:0{len(str(end))}d}/".encode()
    raw = bytearray(bytes(raw).replace(old_end, new_end))
    raw[34:42] = f"{end:>8d}".encode()
    path.write_bytes(bytes(raw))
    message = _error(path)
    assert f"HEADER says DATA is bytes {start - 8:,}-{end:,}" in message
    assert f"TEXT ($BEGINDATA/$ENDDATA) says {start:,}-{end + 900:,}" in message
    assert "they disagree by more than one byte and neither fits the file" in message
    assert "HEADER's holds 88 bytes, not $TOT x bytes per event (80)" in message
    assert "TEXT's holds 980 bytes, not $TOT x bytes per event (80)" in message


def test_data_set_index_out_of_range(tmp_path: Path) -> None:
    path = _good(tmp_path)
    assert "data set 3 requested but the file holds 1 (numbered 0 to 0)" in _error(path, dataset=3)


def test_supplemental_text_beyond_the_end(tmp_path: Path) -> None:
    path = _good(tmp_path, keywords={"$BEGINSTEXT": "900000", "$ENDSTEXT": "900100"})
    size = path.stat().st_size
    assert f"supplemental TEXT segment ends at byte 900,100 but the file has {size:,} bytes" in (
        _error(path)
    )


def test_list_datasets_reports_the_same_errors(tmp_path: Path) -> None:
    path = tmp_path / "empty.fcs"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="the file is empty"):
        list_datasets(path)
    bad = _good(tmp_path, name="bad.fcs", keywords={"$MODE": "U"})
    with pytest.raises(InputError, match=re.escape(f"{bad}: $MODE is 'U'")):
        list_datasets(bad)
