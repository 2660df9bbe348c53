"""Real FCS files from 8 cytometers: events equal flowio's; keywords, labels and spills as written."""

from __future__ import annotations

import warnings
from pathlib import Path

import flowio
import numpy as np
import pytest

from cytorelease.errors import CytoreleaseWarning, FCSOffsetWarning, InputError
from cytorelease.flow.fcs import list_datasets, read_fcs
from cytorelease.provenance import file_sha256
from tests.conftest import shared_path

# file -> (FCS version, events, parameters) per data set, from ../shared/data/fcs/MANIFEST.md
# and ../shared/data/gatingml/MANIFEST.md.
READABLE = {
    "fcs/100715.fcs": [("2.0", 65_016, 16)],
    "fcs/test_comp_example.fcs": [("3.0", 10_703, 18)],
    "fcs/index_sorted_example.fcs": [("3.0", 384, 13)],
    "fcs/coulter.lmd": [("2.0", 18_110, 8), ("3.0", 18_110, 8)],
    "fcs/test_data_2d_01.fcs": [("3.1", 10_000, 2)],
    "fcs/data_set_simple_line_100.fcs": [("3.1", 100, 2)],
    "fcs/G11.fcs": [("3.1", 5_785, 12)],
    "fcs/3FITC_4PE_004.fcs": [("2.0", 94_569, 4)],
    "fcs/variable_int_example.fcs": [("3.0", 2, 26)],
    "gatingml/data1.fcs": [("2.0", 13_367, 8)],
}
CASES = [(name, index) for name, sets in READABLE.items() for index in range(len(sets))]


def _quiet_read(path: Path, dataset: int = 0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CytoreleaseWarning)
        return read_fcs(path, dataset=dataset)


def _quiet_list(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CytoreleaseWarning)
        return list_datasets(path)


