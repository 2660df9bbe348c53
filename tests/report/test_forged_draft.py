"""A draft forged before anyone signs it (found by attack): the unsigned record carried its own
signature policy and disposition, and `sign` and `verify` believed them. An analyst widened the
policy (`approved` by analyst, no review, one person) and approved alone; an INCOMPLETE lot's
disposition was edited to PASS and two honest people signed it. The defaults are now the floor
of every policy, and a disposition milder than the record's own criteria is refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from cytorelease.errors import SignatureError
from cytorelease.report.entry import Meaning
from cytorelease.report.render import stamp_rendering
from cytorelease.report.verify import verify_bytes
from cytorelease.signature_policy import Role, SignaturePolicy
from tests.report.conftest import RENDERED_AT, Signer, at, passing_example_record, unstamped_record
from tests.report.test_policy import _draft, _forge, _sign

WIDE = {"approved": ["analyst"], "approval_requires_review": False, "distinct_people": False}


def _failures(data: bytes, signers: dict[str, Signer]) -> list[str]:
    return verify_bytes(data, registry=signers["analyst"].registry, now=at(18)).failures()


def _with(record: dict[str, Any], **evaluation: Any) -> bytes:
    record = copy.deepcopy(record)
    record.pop("rendering", None)
    record["evaluation"].update(evaluation)
    return _draft(stamp_rendering(record, generated_at=RENDERED_AT))


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("approved", ["analyst"], "approved: analyst may not apply it"),
        ("reviewed", ["analyst"], "reviewed: analyst may not apply it"),
        ("performed", ["qa-approver"], "performed: qa-approver may not apply it"),
        ("approval_requires_review", False, "an approval always needs a review"),
        ("distinct_people", False, "performer, reviewer and approver are never one"),
    ],
)
def test_a_policy_may_only_narrow_the_defaults(field: str, value: Any, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        SignaturePolicy.model_validate({field: value})
    # narrowing is allowed: reviews by QA only, deviations named
    narrowed = SignaturePolicy(reviewed=(Role.QA_APPROVER,), approval_with_deviation=True)
    assert narrowed.roles_for("reviewed") == (Role.QA_APPROVER,)


def test_an_analyst_cannot_approve_alone_under_a_widened_policy(
    signers: dict[str, Signer],
) -> None:
    draft = _with(passing_example_record(), signature_policy=WIDE)
    with pytest.raises(SignatureError) as caught:
        _sign(draft, signers["analyst"], Meaning.APPROVED, at(10))
    assert "the record's signature policy is invalid (approved: analyst may not" in str(
        caught.value
    )
    forged = _forge(draft, signers["analyst"], "approved", "analyst", at(10))
    failures = _failures(forged, signers)
    assert any("the record's signature policy is invalid" in f for f in failures), failures


def test_an_incomplete_lot_edited_to_pass_is_neither_signed_nor_verified(
    signers: dict[str, Signer],
) -> None:
    record = unstamped_record()  # rcl without result, disposition INCOMPLETE
    draft = _with(record, disposition="PASS")
    problem = (
        "the record's disposition is PASS but its criteria give INCOMPLETE (0 failing, 1 without a "
        "verified result): the draft was edited"
    )
    with pytest.raises(SignatureError) as caught:
        _sign(draft, signers["analyst"], Meaning.PERFORMED, at(10))
    assert caught.value.problem.endswith(problem)
    forged = _forge(draft, signers["analyst"], "performed", "analyst", at(10))
    forged = _forge(forged, signers["reviewer"], "reviewed", "reviewer", at(11))
    forged = _forge(forged, signers["qa"], "approved", "qa-approver", at(12))
    assert _failures(forged, signers) == [f"report: {problem}"]  # the only thing left


def test_a_failing_criterion_under_a_pass_is_refused_and_a_stricter_disposition_is_not(
    signers: dict[str, Signer],
) -> None:
    record = copy.deepcopy(passing_example_record())
    for criterion in record["evaluation"]["criteria"]:
        if criterion["id"] == "mycoplasma":
            criterion.update(reported="detected", verdict="FAIL")
    with pytest.raises(SignatureError, match="its criteria give FAIL"):
        _sign(_with(record), signers["analyst"], Meaning.PERFORMED, at(10))
    # an unlocked definition withholds PASS: a record more severe than its criteria signs
    stricter = _with(passing_example_record(), disposition="INCOMPLETE")
    _sign(stricter, signers["analyst"], Meaning.PERFORMED, at(10))
