"""A signed CoA released with some manual results still to come, and the people to add them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cytorelease.lot.release import release_lot
from cytorelease.report.entry import Meaning
from cytorelease.report.sign import sign_with_key_file
from tests.double_entry import (
    PASSPHRASE,
    People,
    Person,
    bench_values,
    enter_verified,
    make_people,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "lot-CAR-0001"


@dataclass(frozen=True)
class Released:
    """A lot folder, its CoA (signed as ``signed_as``) and the values held back from it."""

    lot: Path
    coa: Path
    people: People
    held: dict[str, tuple[str, str | None]]

    def copy(self, folder: Path) -> Released:
        """A private copy (lot folder and CoA) a test may change."""
        folder.mkdir(parents=True, exist_ok=True)
        lot = Path(shutil.copytree(self.lot, folder / "lot"))
        coa = Path(shutil.copyfile(self.coa, folder / self.coa.name))
        return Released(lot, coa, self.people, self.held)


def sign(path: Path, person: Person, meaning: Meaning, people: People, **options: Any) -> None:
    """``person`` signs ``path`` (a CoA or, with ``content_check``, an addendum)."""
    sign_with_key_file(
        path, key_path=person.key_path, passphrase=PASSPHRASE, meaning=meaning,
        registry=people.folder, **options,
    )  # fmt: skip


def release_holding(
    folder: Path, people: People, held: tuple[str, ...], meanings: tuple[Meaning, ...]
) -> Released:
    """The sample lot released with the manual results ``held`` not yet entered, signed by the
    people whose meanings are given (performed by first, reviewed by reviewer, approved by qa)."""
    lot = Path(shutil.copytree(SAMPLE, folder / "lot"))
    values = bench_values(lot)
    later = {a: values.pop(a) for a in held}
    enter_verified(lot, people, values)
    outcome = release_lot(lot, out=folder / "out", registry=people.folder)
    by = {Meaning.PERFORMED: people.first, Meaning.REVIEWED: people.reviewer,
          Meaning.APPROVED: people.qa}  # fmt: skip
    for meaning in meanings:
        sign(outcome.report_path, by[meaning], meaning, people)
    return Released(lot, outcome.report_path, people, later)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> People:
    return make_people(tmp_path_factory.mktemp("people"))


@pytest.fixture(scope="module")
def approved(tmp_path_factory: pytest.TempPathFactory, people: People) -> Released:
    """PASS and approved, sterility (post-release) pending."""
    return release_holding(
        tmp_path_factory.mktemp("approved"), people, ("manual.sterility",),
        (Meaning.PERFORMED, Meaning.REVIEWED, Meaning.APPROVED),
    )  # fmt: skip


@pytest.fixture
def case(approved: Released, tmp_path: Path) -> Released:
    return approved.copy(tmp_path / "case")
