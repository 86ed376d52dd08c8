"""What running code in the interpreter can end in, besides returning."""

from __future__ import annotations

from winch.traps import TrapKind


class WasmTrap(Exception):
    """A trap of the spec (`kind` names it); `func`/`offset` say where, once known."""

    def __init__(self, kind: TrapKind, message: str = ""):
        super().__init__(message or kind.value)
        self.kind = kind
        self.message = message
        self.func = -1
        self.offset = -1


class OutOfBudget(Exception):
    """The call ran past its time budget or step limit (not a Wasm trap: inconclusive)."""


class LinkFailure(Exception):
    """An import is missing or of the wrong type."""


class ResourceExceeded(LinkFailure):
    """A memory or table larger than this host provides (the winch host's limits)."""
