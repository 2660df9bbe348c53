"""An addendum against the documents it amends: the signed CoA, and the addenda before it.

The addendum names each by the hash of its content (the bytes its signatures cover), its
record's hash and its newest signature at the time (``signature_head``); the CoA may take no
edit, but a later signature is allowed. Against the document before it, the addendum's
measurements differ only in what it adds, each added criterion had no judged result there, and
its ``changes`` and ``disposition.before`` are what the two evaluations give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cytorelease.addendum.record import ADDABLE, changes_between, criteria_of
from cytorelease.errors import InputError, SignatureError
from cytorelease.provenance import canonical_json
from cytorelease.report.entry import entry_sha256, parse_utc
from cytorelease.report.record import extract_record, is_addendum
from cytorelease.report.verification import VerificationResult
from cytorelease.report.verify import record_created_at

if TYPE_CHECKING:
    from cytorelease.report.registry import Registry

__all__ = ["Amended", "Document", "chain_problems", "open_amended", "read_document", "rejected_by"]


@dataclass(frozen=True, slots=True)
class Document:
    """A verified CoA or addendum: its file, what verify found, its record."""

    path: Path
    result: VerificationResult
    record: dict[str, Any]

    def heads(self) -> list[str]:
        """The hash of each of its signatures, in order."""
        return [entry_sha256(c.entry) for c in self.result.signatures if c.entry is not None]

    def link(self) -> dict[str, Any]:
        """How an addendum names this document."""
        heads = self.heads()
        link = {
            "file": self.path.name,
            "content_sha256": self.result.content_sha256,
            "record_sha256": self.result.record_sha256,
            "signatures": len(heads),
            "signature_head": heads[-1] if heads else None,
            "disposition": self.result.disposition,
        }
        if is_addendum(self.record):
            link["number"] = self.record.get("number")
        return link


@dataclass(frozen=True, slots=True)
class Amended:
    """The CoA and the addenda already issued after it, each verified, in order."""

    coa: Document
    previous: tuple[Document, ...]

    @property
    def base(self) -> Document:
        return self.previous[-1] if self.previous else self.coa

    @property
    def number(self) -> int:
        return len(self.previous) + 1

    def links(self) -> dict[str, Any]:
        return {
            "coa": self.coa.link(),
            "previous": self.previous[-1].link() if self.previous else None,
        }


def read_document(path: Path) -> bytes:
    """The bytes of a CoA or addendum given by path; a missing file, a folder or a file that is
    no CoA at all is bad input (exit 2), not a failed verification."""
    from cytorelease.report.verify import require_coa

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a CoA or addendum", path=path) from None
    require_coa(data, path=path)
    return data


def _verified(path: Path, registry: Registry | None, now: datetime | None,
              check: Any = None) -> Document:  # fmt: skip
    from cytorelease.report.verify import verify_bytes

    data = read_document(path)
    result = verify_bytes(data, registry=registry, path=str(path), now=now, content_check=check)
    record = extract_record(data, path=str(path))
    return Document(path, result, record)


def open_amended(
    coa: str | Path,
    previous: Sequence[str | Path],
    registry: Registry | None,
    *,
    now: datetime | None = None,
) -> Amended:
    """The CoA and its earlier addenda, each verified against ``registry`` and each addendum
    against the documents before it; :class:`SignatureError` naming what fails."""
    from cytorelease.addendum.content import content_problems

    first = _verified(Path(coa), registry, now)
    if is_addendum(first.record):
        raise InputError("is an addendum; --coa names the certificate it amends", path=coa)
    if not first.result.ok:
        raise SignatureError(
            "the CoA does not verify: " + "; ".join(first.result.failures()), path=coa
        )
    amended = Amended(first, ())
    for path in previous:
        document = _verified(Path(path), registry, now, lambda r: content_problems(r, registry))
        if not is_addendum(document.record):
            raise InputError("is not an addendum (--previous names earlier addenda)", path=path)
        problems = document.result.failures() + chain_problems(document.record, amended)
        if problems:
            raise SignatureError(
                "the earlier addendum does not verify: " + "; ".join(problems), path=path
            )
        amended = Amended(first, (*amended.previous, document))
    return amended


def _link_problems(
    name: str, link: Any, document: Document, record: Mapping[str, Any]
) -> list[str]:
    if not isinstance(link, Mapping):
        return [f"it does not name the {name} it follows"]
    problems = []
    current = document.link()
    for key in ("content_sha256", "record_sha256"):
        if link.get(key) != current[key]:
            problems.append(
                f"it amends another {name} ({key} {str(link.get(key))[:12]}…, the {name} "
                f"given has {str(current[key])[:12]}…)"
            )
    head, heads = link.get("signature_head"), document.heads()
    if head in heads:
        problems += _after_problems(name, document, heads.index(head), record)
    if head is not None and head not in heads:
        problems.append(f"the {name}'s signature it names is not on the {name} given")
    elif head is not None and link.get("signatures") != heads.index(head) + 1:
        problems.append(
            f"it shows {link.get('signatures')} signatures on the {name}, and the signature it "
            f"names is number {heads.index(head) + 1}"
        )
    if head is None and heads:
        problems.append(f"it names no signature of the {name}")
    if link.get("disposition") != current["disposition"]:
        problems.append(
            f"it shows the {name}'s disposition as {link.get('disposition')}, the {name} "
            f"given has {current['disposition']}"
        )
    # ``file`` is the name it was issued against, shown as a label: a renamed copy still
    # verifies, since the hashes name the document
    return problems


def rejected_by(document: Document, upto: int | None = None) -> str | None:
    """Who rejected the document among its first ``upto + 1`` signatures (all: None)."""
    entries = [c.entry for c in document.result.signatures if c.entry is not None]
    for entry in entries[: None if upto is None else upto + 1]:
        if entry.meaning == "rejected":
            return f"{entry.signer} ({entry.user_id}) at {entry.utc_time}"
    return None


def _after_problems(
    name: str, document: Document, index: int, record: Mapping[str, Any]
) -> list[str]:
    """The addendum is made after the signature it names, on a document nobody rejected."""
    problems = []
    check = [c for c in document.result.signatures if c.entry is not None][index]
    assert check.entry is not None
    signed = parse_utc(check.trusted_time or check.entry.utc_time)
    created = record_created_at(record)
    if created is None or created < signed:
        problems.append(
            f"it is dated {record.get('created_at')}, before the {name}'s "
            f"signature it names ({check.entry.utc_time}): backdated"
        )
    who = rejected_by(document, index)
    if who:
        problems.append(f"the {name} it amends was rejected by {who}: a rejected lot takes no "
                        "addendum")  # fmt: skip
    return problems


def chain_problems(record: Mapping[str, Any], amended: Amended) -> list[str]:
    """Everything wrong with ``record`` (an addendum) as the next addendum of ``amended``."""
    amends = record.get("amends") or {}
    problems = _link_problems("CoA", amends.get("coa"), amended.coa, record)
    if amended.previous:
        problems += _link_problems("addendum", amends.get("previous"), amended.previous[-1], record)
    elif amends.get("previous") is not None:
        problems.append("it follows an earlier addendum, and none was given (--previous)")
    if record.get("number") != amended.number:
        problems.append(
            f"it is addendum {record.get('number')}, but follows {len(amended.previous)} "
            "earlier addenda"
        )
    base = amended.base.record
    if canonical_json(record.get("lot")) != canonical_json(base.get("lot")):
        problems.append("it is for another lot than the CoA")
    before, after = base.get("evaluation") or {}, record.get("evaluation") or {}
    spec_before, spec_after = before.get("spec") or {}, after.get("spec") or {}
    if (spec_before.get("id"), spec_before.get("version"), spec_before.get("sha256")) != (
        spec_after.get("id"), spec_after.get("version"), spec_after.get("sha256")
    ):  # fmt: skip
        problems.append("it is evaluated with another spec version than the CoA")
    if canonical_json(record.get("definitions")) != canonical_json(base.get("definitions")):
        problems.append("it names other definitions than the CoA")
    problems += _measurement_problems(record, base)
    carried = [
        {"kind": "manual-record", "role": a.get("attribute"),
         "path": (a.get("manual_record") or {}).get("file"),
         "sha256": (a.get("manual_record") or {}).get("sha256")}
        for a in record.get("added") or [] if isinstance(a, Mapping)
    ]  # fmt: skip
    if canonical_json(record.get("inputs")) != canonical_json([*base.get("inputs", []), *carried]):
        problems.append("the inputs it names are not the CoA's and the records it adds")
    if canonical_json(record.get("changes")) != canonical_json(changes_between(before, after)):
        problems.append("the changes it shows are not what the two evaluations give")
    if (record.get("disposition") or {}).get("before") != before.get("disposition"):
        problems.append("the disposition it shows before it is not the CoA's")
    return problems


def _measurement_problems(record: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    added = {str(a.get("attribute")) for a in record.get("added") or [] if isinstance(a, Mapping)}

    def others(measurements: Any) -> str:
        return canonical_json(sorted(
            (m for m in measurements or [] if m.get("attribute") not in added),
            key=lambda m: str(m.get("attribute")),
        ))  # fmt: skip

    problems = []
    if others(record.get("measurements")) != others(base.get("measurements")):
        problems.append("its measurements differ from the CoA's in more than what it adds")
    for attribute in sorted(added):
        judged = [c for c in criteria_of(base.get("evaluation") or {}, attribute)
                  if str(c.get("verdict")).lower() not in ADDABLE]  # fmt: skip
        if judged or not criteria_of(base.get("evaluation") or {}, attribute):
            what = judged[0].get("verdict") if judged else "no criterion"
            problems.append(f"{attribute} has {what} on the document it amends: nothing to add")
        was = [m for m in base.get("measurements") or [] if m.get("attribute") == attribute]
        now = [m for m in record.get("measurements") or [] if m.get("attribute") == attribute]
        if was and [m.get("value") for m in was] != [m.get("value") for m in now]:
            problems.append(
                f"{attribute} was {was[0].get('value')!r} (not verified) on the document it "
                f"amends and is {now[0].get('value') if now else None!r} here: a correction"
            )
    return problems
