"""Decoding plate-reader text exports: UTF-16 (SoftMax Pro), UTF-8 with or without BOM, Latin-1."""

from __future__ import annotations

import codecs

__all__ = ["decode_text", "split_cells"]


def decode_text(data: bytes) -> str:
    """The text of an export, whatever of the usual encodings the instrument software chose."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # a head cut for sniffing may end inside a 2-byte unit; read_plate refuses such files
        return data.decode("utf-16", errors="replace")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    # UTF-16 without a BOM: every other byte of ASCII text is NUL
    head = data[:200]
    if head and head.count(0) > len(head) // 3:
        little = head[1::2].count(0) > head[0::2].count(0)
        return data.decode("utf-16-le" if little else "utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def split_cells(line: str, delimiter: str = "\t") -> list[str]:
    """One line's cells, surrounding quotes removed."""
    cells = line.rstrip("\r\n").split(delimiter)
    return [c[1:-1] if len(c) >= 2 and c[0] == c[-1] == '"' else c for c in cells]
