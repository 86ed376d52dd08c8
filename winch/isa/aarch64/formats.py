"""A64 instruction formats: operand validation, the encoders, their tables and templates.

Problem
-------
The aarch64 assembler (asm.py) needs every A64 instruction of the scalar WebAssembly 2.0
lowering encoded exactly as the Arm ARM says, with operands validated up front so that a bad
operand is an `EncodingError` rather than a wrong instruction.

Layout
------
A64 is regular: each instruction class ("format") is a fixed bit layout whose opcode bits
are constant per mnemonic.  For every format this module has

- a *table* (a dict) from mnemonic to the constant bits of that format, and
- one small *encoder function* `enc_<format>(base, ...)` that validates and places the
  operand fields and returns the 32-bit word (the one source of truth of the encodings);

then the *templates* (`T_*`): each hot form's word with every operand field zero, built at
import by those encoders, for the assembler's fast paths; `mov_imm_words`; and the label
uses (`PcRelUse`: `IMM26`, `IMM19`, `IMM14`, `ADR21`) that `CodeBuffer.finish()` patches.
Conventions (register 31, sizes in bytes, widths, offsets) are those of asm.py's docstring.

Invariants
----------
- An encoder returns a defined (non-UNPREDICTABLE) ARMv8.0 word or raises `EncodingError`.
- A template is the encoder's word for zero operands (tests/test_aarch64_templates.py).
- A fixup patch only touches the displacement bits of its instruction.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum, IntEnum

from winch.errors import EncodingError
from winch.isa.aarch64 import imms as _imms

#: Register 31 read as the stack pointer (in forms that use sp).
SP = 31
#: Register 31 read as the zero register (in forms that use zr).
ZR = 31
#: The link register x30, written by `bl`/`blr` and read by `ret`.
LR = 30
#: The frame pointer x29 of the AAPCS64.
FP = 29


class Cond(IntEnum):
    """Condition codes (bits 3:0 of b.cond, csel, ccmp, fcsel)."""

    EQ = 0
    NE = 1
    CS = 2
    HS = 2
    CC = 3
    LO = 3
    MI = 4
    PL = 5
    VS = 6
    VC = 7
    HI = 8
    LS = 9
    GE = 10
    LT = 11
    GT = 12
    LE = 13
    AL = 14
    NV = 15

    def invert(self) -> "Cond":
        """The opposite condition; AL and NV (always) have none."""
        if self >= Cond.AL:
            raise EncodingError(f"condition {self.name} has no inverse")
        return Cond(self ^ 1)


class Shift(IntEnum):
    """Shift of the second register operand (ROR only in logical instructions)."""

    LSL = 0
    LSR = 1
    ASR = 2
    ROR = 3


class Extend(IntEnum):
    """Extend of the second register operand (the `option` field).

    In register-offset loads and stores only UXTW, LSL (= UXTX), SXTW and SXTX are valid.
    """

    UXTB = 0
    UXTH = 1
    UXTW = 2
    UXTX = 3
    LSL = 3
    SXTB = 4
    SXTH = 5
    SXTW = 6
    SXTX = 7


class Index(Enum):
    """Addressing mode of `ldp`/`stp`: signed offset, pre-index (writeback) or post-index."""

    OFFSET = "offset"
    PRE = "pre"
    POST = "post"


# ---------------------------------------------------------------------------------------------
# Field validation
# ---------------------------------------------------------------------------------------------


def _int(value, what: str) -> int:
    if type(value) is int:  # the common case first: this runs for every field
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise EncodingError(f"{what} must be an int, not {value!r}")
    return int(value)


def _reg(r, what: str = "register") -> int:
    if type(r) is int and 0 <= r <= 31:
        return r
    r = _int(r, what)
    if not 0 <= r <= 31:
        raise EncodingError(f"{what} must be 0..31, not {r}")
    return r


def _sf(size) -> int:
    """The sf bit for an integer operand size in bytes."""
    if isinstance(size, bool) or size not in (4, 8):
        raise EncodingError(f"integer operand size must be 4 or 8 bytes, not {size!r}")
    return 1 if size == 8 else 0


def _ftype(size) -> int:
    """The ftype field for a scalar FP size in bytes (4 = single, 8 = double)."""
    if isinstance(size, bool) or size not in (4, 8):
        raise EncodingError(f"FP operand size must be 4 or 8 bytes, not {size!r}")
    return 0 if size == 4 else 1


def _uimm(value, bits: int, what: str) -> int:
    value = _int(value, what)
    if not 0 <= value < (1 << bits):
        raise EncodingError(f"{what} must be 0..{(1 << bits) - 1}, not {value}")
    return value


def _simm(value, bits: int, what: str) -> int:
    """A signed immediate, returned as its `bits`-bit two's-complement field."""
    value = _int(value, what)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not lo <= value <= hi:
        raise EncodingError(f"{what} must be {lo}..{hi}, not {value}")
    return value & ((1 << bits) - 1)


