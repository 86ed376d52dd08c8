"""Wasm values as every engine and tool in `oracle` exchanges them.

A `Value` is a type name and a bit-exact payload:

  i32 / i64        the unsigned bit pattern (0 <= bits < 2**32 / 2**64)
  f32 / f64        the IEEE bit pattern as an unsigned int (NaN payloads survive)
  v128             a 128-bit unsigned int, lane 0 in the low bits (little-endian)
  funcref          None for null, otherwise an engine-specific token (compare null-ness only)
  externref        None for null, otherwise the host value (an int in the spec suite)
  anyref ...       None for null, otherwise a `GcRef(kind)` describing what the engine saw

Keeping floats as bits (not Python floats) is deliberate: a float round trip through C
quiets signalling NaNs, and the oracle compares NaN payloads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

MASK = {"i32": (1 << 32) - 1, "i64": (1 << 64) - 1, "f32": (1 << 32) - 1, "f64": (1 << 64) - 1,
        "v128": (1 << 128) - 1}
NUM_TYPES = ("i32", "i64", "f32", "f64")
REF_TYPES = ("funcref", "externref", "anyref", "exnref")


@dataclass(frozen=True, slots=True)
class Value:
    type: str
    bits: Any

    def __repr__(self) -> str:
        return format_value(self)


@dataclass(frozen=True, slots=True)
class GcRef:
    """A non-null GC reference as observed by an engine: 'i31', 'struct', 'array', 'extern' ..."""

    kind: str
    payload: Any = None


def i32(v: int) -> Value:
    return Value("i32", v & MASK["i32"])


def i64(v: int) -> Value:
    return Value("i64", v & MASK["i64"])


def f32_from_float(x: float) -> Value:
    return Value("f32", struct.unpack("<I", struct.pack("<f", x))[0])


def f64_from_float(x: float) -> Value:
    return Value("f64", struct.unpack("<Q", struct.pack("<d", x))[0])


def signed(bits: int, width: int) -> int:
    return bits - (1 << width) if bits >> (width - 1) else bits


def is_nan(v: Value) -> bool:
    if v.type == "f32":
        return (v.bits & 0x7F80_0000) == 0x7F80_0000 and (v.bits & 0x007F_FFFF) != 0
    if v.type == "f64":
        return (v.bits >> 52 & 0x7FF) == 0x7FF and (v.bits & ((1 << 52) - 1)) != 0
    return False


def format_value(v: Value) -> str:
    t, b = v.type, v.bits
    if t in ("i32", "i64"):
        width = 32 if t == "i32" else 64
        return f"{t}:{signed(b, width)}"
    if t == "f32":
        return f"f32:0x{b:08x}({struct.unpack('<f', struct.pack('<I', b))[0]!r})"
    if t == "f64":
        return f"f64:0x{b:016x}({struct.unpack('<d', struct.pack('<Q', b))[0]!r})"
    if t == "v128":
        return f"v128:0x{b:032x}"
    if b is None:
        return f"{t}:null"
    return f"{t}:{b!r}"
