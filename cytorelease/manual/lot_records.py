"""Every manual record of a lot folder (``LOT_DIR/manual/``), checked; nothing else may lie
there, so a misnamed or stray file is refused rather than silently left out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from cytorelease.errors import InputError
from cytorelease.manual.checking import ManualResult, check_record
from cytorelease.manual.events import MANUAL_DIR

if TYPE_CHECKING:
    from cytorelease.manual.entering import LotIdentity
    from cytorelease.report.registry import Registry

__all__ = ["manual_results"]

# what an interrupted atomic write leaves behind (report.keys.atomic_write): never a record
_PARTIAL = re.compile(r"^\.manual\.[a-z0-9_]+\.json\..+$")


def manual_results(
    lot_dir: Path,
    lot: LotIdentity,
    *,
    registry: Registry | None,
    trail_dir: Path | None = None,
) -> dict[str, ManualResult]:
    """{attribute: its checked result} for every record in ``lot_dir/manual/``; with the data
    folder ``trail_dir``, each record must still hold every event its trail recorded."""
    from cytorelease.attributes import ATTRIBUTES

    folder = lot_dir / MANUAL_DIR
    if not folder.exists():
        return {}
    if not folder.is_dir():
        raise InputError("is not a folder of manual records", path=folder)
    found: dict[str, ManualResult] = {}
    for path in sorted(folder.iterdir()):
        if _PARTIAL.match(path.name):
            continue
        attribute = path.name.removesuffix(".json")
        if (
            not path.name.endswith(".json")
            or attribute not in ATTRIBUTES
            or not attribute.startswith("manual.")
            or not path.is_file()
            or path.is_symlink()
        ):
            raise InputError(
                "not a manual record: the folder holds only <manual attribute>.json files "
                "written by `cytorelease manual enter`",
                path=path,
            )
        result = check_record(
            path,
            lot_id=lot.lot_id,
            chain_of_identity=lot.chain_of_identity,
            attribute=attribute,
            registry=registry,
        )
        if result is not None and trail_dir is not None:
            from cytorelease.manual.trail_check import missing_events

            problem = missing_events(trail_dir, path, result.events)
            if problem:
                raise InputError(problem, path=path, hint="restore the record from a copy; "
                                 "the trail names every event it held")  # fmt: skip
        if result is not None:
            found[attribute] = result
    return found
