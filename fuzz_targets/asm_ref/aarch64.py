"""What Capstone prints for each instruction form of the aarch64 assembler
(winch/isa/aarch64/asm.py): the reference shared by tests/test_aarch64_asm.py and the
`assemble` fuzz target.

Each form (`f_*`, listed in `FORMS`) draws its operands from a source with `int(lo, hi)` and
`choice(seq)` (`RandSrc` here, Hypothesis draws in the tests) and returns a `Case`: how to
emit the instruction, the text an LLVM-style disassembler prints (the alias rules are
modelled in the builders) and the GNU as spelling for the reference set.  `LABEL_FORMS` are
the branch and literal forms whose displacement a `LabelUse` patches; `decode_mov_words`
runs a move-wide/orr sequence bit by bit (an independent decoder for `mov_imm`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import capstone

from winch.isa.aarch64 import imms
from winch.isa.aarch64.asm import (
    ADR21, IMM14, IMM19, IMM26, A64Assembler, Cond, Extend, Index, Shift,
)

MD = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
BASE = 0x10000000  # disassembly address; far from 0 so backward targets stay positive

COND_NAMES = ["eq", "ne", "hs", "lo", "mi", "pl", "vs", "vc",
              "hi", "ls", "ge", "lt", "gt", "le", "al", "nv"]
SHIFT_NAMES = ["lsl", "lsr", "asr", "ror"]
EXT_NAMES = ["uxtb", "uxth", "uxtw", "uxtx", "sxtb", "sxth", "sxtw", "sxtx"]
CONDS = list(Cond)  # canonical members only (no HS/LO aliases)


# ---------------------------------------------------------------------------------------------
# Text helpers (Capstone/LLVM style)
# ---------------------------------------------------------------------------------------------


def gpr(r: int, size: int, sp: bool = False) -> str:
    if r == 31:
        if sp:
            return "sp" if size == 8 else "wsp"
        return "xzr" if size == 8 else "wzr"
    return f"{'x' if size == 8 else 'w'}{r}"


def fpr(r: int, size: int) -> str:
    return {1: "b", 2: "h", 4: "s", 8: "d", 16: "q"}[size] + str(r)


def imm(v: int) -> str:
    """Capstone's immediate format: decimal up to 9, hex beyond, sign in front."""
    if v < 0:
        return f"#-{-v}" if v >= -9 else f"#-{-v:#x}"
    return f"#{v}" if v <= 9 else f"#{v:#x}"


def signed(v: int, size: int) -> int:
    bits = 8 * size
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def sh_text(shift: int, amount: int) -> str:
    """Shifted-register suffix: Capstone prints the amount in decimal, omits `lsl #0`."""
    if shift == 0 and amount == 0:
        return ""
    return f", {SHIFT_NAMES[shift]} #{amount}"


def sh_gnu(shift: int, amount: int) -> str:
    return f", {SHIFT_NAMES[shift]} #{amount}"


def disasm(code: bytes, addr: int = BASE) -> list[str]:
    return [f"{i.mnemonic} {i.op_str}".strip() for i in MD.disasm(code, addr)]


def assemble(emit: Callable[[A64Assembler], None]) -> bytes:
    a = A64Assembler()
    emit(a)
    return bytes(a.buf.data)


# ---------------------------------------------------------------------------------------------
# Operand source: seeded, biased to the edges (the tests also draw with Hypothesis)
# ---------------------------------------------------------------------------------------------


