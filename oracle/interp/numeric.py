"""The numeric operators of core Wasm 2.0, one handler each, written from the spec's
"Numerics" chapter (4.3).

Problem: compute every integer and float operator exactly, with the spec's traps, in plain
Python, fast enough for an interpreter loop.

Representation: every value is its bit pattern as an unsigned Python int (i32/f32: 32 bits,
i64/f64: 64 bits).  Integer operators mask their results; float operators turn bits into a
Python float (an IEEE double), compute, and turn the result back into bits:
- f64: the double operations of Python are IEEE binary64 with round-to-nearest-even.
- f32: add, sub, mul, div and sqrt are computed in binary64 and rounded once to binary32;
  the double rounding is innocuous since 53 >= 2 * 24 + 2 (the result is the correctly
  rounded binary32 one).  Conversions from i64 round in integer arithmetic (`int_to_f32`).
- NaN results: where the spec says `nans{...}` (any arithmetic NaN, canonical if every NaN
  operand is), the result is the positive canonical NaN, which is in every such set; so the
  interpreter is deterministic and agrees with NaN canonicalization.  Bit operations (abs,
  neg, copysign, reinterpret), loads, stores and moves keep NaN payloads exactly.

Handlers: `h(s, imm)` on the operand stack `s` (a list, top last), returning None (see
oracle/interp/machine.py); `HANDLERS` maps an operator name to its handler.  Traps raise
`WasmTrap`.
"""

from __future__ import annotations

import math
import struct

from oracle.interp.errors import WasmTrap
from winch.traps import TrapKind

M32 = 0xFFFF_FFFF
M64 = 0xFFFF_FFFF_FFFF_FFFF
S32 = 0x8000_0000
S64 = 0x8000_0000_0000_0000
CAN32 = 0x7FC0_0000
CAN64 = 0x7FF8_0000_0000_0000
INF32, NINF32 = 0x7F80_0000, 0xFF80_0000

_pI, _uI = struct.Struct("<I").pack, struct.Struct("<I").unpack
_pQ, _uQ = struct.Struct("<Q").pack, struct.Struct("<Q").unpack
_pf, _uf = struct.Struct("<f").pack, struct.Struct("<f").unpack
_pd, _ud = struct.Struct("<d").pack, struct.Struct("<d").unpack

HANDLERS: dict = {}


def op(name):
    def reg(fn):
        HANDLERS[name] = fn
        return fn
    return reg


# -- bits <-> floats ----------------------------------------------------------------------------
def f32v(b: int) -> float:
    return _uf(_pI(b))[0]


def f64v(b: int) -> float:
    return _ud(_pQ(b))[0]


def f32b(x: float) -> int:
    """A double rounded to binary32 (nearest, ties to even), as bits; NaN: canonical."""
    if x != x:
        return CAN32
    try:
        return _uI(_pf(x))[0]
    except OverflowError:  # rounds to infinity
        return INF32 if x > 0 else NINF32


def f64b(x: float) -> int:
    return CAN64 if x != x else _uQ(_pd(x))[0]


def int_to_f32(n: int) -> int:
    """convert_u/convert_s to f32 of an exact integer: one rounding, ties to even."""
    m = -n if n < 0 else n
    if m < 1 << 53:
        return f32b(float(n))  # exact in a double, then rounded once
    k = m.bit_length() - 24
    q, r = m >> k, m & ((1 << k) - 1)
    half = 1 << (k - 1)
    if r > half or (r == half and q & 1):
        q += 1
    x = float(q << k)  # at most 25 significant bits: exact
    return f32b(-x if n < 0 else x)


def trap(kind: TrapKind):
    raise WasmTrap(kind)


# -- i32 ----------------------------------------------------------------------------------------
@op("i32.eqz")
def _(s, _):
    s[-1] = 0 if s[-1] else 1


@op("i64.eqz")
def _(s, _):
    s[-1] = 0 if s[-1] else 1


def _cmp(name, fn):
    def h(s, _):
        b = s.pop()
        s[-1] = 1 if fn(s[-1], b) else 0
    HANDLERS[name] = h


