"""The worker's audit checkpoints: the service key signs the chain head when one is due.

After each item the worker asks :func:`~cytorelease.report.checkpoint.maybe_checkpoint`
whether ``every_rows`` audit rows or ``every_seconds`` passed since the last checkpoint in
``DATA/checkpoints/`` (cheap when nothing is due), and if so signs one with
``DATA/keys/service.pem`` (passphrase in ``CYTORELEASE_SERVICE_PASSPHRASE``; trusted time when
``CYTORELEASE_TSA`` is set). Without a service key there are no unattended checkpoints, and the
worker says so once. A checkpoint that cannot be written (wrong passphrase, unwritable folder,
TSA down) never stops the worker: it is counted in the worker's report, logged, and audited as a
``checkpoint-failed`` row, once per distinct reason until a checkpoint succeeds again, so a
broken key does not add a row per item. It is retried at the next item.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cytorelease.errors import CytoreleaseError, SignatureError
from cytorelease.records import audit
from cytorelease.records.datadir import DataDir
from cytorelease.records.store import Store

__all__ = [
    "DEFAULT_CHECKPOINT_ROWS",
    "DEFAULT_CHECKPOINT_SECONDS",
    "CheckpointOutcome",
    "ServiceCheckpoints",
]

DEFAULT_CHECKPOINT_ROWS = 500
DEFAULT_CHECKPOINT_SECONDS = 3600.0


@dataclass
class CheckpointOutcome:
    """What the worker's checkpoints did: files written, failures, why there are none."""

    written: list[str] = field(default_factory=list)
    failures: int = 0
    disabled: str | None = None  # why the worker writes no checkpoints (no service key)

    def to_dict(self) -> dict[str, Any]:
        return {"written": self.written, "failures": self.failures, "disabled": self.disabled}


class ServiceCheckpoints:
    """Checkpoints of one worker run; :meth:`after_item` never raises."""

    def __init__(
        self,
        data: DataDir,
        store: Store,
        *,
        actor: str,
        every_rows: int | None = DEFAULT_CHECKPOINT_ROWS,
        every_seconds: float | None = DEFAULT_CHECKPOINT_SECONDS,
        log: Callable[[str], None] | None = None,
    ) -> None:
        from cytorelease.hook.service_sign import SERVICE_KEY_NAME

        self.data, self.store, self.actor, self.log = data, store, actor, log
        self.every_rows, self.every_seconds = every_rows, every_seconds
        self.key = data.keys_dir / SERVICE_KEY_NAME
        self.outcome = CheckpointOutcome()
        self._audited: str | None = None  # the failure last audited (once per reason)
        if every_rows is None and every_seconds is None:
            self.outcome.disabled = "checkpoints turned off (no interval)"
        elif not self.key.is_file():
            self.outcome.disabled = f"no service key at {self.key}; no audit checkpoints"
        if self.outcome.disabled and log:
            log(f"note: {self.outcome.disabled}")

    def after_item(self) -> dict[str, Any] | None:
        """Write a checkpoint when one is due; a failure is audited and returned as None."""
        if self.outcome.disabled:
            return None
        try:
            written = self._maybe()
        except Exception as exc:  # a checkpoint must never take the worker down
            self._failed(_reason(exc))
            return None
        if written is not None:
            self.outcome.written.append(str(written["file"]))
            self._audited = None
        return written

    def _maybe(self) -> dict[str, Any] | None:
        from cytorelease.hook.service_sign import PASSPHRASE_ENV
        from cytorelease.report.checkpoint import maybe_checkpoint

        passphrase = os.environ.get(PASSPHRASE_ENV)
        if not passphrase:
            raise SignatureError(
                f"the service key needs its passphrase in {PASSPHRASE_ENV}", path=self.key
            )
        return maybe_checkpoint(
            self.store,
            self.key,
            passphrase,
            every_rows=self.every_rows,
            every_seconds=self.every_seconds,
            actor=self.actor,
            data=self.data,
        )

    def _failed(self, reason: str) -> None:
        self.outcome.failures += 1
        if self.log:
            self.log(f"warning: audit checkpoint not written: {reason}")
        if reason == self._audited:
            return
        try:
            with self.store.write():
                audit.append(
                    self.store,
                    actor=self.actor,
                    action=audit.Action.CHECKPOINT_FAILED,
                    object="checkpoints",
                    details={"reason": reason, "key": str(self.key)},
                )
        except Exception as exc:  # the store itself failing is the next item's problem
            if self.log:
                self.log(f"warning: checkpoint failure not audited: {_reason(exc)}")
            return
        self._audited = reason


def _reason(exc: Exception) -> str:
    if isinstance(exc, CytoreleaseError):
        return f"{type(exc).__name__}: {exc.one_line()}"
    if isinstance(exc, OSError) and exc.strerror:
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{type(exc).__name__}: {name}{exc.strerror.lower()}"
    # a foreign exception's text may quote file contents: the trail keeps only its type
    return f"{type(exc).__name__}: internal error"