class RandSrc:
    """Seeded choices biased to the edges of each range."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        p = self.rng.random()
        if p < 0.15:
            return lo
        if p < 0.3:
            return hi
        return self.rng.randint(lo, hi)

    def choice(self, seq):
        return self.rng.choice(list(seq))


@dataclass
class Case:
    emit: Callable[[A64Assembler], None]
    cs: str  # expected Capstone text
    gnu: str | None  # GNU as source for the reference set (None: not assemblable alone)


def reg(s) -> int:
    return s.int(0, 31)


def size_of(s) -> int:
    return s.choice([4, 8])


# ---------------------------------------------------------------------------------------------
# Forms: each builds one Case from a source
# ---------------------------------------------------------------------------------------------


def f_addsub_imm(s):
    op = s.choice(["add", "adds", "sub", "subs"])
    size, rd, rn = size_of(s), reg(s), reg(s)
    imm12, shift = s.int(0, 4095), s.choice([0, 12])
    rd_t = gpr(rd, size, sp=op in ("add", "sub"))
    rn_t = gpr(rn, size, sp=True)
    suffix = ", lsl #12" if shift else ""
    if op == "add" and imm12 == 0 and shift == 0 and (rd == 31 or rn == 31):
        cs = f"mov {rd_t}, {rn_t}"
    elif op in ("adds", "subs") and rd == 31:
        cs = f"{'cmn' if op == 'adds' else 'cmp'} {rn_t}, {imm(imm12)}{suffix}"
    else:
        cs = f"{op} {rd_t}, {rn_t}, {imm(imm12)}{suffix}"
    gnu = f"{op} {rd_t}, {rn_t}, #{imm12}{suffix}"
    return Case(lambda a: getattr(a, op + "_imm")(size, rd, rn, imm12, shift), cs, gnu)


def f_cmp_imm(s):
    op = s.choice(["cmp", "cmn"])
    size, rn, imm12, shift = size_of(s), reg(s), s.int(0, 4095), s.choice([0, 12])
    suffix = ", lsl #12" if shift else ""
    rn_t = gpr(rn, size, sp=True)
    return Case(lambda a: getattr(a, op + "_imm")(size, rn, imm12, shift),
                f"{op} {rn_t}, {imm(imm12)}{suffix}", f"{op} {rn_t}, #{imm12}{suffix}")


def f_mov_sp(s):
    size, rd, rn = size_of(s), reg(s), reg(s)
    rd_t, rn_t = gpr(rd, size, sp=True), gpr(rn, size, sp=True)
    cs = f"mov {rd_t}, {rn_t}" if 31 in (rd, rn) else f"add {rd_t}, {rn_t}, #0"
    return Case(lambda a: a.mov_sp(size, rd, rn), cs, f"add {rd_t}, {rn_t}, #0")


def f_addsub_shifted(s):
    op = s.choice(["add", "adds", "sub", "subs"])
    size, rd, rn, rm = size_of(s), reg(s), reg(s), reg(s)
    shift, amount = s.choice([0, 1, 2]), s.int(0, 8 * size - 1)
    d, n, m = gpr(rd, size), gpr(rn, size), gpr(rm, size)
    sh = sh_text(shift, amount)
    if op == "adds" and rd == 31:
        cs = f"cmn {n}, {m}{sh}"
    elif op == "subs" and rd == 31:
        cs = f"cmp {n}, {m}{sh}"
    elif op == "sub" and rn == 31:
        cs = f"neg {d}, {m}{sh}"
    elif op == "subs" and rn == 31:
        cs = f"negs {d}, {m}{sh}"
    else:
        cs = f"{op} {d}, {n}, {m}{sh}"
    return Case(lambda a: getattr(a, op + "_rr")(size, rd, rn, rm, Shift(shift), amount), cs,
                f"{op} {d}, {n}, {m}{sh_gnu(shift, amount)}")


def f_addsub_shifted_alias(s):
    op = s.choice(["cmp", "cmn", "neg", "negs"])
    size, r1, rm = size_of(s), reg(s), reg(s)
    shift, amount = s.choice([0, 1, 2]), s.int(0, 8 * size - 1)
    x, m = gpr(r1, size), gpr(rm, size)
    sh = sh_text(shift, amount)
    if op == "negs" and r1 == 31:
        cs = f"cmp {gpr(31, size)}, {m}{sh}"  # subs zr, zr, rm: cmp wins over negs
    else:
        cs = f"{op} {x}, {m}{sh}"
    return Case(lambda a: getattr(a, op if op.startswith("neg") else op + "_rr")(
        size, r1, rm, Shift(shift), amount), cs, f"{op} {x}, {m}{sh_gnu(shift, amount)}")


def _ext_texts(size, ext, amount, sp_involved):
    """(capstone suffix, gnu suffix) of an extended-register operand."""
    lsl_like = sp_involved and ext == (Extend.UXTX if size == 8 else Extend.UXTW)
    if lsl_like:
        cs = f", lsl #{amount}" if amount else ""
    else:
        cs = f", {EXT_NAMES[ext]}" + (f" #{amount}" if amount else "")
    return cs, f", {EXT_NAMES[ext]} #{amount}"


def f_addsub_ext(s):
    op = s.choice(["add", "adds", "sub", "subs", "cmp", "cmn"])
    size, rd, rn, rm = size_of(s), reg(s), reg(s), reg(s)
    ext, amount = Extend(s.int(0, 7)), s.int(0, 4)
    if op in ("cmp", "cmn"):
        rd = 31
    flags = op in ("adds", "subs", "cmp", "cmn")
    d = gpr(rd, size, sp=not flags)
    n = gpr(rn, size, sp=True)
    m = gpr(rm, 8 if (size == 8 and ext & 3 == 3) else 4)
    sp_involved = rn == 31 or (not flags and rd == 31)
    cs_sfx, gnu_sfx = _ext_texts(size, ext, amount, sp_involved)
    base = {"cmp": "subs", "cmn": "adds"}.get(op, op)
    if base in ("adds", "subs") and rd == 31:
        cs = f"{'cmn' if base == 'adds' else 'cmp'} {n}, {m}{cs_sfx}"
    else:
        cs = f"{base} {d}, {n}, {m}{cs_sfx}"
    if op in ("cmp", "cmn"):
        emit = lambda a: getattr(a, op + "_ext")(size, rn, rm, ext, amount)  # noqa: E731
    else:
        emit = lambda a: getattr(a, op + "_ext")(size, rd, rn, rm, ext, amount)  # noqa: E731
    return Case(emit, cs, f"{base} {d}, {n}, {m}{gnu_sfx}")


def f_logical_shifted(s):
    op = s.choice(["and", "orr", "eor", "ands", "bic", "bics", "orn", "eon"])
    size, rd, rn, rm = size_of(s), reg(s), reg(s), reg(s)
    shift, amount = s.int(0, 3), s.int(0, 8 * size - 1)
    d, n, m = gpr(rd, size), gpr(rn, size), gpr(rm, size)
    sh = sh_text(shift, amount)
    if op == "orr" and rn == 31 and shift == 0 and amount == 0:
        cs = f"mov {d}, {m}"
    elif op == "orn" and rn == 31:
        cs = f"mvn {d}, {m}{sh}"
    elif op == "ands" and rd == 31:
        cs = f"tst {n}, {m}{sh}"
    else:
        cs = f"{op} {d}, {n}, {m}{sh}"
    return Case(lambda a: getattr(a, op + "_rr")(size, rd, rn, rm, Shift(shift), amount), cs,
                f"{op} {d}, {n}, {m}{sh_gnu(shift, amount)}")


def f_logical_alias(s):
    op = s.choice(["tst", "mov", "mvn"])
    size, r1, rm = size_of(s), reg(s), reg(s)
    shift, amount = s.int(0, 3), s.int(0, 8 * size - 1)
    x, m = gpr(r1, size), gpr(rm, size)
    if op == "mov":
        return Case(lambda a: a.mov_rr(size, r1, rm), f"mov {x}, {m}", f"mov {x}, {m}")
    sh = sh_text(shift, amount)
    method = "tst_rr" if op == "tst" else "mvn"
    return Case(lambda a: getattr(a, method)(size, r1, rm, Shift(shift), amount),
                f"{op} {x}, {m}{sh}", f"{op} {x}, {m}{sh_gnu(shift, amount)}")


def bitmask_value(s, size) -> int:
    """A valid bitmask immediate built from (element size, run length, rotation)."""
    width = 8 * size
    e = s.choice([e for e in (2, 4, 8, 16, 32, 64) if e <= width])
    ones = s.int(1, e - 1)
    rot = s.int(0, e - 1)
    run = (1 << ones) - 1
    elem = ((run >> rot) | (run << (e - rot))) & ((1 << e) - 1)
    v = 0
    for i in range(width // e):
        v |= elem << (i * e)
    return v


def f_logical_imm(s):
    op = s.choice(["and", "orr", "eor", "ands", "tst"])
    size, rd, rn = size_of(s), reg(s), reg(s)
    value = bitmask_value(s, size)
    # Capstone 5 prints bitmasks unsigned, except that `ands`/`tst` on x registers and the
    # `mov` alias (both sizes) print them as signed numbers.
    shown = imm(signed(value, 8) if size == 8 and op in ("ands", "tst") else value)
    if op == "tst":
        n = gpr(rn, size)
        return Case(lambda a: a.tst_imm(size, rn, value), f"tst {n}, {shown}",
                    f"tst {n}, #{value:#x}")
    d = gpr(rd, size, sp=op != "ands")
    n = gpr(rn, size)
    if op == "orr" and rn == 31:
        cs = f"mov {d}, {imm(signed(value, size))}"
    elif op == "ands" and rd == 31:
        cs = f"tst {n}, {shown}"
    else:
        cs = f"{op} {d}, {n}, {shown}"
    return Case(lambda a: getattr(a, op + "_imm")(size, rd, rn, value), cs,
                f"{op} {d}, {n}, #{value:#x}")


def f_move_wide(s):
    op = s.choice(["movz", "movn", "movk"])
    size, rd = size_of(s), reg(s)
    imm16 = s.int(0, 0xFFFF)
    shift = s.choice([0, 16, 32, 48] if size == 8 else [0, 16])
    d = gpr(rd, size)
    suffix = f", lsl #{shift}" if shift else ""
    raw = f"{op} {d}, {imm(imm16)}{suffix}"
    if op == "movz" and not (imm16 == 0 and shift):
        cs = f"mov {d}, {imm(signed(imm16 << shift, size))}"
    elif op == "movn" and not (imm16 == 0 and shift) and not (size == 4 and imm16 == 0xFFFF):
        cs = f"mov {d}, {imm(signed(~(imm16 << shift), size))}"
    else:
        cs = raw
    return Case(lambda a: getattr(a, op)(size, rd, imm16, shift), cs,
                f"{op} {d}, #{imm16}, lsl #{shift}")


def f_dp2(s):
    op = s.choice(["lslv", "lsrv", "asrv", "rorv", "sdiv", "udiv"])
    size, rd, rn, rm = size_of(s), reg(s), reg(s), reg(s)
    d, n, m = gpr(rd, size), gpr(rn, size), gpr(rm, size)
    name = op[:3] if op in ("lslv", "lsrv", "asrv", "rorv") else op
    return Case(lambda a: getattr(a, op)(size, rd, rn, rm), f"{name} {d}, {n}, {m}",
                f"{op} {d}, {n}, {m}")


def bitfield_text(op: str, size: int, rd: int, rn: int, immr: int, imms_: int) -> str:
    """LLVM's preferred disassembly of sbfm/ubfm/bfm."""
    d, n = gpr(rd, size), gpr(rn, size)
    width = 8 * size
    signed_ = op == "sbfm"
    if op in ("sbfm", "ubfm"):
        if immr == 0:
            alias = None
            if imms_ == 7:
                alias = "sxtb" if signed_ else ("uxtb" if size == 4 else None)
            elif imms_ == 15:
                alias = "sxth" if signed_ else ("uxth" if size == 4 else None)
            elif imms_ == 31 and size == 8 and signed_:
                alias = "sxtw"
            if alias:
                return f"{alias} {d}, {gpr(rn, 4)}"
        if op == "ubfm" and imms_ != width - 1 and imms_ + 1 == immr:
            return f"lsl {d}, {n}, {imm(width - 1 - imms_)}"
        if imms_ == width - 1:
            return f"{'asr' if signed_ else 'lsr'} {d}, {n}, {imm(immr)}"
        if immr > imms_:
            return f"{'sbfiz' if signed_ else 'ubfiz'} {d}, {n}, {imm(width - immr)}, " \
                   f"{imm(imms_ + 1)}"
        return f"{'sbfx' if signed_ else 'ubfx'} {d}, {n}, {imm(immr)}, {imm(imms_ - immr + 1)}"
    if rn == 31 and (immr == 0 or imms_ < immr):
        return f"bfc {d}, {imm((width - immr) % width)}, {imm(imms_ + 1)}"
    if imms_ < immr:
        return f"bfi {d}, {n}, {imm(width - immr)}, {imm(imms_ + 1)}"
    return f"bfxil {d}, {n}, {imm(immr)}, {imm(imms_ - immr + 1)}"


