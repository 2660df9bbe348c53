"""Reading FCS 2.0, 3.0, 3.1 and 3.2 files into immutable :class:`Sample` objects.

A file holds one or more data sets chained by $NEXTDATA; each has a HEADER, a TEXT segment
(plus an optional supplemental TEXT) and a DATA segment. This module walks the chain, decides
where each DATA segment really is (HEADER and TEXT offsets, $TOT x bytes per event; for
free-format ASCII, whose events vary in length, the offsets as written) and hands the bytes to
:mod:`cytorelease.flow.fcs_data`. Every problem with the input is an
:class:`InputError` naming the file, what is wrong and where.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cytorelease.errors import CytoreleaseWarning, FCSOffsetWarning, InputError, note_input
from cytorelease.flow.fcs_data import DataLayout, Datatype, count_ascii_values, decode_events
from cytorelease.flow.fcs_io import HashingSample, map_file, read_file, start_sha256
from cytorelease.flow.fcs_meta import build_channels, data_layout, parse_spill
from cytorelease.flow.fcs_text import HEADER_LENGTH, Header, keyword_int, parse_header, parse_text
from cytorelease.flow.sample import Channel, Sample

__all__ = ["DatasetInfo", "list_datasets", "read_fcs", "read_keywords"]


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """One data set of a file: where it starts, its FCS version and its size."""

    index: int
    offset: int
    fcs_version: str
    event_count: int
    channel_count: int

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "offset": self.offset,
            "fcs_version": self.fcs_version,
            "event_count": self.event_count,
            "channel_count": self.channel_count,
        }


@dataclass(frozen=True, slots=True)
class _Dataset:
    """A data set's HEADER and merged TEXT keywords (primary TEXT wins over supplemental)."""

    index: int
    header: Header
    keywords: dict[str, str]


def read_fcs(path: str | Path, *, dataset: int = 0) -> Sample:
    """Read one data set (``dataset``, counted from 0) of an FCS file.

    Events are float32 (n_events x n_channels, read-only) as stored: integers after their $PnR
    bit mask, floats as written, ASCII numbers as parsed (never masked), no $PnE/$PnG scaling.
    Tolerated irregularities (one-byte offset slips, renamed channels, an unusable spill) are
    reported as warnings.
    """
    path = Path(path)
    try:
        buffer = read_file(path, aligned_offset=_data_start_hint(path, dataset))
        digest = start_sha256(buffer)
        datasets = list(_walk(buffer, path))
        if not 0 <= dataset < len(datasets):
            raise InputError(
                f"data set {dataset} requested but the file holds {len(datasets)} "
                f"(numbered 0 to {len(datasets) - 1})"
            )
        chosen = datasets[dataset]
        channels = build_channels(chosen.keywords, path)
        layout = data_layout(chosen.keywords, channels)
        start, length, n_events = _locate_data(chosen, layout, buffer, path)
        events = decode_events(buffer[start : start + length], n_events, layout)
        spill, problems = parse_spill(chosen.keywords, channels)
    except InputError as exc:
        raise exc.with_path(path) from None
    except Exception as exc:
        # anything else is a reader bug, not a bad file: it propagates naming the file
        note_input(exc, path, f"FCS reader, data set {dataset}")
        raise
    if layout.padded:
        problems.insert(0, _padded_note(channels, layout))
    for problem in problems:
        warnings.warn(f"{path}: {problem}", CytoreleaseWarning, stacklevel=2)
    return HashingSample.with_digest(
        digest,
        path=path,
        fcs_version=chosen.header.version,
        events=events,
        channels=channels,
        keywords=chosen.keywords,
        spill=spill,
        dataset_index=dataset,
        dataset_count=len(datasets),
    )


def _padded_note(channels: tuple[Channel, ...], layout: DataLayout) -> str:
    written = ", ".join(
        f"$P{n}B {channels[n - 1].bits} ({layout.bits[n - 1] // 8} bytes)" for n in layout.padded
    )
    return (
        f"{written}: not whole bytes; each value was read from the bytes it occupies (the "
        "DATA segment's length fits that, not bit-packing) and masked to its $PnB bits"
    )


