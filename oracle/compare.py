"""The oracle's rules (DESIGN.md §6): when do two engines agree, and what a disagreement is.

Integers and references compare exactly; floats bit-exactly, except that two NaNs agree
(the spec lets engines pick NaN payloads).  Stack, fuel and time exhaustion on either side,
and a feature one engine lacks, are *inconclusive*, never findings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from oracle.outcomes import Exhausted, HostError, Trap, TrapKind, Values
from oracle.values import Value, is_nan

KINDS = ("wrong value", "wrong trap", "missing trap", "spurious trap", "validation disagreement",
         "compiler crash", "host crash", "sandbox violation", "nondeterministic compile")


@dataclass(frozen=True)
class Finding:
    kind: str
    engines: tuple  # (reference, other)
    isa: str  # of the engine under test, "" for wasmtime
    where: str  # first differing export/call ("compile" for module-level findings)
    detail: str = ""

    @property
    def signature(self) -> str:
        return f"{self.kind}|{self.engines[0]}~{self.engines[1]}|{self.isa}|{self.where}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "engines": list(self.engines), "isa": self.isa,
                "where": self.where, "signature": self.signature, "detail": self.detail}


def isa_of(engine: str) -> str:
    return engine.split("-", 1)[1] if engine.startswith("winch-") else ""


def values_agree(a: Value, b: Value) -> bool:
    if a.type != b.type:
        return False
    if a.type in ("f32", "f64"):
        return a.bits == b.bits or (is_nan(a) and is_nan(b))
    if a.type in ("funcref", "externref", "anyref", "exnref"):
        return (a.bits is None) == (b.bits is None) and (
            a.type != "externref" or a.bits == b.bits)
    return a.bits == b.bits


def inconclusive_reason(out) -> str | None:
    if isinstance(out, Exhausted):
        return f"exhausted: {out.reason}"
    if isinstance(out, Trap) and out.kind in (TrapKind.call_stack_exhausted,
                                              TrapKind.out_of_fuel, TrapKind.interrupt):
        return f"trap {out.kind.value}"
    return None


def compare_outcomes(ref_name, ref, other_name, other, where) -> Finding | str | None:
    """None if they agree, a reason string if inconclusive, else the Finding."""
    for out in (ref, other):
        why = inconclusive_reason(out)
        if why is not None:
            return why
    isa = isa_of(other_name)
    engines = (ref_name, other_name)
    if isinstance(other, HostError):
        kind = "sandbox violation" if other.message.startswith("sandbox violation") else \
            "host crash"
        return Finding(kind, engines, isa, where, other.message)
    if isinstance(ref, HostError):
        return Finding("host crash", (other_name, ref_name), isa_of(ref_name), where, ref.message)
    if isinstance(ref, Values) and isinstance(other, Values):
        if len(ref.values) == len(other.values) and all(
                values_agree(a, b) for a, b in zip(ref.values, other.values)):
            return None
        return Finding("wrong value", engines, isa, where, f"{ref} vs {other}")
    if isinstance(ref, Trap) and isinstance(other, Trap):
        if ref.kind == other.kind:
            return None
        return Finding("wrong trap", engines, isa, where, f"{ref} vs {other}")
    if isinstance(ref, Trap):
        return Finding("missing trap", engines, isa, where, f"{ref} vs {other}")
    return Finding("spurious trap", engines, isa, where, f"{ref} vs {other}")


def memory_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class MemoryState:
    """An exported memory's contents after a call, shown as its digest.  Compared byte for
    byte: hashing 64 KiB after every call of every engine cost more than a module's run on
    wasmtime.  A memory bigger than `KEEP_BYTES` keeps only its digest, so a run's states
    stay small."""

    KEEP_BYTES = 1 << 20
    __slots__ = ("data", "_digest")

    def __init__(self, data: bytes):
        self.data = data if len(data) <= self.KEEP_BYTES else None
        self._digest = None if self.data is not None else memory_digest(data)

    def __str__(self) -> str:
        if self._digest is None:
            self._digest = memory_digest(self.data)
        return self._digest

    __repr__ = __str__

    def __eq__(self, other) -> bool:
        if not isinstance(other, MemoryState):
            return NotImplemented
        if self.data is not None and other.data is not None:
            return self.data == other.data
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))
