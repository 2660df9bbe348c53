"""``python -m cytorelease`` runs the command-line interface."""

from __future__ import annotations

from cytorelease.cli.main import main

if __name__ == "__main__":
    main()
