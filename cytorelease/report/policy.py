"""The spec's signature policy applied to a CoA's signatures, one rule at a time.

``sign`` asks :func:`policy_problem` before it signs and refuses with the answer; ``verify``
asks the same question of every signature against the ones before it, so a signature block
forged outside ``sign`` breaks the same named rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from cytorelease.report.entry import Meaning, SignatureEntry
from cytorelease.signature_policy import DEFAULT_POLICY, Role, SignaturePolicy

__all__ = ["DECIDING", "authorizing_role", "policy_of", "policy_problem"]

# A lot's release decision; after one of these the CoA takes no more signatures.
DECIDING = frozenset({Meaning.APPROVED, Meaning.APPROVED_WITH_DEVIATION, Meaning.REJECTED})
_PERSONAL = frozenset(
    {
        Meaning.PERFORMED,
        Meaning.REVIEWED,
        Meaning.APPROVED,
        Meaning.APPROVED_WITH_DEVIATION,
        Meaning.REJECTED,
    }
)


def policy_of(record: Any) -> tuple[SignaturePolicy, str | None]:
    """The policy the record's spec carries (the defaults for a spec that is silent), and a
    problem when the record's policy cannot be read (then the defaults apply)."""
    evaluation = record.get("evaluation") if isinstance(record, dict) else None
    raw = evaluation.get("signature_policy") if isinstance(evaluation, dict) else None
    if raw is None:
        return DEFAULT_POLICY, None
    try:
        return SignaturePolicy.model_validate(raw), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        shown = f"{where}: {message}" if where else message
        return DEFAULT_POLICY, f"the record's signature policy is invalid ({shown})"


_SEVERITY = {"PASS": 0, "INCOMPLETE": 1, "FAIL": 2}


def disposition_problem(record: Any) -> str | None:
    """Why the record's disposition cannot be what its own criteria give, or None.

    The draft a first signer receives is unsigned: a disposition edited to PASS while a
    criterion still fails, or has no result, must not be signed or verify. A disposition more
    severe than the criteria give (an unlocked definition withholds PASS) is allowed.
    """
    evaluation = record.get("evaluation") if isinstance(record, dict) else None
    if not isinstance(evaluation, dict):
        return None
    criteria = evaluation.get("criteria")
    stated = str(evaluation.get("disposition", "")).upper()
    if not isinstance(criteria, list) or stated not in _SEVERITY:
        return f"the record's disposition {stated or '(none)'!r} is not PASS, FAIL or INCOMPLETE"
    verdicts = [str(c.get("verdict", "")).lower() for c in criteria if isinstance(c, dict)]
    failed = verdicts.count("fail")
    # an unverified manual result withholds PASS as an absent one does
    missing = verdicts.count("missing") + verdicts.count("unverified")
    given = "FAIL" if failed else "INCOMPLETE" if missing else "PASS"
    if _SEVERITY[stated] < _SEVERITY[given]:
        return (
            f"the record's disposition is {stated} but its criteria give {given} ({failed} "
            f"failing, {missing} without a verified result): the draft was edited"
        )
    return None


def authorizing_role(
    policy: SignaturePolicy, meaning: Meaning, roles: Sequence[Role]
) -> Role | None:
    """The role under which a holder of ``roles`` may apply ``meaning``, or None."""
    if meaning is Meaning.COMPUTER_GENERATED:
        return Role.SERVICE if Role.SERVICE in roles else None
    allowed = policy.roles_for(str(meaning))
    return next((role for role in allowed if role in roles), None)


def policy_problem(
    existing: Sequence[SignatureEntry],
    *,
    user_id: str,
    roles: Sequence[Role],
    meaning: Meaning,
    disposition: str | None,
    policy: SignaturePolicy,
    deviation: str | None = None,
) -> str | None:
    """The first rule a new signature (``user_id`` holding ``roles``, applying ``meaning``
    after ``existing``) breaks, or None when the policy allows it."""
    if authorizing_role(policy, meaning, roles) is None:
        allowed = policy.roles_for(str(meaning)) if meaning.is_human else (Role.SERVICE,)
        held = ", ".join(str(r) for r in roles) or "no role"
        return (
            f"the signature policy lets only {' or '.join(str(r) for r in allowed)} apply "
            f"'{meaning}'; {user_id} holds {held}"
        )
    decided = next((e for e in existing if Meaning(e.meaning) in DECIDING), None)
    if decided is not None:
        return (
            f"the lot was already {decided.meaning} by {decided.user_id}; a decided CoA takes no "
            "further signatures"
        )
    for entry in existing:
        if entry.user_id == user_id and entry.meaning == meaning:
            return f"{user_id} has already signed this report as {meaning}"
    if policy.distinct_people and meaning in _PERSONAL:
        earlier = next(
            (e for e in existing if e.user_id == user_id and Meaning(e.meaning) in _PERSONAL),
            None,
        )
        if earlier is not None:
            return (
                f"{user_id} already signed this report as {earlier.meaning}; performer, "
                "reviewer and approver must be different people (segregation of duties)"
            )
    if meaning in (Meaning.APPROVED, Meaning.APPROVED_WITH_DEVIATION):
        return _approval_problem(existing, meaning, disposition, policy, deviation)
    if deviation is not None:
        return "a deviation is named only with the meaning approved-with-deviation"
    return None


def _approval_problem(
    existing: Sequence[SignatureEntry],
    meaning: Meaning,
    disposition: str | None,
    policy: SignaturePolicy,
    deviation: str | None,
) -> str | None:
    if meaning is Meaning.APPROVED:
        if deviation is not None:
            return "a deviation is named only with the meaning approved-with-deviation"
        if disposition != "PASS":
            return (
                f"the disposition is {disposition}: 'approved' is only for a lot that met its "
                "specification (sign it 'rejected', or 'approved-with-deviation' naming a "
                "deviation where the spec allows it)"
            )
    else:
        if not policy.approval_with_deviation:
            return "the spec's signature policy does not allow approval with a deviation"
        if not deviation:
            return "approved-with-deviation names the deviation (--deviation ID)"
        if disposition == "PASS":
            return "the lot met its specification: approve it without a deviation"
    if policy.approval_requires_review and not any(e.meaning == Meaning.REVIEWED for e in existing):
        return "an approval needs a review first (no 'reviewed' signature yet)"
    return None
