"""Instruction forms of the three assemblers, drawn from a byte-driven source.

Shared by the `assemble` fuzz target: each form draws its operands from a `Source` and
returns a `Case` that can encode itself with our assembler and judge Capstone's decoding.

The expected-text logic is not repeated here: it is `fuzz_targets.asm_ref`, which the
assembler tests use too.  The aarch64 forms are its `FORMS` and `LABEL_FORMS` (they already
take an ``int``/``choice`` source), the s390x rows are checked by its `check_capstone`, and
the x64 forms below are thin wrappers over its x64 text helpers (the x64 tests' checks live
inline in hypothesis tests, so only the small per-form tables are written out here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from winch.isa.aarch64.asm import A64Assembler
from winch.isa.s390x.asm import INSNS
from winch.isa.x64.asm import GPR_NAMES, Amode, Cond, X64Assembler
from winch.masm.buffer import CodeBuffer

from fuzz_targets.asm_ref import aarch64 as A
from fuzz_targets.asm_ref import s390x as S
from fuzz_targets.asm_ref import x64 as X

__all__ = ["Case", "Form", "FdpSource", "FORMS", "ISAS", "capstone_text"]

# --------------------------------------------------------------------------------------
# Operand source
# --------------------------------------------------------------------------------------

# Values worth hitting on purpose: byte/halfword/word edges and Capstone's 9/10 switch
# from decimal to hex.
_INTERESTING = sorted({0, 1, -1, 2, 9, 10, 15, 16, 31, 32, 63, 64, 127, 128, -128, -129,
                       255, 256, 4095, 4096, -256, -257, 0x7FFF, 0x8000, -0x8000, -0x8001,
                       0xFFFF, 0x10000, 2**19 - 1, -2**19, 2**31 - 1, 2**31, -2**31,
                       -2**31 - 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, -2**63, 2**64 - 1})


class FdpSource:
    """`int(lo, hi)` / `choice(seq)` over an `atheris.FuzzedDataProvider`.

    Integers favour the range's edges and `_INTERESTING` values.  In `wild` mode an
    integer is sometimes just outside its range (or far outside), so the assembler's
    operand validation is exercised too; choices always stay inside their sequence.
    Every draw is logged in `draws` for the failure report.
    """

    def __init__(self, fdp, wild: bool = False):
        self.fdp = fdp
        self.wild = wild
        self.went_wild = False  # did any operand actually leave its range?
        self.draws: list = []

    def int(self, lo: int, hi: int) -> int:
        if hi < lo:  # a wild earlier draw can empty a dependent range
            hi = lo
        sel = self.fdp.ConsumeIntInRange(0, 15)
        if self.wild and sel == 15:
            v = self.fdp.PickValueInList([lo - 1, hi + 1, lo - 2**32, hi + 2**64, -1, 2**64])
        elif sel == 0:
            v = lo
        elif sel == 1:
            v = hi
        elif sel in (2, 3):
            near = [x for x in _INTERESTING if lo <= x <= hi] + [lo + 1, hi - 1]
            v = max(lo, min(hi, near[self.fdp.ConsumeIntInRange(0, len(near) - 1)]))
        else:
            v = self.fdp.ConsumeIntInRange(lo, hi)
        self.went_wild |= not lo <= v <= hi
        self.draws.append(v)
        return v

    def choice(self, seq: Sequence):
        seq = list(seq)
        v = seq[self.fdp.ConsumeIntInRange(0, len(seq) - 1)]
        self.draws.append(v.name if isinstance(v, Form) else v)
        return v

    def randint(self, lo: int, hi: int) -> int:  # random.Random's spelling (s390x helpers)
        return self.int(lo, hi)


# --------------------------------------------------------------------------------------
# Cases and forms
# --------------------------------------------------------------------------------------


@dataclass
class Case:
    call: str                              # what was asked of the assembler
    expected: str                          # what Capstone should print
    encode: Callable[[], bytes]            # our bytes (may raise EncodingError)
    verify: Callable[[bytes], str | None]  # None, or what is wrong with the bytes


@dataclass(frozen=True)
class Form:
    isa: str
    name: str
    build: Callable[[object], Case]


_CS = {
    "x64": X.MD,
    "aarch64": A.MD,
    "s390x": S.MD,
}
_ADDR = {"x64": 0x10000, "aarch64": A.BASE, "s390x": S.ADDR}


def capstone_text(isa: str, code: bytes) -> str:
    """Every instruction Capstone decodes from `code`, '; '-separated (for reports)."""
    insns = [f"{i.mnemonic} {i.op_str}".strip() for i in _CS[isa].disasm(code, _ADDR[isa])]
    used = sum(i.size for i in _CS[isa].disasm(code, _ADDR[isa]))
    if used < len(code):
        insns.append(f"<undecoded {code[used:].hex()}>")
    return "; ".join(insns) or "<nothing decoded>"


# -- x64 -----------------------------------------------------------------------------------
X64_ADDR = _ADDR["x64"]
NAMES = X.NAMES
ALU_SIZES = (2, 4, 8)  # `_alu_size` accepts these (size 1 raises EncodingError)
SSE_SIZES = (4, 8)


def _x64_one(code: bytes) -> tuple[str | None, str]:
    """(problem, text) of decoding `code` as exactly one x64 instruction."""
    insns = list(X.MD.disasm(code, X64_ADDR))
    if len(insns) != 1 or insns[0].size != len(code):
        return "not exactly one instruction", capstone_text("x64", code)
    return None, f"{insns[0].mnemonic} {insns[0].op_str}".strip()


def _x64(method: str, args: tuple, expected, *, label=None) -> Case:
    """A Case calling `X64Assembler.<method>(*args)`.

    `expected` is Capstone's text, or a (description, predicate-on-text) pair for the
    forms whose immediates Capstone may show signed or unsigned.  `label` ("back" or
    "fwd") passes a label bound at the instruction's start or end as the last argument.
    """
    def encode() -> bytes:
        buf = CodeBuffer()
        a = X64Assembler(buf)
        if label is None:
            getattr(a, method)(*args)
            return bytes(buf.data)
        lab = buf.new_label()
        if label == "back":
            buf.bind_label(lab)
        getattr(a, method)(*args, lab)
        if label == "fwd":
            buf.bind_label(lab)
        return buf.finish().code

    if isinstance(expected, str):
        desc, ok = expected, (lambda t: t == expected)
    else:
        desc, ok = expected

    def verify(code: bytes) -> str | None:
        problem, text = _x64_one(code)
        if problem is None and not ok(text):
            problem = "text differs"
        return problem

    shown = ", ".join(repr(a) for a in args) + (f", <label {label}>" if label else "")
    return Case(f"{method}({shown})", desc, encode, verify)


def _imm_is(head: str, v: int, size: int):
    """Expectation 'head, IMM' where IMM equals v modulo 2**(8*size)."""
    def ok(text: str) -> bool:
        try:
            h, got = X.split_imm(text)
        except ValueError:
            return False
        return h == head and X.same_imm(got, v, size)
    return f"{head}, <{v:#x} mod 2**{8 * size}>", ok


def _gpr(s) -> int:
    return s.int(0, 15)


def _amode(s) -> Amode:
    base = s.int(0, 15)
    index = s.choice([None, "reg"])
    if index is not None:
        index = s.int(0, 15)
        if index == 4:  # rsp cannot be an index: keep it only as a wild operand
            if s.wild:
                s.went_wild = True
            else:
                index = None
    return Amode(base, index, s.choice([1, 2, 4, 8]), s.int(-(1 << 31), (1 << 31) - 1))


def _rm(s, size: int):
    """A register or memory operand and its text at `size` bytes."""
    if s.choice([False, True]):
        m = _amode(s)
        return m, X.mem_text(m, size)
    r = _gpr(s)
    return r, _reg_text(NAMES[size], r)


def _reg_text(names, r: int) -> str:
    return names[r] if 0 <= r < 16 else f"<bad reg {r}>"


def _xmm_rm(s, size: int):
    if s.choice([False, True]):
        m = _amode(s)
        return m, X.mem_text(m, size)
    r = s.int(0, 15)
    return r, f"xmm{r}"


def x_mov_rr(s):
    size, d, r = s.choice(ALU_SIZES), _gpr(s), _gpr(s)
    n = NAMES[size]
    return _x64("mov_rr", (size, d, r), f"mov {_reg_text(n, d)}, {_reg_text(n, r)}")


def x_mov_ri(s):
    size, d = s.choice([4, 8]), _gpr(s)
    if size == 4:
        v = s.int(-(1 << 31), (1 << 32) - 1)
        return _x64("mov_ri", (4, d, v), _imm_is(f"mov {_reg_text(X.R32, d)}", v, 4))
    v = s.int(-(1 << 63), (1 << 64) - 1)

    def ok(text: str) -> bool:  # tests/test_x64_asm.py::test_mov_ri_64_value
        m = re.fullmatch(r"(mov|movabs) (\w+), (-?0x[0-9a-f]+|\d+)", text)
        if not m:
            return False
        got = int(m.group(3), 0)
        if m.group(2) == _reg_text(X.R32, d):
            return 0 <= v < (1 << 32) and got == v
        return m.group(2) == _reg_text(GPR_NAMES, d) and (got - v) % (1 << 64) == 0
    return _x64("mov_ri", (8, d, v), (f"mov(abs) {_reg_text(GPR_NAMES, d)}, {v:#x}", ok))


def x_xor_zero(s):
    d = _gpr(s)
    r = _reg_text(X.R32, d)
    return _x64("xor_zero", (d,), f"xor {r}, {r}")


def x_load_store(s):
    op = s.choice(["load", "store", "lea"])
    size = s.choice([1, 2, 4, 8] if op == "store" else ALU_SIZES)
    r, m = _gpr(s), _amode(s)
    if op == "lea":
        return _x64("lea", (r, m), f"lea {_reg_text(GPR_NAMES, r)}, {X.mem_text(m, None)}")
    rt = _reg_text(NAMES[size], r)
    if op == "load":
        return _x64("load", (size, r, m), f"mov {rt}, {X.mem_text(m, size)}")
    return _x64("store", (size, m, r), f"mov {X.mem_text(m, size)}, {rt}")


def x_store_imm(s):
    size, m = s.choice([4, 8]), _amode(s)
    v = s.int(-(1 << 31), (1 << 32) - 1 if size == 4 else (1 << 31) - 1)
    return _x64("store_imm", (size, m, v), _imm_is(f"mov {X.mem_text(m, size)}", v, size))


def x_extend(s):
    op = s.choice(["movzx", "movsx", "movsxd"])
    d = _gpr(s)
    if op == "movsxd":
        rm, t = _rm(s, 4)
        return _x64("movsx", (4, 8, d, rm), f"movsxd {_reg_text(GPR_NAMES, d)}, {t}")
    src = s.choice([1, 2])
    rm, t = _rm(s, src)
    if op == "movzx":
        return _x64("movzx", (src, d, rm), f"movzx {_reg_text(X.R32, d)}, {t}")
    dst = s.choice([4, 8])
    return _x64("movsx", (src, dst, d, rm), f"movsx {_reg_text(NAMES[dst], d)}, {t}")


def x_alu(s):
    op, size, d = s.choice(X.ALU), s.choice(ALU_SIZES), _gpr(s)
    n = NAMES[size]
    if s.choice([False, True]):
        r = _gpr(s)
        return _x64("alu_rr", (op, size, d, r), f"{op} {_reg_text(n, d)}, {_reg_text(n, r)}")
    m = _amode(s)
    return _x64("alu_rm", (op, size, d, m), f"{op} {_reg_text(n, d)}, {X.mem_text(m, size)}")


def _alu_imm(s, size: int) -> int:
    """An immediate the size-`size` ALU forms take: signed, or (4, 8) a bit pattern."""
    if size == 2:
        return s.int(-(1 << 15), (1 << 15) - 1)
    if size == 4:
        return s.int(-(1 << 31), (1 << 32) - 1)
    return s.choice([s.int(-(1 << 31), (1 << 31) - 1), s.int((1 << 64) - (1 << 31), (1 << 64) - 1)])


def x_alu_ri(s):
    op, size = s.choice(X.ALU), s.choice(ALU_SIZES)
    dst, t = _rm(s, size)
    v = _alu_imm(s, size)
    return _x64("alu_ri", (op, size, dst, v), _imm_is(f"{op} {t}", v, size))


def x_imul_test_cmov(s):
    op, size, d, r = s.choice(["imul_rr", "test_rr", "imul_rri", "cmov"]), s.choice(ALU_SIZES), \
        _gpr(s), _gpr(s)
    n = NAMES[size]
    dt, rt = _reg_text(n, d), _reg_text(n, r)
    if op == "imul_rri":
        v = _alu_imm(s, size)
        return _x64(op, (size, d, r, v), _imm_is(f"imul {dt}, {rt}", v, size))
    if op == "cmov":
        c = s.choice(list(Cond))
        return _x64(op, (c, size, d, r), f"cmov{X.CC[c]} {dt}, {rt}")
    return _x64(op, (size, d, r), f"{op[:-3]} {dt}, {rt}")


def x_group3(s):
    op, size, r = s.choice(["not", "neg", "mul", "imul1", "div", "idiv"]), s.choice(ALU_SIZES), \
        _gpr(s)
    return _x64("group3", (op, size, r), f"{op.rstrip('1')} {_reg_text(NAMES[size], r)}")


def x_shift(s):
    op, size, r = s.choice(["rol", "ror", "shl", "shr", "sar"]), s.choice(ALU_SIZES), _gpr(s)
    rt = _reg_text(NAMES[size], r)
    if s.choice([False, True]):
        return _x64("shift_cl", (op, size, r), f"{op} {rt}, cl")
    n = s.int(0, 63)
    return _x64("shift_ri", (op, size, r, n), f"{op} {rt}, {X.num(n)}")


def x_bitcount(s):
    op, size, d, r = s.choice(["lzcnt", "tzcnt", "popcnt"]), s.choice(ALU_SIZES), _gpr(s), \
        _gpr(s)
    n = NAMES[size]
    return _x64("bitcount", (op, size, d, r), f"{op} {_reg_text(n, d)}, {_reg_text(n, r)}")


def x_setcc(s):
    c, r = s.choice(list(Cond)), _gpr(s)
    return _x64("setcc", (c, r), f"set{X.CC[c]} {_reg_text(X.R8, r)}")


def x_push_pop_call(s):
    op = s.choice(["push", "pop", "call_r", "jmp_r", "call_m"])
    if op == "call_m":
        m = _amode(s)
        return _x64(op, (m,), f"call {X.mem_text(m, 8)}")
    r = _gpr(s)
    return _x64(op, (r,), f"{op.split('_')[0]} {_reg_text(GPR_NAMES, r)}")


def x_fixed(s):
    op = s.choice(["ud2", "ret", "leave", "cqo", "cdq", "rep_stosq"])
    if op in ("cqo", "cdq"):
        return _x64("cdq", (8 if op == "cqo" else 4,), op)
    return _x64(op, (), "rep stosq qword ptr [rdi], rax" if op == "rep_stosq" else op)


def x_branches(s):
    op = s.choice(["jcc_short", "jmp_label", "jcc_label", "call_label", "lea_label"])
    if op == "jcc_short":
        c, disp = s.choice(list(Cond)), s.int(-128, 127)
        return _x64(op, (c, disp), f"j{X.CC[c]} {X.num(X64_ADDR + 2 + disp)}")
    label = s.choice(["back", "fwd"])
    size = {"jmp_label": 5, "jcc_label": 6, "call_label": 5, "lea_label": 7}[op]
    target = X64_ADDR + (size if label == "fwd" else 0)
    if op == "lea_label":
        d = _gpr(s)
        disp = target - (X64_ADDR + size)
        rip = "[rip]" if disp == 0 else f"[rip - {X.num(-disp)}]"
        return _x64(op, (d,), f"lea {_reg_text(GPR_NAMES, d)}, {rip}", label=label)
    if op == "jcc_label":
        c = s.choice(list(Cond))
        return _x64(op, (c,), f"j{X.CC[c]} {X.num(target)}", label=label)
    return _x64(op, (), f"{op.split('_')[0]} {X.num(target)}", label=label)


def x_sse_moves(s):
    op, size, x = s.choice(["movs_load", "movs_store", "movaps", "movd_to_x", "movd_from_x"]), \
        s.choice(SSE_SIZES), s.int(0, 15)
    sfx = "ss" if size == 4 else "sd"
    if op == "movs_load":
        m = _amode(s)
        return _x64(op, (size, x, m), f"mov{sfx} xmm{x}, {X.mem_text(m, size)}")
    if op == "movs_store":
        m = _amode(s)
        return _x64(op, (size, m, x), f"mov{sfx} {X.mem_text(m, size)}, xmm{x}")
    if op == "movaps":
        y = s.int(0, 15)
        return _x64(op, (x, y), f"movaps xmm{x}, xmm{y}")
    r = _gpr(s)
    mn, rt = ("movd" if size == 4 else "movq"), _reg_text(NAMES[size], r)
    if op == "movd_to_x":
        return _x64(op, (size, x, r), f"{mn} xmm{x}, {rt}")
    return _x64(op, (size, r, x), f"{mn} {rt}, xmm{x}")


def x_sse_arith(s):
    op = s.choice(["add", "sub", "mul", "div", "min", "max", "sqrt", "and", "andn", "or", "xor",
                   "ucomis"])
    size, x = s.choice(SSE_SIZES), s.int(0, 15)
    if op in ("and", "andn", "or", "xor"):
        y = s.int(0, 15)
        return _x64("sse_logic", (op, size, x, y),
                    f"{op}{'ps' if size == 4 else 'pd'} xmm{x}, xmm{y}")
    src, t = _xmm_rm(s, size)
    sfx = "ss" if size == 4 else "sd"
    if op == "ucomis":
        return _x64(op, (size, x, src), f"ucomi{sfx} xmm{x}, {t}")
    return _x64("sse_arith", (op, size, x, src), f"{op}{sfx} xmm{x}, {t}")


def x_sse_convert(s):
    op = s.choice(["cvtsi2s", "cvtts2si", "cvt_f2f", "rounds"])
    fsize, isize, x, r = s.choice(SSE_SIZES), s.choice([4, 8]), s.int(0, 15), s.int(0, 15)
    f, g = ("ss", "sd") if fsize == 4 else ("sd", "ss")
    rt = _reg_text(NAMES[isize], r)
    if op == "cvtsi2s":
        return _x64(op, (fsize, isize, x, r), f"cvtsi2{f} xmm{x}, {rt}")
    if op == "cvtts2si":
        return _x64(op, (isize, fsize, r, x), f"cvtt{f}2si {rt}, xmm{x}")
    if op == "cvt_f2f":
        return _x64(op, (8 if fsize == 4 else 4, x, r), f"cvt{f}2{g} xmm{x}, xmm{r}")
    mode = s.int(0, 255)
    return _x64(op, (fsize, x, r, mode), f"round{f} xmm{x}, xmm{r}, {X.num(mode)}")


X64_FORMS = [x_mov_rr, x_mov_ri, x_xor_zero, x_load_store, x_store_imm, x_extend, x_alu,
             x_alu_ri, x_imul_test_cmov, x_group3, x_shift, x_bitcount, x_setcc,
             x_push_pop_call, x_fixed, x_branches, x_sse_moves, x_sse_arith, x_sse_convert]


# -- aarch64 -------------------------------------------------------------------------------


def _a64_case(form) -> Callable[[object], Case]:
    """One of asm_ref.aarch64's FORMS: one word, Capstone prints `case.cs`."""
    def build(s) -> Case:
        c = form(s)

        def verify(code: bytes) -> str | None:
            if len(code) != 4:
                return f"{len(code)} bytes, not one word"
            return None if A.disasm(code) == [c.cs] else "text differs"
        return Case(c.gnu or "(no GNU spelling)", c.cs, lambda: A.assemble(c.emit), verify)
    return build