def f_bitfield(s):
    op = s.choice(["ubfm", "sbfm", "bfm"])
    size, rd, rn = size_of(s), reg(s), reg(s)
    immr, imms_ = s.int(0, 8 * size - 1), s.int(0, 8 * size - 1)
    d, n = gpr(rd, size), gpr(rn, size)
    return Case(lambda a: getattr(a, op)(size, rd, rn, immr, imms_),
                bitfield_text(op, size, rd, rn, immr, imms_), f"{op} {d}, {n}, #{immr}, #{imms_}")


def f_bitfield_alias(s):
    op = s.choice(["lsl", "lsr", "asr", "ror", "ubfx", "sbfx", "ubfiz", "sbfiz", "bfi", "bfxil",
                   "sxtb", "sxth", "sxtw", "uxtb", "uxth", "uxtw"])
    size, rd, rn = size_of(s), reg(s), reg(s)
    width = 8 * size
    if op in ("lsl", "lsr", "asr", "ror"):
        amount = s.int(0, width - 1)
        d, n = gpr(rd, size), gpr(rn, size)
        if op == "ror":
            cs = f"ror {d}, {n}, {imm(amount)}"
        elif op == "lsl":
            cs = bitfield_text("ubfm", size, rd, rn, (-amount) % width, width - 1 - amount)
        else:
            cs = bitfield_text("ubfm" if op == "lsr" else "sbfm", size, rd, rn, amount,
                               width - 1)
        return Case(lambda a: getattr(a, op + "_imm")(size, rd, rn, amount), cs,
                    f"{op} {d}, {n}, #{amount}")
    if op in ("ubfx", "sbfx", "ubfiz", "sbfiz", "bfi", "bfxil"):
        lsb = s.int(0, width - 1)
        w = s.int(1, width - lsb)
        d, n = gpr(rd, size), gpr(rn, size)
        raw = {"ubfx": ("ubfm", lsb, lsb + w - 1), "sbfx": ("sbfm", lsb, lsb + w - 1),
               "ubfiz": ("ubfm", (-lsb) % width, w - 1), "sbfiz": ("sbfm", (-lsb) % width, w - 1),
               "bfi": ("bfm", (-lsb) % width, w - 1), "bfxil": ("bfm", lsb, lsb + w - 1)}[op]
        return Case(lambda a: getattr(a, op)(size, rd, rn, lsb, w), bitfield_text(*raw[:1], size,
                    rd, rn, *raw[1:]), f"{raw[0]} {d}, {n}, #{raw[1]}, #{raw[2]}")
    if op in ("sxtb", "sxth"):
        cs = bitfield_text("sbfm", size, rd, rn, 0, 7 if op == "sxtb" else 15)
        return Case(lambda a: getattr(a, op)(size, rd, rn), cs,
                    f"{op} {gpr(rd, size)}, {gpr(rn, 4)}")
    if op == "sxtw":
        return Case(lambda a: a.sxtw(rd, rn), f"sxtw {gpr(rd, 8)}, {gpr(rn, 4)}",
                    f"sxtw {gpr(rd, 8)}, {gpr(rn, 4)}")
    if op == "uxtw":
        return Case(lambda a: a.uxtw(rd, rn), f"mov {gpr(rd, 4)}, {gpr(rn, 4)}",
                    f"mov {gpr(rd, 4)}, {gpr(rn, 4)}")
    text = f"{op} {gpr(rd, 4)}, {gpr(rn, 4)}"
    return Case(lambda a: getattr(a, op)(rd, rn), text, text)


