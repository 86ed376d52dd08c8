"""The s390x (z/Architecture) assembler: instruction encodings, nothing else.

Problem
-------
The s390x macro-assembler needs byte-exact encodings for the scalar forms the WebAssembly
lowering uses: loads and stores (including the byte-reversed ones, because Wasm memory is
little-endian and s390x is big-endian), integer and binary-floating-point arithmetic,
compares, conditional branches to labels, calls, and traps.  This module knows no Wasm.

Algorithm
---------
Encodings are data.  Every instruction *format* of the Principles of Operation (RR, RRE,
RRF-x, RX-a, RXY-a, RXE, RI-x, RIL-x, RS-a, RSY-x, RIE-x, SS-a, SI, S, E, I) is a bit layout:
a tuple of ``(field, width)`` pairs read from the most significant bit of the first byte.
Every *instruction* is one row of `INSNS`: mnemonic, format, opcode, and the operands in
GNU assembler order, each operand naming its kind (GPR, FPR, mask, immediate, memory, label)
and the layout fields it fills.  At import each row is compiled (`_Row`) into the word with
its opcode bits in place and, per flattened operand value, its range and field shift.  The
opcode is split over the ``op`` and ``op2`` fields (e.g. RXY ``E3..04`` for LG, RI ``A7.8``
for LHI); the 20-bit signed displacement of the long-displacement formats is split into
``dl2`` (low 12 bits) and ``dh2`` (high 8 bits).  `_encode`, the one encoder, checks each
value against its slot and ORs it into the word.  `S390xAssembler.emit` flattens and checks
the operands (a `Mem`, a label or `Rel`), then calls `_encode`.

Compile speed: the macro-assembler's hot paths use cached forms built by `_encode` (and only
from operands it accepted), each proven equal to `emit` by tests/test_s390x_templates.py:
`ins(mnemonic, *flat ints)` memoizes whole encodings by that tuple of small ints (`_MEMO`);
`ins_imm` patches the immediate of an RI-a/RIL-a row into a cached two-byte head (`_IMM`);
`ins_label` (and `brc`, `brcl`, `j`, `jg`) takes a per-(mnemonic, first operand) template
with a zero displacement and records the fixup (`_LABELED`); `skip_trap` is ``BRC mask,
*+6`` and a trap, without a label (`_SKIP_TRAP`).  `clear_caches()` empties the caches.

Operands, in GNU order
----------------------
``emit("AGR", r1, r2)``, ``emit("LG", r1, d2, x2, b2)``, ``emit("SLLG", r1, r3, d2, b2)``,
``emit("BRC", mask, label)``, ``emit("CFDBR", r1, m3, f2)``, ``emit("MVC", d1, length, b1,
d2, b2)``.  Wherever a ``d, x, b`` or ``d, b`` group is expected a single `Mem(base, disp,
index)` may be given instead.  Register 0 as base or index means "none", as in hardware.
GPRs and FPRs are both ints 0..15; the row says which one an operand is.  A label operand
is a label id of the `CodeBuffer` (patched by ``finish()``) or a raw `Rel(halfwords)`.
Every lower-case mnemonic is also a method: ``asm.agr(1, 2)`` is ``asm.emit("AGR", 1, 2)``.
Helpers on top: `brc`/`brcl`/`j`/`jg`/`br`/`nop`, `brasl_reloc` (a host-resolved call),
`trap` (the ``0x00NN`` halfword plus a trap record), `skip_trap`, `emit_mem` (RX or RXY by
displacement), the cached `ins`/`ins_imm`/`ins_label` (above),
`load_const` (shortest immediate sequence), `load_const_pool` (LGRL/LRL) and `load_fp_const`
(LARL + LE/LD).  `Round` names the BFP rounding-mode masks.

Condition-code masks
--------------------
A branch mask has four bits; bit value 8 selects CC0, 4 selects CC1, 2 CC2 and 1 CC3, and
the branch is taken when the mask bit of the current CC is one.  After a compare (CR, CGR,
CLGR, CHI, CEBR, CDBR, ...) CC0 means equal, CC1 first operand low, CC2 first operand high
and CC3 unordered (floating point only), so `Cond` names EQ=8, LT=4, GT=2, LE=12, GE=10,
NE=7 (CC3 included: for floats "not equal" is true when unordered) and UNORDERED=1.  After
signed add or subtract CC3 is overflow (`Cond.OVERFLOW`); after logical add CC2/CC3 mean
carry (`Cond.CARRY`) and after logical subtract CC0/CC1 mean borrow (`Cond.BORROW`).  The
compare-and-branch and compare-and-trap instructions (CGRJ, CLGRT, ...) use the same bit
values for equal/low/high and ignore bit 1.  ``Cond.invert(m)`` is ``m ^ 15``.

Invariants
----------
- Every emitter validates register numbers (0..15, even for register pairs), masks,
  displacements and immediates, raising `EncodingError` naming the mnemonic and operand;
  nothing is ever silently truncated.  The cached forms hold only encodings of accepted
  operands; a cache hit needs operands equal to those (``True == 1`` is a hit: the caller of
  the hot paths, the macro-assembler, passes plain ints).
- A label use records a fixup at the *instruction start*; the displacement counts
  halfwords from the instruction start (the s390x rule for all relative forms).
- Emitted forms are limited to what the QEMU 5.0 (Unicorn 2.1.4) z13 translator runs, see
  ``shared/docs/ISA-NOTES.md``: nothing newer than z13 appears in `INSNS`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from winch.errors import EncodingError
from winch.masm.buffer import CodeBuffer, memo_cache

__all__ = [
    "Cond", "Round", "SUPPRESS_INEXACT", "COND_SUFFIX", "Kind", "Operand", "Insn", "FORMATS",
    "INSNS", "Mem", "Rel", "PcRel", "PCREL16", "PCREL32", "patch_pcrel32", "S390xAssembler",
    "clear_caches",
]


# --------------------------------------------------------------------------------------
# Condition-code masks
# --------------------------------------------------------------------------------------
class Cond(enum.IntEnum):
    """4-bit branch masks: 8 = CC0, 4 = CC1, 2 = CC2, 1 = CC3 (see the module docstring)."""

    NEVER = 0
    O = 1            # CC3
    H = 2            # CC2
    NLE = 3
    L = 4            # CC1
    NHE = 5
    LH = 6
    NE = 7           # not CC0
    E = 8            # CC0
    NLH = 9
    HE = 10
    NL = 11          # not CC1
    LE = 12
    NH = 13          # not CC2
    NO = 14          # not CC3
    ALWAYS = 15
    # Compare results (CC0 equal, CC1 low, CC2 high, CC3 unordered).
    EQ = 8
    LT = 4
    GT = 2
    GE = 10
    UNORDERED = 1
    ORDERED = 14
    # Arithmetic results.
    ZERO = 8
    NONZERO = 7
    OVERFLOW = 1     # signed add/subtract
    NO_OVERFLOW = 14
    CARRY = 3        # add logical: CC2 (zero, carry) or CC3 (nonzero, carry)
    NO_CARRY = 12
    BORROW = 12      # subtract logical: CC0 or CC1 mean a borrow
    NO_BORROW = 3

    @staticmethod
    def invert(mask: int) -> int:
        """The mask taken exactly when `mask` is not (all four CCs flipped)."""
        _check_range("Cond.invert", "mask", mask, 0, 15)
        return mask ^ 15


class Round(enum.IntEnum):
    """BFP rounding-mode masks (the M3 field of CFDBR, CGEBRA, FIDBRA, LEDBRA, ...).

    FIDBRA with FLOOR/CEIL/TRUNC/NEAREST_EVEN is Wasm's floor/ceil/trunc/nearest; use
    ``m4 = SUPPRESS_INEXACT`` with the "A" forms to leave the FPC inexact flag alone.
    """

    CURRENT = 0              # the FPC rounding mode (round to nearest even after reset)
    NEAREST_AWAY = 1         # to nearest, ties away from zero
    PREPARE_SHORTER = 3      # round to prepare for shorter precision
    NEAREST_EVEN = 4
    TRUNC = 5                # toward zero
    CEIL = 6                 # toward +infinity
    FLOOR = 7                # toward -infinity


SUPPRESS_INEXACT = 4         # M4 of the "A" forms: the inexact-suppression control (XxC)


# GNU/Capstone suffixes for the 14 non-trivial masks (``je``, ``locgrnh``, ...).
COND_SUFFIX = MappingProxyType({
    1: "o", 2: "h", 3: "nle", 4: "l", 5: "nhe", 6: "lh", 7: "ne", 8: "e", 9: "nlh",
    10: "he", 11: "nl", 12: "le", 13: "nh", 14: "no",
})


# --------------------------------------------------------------------------------------
# Formats: bit layouts, most significant bit first
# --------------------------------------------------------------------------------------
# Field names: op/op2 opcode parts; r1 r2 r3 register (or mask) nibbles; m1 m3 m4 masks;
# x2 index, b1 b2 bases; d1 d2 12-bit displacements; dl2/dh2 the low 12 / high 8 bits of a
# 20-bit displacement; i1 i2 i3 i4 i5 immediates; ri2 ri4 relative halfword counts;
# l1 the SS length code (length - 1); "_" reserved, always zero.
FORMATS: MappingProxyType = MappingProxyType({
    "E": (("op", 16),),
    "I": (("op", 8), ("i1", 8)),
    "RR": (("op", 8), ("r1", 4), ("r2", 4)),
    "RRE": (("op", 16), ("_", 8), ("r1", 4), ("r2", 4)),
    "RRF-a": (("op", 16), ("r3", 4), ("m4", 4), ("r1", 4), ("r2", 4)),
    "RRF-b": (("op", 16), ("r3", 4), ("m4", 4), ("r1", 4), ("r2", 4)),
    "RRF-c": (("op", 16), ("m3", 4), ("m4", 4), ("r1", 4), ("r2", 4)),
    "RRF-e": (("op", 16), ("m3", 4), ("m4", 4), ("r1", 4), ("r2", 4)),
    "RX-a": (("op", 8), ("r1", 4), ("x2", 4), ("b2", 4), ("d2", 12)),
    "RXY-a": (("op", 8), ("r1", 4), ("x2", 4), ("b2", 4), ("dl2", 12), ("dh2", 8), ("op2", 8)),
    "RXE": (("op", 8), ("r1", 4), ("x2", 4), ("b2", 4), ("d2", 12), ("m3", 4), ("_", 4),
            ("op2", 8)),
    "RI-a": (("op", 8), ("r1", 4), ("op2", 4), ("i2", 16)),
    "RI-b": (("op", 8), ("r1", 4), ("op2", 4), ("ri2", 16)),
    "RI-c": (("op", 8), ("m1", 4), ("op2", 4), ("ri2", 16)),
    "RIL-a": (("op", 8), ("r1", 4), ("op2", 4), ("i2", 32)),
    "RIL-b": (("op", 8), ("r1", 4), ("op2", 4), ("ri2", 32)),
    "RIL-c": (("op", 8), ("m1", 4), ("op2", 4), ("ri2", 32)),
    "RS-a": (("op", 8), ("r1", 4), ("r3", 4), ("b2", 4), ("d2", 12)),
    "RSY-a": (("op", 8), ("r1", 4), ("r3", 4), ("b2", 4), ("dl2", 12), ("dh2", 8), ("op2", 8)),
    "RSY-b": (("op", 8), ("r1", 4), ("m3", 4), ("b2", 4), ("dl2", 12), ("dh2", 8), ("op2", 8)),
    "RIE-a": (("op", 8), ("r1", 4), ("_", 4), ("i2", 16), ("m3", 4), ("_", 4), ("op2", 8)),
    "RIE-b": (("op", 8), ("r1", 4), ("r2", 4), ("ri4", 16), ("m3", 4), ("_", 4), ("op2", 8)),
    "RIE-c": (("op", 8), ("r1", 4), ("m3", 4), ("ri4", 16), ("i2", 8), ("op2", 8)),
    "RIE-f": (("op", 8), ("r1", 4), ("r2", 4), ("i3", 8), ("i4", 8), ("i5", 8), ("op2", 8)),
    "RIE-g": (("op", 8), ("r1", 4), ("m3", 4), ("i2", 16), ("_", 8), ("op2", 8)),
    "SS-a": (("op", 8), ("l1", 8), ("b1", 4), ("d1", 12), ("b2", 4), ("d2", 12)),
    "SI": (("op", 8), ("i2", 8), ("b1", 4), ("d1", 12)),
    "S": (("op", 16), ("b2", 4), ("d2", 12)),
})


@dataclass(frozen=True, slots=True)
class _Layout:
    """A format's bit layout with what `_pack` derives from it once, at import."""

    fields: tuple[tuple[str, int], ...]
    op2_width: int
    size: int


