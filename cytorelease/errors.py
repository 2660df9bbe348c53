"""The exception tree and warnings.

Every error the library raises on purpose derives from :class:`CytoreleaseError`. The CLI maps
each subclass to an exit code in one place (``cli/main.py``) and prints it as one line:
``error: <path>: <problem>``. An out-of-spec lot is a normal result, never an exception.

Any other exception is a bug, not a bad file: it keeps its type and traceback, and a reader that
knows which file (and where in it) it was reading adds that as a note (:func:`note_input`), so
the CLI's ``internal error`` line can name the file without quoting its contents.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AssayError",
    "CytoreleaseError",
    "CytoreleaseWarning",
    "FCSChannelNameWarning",
    "FCSOffsetWarning",
    "InputError",
    "ManifestError",
    "SignatureError",
    "SpecError",
    "TemplateError",
    "VerificationError",
    "note_input",
    "noted_input",
]

_INPUT_ATTRIBUTE = "cytorelease_input"


class CytoreleaseError(Exception):
    """Base of every deliberate error: a problem, where it is, and optionally how to fix it."""

    exit_code: int = 2

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = str(path) if path is not None else None
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message without the ``error:`` prefix: ``<path>: <problem> (<hint>)``."""
        text = f"{self.path}: {self.problem}" if self.path else self.problem
        if self.hint:
            text = f"{text} ({self.hint})"
        # every line break str.splitlines knows (\r, \v, \x85, \u2028...), not only \n: a
        # damaged name quoted in a problem must not make the line two
        return " ".join(text.splitlines())

    def with_path(self, path: str | Path) -> CytoreleaseError:
        """Attach the file the error concerns, if it has none yet; returns self."""
        if self.path is None:
            self.path = str(path)
            self.args = (self.one_line(),)
        return self


class InputError(CytoreleaseError):
    """A raw input file (FCS, qPCR export, plate export, JSON) is missing, unreadable or malformed."""


class TemplateError(CytoreleaseError):
    """A gating template is invalid or does not fit the file it is applied to."""


class AssayError(CytoreleaseError):
    """An assay definition (qPCR or potency) is invalid or does not fit its data."""


class SpecError(CytoreleaseError):
    """An acceptance spec is invalid, unknown, or its content no longer matches its lock."""


class ManifestError(CytoreleaseError):
    """A lot manifest (lot.yaml) is invalid or refers to files outside the lot folder."""


class SignatureError(CytoreleaseError):
    """A key, passphrase or signing request is invalid (bad input: exit 2)."""


class VerificationError(CytoreleaseError):
    """A report, record or audit chain failed verification (exit 1)."""

    exit_code = 1


def note_input(exc: BaseException, path: str | Path, where: str | None = None) -> None:
    """Note on an unexpected exception the file being read (and where in it), once per file.

    The note shows in the traceback; the path is also kept on the exception for the CLI.
    """
    if noted_input(exc) is not None:
        return  # the innermost reader's note is the precise one
    exc.add_note(f"while reading {path}" + (f" ({where})" if where else ""))
    setattr(exc, _INPUT_ATTRIBUTE, str(path))


def noted_input(exc: BaseException) -> str | None:
    """The file a :func:`note_input` note names, or None."""
    path = getattr(exc, _INPUT_ATTRIBUTE, None)
    return path if isinstance(path, str) else None


class CytoreleaseWarning(UserWarning):
    """Base of the warnings cytorelease emits about tolerated irregularities in inputs."""


class FCSOffsetWarning(CytoreleaseWarning):
    """HEADER and TEXT DATA offsets of an FCS file disagree; the warning names both and the
    one used (a one-byte slip, or a place the file's structure rules out)."""


class FCSChannelNameWarning(CytoreleaseWarning):
    """Empty or duplicate $PnN channel names were made unique; the file's own names differ."""
