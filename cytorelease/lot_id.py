"""The one check of a lot id, wherever one enters (lot.yaml, the CLI, the hook and worker).

A lot id becomes a folder name (``lots/<lot id>/``), part of file names (``<lot id>-release``,
the CoA) and a word on an output line. So it is letters, digits and ``- _ .``, starts with a
letter or digit (no ``.``/``..``, no hidden file, nothing an option parser reads as a flag) and
is at most 64 characters: no separator can lead a path outside ``--out`` and no control
character can forge a line of output, a log or the audit trail.
"""

from __future__ import annotations

import re

__all__ = ["LOT_ID_RULE", "MAX_LOT_ID", "lot_id_problem"]

MAX_LOT_ID = 64
LOT_ID_RULE = (
    f"a lot id is 1 to {MAX_LOT_ID} letters, digits, '-', '_' or '.', "
    "starting with a letter or digit"
)
_LOT_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_LOT_ID - 1}}}")


def lot_id_problem(value: object) -> str | None:
    """Why ``value`` is not a lot id (never quoting it: it may hold a line break), or None."""
    if not isinstance(value, str):
        return f"not text ({LOT_ID_RULE})"
    if _LOT_ID.fullmatch(value) is None:  # fullmatch: '$' would accept a trailing newline
        return LOT_ID_RULE
    return None