def _data_start_hint(path: Path, dataset: int) -> int:
    """Where the DATA segment probably starts, so the read can align it; 0 when unsure.

    Only a hint: the authoritative parse (and every error or warning) comes from the bytes
    actually read and hashed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mapped = map_file(path)
            for item in _walk(mapped, path):
                if item.index == dataset:
                    channels = build_channels(item.keywords, path)
                    layout = data_layout(item.keywords, channels)
                    if layout.datatype is Datatype.ASCII:
                        return 0  # text is parsed, never viewed in place: alignment is moot
                    return _locate_data(item, layout, mapped, path)[0]
    except (InputError, ValueError, OSError):
        pass
    return 0


def list_datasets(path: str | Path) -> list[DatasetInfo]:
    """Every data set in the file, in $NEXTDATA order, without decoding any events."""
    path = Path(path)
    mapped = map_file(path)
    try:
        infos = []
        for item in _walk(mapped, path):
            channels = build_channels(item.keywords, path)
            layout = data_layout(item.keywords, channels)
            _, _, n_events = _locate_data(item, layout, mapped, path)
            infos.append(
                DatasetInfo(
                    index=item.index,
                    offset=item.header.base,
                    fcs_version=item.header.version,
                    event_count=n_events,
                    channel_count=len(channels),
                )
            )
    except InputError as exc:
        raise exc.with_path(path) from None
    except Exception as exc:
        note_input(exc, path, f"FCS reader, listing data sets ({len(infos)} read)")
        raise
    finally:
        del mapped
    return infos


def read_keywords(path: str | Path, *, dataset: int = 0) -> dict[str, str]:
    """The TEXT keywords (supplemental TEXT merged, primary wins) of one data set, without
    reading its events: what routing and identification need from a file."""
    path = Path(path)
    mapped = map_file(path)
    held = 0
    try:
        for item in _walk(mapped, path):
            if item.index == dataset:
                return dict(item.keywords)
            held += 1
    except InputError as exc:
        raise exc.with_path(path) from None
    except Exception as exc:
        note_input(exc, path, f"FCS reader, TEXT of data set {held}")
        raise
    finally:
        del mapped
    raise InputError(f"data set {dataset} requested but the file holds {held}", path=path)


def _walk(buffer: np.ndarray, path: Path) -> Iterator[_Dataset]:
    """Each data set's HEADER and TEXT, following $NEXTDATA (relative to its data set)."""
    base, index = 0, 0
    while True:
        header = parse_header(bytes(buffer[base : base + HEADER_LENGTH]), base)
        keywords = _segment_keywords(buffer, header.text_start, header.text_end, "TEXT")
        stext_start = keyword_int(keywords, "$BEGINSTEXT", default=0)
        stext_end = keyword_int(keywords, "$ENDSTEXT", default=0)
        if stext_start and stext_end >= stext_start:
            supplemental = _segment_keywords(
                buffer, base + stext_start, base + stext_end, "supplemental TEXT"
            )
            keywords = {**supplemental, **keywords}
        yield _Dataset(index=index, header=header, keywords=keywords)
        next_offset = keyword_int(keywords, "$NEXTDATA", default=0)
        if next_offset <= 0:
            return
        next_base = base + next_offset
        if next_base <= header.text_end:
            # the next data set must start past this one's TEXT: otherwise a few bytes could
            # chain thousands of data sets that each re-read the same TEXT
            raise InputError(
                f"$NEXTDATA of data set {index} is {next_offset:,}: it points to byte "
                f"{next_base:,}, inside that data set's own HEADER/TEXT (bytes {base:,}-"
                f"{header.text_end:,})"
            )
        if next_base + HEADER_LENGTH > buffer.size:
            warnings.warn(
                f"{path}: $NEXTDATA of data set {index} points to byte {next_base:,}, beyond the "
                f"end of the file ({buffer.size:,} bytes); no further data sets read",
                CytoreleaseWarning,
                stacklevel=3,
            )
            return
        base, index = next_base, index + 1


def _segment_keywords(buffer: np.ndarray, start: int, end: int, name: str) -> dict[str, str]:
    if end >= buffer.size:
        raise InputError(
            f"{name} segment ends at byte {end:,} but the file has {buffer.size:,} bytes "
            "(truncated copy?)"
        )
    return parse_text(bytes(buffer[start : end + 1]))


def _text_data_offsets(item: _Dataset) -> tuple[int, int] | None:
    start = keyword_int(item.keywords, "$BEGINDATA", default=0)
    end = keyword_int(item.keywords, "$ENDDATA", default=0)
    if end <= 0:
        return None
    return item.header.base + start, item.header.base + end


