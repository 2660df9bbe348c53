"""Manual results count only after a second person's blind re-entry (issue 14 item 5).

Each test tries what a careless operator or an insider would: one person doing both entries,
a role that may not enter, a typo, an edited, reordered or copied record, a revoked key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cytorelease.errors import InputError, SignatureError
from cytorelease.manual import State, enter_value, manual_results, verify_value
from cytorelease.manual.events import events_path
from cytorelease.report.registry import load_registry
from tests.double_entry import PASSPHRASE, People, Person, identity_of
from tests.manual.conftest import bare_lot

STERILITY = "manual.sterility"


def _enter(
    lot: Path, people: People, person: Person, value: str = "no growth", **kw: object
) -> object:
    return enter_value(
        lot, identity_of(lot), attribute=kw.pop("attribute", STERILITY), value=value,  # type: ignore[arg-type]
        key_path=person.key_path, passphrase=PASSPHRASE, registry=people.folder, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _verify(
    lot: Path, people: People, person: Person, value: str = "no growth", **kw: object
) -> object:
    return verify_value(
        lot, identity_of(lot), attribute=kw.pop("attribute", STERILITY), value=value,  # type: ignore[arg-type]
        key_path=person.key_path, passphrase=PASSPHRASE, registry=people.folder, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _state(lot: Path, people: People | None) -> State:
    registry = load_registry(people.folder) if people else None
    return manual_results(lot, identity_of(lot), registry=registry)[STERILITY].state


def test_a_value_counts_only_after_a_second_person_types_the_same(
    lot_dir: Path, people: People
) -> None:
    _enter(lot_dir, people, people.first)
    assert _state(lot_dir, people) is State.UNVERIFIED
    done = _verify(lot_dir, people, people.second, value="  No   Growth ")
    assert done.matches is True  # type: ignore[attr-defined]
    result = manual_results(lot_dir, identity_of(lot_dir), registry=load_registry(people.folder))
    assert result[STERILITY].state is State.VERIFIED
    details = result[STERILITY].details()
    assert details["entered_by"] == "ffirst" and details["verified_by"] == "ssecond"
    # without the registry the signers' authority cannot be judged: not verified
    assert _state(lot_dir, None) is State.UNVERIFIED


def test_the_person_who_entered_it_cannot_verify_it(lot_dir: Path, people: People) -> None:
    _enter(lot_dir, people, people.first)
    with pytest.raises(SignatureError, match="a second person must verify it"):
        _verify(lot_dir, people, people.first)
    assert _state(lot_dir, people) is State.UNVERIFIED


def test_a_reviewer_may_verify_but_not_enter(lot_dir: Path, people: People) -> None:
    with pytest.raises(SignatureError, match="no role that may enter"):
        _enter(lot_dir, people, people.reviewer)
    assert not events_path(lot_dir, STERILITY).exists()
    _enter(lot_dir, people, people.first)
    _verify(lot_dir, people, people.reviewer)
    assert _state(lot_dir, people) is State.VERIFIED


def test_a_mismatch_blocks_until_the_value_is_entered_again_with_a_reason(
    lot_dir: Path, people: People
) -> None:
    _enter(lot_dir, people, people.first, value="no growth")
    done = _verify(lot_dir, people, people.second, value="growth")
    assert done.matches is False  # type: ignore[attr-defined]
    # the verifier's output never shows the first value (the check is blind)
    assert "no growth" not in json.dumps(done.to_dict())  # type: ignore[attr-defined]
    assert _state(lot_dir, people) is State.MISMATCH
    with pytest.raises(SignatureError, match="a correction needs a reason"):
        _enter(lot_dir, people, people.first, value="growth")
    _enter(lot_dir, people, people.first, value="growth", reason="misread the plate")
    assert _state(lot_dir, people) is State.UNVERIFIED  # a correction needs its own check
    _verify(lot_dir, people, people.second, value="growth")
    result = manual_results(lot_dir, identity_of(lot_dir), registry=load_registry(people.folder))
    assert result[STERILITY].state is State.VERIFIED and result[STERILITY].value == "growth"
    assert result[STERILITY].details()["correction_reason"] == "misread the plate"


def test_numbers_match_as_numbers_and_units_are_checked(lot_dir: Path, people: People) -> None:
    endotoxin = "manual.endotoxin_eu_ml"
    _enter(lot_dir, people, people.first, value="0.50", attribute=endotoxin)
    assert _verify(lot_dir, people, people.second, value="0.5", attribute=endotoxin).matches  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="not a number"):
        _enter(lot_dir, people, people.first, value="low", attribute=endotoxin, reason="x")
    with pytest.raises(InputError, match="is recorded in 'EU/mL'"):
        _enter(lot_dir, people, people.first, value="0.4", attribute=endotoxin, unit="EU/L",
               reason="x")  # fmt: skip
    with pytest.raises(InputError, match="out of range"):
        _enter(lot_dir, people, people.first, value="1e400", attribute=endotoxin, reason="x")
    with pytest.raises(InputError, match="not a manual attribute"):
        _enter(lot_dir, people, people.first, attribute="flow.viability_pct_of_cd45")


def test_an_edited_value_is_refused(lot_dir: Path, people: People) -> None:
    _enter(lot_dir, people, people.first)
    _verify(lot_dir, people, people.second)
    path = events_path(lot_dir, STERILITY)
    document = json.loads(path.read_text())
    for event in document["events"]:
        event["value"] = "growth"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="signature does not verify"):
        _state(lot_dir, people)


def test_a_removed_or_reordered_event_breaks_the_chain(lot_dir: Path, people: People) -> None:
    _enter(lot_dir, people, people.first, value="growth")
    _verify(lot_dir, people, people.second, value="no growth")  # a mismatch...
    _enter(lot_dir, people, people.first, value="no growth", reason="typo")
    path = events_path(lot_dir, STERILITY)
    document = json.loads(path.read_text())
    # ...that an insider removes, so the old entry would stand
    document["events"] = [document["events"][0], document["events"][2]]
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="chain is broken"):
        _state(lot_dir, people)
    document["events"] = list(reversed(json.loads(path.read_text())["events"]))
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="chain is broken"):
        _state(lot_dir, people)


def test_a_record_copied_into_another_lot_is_refused(tmp_path: Path, people: People) -> None:
    first = bare_lot(tmp_path / "a", "LOT-A", "COI-A")
    other = bare_lot(tmp_path / "b", "LOT-B", "COI-B")
    _enter(first, people, people.first)
    _verify(first, people, people.second)
    target = events_path(other, STERILITY)
    target.parent.mkdir()
    target.write_bytes(events_path(first, STERILITY).read_bytes())
    with pytest.raises(InputError, match="copied from another lot"):
        _state(other, people)


def test_a_forged_match_is_refused(lot_dir: Path, people: People) -> None:
    """A verifier who signs 'matches' over a different value outside the tool."""
    import base64

    from cytorelease.manual.events import ManualEvent, write_events
    from cytorelease.report.keys import load_private_key

    _enter(lot_dir, people, people.first, value="growth")
    _verify(lot_dir, people, people.second, value="no growth")
    path = events_path(lot_dir, STERILITY)
    events = [ManualEvent(**e) for e in json.loads(path.read_text())["events"]]
    forged = ManualEvent(**{**events[1].to_dict(), "matches": True, "signature": ""})
    key = load_private_key(people.second.key_path, PASSPHRASE)
    signature = base64.b64encode(key.sign(forged.signed_bytes())).decode()
    write_events(path, [events[0], ManualEvent(**{**forged.to_dict(), "signature": signature})])
    with pytest.raises(InputError, match="says the entries match, but they differ"):
        _state(lot_dir, people)


def test_a_revoked_verifier_does_not_count(tmp_path: Path) -> None:
    from cytorelease.report.keys import load_private_key
    from cytorelease.report.registry_admin import revoke_key
    from tests.double_entry import make_people

    people = make_people(tmp_path / "keys")
    lot = bare_lot(tmp_path / "lot")
    _enter(lot, people, people.first)
    admin = load_private_key(people.admin.key_path, PASSPHRASE)
    revoke_key("ssecond", reason="left the company", registry=people.folder, admin_key=admin)
    with pytest.raises(SignatureError, match=r"not registered|revoked"):
        _verify(lot, people, people.second)
    assert _state(lot, people) is State.UNVERIFIED


def test_a_stray_file_in_the_manual_folder_is_refused(lot_dir: Path, people: People) -> None:
    _enter(lot_dir, people, people.first)
    (lot_dir / "manual" / "notes.txt").write_text("sterility looked fine")
    with pytest.raises(InputError, match="not a manual record"):
        _state(lot_dir, people)


def test_a_huge_or_malformed_record_is_refused_without_reading_it_all(
    lot_dir: Path, people: People
) -> None:
    path = events_path(lot_dir, STERILITY)
    path.parent.mkdir()
    path.write_bytes(b"[" * (2 << 20))
    with pytest.raises(InputError, match="larger than"):
        _state(lot_dir, people)
    path.write_text('{"events": [{"lot": 1}]}')
    with pytest.raises(InputError, match=r"events\[0\]"):
        _state(lot_dir, people)