def _scaled(offset, scale: int, bits: int, signed: bool, what: str) -> int:
    """A byte offset that must be a multiple of `scale`, as a `bits`-bit field of offset/scale."""
    offset = _int(offset, what)
    if offset % scale:
        raise EncodingError(f"{what} {offset} is not a multiple of {scale}")
    if signed:
        return _simm(offset // scale, bits, f"{what}/{scale}")
    return _uimm(offset // scale, bits, f"{what}/{scale}")


def _cond(cond) -> int:
    if isinstance(cond, bool):
        raise EncodingError(f"bad condition {cond!r}")
    try:
        return int(Cond(cond))
    except (ValueError, TypeError):
        raise EncodingError(f"bad condition {cond!r}") from None


def _enum(kind, value, what: str):
    if isinstance(value, bool):
        raise EncodingError(f"bad {what} {value!r}")
    try:
        return kind(value)
    except (ValueError, TypeError):
        raise EncodingError(f"bad {what} {value!r}") from None


# ---------------------------------------------------------------------------------------------
# Formats: a table of constant bits per mnemonic + one encoder per format
# ---------------------------------------------------------------------------------------------

# Add/subtract (immediate): sf op S 100010 sh imm12 Rn Rd
ADDSUB_IMM = {"add": 0x11000000, "adds": 0x31000000, "sub": 0x51000000, "subs": 0x71000000}


def enc_addsub_imm(base: int, size, rd, rn, imm12, shift=0) -> int:
    if shift not in (0, 12) or isinstance(shift, bool):
        raise EncodingError(f"add/sub immediate shift must be 0 or 12, not {shift!r}")
    imm12 = _uimm(imm12, 12, "add/sub immediate")
    return (base | _sf(size) << 31 | (shift == 12) << 22 | imm12 << 10
            | _reg(rn, "rn") << 5 | _reg(rd, "rd"))


# Add/subtract (shifted register): sf op S 01011 shift 0 Rm imm6 Rn Rd
ADDSUB_SHIFTED = {"add": 0x0B000000, "adds": 0x2B000000, "sub": 0x4B000000, "subs": 0x6B000000}


def _shift_amount(size, shift, amount, allow_ror: bool) -> tuple[int, int]:
    shift = _enum(Shift, shift, "shift")
    if shift == Shift.ROR and not allow_ror:
        raise EncodingError("ROR is only valid in logical instructions")
    amount = _int(amount, "shift amount")
    if not 0 <= amount < 8 * size:
        raise EncodingError(f"shift amount must be 0..{8 * size - 1}, not {amount}")
    return int(shift), amount


def enc_addsub_shifted(base: int, size, rd, rn, rm, shift=Shift.LSL, amount=0) -> int:
    sf = _sf(size)
    shift, amount = _shift_amount(size, shift, amount, allow_ror=False)
    return (base | sf << 31 | shift << 22 | _reg(rm, "rm") << 16 | amount << 10
            | _reg(rn, "rn") << 5 | _reg(rd, "rd"))


# Add/subtract (extended register): sf op S 01011 00 1 Rm option imm3 Rn Rd
ADDSUB_EXTENDED = {"add": 0x0B200000, "adds": 0x2B200000, "sub": 0x4B200000, "subs": 0x6B200000}


def enc_addsub_extended(base: int, size, rd, rn, rm, extend=Extend.UXTX, amount=0) -> int:
    sf = _sf(size)
    extend = _enum(Extend, extend, "extend")
    amount = _int(amount, "extend shift")
    if not 0 <= amount <= 4:
        raise EncodingError(f"extend shift must be 0..4, not {amount}")
    return (base | sf << 31 | _reg(rm, "rm") << 16 | int(extend) << 13 | amount << 10
            | _reg(rn, "rn") << 5 | _reg(rd, "rd"))


# Logical (shifted register): sf opc 01010 shift N Rm imm6 Rn Rd
LOGICAL_SHIFTED = {
    "and": 0x0A000000, "bic": 0x0A200000, "orr": 0x2A000000, "orn": 0x2A200000,
    "eor": 0x4A000000, "eon": 0x4A200000, "ands": 0x6A000000, "bics": 0x6A200000,
}


def enc_logical_shifted(base: int, size, rd, rn, rm, shift=Shift.LSL, amount=0) -> int:
    sf = _sf(size)
    shift, amount = _shift_amount(size, shift, amount, allow_ror=True)
    return (base | sf << 31 | shift << 22 | _reg(rm, "rm") << 16 | amount << 10
            | _reg(rn, "rn") << 5 | _reg(rd, "rd"))


# Logical (immediate): sf opc 100100 N immr imms Rn Rd
LOGICAL_IMM = {"and": 0x12000000, "orr": 0x32000000, "eor": 0x52000000, "ands": 0x72000000}


def enc_logical_imm(base: int, size, rd, rn, value) -> int:
    sf = _sf(size)
    value = _int(value, "logical immediate")
    if not -(1 << (8 * size - 1)) <= value < (1 << (8 * size)):
        raise EncodingError(f"logical immediate {value:#x} does not fit in {8 * size} bits")
    fields = _imms.encode_logical_imm(value, size)
    if fields is None:
        raise EncodingError(f"{value & ((1 << 8 * size) - 1):#x} is not a bitmask immediate")
    n, immr, imms = fields
    return (base | sf << 31 | n << 22 | immr << 16 | imms << 10
            | _reg(rn, "rn") << 5 | _reg(rd, "rd"))


# Move wide (immediate): sf opc 100101 hw imm16 Rd
MOVE_WIDE = {"movn": 0x12800000, "movz": 0x52800000, "movk": 0x72800000}


def enc_move_wide(base: int, size, rd, imm16, shift=0) -> int:
    sf = _sf(size)
    imm16 = _uimm(imm16, 16, "move-wide immediate")
    shift = _int(shift, "move-wide shift")
    if shift not in ((0, 16, 32, 48) if sf else (0, 16)):
        raise EncodingError(f"move-wide shift must be one of 0, 16{', 32, 48' if sf else ''}, "
                            f"not {shift}")
    return base | sf << 31 | (shift // 16) << 21 | imm16 << 5 | _reg(rd, "rd")


# Bitfield: sf opc 100110 N immr imms Rn Rd (N = sf)
BITFIELD = {"sbfm": 0x13000000, "bfm": 0x33000000, "ubfm": 0x53000000}


def enc_bitfield(base: int, size, rd, rn, immr, imms) -> int:
    sf = _sf(size)
    bits = 5 + sf
    immr = _uimm(immr, bits, "immr")
    imms = _uimm(imms, bits, "imms")
    return (base | sf << 31 | sf << 22 | immr << 16 | imms << 10
            | _reg(rn, "rn") << 5 | _reg(rd, "rd"))


# Extract: sf 00 100111 N 0 Rm imms Rn Rd (N = sf)
EXTRACT = {"extr": 0x13800000}


def enc_extract(base: int, size, rd, rn, rm, lsb) -> int:
    sf = _sf(size)
    lsb = _uimm(lsb, 5 + sf, "extract lsb")
    return (base | sf << 31 | sf << 22 | _reg(rm, "rm") << 16 | lsb << 10
            | _reg(rn, "rn") << 5 | _reg(rd, "rd"))


# Data-processing (2 source): sf 0 0 11010110 Rm opcode Rn Rd
DP2 = {
    "udiv": 0x1AC00800, "sdiv": 0x1AC00C00, "lslv": 0x1AC02000, "lsrv": 0x1AC02400,
    "asrv": 0x1AC02800, "rorv": 0x1AC02C00,
}


def enc_dp2(base: int, size, rd, rn, rm) -> int:
    return (base | _sf(size) << 31 | _reg(rm, "rm") << 16 | _reg(rn, "rn") << 5
            | _reg(rd, "rd"))


# Data-processing (1 source): sf 1 0 11010110 00000 opcode Rn Rd.
# Row: (constant bits, sizes allowed).  "rev" differs by size (opcode 10 for w, 11 for x).
DP1 = {
    "rbit": (0x5AC00000, (4, 8)),
    "rev16": (0x5AC00400, (4, 8)),
    "rev32": (0x5AC00800, (8,)),
    "rev_w": (0x5AC00800, (4,)),
    "rev_x": (0x5AC00C00, (8,)),
    "clz": (0x5AC01000, (4, 8)),
    "cls": (0x5AC01400, (4, 8)),
}


def enc_dp1(row, size, rd, rn) -> int:
    base, sizes = row
    sf = _sf(size)
    if size not in sizes:
        raise EncodingError(f"this instruction has no {size}-byte form")
    return base | sf << 31 | _reg(rn, "rn") << 5 | _reg(rd, "rd")


# Data-processing (3 source): sf op54 11011 op31 Rm o0 Ra Rn Rd.
# Row: (constant bits, sizes allowed).  The widening forms exist only with sf = 1.
DP3 = {
    "madd": (0x1B000000, (4, 8)),
    "msub": (0x1B008000, (4, 8)),
    "smaddl": (0x9B200000, (8,)),
    "smsubl": (0x9B208000, (8,)),
    "umaddl": (0x9BA00000, (8,)),
    "umsubl": (0x9BA08000, (8,)),
    "smulh": (0x9B400000, (8,)),
    "umulh": (0x9BC00000, (8,)),
}


def enc_dp3(row, size, rd, rn, rm, ra) -> int:
    base, sizes = row
    sf = _sf(size)
    if size not in sizes:
        raise EncodingError(f"this instruction has no {size}-byte form")
    return (base | sf << 31 | _reg(rm, "rm") << 16 | _reg(ra, "ra") << 10
            | _reg(rn, "rn") << 5 | _reg(rd, "rd"))


# Conditional select: sf op S 11010100 Rm cond op2 Rn Rd
CSEL = {"csel": 0x1A800000, "csinc": 0x1A800400, "csinv": 0x5A800000, "csneg": 0x5A800400}


def enc_csel(base: int, size, rd, rn, rm, cond) -> int:
    return (base | _sf(size) << 31 | _reg(rm, "rm") << 16 | _cond(cond) << 12
            | _reg(rn, "rn") << 5 | _reg(rd, "rd"))


# Conditional compare: sf op 1 11010010 (Rm|imm5) cond imm? 0 Rn 0 nzcv
CCMP = {"ccmn_rr": 0x3A400000, "ccmp_rr": 0x7A400000, "ccmn_imm": 0x3A400800,
        "ccmp_imm": 0x7A400800}


def enc_ccmp(base: int, size, rn, rm_or_imm5, nzcv, cond, is_imm: bool) -> int:
    field = _uimm(rm_or_imm5, 5, "ccmp immediate") if is_imm else _reg(rm_or_imm5, "rm")
    return (base | _sf(size) << 31 | field << 16 | _cond(cond) << 12 | _reg(rn, "rn") << 5
            | _uimm(nzcv, 4, "nzcv"))


# Loads and stores: one row per (operation, register file, width) gives size, V and opc.
@dataclass(frozen=True, slots=True)
class MemOp:
    """The size/V/opc fields shared by all single-register load/store addressing modes."""

    size: int  # bits 31:30
    v: int  # bit 26: 1 for FP/SIMD registers
    opc: int  # bits 23:22
    width: int  # bytes moved; the scale of the unsigned-offset form

    def fields(self) -> int:
        return self.size << 30 | self.v << 26 | self.opc << 22


# key: (op, width, dst_size) with op in str/ldr/ldrs/strf/ldrf; dst_size only for ldrs.
MEM_OPS = {
    ("str", 1): MemOp(0, 0, 0, 1), ("ldr", 1): MemOp(0, 0, 1, 1),
    ("str", 2): MemOp(1, 0, 0, 2), ("ldr", 2): MemOp(1, 0, 1, 2),
    ("str", 4): MemOp(2, 0, 0, 4), ("ldr", 4): MemOp(2, 0, 1, 4),
    ("str", 8): MemOp(3, 0, 0, 8), ("ldr", 8): MemOp(3, 0, 1, 8),
    ("ldrs", 1, 8): MemOp(0, 0, 2, 1), ("ldrs", 1, 4): MemOp(0, 0, 3, 1),
    ("ldrs", 2, 8): MemOp(1, 0, 2, 2), ("ldrs", 2, 4): MemOp(1, 0, 3, 2),
    ("ldrs", 4, 8): MemOp(2, 0, 2, 4),
    ("strf", 4): MemOp(2, 1, 0, 4), ("ldrf", 4): MemOp(2, 1, 1, 4),
    ("strf", 8): MemOp(3, 1, 0, 8), ("ldrf", 8): MemOp(3, 1, 1, 8),
    ("strf", 16): MemOp(0, 1, 2, 16), ("ldrf", 16): MemOp(0, 1, 3, 16),
}


def _memop(*key) -> MemOp:
    op = MEM_OPS.get(key)
    if op is None:
        if key[0] == "ldrs":
            raise EncodingError(f"no sign-extending load of {key[1]} bytes into a "
                                f"{key[2]}-byte register")
        raise EncodingError(f"no {key[0].rstrip('f')} form for {key[1]}-byte accesses"
                            f"{' of FP registers' if key[0].endswith('f') else ''}")
    return op


# Addressing modes: constant bits per mode.
LS_UNSIGNED = 0x39000000  # size 111 V 01 opc imm12 Rn Rt
LS_UNSCALED = 0x38000000  # size 111 V 00 opc 0 imm9 00 Rn Rt
LS_POST = 0x38000400  # ... imm9 01 Rn Rt
LS_PRE = 0x38000C00  # ... imm9 11 Rn Rt
LS_REGISTER = 0x38200800  # size 111 V 00 opc 1 Rm option S 10 Rn Rt


def enc_ls_unsigned(op: MemOp, rt, rn, offset) -> int:
    imm12 = _scaled(offset, op.width, 12, False, "unsigned offset")
    return LS_UNSIGNED | op.fields() | imm12 << 10 | _reg(rn, "rn") << 5 | _reg(rt, "rt")


def enc_ls_imm9(base: int, op: MemOp, rt, rn, offset) -> int:
    imm9 = _simm(offset, 9, "9-bit offset")
    return base | op.fields() | imm9 << 12 | _reg(rn, "rn") << 5 | _reg(rt, "rt")


_REG_OFFSET_EXTENDS = (Extend.UXTW, Extend.UXTX, Extend.SXTW, Extend.SXTX)


def enc_ls_register(op: MemOp, rt, rn, rm, extend=Extend.LSL, shift=False) -> int:
    extend = _enum(Extend, extend, "extend")
    if extend not in _REG_OFFSET_EXTENDS:
        raise EncodingError(f"register offset extend must be UXTW, LSL, SXTW or SXTX, "
                            f"not {extend.name}")
    if not isinstance(shift, bool):
        raise EncodingError(f"register offset shift must be a bool, not {shift!r}")
    return (LS_REGISTER | op.fields() | _reg(rm, "rm") << 16 | int(extend) << 13
            | int(shift) << 12 | _reg(rn, "rn") << 5 | _reg(rt, "rt"))


# Load/store pair: opc 101 V 0 idx L imm7 Rt2 Rn Rt.  Row key: (register file, size).
PAIR_OPC = {("gpr", 4): (0, 0), ("gpr", 8): (2, 0), ("fp", 4): (0, 1), ("fp", 8): (1, 1),
            ("fp", 16): (2, 1)}
PAIR_INDEX = {Index.POST: 0x28800000, Index.OFFSET: 0x29000000, Index.PRE: 0x29800000}


def enc_ls_pair(kind: str, size, load: bool, rt, rt2, rn, offset, index) -> int:
    row = PAIR_OPC.get((kind, size))
    if row is None:
        raise EncodingError(f"no load/store pair of {size}-byte {kind} registers")
    opc, v = row
    index = _enum(Index, index, "pair index mode")
    rt, rt2, rn = _reg(rt, "rt"), _reg(rt2, "rt2"), _reg(rn, "rn")
    if load and rt == rt2:
        raise EncodingError("ldp with rt == rt2 is unpredictable")
    if kind == "gpr" and index != Index.OFFSET and rn != 31 and rn in (rt, rt2):
        raise EncodingError("load/store pair writeback with rn equal to a data register "
                            "is unpredictable")
    imm7 = _scaled(offset, size, 7, True, "pair offset")
    return (opc << 30 | PAIR_INDEX[index] | v << 26 | int(load) << 22 | imm7 << 15
            | rt2 << 10 | rn << 5 | rt)


# Load register (literal): opc 011 V 00 imm19 Rt.  Displacement filled by the IMM19 fixup.
LDR_LITERAL = {("gpr", 4): 0x18000000, ("gpr", 8): 0x58000000, ("ldrsw", 8): 0x98000000,
               ("fp", 4): 0x1C000000, ("fp", 8): 0x5C000000, ("fp", 16): 0x9C000000}

# PC-relative and branches (displacements filled by fixups).
ADR = 0x10000000  # 0 immlo 10000 immhi Rd
BRANCH_IMM = {"b": 0x14000000, "bl": 0x94000000}  # op 00101 imm26
B_COND = 0x54000000  # 0101010 0 imm19 0 cond
CB = {"cbz": 0x34000000, "cbnz": 0x35000000}  # sf 011010 op imm19 Rt
TB = {"tbz": 0x36000000, "tbnz": 0x37000000}  # b5 011011 op b40 imm14 Rt
BRANCH_REG = {"br": 0xD61F0000, "blr": 0xD63F0000, "ret": 0xD65F0000}  # ... Rn 00000
EXCEPTION = {"brk": 0xD4200000, "hlt": 0xD4400000}  # 11010100 opc imm16 000 00
UDF = 0x00000000  # 0000000000000000 imm16
NOP = 0xD503201F

# FP data-processing (1 source): 0 0 0 11110 ftype 1 opcode 10000 Rn Rd
FP1 = {
    "fmov": 0x1E204000, "fabs": 0x1E20C000, "fneg": 0x1E214000, "fsqrt": 0x1E21C000,
    "frintn": 0x1E244000, "frintp": 0x1E24C000, "frintm": 0x1E254000, "frintz": 0x1E25C000,
    "frinta": 0x1E264000, "frintx": 0x1E274000, "frinti": 0x1E27C000,
}
# FCVT: the opcode names the destination precision, ftype the source.
FCVT = {(8, 4): 0x1E22C000, (4, 8): 0x1E624000}  # (dst size, src size)


def enc_fp1(base: int, size, rd, rn) -> int:
    return base | _ftype(size) << 22 | _reg(rn, "rn") << 5 | _reg(rd, "rd")


# FP data-processing (2 source): 0 0 0 11110 ftype 1 Rm opcode 10 Rn Rd
FP2 = {
    "fmul": 0x1E200800, "fdiv": 0x1E201800, "fadd": 0x1E202800, "fsub": 0x1E203800,
    "fmax": 0x1E204800, "fmin": 0x1E205800, "fmaxnm": 0x1E206800, "fminnm": 0x1E207800,
    "fnmul": 0x1E208800,
}


def enc_fp2(base: int, size, rd, rn, rm) -> int:
    return (base | _ftype(size) << 22 | _reg(rm, "rm") << 16 | _reg(rn, "rn") << 5
            | _reg(rd, "rd"))


# FP compare: 0 0 0 11110 ftype 1 Rm 00 1000 Rn opcode2
FCMP = {"fcmp": 0x1E202000, "fcmp_zero": 0x1E202008, "fcmpe": 0x1E202010,
        "fcmpe_zero": 0x1E202018}


def enc_fcmp(base: int, size, rn, rm) -> int:
    return base | _ftype(size) << 22 | _reg(rm, "rm") << 16 | _reg(rn, "rn") << 5


# FP conditional select: 0 0 0 11110 ftype 1 Rm cond 11 Rn Rd
FCSEL = 0x1E200C00


# FP immediate: 0 0 0 11110 ftype 1 imm8 100 00000 Rd
FMOV_IMM = 0x1E201000

# Conversions between FP and integer: sf 0 0 11110 ftype 1 rmode opcode 000000 Rn Rd
FP_INT = {
    "fcvtzs": 0x1E380000, "fcvtzu": 0x1E390000, "scvtf": 0x1E220000, "ucvtf": 0x1E230000,
    "fcvtns": 0x1E200000, "fcvtnu": 0x1E210000, "fcvtms": 0x1E300000, "fcvtmu": 0x1E310000,
    "fcvtps": 0x1E280000, "fcvtpu": 0x1E290000,
    "fmov_to_gpr": 0x1E260000, "fmov_from_gpr": 0x1E270000,
}


def enc_fp_int(base: int, int_size, fp_size, rd, rn) -> int:
    return (base | _sf(int_size) << 31 | _ftype(fp_size) << 22 | _reg(rn, "rn") << 5
            | _reg(rd, "rd"))


# Advanced SIMD (only what scalar popcnt needs): fixed arrangement 8B.
SIMD_8B = {"cnt": 0x0E205800, "addv": 0x0E31B800, "uaddlv": 0x2E303800}


# ---------------------------------------------------------------------------------------------
# Templates: each hot form's word with zero operand fields, built by the encoders above
# ---------------------------------------------------------------------------------------------

#: add/adds/sub/subs (immediate) by size: the word for `op size 0, 0, #0`.
T_ADDSUB_IMM = {name: {size: enc_addsub_imm(base, size, 0, 0, 0) for size in (4, 8)}
                for name, base in ADDSUB_IMM.items()}
#: add/adds/sub/subs (shifted register, LSL #0) by size.
T_ADDSUB_RR = {name: {size: enc_addsub_shifted(base, size, 0, 0, 0) for size in (4, 8)}
               for name, base in ADDSUB_SHIFTED.items()}
#: and/orr/eor/... (shifted register, LSL #0) by size.
T_LOGICAL_RR = {name: {size: enc_logical_shifted(base, size, 0, 0, 0) for size in (4, 8)}
                for name, base in LOGICAL_SHIFTED.items()}
#: csel/csinc/csinv/csneg by size (cond EQ = 0).
T_CSEL = {name: {size: enc_csel(base, size, 0, 0, 0, Cond.EQ) for size in (4, 8)}
          for name, base in CSEL.items()}
#: mul (madd with ra = zr) by size.
T_MUL = {size: enc_dp3(DP3["madd"], size, 0, 0, 0, ZR) for size in (4, 8)}
#: udiv/sdiv/lslv/... by size.
T_DP2 = {name: {size: enc_dp2(base, size, 0, 0, 0) for size in (4, 8)}
         for name, base in DP2.items()}
#: movz/movn/movk by size (imm16 = 0, shift 0).
T_MOVE_WIDE = {name: {size: enc_move_wide(base, size, 0, 0) for size in (4, 8)}
               for name, base in MOVE_WIDE.items()}
#: cbz/cbnz by size (rt = 0, displacement 0).
T_CB = {name: {4: base, 8: base | 1 << 31} for name, base in CB.items()}
#: Single-register loads/stores by operation (ldr/str/ldrf/strf) and width:
#: (word with rt = rn = 0 and offset 0, log2 of the width: the unsigned offset's scale).
T_LS_UNSIGNED = {op: {key[1]: (enc_ls_unsigned(m, 0, 0, 0), m.width.bit_length() - 1)
                      for key, m in MEM_OPS.items() if key[0] == op}
                 for op in ("ldr", "str", "ldrf", "strf")}
#: The same with a 9-bit signed unscaled offset (ldur/stur).
T_LS_UNSCALED = {op: {key[1]: enc_ls_imm9(LS_UNSCALED, m, 0, 0, 0)
                      for key, m in MEM_OPS.items() if key[0] == op}
                 for op in ("ldr", "str", "ldrf", "strf")}
#: The same with a register offset, LSL (x register), not scaled.
T_LS_REGISTER = {op: {key[1]: enc_ls_register(m, 0, 0, 0)
                      for key, m in MEM_OPS.items() if key[0] == op}
                 for op in ("ldr", "str", "ldrf", "strf")}

_BRK0 = EXCEPTION["brk"].to_bytes(4, "little")
#: The default shift and register-offset extend, bound once (an Enum member lookup is slow).
_LSL = Shift.LSL
_EXT_LSL = Extend.LSL
#: Cond.invert() of EQ..LE, by value.
_INVERT = tuple(Cond(c).invert() for c in range(14))


def mov_imm_words(size, value) -> tuple[int, ...]:
    """The words of mov_imm's shortest sequence for `value` into register 0 (not memoized);
    raises EncodingError for a bad size or a value that does not fit."""
    _sf(size)
    value = _int(value, "constant")
    if not -(1 << (8 * size - 1)) <= value < (1 << (8 * size)):
        raise EncodingError(f"constant {value:#x} does not fit in {8 * size} bits")
    words = []
    for step in _imms.mov_imm_sequence(value, size):
        if step.op == "orr":
            words.append(enc_logical_imm(LOGICAL_IMM["orr"], size, 0, ZR, step.imm))
        else:
            words.append(enc_move_wide(MOVE_WIDE[step.op], size, 0, step.imm, step.shift))
    return tuple(words)


# ---------------------------------------------------------------------------------------------
# Label uses
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PcRelUse:
    """A PC-relative displacement field; implements the `LabelUse` protocol of buffer.py.

    The byte distance `target - at` must be a multiple of `align`; the quotient, a signed
    `bits`-bit number, is split into `pieces` of (source bit, width, destination bit).
    """

    name: str
    bits: int
    align: int
    pieces: tuple[tuple[int, int, int], ...]

    def max_reach(self) -> tuple[int, int]:
        """The (lowest, highest) byte distance this use can encode."""
        return (-(1 << (self.bits - 1)) * self.align, ((1 << (self.bits - 1)) - 1) * self.align)

    def encode(self, word: int, delta: int) -> int:
        if delta % self.align:
            raise EncodingError(f"{self.name}: distance {delta} is not a multiple of "
                                f"{self.align}")
        lo, hi = self.max_reach()
        if not lo <= delta <= hi:
            raise EncodingError(f"{self.name}: distance {delta} out of range {lo}..{hi}")
        value = (delta // self.align) & ((1 << self.bits) - 1)
        for src, width, dst in self.pieces:
            mask = ((1 << width) - 1) << dst
            word = (word & ~mask) | (((value >> src) & ((1 << width) - 1)) << dst)
        return word

    def patch(self, code: bytearray, at: int, target: int) -> None:
        delta = target - at
        field = _ONE_FIELD.get(self.name)
        if field is not None and field[0] is self:  # b, bl, b.cond, cbz, tbz, ldr (literal)
            _, lo, hi, shift, dst, mask = field
            if lo <= delta <= hi and not delta & ((1 << shift) - 1):
                word = _U32.unpack_from(code, at)[0]
                _U32.pack_into(code, at, (word & ~mask) | (((delta >> shift) << dst) & mask))
                return
        _U32.pack_into(code, at, self.encode(_U32.unpack_from(code, at)[0], delta))


#: b / bl: +-128 MiB.
IMM26 = PcRelUse("imm26", 26, 4, ((0, 26, 0),))
#: b.cond, cbz/cbnz, ldr (literal): +-1 MiB.
IMM19 = PcRelUse("imm19", 19, 4, ((0, 19, 5),))
#: tbz/tbnz: +-32 KiB.
IMM14 = PcRelUse("imm14", 14, 4, ((0, 14, 5),))
#: adr: +-1 MiB, byte granular (immlo in bits 30:29, immhi in 23:5).
ADR21 = PcRelUse("adr21", 21, 1, ((0, 2, 29), (2, 19, 5)))

_U32 = struct.Struct("<I")
#: The uses whose displacement is one field (all but adr): name -> (the use, lowest and highest
#: distance, log2 of the alignment, the field's first bit, the field's mask), for `patch`.
_ONE_FIELD = {
    use.name: (use, *use.max_reach(), use.align.bit_length() - 1, use.pieces[0][2],
               ((1 << use.bits) - 1) << use.pieces[0][2])
    for use in (IMM26, IMM19, IMM14)
    if len(use.pieces) == 1 and use.pieces[0][:2] == (0, use.bits) and use.align in (1, 2, 4)
}

#: Template: `b.cond . + 8` (over the next instruction) by condition, as bytes.
_B_COND_8 = tuple(IMM19.encode(B_COND | c, 8).to_bytes(4, "little") for c in range(16))