def _locate_data(
    item: _Dataset, layout: DataLayout, buffer: np.ndarray, path: Path
) -> tuple[int, int, int]:
    """Where the DATA segment starts, how many of its bytes to decode and how many events they
    hold (warnings for slips)."""
    if layout.delimited:
        return _locate_delimited_data(item, layout, buffer, path)
    file_size = buffer.size
    per_event = layout.bytes_per_event
    total = _event_total(item)
    expected = total * per_event if total >= 0 else None
    if expected == 0:
        _check_empty_data(item, per_event)
        return 0, 0, 0
    start, end = _choose_offsets(item, expected, path, file_size)
    length = end - start + 1
    if expected is None:
        total, extra = divmod(length, per_event)
    else:
        extra = length - expected
    if extra < 0 or extra >= per_event:
        packed = (
            f" (read with {', '.join(f'$P{n}B' for n in layout.padded)} rounded up to whole "
            "bytes; bit-packed DATA cannot be read)"
            if layout.padded
            else ""
        )
        raise InputError(
            f"DATA segment (bytes {start:,}-{end:,}) holds {length:,} bytes but $TOT "
            f"{total:,} events x {per_event:,} bytes per event ($PAR {layout.channel_count}) "
            f"need {expected:,}; $TOT, $PAR/$PnB or the DATA offsets are wrong{packed}"
        )
    needed_end = start + (expected if expected is not None else length) - 1
    if needed_end >= file_size or start >= file_size:
        held = max(0, file_size - start)
        raise InputError(
            f"DATA segment ends at byte {max(end, needed_end):,} but the file has "
            f"{file_size:,} bytes (truncated copy?): $TOT {total:,} events x {per_event:,} bytes "
            f"per event need {length if expected is None else expected:,} bytes from byte "
            f"{start:,}, the file holds {held:,}"
        )
    if extra:
        warnings.warn(
            FCSOffsetWarning(
                f"{path}: DATA segment bytes {start:,}-{end:,} hold {length:,} bytes, {extra} more "
                f"than {total:,} events x {per_event:,} bytes; the DATA end offset should be "
                f"{end - extra - item.header.base:,}: reading {total:,} events from byte "
                f"{start:,}"
            ),
            stacklevel=4,
        )
    return start, total * per_event, total


def _event_total(item: _Dataset) -> int:
    """$TOT, or -1 when the TEXT has none (FCS 2.0 did not require it)."""
    total = keyword_int(item.keywords, "$TOT", default=-1)
    if total < 0 and item.keywords.get("$TOT", "").strip():
        raise InputError(f"$TOT is {total:,}: an event count cannot be negative")
    return total


def _check_empty_data(item: _Dataset, per_event: int) -> None:
    """$TOT 0: the DATA segment must be empty too, or $TOT hides the events it holds.

    Writers mark an empty segment with offsets 0/0 (or leave them out); a one-byte segment
    (start = end) is the same slip of one the offsets are allowed elsewhere.
    """
    offsets = [o for o in (_header_data_offsets(item), _text_data_offsets(item)) if o]
    for start, end in offsets:
        length = end - start + 1
        if start > item.header.base and length > 1:
            events = f" ({length // per_event:,} events of {per_event} bytes)" if per_event else ""
            raise InputError(
                f"$TOT is 0 but the DATA segment (bytes {start:,}-{end:,}) holds {length:,} "
                f"bytes{events}: $TOT or the DATA offsets are wrong (a copy whose $TOT was "
                "never written?)"
            )


def _header_data_offsets(item: _Dataset) -> tuple[int, int] | None:
    header = item.header
    if header.data_start is None or header.data_end is None:
        return None
    return header.data_start, header.data_end


def _locate_delimited_data(
    item: _Dataset, layout: DataLayout, buffer: np.ndarray, path: Path
) -> tuple[int, int, int]:
    """Free-format ASCII: events vary in length, so the DATA offsets are trusted as written
    and the whole segment is decoded; without $TOT the values counted give the events."""
    total = _event_total(item)
    if total == 0:
        _check_empty_data(item, 0)
        return 0, 0, 0
    start, end = _choose_offsets(item, None, path, buffer.size)
    if end >= buffer.size or start >= buffer.size:
        raise InputError(
            f"DATA segment ends at byte {end:,} but the file has {buffer.size:,} bytes "
            "(truncated copy?)"
        )
    if end < start:
        raise InputError(f"DATA segment ends at byte {end:,}, before it starts ({start:,})")
    length = end - start + 1
    if total < 0:
        n_values = count_ascii_values(buffer[start : end + 1])
        total, extra = divmod(n_values, layout.channel_count)
        if extra:
            raise InputError(
                f"TEXT has no $TOT and the free-format ASCII DATA holds {n_values:,} values, "
                f"not a whole number of events of $PAR {layout.channel_count} values"
            )
    return start, length, total


