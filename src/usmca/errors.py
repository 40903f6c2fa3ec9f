"""Errors a user sees. Each names the field or value at fault and what to do about it."""

from __future__ import annotations


class UsmcaError(Exception):
    """Base class: the message is shown to the user as one line, without a traceback."""


class InputError(UsmcaError):
    """Bad user input: names the field (a dotted path such as ``materials[2].value``) and the value."""

    def __init__(self, field: str, value: object, problem: str, hint: str | None = None) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.hint = hint
        msg = f"{field}: {problem} (got {value!r})"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)


class ReferenceNotFound(InputError):
    """Well-formed input naming what the reference data does not hold: a code not in the schedule on the date,
    a date before the schedule's coverage. The API answers 404 (the same request succeeds once the data holds
    it); everywhere else it is an InputError like any other."""


class DataError(UsmcaError):
    """The reference data is missing, corrupt or does not cover what was asked."""


class StoreMissingError(DataError):
    """No reference store has been built yet."""


class NotFoundError(UsmcaError):
    """A code, revision, rule or record that does not exist (on the date asked)."""
