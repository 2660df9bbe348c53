"""Potency: plate-reader exports, 4PL/5PL curves, relative potency, IFN-gamma ELISA analysis."""

from __future__ import annotations
