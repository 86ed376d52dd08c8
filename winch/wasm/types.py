"""Value types and the small immutable type descriptions of a module.

Value types are plain ints equal to their binary encoding (`I32 = 0x7F`, ...), so the
decoder can use the byte it read directly and the validator's operand stack is a list of
ints.  `BOT` is the validator's "unknown" type of the spec's unreachable typing rules; it
never appears in a module.
"""

from __future__ import annotations

from dataclasses import dataclass

I32 = 0x7F
I64 = 0x7E
F32 = 0x7D
F64 = 0x7C
V128 = 0x7B
FUNCREF = 0x70
EXTERNREF = 0x6F
BOT = 0  # the bottom type of unreachable code: matches every value type

NUM_TYPES = frozenset((I32, I64, F32, F64))
VALUE_TYPES = frozenset((I32, I64, F32, F64, V128, FUNCREF, EXTERNREF))
REF_TYPES = frozenset((FUNCREF, EXTERNREF))

TYPE_NAMES = {I32: "i32", I64: "i64", F32: "f32", F64: "f64", V128: "v128",
              FUNCREF: "funcref", EXTERNREF: "externref", BOT: "bot"}
TYPES_BY_NAME = {name: code for code, name in TYPE_NAMES.items() if code != BOT}

# Value-type bytes that belong to proposals outside our scope, by feature name.
#   0x63/0x64 are (ref null ht)/(ref ht) of typed function references; the rest are the
#   abstract heap types of GC and exception handling used as shorthand reference types.
FOREIGN_VALUE_TYPES = {
    0x63: "function-references", 0x64: "function-references",
    0x6E: "gc", 0x6D: "gc", 0x6C: "gc", 0x6B: "gc", 0x6A: "gc",
    0x71: "gc", 0x72: "gc", 0x73: "gc",
    0x69: "exceptions", 0x74: "exceptions",
    # contref/nullcontref, the `exact` prefix, the `shared` prefix of later proposals
    0x68: "stack-switching", 0x75: "stack-switching", 0x62: "custom-descriptors",
    0x65: "shared-everything-threads",
}


def type_name(t: int) -> str:
    return TYPE_NAMES.get(t, f"type {t:#x}")


def types_str(ts) -> str:
    return "[" + " ".join(type_name(t) for t in ts) + "]"


@dataclass(frozen=True, slots=True)
class FuncType:
    params: tuple
    results: tuple

    def __str__(self) -> str:
        return f"{types_str(self.params)} -> {types_str(self.results)}"


@dataclass(frozen=True, slots=True)
class Limits:
    min: int
    max: int | None
    is64: bool = False
    shared: bool = False
    page_log2: int = 16  # a memory's page size, log2 (custom-page-sizes: 0 or 16)


@dataclass(frozen=True, slots=True)
class TableType:
    elem: int  # FUNCREF or EXTERNREF
    limits: Limits


@dataclass(frozen=True, slots=True)
class MemoryType:
    limits: Limits


@dataclass(frozen=True, slots=True)
class GlobalType:
    valtype: int
    mutable: bool
