"""The unattended side: the post-acquisition hook, the inbox watcher and the queue worker."""

from __future__ import annotations
