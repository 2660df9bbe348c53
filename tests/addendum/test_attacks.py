"""Signed addenda attacked as a hostile insider (valid keys, write access to files) and a
careless operator would: edited pages, forged records re-rendered and re-signed with a valid
analyst key around the issuer's checks, relaxed specs, doctored manual records, broken chains,
forbidden approvals, bad command-line input, and an --out aimed at the CoA.

An attack that still succeeds is written as the safe behaviour it should meet and marked
``xfail(strict=True)``: the suite stays green, and the mark must be removed once it is fixed.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from cytorelease.addendum import addendum_check, issue_addendum, verify_addendum
from cytorelease.addendum.content import carried_spec
from cytorelease.addendum.record import changes_between, reevaluate
from cytorelease.errors import CytoreleaseError, InputError, SignatureError
from cytorelease.manual import enter_value, verify_value
from cytorelease.manual.events import ManualEvent, event_sha256, write_events
from cytorelease.records.trail import open_trail
from cytorelease.report.area import read_entries, render_area, split_report
from cytorelease.report.entry import Meaning, SignatureEntry, format_utc
from cytorelease.report.keys import fingerprint, load_private_key
from cytorelease.report.record import extract_record
from cytorelease.report.registry import load_registry
from cytorelease.report.registry_admin import enroll, entry_for, revoke_key
from cytorelease.report.render import render_coa
from cytorelease.report.sign import sign_bytes
from cytorelease.report.unlock import raw_public_of
from cytorelease.signature_policy import Role
from cytorelease.spec.loader import LoadedSpec, parse_spec_text
from tests.addendum.conftest import Released, release_holding, sign
from tests.cli_contract import GARBAGE, assert_bad_input, invoke
from tests.double_entry import (
    EVIDENCE,
    PASSPHRASE,
    People,
    Person,
    enter_verified,
    identity_of,
)

STERILITY = "manual.sterility"
ENV = {"CYTORELEASE_PASSPHRASE": PASSPHRASE}
Record = dict[str, Any]


# --- set-up ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    """A released, approved CoA and its genuine addendum 1 (sterility: no growth)."""

    case: Released
    addendum: Path


@dataclass(frozen=True)
class Chain:
    """A CoA released INCOMPLETE (RCL, mycoplasma and sterility to come), performed and
    reviewed, with addenda 1 (RCL), 2 (mycoplasma) and 3 (sterility)."""

    case: Released
    addenda: tuple[Path, Path, Path]


def _issue(case: Released, out: Path, *, person: Person | None = None, attribute: str = STERILITY,
           value: str = "no growth", **options: Any) -> Path:  # fmt: skip
    issue_addendum(
        case.coa, attribute=attribute, value=value, lot_dir=case.lot,
        key_path=(person or case.people.first).key_path, passphrase=PASSPHRASE,
        registry=case.people.folder, out=out, **options,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def issued(approved: Released, tmp_path_factory: pytest.TempPathFactory) -> Issued:
    case = approved.copy(tmp_path_factory.mktemp("issued"))
    enter_verified(case.lot, case.people, case.held)
    return Issued(case, _issue(case, case.coa.parent / "addendum-1.html"))


@pytest.fixture
def mine(issued: Issued, tmp_path: Path) -> Issued:
    """A private copy of the CoA and its addendum a test may change."""
    case = issued.case.copy(tmp_path / "mine")
    return Issued(case, Path(shutil.copyfile(issued.addendum, tmp_path / "addendum-1.html")))


@pytest.fixture(scope="module")
def chain(people: People, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    case = release_holding(
        tmp_path_factory.mktemp("chain"), people, ("manual.rcl", "manual.mycoplasma", STERILITY),
        (Meaning.PERFORMED, Meaning.REVIEWED),
    )  # fmt: skip
    enter_verified(case.lot, case.people, case.held)
    folder = case.coa.parent
    one = _issue(case, folder / "addendum-1.html", attribute="manual.rcl", value="not detected")
    two = _issue(case, folder / "addendum-2.html", attribute="manual.mycoplasma",
                 value="not detected", previous=[one])  # fmt: skip
    three = _issue(case, folder / "addendum-3.html", previous=[one, two])
    return Chain(case, (one, two, three))


@pytest.fixture(scope="module")
def extra(people: People) -> dict[str, Person]:
    """People enrolled for the attacks: an analyst who is also QA, one to be revoked."""
    admin = load_private_key(people.admin.key_path, PASSPHRASE)
    made = {}
    for label, name, user_id, roles in (
        ("dual", "Dana Dual", "ddual", [Role.ANALYST, Role.QA_APPROVER]),
        ("gone", "Gil Gone", "ggone", [Role.ANALYST]),
    ):
        pair, _ = enroll(
            people.folder, admin_key=admin, signer=name, user_id=user_id, roles=roles,
            passphrase=PASSPHRASE, out_dir=people.folder, identity_evidence=EVIDENCE,
            valid_days=3650,
        )  # fmt: skip
        made[label] = Person(user_id, name, pair.key_path)
    revoke_key("ggone", reason="left the company", registry=people.folder, admin_key=admin)
    return made


def cli(args: Sequence[object], env: dict[str, str] | None = None) -> Result:
    return invoke([str(a) for a in args], env=env)


def failures(addendum: Path, case: Released, previous: Sequence[Path] = (),
             coa: Path | None = None) -> list[str]:  # fmt: skip
    result = verify_addendum(addendum, coa=coa or case.coa, previous=previous,
                             trust=case.people.registry)  # fmt: skip
    return result.failures()


def record_of(path: Path) -> Record:
    return copy.deepcopy(extract_record(path.read_bytes()))


def forge(source: Path, out: Path, people: People, edit: Callable[[Record], None]) -> Path:
    """The insider's forgery: ``source``'s record edited, rendered with the project's own
    renderer and signed ``performed`` with a valid analyst key, its checks switched off."""
    record = record_of(source)
    edit(record)
    registry = load_registry(people.folder)
    signer = entry_for(registry, people.first.user_id)
    assert signer is not None
    signed, _ = sign_bytes(
        render_coa(record).encode("utf-8"),
        private_key=load_private_key(people.first.key_path, PASSPHRASE), signer=signer,
        meaning=Meaning.PERFORMED, registry=registry, content_check=lambda r: [],
    )  # fmt: skip
    out.write_bytes(signed)
    return out


def consistent(record: Record, base: Record, loaded: LoadedSpec | None = None) -> None:
    """Re-derive the evaluation, changes and disposition from the (edited) measurements and the
    carried spec, as a careful forger would, so only the edit itself is left to find."""
    loaded = loaded or carried_spec(record)
    evaluation = reevaluate(loaded, record["measurements"], record.get("definitions") or [])
    record["evaluation"] = evaluation
    record["changes"] = changes_between(base["evaluation"], evaluation)
    record["disposition"] = {"before": base["evaluation"]["disposition"],
                             "after": evaluation["disposition"]}  # fmt: skip


def _measurement(record: Record, attribute: str) -> Record:
    return next(m for m in record["measurements"] if m["attribute"] == attribute)


def _carry(record: Record, text: str, people: People) -> None:
    """Put ``text`` in as the sterility record the addendum carries (every place that names
    it); when it checks out, with the measurement and the people it gives, as the issuer
    would write them."""
    from cytorelease.lot.manual_inputs import manual_measurement
    from cytorelease.lot.record import canonical_form
    from cytorelease.manual.checking import State, check_events
    from cytorelease.manual.events import parse_events

    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    added = record["added"][0]
    carried = {**added["manual_record"], "text": text, "sha256": sha}
    for item in record["inputs"]:
        if item.get("kind") == "manual-record" and item.get("role") == STERILITY:
            item["sha256"] = sha
    where = Path(carried["file"])
    try:
        events, _ = parse_events(text.encode("utf-8"), path=where)
        result = check_events(events, sha, path=where, lot_id=record["lot"]["id"],
                              chain_of_identity=record["lot"]["chain_of_identity"],
                              attribute=STERILITY, registry=load_registry(people.folder),
                              text=text)  # fmt: skip
    except CytoreleaseError:
        result = None
    measurement = _measurement(record, STERILITY)
    if result is not None and result.state is State.VERIFIED and result.verified is not None:
        measurement.clear()
        measurement.update(canonical_form(manual_measurement(STERILITY, result).to_dict()))
        added.update(
            entered_by=result.entered.user_id,
            entered_at=result.entered.utc_time,
            verified_by=result.verified.user_id,
            verified_at=result.verified.utc_time,
        )
    measurement["details"]["manual_record"] = carried
    added["manual_record"] = carried


def _sign_event(person: Person, role: str, action: str, value: str, moment: datetime,
                previous: ManualEvent | None, lot: Released) -> ManualEvent:  # fmt: skip
    """A manual event signed with ``person``'s real key, written by hand (no tool's checks)."""
    key = load_private_key(person.key_path, PASSPHRASE)
    raw = raw_public_of(key)
    identity = identity_of(lot.lot)
    event = ManualEvent(
        lot=identity.lot_id, chain_of_identity=identity.chain_of_identity, attribute=STERILITY,
        action=action, value=value, unit=None, reason=None, comment=None,
        matches=True if action == "verify" else None, signer=person.name,
        user_id=person.user_id, role=role, key_fingerprint=fingerprint(raw),
        public_key=base64.b64encode(raw).decode("ascii"), utc_time=format_utc(moment),
        previous=event_sha256(previous) if previous else None,
    )  # fmt: skip
    return replace(event, signature=base64.b64encode(key.sign(event.signed_bytes())).decode())


def _record_text(tmp_path: Path, events: list[ManualEvent]) -> str:
    path = tmp_path / "crafted" / "manual.sterility.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_events(path, events)
    return path.read_text(encoding="utf-8")


# --- the control: the forging set-up itself yields a verifying addendum -----------------------


def test_control_an_unedited_forgery_verifies(mine: Issued, tmp_path: Path) -> None:
    # without this, every "caught" below could be the forging set-up failing, not the check
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, lambda r: None)
    assert failures(out, mine.case) == []
    assert failures(mine.addendum, mine.case) == []


# --- editing the visible page -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shown", "edited"),
    [
        (
            b'<div class="disposition-value">PASS</div>',
            b'<div class="disposition-value">FAIL</div>',
        ),
        (b"ssecond", b"qapprover"),  # who verified the value
        (b"no growth", b"growth"),
    ],
)
def test_an_edited_page_fails_before_and_after_signing(
    mine: Issued, shown: bytes, edited: bytes
) -> None:
    data = mine.addendum.read_bytes()
    assert shown in data
    mine.addendum.write_bytes(data.replace(shown, edited))
    assert failures(mine.addendum, mine.case)
    people = mine.case.people
    check = addendum_check(load_registry(people.folder), mine.case.coa)
    with pytest.raises(SignatureError, match="refusing to sign"):
        sign(mine.addendum, people.reviewer, Meaning.REVIEWED, people, content_check=check)

    # edited after the review: the reviewed signature no longer covers it
    mine.addendum.write_bytes(data)
    sign(mine.addendum, people.reviewer, Meaning.REVIEWED, people, content_check=check)
    assert failures(mine.addendum, mine.case) == []
    reviewed = mine.addendum.read_bytes()
    mine.addendum.write_bytes(reviewed.replace(shown, edited, 1))
    assert failures(mine.addendum, mine.case)


def test_a_page_edited_and_signed_afresh_is_refused(mine: Issued) -> None:
    # the signatures stripped and the page edited (the embedded record too): even with the
    # content check switched off, signing refuses a page that is not what its record renders
    people = mine.case.people
    parts = split_report(mine.addendum.read_bytes())
    draft = parts.with_area(render_area([])).replace(b"ssecond", b"qapprover")
    registry = load_registry(people.folder)
    signer = entry_for(registry, people.first.user_id)
    assert signer is not None
    with pytest.raises(SignatureError, match="the page does not show its record"):
        sign_bytes(
            draft, private_key=load_private_key(people.first.key_path, PASSPHRASE),
            signer=signer, meaning=Meaning.PERFORMED, registry=registry,
            content_check=lambda r: [],
        )  # fmt: skip


# --- forging the record, re-rendered and re-signed with a valid analyst key -------------------


def _fail_sterility(record: Record) -> None:
    for criterion in record["evaluation"]["criteria"]:
        if criterion["attribute"] == STERILITY:
            criterion["verdict"] = "fail"
    record["evaluation"]["disposition"] = "FAIL"
    record["disposition"]["after"] = "FAIL"


def _added_value(record: Record) -> None:
    record["added"][0]["value"] = "growth"


def _measured_value(record: Record) -> None:
    _measurement(record, STERILITY)["value"] = "growth"


def _no_changes(record: Record) -> None:
    record["changes"] = []


def _before_incomplete(record: Record) -> None:
    record["disposition"]["before"] = "INCOMPLETE"


def _lot_renamed(record: Record) -> None:
    record["lot"]["id"] = "lot-CAR-9999"


def _number_two(record: Record) -> None:
    record["number"] = 2


def _other_coa_hash(record: Record) -> None:
    record["amends"]["coa"]["content_sha256"] = "0" * 64


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (_fail_sterility, "evaluation is not what the spec gives"),
        (_added_value, "the addendum shows 'growth'"),
        (_measured_value, "the measurement is not the one its verified record gives"),
        (_no_changes, "the changes it shows are not"),
        (_before_incomplete, "the disposition it shows before it is not the CoA's"),
        (_lot_renamed, "another lot"),
        (_number_two, "it is addendum 2"),
        (_other_coa_hash, "it amends another CoA"),
    ],
)
def test_a_forged_record_is_caught(
    mine: Issued, tmp_path: Path, edit: Callable[[Record], None], found: str
) -> None:
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, edit)
    problems = failures(out, mine.case)
    assert any(found in p for p in problems), problems


def test_raising_car_pct_with_a_consistent_evaluation_is_caught(
    mine: Issued, tmp_path: Path
) -> None:
    base = record_of(mine.case.coa)

    def edit(record: Record) -> None:
        _measurement(record, "flow.car_pct_of_viable_cd3")["value"] += 10.0
        consistent(record, base)

    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, edit)
    problems = failures(out, mine.case)
    assert any("measurements differ from the CoA's" in p for p in problems), problems


def test_adding_a_judged_attribute_to_replace_its_measurement_is_caught(
    mine: Issued, tmp_path: Path
) -> None:
    # CAR% named as "added" too, so the measurement comparison leaves it out
    base = record_of(mine.case.coa)

    def edit(record: Record) -> None:
        _measurement(record, "flow.car_pct_of_viable_cd3")["value"] += 10.0
        record["added"].append({**record["added"][0], "attribute": "flow.car_pct_of_viable_cd3"})
        consistent(record, base)

    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, edit)
    problems = failures(out, mine.case)
    assert any("nothing to add" in p for p in problems), problems
    assert any("not a verified double entry" in p for p in problems), problems


# What the page shows beside the hashes: each tied to the record or the documents it amends.
def _verified_by_qa(record: Record) -> None:
    record["added"][0]["verified_by"] = "qapprover"


def _entered_by_other(record: Record) -> None:
    record["added"][0]["entered_by"] = "rreviewer"


def _verified_at_moved(record: Record) -> None:
    record["added"][0]["verified_at"] = "2020-01-01T00:00:00Z"


def _criteria_named(record: Record) -> None:
    record["added"][0]["criteria"] = ["car_pct"]


def _coa_shown_failed(record: Record) -> None:
    record["amends"]["coa"]["disposition"] = "FAIL"


def _coa_signature_count(record: Record) -> None:
    record["amends"]["coa"]["signatures"] = 7


def _inputs_dropped(record: Record) -> None:
    record["inputs"] = record["inputs"][-1:]


def _added_twice(record: Record) -> None:
    record["added"].append(copy.deepcopy(record["added"][0]))


@pytest.mark.parametrize(
    "edit",
    [
        _verified_by_qa,
        _entered_by_other,
        _verified_at_moved,
        _criteria_named,
        _coa_shown_failed,
        _coa_signature_count,
        _inputs_dropped,
        _added_twice,
    ],
)
def test_a_forged_shown_field_is_caught(
    mine: Issued, tmp_path: Path, edit: Callable[[Record], None]
) -> None:
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, edit)
    assert failures(out, mine.case)


def _software_claimed(record: Record) -> None:
    record["software"]["version"] = "99.0.0-validated"


def _created_before_the_coa(record: Record) -> None:
    record["created_at"] = "2000-01-01T00:00:00Z"


def test_an_addendum_dated_before_the_coa_is_caught(mine: Issued, tmp_path: Path) -> None:
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people,
                _created_before_the_coa)  # fmt: skip
    assert any("backdated" in f for f in failures(out, mine.case))


def test_the_software_version_shown_is_the_issuers_claim(mine: Issued, tmp_path: Path) -> None:
    # by design, as on a CoA: the record names the software that made it, and nothing offline
    # can prove which program ran; the signer attests it (docs/part11.md, control 2: selftest)
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, _software_claimed)
    assert failures(out, mine.case) == []


def test_the_coa_file_name_shown_is_a_label(mine: Issued, tmp_path: Path) -> None:
    # by design (chain._link_problems): the hashes name the CoA, so a renamed copy verifies;
    # the name shown is therefore not evidence of anything
    def edit(record: Record) -> None:
        record["amends"]["coa"]["file"] = "coa-lot-CAR-4242.html"

    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, edit)
    assert failures(out, mine.case) == []


# --- the carried spec -------------------------------------------------------------------------


def _relaxed(text: str) -> str:
    relaxed = text.replace("limit: {min: 15}", "limit: {min: 1}", 1)
    assert relaxed != text
    return relaxed


def test_a_relaxed_spec_under_the_same_hash_is_caught(mine: Issued, tmp_path: Path) -> None:
    def edit(record: Record) -> None:
        record["spec_document"]["text"] = _relaxed(record["spec_document"]["text"])

    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, edit)
    problems = failures(out, mine.case)
    assert any("not the one it names" in p for p in problems), problems


def test_a_relaxed_spec_with_its_hash_recomputed_is_caught(mine: Issued, tmp_path: Path) -> None:
    base = record_of(mine.case.coa)

    def edit(record: Record) -> None:
        text = _relaxed(record["spec_document"]["text"])
        loaded = parse_spec_text(text, tmp_path / "relaxed.yaml")
        record["spec_document"].update(text=text, sha256=loaded.sha256)
        consistent(record, base, loaded)
        assert record["evaluation"]["spec"]["sha256"] == loaded.sha256

    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, edit)
    problems = failures(out, mine.case)
    assert any("another spec version than the CoA" in p for p in problems), problems


# --- the carried manual record ----------------------------------------------------------------


def test_a_carried_record_with_its_value_edited_is_caught(mine: Issued, tmp_path: Path) -> None:
    def edit(record: Record) -> None:
        text = record["added"][0]["manual_record"]["text"]
        assert "no growth" in text
        _carry(record, text.replace("no growth", "growth"), mine.case.people)
        _measurement(record, STERILITY)["value"] = "growth"
        record["added"][0]["value"] = "growth"
        consistent(record, record_of(mine.case.coa))

    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, edit)
    problems = failures(out, mine.case)
    assert any("signature does not verify" in p for p in problems), problems


def test_a_carried_record_of_another_lot_is_caught(mine: Issued, tmp_path: Path) -> None:
    from tests.manual.conftest import bare_lot

    other = bare_lot(tmp_path / "other", lot="LOT-9", coi="COI-9")
    enter_verified(other, mine.case.people, {STERILITY: ("no growth", None)})
    text = (other / "manual" / "manual.sterility.json").read_text(encoding="utf-8")
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people,
                lambda r: _carry(r, text, mine.case.people))  # fmt: skip
    problems = failures(out, mine.case)
    assert any("copied from another lot" in p for p in problems), problems


def _crafted(tmp_path: Path, case: Released, verifier: Person, role: str,
             moment: datetime | None = None) -> str:  # fmt: skip
    start = moment or datetime.now(UTC).replace(microsecond=0)
    entered = _sign_event(case.people.first, "analyst", "enter", "no growth", start, None, case)
    checked = _sign_event(verifier, role, "verify", "no growth", start + timedelta(seconds=1),
                          entered, case)  # fmt: skip
    return _record_text(tmp_path, [entered, checked])


@pytest.mark.parametrize(
    ("who", "role", "found"),
    [
        ("first", "analyst", "verified by the person who entered it"),
        ("admin", "admin", "does not count"),  # no role that may verify
        ("admin", "analyst", "does not count"),  # a role claimed that the registry denies
    ],
)
def test_a_carried_record_without_a_second_person_with_authority_is_caught(
    mine: Issued, tmp_path: Path, who: str, role: str, found: str
) -> None:
    verifier = getattr(mine.case.people, who)
    text = _crafted(tmp_path, mine.case, verifier, role)
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people,
                lambda r: _carry(r, text, mine.case.people))  # fmt: skip
    problems = failures(out, mine.case)
    assert any(found in p for p in problems), problems


def test_a_carried_record_verified_by_a_revoked_key_is_caught(
    mine: Issued, extra: dict[str, Person], tmp_path: Path
) -> None:
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    text = _crafted(tmp_path, mine.case, extra["gone"], "analyst", later)
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people,
                lambda r: _carry(r, text, mine.case.people))  # fmt: skip
    problems = failures(out, mine.case)
    assert any("revoked" in p for p in problems), problems


def test_a_hand_written_record_by_the_right_people_is_accepted(
    mine: Issued, tmp_path: Path
) -> None:
    # the control for the crafted records above: written by hand, but honest, it holds up
    text = _crafted(tmp_path, mine.case, mine.case.people.second, "analyst")
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people,
                lambda r: _carry(r, text, mine.case.people))  # fmt: skip
    assert failures(out, mine.case) == []


# --- the chain --------------------------------------------------------------------------------


def test_the_addendum_against_a_re_released_coa_fails(
    issued: Issued, people: People, tmp_path: Path
) -> None:
    again = release_holding(tmp_path, people, (STERILITY,),
                            (Meaning.PERFORMED, Meaning.REVIEWED, Meaning.APPROVED))  # fmt: skip
    problems = failures(issued.addendum, issued.case, coa=again.coa)
    assert any("it amends another CoA" in p for p in problems), problems


def test_the_addendum_against_another_lots_coa_fails(issued: Issued, chain: Chain) -> None:
    problems = failures(issued.addendum, issued.case, coa=chain.case.coa)
    assert any("it amends another CoA" in p for p in problems), problems


def test_the_addendum_against_a_coa_edited_afterwards_fails(mine: Issued) -> None:
    data = mine.case.coa.read_bytes()
    mine.case.coa.write_bytes(data.replace(b"Viability", b"Viabilitx", 1))
    problems = failures(mine.addendum, mine.case)
    assert any("the CoA does not verify" in p for p in problems), problems


def test_the_addendum_against_its_coa_with_the_last_signature_cut_fails(mine: Issued) -> None:
    parts = split_report(mine.case.coa.read_bytes())
    entries = [SignatureEntry.from_dict(raw) for raw in read_entries(parts.area)]
    assert [e.meaning for e in entries] == ["performed", "reviewed", "approved"]
    mine.case.coa.write_bytes(parts.with_area(render_area(entries[:-1])))
    problems = failures(mine.addendum, mine.case)
    assert any("signature it names is not on the CoA" in p for p in problems), problems


def test_a_coa_signed_after_its_addendum_still_anchors_it(chain: Chain, tmp_path: Path) -> None:
    # a later signature on the CoA is allowed (rejected here: the lot was INCOMPLETE)
    coa = Path(shutil.copyfile(chain.case.coa, tmp_path / chain.case.coa.name))
    people = chain.case.people
    sign(coa, people.qa, Meaning.REJECTED, people)
    one = chain.addenda[0]
    assert verify_addendum(one, coa=coa, trust=people.registry).ok


@pytest.mark.parametrize(
    ("order", "found"),
    [
        ((0, 1), None),
        ((1, 0), "the earlier addendum does not verify"),
        ((0,), "it amends another addendum"),
        ((1,), "none was given"),
        ((0, 0, 1), "the earlier addendum does not verify"),
        ((0, 1, 1), "it amends another addendum"),
        ((0, 1, 2), "it is addendum 3, but follows 3"),
        ((), "none was given (--previous)"),
    ],
)
def test_previous_reordered_omitted_or_duplicated_fails(
    chain: Chain, order: tuple[int, ...], found: str | None
) -> None:
    previous = [chain.addenda[i] for i in order]
    problems = failures(chain.addenda[2], chain.case, previous=previous)
    if found is None:
        assert problems == []
    else:
        assert any(found in p for p in problems), problems


def test_the_coa_or_the_addendum_itself_as_previous_fails(chain: Chain) -> None:
    for previous in ([chain.case.coa], [chain.addenda[0], chain.addenda[1], chain.addenda[2]]):
        assert failures(chain.addenda[2], chain.case, previous=previous)
    assert failures(chain.addenda[0], chain.case, coa=chain.addenda[0])


def test_two_addenda_numbered_one_each_verify_offline(chain: Chain, tmp_path: Path) -> None:
    # issued without a data folder, a second addendum 1 (mycoplasma, not RCL) is issued and
    # verifies alone: offline, neither document can know of the other (see report)
    other = _issue(chain.case, tmp_path / "addendum-1b.html", attribute="manual.mycoplasma",
                   value="not detected")  # fmt: skip
    assert failures(other, chain.case) == []
    assert failures(chain.addenda[0], chain.case) == []
    # and addendum 2 of the first chain does not follow it
    assert failures(chain.addenda[1], chain.case, previous=[other])


def test_a_fork_for_the_same_attribute_is_caught_with_the_trail(
    case: Released, tmp_path: Path
) -> None:
    people = case.people
    enter_verified(case.lot, people, case.held)
    data = tmp_path / "data"
    first = _issue(case, tmp_path / "addendum-1.html", trail=open_trail(data))
    # the value corrected and verified again, then a second addendum 1 issued around the trail
    identity = identity_of(case.lot)
    enter_value(case.lot, identity, attribute=STERILITY, value="growth",
                key_path=people.first.key_path, passphrase=PASSPHRASE, registry=people.folder,
                reason="re-read the plate")  # fmt: skip
    verify_value(case.lot, identity, attribute=STERILITY, value="growth",
                 key_path=people.second.key_path, passphrase=PASSPHRASE,
                 registry=people.folder)  # fmt: skip
    fork = _issue(case, tmp_path / "addendum-1-fork.html", value="growth")
    assert extract_record(fork.read_bytes())["disposition"]["after"] == "FAIL"
    assert failures(first, case) == [] and failures(fork, case) == []  # both, offline
    result = verify_addendum(fork, coa=case.coa, trust=people.registry, trail=open_trail(data))
    assert not result.ok


# --- signing the addendum further -------------------------------------------------------------


def test_the_performer_cannot_approve_the_addendum(
    case: Released, extra: dict[str, Person], tmp_path: Path
) -> None:
    people = case.people
    enter_verified(case.lot, people, case.held)
    out = _issue(case, tmp_path / "addendum-1.html", person=extra["dual"])
    check = addendum_check(load_registry(people.folder), case.coa)
    sign(out, people.reviewer, Meaning.REVIEWED, people, content_check=check)
    # Dana holds qa-approver too, so only the three-people rule stands in the way
    with pytest.raises(SignatureError, match="refused by the signature policy") as refused:
        sign(out, extra["dual"], Meaning.APPROVED, people, content_check=check)
    assert "ddual" in str(refused.value)
    assert verify_addendum(out, coa=case.coa, trust=people.registry).ok


def test_an_incomplete_addendum_cannot_be_approved(chain: Chain, tmp_path: Path) -> None:
    one = Path(shutil.copyfile(chain.addenda[0], tmp_path / "addendum-1.html"))
    assert extract_record(one.read_bytes())["disposition"]["after"] == "INCOMPLETE"
    people = chain.case.people
    check = addendum_check(load_registry(people.folder), chain.case.coa)
    sign(one, people.reviewer, Meaning.REVIEWED, people, content_check=check)
    with pytest.raises(SignatureError, match="INCOMPLETE"):
        sign(one, people.qa, Meaning.APPROVED, people, content_check=check)


def test_an_addendum_signed_with_a_lying_check_is_refused_by_the_next_signer(
    mine: Issued, tmp_path: Path
) -> None:
    out = forge(mine.addendum, tmp_path / "forged.html", mine.case.people, _no_changes)
    people = mine.case.people
    check = addendum_check(load_registry(people.folder), mine.case.coa)
    with pytest.raises(SignatureError, match="changes it shows"):
        sign(out, people.reviewer, Meaning.REVIEWED, people, content_check=check)


# --- the command line -------------------------------------------------------------------------


def test_cli_verify_and_sign_demand_the_coa(issued: Issued) -> None:
    case, trust = issued.case, issued.case.people.registry
    alone = cli(["verify", issued.addendum, "--trust", trust])
    assert alone.exit_code == 1 and "the CoA it amends was not given" in alone.stderr
    assert_bad_input(cli(["verify", case.coa, "--coa", case.coa, "--trust", trust]), case.coa)
    assert_bad_input(cli(["verify", case.coa, "--previous", issued.addendum, "--trust",
                             trust]), case.coa)  # fmt: skip
    unsigned = cli(
        [
            "sign",
            issued.addendum,
            "--key",
            case.people.reviewer.key_path,
            "--meaning",
            "performed",
            "--registry",
            case.people.folder,
        ],
        env=ENV,
    )
    assert_bad_input(unsigned, issued.addendum)


def _bad_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "folder.html").mkdir()
    (folder / "garbage.html").write_bytes(GARBAGE)
    (folder / "empty.html").write_bytes(b"")
    huge = folder / "huge.html"
    with huge.open("wb") as out:  # 48 MiB of bytes with no CoA marks
        out.truncate(48 << 20)
    return {
        "missing": folder / "missing.html",
        "folder": folder / "folder.html",
        "garbage": folder / "garbage.html",
        "empty": folder / "empty.html",
        "huge": huge,
    }


@pytest.mark.parametrize("kind", ["missing", "folder", "garbage", "empty", "huge"])
def test_cli_bad_coa_and_previous_files_exit_2_naming_them(
    issued: Issued, tmp_path: Path, kind: str
) -> None:
    bad = _bad_files(tmp_path / "bad")[kind]
    case, trust = issued.case, issued.case.people.registry
    for args in (
        ["verify", issued.addendum, "--coa", bad, "--trust", trust],
        ["verify", issued.addendum, "--coa", case.coa, "--previous", bad, "--trust", trust],
    ):
        assert_bad_input(cli(args), bad)


@pytest.mark.parametrize("kind", ["missing", "folder", "garbage"])
def test_cli_sign_with_a_bad_coa_exits_2_naming_it(mine: Issued, tmp_path: Path, kind: str) -> None:
    bad = _bad_files(tmp_path / "bad")[kind]
    before = mine.addendum.read_bytes()
    people = mine.case.people
    for extra in (["--coa", bad], ["--coa", mine.case.coa, "--previous", bad]):
        signed = cli(["sign", mine.addendum, "--key", people.second.key_path, "--meaning",
                         "performed", "--registry", people.folder, *extra], env=ENV)  # fmt: skip
        assert_bad_input(signed, bad)
    assert mine.addendum.read_bytes() == before


@pytest.mark.parametrize("kind", ["missing", "folder", "garbage"])
def test_cli_issue_with_a_bad_coa_or_previous_exits_2_naming_it(
    mine: Issued, tmp_path: Path, kind: str
) -> None:
    bad = _bad_files(tmp_path / "bad")[kind]
    case = mine.case
    common = ["--attribute", STERILITY, "--value", "no growth", "--key",
              case.people.first.key_path, "--lot-dir", case.lot, "--registry",
              case.people.folder]  # fmt: skip
    out = tmp_path / "addendum-new.html"
    for args in (
        ["addendum", bad, *common, "--out", out],
        ["addendum", case.coa, *common, "--previous", bad, "--out", out],
    ):
        assert_bad_input(cli(args, env=ENV), bad)
        assert not out.exists()


# --- --out aimed at the CoA -------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("target", ["coa", "symlink", "dangling", "record"])
def test_out_never_overwrites_the_coa_or_anything(mine: Issued, tmp_path: Path,
                                                   target: str) -> None:  # fmt: skip
    case = mine.case
    before = _digest(case.coa)
    record = case.lot / "manual" / "manual.sterility.json"
    kept = _digest(record)
    out = {"coa": case.coa, "record": record}.get(target, tmp_path / "link.html")
    if target == "symlink":
        os.symlink(case.coa, out)
    elif target == "dangling":
        os.symlink(tmp_path / "elsewhere.html", out)
    with pytest.raises(InputError, match="never replaced"):
        _issue(case, out)
    assert _digest(case.coa) == before and _digest(record) == kept
    assert not (tmp_path / "elsewhere.html").exists()
    refused = cli(["addendum", case.coa, "--attribute", STERILITY, "--value", "no growth",
                   "--key", case.people.first.key_path, "--lot-dir", case.lot, "--registry",
                   case.people.folder, "--out", out], env=ENV)  # fmt: skip
    assert_bad_input(refused, out)
    assert _digest(case.coa) == before


def test_a_refused_issue_leaves_no_file(mine: Issued, tmp_path: Path) -> None:
    # a careless operator names a value that differs from the verified one
    out = tmp_path / "addendum.html"
    with pytest.raises(CytoreleaseError, match="differs"):
        _issue(mine.case, out, value="growth")
    assert not out.exists()


def test_a_rejected_coa_cannot_be_released_by_an_addendum(chain: Chain, tmp_path: Path) -> None:
    case = chain.case.copy(tmp_path / "rejected")
    people = case.people
    before = _issue(case, tmp_path / "a1.html", attribute="manual.rcl", value="not detected")
    sign(case.coa, people.qa, Meaning.REJECTED, people)
    with pytest.raises(InputError, match="a rejected lot takes no addendum"):
        _issue(case, tmp_path / "a2.html", attribute="manual.mycoplasma",
               value="not detected", previous=[before])  # fmt: skip
    # an addendum issued before the rejection names the signature before it, and still verifies
    assert failures(before, case) == []
    # one forged to name the rejection as the signature it follows fails
    from cytorelease.addendum.chain import open_amended

    rejected = open_amended(case.coa, [], load_registry(people.folder)).coa.link()

    def after_rejection(record: Record) -> None:
        record["amends"]["coa"] = rejected

    forged = forge(before, tmp_path / "forged.html", people, after_rejection)
    assert any("rejected" in f for f in failures(forged, case))
