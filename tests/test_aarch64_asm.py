"""Tests of the aarch64 assembler (winch/isa/aarch64/asm.py) and its immediates (imms.py).

1. Round trip through Capstone: every form draws registers over all 32 and immediates over
   their full range, encodes one instruction and compares Capstone's text with the text an
   LLVM-style disassembler prints (the alias rules are modelled in `Case` builders below).
2. The immediate helpers: bitmask immediates against an independent enumeration, move-wide
   sequences by simulation, FMOV immediates.
3. A reference set assembled by GNU as, compared byte for byte.
4. Labels: forward/backward fixups resolved by `CodeBuffer.finish()`, range errors.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Callable

import capstone
import pytest
from hypothesis import given, settings, strategies as st

from winch.errors import EncodingError
from winch.isa.aarch64 import imms
from winch.isa.aarch64.asm import (
    ADR21, IMM14, IMM19, IMM26, A64Assembler, Cond, Extend, Index, Shift,
)
from winch.masm.buffer import CodeBuffer

GNU_AS = "/usr/bin/aarch64-linux-gnu-as"
GNU_OBJCOPY = "/usr/bin/aarch64-linux-gnu-objcopy"

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
# Operand sources: one interface for Hypothesis draws and for the seeded reference set
# ---------------------------------------------------------------------------------------------


class HypoSrc:
    def __init__(self, draw):
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, seq):
        return self.draw(st.sampled_from(list(seq)))


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


# ---------------------------------------------------------------------------------------------
# 1. Capstone round trip
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.__name__[2:])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_capstone_round_trip(form, data):
    case = form(HypoSrc(data.draw))
    code = assemble(case.emit)
    assert len(code) == 4
    assert disasm(code) == [case.cs], f"{code[::-1].hex()} expected {case.cs!r}"


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


@pytest.mark.parametrize("name", sorted(LABEL_FORMS))
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_capstone_label_forms(name, data):
    use, emit, prefix = LABEL_FORMS[name]
    r = data.draw(st.integers(0, 31))
    if name == "tbz" or name == "tbnz":
        extra = data.draw(st.integers(0, 63))
    elif name == "ldr_fp_lit":
        extra = data.draw(st.sampled_from([4, 8, 16]))
    else:
        extra = data.draw(st.sampled_from([4, 8]))
    lo, hi = use.max_reach()
    delta = data.draw(st.integers(lo // use.align, hi // use.align)) * use.align
    a = A64Assembler()
    label = a.buf.new_label()
    emit(a, label, r, extra)
    code = bytearray(a.buf.data)
    use.patch(code, 0, delta)
    assert disasm(bytes(code)) == [f"{prefix(r, extra)} {imm(BASE + delta)}"]


def test_bl_reloc_records_relocation():
    a = A64Assembler()
    a.nop()
    a.bl_reloc("wasm_call", 7)
    fin = a.buf.finish()
    assert fin.code[4:8] == (0x94000000).to_bytes(4, "little")
    assert [(r.offset, r.kind, r.target) for r in fin.relocs] == [(4, "wasm_call", 7)]


# ---------------------------------------------------------------------------------------------
# 2. Immediate helpers
# ---------------------------------------------------------------------------------------------


def _all_bitmasks(size: int) -> set[int]:
    """Every bitmask immediate, enumerated from the definition (not from imms.py)."""
    width = 8 * size
    out = set()
    for e in (2, 4, 8, 16, 32, 64):
        if e > width:
            continue
        for ones in range(1, e):
            run = (1 << ones) - 1
            for rot in range(e):
                elem = ((run >> rot) | (run << (e - rot))) & ((1 << e) - 1)
                v = 0
                for i in range(width // e):
                    v |= elem << (i * e)
                out.add(v)
    return out


BITMASKS = {4: _all_bitmasks(4), 8: _all_bitmasks(8)}


def test_bitmask_counts():
    assert len(BITMASKS[8]) == 5334
    # e * (e - 1) distinct patterns per element size e (run length x rotation).
    assert len(BITMASKS[4]) == sum(e * (e - 1) for e in (2, 4, 8, 16, 32)) == 1302


@pytest.mark.parametrize("size", [4, 8])
def test_logical_imm_all_valid_round_trip(size):
    for v in BITMASKS[size]:
        fields = imms.encode_logical_imm(v, size)
        assert fields is not None, hex(v)
        assert imms.decode_logical_imm(*fields, size) == v


@settings(max_examples=300, deadline=None)
@given(size=st.sampled_from([4, 8]), value=st.integers(0, 2**64 - 1))
def test_logical_imm_rejects_exactly_the_invalid(size, value):
    value &= (1 << (8 * size)) - 1
    fields = imms.encode_logical_imm(value, size)
    assert (fields is not None) == (value in BITMASKS[size])
    a = A64Assembler()
    if fields is None:
        with pytest.raises(EncodingError):
            a.orr_imm(size, 0, 1, value)
        assert len(a.buf.data) == 0
    else:
        assert imms.decode_logical_imm(*fields, size) == value
        a.orr_imm(size, 0, 1, value)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_logical_imm_generated_patterns(data):
    size = data.draw(st.sampled_from([4, 8]))
    v = bitmask_value(HypoSrc(data.draw), size)
    fields = imms.encode_logical_imm(v, size)
    assert fields is not None
    assert imms.decode_logical_imm(*fields, size) == v
    # Negative spelling of the same bits is accepted too.
    assert imms.encode_logical_imm(signed(v, size), size) == fields


def test_logical_imm_decode_reserved():
    assert imms.decode_logical_imm(1, 0, 0, 4) is None  # N=1 in a 32-bit register
    assert imms.decode_logical_imm(0, 0, 0b111111, 8) is None  # no element size
    assert imms.decode_logical_imm(1, 0, 0b111111, 8) is None  # all ones
    assert imms.encode_logical_imm(0, 8) is None
    assert imms.encode_logical_imm(-1, 8) is None
    assert imms.encode_logical_imm(0xFFFFFFFF, 4) is None
    with pytest.raises(EncodingError):
        imms.encode_logical_imm(1, 2)


@given(st.integers(-(2**20), 2**25))
def test_add_imm_helper(value):
    r = imms.encode_add_imm(value)
    if r is None:
        assert value < 0 or not (value < 4096 or (value % 4096 == 0 and value < 4096 * 4096))
    else:
        imm12, shift = r
        assert 0 <= imm12 < 4096 and shift in (0, 12) and imm12 << shift == value


def _decode_mov_words(code: bytes, size: int) -> int:
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


def _shortest_len(value: int, size: int) -> int:
    halves = [(value >> (16 * i)) & 0xFFFF for i in range(size // 2)]
    n = max(1, min(sum(h != 0 for h in halves), sum(h != 0xFFFF for h in halves)))
    if n > 1 and value in BITMASKS[size]:
        return 1
    return n


def _interesting_u64():
    halves = st.sampled_from([0, 0xFFFF, 0x1234, 0x8000, 0x00FF, 0xFF00, 0x7FFF])
    composed = st.tuples(halves, halves, halves, halves).map(
        lambda h: h[0] | h[1] << 16 | h[2] << 32 | h[3] << 48)
    return st.one_of(st.integers(0, 2**64 - 1), st.integers(-(2**63), -1), composed,
                     st.sampled_from(sorted(BITMASKS[8])))


@settings(max_examples=300, deadline=None)
@given(size=st.sampled_from([4, 8]), value=_interesting_u64(), rd=st.integers(0, 30))
def test_mov_imm_sequences(size, value, rd):
    mask = (1 << (8 * size)) - 1
    if size == 4:
        value = signed(value, 4) if value < 0 else value & mask
    steps = imms.mov_imm_sequence(value, size)
    assert imms.simulate_mov_sequence(steps, size) == value & mask
    assert len(steps) == _shortest_len(value & mask, size)
    a = A64Assembler()
    n = a.mov_imm(size, rd, value)
    code = bytes(a.buf.data)
    assert n == len(steps) == len(code) // 4
    assert _decode_mov_words(code, size) == value & mask
    assert all(int.from_bytes(code[i:i + 4], "little") & 31 == rd for i in range(0, len(code), 4))
    # Every word is a valid instruction for Capstone.
    assert len(disasm(code)) == n


def test_mov_imm_known_values():
    cases = {(0, 8): 1, (2**64 - 1, 8): 1, (0x1234, 8): 1, (0xFFFF0000, 4): 1,
             (0x12345678, 4): 2, (0xFFFFFFFF, 8): 1, (0x123456789ABCDEF0, 8): 4,
             (0xFFFF_FFFF_FFFF_1234, 8): 1, (0xFFFF_1234_FFFF_5678, 8): 2,
             (0x5555555555555555, 8): 1, (-1, 4): 1}
    for (value, size), length in cases.items():
        a = A64Assembler()
        assert a.mov_imm(size, 3, value) == length, hex(value)
        assert _decode_mov_words(bytes(a.buf.data), size) == value & ((1 << 8 * size) - 1)


def test_fp_imm8():
    values = [imms.decode_fp_imm8(i) for i in range(256)]
    assert len(set(values)) == 256
    assert imms.decode_fp_imm8(0x70) == 1.0
    assert min(abs(v) for v in values) == 0.125 and max(values) == 31.0
    for i, v in enumerate(values):
        assert imms.encode_fp_imm8(v) == i
    for bad in (0.0, -0.0, 0.1, 32.0, float("inf"), float("nan"), 1 / 3):
        assert imms.encode_fp_imm8(bad) is None


# ---------------------------------------------------------------------------------------------
# Validation: bad operands raise EncodingError and emit nothing
# ---------------------------------------------------------------------------------------------

BAD_CALLS = [
    ("add_imm", (8, 32, 0, 0)), ("add_imm", (8, -1, 0, 0)), ("add_imm", (8, True, 0, 0)),
    ("add_imm", (2, 0, 0, 0)), ("add_imm", (8, 0, 0, 4096)), ("add_imm", (8, 0, 0, -1)),
    ("add_imm", (8, 0, 0, 1, 1)), ("add_imm", (8, 0, 0, 1.0)),
    ("add_rr", (8, 0, 1, 2, Shift.ROR, 0)), ("add_rr", (4, 0, 1, 2, Shift.LSL, 32)),
    ("add_rr", (8, 0, 1, 2, Shift.LSL, 64)), ("add_rr", (8, 0, 1, 2, 7, 0)),
    ("add_ext", (8, 0, 1, 2, Extend.UXTW, 5)), ("add_ext", (8, 0, 1, 2, 9, 0)),
    ("orr_rr", (4, 0, 1, 2, Shift.ROR, 32)),
    ("and_imm", (8, 0, 1, 0)), ("and_imm", (8, 0, 1, -1)), ("and_imm", (4, 0, 1, 0xFFFFFFFF)),
    ("and_imm", (4, 0, 1, 0x1_0000_0000)), ("and_imm", (8, 0, 1, 0x1234)),
    ("and_imm", (8, 0, 1, 2**64)),
    ("movz", (4, 0, 1, 32)), ("movz", (8, 0, 1, 8)), ("movz", (8, 0, 0x10000, 0)),
    ("movk", (8, 0, -1, 0)), ("mov_imm", (8, 31, 5)), ("mov_imm", (4, 0, 2**32)),
    ("mov_imm", (8, 0, 2**64)), ("mov_imm", (8, 0, -(2**63) - 1)),
    ("ubfm", (4, 0, 1, 32, 0)), ("ubfm", (8, 0, 1, 0, 64)), ("extr", (4, 0, 1, 2, 32)),
    ("lsl_imm", (8, 0, 1, 64)), ("lsr_imm", (4, 0, 1, 32)), ("asr_imm", (4, 0, 1, -1)),
    ("ror_imm", (4, 0, 1, 32)), ("ubfx", (4, 0, 1, 16, 17)), ("ubfx", (8, 0, 1, 0, 0)),
    ("bfi", (8, 0, 1, 64, 1)),
    ("smulh", (0, 1, 32)), ("rev32", (32, 0)),
    ("cset", (8, 0, Cond.AL)), ("cset", (8, 0, Cond.NV)), ("cinc", (8, 0, 1, 16)),
    ("csel", (8, 0, 1, 2, 16)), ("csel", (8, 0, 1, 2, -1)),
    ("ccmp_imm", (8, 0, 32, 0, Cond.EQ)), ("ccmp_rr", (8, 0, 1, 16, Cond.EQ)),
    ("ldr_imm", (8, 0, 1, 4)), ("ldr_imm", (8, 0, 1, 8 * 4096)), ("ldr_imm", (8, 0, 1, -8)),
    ("ldr_imm", (16, 0, 1, 0)), ("ldr_imm", (3, 0, 1, 0)), ("str_imm", (2, 0, 1, 1)),
    ("ldrs_imm", (4, 4, 0, 1, 0)), ("ldrs_imm", (8, 8, 0, 1, 0)),
    ("ldur", (8, 0, 1, 256)), ("ldur", (8, 0, 1, -257)),
    ("ldr_pre", (8, 3, 3, 8)), ("str_post", (8, 3, 3, 8)), ("ldr_post", (8, 0, 1, 256)),
    ("ldr_reg", (8, 0, 1, 2, Extend.UXTB)), ("ldr_reg", (8, 0, 1, 2, Extend.LSL, 1)),
    ("ldr_fp_imm", (2, 0, 1, 0)), ("ldr_fp_imm", (8, 0, 1, 4)), ("ldr_fp_reg", (1, 0, 1, 2)),
    ("ldp", (8, 0, 0, 31, 0)), ("ldp", (8, 0, 1, 31, 4)), ("ldp", (8, 0, 1, 31, 512)),
    ("ldp", (8, 0, 1, 31, -520)), ("ldp", (8, 0, 1, 0, 16, Index.PRE)),
    ("stp", (8, 0, 1, 1, 16, Index.POST)), ("stp", (16, 0, 1, 31, 0)),
    ("stp", (8, 0, 1, 31, 0, "pre!")), ("ldp_fp", (8, 3, 3, 31, 0)), ("stp_fp", (2, 0, 1, 31, 0)),
    ("brk", (0x10000,)), ("brk", (-1,)), ("udf", (0x10000,)), ("br", (32,)), ("ret", (-1,)),
    ("fmov_imm", (8, 0, 0.1)), ("fmov_imm", (8, 0, 0.0)), ("fmov_imm", (2, 0, 1.0)),
    ("fcvt", (4, 4, 0, 1)), ("fcvt", (8, 8, 0, 1)), ("fadd", (16, 0, 1, 2)),
    ("scvtf", (8, 2, 0, 1)), ("fcvtzs", (16, 8, 0, 1)), ("fcsel", (8, 0, 1, 2, 99)),
    ("fmov_to_gpr", (8, 32, 0)), ("cnt_8b", (0, 32)),
    ("tbz", (0, 64, 0)), ("b", (5,)), ("b", (-1,)), ("cbz", (2, 0, 0)), ("adr", (0, "x")),
    ("ldr_fp_lit", (2, 0, 0)), ("bl_reloc", (3, 0)), ("emit", (2**32,)),
]


@pytest.mark.parametrize("name,args", BAD_CALLS, ids=[f"{n}{a}" for n, a in BAD_CALLS])
def test_bad_operands_raise(name, args):
    a = A64Assembler()
    a.buf.new_label()  # label 0 exists, so only the bad operand can fail
    with pytest.raises(EncodingError):
        getattr(a, name)(*args)
    assert len(a.buf.data) == 0


def test_cond_invert():
    for c in CONDS[:14]:
        assert c.invert().invert() == c and c.invert() != c
    assert Cond.EQ.invert() == Cond.NE and Cond.HS.invert() == Cond.LO
    assert Cond.GT.invert() == Cond.LE
    with pytest.raises(EncodingError):
        Cond.AL.invert()


# ---------------------------------------------------------------------------------------------
# 3. Reference set against GNU as
# ---------------------------------------------------------------------------------------------

REF_PER_FORM = 12


def _reference_cases() -> list[Case]:
    rng = random.Random(20240607)
    cases = []
    for form in FORMS:
        src = RandSrc(rng)
        for _ in range(REF_PER_FORM):
            case = form(src)
            if case.gnu is not None:
                cases.append(case)
    return cases


def _gnu_assemble(source: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        s, o, b = (os.path.join(tmp, n) for n in ("ref.s", "ref.o", "ref.bin"))
        with open(s, "w") as f:
            f.write(source)
        proc = subprocess.run([GNU_AS, "-o", o, s], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "Warning" not in proc.stderr, proc.stderr
        subprocess.run([GNU_OBJCOPY, "-O", "binary", "-j", ".text", o, b], check=True)
        with open(b, "rb") as f:
            return f.read()


needs_gnu = pytest.mark.skipif(
    shutil.which(GNU_AS) is None or shutil.which(GNU_OBJCOPY) is None,
    reason=f"{GNU_AS} (binutils-aarch64-linux-gnu) is not installed")


@needs_gnu
def test_reference_set_matches_gnu_as():
    cases = _reference_cases()
    assert len(cases) >= 300
    ref = _gnu_assemble(".text\n" + "\n".join(c.gnu for c in cases) + "\n")
    assert len(ref) == 4 * len(cases)
    mismatches = []
    for i, case in enumerate(cases):
        ours, theirs = assemble(case.emit), ref[4 * i:4 * i + 4]
        if ours != theirs:
            mismatches.append(f"{case.gnu}: ours {ours[::-1].hex()} gnu {theirs[::-1].hex()}")
    assert not mismatches, "\n".join(mismatches[:20])


def _label_program(a: A64Assembler):
    """A program with forward and backward references of every label kind and a pool."""
    buf = a.buf
    top, fwd, end = buf.new_label(), buf.new_label(), buf.new_label()
    k8 = buf.constant((0x1122334455667788).to_bytes(8, "little"))
    k4 = buf.constant((0x3F800000).to_bytes(4, "little"))
    k16 = buf.constant(bytes(range(16)))
    buf.bind_label(top)
    a.b(fwd)
    a.bl(top)
    a.b_cond(Cond.NE, fwd)
    a.b_cond(Cond.LE, top)
    a.cbz(8, 3, fwd)
    a.cbnz(4, 31, top)
    a.tbz(5, 40, fwd)
    a.tbnz(6, 3, top)
    a.adr(7, fwd)
    a.adr(8, top)
    a.ldr_lit(8, 9, k8)
    a.ldr_lit(4, 10, k4)
    a.ldrsw_lit(11, k4)
    a.ldr_fp_lit(8, 12, k8)
    a.ldr_fp_lit(4, 13, k4)
    a.ldr_fp_lit(16, 14, k16)
    buf.bind_label(fwd)
    a.b(end)
    a.b(fwd)
    a.nop()
    buf.bind_label(end)
    a.ret()


LABEL_PROGRAM_GNU = """
.text
top: b fwd
bl top
b.ne fwd
b.le top
cbz x3, fwd
cbnz wzr, top
tbz x5, #40, fwd
tbnz w6, #3, top
adr x7, fwd
adr x8, top
ldr x9, k8
ldr w10, k4
ldrsw x11, k4
ldr d12, k8
ldr s13, k4
ldr q14, k16
fwd: b end
b fwd
nop
end: ret
.balign 8, 0
k8: .quad 0x1122334455667788
.balign 4, 0
k4: .word 0x3f800000
.balign 16, 0
k16: .byte 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
"""


@needs_gnu
def test_label_program_matches_gnu_as():
    a = A64Assembler()
    _label_program(a)
    fin = a.buf.finish()
    assert fin.code == _gnu_assemble(LABEL_PROGRAM_GNU)


# ---------------------------------------------------------------------------------------------
# 4. Labels through CodeBuffer.finish()
# ---------------------------------------------------------------------------------------------


def test_forward_and_backward_branches_resolve():
    a = A64Assembler()
    buf = a.buf
    back, fwd = buf.new_label(), buf.new_label()
    buf.bind_label(back)  # offset 0
    a.nop()
    a.b(fwd)  # 4 -> 20
    a.b_cond(Cond.EQ, back)  # 8 -> 0
    a.cbz(4, 2, fwd)  # 12 -> 20
    a.tbnz(1, 63, back)  # 16 -> 0
    buf.bind_label(fwd)  # offset 20
    a.adr(0, back)  # 20 -> 0
    a.bl(fwd)  # 24 -> 20
    fin = buf.finish()
    assert fin.label_offsets == (0, 20)
    assert disasm(fin.code, BASE) == [
        "nop", f"b {imm(BASE + 20)}", f"b.eq {imm(BASE)}", f"cbz w2, {imm(BASE + 20)}",
        f"tbnz x1, #0x3f, {imm(BASE)}", f"adr x0, {imm(BASE)}", f"bl {imm(BASE + 20)}"]


def test_constant_pool_literal_load():
    a = A64Assembler()
    k = a.buf.constant((0xDEADBEEFCAFEF00D).to_bytes(8, "little"))
    a.ldr_lit(8, 0, k)
    a.ldr_fp_lit(8, 1, k)
    a.ret()
    fin = a.buf.finish()
    assert fin.code[16:24] == (0xDEADBEEFCAFEF00D).to_bytes(8, "little")  # aligned to 8
    assert disasm(fin.code[:12], BASE) == [f"ldr x0, {imm(BASE + 16)}",
                                           f"ldr d1, {imm(BASE + 16)}", "ret"]


@pytest.mark.parametrize("use", [IMM26, IMM19, IMM14, ADR21], ids=lambda u: u.name)
def test_label_use_range_edges(use):
    lo, hi = use.max_reach()
    for delta in (lo, hi, 0, use.align, -use.align):
        code = bytearray(4)
        use.patch(code, 0, delta)
    for delta in (lo - use.align, hi + use.align):
        with pytest.raises(EncodingError):
            use.patch(bytearray(4), 0, delta)
    if use.align > 1:
        with pytest.raises(EncodingError):
            use.patch(bytearray(4), 0, 2)


def test_patch_only_touches_displacement():
    for use, word in ((IMM26, 0x94000000), (IMM19, 0x54000001), (IMM14, 0xB6F80001),
                      (ADR21, 0x10000007)):
        code = bytearray(word.to_bytes(4, "little"))
        lo, _ = use.max_reach()
        use.patch(code, 0, lo)  # all-ones-ish field
        use.patch(code, 0, 0)  # and back to zero
        assert int.from_bytes(code, "little") == word


def test_imm19_out_of_range_after_finish():
    a = A64Assembler()
    far = a.buf.new_label()
    a.b_cond(Cond.EQ, far)
    a.buf.put(bytes(1 << 20))  # 1 MiB of filler: target at +1 MiB + 4
    a.buf.bind_label(far)
    a.nop()
    with pytest.raises(EncodingError, match="out of range"):
        a.buf.finish()


def test_imm19_largest_forward_distance_ok():
    a = A64Assembler()
    far = a.buf.new_label()
    a.cbnz(8, 0, far)
    a.buf.put(bytes((1 << 20) - 8))
    a.buf.bind_label(far)  # at +1 MiB - 4, the maximum
    a.nop()
    fin = a.buf.finish()
    assert disasm(fin.code[:4], BASE) == [f"cbnz x0, {imm(BASE + (1 << 20) - 4)}"]


def test_imm14_out_of_range_backward():
    a = A64Assembler()
    back = a.buf.new_label()
    a.buf.bind_label(back)
    a.buf.put(bytes(32 * 1024))
    a.tbz(0, 0, back)  # -32 KiB - 0: exactly the limit is fine ...
    a.tbz(0, 0, back)  # ... 4 bytes further is not
    with pytest.raises(EncodingError, match="imm14"):
        a.buf.finish()


def test_adr_odd_distance_and_range():
    a = A64Assembler()
    lbl = a.buf.new_label()
    a.adr(3, lbl)
    a.buf.put(b"\x00\x00\x00")
    a.buf.bind_label(lbl)  # 7 bytes after the adr: byte-granular
    fin = a.buf.finish(pad=b"\x00")
    assert disasm(fin.code[:4], BASE) == [f"adr x3, {imm(BASE + 7)}"]
    with pytest.raises(EncodingError):
        ADR21.patch(bytearray(4), 0, 1 << 20)


def test_unbound_label_fails_at_finish():
    a = A64Assembler()
    a.b(a.buf.new_label())
    with pytest.raises(EncodingError, match="never bound"):
        a.buf.finish()


def test_public_names_exist():
    from winch.isa.aarch64 import asm
    for name in asm.__all__:
        assert hasattr(asm, name), name
    for name in imms.__all__:
        assert hasattr(imms, name), name


def test_assembler_wraps_given_buffer():
    buf = CodeBuffer()
    a = A64Assembler(buf)
    a.nop()
    assert a.buf is buf and bytes(buf.data) == (0xD503201F).to_bytes(4, "little")
