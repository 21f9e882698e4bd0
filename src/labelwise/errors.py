"""Errors that tell the user what went wrong and how to fix it.

Every error a user can cause derives from :class:`LabelwiseError`; the CLI prints its
message without a traceback. Errors about input name the file, the line and the field.
"""
from __future__ import annotations


class LabelwiseError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class InputError(LabelwiseError):
    """Bad input data or config; names the file, line and field where known."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path, self.line, self.field, self.message = path, line, field, message
        where = ""
        if path:
            where = str(path)
            if line is not None:
                where += f":{line}"
            if field:
                where += f" (field '{field}')"
            where += ": "
        elif field:
            where = f"field '{field}': "
        super().__init__(where + message)


class ConfigError(InputError):
    """The project config is invalid."""


class ParseError(LabelwiseError):
    """A model's answer could not be turned into a label. Stored as an error, never guessed."""


class BudgetExhausted(LabelwiseError):
    """The next call would exceed the budget; nothing was sent."""

    def __init__(self, message: str, **over: object) -> None:
        super().__init__(message)
        self.over = over


class AnnotatorError(LabelwiseError):
    """A backend failed after its retries (server down, bad credentials, ...)."""


class ModelNotFound(LabelwiseError):
    """A model name is not in the catalogue and is not a file."""


class IntegrityError(LabelwiseError):
    """A downloaded or assembled file does not match its expected SHA-256."""


class ItemError(LabelwiseError):
    """One item cannot be answered as asked (e.g. its prompt does not fit the context).
    Stored as an annotation with this error, like a ParseError; the run goes on."""


class MalformedAnswer(AnnotatorError):
    """A backend was answered (and so paid) but the body cannot be read: a wrong shape, a
    non-finite score, usage that is negative, huge or not a number. The call is that item's
    error, with the raw body kept; the engine counts it in the ledger at its reserved bound."""

    def __init__(self, message: str, *, raw: object = None) -> None:
        super().__init__(message)
        self.raw = raw


class ProjectLocked(LabelwiseError):
    """Another process holds the project's lock (annotating, looping); nothing was sent."""