for _w, _sign in (("i32", S32), ("i64", S64)):
    _cmp(f"{_w}.eq", lambda a, b: a == b)
    _cmp(f"{_w}.ne", lambda a, b: a != b)
    _cmp(f"{_w}.lt_u", lambda a, b: a < b)
    _cmp(f"{_w}.gt_u", lambda a, b: a > b)
    _cmp(f"{_w}.le_u", lambda a, b: a <= b)
    _cmp(f"{_w}.ge_u", lambda a, b: a >= b)
    # signed order = unsigned order with the sign bit flipped
    _cmp(f"{_w}.lt_s", lambda a, b, k=_sign: a ^ k < b ^ k)
    _cmp(f"{_w}.gt_s", lambda a, b, k=_sign: a ^ k > b ^ k)
    _cmp(f"{_w}.le_s", lambda a, b, k=_sign: a ^ k <= b ^ k)
    _cmp(f"{_w}.ge_s", lambda a, b, k=_sign: a ^ k >= b ^ k)


# the hot comparisons without the lambda
@op("i32.eq")
def _(s, _):
    b = s.pop()
    s[-1] = 1 if s[-1] == b else 0


@op("i32.ne")
def _(s, _):
    b = s.pop()
    s[-1] = 1 if s[-1] != b else 0


@op("i32.lt_u")
def _(s, _):
    b = s.pop()
    s[-1] = 1 if s[-1] < b else 0


@op("i32.lt_s")
def _(s, _):
    b = s.pop()
    s[-1] = 1 if s[-1] ^ S32 < b ^ S32 else 0


def _int_family(w: str, bits: int, mask: int, sign: int):
    """The integer operators of width `bits` (3.3.1 of the numerics chapter)."""
    def signed(a):
        return a - (1 << bits) if a & sign else a

    @op(f"{w}.add")
    def _(s, _):
        b = s.pop()
        s[-1] = (s[-1] + b) & mask

    @op(f"{w}.sub")
    def _(s, _):
        b = s.pop()
        s[-1] = (s[-1] - b) & mask

    @op(f"{w}.mul")
    def _(s, _):
        b = s.pop()
        s[-1] = (s[-1] * b) & mask

    @op(f"{w}.div_u")
    def _(s, _):
        b = s.pop()
        if not b:
            trap(TrapKind.integer_divide_by_zero)
        s[-1] //= b

    @op(f"{w}.rem_u")
    def _(s, _):
        b = s.pop()
        if not b:
            trap(TrapKind.integer_divide_by_zero)
        s[-1] %= b

    @op(f"{w}.div_s")
    def _(s, _):
        b = s.pop()
        if not b:
            trap(TrapKind.integer_divide_by_zero)
        a = signed(s[-1])
        b = signed(b)
        if a == -sign and b == -1:  # the quotient 2^(N-1) is not representable
            trap(TrapKind.integer_overflow)
        q = abs(a) // abs(b)  # truncated toward zero
        s[-1] = (-q if (a < 0) != (b < 0) else q) & mask

    @op(f"{w}.rem_s")
    def _(s, _):
        b = s.pop()
        if not b:
            trap(TrapKind.integer_divide_by_zero)
        a = signed(s[-1])
        r = abs(a) % abs(signed(b))  # the sign of the dividend
        s[-1] = (-r if a < 0 else r) & mask

    @op(f"{w}.and")
    def _(s, _):
        b = s.pop()
        s[-1] &= b

    @op(f"{w}.or")
    def _(s, _):
        b = s.pop()
        s[-1] |= b

    @op(f"{w}.xor")
    def _(s, _):
        b = s.pop()
        s[-1] ^= b

    k = bits - 1  # shift counts are taken modulo the width

    @op(f"{w}.shl")
    def _(s, _):
        b = s.pop()
        s[-1] = (s[-1] << (b & k)) & mask

    @op(f"{w}.shr_u")
    def _(s, _):
        b = s.pop()
        s[-1] >>= b & k

    @op(f"{w}.shr_s")
    def _(s, _):
        b = s.pop()
        s[-1] = (signed(s[-1]) >> (b & k)) & mask

    @op(f"{w}.rotl")
    def _(s, _):
        n = s.pop() & k
        a = s[-1]
        s[-1] = ((a << n) | (a >> (bits - n))) & mask

    @op(f"{w}.rotr")
    def _(s, _):
        n = s.pop() & k
        a = s[-1]
        s[-1] = ((a >> n) | (a << (bits - n))) & mask

    @op(f"{w}.clz")
    def _(s, _):
        s[-1] = bits - s[-1].bit_length()

    @op(f"{w}.ctz")
    def _(s, _):
        a = s[-1]
        s[-1] = (a & -a).bit_length() - 1 if a else bits

    @op(f"{w}.popcnt")
    def _(s, _):
        s[-1] = s[-1].bit_count()

    def extend(name, n):
        top = 1 << (n - 1)
        low = (1 << n) - 1

        @op(name)
        def _(s, _):
            s[-1] = (((s[-1] & low) ^ top) - top) & mask

    extend(f"{w}.extend8_s", 8)
    extend(f"{w}.extend16_s", 16)
    if bits == 64:
        extend("i64.extend32_s", 32)


