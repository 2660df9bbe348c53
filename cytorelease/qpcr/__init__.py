"""qPCR and digital PCR: export readers, standard curves, Poisson dPCR, vector copy number.

Importing this package is cheap; pandas, statsmodels and scipy load with the modules that use
them (:mod:`.readers`, :mod:`.stdcurve`, :mod:`.vcn`).
"""

from __future__ import annotations

__all__: list[str] = []
