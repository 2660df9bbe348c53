"""A manual record held against the audit trail: cut-off events are named at release, and a
manual signing ends a key's run of failed passphrases."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytorelease.errors import InputError, SignatureError
from cytorelease.lot.release import release_lot
from cytorelease.manual import enter_value, verify_value
from cytorelease.manual.events import read_events, write_events
from cytorelease.records.trail import open_trail
from cytorelease.report.lockout import key_identity, trail_failures
from cytorelease.report.registry import load_registry
from cytorelease.report.unlock import unlock_signer
from tests.double_entry import PASSPHRASE, People, bench_values, enter_verified, identity_of


def _enter(lot: Path, people: People, value: str, data: Path, **options: object) -> None:
    enter_value(
        lot, identity_of(lot), attribute="manual.endotoxin_eu_ml", value=value,
        key_path=people.first.key_path, passphrase=PASSPHRASE, registry=people.folder,
        trail=open_trail(data), **options,  # type: ignore[arg-type]
    )  # fmt: skip


def _verify(lot: Path, people: People, value: str, data: Path) -> None:
    verify_value(
        lot, identity_of(lot), attribute="manual.endotoxin_eu_ml", value=value,
        key_path=people.second.key_path, passphrase=PASSPHRASE, registry=people.folder,
        trail=open_trail(data),
    )  # fmt: skip


def test_events_cut_off_a_record_are_named_at_release(
    sample_copy: Path, people: People, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    values = bench_values(sample_copy)
    values.pop("manual.endotoxin_eu_ml")
    enter_verified(sample_copy, people, values)
    # 1.22 entered and verified; then found wrong: 6.1 entered with a reason, and verified
    _enter(sample_copy, people, "1.22", data)
    _verify(sample_copy, people, "1.22", data)
    _enter(sample_copy, people, "6.1", data, reason="transcription error, bench sheet p. 3")
    _verify(sample_copy, people, "6.1", data)
    failing = release_lot(sample_copy, out=tmp_path / "honest", registry=people.folder,
                          trail=open_trail(data))  # fmt: skip
    assert failing.disposition == "FAIL"

    # an insider cuts the correction off: the shorter chain is valid, and the lot would pass
    path = sample_copy / "manual" / "manual.endotoxin_eu_ml.json"
    events, _ = read_events(path)
    write_events(path, events[:2])
    alone = release_lot(sample_copy, out=tmp_path / "alone", registry=people.folder)
    assert alone.disposition == "PASS"  # without the trail nothing can tell: the documented limit
    with pytest.raises(InputError, match=r"2 event\(s\) this record no longer holds") as refused:
        release_lot(sample_copy, out=tmp_path / "cut", registry=people.folder,
                    trail=open_trail(data))  # fmt: skip
    assert "manual-enter by ffirst" in refused.value.problem
    assert not (tmp_path / "cut").exists() or not list((tmp_path / "cut").glob("coa-*.html"))


def test_a_manual_signing_ends_a_run_of_failed_passphrases(
    lot_dir: Path, people: People, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    trail = open_trail(data)
    assert trail is not None
    for _ in range(3):
        with pytest.raises(SignatureError, match="passphrase"):
            unlock_signer(people.first.key_path, "wrong", people.folder, target=lot_dir,
                          purpose="manual-enter", trail=trail)  # fmt: skip
    digest = key_identity(people.first.key_path.read_bytes())
    registry = load_registry(people.folder)
    assert trail_failures(trail, digest, registry).failures == 3
    _enter(lot_dir, people, "0.5", data)
    assert trail_failures(trail, digest, registry).failures == 0