def f_extr(s):
    size, rd, rn = size_of(s), reg(s), reg(s)
    rm = s.choice([rn, reg(s)])
    lsb = s.int(0, 8 * size - 1)
    d, n, m = gpr(rd, size), gpr(rn, size), gpr(rm, size)
    cs = f"ror {d}, {n}, {imm(lsb)}" if rn == rm else f"extr {d}, {n}, {m}, {imm(lsb)}"
    return Case(lambda a: a.extr(size, rd, rn, rm, lsb), cs, f"extr {d}, {n}, {m}, #{lsb}")


def f_dp3(s):
    op = s.choice(["madd", "msub", "mul", "mneg", "smulh", "umulh", "smaddl", "umaddl",
                   "smull", "umull"])
    rd, rn, rm, ra = reg(s), reg(s), reg(s), reg(s)
    if op in ("madd", "msub", "mul", "mneg"):
        size = size_of(s)
        d, n, m, acc = gpr(rd, size), gpr(rn, size), gpr(rm, size), gpr(ra, size)
        if op in ("mul", "mneg"):
            text = f"{op} {d}, {n}, {m}"
            gnu = f"{'madd' if op == 'mul' else 'msub'} {d}, {n}, {m}, {gpr(31, size)}"
            return Case(lambda a: getattr(a, op)(size, rd, rn, rm), text, gnu)
        cs = (f"{'mul' if op == 'madd' else 'mneg'} {d}, {n}, {m}" if ra == 31
              else f"{op} {d}, {n}, {m}, {acc}")
        return Case(lambda a: getattr(a, op)(size, rd, rn, rm, ra), cs,
                    f"{op} {d}, {n}, {m}, {acc}")
    d = gpr(rd, 8)
    if op in ("smulh", "umulh"):
        text = f"{op} {d}, {gpr(rn, 8)}, {gpr(rm, 8)}"
        return Case(lambda a: getattr(a, op)(rd, rn, rm), text, text)
    n, m = gpr(rn, 4), gpr(rm, 4)
    if op in ("smull", "umull"):
        text = f"{op} {d}, {n}, {m}"
        return Case(lambda a: getattr(a, op)(rd, rn, rm), text, text)
    cs = (f"{op[0]}mull {d}, {n}, {m}" if ra == 31 else f"{op} {d}, {n}, {m}, {gpr(ra, 8)}")
    return Case(lambda a: getattr(a, op)(rd, rn, rm, ra), cs, f"{op} {d}, {n}, {m}, {gpr(ra, 8)}")


