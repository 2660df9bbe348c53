"""The record store: raw files, lots, analyses, releases, signatures and the audit trail.

SQLite (WAL) under the data folder by default; a PostgreSQL server when ``CYTORELEASE_DB``
names one. Raw files live in a content-addressed, read-only archive beside the database.
"""

from __future__ import annotations
