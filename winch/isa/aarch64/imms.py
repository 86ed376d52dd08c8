"""Immediate encodings of AArch64 (A64): bitmask immediates, add/sub immediates, move-wide
sequences and the 8-bit floating-point immediate.

Problem
-------
A64 instructions are 32 bits wide, so a constant operand only fits when it has a special
shape.  This module answers "does this value fit, and with which fields?" for every shape
the assembler uses, without emitting anything; `asm.py` turns the answers into words.

Shapes (Arm ARM, "DecodeBitMasks", "VFPExpandImm", the MOVZ/MOVN/MOVK and ADD descriptions)
------------------------------------------------------------------------------------------
- *Logical (bitmask) immediate*: the register width is split into equal elements of
  e = 2, 4, 8, 16, 32 or 64 bits; each element holds the same run of 1..e-1 consecutive
  ones, rotated right by 0..e-1.  Encoded as (N, immr, imms): N=1 only for e=64, immr is the
  rotation and imms holds both the element size (its high bits, a unary code) and the
  run length minus one.  0 and all-ones are never encodable.
- *Add/sub immediate*: a 12-bit unsigned value, optionally shifted left by 12.
- *Move wide*: MOVZ writes imm16 << (16*hw) and zeroes the rest, MOVN writes its bitwise
  inverse, MOVK replaces one 16-bit half and keeps the rest.
- *FP immediate* (FMOV): +-(16..31)/16 * 2**(-3..4), given as 8 bits abcdefgh.

Invariants
----------
- Every encoder returns `None` (never raises) for a value of the right type that has no
  encoding; argument errors (a size other than 4 or 8) raise `EncodingError`.
- `decode_logical_imm(*encode_logical_imm(v, s), s) == v & mask(s)` whenever the encoder
  returns fields; the tests check this.
- `mov_imm_sequence` returns a shortest sequence among: one MOVZ, one MOVN, one ORR with a
  bitmask immediate, MOVZ + MOVKs, MOVN + MOVKs.  Simulating the steps gives the value.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from winch.errors import EncodingError

__all__ = [
    "MovStep",
    "decode_fp_imm8",
    "decode_logical_imm",
    "encode_add_imm",
    "encode_fp_imm8",
    "encode_logical_imm",
    "mov_imm_sequence",
    "simulate_mov_sequence",
]


def _width(size: int) -> int:
    """Register width in bits for an operand size in bytes (4 = w, 8 = x)."""
    if isinstance(size, bool) or size not in (4, 8):
        raise EncodingError(f"operand size must be 4 or 8 bytes, not {size!r}")
    return size * 8


def _ror(value: int, amount: int, width: int) -> int:
    mask = (1 << width) - 1
    amount %= width
    return ((value >> amount) | (value << (width - amount))) & mask


# -- logical (bitmask) immediates ------------------------------------------------------------


def encode_logical_imm(value: int, size: int) -> tuple[int, int, int] | None:
    """(N, immr, imms) for the bitmask immediate `value` in a `size`-byte register, or None.

    `value` is taken modulo 2**(8*size), so -1 and 0xFFFF... mean the same thing.
    """
    width = _width(size)
    mask = (1 << width) - 1
    value &= mask
    if value == 0 or value == mask:
        return None
    # Smallest element size e whose replication gives the value.
    e = width
    while e > 2:
        half = e // 2
        if (value & ((1 << half) - 1)) != ((value >> half) & ((1 << half) - 1)):
            break
        e = half
    elem = value & ((1 << e) - 1)
    ones = bin(elem).count("1")
    # The ones must be one run, possibly wrapping around bit e-1 to bit 0.  `start` is the
    # bit where the run begins (mod e); ROR(run of `ones` ones, rot) starts at bit e - rot.
    if elem & 1:  # the run includes bit 0: look at the zeros, which cannot wrap
        zeros = ~elem & ((1 << e) - 1)  # not 0: elem == all-ones made value all-ones
        low = (zeros & -zeros).bit_length() - 1
        run = zeros >> low
        start = low + (e - ones)
    else:
        low = (elem & -elem).bit_length() - 1
        run = elem >> low
        start = low
    if run & (run + 1):
        return None  # the ones (or zeros) are not one contiguous run
    rot = (e - start) % e
    n = 1 if e == 64 else 0
    imms = (~(2 * e - 1) & 0x3F) | (ones - 1)
    return n, rot, imms


def decode_logical_imm(n: int, immr: int, imms: int, size: int) -> int | None:
    """The value that (N, immr, imms) denotes in a `size`-byte register, or None if reserved."""
    width = _width(size)
    if not (0 <= n <= 1 and 0 <= immr < 64 and 0 <= imms < 64):
        return None
    if width == 32 and n:
        return None
    combined = (n << 6) | (~imms & 0x3F)
    if combined == 0:
        return None
    length = combined.bit_length() - 1
    if length < 1:
        return None
    e = 1 << length
    if e > width:
        return None
    levels = e - 1
    s = imms & levels
    r = immr & levels
    if s == levels:
        return None
    elem = _ror((1 << (s + 1)) - 1, r, e)
    value = 0
    for i in range(width // e):
        value |= elem << (i * e)
    return value


# -- add/sub immediates ----------------------------------------------------------------------


def encode_add_imm(value: int) -> tuple[int, int] | None:
    """(imm12, shift) with shift 0 or 12 such that imm12 << shift == value, or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    if value < 4096:
        return value, 0
    if value & 0xFFF == 0 and (value >> 12) < 4096:
        return value >> 12, 12
    return None