_LAYOUTS = MappingProxyType({
    name: _Layout(fields, dict(fields).get("op2", 0), sum(w for _, w in fields) // 8)
    for name, fields in FORMATS.items()
})


# --------------------------------------------------------------------------------------
# Operand kinds
# --------------------------------------------------------------------------------------
class Kind(enum.Enum):
    """What an operand is; decides its validation, its flattening and how it is stored."""

    GPR = "general register 0..15"
    GPR_EVEN = "even general register 0..14 (first of an even/odd pair)"
    FPR = "floating-point register 0..15"
    MASK = "4-bit mask 0..15"
    U8 = "unsigned 8-bit immediate 0..255"
    S8 = "signed 8-bit immediate -128..127"
    U16 = "unsigned 16-bit immediate 0..65535"
    S16 = "signed 16-bit immediate -32768..32767"
    U32 = "unsigned 32-bit immediate 0..4294967295"
    S32 = "signed 32-bit immediate -2147483648..2147483647"
    REL16 = "label or Rel with a signed 16-bit halfword count"
    REL32 = "label or Rel with a signed 32-bit halfword count"
    MEM_RX = "D(X,B) with D 0..4095"
    MEM_RXY = "D(X,B) with D -524288..524287"
    MEM_RS = "D(B) with D 0..4095"
    MEM_RSY = "D(B) with D -524288..524287"
    MEM_SS = "D(L,B) with D 0..4095 and length L 1..256"


DISP12 = (0, 4095)
DISP20 = (-(1 << 19), (1 << 19) - 1)
_REG = (0, 15)
# What each flattened value of an operand of a kind is, and its inclusive range.  Signed
# values are stored in two's complement by `_pack`, which masks them to the field width.
_SLOTS: MappingProxyType = MappingProxyType({
    Kind.GPR: (("general register", *_REG),),
    Kind.GPR_EVEN: (("even general register", 0, 14),),
    Kind.FPR: (("floating-point register", *_REG),),
    Kind.MASK: (("mask", 0, 15),),
    Kind.U8: (("immediate", 0, 0xFF),),
    Kind.S8: (("immediate", -0x80, 0x7F),),
    Kind.U16: (("immediate", 0, 0xFFFF),),
    Kind.S16: (("immediate", -0x8000, 0x7FFF),),
    Kind.U32: (("immediate", 0, 0xFFFF_FFFF),),
    Kind.S32: (("immediate", -0x8000_0000, 0x7FFF_FFFF),),
    Kind.REL16: (("halfword displacement", -0x8000, 0x7FFF),),
    Kind.REL32: (("halfword displacement", -0x8000_0000, 0x7FFF_FFFF),),
    Kind.MEM_RX: (("displacement", *DISP12), ("index register", *_REG), ("base register", *_REG)),
    Kind.MEM_RXY: (("displacement", *DISP20), ("index register", *_REG), ("base register", *_REG)),
    Kind.MEM_RS: (("displacement", *DISP12), ("base register", *_REG)),
    Kind.MEM_RSY: (("displacement", *DISP20), ("base register", *_REG)),
    Kind.MEM_SS: (("displacement", *DISP12), ("length", 1, 256), ("base register", *_REG)),
})


@dataclass(frozen=True, slots=True)
class Operand:
    """One assembler operand: its kind and the layout fields it fills, in GNU order.

    Memory operands fill several fields: ``(d, x, b)`` for MEM_RX/MEM_RXY, ``(d, b)`` for
    MEM_RS/MEM_RSY and ``(d, l, b)`` for MEM_SS (where ``l`` receives length - 1).
    """

    kind: Kind
    fields: tuple[str, ...]

    @property
    def slots(self) -> int:
        """How many values this operand takes in the flattened `emit` argument list."""
        return len(_SLOTS[self.kind])


def _op(kind: Kind, *fields: str) -> Operand:
    return Operand(kind, fields)


R1, R2, R3 = _op(Kind.GPR, "r1"), _op(Kind.GPR, "r2"), _op(Kind.GPR, "r3")
P1 = _op(Kind.GPR_EVEN, "r1")
F1, F2, F3 = _op(Kind.FPR, "r1"), _op(Kind.FPR, "r2"), _op(Kind.FPR, "r3")
M1, M3, M4 = _op(Kind.MASK, "m1"), _op(Kind.MASK, "m3"), _op(Kind.MASK, "m4")
M1R = _op(Kind.MASK, "r1")          # a mask in the R1 nibble (BCR)
RX = _op(Kind.MEM_RX, "d2", "x2", "b2")
RXY = _op(Kind.MEM_RXY, "d2", "x2", "b2")
RS = _op(Kind.MEM_RS, "d2", "b2")
RSY = _op(Kind.MEM_RSY, "d2", "b2")
SS1 = _op(Kind.MEM_SS, "d1", "l1", "b1")
SI1 = _op(Kind.MEM_RS, "d1", "b1")
I1_U8, I2_U8, I2_S8 = _op(Kind.U8, "i1"), _op(Kind.U8, "i2"), _op(Kind.S8, "i2")
I3, I4, I5 = _op(Kind.U8, "i3"), _op(Kind.U8, "i4"), _op(Kind.U8, "i5")
I2_S16, I2_U16 = _op(Kind.S16, "i2"), _op(Kind.U16, "i2")
I2_S32, I2_U32 = _op(Kind.S32, "i2"), _op(Kind.U32, "i2")
REL16_2, REL16_4 = _op(Kind.REL16, "ri2"), _op(Kind.REL16, "ri4")
REL32_2 = _op(Kind.REL32, "ri2")


@dataclass(frozen=True, slots=True)
class Insn:
    """One row of the instruction table."""

    mnemonic: str
    fmt: str
    opcode: int
    operands: tuple[Operand, ...]

    @property
    def size(self) -> int:
        """The encoded length in bytes (2, 4 or 6)."""
        return _LAYOUTS[self.fmt].size


# The instruction table: mnemonic, format, opcode, operands (GNU order).  Opcodes as in the
# Principles of Operation: 2-byte (RRE 'B908'), 12-bit (RI/RIL 'A78' = op A7 + op2 8) or
# 16-bit split around the operands (RXY 'E304' = op E3 + op2 04).
_ROWS: tuple[tuple[str, str, int, tuple[Operand, ...]], ...] = (
    # ---- E / I: traps and supervisor call
    ("TRAP2", "E", 0x01FF, ()),
    ("SVC", "I", 0x0A, (I1_U8,)),
    # ---- RR: 32-bit register-register, branches on register
    ("LR", "RR", 0x18, (R1, R2)),
    ("LTR", "RR", 0x12, (R1, R2)),
    ("LCR", "RR", 0x13, (R1, R2)),
    ("LPR", "RR", 0x10, (R1, R2)),
    ("LNR", "RR", 0x11, (R1, R2)),
    ("AR", "RR", 0x1A, (R1, R2)),
    ("SR", "RR", 0x1B, (R1, R2)),
    ("ALR", "RR", 0x1E, (R1, R2)),
    ("SLR", "RR", 0x1F, (R1, R2)),
    ("NR", "RR", 0x14, (R1, R2)),
    ("OR", "RR", 0x16, (R1, R2)),
    ("XR", "RR", 0x17, (R1, R2)),
    ("CR", "RR", 0x19, (R1, R2)),
    ("CLR", "RR", 0x15, (R1, R2)),
    ("MR", "RR", 0x1C, (P1, R2)),      # R1:R1+1 = R1+1 * R2 (signed)
    ("DR", "RR", 0x1D, (P1, R2)),      # R1:R1+1 / R2: remainder in R1, quotient in R1+1
    ("BCR", "RR", 0x07, (M1R, R2)),
    ("BASR", "RR", 0x0D, (R1, R2)),
    ("LER", "RR", 0x38, (F1, F2)),
    ("LDR", "RR", 0x28, (F1, F2)),
    # ---- RRE: 64-bit register-register and friends
    ("LGR", "RRE", 0xB904, (R1, R2)),
    ("LGFR", "RRE", 0xB914, (R1, R2)),
    ("LLGFR", "RRE", 0xB916, (R1, R2)),
    ("LTGR", "RRE", 0xB902, (R1, R2)),
    ("LTGFR", "RRE", 0xB912, (R1, R2)),
    ("LCGR", "RRE", 0xB903, (R1, R2)),
    ("LCGFR", "RRE", 0xB913, (R1, R2)),
    ("LPGR", "RRE", 0xB900, (R1, R2)),
    ("LNGR", "RRE", 0xB901, (R1, R2)),
    ("LGBR", "RRE", 0xB906, (R1, R2)),
    ("LGHR", "RRE", 0xB907, (R1, R2)),
    ("LBR", "RRE", 0xB926, (R1, R2)),
    ("LHR", "RRE", 0xB927, (R1, R2)),
    ("LLGCR", "RRE", 0xB984, (R1, R2)),
    ("LLGHR", "RRE", 0xB985, (R1, R2)),
    ("LLCR", "RRE", 0xB994, (R1, R2)),
    ("LLHR", "RRE", 0xB995, (R1, R2)),
    ("LRVR", "RRE", 0xB91F, (R1, R2)),
    ("LRVGR", "RRE", 0xB90F, (R1, R2)),
    ("AGR", "RRE", 0xB908, (R1, R2)),
    ("AGFR", "RRE", 0xB918, (R1, R2)),
    ("SGR", "RRE", 0xB909, (R1, R2)),
    ("SGFR", "RRE", 0xB919, (R1, R2)),
    ("ALGR", "RRE", 0xB90A, (R1, R2)),
    ("ALGFR", "RRE", 0xB91A, (R1, R2)),
    ("SLGR", "RRE", 0xB90B, (R1, R2)),
    ("SLGFR", "RRE", 0xB91B, (R1, R2)),
    ("ALCR", "RRE", 0xB998, (R1, R2)),
    ("ALCGR", "RRE", 0xB988, (R1, R2)),
    ("SLBR", "RRE", 0xB999, (R1, R2)),
    ("SLBGR", "RRE", 0xB989, (R1, R2)),
    ("MSR", "RRE", 0xB252, (R1, R2)),
    ("MSGR", "RRE", 0xB90C, (R1, R2)),
    ("MSGFR", "RRE", 0xB91C, (R1, R2)),
    ("MLR", "RRE", 0xB996, (P1, R2)),     # R1:R1+1 = R1+1 * R2 (unsigned)
    ("MLGR", "RRE", 0xB986, (P1, R2)),
    ("DLR", "RRE", 0xB997, (P1, R2)),     # remainder in R1, quotient in R1+1
    ("DLGR", "RRE", 0xB987, (P1, R2)),
    ("DSGR", "RRE", 0xB90D, (P1, R2)),    # dividend is R1+1 only; R1 gets the remainder
    ("DSGFR", "RRE", 0xB91D, (P1, R2)),
    ("NGR", "RRE", 0xB980, (R1, R2)),
    ("OGR", "RRE", 0xB981, (R1, R2)),
    ("XGR", "RRE", 0xB982, (R1, R2)),
    ("CGR", "RRE", 0xB920, (R1, R2)),
    ("CGFR", "RRE", 0xB930, (R1, R2)),
    ("CLGR", "RRE", 0xB921, (R1, R2)),
    ("CLGFR", "RRE", 0xB931, (R1, R2)),
    ("FLOGR", "RRE", 0xB983, (P1, R2)),   # clobbers R1+1
    ("POPCNT", "RRE", 0xB9E1, (R1, R2)),  # z196 form: a count per byte (M3 = 0)
    ("IPM", "RRE", 0xB222, (R1,)),
    ("SFPC", "RRE", 0xB384, (R1,)),
    ("EFPC", "RRE", 0xB38C, (R1,)),
    ("LGDR", "RRE", 0xB3CD, (R1, F2)),
    ("LDGR", "RRE", 0xB3C1, (F1, R2)),
    ("AEBR", "RRE", 0xB30A, (F1, F2)),
    ("ADBR", "RRE", 0xB31A, (F1, F2)),
    ("SEBR", "RRE", 0xB30B, (F1, F2)),
    ("SDBR", "RRE", 0xB31B, (F1, F2)),
    ("MEEBR", "RRE", 0xB317, (F1, F2)),
    ("MDBR", "RRE", 0xB31C, (F1, F2)),
    ("DEBR", "RRE", 0xB30D, (F1, F2)),
    ("DDBR", "RRE", 0xB31D, (F1, F2)),
    ("SQEBR", "RRE", 0xB314, (F1, F2)),
    ("SQDBR", "RRE", 0xB315, (F1, F2)),
    ("CEBR", "RRE", 0xB309, (F1, F2)),
    ("CDBR", "RRE", 0xB319, (F1, F2)),
    ("KEBR", "RRE", 0xB308, (F1, F2)),
    ("KDBR", "RRE", 0xB318, (F1, F2)),
    ("LTEBR", "RRE", 0xB302, (F1, F2)),
    ("LTDBR", "RRE", 0xB312, (F1, F2)),
    ("LCEBR", "RRE", 0xB303, (F1, F2)),
    ("LCDBR", "RRE", 0xB313, (F1, F2)),
    ("LPEBR", "RRE", 0xB300, (F1, F2)),
    ("LPDBR", "RRE", 0xB310, (F1, F2)),
    ("LNEBR", "RRE", 0xB301, (F1, F2)),
    ("LNDBR", "RRE", 0xB311, (F1, F2)),
    ("LCDFR", "RRE", 0xB373, (F1, F2)),   # sign-bit operations: no NaN canonicalisation
    ("LPDFR", "RRE", 0xB370, (F1, F2)),
    ("LNDFR", "RRE", 0xB371, (F1, F2)),
    ("LZER", "RRE", 0xB374, (F1,)),
    ("LZDR", "RRE", 0xB375, (F1,)),
    ("LDEBR", "RRE", 0xB304, (F1, F2)),
    ("LEDBR", "RRE", 0xB344, (F1, F2)),
    ("CEFBR", "RRE", 0xB394, (F1, R2)),
    ("CDFBR", "RRE", 0xB395, (F1, R2)),
    ("CEGBR", "RRE", 0xB3A4, (F1, R2)),
    ("CDGBR", "RRE", 0xB3A5, (F1, R2)),
    # ---- RRF: three operands, masks
    ("ARK", "RRF-a", 0xB9F8, (R1, R2, R3)),
    ("AGRK", "RRF-a", 0xB9E8, (R1, R2, R3)),
    ("SRK", "RRF-a", 0xB9F9, (R1, R2, R3)),
    ("SGRK", "RRF-a", 0xB9E9, (R1, R2, R3)),
    ("ALRK", "RRF-a", 0xB9FA, (R1, R2, R3)),
    ("ALGRK", "RRF-a", 0xB9EA, (R1, R2, R3)),
    ("SLRK", "RRF-a", 0xB9FB, (R1, R2, R3)),
    ("SLGRK", "RRF-a", 0xB9EB, (R1, R2, R3)),
    ("NRK", "RRF-a", 0xB9F4, (R1, R2, R3)),
    ("NGRK", "RRF-a", 0xB9E4, (R1, R2, R3)),
    ("ORK", "RRF-a", 0xB9F6, (R1, R2, R3)),
    ("OGRK", "RRF-a", 0xB9E6, (R1, R2, R3)),
    ("XRK", "RRF-a", 0xB9F7, (R1, R2, R3)),
    ("XGRK", "RRF-a", 0xB9E7, (R1, R2, R3)),
    ("CPSDR", "RRF-b", 0xB372, (F1, F3, F2)),   # F1 = magnitude of F2 with the sign of F3
    ("LOCR", "RRF-c", 0xB9F2, (R1, R2, M3)),
    ("LOCGR", "RRF-c", 0xB9E2, (R1, R2, M3)),
    ("CRT", "RRF-c", 0xB972, (R1, R2, M3)),
    ("CGRT", "RRF-c", 0xB960, (R1, R2, M3)),
    ("CLRT", "RRF-c", 0xB973, (R1, R2, M3)),
    ("CLGRT", "RRF-c", 0xB961, (R1, R2, M3)),
    # Rounding-mode masks M3 (and M4 bit 4 = suppress inexact): 0 current FPC mode,
    # 1 nearest with ties away, 4 nearest even, 5 toward zero, 6 toward +inf, 7 toward -inf.
    ("CFEBR", "RRF-e", 0xB398, (R1, M3, F2)),
    ("CFDBR", "RRF-e", 0xB399, (R1, M3, F2)),
    ("CGEBR", "RRF-e", 0xB3A8, (R1, M3, F2)),
    ("CGDBR", "RRF-e", 0xB3A9, (R1, M3, F2)),
    ("CFEBRA", "RRF-e", 0xB398, (R1, M3, F2, M4)),
    ("CFDBRA", "RRF-e", 0xB399, (R1, M3, F2, M4)),
    ("CGEBRA", "RRF-e", 0xB3A8, (R1, M3, F2, M4)),
    ("CGDBRA", "RRF-e", 0xB3A9, (R1, M3, F2, M4)),
    ("CLFEBR", "RRF-e", 0xB39C, (R1, M3, F2, M4)),
    ("CLFDBR", "RRF-e", 0xB39D, (R1, M3, F2, M4)),
    ("CLGEBR", "RRF-e", 0xB3AC, (R1, M3, F2, M4)),
    ("CLGDBR", "RRF-e", 0xB3AD, (R1, M3, F2, M4)),
    ("CEFBRA", "RRF-e", 0xB394, (F1, M3, R2, M4)),
    ("CDFBRA", "RRF-e", 0xB395, (F1, M3, R2, M4)),
    ("CEGBRA", "RRF-e", 0xB3A4, (F1, M3, R2, M4)),
    ("CDGBRA", "RRF-e", 0xB3A5, (F1, M3, R2, M4)),
    ("CELFBR", "RRF-e", 0xB390, (F1, M3, R2, M4)),
    ("CDLFBR", "RRF-e", 0xB391, (F1, M3, R2, M4)),
    ("CELGBR", "RRF-e", 0xB3A0, (F1, M3, R2, M4)),
    ("CDLGBR", "RRF-e", 0xB3A1, (F1, M3, R2, M4)),
    ("FIEBR", "RRF-e", 0xB357, (F1, M3, F2)),
    ("FIDBR", "RRF-e", 0xB35F, (F1, M3, F2)),
    ("FIEBRA", "RRF-e", 0xB357, (F1, M3, F2, M4)),
    ("FIDBRA", "RRF-e", 0xB35F, (F1, M3, F2, M4)),
    ("LEDBRA", "RRF-e", 0xB344, (F1, M3, F2, M4)),
    # ---- RX-a: 12-bit unsigned displacement with index
    ("L", "RX-a", 0x58, (R1, RX)),
    ("ST", "RX-a", 0x50, (R1, RX)),
    ("LH", "RX-a", 0x48, (R1, RX)),
    ("STH", "RX-a", 0x40, (R1, RX)),
    ("STC", "RX-a", 0x42, (R1, RX)),
    ("IC", "RX-a", 0x43, (R1, RX)),
    ("LA", "RX-a", 0x41, (R1, RX)),
    ("A", "RX-a", 0x5A, (R1, RX)),
    ("S", "RX-a", 0x5B, (R1, RX)),
    ("C", "RX-a", 0x59, (R1, RX)),
    ("CL", "RX-a", 0x55, (R1, RX)),
    ("N", "RX-a", 0x54, (R1, RX)),
    ("O", "RX-a", 0x56, (R1, RX)),
    ("X", "RX-a", 0x57, (R1, RX)),
    ("MS", "RX-a", 0x71, (R1, RX)),
    ("CH", "RX-a", 0x49, (R1, RX)),
    ("EX", "RX-a", 0x44, (R1, RX)),
    ("LE", "RX-a", 0x78, (F1, RX)),
    ("LD", "RX-a", 0x68, (F1, RX)),
    ("STE", "RX-a", 0x70, (F1, RX)),
    ("STD", "RX-a", 0x60, (F1, RX)),
    # ---- RXY-a: 20-bit signed displacement with index
    ("LY", "RXY-a", 0xE358, (R1, RXY)),
    ("LG", "RXY-a", 0xE304, (R1, RXY)),
    ("LGF", "RXY-a", 0xE314, (R1, RXY)),
    ("LLGF", "RXY-a", 0xE316, (R1, RXY)),
    ("LB", "RXY-a", 0xE376, (R1, RXY)),
    ("LGB", "RXY-a", 0xE377, (R1, RXY)),
    ("LLC", "RXY-a", 0xE394, (R1, RXY)),
    ("LLGC", "RXY-a", 0xE390, (R1, RXY)),
    ("LHY", "RXY-a", 0xE378, (R1, RXY)),
    ("LGH", "RXY-a", 0xE315, (R1, RXY)),
    ("LLH", "RXY-a", 0xE395, (R1, RXY)),
    ("LLGH", "RXY-a", 0xE391, (R1, RXY)),
    ("LT", "RXY-a", 0xE312, (R1, RXY)),
    ("LTG", "RXY-a", 0xE302, (R1, RXY)),
    ("STY", "RXY-a", 0xE350, (R1, RXY)),
    ("STG", "RXY-a", 0xE324, (R1, RXY)),
    ("STCY", "RXY-a", 0xE372, (R1, RXY)),
    ("STHY", "RXY-a", 0xE370, (R1, RXY)),
    ("LRV", "RXY-a", 0xE31E, (R1, RXY)),      # byte-reversed: little-endian memory
    ("LRVG", "RXY-a", 0xE30F, (R1, RXY)),
    ("LRVH", "RXY-a", 0xE31F, (R1, RXY)),     # loads the low 16 bits only
    ("STRV", "RXY-a", 0xE33E, (R1, RXY)),
    ("STRVG", "RXY-a", 0xE32F, (R1, RXY)),
    ("STRVH", "RXY-a", 0xE33F, (R1, RXY)),
    ("LAY", "RXY-a", 0xE371, (R1, RXY)),
    ("AY", "RXY-a", 0xE35A, (R1, RXY)),
    ("AG", "RXY-a", 0xE308, (R1, RXY)),
    ("AGF", "RXY-a", 0xE318, (R1, RXY)),
    ("SY", "RXY-a", 0xE35B, (R1, RXY)),
    ("SG", "RXY-a", 0xE309, (R1, RXY)),
    ("NG", "RXY-a", 0xE380, (R1, RXY)),
    ("OG", "RXY-a", 0xE381, (R1, RXY)),
    ("XG", "RXY-a", 0xE382, (R1, RXY)),
    ("CY", "RXY-a", 0xE359, (R1, RXY)),
    ("CG", "RXY-a", 0xE320, (R1, RXY)),
    ("CLY", "RXY-a", 0xE355, (R1, RXY)),
    ("CLG", "RXY-a", 0xE321, (R1, RXY)),
    ("MSY", "RXY-a", 0xE351, (R1, RXY)),
    ("MSG", "RXY-a", 0xE30C, (R1, RXY)),
    ("LGAT", "RXY-a", 0xE385, (R1, RXY)),     # load and trap if zero
    ("LEY", "RXY-a", 0xED64, (F1, RXY)),
    ("LDY", "RXY-a", 0xED65, (F1, RXY)),
    ("STEY", "RXY-a", 0xED66, (F1, RXY)),
    ("STDY", "RXY-a", 0xED67, (F1, RXY)),
    # ---- RXE: BFP with a storage operand (12-bit displacement)
    ("AEB", "RXE", 0xED0A, (F1, RX)),
    ("ADB", "RXE", 0xED1A, (F1, RX)),
    ("SEB", "RXE", 0xED0B, (F1, RX)),
    ("SDB", "RXE", 0xED1B, (F1, RX)),
    ("MEEB", "RXE", 0xED17, (F1, RX)),
    ("MDB", "RXE", 0xED1C, (F1, RX)),
    ("DEB", "RXE", 0xED0D, (F1, RX)),
    ("DDB", "RXE", 0xED1D, (F1, RX)),
    ("CEB", "RXE", 0xED09, (F1, RX)),
    ("CDB", "RXE", 0xED19, (F1, RX)),
    ("LDEB", "RXE", 0xED04, (F1, RX)),
    # ---- RI-a: 16-bit immediates
    ("LHI", "RI-a", 0xA78, (R1, I2_S16)),
    ("LGHI", "RI-a", 0xA79, (R1, I2_S16)),
    ("AHI", "RI-a", 0xA7A, (R1, I2_S16)),
    ("AGHI", "RI-a", 0xA7B, (R1, I2_S16)),
    ("MHI", "RI-a", 0xA7C, (R1, I2_S16)),
    ("MGHI", "RI-a", 0xA7D, (R1, I2_S16)),
    ("CHI", "RI-a", 0xA7E, (R1, I2_S16)),
    ("CGHI", "RI-a", 0xA7F, (R1, I2_S16)),
    ("TMLH", "RI-a", 0xA70, (R1, I2_U16)),
    ("TMLL", "RI-a", 0xA71, (R1, I2_U16)),
    ("TMHH", "RI-a", 0xA72, (R1, I2_U16)),
    ("TMHL", "RI-a", 0xA73, (R1, I2_U16)),
    ("IIHH", "RI-a", 0xA50, (R1, I2_U16)),
    ("IIHL", "RI-a", 0xA51, (R1, I2_U16)),
    ("IILH", "RI-a", 0xA52, (R1, I2_U16)),
    ("IILL", "RI-a", 0xA53, (R1, I2_U16)),
    ("NIHH", "RI-a", 0xA54, (R1, I2_U16)),
    ("NIHL", "RI-a", 0xA55, (R1, I2_U16)),
    ("NILH", "RI-a", 0xA56, (R1, I2_U16)),
    ("NILL", "RI-a", 0xA57, (R1, I2_U16)),
    ("OIHH", "RI-a", 0xA58, (R1, I2_U16)),
    ("OIHL", "RI-a", 0xA59, (R1, I2_U16)),
    ("OILH", "RI-a", 0xA5A, (R1, I2_U16)),
    ("OILL", "RI-a", 0xA5B, (R1, I2_U16)),
    ("LLIHH", "RI-a", 0xA5C, (R1, I2_U16)),
    ("LLIHL", "RI-a", 0xA5D, (R1, I2_U16)),
    ("LLILH", "RI-a", 0xA5E, (R1, I2_U16)),
    ("LLILL", "RI-a", 0xA5F, (R1, I2_U16)),
    # ---- RI-b / RI-c: 16-bit relative
    ("BRAS", "RI-b", 0xA75, (R1, REL16_2)),
    ("BRCT", "RI-b", 0xA76, (R1, REL16_2)),
    ("BRCTG", "RI-b", 0xA77, (R1, REL16_2)),
    ("BRC", "RI-c", 0xA74, (M1, REL16_2)),
    # ---- RIL-a: 32-bit immediates
    ("LGFI", "RIL-a", 0xC01, (R1, I2_S32)),
    ("XIHF", "RIL-a", 0xC06, (R1, I2_U32)),
    ("XILF", "RIL-a", 0xC07, (R1, I2_U32)),
    ("IIHF", "RIL-a", 0xC08, (R1, I2_U32)),
    ("IILF", "RIL-a", 0xC09, (R1, I2_U32)),
    ("NIHF", "RIL-a", 0xC0A, (R1, I2_U32)),
    ("NILF", "RIL-a", 0xC0B, (R1, I2_U32)),
    ("OIHF", "RIL-a", 0xC0C, (R1, I2_U32)),
    ("OILF", "RIL-a", 0xC0D, (R1, I2_U32)),
    ("LLIHF", "RIL-a", 0xC0E, (R1, I2_U32)),
    ("LLILF", "RIL-a", 0xC0F, (R1, I2_U32)),
    ("MSGFI", "RIL-a", 0xC20, (R1, I2_S32)),
    ("MSFI", "RIL-a", 0xC21, (R1, I2_S32)),
    ("SLGFI", "RIL-a", 0xC24, (R1, I2_U32)),
    ("SLFI", "RIL-a", 0xC25, (R1, I2_U32)),
    ("AGFI", "RIL-a", 0xC28, (R1, I2_S32)),
    ("AFI", "RIL-a", 0xC29, (R1, I2_S32)),
    ("ALGFI", "RIL-a", 0xC2A, (R1, I2_U32)),
    ("ALFI", "RIL-a", 0xC2B, (R1, I2_U32)),
    ("CGFI", "RIL-a", 0xC2C, (R1, I2_S32)),
    ("CFI", "RIL-a", 0xC2D, (R1, I2_S32)),
    ("CLGFI", "RIL-a", 0xC2E, (R1, I2_U32)),
    ("CLFI", "RIL-a", 0xC2F, (R1, I2_U32)),
    # ---- RIL-b / RIL-c: 32-bit relative (halfwords from the instruction start)
    ("LARL", "RIL-b", 0xC00, (R1, REL32_2)),
    ("BRASL", "RIL-b", 0xC05, (R1, REL32_2)),
    ("LGRL", "RIL-b", 0xC48, (R1, REL32_2)),     # target must be doubleword aligned
    ("STGRL", "RIL-b", 0xC4B, (R1, REL32_2)),
    ("LGFRL", "RIL-b", 0xC4C, (R1, REL32_2)),    # word aligned
    ("LRL", "RIL-b", 0xC4D, (R1, REL32_2)),
    ("LLGFRL", "RIL-b", 0xC4E, (R1, REL32_2)),
    ("STRL", "RIL-b", 0xC4F, (R1, REL32_2)),
    ("BRCL", "RIL-c", 0xC04, (M1, REL32_2)),
    # ---- RS-a / RSY-a / RSY-b: shifts (amount = D2(B2) & 63), multiple load/store
    ("SLL", "RS-a", 0x89, (R1, RS)),
    ("SRL", "RS-a", 0x88, (R1, RS)),
    ("SRA", "RS-a", 0x8A, (R1, RS)),
    ("SLA", "RS-a", 0x8B, (R1, RS)),
    ("STM", "RS-a", 0x90, (R1, R3, RS)),
    ("LM", "RS-a", 0x98, (R1, R3, RS)),
    ("SLLG", "RSY-a", 0xEB0D, (R1, R3, RSY)),
    ("SRLG", "RSY-a", 0xEB0C, (R1, R3, RSY)),
    ("SRAG", "RSY-a", 0xEB0A, (R1, R3, RSY)),
    ("SLAG", "RSY-a", 0xEB0B, (R1, R3, RSY)),
    ("SLLK", "RSY-a", 0xEBDF, (R1, R3, RSY)),
    ("SRLK", "RSY-a", 0xEBDE, (R1, R3, RSY)),
    ("SRAK", "RSY-a", 0xEBDC, (R1, R3, RSY)),
    ("SLAK", "RSY-a", 0xEBDD, (R1, R3, RSY)),
    ("RLL", "RSY-a", 0xEB1D, (R1, R3, RSY)),
    ("RLLG", "RSY-a", 0xEB1C, (R1, R3, RSY)),
    ("STMG", "RSY-a", 0xEB24, (R1, R3, RSY)),
    ("LMG", "RSY-a", 0xEB04, (R1, R3, RSY)),
    ("STMY", "RSY-a", 0xEB90, (R1, R3, RSY)),
    ("LMY", "RSY-a", 0xEB98, (R1, R3, RSY)),
    ("LOC", "RSY-b", 0xEBF2, (R1, RSY, M3)),
    ("LOCG", "RSY-b", 0xEBE2, (R1, RSY, M3)),
    ("STOC", "RSY-b", 0xEBF3, (R1, RSY, M3)),
    ("STOCG", "RSY-b", 0xEBE3, (R1, RSY, M3)),
    # ---- RIE: compare-and-trap, compare-and-branch, rotate-insert, load-on-condition imm
    ("CGIT", "RIE-a", 0xEC70, (R1, I2_S16, M3)),
    ("CLGIT", "RIE-a", 0xEC71, (R1, I2_U16, M3)),
    ("CIT", "RIE-a", 0xEC72, (R1, I2_S16, M3)),
    ("CLFIT", "RIE-a", 0xEC73, (R1, I2_U16, M3)),
    ("CGRJ", "RIE-b", 0xEC64, (R1, R2, M3, REL16_4)),
    ("CLGRJ", "RIE-b", 0xEC65, (R1, R2, M3, REL16_4)),
    ("CRJ", "RIE-b", 0xEC76, (R1, R2, M3, REL16_4)),
    ("CLRJ", "RIE-b", 0xEC77, (R1, R2, M3, REL16_4)),
    ("CGIJ", "RIE-c", 0xEC7C, (R1, I2_S8, M3, REL16_4)),
    ("CLGIJ", "RIE-c", 0xEC7D, (R1, I2_U8, M3, REL16_4)),
    ("CIJ", "RIE-c", 0xEC7E, (R1, I2_S8, M3, REL16_4)),
    ("CLIJ", "RIE-c", 0xEC7F, (R1, I2_U8, M3, REL16_4)),
    ("RISBG", "RIE-f", 0xEC55, (R1, R2, I3, I4, I5)),
    ("RISBGN", "RIE-f", 0xEC59, (R1, R2, I3, I4, I5)),
    ("LOCHI", "RIE-g", 0xEC42, (R1, I2_S16, M3)),
    ("LOCGHI", "RIE-g", 0xEC46, (R1, I2_S16, M3)),
    # ---- SS-a / SI / S: storage-storage, storage-immediate, FPC rounding mode
    ("MVC", "SS-a", 0xD2, (SS1, RS)),
    ("NC", "SS-a", 0xD4, (SS1, RS)),
    ("CLC", "SS-a", 0xD5, (SS1, RS)),
    ("OC", "SS-a", 0xD6, (SS1, RS)),
    ("XC", "SS-a", 0xD7, (SS1, RS)),
    ("MVI", "SI", 0x92, (SI1, I2_U8)),
    ("TM", "SI", 0x91, (SI1, I2_U8)),
    ("CLI", "SI", 0x95, (SI1, I2_U8)),
    ("SRNM", "S", 0xB299, (RS,)),
    ("TRAP4", "S", 0xB2FF, (RS,)),
)

INSNS: MappingProxyType = MappingProxyType({
    row[0]: Insn(*row) for row in _ROWS
})


# --------------------------------------------------------------------------------------
# Operand helpers and label uses
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Mem:
    """A storage operand D(X,B).  Register 0 as base or index means "no register"."""

    base: int
    disp: int = 0
    index: int = 0


@dataclass(frozen=True, slots=True)
class Rel:
    """A raw relative target: `halfwords` counted from the start of the instruction."""

    halfwords: int


@dataclass(frozen=True, slots=True)
class PcRel:
    """A `LabelUse`: a signed `bits`-bit halfword count at byte 2 of the instruction.

    Every s390x relative form (BRC, BRAS, BRCT, CGRJ... = 16 bits; BRCL, BRASL, LARL,
    LGRL... = 32 bits) keeps its displacement at byte offset 2, counted in halfwords from
    the start of the instruction.
    """

    bits: int

    def patch(self, code: bytearray, at: int, target: int) -> None:
        delta = target - at
        fast = _PCREL_PACK.get(self.bits)  # the common case: in range, halfword aligned
        if fast is not None and not delta & 1 and fast[1] <= delta >> 1 <= fast[2] and \
                code.__class__ is bytearray:
            fast[0].pack_into(code, at + 2, delta >> 1)
            return
        if delta & 1:
            raise EncodingError(f"relative target {target:#x} from {at:#x} is not halfword aligned")
        lo, hi = -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        hw = delta >> 1
        if not lo <= hw <= hi:
            raise EncodingError(
                f"relative target {target:#x} from {at:#x} out of range for a {self.bits}-bit "
                f"halfword displacement ({hw} not in {lo}..{hi})")
        n = self.bits // 8
        code[at + 2:at + 2 + n] = hw.to_bytes(n, "big", signed=True)


PCREL16 = PcRel(16)
PCREL32 = PcRel(32)
#: bits -> (big-endian signed packer, lowest and highest halfword count): `PcRel.patch`.
_PCREL_PACK = {16: (struct.Struct(">h"), -(1 << 15), (1 << 15) - 1),
               32: (struct.Struct(">i"), -(1 << 31), (1 << 31) - 1)}
_REL_USE = MappingProxyType({Kind.REL16: PCREL16, Kind.REL32: PCREL32})


def patch_pcrel32(code: bytearray, at: int, target: int) -> None:
    """Point the RIL-b/RIL-c instruction at `at` (BRASL, LARL, ...) at `target`.

    For hosts resolving `Reloc` records of `S390xAssembler.brasl_reloc`: both offsets are
    relative to the same base (e.g. both absolute addresses).
    """
    PCREL32.patch(code, at, target)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_range(where: str, what: str, v: Any, lo: int, hi: int) -> int:
    if not _is_int(v):
        raise EncodingError(f"{where}: {what} must be an int, got {v!r}")
    if not lo <= v <= hi:
        raise EncodingError(f"{where}: {what} {v} out of range {lo}..{hi}")
    return v


# --------------------------------------------------------------------------------------
# Compiled rows: formats as data
# --------------------------------------------------------------------------------------
# How `_encode` stores one flattened value (besides masking it to its field).
_PLAIN, _EVEN, _LENGTH, _DISP20, _LABEL = range(5)


@dataclass(frozen=True, slots=True)
class _Row:
    """An `Insn` compiled once, at import, from its format's layout.

    `word` is the instruction with its opcode bits in place and every operand field zero.
    `slots` has one tuple per flattened operand value, in GNU order:
    ``(operand number, what, lo, hi, how, shift, mask, shift2)``: the value must be an int
    in lo..hi; it is stored as ``(v & mask) << shift`` (``v - 1`` for an SS length); a
    20-bit displacement also stores its high 8 bits at `shift2` (its ``dh2`` field).
    `label` is the index of the label/`Rel` value in the flattened operands (-1: none).
    """

    insn: Insn
    word: int
    size: int
    slots: tuple
    label: int
    use: PcRel | None


def _compile(insn: Insn) -> _Row:
    layout = FORMATS[insn.fmt]
    size = bit = sum(w for _, w in layout)
    place: dict[str, tuple[int, int]] = {}      # field -> (shift, width)
    for name, width in layout:
        bit -= width
        place[name] = (bit, width)
    op_shift = place["op"][0]
    op2_shift, op2_width = place.get("op2", (0, 0))
    op, op2 = insn.opcode >> op2_width, insn.opcode & ((1 << op2_width) - 1)
    word = op << op_shift | op2 << op2_shift
    slots, label, use = [], -1, None
    for n, opnd in enumerate(insn.operands, 1):
        for field, (what, lo, hi) in zip(opnd.fields, _SLOTS[opnd.kind]):
            shift2 = 0
            if opnd.kind in _REL_USE:
                how, label, use = _LABEL, len(slots), _REL_USE[opnd.kind]
            elif opnd.kind is Kind.GPR_EVEN:
                how = _EVEN
            elif what == "length":
                how = _LENGTH
            elif field == "d2" and "dl2" in place:
                how, field, shift2 = _DISP20, "dl2", place["dh2"][0]
            else:
                how = _PLAIN
            shift, width = place[field]
            slots.append((n, what, lo, hi, how, shift, (1 << width) - 1, shift2))
    return _Row(insn, word, size // 8, tuple(slots), label, use)


_BY_NAME: MappingProxyType = MappingProxyType({m: _compile(insn) for m, insn in INSNS.items()})


def _encode(row: _Row, flat) -> bytes:
    """The one encoder: check every flattened value against its slot and lay it out.

    A label's value is given as 0 (its displacement is patched by the buffer's fixup);
    negative values are stored in two's complement.
    """
    word = row.word
    for v, (n, what, lo, hi, how, shift, mask, shift2) in zip(flat, row.slots):
        if not isinstance(v, int) or isinstance(v, bool):
            raise EncodingError(f"{row.insn.mnemonic} operand {n}: {what} must be an int, "
                                f"got {v!r}")
        if not lo <= v <= hi:
            raise EncodingError(f"{row.insn.mnemonic} operand {n}: {what} {v} out of range "
                                f"{lo}..{hi}")
        if how == _EVEN and v & 1:
            raise EncodingError(f"{row.insn.mnemonic} operand {n}: a register pair needs "
                                f"an even register, got {v}")
        if how == _LENGTH:
            v -= 1                                    # SS stores length - 1
        elif how == _DISP20:
            word |= ((v >> 12) & 0xFF) << shift2      # dh2: the high 8 bits
        word |= (v & mask) << shift
    return word.to_bytes(row.size, "big")


def _takes(row: _Row, got: int) -> EncodingError:
    return EncodingError(f"{row.insn.mnemonic} takes the operands ({_signature(row.insn)}), "
                         f"got {got} values")


# --------------------------------------------------------------------------------------
# Caches of encodings (compile speed).  Each holds only what `_encode` produced for
# operands it accepted; `clear_caches()` empties them (benchmarks start cold), and so does
# `winch.masm.buffer.clear_memo_caches()` (with every other ISA's memo caches).
# --------------------------------------------------------------------------------------
# (mnemonic, *flat ints) -> bytes, for label-free rows: `S390xAssembler.ins`.
_MEMO: dict = memo_cache()
_MEMO_LIMIT = 100_000  # entries; displacements vary: a long fuzzing run stays bounded
# (mnemonic, r1) -> (first two bytes, lo, hi, mask, immediate bytes) for the RI-a and
# RIL-a rows, whose immediate is all of bytes 2..: `S390xAssembler.ins_imm`.
_IMM: dict = memo_cache()
_IMM_FORMATS = ("RI-a", "RIL-a")
# (mnemonic, first operand) -> (bytes, LabelUse): `S390xAssembler.ins_label`.
_LABELED: dict = memo_cache()


def clear_caches() -> None:
    """Forget every memoized encoding (each is rebuilt by `_encode` on its next use)."""
    _MEMO.clear()
    _IMM.clear()
    _LABELED.clear()


def _memo_miss(key: tuple) -> bytes:
    """Encode a `S390xAssembler.ins` key ``(mnemonic, *flat ints)`` and remember it."""
    row = _BY_NAME.get(key[0])
    if row is None or row.label >= 0:
        raise EncodingError(f"ins: {key[0]!r} is not a label-free s390x mnemonic")
    if len(key) - 1 != len(row.slots):
        raise _takes(row, len(key) - 1)
    raw = _encode(row, key[1:])
    if len(_MEMO) >= _MEMO_LIMIT:
        _MEMO.clear()
    _MEMO[key] = raw
    return raw


def _imm_template(mnemonic: str, r1: int) -> tuple:
    row = _BY_NAME.get(mnemonic)
    if row is None or row.insn.fmt not in _IMM_FORMATS:
        raise EncodingError(f"ins_imm: {mnemonic!r} is not an RI-a or RIL-a mnemonic")
    _, _, lo, hi, _, _, mask, _ = row.slots[1]
    t = (_encode(row, (r1, 0))[:2], lo, hi, mask, row.size - 2)
    _IMM[mnemonic, r1] = t
    return t


def _label_template(mnemonic: str, first: Any) -> tuple | None:
    """``(bytes, LabelUse)`` of ``mnemonic first, <label>`` with the displacement 0, for the
    two-operand relative rows (BRC, BRCL, BRASL, LARL, LGRL, ...); None for other rows."""
    row = _BY_NAME.get(mnemonic)
    if row is None or row.label != 1 or len(row.slots) != 2:
        return None
    t = (_encode(row, (first, 0)), row.use)
    _LABELED[mnemonic, first] = t
    return t


# ``BRC mask, *+6`` followed by the trap halfword 0x0000, by mask: `skip_trap`.
_SKIP_TRAP = tuple(_encode(_BY_NAME["BRC"], (m, 3)) + b"\x00\x00" for m in range(16))


# --------------------------------------------------------------------------------------
# The assembler
# --------------------------------------------------------------------------------------
class S390xAssembler:
    """Appends s390x instructions to a `CodeBuffer`; see the module docstring."""

    __slots__ = ("buf",)

    def __init__(self, buf: CodeBuffer | None = None) -> None:
        self.buf = buf if buf is not None else CodeBuffer()

    # -- the generic emitter ---------------------------------------------------------------
    def emit(self, mnemonic: str, *operands: Any) -> int:
        """Encode `mnemonic` with `operands` (GNU order) and append it; returns its offset."""
        row = _BY_NAME.get(mnemonic.upper())
        if row is None:
            raise EncodingError(f"unknown s390x mnemonic {mnemonic!r}")
        flat = self._flatten(row, operands)
        target = None
        if row.label >= 0:
            target = flat[row.label]
            if isinstance(target, Rel):
                flat[row.label] = target.halfwords
                target = None
            elif self._is_label(target):
                flat[row.label] = 0
            else:
                n = row.slots[row.label][0]
                raise EncodingError(f"{row.insn.mnemonic} operand {n}: expected a label of "
                                    f"this buffer or a Rel, got {target!r}")
        raw = _encode(row, flat)
        start = len(self.buf.data)
        if target is not None:
            self.buf.use_label(target, row.use, at=start)
        self.buf.data += raw
        return start

    def ins(self, *key: Any) -> None:
        """Append a label-free instruction given as ``(mnemonic, *flat ints)``: the hot path.

        The operands are `emit`'s, flattened: a storage operand as its ``d, x, b`` or
        ``d, b`` ints in GNU order (``ins("LG", r1, d2, x2, b2)``, ``ins("SLLG", r1, r3,
        d2, b2)``), the mnemonic in upper case.  Encodings are memoized by that tuple; a
        new one is checked and encoded by `_encode`, so errors are `emit`'s.
        """
        raw = _MEMO.get(key)
        if raw is None:
            raw = _memo_miss(key)
        self.buf.data += raw

    def ins_imm(self, mnemonic: str, r1: int, imm: int) -> None:
        """Append an RI-a/RIL-a instruction (LGHI, AGFI, IILF, CLFI, ...): its first two
        bytes come from a cached template, the immediate is patched in after a range check."""
        t = _IMM.get((mnemonic, r1))
        if t is None:
            t = _imm_template(mnemonic, r1)
        head, lo, hi, mask, n = t
        if imm.__class__ is int and lo <= imm <= hi:
            self.buf.data += head + (imm & mask).to_bytes(n, "big")
        else:
            self.emit(mnemonic, r1, imm)  # an IntEnum immediate, or the EncodingError

    def _is_label(self, target: Any) -> bool:
        if not _is_int(target) or target < 0:
            return False
        try:
            self.buf.label_offset(target)
        except IndexError:
            return False
        return True

    @staticmethod
    def _flatten(row: _Row, operands: tuple) -> list:
        """One int (or label/Rel) per operand slot; a `Mem` fills a whole D(X,B)/D(B) group."""
        insn = row.insn
        flat: list = []
        i = 0
        for opnd in insn.operands:
            if i >= len(operands):
                break
            v = operands[i]
            if isinstance(v, Mem):
                i += 1
                if opnd.kind is Kind.MEM_RX or opnd.kind is Kind.MEM_RXY:
                    flat += (v.disp, v.index, v.base)
                elif opnd.kind is Kind.MEM_RS or opnd.kind is Kind.MEM_RSY:
                    if v.index != 0:
                        raise EncodingError(f"{insn.mnemonic}: this storage operand has no "
                                            f"index register, got index {v.index}")
                    flat += (v.disp, v.base)
                else:
                    raise EncodingError(f"{insn.mnemonic}: a Mem does not fit operand "
                                        f"{opnd.kind.value!r}")
            else:
                k = len(_SLOTS[opnd.kind])
                flat += operands[i:i + k]
                i += k
        if i != len(operands) or len(flat) != len(row.slots):
            raise _takes(row, len(operands))
        return flat

    def __dir__(self):
        return sorted(set(super().__dir__()) | {m.lower() for m in INSNS})

    def __getattr__(self, name: str):
        # Lower-case mnemonics as methods: asm.agr(1, 2) == asm.emit("AGR", 1, 2).
        if name.islower() and name.upper() in INSNS:
            mnemonic = name.upper()
            return lambda *operands: self.emit(mnemonic, *operands)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def emit_mem(self, short: str, long: str, r1: int, mem: Mem) -> int:
        """Emit the RX form `short` when ``mem.disp`` fits 0..4095, else the RXY form `long`.

        E.g. ``emit_mem("L", "LY", r, mem)``, ``emit_mem("STD", "STDY", f, mem)``.
        """
        if not isinstance(mem, Mem):
            raise EncodingError(f"emit_mem: expected a Mem, got {mem!r}")
        ok = _is_int(mem.disp) and DISP12[0] <= mem.disp <= DISP12[1]
        return self.emit(short if ok else long, r1, mem)

    # -- branches, calls, traps --------------------------------------------------------------
    def brc(self, mask: int, label: int | Rel) -> int:
        """Branch relative on condition, +-64 KiB."""
        return self.ins_label("BRC", mask, label)

    def brcl(self, mask: int, label: int | Rel) -> int:
        """Branch relative on condition long, +-4 GiB."""
        return self.ins_label("BRCL", mask, label)

    def ins_label(self, mnemonic: str, first: Any, label: int | Rel) -> int:
        """``emit(mnemonic, first, label)`` for the two-operand relative rows (BRC, BRCL,
        BRASL, LARL, ...): a label of this buffer takes a cached template (displacement 0)
        and records its fixup; anything else (a Rel, an error) goes through `emit`."""
        t = _LABELED.get((mnemonic, first))
        if t is None:
            t = _label_template(mnemonic, first)
        if t is not None and label.__class__ is int and label >= 0:
            buf = self.buf
            try:
                buf.label_offset(label)  # a label of this buffer
            except IndexError:
                pass
            else:
                start = len(buf.data)
                buf.use_label(label, t[1], at=start)
                buf.data += t[0]
                return start
        return self.emit(mnemonic, first, label)

    def skip_trap(self, mask: int, kind: Any) -> int:
        """``BRC mask, *+6; trap kind``: trap unless the condition `mask` holds.

        The same bytes as a `brc` to a label bound right after a `trap` (code 0), without
        the label: the displacement is the constant 3 halfwords.  Returns the BRC's offset.
        """
        if mask.__class__ is not int or not 0 <= mask <= 15:
            _check_range("skip_trap", "mask", mask, 0, 15)
            mask = int(mask)
        buf = self.buf
        start = len(buf.data)
        buf.add_trap(kind, at=start + 4)
        buf.data += _SKIP_TRAP[mask]
        return start

    def j(self, label: int | Rel) -> int:
        """Unconditional short jump (BRC 15)."""
        return self.ins_label("BRC", 15, label)

    def jg(self, label: int | Rel) -> int:
        """Unconditional long jump (BRCL 15)."""
        return self.ins_label("BRCL", 15, label)

    def br(self, r2: int) -> int:
        """Branch to the address in `r2` (BCR 15); ``br(14)`` is the return."""
        _check_range("BR", "general register", r2, 1, 15)
        start = len(self.buf.data)
        self.ins("BCR", 15, r2)
        return start

    def nop(self) -> int:
        """A 2-byte no-op (BCR 0,0)."""
        return self.emit("BCR", 0, 0)

    def brasl_reloc(self, kind: str, target: int, r1: int = 14) -> int:
        """A call ``BRASL r1, <target>`` that only the host can resolve.

        Records ``Reloc(offset, kind, target)`` with `offset` = the instruction start; the
        32-bit halfword displacement at offset + 2 is left zero for `patch_pcrel32`.
        """
        start = self.buf.offset()
        self.buf.add_reloc(kind, target, at=start)
        return self.emit("BRASL", r1, Rel(0))

    def trap(self, kind: Any, code: int = 0) -> int:
        """An always-trapping halfword ``0x00 code`` recorded in the buffer's trap table.

        Opcode 0x00 is unassigned, so the CPU raises an operation exception with the PC at
        this instruction; the host reads `code` from the byte at PC + 1.  Capstone cannot
        decode it (disassemble with ``skipdata``).
        """
        _check_range("trap", "trap code", code, 0, 255)
        buf = self.buf
        start = len(buf.data)
        buf.add_trap(kind, at=start)
        buf.data += bytes((0x00, code))
        return start

    # -- constants ---------------------------------------------------------------------------
    def load_const(self, r: int, value: int, size: int = 64) -> int:
        """Load `value` into GPR `r` with the shortest sequence; returns the bytes emitted.

        `size` is 32 or 64 (4 and 8 are accepted as byte sizes).  With size 32 only the low
        32 bits of `r` are defined afterwards (the high half may be kept or changed); `value`
        may be given signed or unsigned.  With size 64 all 64 bits are set.
        """
        if (value.__class__ is int and -0x8000 <= value <= 0x7FFF and r.__class__ is int
                and size.__class__ is int and size in _SIZE_BITS):
            # the one-instruction case of `_const_sequence`
            self.ins_imm("LHI" if _SIZE_BITS[size] == 32 else "LGHI", r, value)
            return 4
        _check_range("load_const", "general register", r, 0, 15)
        bits = _value_bits("load_const", value, size)
        start = len(self.buf.data)
        for mnemonic, imm in _const_sequence(value, bits):
            self.ins_imm(mnemonic, r, imm)
        return len(self.buf.data) - start

    def load_const_pool(self, r: int, value: int, size: int = 64) -> int:
        """Load `value` from the constant pool with LGRL (size 64) or LRL (size 32)."""
        bits = _value_bits("load_const_pool", value, size)
        raw = (value & ((1 << bits) - 1)).to_bytes(bits // 8, "big")
        label = self.buf.constant(raw, bits // 8)   # LGRL needs 8-, LRL 4-byte alignment
        return self.ins_label("LGRL" if bits == 64 else "LRL", r, label)

    def load_fp_const(self, f: int, raw: bytes, scratch: int) -> int:
        """Load a float constant (big-endian `raw`, 4 or 8 bytes) into FPR `f`.

        ``LARL scratch, pool; LE/LD f, 0(scratch)`` (there is no PC-relative FP load on z13).
        A 4-byte value lands in the left half of the FPR, as float32 arithmetic expects.
        """
        if len(raw) not in (4, 8):
            raise EncodingError(f"load_fp_const: raw must be 4 or 8 bytes, got {len(raw)}")
        _check_range("load_fp_const", "scratch register", scratch, 1, 15)
        label = self.buf.constant(bytes(raw), len(raw))
        start = self.ins_label("LARL", scratch, label)
        self.ins("LE" if len(raw) == 4 else "LD", f, 0, 0, scratch)
        return start


# --------------------------------------------------------------------------------------
# Constant synthesis
# --------------------------------------------------------------------------------------
_M64 = (1 << 64) - 1
# Whole-register loads: (mnemonic, function value -> immediate or None if not representable).
_LOADS64 = (
    ("LGHI", lambda v: _signed(v, 64) if -0x8000 <= _signed(v, 64) <= 0x7FFF else None),
    ("LLILL", lambda v: v if v >> 16 == 0 else None),
    ("LLILH", lambda v: v >> 16 if v & ~(0xFFFF << 16) == 0 else None),
    ("LLIHL", lambda v: v >> 32 if v & ~(0xFFFF << 32) == 0 else None),
    ("LLIHH", lambda v: v >> 48 if v & ~(0xFFFF << 48) == 0 else None),
    ("LGFI", lambda v: _signed(v, 64) if -0x8000_0000 <= _signed(v, 64) <= 0x7FFF_FFFF else None),
    ("LLILF", lambda v: v if v >> 32 == 0 else None),
    ("LLIHF", lambda v: v >> 32 if v & 0xFFFF_FFFF == 0 else None),
)
# Inserts that replace one field and keep the rest: (mnemonic, shift, width).
_INSERTS = (
    ("IILL", 0, 16), ("IILH", 16, 16), ("IIHL", 32, 16), ("IIHH", 48, 16),
    ("IILF", 0, 32), ("IIHF", 32, 32),
)


_SIZE_BITS = MappingProxyType({4: 32, 8: 64, 32: 32, 64: 64})


def _value_bits(where: str, value: int, size: int) -> int:
    """32 or 64 from `size` (bits, or 4/8 bytes), checking that `value` fits signed or unsigned."""
    bits = _SIZE_BITS.get(size) if _is_int(size) else None
    if bits is None:
        raise EncodingError(f"{where}: size must be 32 or 64, got {size!r}")
    _check_range(where, f"{bits}-bit value", value, -(1 << (bits - 1)), (1 << bits) - 1)
    return bits


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _const_sequence(value: int, bits: int) -> list[tuple[str, int]]:
    """The shortest (in bytes) list of (mnemonic, immediate) that sets `value`."""
    if bits == 32:
        s = _signed(value, 32)
        if -0x8000 <= s <= 0x7FFF:
            return [("LHI", s)]
        return [("IILF", value & 0xFFFF_FFFF)]
    v = value & _M64
    s = _signed(v, 64)
    if -0x8000 <= s <= 0x7FFF:
        return [("LGHI", s)]  # what `_search64` finds: the first of the shortest loads
    return _search64(v)


def _search64(v: int) -> list[tuple[str, int]]:
    """The shortest load, or load + insert, that sets the 64-bit pattern `v`."""
    best: list[tuple[str, int]] | None = None
    best_size = 1 << 30
    for mnemonic, fn in _LOADS64:
        imm = fn(v)
        if imm is not None and INSNS[mnemonic].size < best_size:
            best, best_size = [(mnemonic, imm)], INSNS[mnemonic].size
    if best is not None:
        return best
    for mnemonic, fn in _LOADS64:
        for ins, shift, width in _INSERTS:
            keep = _M64 & ~(((1 << width) - 1) << shift)
            # The load must get every bit outside the inserted field right.
            part = (v >> shift) & ((1 << width) - 1)
            base = v & keep
            for candidate in (base, base | (((1 << width) - 1) << shift)):
                imm = fn(candidate)
                if imm is None:
                    continue
                size = INSNS[mnemonic].size + INSNS[ins].size
                if size < best_size:
                    best, best_size = [(mnemonic, imm), (ins, part)], size
    if best is None:  # unreachable: LLIHF + IILF covers every value
        raise EncodingError(f"internal: no sequence for {v:#x}")
    return best


def _signature(insn: Insn) -> str:
    return ", ".join(what for o in insn.operands for what, _, _ in _SLOTS[o.kind])
