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

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class SignaturePolicy(BaseModel):
    """Which roles may apply each meaning, and the order and separation the release needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    performed: _Roles = (Role.ANALYST,)
    reviewed: _Roles = (Role.REVIEWER, Role.QA_APPROVER)
    approved: _Roles = (Role.QA_APPROVER,)
    rejected: _Roles = (Role.QA_APPROVER,)
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

    def roles_for(self, meaning: str) -> tuple[Role, ...]:
        """The roles allowed to apply ``meaning`` (approved-with-deviation is an approval)."""
        if meaning == "approved-with-deviation":
            return self.approved
        roles: tuple[Role, ...] = getattr(self, meaning.replace("-", "_"), ())
        return roles


DEFAULT_POLICY = SignaturePolicy()