_int_family("i32", 32, M32, S32)
_int_family("i64", 64, M64, S64)


@op("i32.add")  # the hottest operators, without the closure cells
def _(s, _):
    b = s.pop()
    s[-1] = (s[-1] + b) & M32


@op("i32.sub")
def _(s, _):
    b = s.pop()
    s[-1] = (s[-1] - b) & M32


@op("i32.wrap_i64")
def _(s, _):
    s[-1] &= M32


@op("i64.extend_i32_s")
def _(s, _):
    s[-1] = ((s[-1] ^ S32) - S32) & M64


@op("i64.extend_i32_u")  # the bits are already the unsigned value
def _(s, _):
    pass


# -- floats ---------------------------------------------------------------------------------------
def _float_family(w: str, tov, tob, sign: int, can: int):
    """The float operators of one width: `tov` bits -> float, `tob` float -> bits (rounded,
    NaN canonical)."""
    absmask = sign - 1

    @op(f"{w}.add")
    def _(s, _):
        b = s.pop()
        s[-1] = tob(tov(s[-1]) + tov(b))

    @op(f"{w}.sub")
    def _(s, _):
        b = s.pop()
        s[-1] = tob(tov(s[-1]) - tov(b))

    @op(f"{w}.mul")
    def _(s, _):
        b = s.pop()
        s[-1] = tob(tov(s[-1]) * tov(b))

    @op(f"{w}.div")
    def _(s, _):
        bb = s.pop()
        ab = s[-1]
        a, b = tov(ab), tov(bb)
        if b == 0.0:  # Python raises; IEEE: +-inf, or NaN for 0/0 and NaN/0
            if a != a or a == 0.0:
                s[-1] = can
            else:
                s[-1] = (tob(math.inf) | ((ab ^ bb) & sign))
            return
        s[-1] = tob(a / b)

    @op(f"{w}.sqrt")
    def _(s, _):
        x = tov(s[-1])
        s[-1] = can if x != x or x < 0.0 else tob(math.sqrt(x))

    @op(f"{w}.min")
    def _(s, _):
        bb = s.pop()
        ab = s[-1]
        a, b = tov(ab), tov(bb)
        if a != a or b != b:
            s[-1] = can
        elif a == b:  # equal values differ in bits only as -0 and +0: min is -0
            s[-1] = ab | bb
        elif b < a:
            s[-1] = bb

    @op(f"{w}.max")
    def _(s, _):
        bb = s.pop()
        ab = s[-1]
        a, b = tov(ab), tov(bb)
        if a != a or b != b:
            s[-1] = can
        elif a == b:  # max(-0, +0) is +0
            s[-1] = ab & bb
        elif b > a:
            s[-1] = bb

    @op(f"{w}.abs")
    def _(s, _):
        s[-1] &= absmask

    @op(f"{w}.neg")
    def _(s, _):
        s[-1] ^= sign

    @op(f"{w}.copysign")
    def _(s, _):
        b = s.pop()
        s[-1] = (s[-1] & absmask) | (b & sign)

    def rounding(name, fn):
        @op(f"{w}.{name}")
        def _(s, _):
            x = tov(s[-1])
            if x != x:
                s[-1] = can
            elif x == 0.0 or x in (math.inf, -math.inf) or abs(x) >= 4503599627370496.0:
                return  # zeros, infinities and values >= 2^52 are integers already
            else:
                r = float(fn(x))
                # a zero result keeps the operand's sign (ceil(-0.5) = -0)
                s[-1] = tob(math.copysign(r, x) if r == 0.0 else r)

    rounding("ceil", math.ceil)
    rounding("floor", math.floor)
    rounding("trunc", math.trunc)
    rounding("nearest", round)  # Python rounds halves to even, as the spec

    def cmp(name, fn):
        @op(f"{w}.{name}")
        def _(s, _):
            b = tov(s.pop())
            s[-1] = 1 if fn(tov(s[-1]), b) else 0

    # Python's float comparisons are IEEE's: false with a NaN (but ne), -0 == +0
    cmp("eq", lambda a, b: a == b)
    cmp("ne", lambda a, b: a != b)
    cmp("lt", lambda a, b: a < b)
    cmp("gt", lambda a, b: a > b)
    cmp("le", lambda a, b: a <= b)
    cmp("ge", lambda a, b: a >= b)


