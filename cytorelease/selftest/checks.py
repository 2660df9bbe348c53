"""One qualification check: what was expected, what was observed, and whether they agree."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Check", "Status", "guarded"]


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    # the check could not be done as designed (an editable install has no RECORD for its
    # modules): never a pass, shown as a flag, not a failure of the software
    FLAG = "flag"


@dataclass(frozen=True, slots=True)
class Check:
    """A check's outcome. ``expected`` and ``observed`` are plain JSON, shown side by side."""

    id: str
    stage: str  # "IQ" (installation) or "OQ" (operation)
    title: str
    status: Status
    expected: Any = None
    observed: Any = None
    detail: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status is Status.PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stage": self.stage,
            "title": self.title,
            "status": self.status.value,
            "expected": self.expected,
            "observed": self.observed,
            "detail": self.detail,
            "items": list(self.items),
        }


def compare(
    check_id: str, stage: str, title: str, expected: Any, observed: Any, detail: str = ""
) -> Check:
    """PASS when ``observed == expected`` exactly."""
    status = Status.PASS if observed == expected else Status.FAIL
    return Check(check_id, stage, title, status, expected, observed, detail)


def guarded(check_id: str, stage: str, title: str, run: Callable[[], Check]) -> Check:
    """Run one check; an exception is that check's failure (its type and where), never a crash
    of the whole self-test and never its message, which could quote a file."""
    try:
        return run()
    except Exception as exc:  # a known-answer test that raises has failed
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else ""
        problem = getattr(exc, "problem", None)
        text = f": {problem}" if isinstance(problem, str) else ""
        return Check(
            check_id, stage, title, Status.FAIL, detail=f"raised {type(exc).__name__}{where}{text}"
        )


def all_pass(items: Iterable[bool]) -> Status:
    return Status.PASS if all(items) else Status.FAIL
