"""Signed addenda: a result that arrives after the CoA (sterility at day 14), added without
editing the CoA.

An addendum is a document of its own, signed like a CoA, that names the hash of the CoA it
amends (and of the addendum before it), carries the manual record of the result it adds (entered
and verified by two people, :mod:`cytorelease.manual`) and the spec text of the CoA's version,
and re-evaluates the lot with them. ``verify ADDENDUM --coa COA`` checks all of it offline.

    issue_addendum(coa, attribute=..., value=..., lot_dir=..., key_path=..., ...)
    verify_addendum(addendum, coa=..., trust=...)
"""

from cytorelease.addendum.issue import IssuedAddendum, issue_addendum
from cytorelease.addendum.verify import addendum_check, verify_addendum

__all__ = ["IssuedAddendum", "addendum_check", "issue_addendum", "verify_addendum"]