def f_dp1(s):
    op = s.choice(["clz", "cls", "rbit", "rev", "rev16", "rev32"])
    rd, rn = reg(s), reg(s)
    if op == "rev32":
        text = f"rev32 {gpr(rd, 8)}, {gpr(rn, 8)}"
        return Case(lambda a: a.rev32(rd, rn), text, text)
    size = size_of(s)
    text = f"{op} {gpr(rd, size)}, {gpr(rn, size)}"
    return Case(lambda a: getattr(a, op)(size, rd, rn), text, text)


def f_csel(s):
    op = s.choice(["csel", "csinc", "csinv", "csneg"])
    size, rd, rn = size_of(s), reg(s), reg(s)
    rm = s.choice([rn, reg(s)])
    cond = s.choice(CONDS)
    d, n, m = gpr(rd, size), gpr(rn, size), gpr(rm, size)
    inv = COND_NAMES[cond ^ 1]
    cs = f"{op} {d}, {n}, {m}, {COND_NAMES[cond]}"
    if cond < 14 and rn == rm and op != "csel":
        if rn == 31 and op in ("csinc", "csinv"):
            cs = f"{'cset' if op == 'csinc' else 'csetm'} {d}, {inv}"
        else:
            cs = f"{ {'csinc': 'cinc', 'csinv': 'cinv', 'csneg': 'cneg'}[op]} {d}, {n}, {inv}"
    return Case(lambda a: getattr(a, op)(size, rd, rn, rm, cond), cs,
                f"{op} {d}, {n}, {m}, {COND_NAMES[cond]}")


def f_csel_alias(s):
    op = s.choice(["cset", "csetm", "cinc", "cinv", "cneg"])
    size, rd, rn = size_of(s), reg(s), reg(s)
    cond = s.choice(CONDS[:14])
    d, n = gpr(rd, size), gpr(rn, size)
    c = COND_NAMES[cond]
    if op in ("cset", "csetm"):
        return Case(lambda a: getattr(a, op)(size, rd, cond), f"{op} {d}, {c}", f"{op} {d}, {c}")
    if rn == 31 and op != "cneg":
        cs = f"{'cset' if op == 'cinc' else 'csetm'} {d}, {c}"
    else:
        cs = f"{op} {d}, {n}, {c}"
    return Case(lambda a: getattr(a, op)(size, rd, rn, cond), cs, f"{op} {d}, {n}, {c}")


