"""Typed errors of the winch front end, compiler and assemblers.

Every error a user can provoke with bad input is one of these; anything else escaping
from `winch` is a bug in `winch`.  Front-end errors carry the byte offset in the module
where the problem was found, so a command-line tool can print `file:offset: message`.
"""

from __future__ import annotations


class WinchError(Exception):
    """Base of every error that `winch` raises on purpose."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        if self.offset is None:
            return self.message
        return f"at byte offset {self.offset:#x}: {self.message}"


class DecodeError(WinchError):
    """The bytes are not a well-formed binary module (the spec's "malformed")."""


class ValidationError(WinchError):
    """The module is well-formed but does not validate (the spec's "invalid")."""


class Unsupported(WinchError):
    """The module uses a feature outside the supported scope, named by `feature`.

    Raised instead of guessing: an unsupported feature is never decoded as something
    else and never compiled to wrong code.
    """

    def __init__(self, feature: str, what: str | None = None, offset: int | None = None):
        message = f"unsupported feature '{feature}'" + (f": {what}" if what else "")
        super().__init__(message, offset)
        self.feature = feature
        self.what = what


class EncodingError(WinchError):
    """An assembler was asked for an instruction form or operand it cannot encode."""
