"""The oracle's rules (DESIGN.md §6): when do two engines agree, and what a disagreement is.

Integers and references compare exactly; floats bit-exactly, except that two NaNs agree
(the spec lets engines pick NaN payloads) unless the engines canonicalize NaNs (`exact_nans`:
then NaN bits are deterministic and compare exactly too).  Stack, fuel and time exhaustion on
either side, and a feature one engine lacks, are *inconclusive*, never findings.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from oracle.outcomes import Exhausted, HostError, Trap, TrapKind, Values
from oracle.values import Value, is_nan

KINDS = ("wrong value", "wrong trap", "missing trap", "spurious trap", "validation disagreement",
         "compiler crash", "host crash", "sandbox violation", "nondeterministic compile")
# only with fuel or epoch interruption on (`oracle diff --fuel / --epoch-deadline`): the fuel
# left after a call, running out, or being interrupted differs (oracle/diff.py)
LIMIT_KINDS = ("fuel mismatch", "interrupt mismatch")


# What differs, in a finding's identity: a call's results (values or trap), an exported
# global or memory after a call, the host calls, or the module as a whole.  "state" only comes
# from an old signature whose module no longer says whether the export was a global or a memory.
WHATS = ("result", "global", "memory", "state", "host calls", "compile", "instantiate",
         "fuel")
_CALL_WHERE = re.compile(r"(.*)#(\d+)(?::(.*))?", re.S)


@dataclass(frozen=True)
class Finding:
    kind: str
    engines: tuple  # (reference, other)
    isa: str  # of the engine under test, "" for wasmtime
    where: str  # first differing export/call ("compile" for module-level findings)
    detail: str = ""
    export: str = ""  # the called function's export name ("" for module-level findings)
    what: str = ""  # one of WHATS ("": derived from `where`)

    @property
    def signature(self) -> str:
        """Exact: names the call's position in the plan (and a differing global's export),
        so it tells findings of one run apart.  It does not survive reduction: see
        `identity`."""
        return f"{self.kind}|{self.engines[0]}~{self.engines[1]}|{self.isa}|{self.where}"

    @property
    def identity(self) -> "Identity":
        if self.what:
            return Identity(self.kind, tuple(self.engines), self.export, self.what)
        return _identity_from_where(self.kind, tuple(self.engines), self.where)

    def to_json(self) -> dict:
        return {"kind": self.kind, "engines": list(self.engines), "isa": self.isa,
                "where": self.where, "signature": self.signature,
                "identity": str(self.identity), "detail": self.detail}


@dataclass(frozen=True)
class Identity:
    """What a finding is, as far as a reduction keeps it: the kind, the two engines, the
    called function's export name and what differs (WHATS), but not the call's position in
    the plan (the reducer drops and renumbers calls) nor which global differs (the reducer
    drops globals).  Written `kind|reference~other|export|what`; `str()` and `parse()`
    round-trip (an export name may hold `|`)."""

    kind: str
    engines: tuple
    export: str
    what: str

    def __str__(self) -> str:
        return f"{self.kind}|{self.engines[0]}~{self.engines[1]}|{self.export}|{self.what}"

    @classmethod
    def parse(cls, text: str) -> "Identity":
        parts = text.split("|")
        if len(parts) < 4 or "~" not in parts[1] or parts[-1] not in WHATS:
            raise ValueError(f"not a finding identity: {text!r}")
        return cls(parts[0], tuple(parts[1].split("~", 1)), "|".join(parts[2:-1]), parts[-1])

    @classmethod
    def from_signature(cls, signature: str, module=None) -> "Identity":
        """The identity of an old crash file's exact signature (`kind|ref~other|isa|where`).
        `module` (decoded, optional) tells whether a state key names a global or a memory."""
        parts = signature.split("|")
        if len(parts) < 4 or "~" not in parts[1]:
            raise ValueError(f"not a finding signature: {signature!r}")
        if len(parts) > 4 and parts[-1].startswith("mutant "):
            parts = parts[:-1]  # regression files name the deliberate bug that made them
        ident = _identity_from_where(parts[0], tuple(parts[1].split("~", 1)),
                                     "|".join(parts[3:]))
        if ident.what == "state" and module is not None:
            key = _CALL_WHERE.fullmatch("|".join(parts[3:])).group(3)
            kinds = {e.kind for e in module.exports if e.name == key}
            from winch.wasm.module import EXT_GLOBAL, EXT_MEMORY

            if kinds == {EXT_GLOBAL} or kinds == {EXT_MEMORY}:
                ident = Identity(ident.kind, ident.engines, ident.export,
                                 "global" if kinds == {EXT_GLOBAL} else "memory")
        return ident


def _identity_from_where(kind: str, engines: tuple, where: str) -> Identity:
    m = _CALL_WHERE.fullmatch(where)
    if m is None:
        return Identity(kind, engines, "", where if where in WHATS else "compile")
    return Identity(kind, engines, m.group(1), "state" if m.group(3) is not None else "result")


def same_finding(expected: "Identity | str", finding: "Finding | Identity") -> bool:
    """Whether `finding` is the finding whose identity is `expected` (an `Identity` or its
    string form): the one rule replay and the reducer's predicate share.  Same kind, same
    engines, same export, same thing differing ("state", from an old signature, stands for
    either a global or a memory)."""
    e = Identity.parse(expected) if isinstance(expected, str) else expected
    g = finding.identity if isinstance(finding, Finding) else finding
    if (e.kind, tuple(e.engines), e.export) != (g.kind, tuple(g.engines), g.export):
        return False
    state = ("global", "memory", "state")
    return e.what == g.what or (e.what in state and g.what in state and "state" in (e.what, g.what))


def isa_of(engine: str) -> str:
    return engine.split("-", 1)[1] if engine.startswith("winch-") else ""


def values_agree(a: Value, b: Value, exact_nans: bool = False) -> bool:
    if a.type != b.type:
        return False
    if a.type in ("f32", "f64"):
        return a.bits == b.bits or (not exact_nans and is_nan(a) and is_nan(b))
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


def compare_outcomes(ref_name, ref, other_name, other, where,
                     exact_nans: bool = False) -> Finding | str | None:
    """None if they agree, a reason string if inconclusive, else the Finding.  `exact_nans`:
    NaN results compare bit for bit (both engines canonicalize NaNs)."""
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
                values_agree(a, b, exact_nans) for a, b in zip(ref.values, other.values)):
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
    __slots__ = ("data", "size", "_digest")

    def __init__(self, data: bytes):
        self.data = data if len(data) <= self.KEEP_BYTES else None
        self.size = len(data)
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


def memory_difference(name: str, a: MemoryState, b: MemoryState) -> str:
    """How two states of exported memory `name` differ, for a finding's detail: the sizes,
    and where the bytes first differ (with a few bytes from there) when both were kept."""
    head = f"memory {name!r}: "
    if a.size != b.size:
        head += f"{a.size} bytes vs {b.size} bytes; "
    if a.data is None or b.data is None:
        return head + f"digest {a} vs {b}"
    n = min(a.size, b.size)
    at = next((i for i in range(n) if a.data[i] != b.data[i]), None) \
        if a.data[:n] != b.data[:n] else None
    if at is None:
        return head + f"equal up to {n:#x}; digest {a} vs {b}"
    return (head + f"first difference at {at:#x}: {a.data[at:at + 8].hex()} vs "
            f"{b.data[at:at + 8].hex()}; digest {a} vs {b}")
