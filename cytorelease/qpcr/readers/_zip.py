"""Reading members of zip containers (RDML, xlsx) with limits that defeat zip bombs.

A member's declared size and its compression ratio are checked before it is opened, and the
read itself stops one byte past the limit, so a header that lies about the size gains nothing.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

from cytorelease.errors import InputError

__all__ = ["MAX_MEMBER_BYTES", "MAX_RATIO", "check_archive", "read_member"]

MAX_MEMBER_BYTES = 128 * 1024 * 1024  # the largest real RDML seen is under 10 MB of XML
MAX_TOTAL_BYTES = 256 * 1024 * 1024
MAX_RATIO = 200  # real XML exports compress 10-30x; bombs compress 1000x and more
_ENCRYPTED = 0x1  # general-purpose flag bit 0: the member is encrypted
_RATIO_FLOOR = 1024 * 1024  # tiny members may compress very well; only judge big ones


def _open(data: bytes, path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(
            f"not a readable zip archive ({exc}; truncated copy?)",
            path=path,
        ) from None
    except UnicodeDecodeError as exc:
        # zipfile decodes a member name flagged UTF-8 while reading the central directory
        raise InputError(
            f"not a readable zip archive (a member name flagged UTF-8 is not UTF-8 at byte "
            f"{exc.start}; damaged copy?)",
            path=path,
        ) from None


def check_archive(data: bytes, path: Path) -> zipfile.ZipFile:
    """The opened archive, after refusing declared sizes or ratios that only a bomb has."""
    archive = _open(data, path)
    total = 0
    for info in archive.infolist():
        if info.flag_bits & _ENCRYPTED:
            # zipfile would raise RuntimeError asking for a password on opening the member
            raise InputError(
                f"zip member {info.filename!r} is encrypted (password-protected); cytorelease "
                "reads exports saved without a password",
                path=path,
                hint="export the run again without a password",
            )
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
            raise InputError(
                f"zip member {info.filename!r} would expand to {info.file_size:,} bytes "
                f"(limit {MAX_MEMBER_BYTES:,}); refused as a possible zip bomb",
                path=path,
            )
        if info.file_size > _RATIO_FLOOR and ratio > MAX_RATIO:
            raise InputError(
                f"zip member {info.filename!r} has a compression ratio of {ratio:,.0f}:1 "
                f"(limit {MAX_RATIO}:1); refused as a possible zip bomb",
                path=path,
            )
    return archive


def read_member(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    """A member's bytes, never more than the limit whatever its header claims."""
    try:
        with archive.open(name) as handle:
            data = handle.read(MAX_MEMBER_BYTES + 1)
    except KeyError:
        names = ", ".join(repr(n) for n in archive.namelist()[:20]) or "none"
        raise InputError(f"zip has no member {name!r} (members: {names})", path=path) from None
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,
    ) as exc:
        raise InputError(
            f"zip member {name!r} is damaged ({exc}; truncated copy?)", path=path
        ) from None
    if len(data) > MAX_MEMBER_BYTES:
        raise InputError(
            f"zip member {name!r} expands past {MAX_MEMBER_BYTES:,} bytes; refused as a "
            "possible zip bomb",
            path=path,
        )
    return data
