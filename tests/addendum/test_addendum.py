"""A signed addendum adds a later result to a signed CoA: verified by two people, re-evaluated
with the CoA's spec version, chained to the CoA's hash; the CoA is never edited."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cytorelease.addendum import addendum_check, issue_addendum, verify_addendum
from cytorelease.errors import CytoreleaseError, InputError, SignatureError
from cytorelease.manual import enter_value
from cytorelease.report.area import split_report
from cytorelease.report.entry import Meaning
from cytorelease.report.record import extract_record, record_digests
from cytorelease.report.registry import load_registry
from tests.addendum.conftest import Released, release_holding, sign
from tests.double_entry import PASSPHRASE, People, enter_verified, identity_of


def add(case: Released, out: Path, value: str = "no growth", **options: object) -> object:
    options.setdefault("attribute", "manual.sterility")
    return issue_addendum(
        case.coa, value=value, lot_dir=case.lot, key_path=case.people.first.key_path,
        passphrase=PASSPHRASE, registry=case.people.folder, out=out, **options,  # type: ignore[arg-type]
    )  # fmt: skip


def verified(case: Released) -> Released:
    enter_verified(case.lot, case.people, case.held)
    return case


def _criterion(record: dict, criterion: str) -> dict:
    return next(c for c in record["evaluation"]["criteria"] if c["id"] == criterion)


def test_an_addendum_adds_the_verified_result_and_never_touches_the_coa(
    case: Released, tmp_path: Path
) -> None:
    verified(case)
    before = hashlib.sha256(case.coa.read_bytes()).hexdigest()
    out = tmp_path / "addendum-1.html"
    issued = add(case, out, value="No Growth")  # matched as words: case does not count
    assert hashlib.sha256(case.coa.read_bytes()).hexdigest() == before
    record = issued.record  # type: ignore[attr-defined]
    assert record["number"] == 1 and record["disposition"] == {"before": "PASS", "after": "PASS"}
    assert record["changes"] == [
        {
            "criterion": "sterility",
            "test": "Sterility",
            "attribute": "manual.sterility",
            "before": {"reported": None, "verdict": "pending"},
            "after": {"reported": "no growth", "verdict": "pass"},
        }
    ]
    added = record["added"][0]
    assert (added["entered_by"], added["verified_by"]) == ("ffirst", "ssecond")
    coa_record = extract_record(case.coa.read_bytes())
    assert record["amends"]["coa"]["record_sha256"] == record_digests(coa_record).record_sha256
    content = split_report(case.coa.read_bytes()).content
    assert record["amends"]["coa"]["content_sha256"] == hashlib.sha256(content).hexdigest()
    assert record["amends"]["coa"]["signatures"] == 3
    assert record["evaluation"]["spec"]["sha256"] == coa_record["evaluation"]["spec"]["sha256"]
    page = out.read_text(encoding="utf-8")
    assert "Addendum 1 to the Certificate of Analysis" in page and "ssecond" in page

    result = verify_addendum(out, coa=case.coa, trust=case.people.registry)
    assert result.ok, result.failures()
    assert [c.entry.meaning for c in result.signatures if c.entry] == ["performed"]

    # the addendum takes the same review and approval a CoA does, with its chain checked
    check = addendum_check(load_registry(case.people.folder), case.coa)
    sign(out, case.people.reviewer, Meaning.REVIEWED, case.people, content_check=check)
    sign(out, case.people.qa, Meaning.APPROVED, case.people, content_check=check)
    result = verify_addendum(out, coa=case.coa, trust=case.people.registry)
    assert result.ok, result.failures()
    assert len(result.signatures) == 3


def test_an_addendum_that_fails_the_lot_cannot_be_approved(case: Released, tmp_path: Path) -> None:
    enter_verified(case.lot, case.people, {"manual.sterility": ("growth", None)})
    out = tmp_path / "addendum-1.html"
    issued = add(case, out, value="growth")
    record = issued.record  # type: ignore[attr-defined]
    assert record["disposition"] == {"before": "PASS", "after": "FAIL"}
    assert _criterion(record, "sterility")["verdict"] == "fail"
    check = addendum_check(load_registry(case.people.folder), case.coa)
    sign(out, case.people.reviewer, Meaning.REVIEWED, case.people, content_check=check)
    with pytest.raises(SignatureError, match="FAIL"):
        sign(out, case.people.qa, Meaning.APPROVED, case.people, content_check=check)
    sign(out, case.people.qa, Meaning.REJECTED, case.people, content_check=check)
    assert verify_addendum(out, coa=case.coa, trust=case.people.registry).ok


def test_without_its_checks_an_addendum_is_neither_signed_nor_verified(
    case: Released, tmp_path: Path
) -> None:
    from cytorelease.report.verify import verify_report

    out = tmp_path / "addendum-1.html"
    add(verified(case), out)
    result = verify_report(out, trust=case.people.registry)
    assert not result.ok and any("--coa COA.html" in f for f in result.failures())
    with pytest.raises(SignatureError, match="an addendum is verified with"):
        sign(out, case.people.reviewer, Meaning.REVIEWED, case.people)
    lacking = verify_addendum(out, coa=None, trust=case.people.registry)
    assert not lacking.ok and any("was not given" in f for f in lacking.failures())


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("entered-only", "unverified: no second person has verified it"),
        ("no-record", "no manual record of manual.sterility"),
        ("other-value", "differs from the one entered and verified"),
        ("judged", "already has a result"),
        ("not-manual", "is not a manual attribute"),
        ("out-exists", "an addendum is never replaced"),
    ],
)
def test_issuing_refuses_what_is_not_a_verified_new_result(
    case: Released, tmp_path: Path, setup: str, message: str
) -> None:
    out = tmp_path / "addendum.html"
    options: dict[str, object] = {}
    value = "no growth"
    if setup == "entered-only":
        enter_value(
            case.lot, identity_of(case.lot), attribute="manual.sterility", value="no growth",
            key_path=case.people.first.key_path, passphrase=PASSPHRASE,
            registry=case.people.folder,
        )  # fmt: skip
    elif setup != "no-record":
        verified(case)
    if setup == "other-value":
        value = "growth"
    elif setup == "judged":
        options["attribute"] = "manual.mycoplasma"
        value = "not detected"
    elif setup == "not-manual":
        options["attribute"] = "flow.car_pct_of_viable_cd3"
    elif setup == "out-exists":
        out.write_text("someone's file")
    with pytest.raises(CytoreleaseError, match=message):
        add(case, out, value=value, **options)
    if setup == "out-exists":
        assert out.read_text() == "someone's file"
    else:
        assert not out.exists()


def test_issuing_refuses_a_coa_that_does_not_verify(case: Released, tmp_path: Path) -> None:
    verified(case)
    data = case.coa.read_bytes()
    flipped = data.replace(b"Viability", b"Viabilitx", 1)
    assert flipped != data
    case.coa.write_bytes(flipped)
    with pytest.raises(SignatureError, match="the CoA does not verify"):
        add(case, tmp_path / "addendum.html")


def test_issuing_refuses_an_unsigned_draft(people: People, tmp_path: Path) -> None:
    draft = release_holding(tmp_path, people, ("manual.sterility",), ())
    verified(draft)
    with pytest.raises(SignatureError, match="no signature"):
        add(draft, tmp_path / "addendum.html")


def test_a_manual_record_of_another_lot_is_refused(case: Released, tmp_path: Path) -> None:
    import shutil

    from tests.manual.conftest import bare_lot

    other = bare_lot(tmp_path / "other", lot="LOT-9", coi="COI-9")
    enter_verified(other, case.people, case.held)
    (case.lot / "manual").mkdir(exist_ok=True)
    shutil.copyfile(
        other / "manual" / "manual.sterility.json", case.lot / "manual" / "manual.sterility.json"
    )
    with pytest.raises(InputError, match="copied from another lot"):
        add(case, tmp_path / "addendum.html")


def test_a_missing_release_test_completes_a_lot_and_addenda_chain(
    people: People, tmp_path: Path
) -> None:
    # RCL (a release test) and sterility (post-release) both come later: INCOMPLETE, so the
    # CoA is performed and reviewed, never approved; addendum 1 adds RCL, addendum 2 sterility
    case = release_holding(
        tmp_path, people, ("manual.rcl", "manual.sterility"),
        (Meaning.PERFORMED, Meaning.REVIEWED),
    )  # fmt: skip
    verified(case)
    first = tmp_path / "addendum-1.html"
    one = add(case, first, attribute="manual.rcl", value="not detected").record  # type: ignore[attr-defined]
    assert one["disposition"] == {"before": "INCOMPLETE", "after": "PASS"}
    assert _criterion(one, "sterility")["verdict"] == "pending"

    second = tmp_path / "addendum-2.html"
    with pytest.raises(CytoreleaseError, match="already has a result"):
        add(case, second, attribute="manual.rcl", value="not detected", previous=[first])
    two = add(case, second, previous=[first]).record  # type: ignore[attr-defined]
    assert two["number"] == 2
    assert two["amends"]["previous"]["number"] == 1
    assert [c["criterion"] for c in two["changes"]] == ["sterility"]

    trust = people.registry
    assert verify_addendum(second, coa=case.coa, previous=[first], trust=trust).ok
    alone = verify_addendum(second, coa=case.coa, trust=trust)
    assert not alone.ok
    assert any("none was given (--previous)" in f for f in alone.failures())
    # addendum 2 issued again over the CoA alone would be another addendum 1 for sterility,
    # on a lot whose RCL it does not know: its number and chain say so
    assert any("addendum 2, but follows 0" in f for f in alone.failures())
    check = addendum_check(load_registry(people.folder), case.coa, [first])
    sign(second, people.reviewer, Meaning.REVIEWED, people, content_check=check)
    sign(second, people.qa, Meaning.APPROVED, people, content_check=check)
    assert verify_addendum(second, coa=case.coa, previous=[first], trust=trust).ok