def _a64_label_case(name: str) -> Callable[[object], Case]:
    """tests/test_aarch64_asm.py::test_capstone_label_forms: emit, then patch `delta`."""
    use, emit, prefix = A.LABEL_FORMS[name]

    def build(s) -> Case:
        r = s.int(0, 31)
        if name in ("tbz", "tbnz"):
            extra = s.int(0, 63)
        else:
            extra = s.choice([4, 8, 16] if name == "ldr_fp_lit" else [4, 8])
        lo, hi = use.max_reach()
        delta = s.int(lo // use.align, hi // use.align) * use.align
        expected = f"{prefix(r, extra)} {A.imm(A.BASE + delta)}"

        def encode() -> bytes:
            a = A64Assembler()
            emit(a, a.buf.new_label(), r, extra)
            code = bytearray(a.buf.data)
            use.patch(code, 0, delta)
            return bytes(code)

        def verify(code: bytes) -> str | None:
            return None if A.disasm(code) == [expected] else "text differs"
        return Case(f"{name}(r={r}, extra={extra}, delta={delta})", expected, encode, verify)
    return build


def a_mov_imm(s) -> Case:
    """mov_imm's movz/movn/movk/orr sequence loads the value (asm_ref's bit-level decoder)."""
    size, rd = s.choice([4, 8]), s.int(0, 30)
    value = s.int(-(1 << 63), (1 << 64) - 1) if size == 8 else s.int(-(1 << 31), (1 << 32) - 1)
    mask = (1 << (8 * size)) - 1

    def encode() -> bytes:
        a = A64Assembler()
        a.mov_imm(size, rd, value)
        return bytes(a.buf.data)

    def verify(code: bytes) -> str | None:
        words = [code[i:i + 4] for i in range(0, len(code), 4)]
        if not 1 <= len(words) <= size // 2 or len(code) % 4:
            return f"{len(code)} bytes"
        if len(A.disasm(code)) != len(words):
            return "Capstone does not decode every word"
        if any(int.from_bytes(w, "little") & 31 != rd for w in words):
            return "a word writes another register"
        try:
            got = A.decode_mov_words(code, size)
        except AssertionError as e:
            return f"not a move-wide/orr sequence ({e})"
        return None if got == value & mask else f"loads {got:#x}"
    return Case(f"mov_imm({size}, {rd}, {value:#x})", f"<{value & mask:#x} in {size} bytes>",
                encode, verify)


AARCH64_FORMS = (
    [Form("aarch64", f.__name__[2:], _a64_case(f)) for f in A.FORMS]
    + [Form("aarch64", f"label_{n}", _a64_label_case(n)) for n in sorted(A.LABEL_FORMS)]
    + [Form("aarch64", "mov_imm", a_mov_imm)]
)


# -- s390x ---------------------------------------------------------------------------------


def _s390x_case(mnemonic: str) -> Callable[[object], Case]:
    """One `INSNS` row, operands by `edge_values`, judged by `check_capstone`."""
    ops = INSNS[mnemonic].operands

    def build(s) -> Case:
        values = [v for o in ops for v in S.edge_values(o.kind, False, s)]

        def verify(code: bytes) -> str | None:
            try:
                S.check_capstone(mnemonic, values)
            except AssertionError as e:
                return str(e) or "check_capstone failed"
            return None
        try:
            gnu = S.gnu_text(mnemonic, values)
        except Exception:  # wild operands the GNU spelling cannot show
            gnu = f"{mnemonic} {values!r}"
        return Case(gnu, "<operands as given>", lambda: S.encode(mnemonic, values), verify)
    return build


S390X_FORMS = [Form("s390x", m, _s390x_case(m)) for m in sorted(INSNS)]


ISAS = ("x64", "aarch64", "s390x")
FORMS: dict[str, list[Form]] = {
    "x64": [Form("x64", f.__name__[2:], f) for f in X64_FORMS],
    "aarch64": AARCH64_FORMS,
    "s390x": S390X_FORMS,
}
