"""Who may sign what on a CoA: the roles of the signer registry and a spec's signature policy.

The policy is part of the spec (and so of its content hash); a spec that says nothing gets the
defaults below, which are what 21 CFR 211.192 and EU GMP Annex 16 expect of a release: the
analysis performed by an analyst, reviewed by a second person, and the lot certified by a QA
approver who is neither, only after the review and only for a lot that met its specification.
It lives in the base layer because both the spec (which carries it) and the signing code (which
enforces it) read it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DEFAULT_POLICY", "Role", "SignaturePolicy"]


class Role(StrEnum):
    """A role in the signer registry."""

    ANALYST = "analyst"
    REVIEWER = "reviewer"
    QA_APPROVER = "qa-approver"
    SPEC_AUTHOR = "spec-author"
    ADMIN = "admin"
    # An unattended process: it may only record that it evaluated a lot.
    SERVICE = "service"


_Roles = Annotated[tuple[Role, ...], Field(min_length=1)]


_DEFAULT_ROLES: dict[str, tuple[Role, ...]] = {
    "performed": (Role.ANALYST,),
    "reviewed": (Role.REVIEWER, Role.QA_APPROVER),
    "approved": (Role.QA_APPROVER,),
    "rejected": (Role.QA_APPROVER,),
}


class SignaturePolicy(BaseModel):
    """Which roles may apply each meaning, and the order and separation the release needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    performed: _Roles = _DEFAULT_ROLES["performed"]
    reviewed: _Roles = _DEFAULT_ROLES["reviewed"]
    approved: _Roles = _DEFAULT_ROLES["approved"]
    rejected: _Roles = _DEFAULT_ROLES["rejected"]
    # An approval needs an earlier `reviewed` signature.
    approval_requires_review: bool = True
    # Performer, reviewer and approver (and rejecter) are different user ids.
    distinct_people: bool = True
    # A FAIL or INCOMPLETE lot may be approved only with a named deviation, and only if allowed.
    approval_with_deviation: bool = False

    @field_validator("performed", "reviewed", "approved", "rejected")
    @classmethod
    def _no_service(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        if Role.SERVICE in roles:
            raise ValueError("a service key never applies a person's meaning")
        if len(set(roles)) != len(roles):
            raise ValueError("a role is listed twice")
        return roles

    @model_validator(mode="after")
    def _no_weaker_than_the_defaults(self) -> SignaturePolicy:
        # The defaults are the floor a release needs, not a suggestion: a spec may narrow who
        # signs what, never widen it or drop the review or the separation of people. (A
        # record's policy is only as trustworthy as the unsigned draft carrying it, so a
        # widened policy there must not be honoured either: the signing code reads it through
        # this model.)
        for meaning in ("performed", "reviewed", "approved", "rejected"):
            floor = _DEFAULT_ROLES[meaning]
            wider = [r for r in getattr(self, meaning) if r not in floor]
            if wider:
                raise ValueError(
                    f"{meaning}: {', '.join(wider)} may not apply it (a policy may only narrow "
                    f"the default roles: {', '.join(floor)})"
                )
        if not self.approval_requires_review:
            raise ValueError("approval_requires_review: an approval always needs a review")
        if not self.distinct_people:
            raise ValueError("distinct_people: performer, reviewer and approver are never one")
        return self

    def roles_for(self, meaning: str) -> tuple[Role, ...]:
        """The roles allowed to apply ``meaning`` (approved-with-deviation is an approval)."""
        if meaning == "approved-with-deviation":
            return self.approved
        roles: tuple[Role, ...] = getattr(self, meaning.replace("-", "_"), ())
        return roles


DEFAULT_POLICY = SignaturePolicy()
