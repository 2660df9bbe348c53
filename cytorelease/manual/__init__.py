"""Manual results under a second-person check (Part 11 / Annex 11: double entry of critical
data): signed entry, blind signed verification, and the checked result a release judges.

    enter_value(lot_dir, LotIdentity(lot, coi), attribute=..., value=..., key_path=..., ...)
    verify_value(lot_dir, LotIdentity(lot, coi), attribute=..., value=..., key_path=..., ...)
    manual_results(lot_dir, LotIdentity(lot, coi), registry=...)  # {attribute: ManualResult}
"""

from cytorelease.manual.checking import ManualResult, State
from cytorelease.manual.entering import Entered, LotIdentity, enter_value, verify_value
from cytorelease.manual.events import MANUAL_DIR, ManualEvent
from cytorelease.manual.lot_records import manual_results

__all__ = [
    "MANUAL_DIR",
    "Entered",
    "LotIdentity",
    "ManualEvent",
    "ManualResult",
    "State",
    "enter_value",
    "manual_results",
    "verify_value",
]
