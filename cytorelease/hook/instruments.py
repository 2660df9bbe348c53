"""The instrument allow-list (``DATA/instruments.yaml``): which instruments may hand over files.

.. code-block:: yaml

    schema: cytorelease.instruments/1
    instruments:
      - {id: FACS-01, serial: V657338, kind: flow-cytometer}
      - {id: QS-01, serial: "272510034", kind: qpcr}
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cytorelease._yaml import (
    YamlLinesError,
    load_yaml_with_lines,
    read_document_text,
    validation_problems,
)
from cytorelease.errors import InputError

__all__ = ["Instrument", "InstrumentKind", "InstrumentList", "load_instruments"]

SCHEMA = "cytorelease.instruments/1"


class InstrumentKind(StrEnum):
    FLOW_CYTOMETER = "flow-cytometer"
    QPCR = "qpcr"
    DPCR = "dpcr"
    PLATE_READER = "plate-reader"


class Instrument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    serial: str = Field(min_length=1)
    kind: InstrumentKind


class InstrumentList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["cytorelease.instruments/1"] = Field(alias="schema")
    instruments: list[Instrument]

    def find(self, instrument_id: str) -> Instrument | None:
        return next((i for i in self.instruments if i.id == instrument_id), None)


def load_instruments(path: Path) -> InstrumentList:
    """Read and validate the allow-list; errors name the file, field path and line."""
    if not path.is_file():
        raise InputError(
            "no instrument allow-list",
            path=path,
            hint=f"create it ({SCHEMA}: a list of id, serial, kind) to accept instruments",
        )
    try:
        # the bounded reader every document takes: a device or a huge file is refused
        document = load_yaml_with_lines(
            read_document_text(path, error=InputError, what="instrument allow-list")
        )
    except YamlLinesError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise InputError(f"{where}{exc}", path=path) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path) from None
    try:
        listing = InstrumentList.model_validate(document.data)
    except ValidationError as exc:
        raise InputError(
            "; ".join(validation_problems(exc, document.lines, document.data)), path=path
        ) from None
    seen: set[str] = set()
    for index, instrument in enumerate(listing.instruments):
        if instrument.id in seen:
            line = document.lines.line_of(("instruments", index, "id"))
            raise InputError(
                f"instruments[{index}].id (line {line}): {instrument.id!r} is listed twice",
                path=path,
            )
        seen.add(instrument.id)
    return listing
