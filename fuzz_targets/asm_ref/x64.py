"""What Capstone prints for the x64 assembler's operands (winch/isa/x64/asm.py): register
names by size, condition-code suffixes, memory operands and immediates, shared by
tests/test_x64_asm.py and the `assemble` fuzz target.
"""

from __future__ import annotations

import capstone

from winch.isa.x64.asm import GPR_NAMES, Amode, Cond

MD = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
R32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi") + tuple(f"r{i}d" for i in range(8, 16))
R16 = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di") + tuple(f"r{i}w" for i in range(8, 16))
R8 = ("al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil") + tuple(f"r{i}b" for i in range(8, 16))
NAMES = {8: GPR_NAMES, 4: R32, 2: R16, 1: R8}
CC = {Cond.O: "o", Cond.NO: "no", Cond.B: "b", Cond.AE: "ae", Cond.E: "e", Cond.NE: "ne",
      Cond.BE: "be", Cond.A: "a", Cond.S: "s", Cond.NS: "ns", Cond.P: "p", Cond.NP: "np",
      Cond.L: "l", Cond.GE: "ge", Cond.LE: "le", Cond.G: "g"}
PTR = {1: "byte", 2: "word", 4: "dword", 8: "qword"}


def mem_text(m: Amode, size: int | None) -> str:
    parts = GPR_NAMES[m.base]
    if m.index is not None:
        parts += f" + {GPR_NAMES[m.index]}" + (f"*{m.scale}" if m.scale != 1 else "")
    if m.disp:
        parts += f" + {num(m.disp)}" if m.disp > 0 else f" - {num(-m.disp)}"
    inner = f"[{parts}]"
    return f"{PTR[size]} ptr {inner}" if size else inner


def num(v: int) -> str:
    """A non-negative number as Capstone prints it: decimal below 10, else hex."""
    return str(v) if v < 10 else hex(v)


def imm_text(v: int) -> str:
    return num(v) if v >= 0 else "-" + num(-v)


def split_imm(text: str) -> tuple[str, int]:
    """'op a, b, IMM' -> ('op a, b', IMM as int): Capstone shows immediates signed or not."""
    head, imm = text.rsplit(", ", 1)
    return head, int(imm, 0)


def same_imm(a: int, b: int, size: int) -> bool:
    mask = (1 << (8 * size)) - 1
    return a & mask == b & mask


ALU = ("add", "or", "adc", "sbb", "and", "sub", "xor", "cmp")
