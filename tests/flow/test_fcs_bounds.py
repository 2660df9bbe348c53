"""Partial, degenerate and absurd FCS files are refused at once, naming what is wrong.

Each file is built byte by byte the way a writer lays one out (HEADER, TEXT, DATA), then
damaged the way a real copy or a hostile file is: $TOT never written (0) over a full DATA
segment, a copy cut inside DATA, no $DATATYPE, a $PAR the TEXT cannot describe, absurd
$TOT/$PAR/$PnB values, a $NEXTDATA pointing back into its own TEXT.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cytorelease.cli.main import app
from cytorelease.errors import FCSChannelNameWarning, InputError
from cytorelease.flow.fcs import list_datasets, read_fcs

runner = CliRunner()
EVENTS = np.arange(20, dtype="<f4").reshape(10, 2)


def _keywords(n_events: int = 10, **changes: str | None) -> dict[str, str]:
    keywords = {
        "$BYTEORD": "1,2,3,4",
        "$DATATYPE": "F",
        "$MODE": "L",
        "$NEXTDATA": "0",
        "$PAR": "2",
        "$TOT": str(n_events),
        "$P1N": "FSC-A",
        "$P1B": "32",
        "$P1R": "262144",
        "$P2N": "CD3",
        "$P2B": "32",
        "$P2R": "262144",
    }
    for key, value in changes.items():
        key = key.replace("_", "$", 1) if key.startswith("_") else key
        if value is None:
            keywords.pop(key, None)
        else:
            keywords[key] = value
    return keywords


def _build(folder: Path, keywords: dict[str, str], data: bytes, name: str = "f.fcs") -> Path:
    """HEADER + TEXT + DATA with the DATA offsets in both HEADER and TEXT (written 10 digits
    wide so the TEXT's length does not depend on them); an empty DATA gets offsets 0/0."""
    body = "".join(f"{k}/{v}/" for k, v in keywords.items())
    body += "$BEGINDATA/{:010d}/$ENDDATA/{:010d}/"
    text_end = 58 + len("/" + body.format(0, 0)) - 1
    start, end = (text_end + 1, text_end + len(data)) if data else (0, 0)
    text = ("/" + body.format(start, end)).encode("latin-1")
    header = b"FCS3.1    " + b"%8d%8d%8d%8d%8d%8d" % (58, text_end, start, end, 0, 0)
    path = folder / name
    path.write_bytes(header + text + data)
    return path


def _error(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        read_fcs(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message


def _cli_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_the_builder_makes_a_readable_file(tmp_path: Path) -> None:
    sample = read_fcs(_build(tmp_path, _keywords(), EVENTS.tobytes()))
    np.testing.assert_array_equal(sample.events, EVENTS)


def test_tot_zero_over_a_full_data_segment_is_refused(tmp_path: Path) -> None:
    path = _build(tmp_path, _keywords(_TOT="0"), EVENTS.tobytes())
    message = _error(path)
    assert "$TOT is 0 but the DATA segment" in message
    assert "holds 80 bytes (10 events of 8 bytes)" in message
    with pytest.raises(InputError, match=r"\$TOT is 0"):
        list_datasets(path)


def test_tot_zero_with_an_empty_data_segment_is_an_empty_sample(tmp_path: Path) -> None:
    sample = read_fcs(_build(tmp_path, _keywords(n_events=0), b""))
    assert sample.events.shape == (0, 2)


def test_tot_disagreeing_with_the_data_length_names_both(tmp_path: Path) -> None:
    message = _error(_build(tmp_path, _keywords(n_events=4), EVENTS.tobytes()))
    assert "holds 80 bytes but $TOT 4 events x 8 bytes per event ($PAR 2) need 32" in message


def test_a_copy_cut_inside_data_is_refused(tmp_path: Path) -> None:
    path = _build(tmp_path, _keywords(), EVENTS.tobytes())
    raw = path.read_bytes()
    path.write_bytes(raw[:-12])  # the offsets still describe the whole segment
    message = _error(path)
    assert "(truncated copy?)" in message
    assert "$TOT 10 events x 8 bytes per event need 80 bytes" in message
    assert "the file holds 68" in message


def test_a_copy_cut_with_its_offsets_rewritten_is_refused(tmp_path: Path) -> None:
    # A copy tool that rewrote the offsets to the bytes it kept, but not $TOT.
    short = EVENTS.tobytes()[:-16]
    message = _error(_build(tmp_path, _keywords(), short))
    assert "holds 64 bytes but $TOT 10 events x 8 bytes per event ($PAR 2) need 80" in message


def test_missing_datatype_is_refused(tmp_path: Path) -> None:
    message = _error(_build(tmp_path, _keywords(_DATATYPE=None), EVENTS.tobytes()))
    assert "TEXT lacks the required keyword $DATATYPE (I, F, D or A)" in message


def test_missing_pnb_is_refused_for_float_data_too(tmp_path: Path) -> None:
    keywords = _keywords(_P2B=None, _P9B="32")  # as many $PnB keywords, one misnumbered
    message = _error(_build(tmp_path, keywords, EVENTS.tobytes()))
    assert "TEXT lacks $P2B ($PAR is 2)" in message


def test_par_the_text_cannot_describe_is_refused(tmp_path: Path) -> None:
    path = _build(tmp_path, _keywords(_PAR="100000"), EVENTS.tobytes())
    assert path.stat().st_size < 400
    message = _error(path)
    assert "$PAR is 100,000 but the TEXT segment (14 keywords) holds $PnB for 2 parameters" in (
        message
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("$TOT", "-5", "$TOT is -5: an event count cannot be negative"),
        ("$TOT", "ten", "$TOT is 'ten', not a whole number"),
        ("$TOT", "1e30", "$TOT 1,000,000,000,000,000,019,884,624,838,656 events x 8 bytes"),
        ("$TOT", "9" * 5000, "$TOT is '9999999999999999999999999999999999999999'... (5,000"),
        ("$PAR", "two", "$PAR is 'two', not a whole number"),
        ("$PAR", "-2", "$PAR is -2: a data set needs at least one parameter"),
        ("$PAR", "1" + "0" * 30, "$PAR is 1,000,000,000,000,000,000,000,000,000,000 but"),
        ("$DATATYPE", "Q", "$DATATYPE is 'Q'"),
    ],
)
def test_absurd_counts_are_refused(tmp_path: Path, key: str, value: str, expected: str) -> None:
    keywords = _keywords()
    keywords[key] = value
    assert expected in _error(_build(tmp_path, keywords, EVENTS.tobytes()))


@pytest.mark.parametrize("width", ["99999999999999999999", "9" * 5000, "²", "0", "65"])
def test_absurd_integer_widths_are_refused(tmp_path: Path, width: str) -> None:
    keywords = _keywords(_DATATYPE="I", _P1B=width)
    message = _error(_build(tmp_path, keywords, EVENTS.astype("<u4").tobytes()))
    assert "$P1B is " in message and "integer data need the number of bits" in message
    assert len(message) < 400


def test_a_huge_ascii_width_is_refused_against_the_data_length(tmp_path: Path) -> None:
    keywords = _keywords(_DATATYPE="A", _P1B="10" + "0" * 15, _P2B="4")
    message = _error(_build(tmp_path, keywords, b"1234" * 20))
    assert "holds 80 bytes but $TOT 10 events x 10,000,000,000,000,004 bytes per event" in message


def test_nextdata_into_its_own_text_is_refused(tmp_path: Path) -> None:
    message = _error(_build(tmp_path, _keywords(_NEXTDATA="30"), EVENTS.tobytes()))
    assert "$NEXTDATA of data set 0 is 30: it points to byte 30, inside that data set's own" in (
        message
    )


def test_many_renamed_channels_are_named_ten_at_a_time(tmp_path: Path) -> None:
    n = 3000
    keywords = _keywords(_PAR=str(n), _P1N=None, _P2N=None)
    for number in range(3, n + 1):
        keywords[f"$P{number}B"] = "32"
    path = _build(tmp_path, keywords, np.zeros((10, n), dtype="<f4").tobytes())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sample = read_fcs(path)
    assert sample.channel_names[:3] == ("P1", "P2", "P3")
    (warning,) = [w for w in caught if issubclass(w.category, FCSChannelNameWarning)]
    text = str(warning.message)
    assert "$P10N '' -> 'P10'; and 2,990 more" in text
    assert "$P11N" not in text


BAD = {
    "tot-zero": (_keywords(_TOT="0"), EVENTS.tobytes(), "$TOT is 0"),
    "no-datatype": (_keywords(_DATATYPE=None), EVENTS.tobytes(), "$DATATYPE"),
    "huge-par": (_keywords(_PAR="100000"), EVENTS.tobytes(), "$PAR is 100,000"),
    "negative-tot": (_keywords(_TOT="-1"), EVENTS.tobytes(), "$TOT is -1"),
    "short-data": (_keywords(), EVENTS.tobytes()[:-16], "$TOT 10 events"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["inspect", "inspect-json", "gate"])
def test_cli_gives_one_error_line(tmp_path: Path, case: str, command: str) -> None:
    keywords, data, expected = BAD[case]
    path = str(_build(tmp_path, keywords, data))
    args = {
        "inspect": ["flow", "inspect", path],
        "inspect-json": ["flow", "inspect", path, "--json"],
        "gate": ["flow", "gate", path, "-t", "cd19-car-t-panel"],
    }[command]
    line = _cli_error(args)
    assert line.startswith(f"error: {path}: ") and expected in line
