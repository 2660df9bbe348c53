"""The data folder: where the database, the archive, lot manifests and releases live.

``--data-dir`` / ``CYTORELEASE_DATA`` choose it; the default is a per-user folder
(``$XDG_DATA_HOME/cytorelease``, else ``~/.local/share/cytorelease``).

Configuration the data folder keeps: ``instruments.yaml`` (which instrument feeds which lot
input) and ``library.yaml`` (``library: <folder>``, the site library the worker judges lots
against; a relative folder is relative to the data folder). ``--library`` or
``CYTORELEASE_LIBRARY``, when given, take precedence over ``library.yaml``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cytorelease.errors import InputError

__all__ = ["DATA_ENV", "DB_ENV", "PRIVATE_FILE", "PRIVATE_FOLDER", "DataDir", "default_data_root"]

DATA_ENV = "CYTORELEASE_DATA"
DB_ENV = "CYTORELEASE_DB"
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


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
            # Private to the service user: raw data, records and keys are nobody else's to
            # read or change (modes apply to folders created here; existing ones are checked).
            data.root.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
            for folder in (data.archive_dir, data.archive_tmp, data.lots_dir, data.releases_dir):
                folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        return data

    def check_private(self) -> None:
        """Refuse a data folder (or archive) others can write: they could replace records."""
        for folder in (self.root, self.root / "archive", self.archive_dir):
            try:
                mode = folder.stat().st_mode
            except FileNotFoundError:
                continue
            if mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise InputError(
                    f"writable by others (mode {stat.S_IMODE(mode):04o}): refused",
                    path=folder,
                    hint=f"chmod go-w {folder} (the data folder is the service user's alone)",
                )

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
    def library_config_path(self) -> Path:
        """``library.yaml``: ``library: <folder>``, the site library of this data folder."""
        return self.root / "library.yaml"

    def configured_library(self) -> Path | None:
        """The site library ``library.yaml`` names, or None without the file.

        A file that does not name a folder holding specs/, gating/, assays/ or reports/ is an
        :class:`InputError` naming the file and line: a mistyped library must never fall back
        to the bundled definitions without a word.
        """
        from cytorelease._resources import check_library
        from cytorelease._yaml import load_yaml_file

        path = self.library_config_path
        if not path.is_file():
            return None
        document = load_yaml_file(path, error=InputError, what="library configuration")
        data = document.data
        value = data.get("library") if isinstance(data, dict) else None
        if not isinstance(data, dict) or set(data) != {"library"} or not isinstance(value, str):
            line = document.lines.line_of(("library",)) if isinstance(data, dict) else 1
            raise InputError(
                f"line {line}: expected one key, 'library: <folder>'",
                path=path,
                hint="name the site library folder (it holds specs/, gating/, assays/)",
            )
        folder = Path(value).expanduser()
        folder = folder if folder.is_absolute() else self.root / folder
        check_library(folder, named_in=path)
        return folder

    def use_configured_library(self) -> str | None:
        """Judge with ``library.yaml``'s site library unless ``--library`` /
        ``CYTORELEASE_LIBRARY`` already name one; the library line to show when it was taken."""
        from cytorelease._resources import library_line, site_library, use_data_library

        if site_library() is not None:
            return None
        return library_line() if use_data_library(self.configured_library()) else None

    @property
    def keys_dir(self) -> Path:
        """``keys/service.pem`` + ``keys/registry.yaml``: the worker's service key and registry."""
        return self.root / "keys"