def _choose_offsets(
    item: _Dataset, expected: int | None, path: Path, file_size: int
) -> tuple[int, int]:
    """The DATA start and end bytes from HEADER and TEXT; a one-byte disagreement is tolerated,
    a wider one only when the file's own structure rules one side out (see _settle)."""
    header = item.header
    from_header = (
        (header.data_start, header.data_end)
        if header.data_start is not None and header.data_end is not None
        else None
    )
    from_text = _text_data_offsets(item)
    if from_header is None and from_text is None:
        raise InputError(
            "no DATA offsets: HEADER's are blank or zero and TEXT has no $BEGINDATA/$ENDDATA"
        )
    if from_header is None or from_text is None or from_header == from_text:
        return from_text or from_header  # type: ignore[return-value]
    described = (
        f"HEADER says DATA is bytes {from_header[0]:,}-{from_header[1]:,}, TEXT "
        f"($BEGINDATA/$ENDDATA) says {from_text[0]:,}-{from_text[1]:,}"
    )
    if max(abs(a - b) for a, b in zip(from_header, from_text, strict=True)) > 1:
        candidates = {"HEADER": from_header, "TEXT": from_text}
        return _settle(item, candidates, described, expected, file_size, path)
    fits = {
        source: expected is not None and offsets[1] - offsets[0] + 1 == expected
        for source, offsets in (("HEADER", from_header), ("TEXT", from_text))
    }
    source = "HEADER" if fits["HEADER"] and not fits["TEXT"] else "TEXT"
    reason = ", whose length fits $TOT x bytes per event" if fits[source] else ""
    warnings.warn(
        FCSOffsetWarning(
            f"{path}: {described}; they disagree by one byte; using {source}'s{reason}"
        ),
        stacklevel=5,
    )
    return from_header if source == "HEADER" else from_text


def _settle(
    item: _Dataset,
    candidates: dict[str, tuple[int, int]],
    described: str,
    expected: int | None,
    file_size: int,
    path: Path,
) -> tuple[int, int]:
    """HEADER and TEXT place DATA more than a byte apart (FCS 3.x says they must agree).

    Real writers do this (BD Accuri C6 CFlow: TEXT's offsets point into the TEXT segment), so
    the file's structure decides when it can: DATA cannot overlap the HEADER, a TEXT or the
    ANALYSIS segment, must hold $TOT x bytes per event (one spare byte tolerated) and must lie
    within the file. Exactly one place passing is used, with a warning saying why the other is
    impossible. When both pass (CyAn Summit writes such files) nothing in the file says which
    is right, and guessing would put wrong events into a release result: refused.
    """
    segments = _other_segments(item)
    faults = {
        source: _placement_fault(offsets, expected, file_size, segments)
        for source, offsets in candidates.items()
    }
    fitting = [source for source, fault in faults.items() if fault is None]
    if not fitting:
        raise InputError(
            f"{described}: they disagree by more than one byte and neither fits the file "
            f"(HEADER's {faults['HEADER']}; TEXT's {faults['TEXT']}); the file is corrupt or "
            "was edited"
        )
    if len(fitting) == 2:
        raise InputError(
            f"{described}: they disagree by more than one byte and both fit the file, so "
            "neither can be trusted (the file is corrupt or was edited)"
        )
    chosen = fitting[0]
    other = "TEXT" if chosen == "HEADER" else "HEADER"
    reason = f"{other}'s cannot be right: it {faults[other]}"
    warnings.warn(
        FCSOffsetWarning(f"{path}: {described}; {reason}; using {chosen}'s"),
        stacklevel=5,  # the caller of read_fcs / list_datasets
    )
    return candidates[chosen]


def _other_segments(item: _Dataset) -> list[tuple[str, tuple[int, int]]]:
    """HEADER, TEXT, supplemental TEXT and ANALYSIS (when present) as absolute byte ranges."""
    base = item.header.base
    segments = [
        ("HEADER", (base, base + HEADER_LENGTH - 1)),
        ("TEXT", (item.header.text_start, item.header.text_end)),
    ]
    for name, first, last in (
        ("supplemental TEXT", "$BEGINSTEXT", "$ENDSTEXT"),
        ("ANALYSIS", "$BEGINANALYSIS", "$ENDANALYSIS"),
    ):
        try:
            start = keyword_int(item.keywords, first, default=0)
            end = keyword_int(item.keywords, last, default=0)
        except InputError:
            continue  # an unreadable optional offset rules nothing out
        if start > 0 and end >= start:
            segments.append((name, (base + start, base + end)))
    return segments


def _placement_fault(
    offsets: tuple[int, int],
    expected: int | None,
    file_size: int,
    segments: list[tuple[str, tuple[int, int]]],
) -> str | None:
    """Why DATA cannot be at ``offsets``, or None when it can."""
    start, end = offsets
    length = end - start + 1
    if length < 1:
        return "ends before it starts"
    if expected is not None and length not in (expected, expected + 1):
        return f"holds {length:,} bytes, not $TOT x bytes per event ({expected:,})"
    last = start + (expected if expected is not None else length) - 1
    if last >= file_size:
        return f"runs past the end of the file ({file_size:,} bytes)"
    for name, (first, final) in segments:
        if start <= final and last >= first:
            return f"overlaps the {name} segment (bytes {first:,}-{final:,})"
    return None
