"""The data folder: where the database, the archive, lot manifests and releases live.

``--data-dir`` / ``CYTORELEASE_DATA`` choose it; the default is a per-user folder
(``$XDG_DATA_HOME/cytorelease``, else ``~/.local/share/cytorelease``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cytorelease.errors import InputError

__all__ = ["DATA_ENV", "DB_ENV", "DataDir", "default_data_root"]

DATA_ENV = "CYTORELEASE_DATA"
DB_ENV = "CYTORELEASE_DB"


def default_data_root() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cytorelease"


@dataclass(frozen=True, slots=True)
class DataDir:
    """The folder layout; every path the unattended side writes is derived from ``root``."""

    root: Path

    @classmethod
    def open(cls, root: str | Path | None = None, *, create: bool = True) -> DataDir:
        chosen = Path(root) if root else Path(os.environ.get(DATA_ENV) or default_data_root())
        if chosen.exists() and not chosen.is_dir():
            raise InputError(
                "the data folder is a file", path=chosen, hint="pass a folder to --data-dir"
            )
        data = cls(chosen.absolute())
        if create:
            for folder in (data.archive_dir, data.archive_tmp, data.lots_dir, data.releases_dir):
                folder.mkdir(parents=True, exist_ok=True)
        return data

    @property
    def db_path(self) -> Path:
        return self.root / "cytorelease.db"

    @property
    def archive_dir(self) -> Path:
        return self.root / "archive" / "sha256"

    @property
    def archive_tmp(self) -> Path:
        return self.root / "archive" / "incoming"

    @property
    def lots_dir(self) -> Path:
        """``lots/<lot id>/lot.yaml``: manifests whose inputs name files by name."""
        return self.root / "lots"

    @property
    def work_dir(self) -> Path:
        return self.root / "work"

    @property
    def releases_dir(self) -> Path:
        return self.root / "releases"

    @property
    def instruments_path(self) -> Path:
        return self.root / "instruments.yaml"

    @property
    def keys_dir(self) -> Path:
        """``keys/service.pem`` + ``keys/signers.yaml``: the worker's service key."""
        return self.root / "keys"
