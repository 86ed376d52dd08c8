"""LEB128 decoding with the spec's length and range rules, and encoding.

A `uN` takes at most ceil(N/7) bytes; more is "integer representation too long".  In the
last allowed byte, the bits beyond N must be zero (unsigned) or copies of the sign bit
(signed); otherwise "integer too large".  Running off the end of the enclosing section or
body is "unexpected end".

The decoders take `(data, pos, end)` and return `(value, new_pos)`: callers in hot loops
inline the one-byte case and call these only when the high bit is set.
"""

from __future__ import annotations

from winch.errors import DecodeError


def _end_error(pos: int) -> DecodeError:
    return DecodeError("unexpected end of section or function", pos)


def read_unsigned(data, pos: int, end: int, bits: int) -> tuple[int, int]:
    start = pos
    result = 0
    shift = 0
    max_bytes = (bits + 6) // 7
    for i in range(max_bytes):
        if pos >= end:
            raise _end_error(pos)
        b = data[pos]
        pos += 1
        if i == max_bytes - 1:
            if b & 0x80:
                raise DecodeError("integer representation too long", start)
            if b >> (bits - shift):
                raise DecodeError("integer too large", start)
            return result | (b << shift), pos
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    raise AssertionError("unreachable")  # pragma: no cover


def read_signed(data, pos: int, end: int, bits: int) -> tuple[int, int]:
    start = pos
    result = 0
    shift = 0
    max_bytes = (bits + 6) // 7
    for i in range(max_bytes):
        if pos >= end:
            raise _end_error(pos)
        b = data[pos]
        pos += 1
        if i == max_bytes - 1:
            if b & 0x80:
                raise DecodeError("integer representation too long", start)
            # Bits of the last byte at and above (bits - shift - 1) must all equal the sign.
            used = bits - shift  # value bits that live in this byte, the top one is the sign
            rest = b >> (used - 1)  # sign bit and the padding above it
            if rest not in (0, (0x7F >> (used - 1))):
                raise DecodeError("integer too large", start)
            result = (result | (b << shift)) & ((1 << bits) - 1)
            if result >> (bits - 1):
                result -= 1 << bits
            return result, pos
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, pos
    raise AssertionError("unreachable")  # pragma: no cover


def read_u32(data, pos, end):
    return read_unsigned(data, pos, end, 32)


def read_u64(data, pos, end):
    return read_unsigned(data, pos, end, 64)


def read_s32(data, pos, end):
    return read_signed(data, pos, end, 32)


def read_s33(data, pos, end):
    return read_signed(data, pos, end, 33)


def read_s64(data, pos, end):
    return read_signed(data, pos, end, 64)


def encode_unsigned(value: int) -> bytes:
    if value < 0:
        raise ValueError("negative value for an unsigned LEB128")
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_signed(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if (value == 0 and not b & 0x40) or (value == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)