def f_ccmp(s):
    op = s.choice(["ccmp", "ccmn"])
    form = s.choice(["rr", "imm"])
    size, rn, nzcv, cond = size_of(s), reg(s), s.int(0, 15), s.choice(CONDS)
    x = s.int(0, 31)
    n = gpr(rn, size)
    second = (imm(x), f"#{x}") if form == "imm" else (gpr(x, size),) * 2
    return Case(lambda a: getattr(a, f"{op}_{form}")(size, rn, x, nzcv, cond),
                f"{op} {n}, {second[0]}, {imm(nzcv)}, {COND_NAMES[cond]}",
                f"{op} {n}, {second[1]}, #{nzcv}, {COND_NAMES[cond]}")


# -- loads and stores -------------------------------------------------------------------------

INT_LD = {1: "ldrb", 2: "ldrh", 4: "ldr", 8: "ldr"}
INT_ST = {1: "strb", 2: "strh", 4: "str", 8: "str"}
INT_LDS = {1: "ldrsb", 2: "ldrsh", 4: "ldrsw"}


def mem_kind(s):
    """(method infix, mnemonic, rt text fn, width, extra leading args) of one memory op."""
    kind = s.choice(["ldr", "str", "ldrs", "ldrf", "strf"])
    if kind in ("ldr", "str"):
        width = s.choice([1, 2, 4, 8])
        mn = (INT_LD if kind == "ldr" else INT_ST)[width]
        return kind, mn, (lambda r: gpr(r, 8 if width == 8 else 4)), width, (width,)
    if kind == "ldrs":
        width = s.choice([1, 2, 4])
        size = 8 if width == 4 else s.choice([4, 8])
        return kind, INT_LDS[width], (lambda r: gpr(r, size)), width, (width, size)
    size = s.choice([4, 8, 16])
    return kind, kind[:3], (lambda r: fpr(r, size)), size, (size,)


def _method(kind: str, form: str) -> str:
    if kind in ("ldrf", "strf"):
        return {"imm": f"{kind[:3]}_fp_imm", "u": f"{kind[:2]}ur_fp", "pre": f"{kind[:3]}_fp_pre",
                "post": f"{kind[:3]}_fp_post", "reg": f"{kind[:3]}_fp_reg"}[form]
    if form == "u":
        return {"ldr": "ldur", "str": "stur", "ldrs": "ldurs"}[kind]
    return f"{kind}_{form}"


def f_ls_unsigned(s):
    kind, mn, rt_t, width, lead = mem_kind(s)
    rt, rn = reg(s), reg(s)
    offset = s.int(0, 4095) * width
    n = gpr(rn, 8, sp=True)
    addr_cs = f"[{n}]" if offset == 0 else f"[{n}, {imm(offset)}]"
    return Case(lambda a: getattr(a, _method(kind, "imm"))(*lead, rt, rn, offset),
                f"{mn} {rt_t(rt)}, {addr_cs}", f"{mn} {rt_t(rt)}, [{n}, #{offset}]")


def f_ls_unscaled(s):
    kind, mn, rt_t, width, lead = mem_kind(s)
    rt, rn = reg(s), reg(s)
    offset = s.int(-256, 255)
    n = gpr(rn, 8, sp=True)
    mn = mn.replace("ldr", "ldur").replace("str", "stur")
    addr_cs = f"[{n}]" if offset == 0 else f"[{n}, {imm(offset)}]"
    return Case(lambda a: getattr(a, _method(kind, "u"))(*lead, rt, rn, offset),
                f"{mn} {rt_t(rt)}, {addr_cs}", f"{mn} {rt_t(rt)}, [{n}, #{offset}]")


def f_ls_indexed(s):
    kind, mn, rt_t, width, lead = mem_kind(s)
    if kind == "ldrs":
        kind, mn, rt_t, width, lead = "ldr", "ldr", (lambda r: gpr(r, 8)), 8, (8,)
    form = s.choice(["pre", "post"])
    rt, rn = reg(s), reg(s)
    if kind in ("ldr", "str") and rn == rt and rn != 31:
        rn = (rn + 1) % 31  # writeback with rn == rt is unpredictable
    offset = s.int(-256, 255)
    n = gpr(rn, 8, sp=True)
    if form == "pre":
        cs = f"{mn} {rt_t(rt)}, [{n}, {imm(offset)}]!"
        gnu = f"{mn} {rt_t(rt)}, [{n}, #{offset}]!"
    else:
        # Capstone 5 prints a negative post-index offset as a 64-bit unsigned number.
        cs = f"{mn} {rt_t(rt)}, [{n}], {imm(offset & (2**64 - 1))}"
        gnu = f"{mn} {rt_t(rt)}, [{n}], #{offset}"
    return Case(lambda a: getattr(a, _method(kind, form))(*lead, rt, rn, offset), cs, gnu)


def f_ls_register(s):
    kind, mn, rt_t, width, lead = mem_kind(s)
    rt, rn, rm = reg(s), reg(s), reg(s)
    ext = s.choice([Extend.UXTW, Extend.LSL, Extend.SXTW, Extend.SXTX])
    shift = s.choice([False, True])
    amount = width.bit_length() - 1
    n = gpr(rn, 8, sp=True)
    m = gpr(rm, 8 if ext in (Extend.LSL, Extend.SXTX) else 4)
    name = "lsl" if ext == Extend.LSL else EXT_NAMES[ext]
    if shift:
        sfx = f", {name} #{amount}"
    else:
        sfx = "" if ext == Extend.LSL else f", {name}"
    return Case(lambda a: getattr(a, _method(kind, "reg"))(*lead, rt, rn, rm, ext, shift),
                f"{mn} {rt_t(rt)}, [{n}, {m}{sfx}]", f"{mn} {rt_t(rt)}, [{n}, {m}{sfx}]")


