"""Outcomes of running Wasm, the same for every engine (DESIGN.md §5).

    Outcome = Values([...]) | Trap(kind) | Exhausted(reason) | HostError(message)

Each engine maps its own trap messages into `TrapKind` in one table of its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from winch.traps import TrapKind as WinchTrapKind


# Our compiler's trap kinds, and what other engines can also report (wasmtime's GC,
# exception and fuel traps), in one enum; engines map into it by name.
TrapKind = enum.Enum("TrapKind", [(k.name, k.value) for k in WinchTrapKind] + [
    (name, name) for name in ("unaligned_atomic", "cast_failure",
                              "array_out_of_bounds", "allocation_too_large",
                              "uncaught_exception", "other")])


# The spec suite's `assert_trap` messages (prefixes), mapped to the kind they mean.
SPEC_TRAP_MESSAGES = (
    ("unreachable", TrapKind.unreachable),
    ("out of bounds memory access", TrapKind.memory_out_of_bounds),
    ("memory access out of bounds", TrapKind.memory_out_of_bounds),
    ("out of bounds table access", TrapKind.table_out_of_bounds),
    ("undefined element", TrapKind.table_out_of_bounds),
    ("uninitialized element", TrapKind.indirect_call_null),
    ("indirect call type mismatch", TrapKind.indirect_call_type_mismatch),
    ("integer divide by zero", TrapKind.integer_divide_by_zero),
    ("integer overflow", TrapKind.integer_overflow),
    ("invalid conversion to integer", TrapKind.invalid_conversion_to_integer),
    ("call stack exhausted", TrapKind.call_stack_exhausted),
    ("null function reference", TrapKind.null_reference),
    ("null reference", TrapKind.null_reference),
    ("null structure reference", TrapKind.null_reference),
    ("null array reference", TrapKind.null_reference),
    ("null i31 reference", TrapKind.null_reference),
    ("null exception reference", TrapKind.null_reference),
    ("cast failure", TrapKind.cast_failure),
    ("out of bounds array access", TrapKind.array_out_of_bounds),
    ("unaligned atomic", TrapKind.unaligned_atomic),
)


def trap_kind_for_spec_message(message: str) -> TrapKind | None:
    for prefix, kind in SPEC_TRAP_MESSAGES:
        if message.startswith(prefix):
            return kind
    return None


@dataclass(frozen=True, slots=True)
class Values:
    values: tuple  # of oracle.values.Value

    def __str__(self) -> str:
        return "(" + ", ".join(map(repr, self.values)) + ")"


@dataclass(frozen=True, slots=True)
class Trap:
    kind: TrapKind
    message: str = ""
    where: str = ""  # engine-specific location, e.g. "func 3 @0x1a"

    def __str__(self) -> str:
        return f"trap {self.kind.value}" + (f" ({self.message})" if self.message else "")


@dataclass(frozen=True, slots=True)
class Exhausted:
    reason: str

    def __str__(self) -> str:
        return f"exhausted: {self.reason}"


@dataclass(frozen=True, slots=True)
class HostError:
    message: str

    def __str__(self) -> str:
        return f"host error: {self.message}"


Outcome = Values | Trap | Exhausted | HostError
