"""Does an engine's result match a script's expectation?  Bit-exact, with the spec's NaN rules."""

from __future__ import annotations

from oracle.spectest.script import Either, Exact, NanPattern, RefPattern, V128Lanes
from oracle.values import GcRef, Value

_CANON = {"f32": (0x7FFF_FFFF, 0x7FC0_0000), "f64": (0x7FFF_FFFF_FFFF_FFFF, 0x7FF8 << 48)}
_QUIET = {"f32": 0x7FC0_0000, "f64": 0x7FF8 << 48}


def nan_matches(kind: str, ty: str, bits: int) -> bool:
    if kind == "canonical":
        mask, canon = _CANON[ty]
        return bits & mask == canon
    quiet = _QUIET[ty]
    return bits & quiet == quiet


def matches(expected, got: Value) -> bool:
    if isinstance(expected, Either):
        return any(matches(alt, got) for alt in expected.alternatives)
    if isinstance(expected, Exact):
        want = expected.value
        if want.type in ("externref", "anyref", "funcref", "exnref"):
            return matches(RefPattern("null") if want.bits is None else
                           RefPattern("extern", payload=want.bits), got)
        return got.type == want.type and got.bits == want.bits
    if isinstance(expected, NanPattern):
        return got.type == expected.type and nan_matches(expected.kind, got.type, got.bits)
    if isinstance(expected, V128Lanes):
        if got.type != "v128":
            return False
        width = 32 if expected.shape == "f32x4" else 64
        mask = (1 << width) - 1
        for k, lane in enumerate(expected.lanes):
            bits = (got.bits >> (k * width)) & mask
            if isinstance(lane, NanPattern):
                if not nan_matches(lane.kind, lane.type, bits):
                    return False
            elif bits != lane:
                return False
        return True
    if isinstance(expected, RefPattern):
        return _ref_matches(expected, got)
    raise TypeError(f"unknown expectation {expected!r}")


def _ref_matches(p: RefPattern, got: Value) -> bool:
    if got.type not in ("funcref", "externref", "anyref", "exnref"):
        return False
    b = got.bits
    if p.kind == "null":
        return b is None
    if b is None:
        return False
    if p.kind == "extern":
        if got.type == "externref":
            return p.payload is None or b == p.payload
        return isinstance(b, GcRef) and b.kind == "extern" and b.payload == p.payload
    if p.kind == "host":
        return got.type == "externref" and b == p.payload or (
            isinstance(b, GcRef) and b.kind == "host" and b.payload == p.payload)
    if p.kind == "func":
        return got.type == "funcref"
    if p.kind == "exn":
        return got.type == "exnref"
    if not isinstance(b, GcRef):
        return False
    if p.kind in ("i31", "struct", "array"):
        return b.kind == p.kind
    if p.kind == "eq":
        return b.kind in ("i31", "struct", "array")
    if p.kind == "any":
        return True
    return False


def describe(expected) -> str:
    if isinstance(expected, Either):
        return "either(" + " | ".join(describe(a) for a in expected.alternatives) + ")"
    if isinstance(expected, Exact):
        return repr(expected.value)
    if isinstance(expected, NanPattern):
        return f"{expected.type}:nan:{expected.kind}"
    if isinstance(expected, V128Lanes):
        return f"v128 {expected.shape} {expected.lanes}"
    if isinstance(expected, RefPattern):
        return f"ref.{expected.kind}" + (f" {expected.heap}" if expected.heap else "") + (
            f" {expected.payload}" if expected.payload is not None else "")
    return repr(expected)


def unverifiable(expected, got: Value) -> str | None:
    """A reason when the engine's view of a value is too coarse to check `expected`."""
    if isinstance(expected, RefPattern) and expected.kind == "host" and isinstance(got.bits, GcRef) \
            and got.bits.kind == "any":
        return "engine cannot see the host value inside an internalized reference"
    return None