def f_ls_pair(s):
    op = s.choice(["ldp", "stp"])
    fp = s.choice([False, True])
    size = s.choice([4, 8, 16]) if fp else size_of(s)
    index = s.choice(list(Index))
    rt, rt2, rn = reg(s), reg(s), reg(s)
    if op == "ldp" and rt == rt2:
        rt2 = (rt + 1) % 32
    if not fp and index != Index.OFFSET and rn != 31 and rn in (rt, rt2):
        rn = 31
    offset = s.int(-64, 63) * size
    t = (lambda r: fpr(r, size)) if fp else (lambda r: gpr(r, size))
    n = gpr(rn, 8, sp=True)
    if index == Index.OFFSET:
        addr_cs = f"[{n}]" if offset == 0 else f"[{n}, {imm(offset)}]"
        addr_gnu = f"[{n}, #{offset}]"
    elif index == Index.PRE:
        addr_cs, addr_gnu = f"[{n}, {imm(offset)}]!", f"[{n}, #{offset}]!"
    else:
        addr_cs, addr_gnu = f"[{n}], {imm(offset)}", f"[{n}], #{offset}"
    method = op + ("_fp" if fp else "")
    return Case(lambda a: getattr(a, method)(size, rt, rt2, rn, offset, index),
                f"{op} {t(rt)}, {t(rt2)}, {addr_cs}", f"{op} {t(rt)}, {t(rt2)}, {addr_gnu}")


# -- branches, traps, misc ---------------------------------------------------------------------


def f_branch_reg(s):
    op = s.choice(["br", "blr", "ret"])
    rn = reg(s)
    text = "ret" if op == "ret" and rn == 30 else f"{op} {gpr(rn, 8)}"
    return Case(lambda a: getattr(a, op)(rn), text, text)


def f_trap(s):
    op = s.choice(["brk", "udf", "nop"])
    if op == "nop":
        return Case(lambda a: a.nop(), "nop", "nop")
    v = s.int(0, 0xFFFF)
    return Case(lambda a: getattr(a, op)(v), f"{op} {imm(v)}", f"{op} #{v}")


def f_simd(s):
    op = s.choice(["cnt", "addv", "uaddlv"])
    vd, vn = reg(s), reg(s)
    dst = {"cnt": f"v{vd}.8b", "addv": f"b{vd}", "uaddlv": f"h{vd}"}[op]
    text = f"{op} {dst}, v{vn}.8b"
    return Case(lambda a: getattr(a, op + "_8b")(vd, vn), text, text)


# -- floating point ----------------------------------------------------------------------------


def f_fp1(s):
    op = s.choice(["fmov_rr", "fabs", "fneg", "fsqrt", "frintn", "frintm", "frintp", "frintz",
                   "frinta", "frinti", "frintx"])
    size, rd, rn = size_of(s), reg(s), reg(s)
    text = f"{op.split('_')[0]} {fpr(rd, size)}, {fpr(rn, size)}"
    return Case(lambda a: getattr(a, op)(size, rd, rn), text, text)


def f_fp2(s):
    op = s.choice(["fadd", "fsub", "fmul", "fdiv", "fmin", "fmax", "fminnm", "fmaxnm", "fnmul"])
    size, rd, rn, rm = size_of(s), reg(s), reg(s), reg(s)
    text = f"{op} {fpr(rd, size)}, {fpr(rn, size)}, {fpr(rm, size)}"
    return Case(lambda a: getattr(a, op)(size, rd, rn, rm), text, text)


def f_fcmp(s):
    op = s.choice(["fcmp", "fcmpe"])
    size, rn, rm = size_of(s), reg(s), reg(s)
    if s.choice([False, True]):
        text = f"{op} {fpr(rn, size)}, #0.0"
        return Case(lambda a: getattr(a, op + "_zero")(size, rn), text, text)
    text = f"{op} {fpr(rn, size)}, {fpr(rm, size)}"
    return Case(lambda a: getattr(a, op)(size, rn, rm), text, text)


def f_fcsel(s):
    size, rd, rn, rm, cond = size_of(s), reg(s), reg(s), reg(s), s.choice(CONDS)
    text = f"fcsel {fpr(rd, size)}, {fpr(rn, size)}, {fpr(rm, size)}, {COND_NAMES[cond]}"
    return Case(lambda a: a.fcsel(size, rd, rn, rm, cond), text, text)


def f_fmov_imm(s):
    size, rd, imm8 = size_of(s), reg(s), s.int(0, 255)
    value = imms.decode_fp_imm8(imm8)
    return Case(lambda a: a.fmov_imm(size, rd, value), f"fmov {fpr(rd, size)}, #{value:.8f}",
                f"fmov {fpr(rd, size)}, #{value!r}")


