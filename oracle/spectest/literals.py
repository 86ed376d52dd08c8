"""Numeric literals of the text format, to exact bit patterns.

Floats are rounded once, correctly (round to nearest, ties to even), from the exact value
of the literal: decimal and hexadecimal literals are turned into a `Fraction` first, so an
f32 never suffers the double rounding of going through a Python float.
"""

from __future__ import annotations

import struct
from fractions import Fraction

from oracle.spectest.errors import ScriptError

# (exponent bits, mantissa bits)
FORMATS = {"f32": (8, 23), "f64": (11, 52)}


def parse_int(text: str, width: int) -> int:
    """An integer literal (signed or unsigned, decimal or hex) as a `width`-bit pattern."""
    t = text.replace("_", "")
    neg = t.startswith("-")
    if t[:1] in "+-":
        t = t[1:]
    try:
        v = int(t, 16) if t[:2] in ("0x", "0X") else int(t, 10)
    except ValueError:
        raise ScriptError(f"bad integer literal {text!r}") from None
    if neg:
        if v > 1 << (width - 1):
            raise ScriptError(f"integer literal {text!r} out of range")
        v = -v
    elif v >= 1 << width:
        raise ScriptError(f"integer literal {text!r} out of range")
    return v & ((1 << width) - 1)


def parse_float(text: str, ty: str) -> int:
    """A float literal as the bit pattern of `ty` ('f32' or 'f64')."""
    ebits, mbits = FORMATS[ty]
    sign_bit = 1 << (ebits + mbits)
    exp_all = ((1 << ebits) - 1) << mbits
    t = text.replace("_", "")
    sign = 0
    if t[:1] in "+-":
        sign = sign_bit if t[0] == "-" else 0
        t = t[1:]
    if t == "inf":
        return sign | exp_all
    if t.startswith("nan"):
        if t == "nan":
            payload = 1 << (mbits - 1)
        elif t.startswith("nan:0x"):
            payload = int(t[6:], 16)
            if not 0 < payload < 1 << mbits:
                raise ScriptError(f"NaN payload out of range in {text!r}")
        else:
            raise ScriptError(f"bad float literal {text!r}")
        return sign | exp_all | payload
    try:
        fast = _fast(t, ty)
        if fast is not None:
            return sign | fast
        value = _exact(t)
    except (ValueError, ZeroDivisionError):
        raise ScriptError(f"bad float literal {text!r}") from None
    return sign | _round(value, ebits, mbits)


def _fast(t: str, ty: str) -> int | None:
    """The bits via Python floats when that is provably correctly rounded, else None.

    Python's `float()` and `float.fromhex()` round correctly to f64.  Rounding that double
    once more to f32 is only wrong when the double sits exactly on a midpoint between two
    f32 values, so those (and f32 overflow) take the exact path.
    """
    d = float.fromhex(t) if t[:2] in ("0x", "0X") else float(t)
    if d != d or d in (float("inf"),):
        return None
    if ty == "f64":
        return struct.unpack("<Q", struct.pack("<d", d))[0]
    try:
        bits = struct.unpack("<I", struct.pack("<f", d))[0]
    except OverflowError:
        return None
    f = struct.unpack("<f", struct.pack("<I", bits))[0]
    if f == d:
        return bits
    other = bits + 1 if f < d else bits - 1
    if other < 0:
        return None
    g = struct.unpack("<f", struct.pack("<I", other))[0]
    if (f + g) / 2 == d or g != g or abs(g) == float("inf"):
        return None
    return bits


def _exact(t: str) -> Fraction:
    if t[:2] in ("0x", "0X"):
        t = t[2:]
        exp = 0
        if "p" in t or "P" in t:
            t, e = t.replace("P", "p").split("p")
            exp = int(e)
        if "." in t:
            whole, frac = t.split(".")
        else:
            whole, frac = t, ""
        digits = (whole + frac) or "0"
        return Fraction(int(digits, 16)) * Fraction(2) ** (exp - 4 * len(frac))
    return Fraction(t)


def _round(value: Fraction, ebits: int, mbits: int) -> int:
    """Round a non-negative exact value to the nearest float (bits without sign)."""
    if value == 0:
        return 0
    bias = (1 << (ebits - 1)) - 1
    emin = 1 - bias
    # find e with 2**e <= value < 2**(e+1)
    e = value.numerator.bit_length() - value.denominator.bit_length()
    if Fraction(2) ** e > value:
        e -= 1
    elif Fraction(2) ** (e + 1) <= value:
        e += 1
    e = max(e, emin)
    # scaled significand with mbits fraction bits
    scaled = value / Fraction(2) ** (e - mbits)
    q, r = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * r
    if twice > scaled.denominator or (twice == scaled.denominator and q & 1):
        q += 1
    if q >= 1 << (mbits + 1):  # rounding carried into the next binade
        q >>= 1
        e += 1
    if e > bias:
        return ((1 << ebits) - 1) << mbits  # overflow to infinity
    if q < 1 << mbits:  # subnormal
        return q
    return ((e + bias) << mbits) | (q - (1 << mbits))
