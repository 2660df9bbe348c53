"""Test helpers for manual results under double entry: a signed registry with two analysts
(and a reviewer, a QA approver), and entering a lot's bench sheet as the demo does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cytorelease.bench_sheet import BENCH_SHEET, read_bench_sheet
from cytorelease.lot.manifest import load_manifest
from cytorelease.manual import LotIdentity, enter_value, verify_value
from cytorelease.report.keys import load_private_key
from cytorelease.report.registry_admin import enroll, init_registry
from cytorelease.signature_policy import Role

PASSPHRASE = "correct horse battery staple"
EVIDENCE = "synthetic test identity: no document checked (test fixture)"


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    key_path: Path


@dataclass(frozen=True)
class People:
    """One signed registry (``folder``) with the people a manual result needs."""

    folder: Path
    admin: Person
    first: Person  # analyst: enters
    second: Person  # analyst: verifies
    reviewer: Person
    qa: Person

    @property
    def registry(self) -> Path:
        return self.folder / "registry.yaml"


def make_people(folder: Path, *, now: datetime | None = None) -> People:
    folder.mkdir(parents=True, exist_ok=True)
    made = init_registry(
        folder, signer="Ada Admin", user_id="aadmin", passphrase=PASSPHRASE,
        identity_evidence=EVIDENCE, now=now, valid_days=3650,
    )  # fmt: skip
    admin_key = load_private_key(made.admin_key.key_path, PASSPHRASE)
    people = {}
    for label, name, user_id, role in (
        ("first", "Fay First", "ffirst", Role.ANALYST),
        ("second", "Sid Second", "ssecond", Role.ANALYST),
        ("reviewer", "Rémy Réviseur", "rreviewer", Role.REVIEWER),
        ("qa", "Quinn Approver", "qapprover", Role.QA_APPROVER),
    ):
        pair, _ = enroll(
            folder, admin_key=admin_key, signer=name, user_id=user_id, roles=[role],
            passphrase=PASSPHRASE, out_dir=folder, identity_evidence=EVIDENCE, now=now,
            valid_days=3650,
        )  # fmt: skip
        people[label] = Person(user_id, name, pair.key_path)
    admin = Person("aadmin", "Ada Admin", made.admin_key.key_path)
    return People(folder=folder, admin=admin, **people)


def identity_of(lot_dir: Path) -> LotIdentity:
    manifest = load_manifest(lot_dir, check_inputs=False)
    return LotIdentity(manifest.lot_id, manifest.chain_of_identity)


def enter_verified(
    lot_dir: Path,
    people: People,
    values: Mapping[str, tuple[str, str | None]],
    *,
    records_dir: Path | None = None,
    now: datetime | None = None,
) -> None:
    """Each value entered by ``people.first`` and verified by ``people.second``."""
    identity = identity_of(lot_dir)
    target = records_dir or lot_dir
    for attribute, (value, unit) in values.items():
        for act, person in ((enter_value, people.first), (verify_value, people.second)):
            act(
                target, identity, attribute=attribute, value=value, unit=unit,
                key_path=person.key_path, passphrase=PASSPHRASE, registry=people.folder,
                now=now,
            )  # fmt: skip


def bench_values(lot_dir: Path) -> dict[str, tuple[str, str | None]]:
    return {r.attribute: (r.value, r.unit) for r in read_bench_sheet(lot_dir / BENCH_SHEET)}


def enter_bench_sheet(lot_dir: Path, people: People, *, records_dir: Path | None = None) -> None:
    """A synthetic lot's bench sheet entered and verified, as the demo does."""
    enter_verified(lot_dir, people, bench_values(lot_dir), records_dir=records_dir)