def f_fcvt(s):
    dst = size_of(s)
    src = 12 - dst
    rd, rn = reg(s), reg(s)
    text = f"fcvt {fpr(rd, dst)}, {fpr(rn, src)}"
    return Case(lambda a: a.fcvt(dst, src, rd, rn), text, text)


def f_fp_int(s):
    op = s.choice(["scvtf", "ucvtf", "fcvtzs", "fcvtzu", "fmov_to_gpr", "fmov_from_gpr"])
    fs, is_, rd, rn = size_of(s), size_of(s), reg(s), reg(s)
    if op.startswith("fmov"):
        to = op == "fmov_to_gpr"
        text = (f"fmov {gpr(rd, fs)}, {fpr(rn, fs)}" if to
                else f"fmov {fpr(rd, fs)}, {gpr(rn, fs)}")
        return Case(lambda a: getattr(a, op)(fs, rd, rn), text, text)
    if op.endswith("cvtf"):
        text = f"{op} {fpr(rd, fs)}, {gpr(rn, is_)}"
        return Case(lambda a: getattr(a, op)(fs, is_, rd, rn), text, text)
    text = f"{op} {gpr(rd, is_)}, {fpr(rn, fs)}"
    return Case(lambda a: getattr(a, op)(is_, fs, rd, rn), text, text)


FORMS = [
    f_addsub_imm, f_cmp_imm, f_mov_sp, f_addsub_shifted, f_addsub_shifted_alias, f_addsub_ext,
    f_logical_shifted, f_logical_alias, f_logical_imm, f_move_wide, f_dp2, f_bitfield,
    f_bitfield_alias, f_extr, f_dp3, f_dp1, f_csel, f_csel_alias, f_ccmp, f_ls_unsigned,
    f_ls_unscaled, f_ls_indexed, f_ls_register, f_ls_pair, f_branch_reg, f_trap, f_simd, f_fp1,
    f_fp2, f_fcmp, f_fcsel, f_fmov_imm, f_fcvt, f_fp_int,
]


# Label forms: the displacement is written by the LabelUse, so encode and patch directly.
LABEL_FORMS = {
    "b": (IMM26, lambda a, L, r, s: a.b(L), lambda r, s: "b"),
    "bl": (IMM26, lambda a, L, r, s: a.bl(L), lambda r, s: "bl"),
    "b.cond": (IMM19, lambda a, L, r, s: a.b_cond(Cond(r % 16), L),
               lambda r, s: f"b.{COND_NAMES[r % 16]}"),
    "cbz": (IMM19, lambda a, L, r, s: a.cbz(s, r, L), lambda r, s: f"cbz {gpr(r, s)},"),
    "cbnz": (IMM19, lambda a, L, r, s: a.cbnz(s, r, L), lambda r, s: f"cbnz {gpr(r, s)},"),
    "ldr_lit": (IMM19, lambda a, L, r, s: a.ldr_lit(s, r, L), lambda r, s: f"ldr {gpr(r, s)},"),
    "ldrsw_lit": (IMM19, lambda a, L, r, s: a.ldrsw_lit(r, L), lambda r, s: f"ldrsw {gpr(r, 8)},"),
    "ldr_fp_lit": (IMM19, lambda a, L, r, s: a.ldr_fp_lit(s, r, L),
                   lambda r, s: f"ldr {fpr(r, s)},"),
    "adr": (ADR21, lambda a, L, r, s: a.adr(r, L), lambda r, s: f"adr {gpr(r, 8)},"),
    "tbz": (IMM14, lambda a, L, r, s: a.tbz(r, s, L),
            lambda r, s: f"tbz {gpr(r, 8 if s >= 32 else 4)}, {imm(s)},"),
    "tbnz": (IMM14, lambda a, L, r, s: a.tbnz(r, s, L),
             lambda r, s: f"tbnz {gpr(r, 8 if s >= 32 else 4)}, {imm(s)},"),
}


def decode_mov_words(code: bytes, size: int) -> int:
    """Run movz/movn/movk/orr-immediate words in Python (an independent bit-level decoder)."""
    mask = (1 << (8 * size)) - 1
    reg_ = 0
    for i in range(0, len(code), 4):
        w = int.from_bytes(code[i:i + 4], "little")
        assert (w >> 31) == (size == 8)
        if (w >> 23) & 0x3F == 0b100101:  # move wide
            opc, hw, imm16 = (w >> 29) & 3, (w >> 21) & 3, (w >> 5) & 0xFFFF
            if opc == 0:
                reg_ = ~(imm16 << (16 * hw)) & mask
            elif opc == 2:
                reg_ = imm16 << (16 * hw)
            elif opc == 3:
                reg_ = (reg_ & ~(0xFFFF << (16 * hw)) & mask) | (imm16 << (16 * hw))
            else:
                raise AssertionError("reserved move-wide opc")
        else:
            assert (w >> 23) & 0xFF == 0b01100100 and (w >> 5) & 31 == 31  # orr rd, zr, #imm
            reg_ = imms.decode_logical_imm((w >> 22) & 1, (w >> 16) & 63, (w >> 10) & 63, size)
    return reg_
