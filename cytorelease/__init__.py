"""cytorelease: release testing of CAR-T cell therapy lots, from raw QC data to a signed CoA."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