_float_family("f32", f32v, f32b, S32, CAN32)
_float_family("f64", f64v, f64b, S64, CAN64)


# -- conversions --------------------------------------------------------------------------------
# trunc: the float's integer part must lie in the target range; bounds are exclusive floats
# (x > lo and x < hi), exact in binary64 (-2^63 - 1 is not, so the i64 signed bound is >=).
_TRUNC = {  # (lo, lo_inclusive, hi, mask, minimum, maximum)
    "i32_s": (-2147483649.0, False, 2147483648.0, M32, -(1 << 31), (1 << 31) - 1),
    "i32_u": (-1.0, False, 4294967296.0, M32, 0, M32),
    "i64_s": (-9223372036854775808.0, True, 9223372036854775808.0, M64, -(1 << 63), (1 << 63) - 1),
    "i64_u": (-1.0, False, 18446744073709551616.0, M64, 0, M64),
}


def _trunc(name, src, key, sat):
    lo, lo_in, hi, mask, mn, mx = _TRUNC[key]
    tov = f32v if src == "f32" else f64v

    def h(s, _):
        x = tov(s[-1])
        if x != x:
            if sat:
                s[-1] = 0
                return
            trap(TrapKind.invalid_conversion_to_integer)
        if (x >= lo if lo_in else x > lo) and x < hi:
            s[-1] = int(x) & mask  # int() truncates toward zero
        elif not sat:
            trap(TrapKind.integer_overflow)
        else:
            s[-1] = (mn if x < 0 else mx) & mask
    HANDLERS[name] = h


for _dst in ("i32", "i64"):
    for _src in ("f32", "f64"):
        for _sg in ("s", "u"):
            _trunc(f"{_dst}.trunc_{_src}_{_sg}", _src, f"{_dst}_{_sg}", False)
            _trunc(f"{_dst}.trunc_sat_{_src}_{_sg}", _src, f"{_dst}_{_sg}", True)


@op("f32.convert_i32_s")
def _(s, _):
    s[-1] = int_to_f32((s[-1] ^ S32) - S32)


@op("f32.convert_i32_u")
def _(s, _):
    s[-1] = int_to_f32(s[-1])


@op("f32.convert_i64_s")
def _(s, _):
    s[-1] = int_to_f32((s[-1] ^ S64) - S64)


@op("f32.convert_i64_u")
def _(s, _):
    s[-1] = int_to_f32(s[-1])


# int -> double: CPython rounds an int to the nearest double, ties to even (exact for i32)
@op("f64.convert_i32_s")
def _(s, _):
    s[-1] = f64b(float((s[-1] ^ S32) - S32))


@op("f64.convert_i32_u")
def _(s, _):
    s[-1] = f64b(float(s[-1]))


@op("f64.convert_i64_s")
def _(s, _):
    s[-1] = f64b(float((s[-1] ^ S64) - S64))


@op("f64.convert_i64_u")
def _(s, _):
    s[-1] = f64b(float(s[-1]))


@op("f32.demote_f64")
def _(s, _):
    s[-1] = f32b(f64v(s[-1]))  # NaN: canonical; else rounded once (C's cast)


@op("f64.promote_f32")
def _(s, _):
    s[-1] = f64b(f32v(s[-1]))  # exact; NaN: canonical


def _nothing(s, _):
    """reinterpret: the bits are the value."""


for _n in ("i32.reinterpret_f32", "i64.reinterpret_f64", "f32.reinterpret_i32",
           "f64.reinterpret_i64"):
    HANDLERS[_n] = _nothing
#: operators whose handler does nothing to the stack (the pre-decoder may leave them out)
NO_EFFECT = frozenset(("i32.reinterpret_f32", "i64.reinterpret_f64", "f32.reinterpret_i32",
                       "f64.reinterpret_i64", "i64.extend_i32_u"))