def _flowio_events(path: Path, offset: int) -> np.ndarray:
    """flowio's events (its $PnR masks applied), with the flags it needs for sloppy offsets."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = flowio.FlowData(
            str(path),
            ignore_offset_error=True,
            ignore_offset_discrepancy=True,
            nextdata_offset=offset,  # given even when 0: flowio refuses multi-set files otherwise
        )
    return np.asarray(theirs.events, dtype=np.float64).reshape(-1, theirs.channel_count)


@pytest.mark.parametrize(("name", "dataset"), CASES)
def test_events_equal_flowio(name: str, dataset: int) -> None:
    path = shared_path(*name.split("/"))
    version, n_events, n_channels = READABLE[name][dataset]
    offset = _quiet_list(path)[dataset].offset
    sample = _quiet_read(path, dataset)
    assert sample.fcs_version == version
    assert sample.events.shape == (n_events, n_channels)
    assert sample.events.dtype == np.float32
    assert not sample.events.flags.writeable
    reference = _flowio_events(path, offset)
    np.testing.assert_array_equal(sample.events, reference.astype(np.float32))
    assert sample.sha256 == file_sha256(path)
    assert sample.dataset_count == len(READABLE[name])


@pytest.mark.parametrize("name", list(READABLE))
def test_list_datasets_matches_the_manifest(name: str) -> None:
    path = shared_path(*name.split("/"))
    infos = _quiet_list(path)
    assert [(i.fcs_version, i.event_count, i.channel_count) for i in infos] == READABLE[name]
    assert [i.index for i in infos] == list(range(len(infos)))
    assert infos[0].offset == 0


def test_multiple_data_sets_are_chained_by_nextdata() -> None:
    path = shared_path("fcs", "coulter.lmd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CytoreleaseWarning)
        infos = list_datasets(path)
        first, second = read_fcs(path), read_fcs(path, dataset=1)
    assert [i.offset for i in infos] == [0, int(first.keywords["$NEXTDATA"])]
    assert first.keywords["$BYTEORD"] == "1,2"  # FCS 2.0's short little-endian form
    assert (first.dataset_index, second.dataset_index) == (0, 1)
    assert [c.bits for c in first.channels] == [16] * 8
    assert [c.bits for c in second.channels] == [32] * 8
    # The 2.0 data set's integers are masked to their $PnR of 1024: 10 bits.
    assert first.events.max() <= 1023
    assert second.channel_names[-1] == "TIME"


def test_big_endian_float_with_spill_keyword() -> None:
    sample = _quiet_read(shared_path("fcs", "100715.fcs"))
    assert sample.keywords["$BYTEORD"] == "4,3,2,1"
    assert sample.channel_names[:2] == ("FSC-A", "FSC-H")
    assert sample.events[0, 0] == np.float32(27700.75)
    assert sample.spill is not None
    assert sample.spill.matrix.shape == (13, 13)
    assert sample.spill.channels[0] == "B515-A"
    assert sample.spill.matrix[1, 2] == pytest.approx(0.07118758880093266)
    assert set(sample.spill.channels) <= set(sample.channel_names)
    assert sample.keywords["$TIMESTEP"] == "0.08"


def test_spillover_keyword_and_labels() -> None:
    sample = _quiet_read(shared_path("fcs", "G11.fcs"))
    assert sample.channels[3].name == "BL1-A"
    assert sample.channels[3].label == "GFP-A"
    assert sample.column("GFP-A") is not None
    assert sample.spill is not None
    assert sample.spill.channels == ("BL1-A", "YL2-A", "VL1-A", "VL1-H", "VL1-W")
    np.testing.assert_array_equal(sample.spill.matrix, np.eye(5))


def test_off_by_one_data_end_warns_with_both_offsets() -> None:
    path = shared_path("fcs", "test_comp_example.fcs")
    with pytest.warns(FCSOffsetWarning, match=r"bytes 3,318-773,934 .*should be 773,933"):
        sample = read_fcs(path)
    assert sample.event_count == 10_703
    assert sample.spill is not None and sample.spill.matrix.shape == (14, 14)
    assert sample.channels[0].label == "FSC-A"


def test_formfeed_delimiter_and_padded_tot() -> None:
    sample = _quiet_read(shared_path("fcs", "index_sorted_example.fcs"))
    assert sample.keywords["$TOT"] == "384"  # blanks around values are stripped
    assert sample.event_count == 384
    assert sample.spill is not None and sample.spill.channels[0] == "BL 530/30-A"


def test_integer_data_are_masked_to_their_range() -> None:
    sample = _quiet_read(shared_path("fcs", "3FITC_4PE_004.fcs"))
    assert [c.range for c in sample.channels] == [1024.0] * 4
    assert sample.events.max() <= 1023
    assert sample.events[0, :3].tolist() == [234.0, 58.0, 648.0]


def test_mixed_widths_and_non_numeric_timestep() -> None:
    path = shared_path("fcs", "variable_int_example.fcs")
    with pytest.warns(CytoreleaseWarning, match=r"neither a \$PnN nor a \$PnS.*'x+'"):
        sample = read_fcs(path)
    assert [c.bits for c in sample.channels] == [16] * 25 + [32]
    assert sample.keywords["$TIMESTEP"] == "xxxxxxxxx"
    assert sample.channels[0].log_decades == 4.0 and sample.channels[0].log_offset == 1.0
    assert sample.channels[2].gain == pytest.approx(6.5536)
    # SPILL's names are $PnN; the anonymised one stays as written, with the warning above
    assert sample.spill is not None
    assert sample.spill.channels[2] == "x" * 28
    assert sample.spill.channels[0] == "488/552nm PECy5.5 (710/40) LogH"


def test_gatingml_data1_big_endian_16_bit() -> None:
    sample = _quiet_read(shared_path("gatingml", "data1.fcs"))
    assert sample.keywords["$BYTEORD"] == "4,3,2,1" and sample.keywords["$DATATYPE"] == "I"
    assert sample.channels[0].label == "FSC-Height"
    assert sample.channels[0].gain == pytest.approx(3.67)
    assert sample.events[0, :3].tolist() == [323.0, 218.0, 220.0]


@pytest.mark.parametrize(
    ("name", "header", "text", "fault"),
    [
        (
            "data_start_offset_discrepancy_example.fcs",
            "5,555-6,188",
            "6,081-6,188",
            "it holds 634 bytes, not $TOT x bytes per event (108)",
        ),
        (
            "data_stop_offset_discrepancy_example.fcs",
            "6,081-6,944",
            "6,081-6,188",
            "it holds 864 bytes, not $TOT x bytes per event (108)",
        ),
    ],
)
def test_header_text_disagreement_is_settled_by_the_file_structure(
    name: str, header: str, text: str, fault: str
) -> None:
    """HEADER's DATA offsets are off by hundreds of bytes; only TEXT's fit $TOT x bytes per
    event, so TEXT's are read (as flowio does), with a warning naming both."""
    path = shared_path("fcs", name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sample = read_fcs(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, FCSOffsetWarning)]
    assert len(messages) == 1
    assert messages[0].startswith(str(path))
    assert f"HEADER says DATA is bytes {header}" in messages[0]
    assert f"TEXT ($BEGINDATA/$ENDDATA) says {text}" in messages[0]
    assert f"HEADER's cannot be right: {fault}; using TEXT's" in messages[0]
    reference = _flowio_events(path, 0)
    np.testing.assert_array_equal(sample.events, reference.astype(np.float32))


@pytest.mark.parametrize(("name", "dataset"), CASES)
def test_keywords_alone_equal_flowio_text(name: str, dataset: int) -> None:
    """read_keywords (no events decoded) gives each data set's TEXT as flowio parses it (flowio
    lower-cases names and drops every '$'; values are compared without the padding spaces our
    reader trims). Empty values, which the standard forbids, are left out on both sides: writers
    that produce them put doubled delimiters in the TEXT, which the standard reads as an escaped
    delimiter (as we do) and flowio as an empty value."""
    from cytorelease.flow.fcs import read_keywords

    path = shared_path(*name.split("/"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = read_keywords(path, dataset=dataset)
        offset = _quiet_list(path)[dataset].offset
        theirs = flowio.FlowData(
            str(path),
            ignore_offset_error=True,
            ignore_offset_discrepancy=True,
            nextdata_offset=offset,
            only_text=True,
        ).text
    raw, base = path.read_bytes(), _quiet_list(path)[dataset].offset
    delimiter = chr(raw[base + int(raw[base + 10 : base + 18])])  # TEXT's first byte
    folded = {k.replace("$", "").lower(): v for k, v in ours.items()}
    expected = {k: v.strip() for k, v in theirs.items()}
    written = {k: v for k, v in folded.items() if v and delimiter not in k + v}
    assert written == {k: v for k, v in expected.items() if v and delimiter not in k + v}
    assert ours["$PAR"] == str(READABLE[name][dataset][2])


def test_keywords_of_a_missing_data_set_is_one_error() -> None:
    from cytorelease.flow.fcs import read_keywords

    path = shared_path("fcs", "coulter.lmd")
    with pytest.raises(InputError, match="data set 2 requested but the file holds 2"):
        read_keywords(path, dataset=2)