# -- move-wide sequences ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MovStep:
    """One instruction of a constant-materialising sequence.

    `op` is "movz", "movn", "movk" (with `imm` the 16-bit field and `shift` 0/16/32/48) or
    "orr" (ORR rd, zr, #imm with `imm` the full bitmask value and `shift` 0).
    """

    op: str
    imm: int
    shift: int


def _wide_sequence(halves: list[int], inverted: bool) -> list[MovStep]:
    skip = 0xFFFF if inverted else 0
    steps: list[MovStep] = []
    for i, h in enumerate(halves):
        if h == skip:
            continue
        if not steps:
            steps.append(MovStep("movn" if inverted else "movz", h ^ skip, 16 * i))
        else:
            steps.append(MovStep("movk", h, 16 * i))
    if not steps:
        steps.append(MovStep("movn" if inverted else "movz", 0, 0))
    return steps


def mov_imm_sequence(value: int, size: int, allow_orr: bool = True) -> tuple[MovStep, ...]:
    """A shortest instruction sequence putting `value` (mod 2**(8*size)) into a register.

    Candidates: MOVZ (+MOVKs), MOVN (+MOVKs) and, if `allow_orr`, a single ORR from the zero
    register with a bitmask immediate.  Ties prefer MOVZ, then MOVN, then ORR.
    """
    width = _width(size)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EncodingError(f"constant must be an int, not {value!r}")
    value &= (1 << width) - 1
    halves = [(value >> (16 * i)) & 0xFFFF for i in range(width // 16)]
    # lengths first (a sequence is one instruction per half that is not 0 / 0xFFFF, at least
    # one), so that only the chosen sequence is built
    len_z = max(1, sum(h != 0 for h in halves))
    len_n = max(1, sum(h != 0xFFFF for h in halves))
    best = min(len_z, len_n)
    if best > 1 and allow_orr and encode_logical_imm(value, size) is not None:
        return (MovStep("orr", value, 0),)
    return tuple(_wide_sequence(halves, inverted=len_z > len_n))


def simulate_mov_sequence(steps, size: int) -> int:
    """The register value after running `steps` (from `mov_imm_sequence`); for tests/debug."""
    width = _width(size)
    mask = (1 << width) - 1
    reg = 0
    for step in steps:
        if step.op == "movz":
            reg = (step.imm << step.shift) & mask
        elif step.op == "movn":
            reg = ~(step.imm << step.shift) & mask
        elif step.op == "movk":
            reg = (reg & ~(0xFFFF << step.shift) & mask) | (step.imm << step.shift)
        elif step.op == "orr":
            reg = step.imm & mask
        else:
            raise EncodingError(f"unknown move step {step.op!r}")
    return reg


# -- FMOV (immediate) ------------------------------------------------------------------------


def decode_fp_imm8(imm8: int) -> float:
    """VFPExpandImm: the value of the 8-bit FMOV immediate abcdefgh (exact in f32 and f64)."""
    if not 0 <= imm8 <= 0xFF:
        raise EncodingError(f"FP imm8 out of range: {imm8!r}")
    a = imm8 >> 7
    b = (imm8 >> 6) & 1
    cd = (imm8 >> 4) & 3
    efgh = imm8 & 0xF
    exp = ((b ^ 1) << 10) | ((0xFF if b else 0) << 2) | cd
    bits = (a << 63) | (exp << 52) | (efgh << 48)
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


_FP_IMM8 = {decode_fp_imm8(i): i for i in range(256)}


def encode_fp_imm8(value: float) -> int | None:
    """The 8-bit FMOV immediate for `value`, or None (0.0, NaN, inf and most values)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    if math.isnan(value) or value == 0.0:
        return None
    return _FP_IMM8.get(value)
