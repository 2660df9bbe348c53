"""A lot: its manifest, the release pipeline, and the canonical result record."""
