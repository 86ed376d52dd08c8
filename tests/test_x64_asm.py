"""x64 assembler: every form round-trips through Capstone, and matches GNU `as` bytes."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from winch.errors import EncodingError
from winch.isa.x64.asm import GPR_NAMES, Amode, Cond, X64Assembler
from winch.masm.buffer import CodeBuffer

from fuzz_targets.asm_ref.x64 import (
    ALU, CC, MD, NAMES, R8, R32, mem_text, same_imm, split_imm,
)

gpr = st.integers(0, 15)
gpr_no_sp = st.integers(0, 15).filter(lambda r: r != 4)
xmm = st.integers(0, 15)
size48 = st.sampled_from([4, 8])
disp = st.one_of(st.sampled_from([0, 1, -1, 127, 128, -128, -129, 0x7FFF_FFFF, -(1 << 31)]),
                 st.integers(-(1 << 31), (1 << 31) - 1))
amode = st.builds(lambda b, i, s, d: Amode(b, i, s, d), gpr, st.one_of(st.none(), gpr_no_sp),
                  st.sampled_from([1, 2, 4, 8]), disp)


def decode(emit) -> str:
    buf = CodeBuffer()
    emit(X64Assembler(buf))
    code = bytes(buf.data)
    insns = list(MD.disasm(code, 0))
    assert len(insns) == 1, (code.hex(), [(i.mnemonic, i.op_str) for i in insns])
    assert insns[0].size == len(code), code.hex()
    return f"{insns[0].mnemonic} {insns[0].op_str}".strip()


settings_ = settings(max_examples=60, deadline=None)


@settings_
@given(size48, gpr, gpr)
def test_mov_rr(size, d, s):
    assert decode(lambda a: a.mov_rr(size, d, s)) == f"mov {NAMES[size][d]}, {NAMES[size][s]}"


@settings_
@given(gpr, st.one_of(st.integers(0, (1 << 64) - 1), st.sampled_from(
    [0, 1, 0xFFFF_FFFF, 1 << 32, (1 << 64) - 1, 1 << 63, (1 << 31), (1 << 64) - (1 << 31)])))
def test_mov_ri_64_value(d, v):
    text = decode(lambda a: a.mov_ri(8, d, v))
    m = re.fullmatch(r"(mov|movabs) (\w+), (-?0x[0-9a-f]+|\d+)", text)
    assert m, text
    got = int(m.group(3), 0)
    if m.group(2) == R32[d]:
        assert v < (1 << 32) and got == v  # zero-extending 32-bit form
    else:
        assert m.group(2) == GPR_NAMES[d] and got & ((1 << 64) - 1) == v


@settings_
@given(st.sampled_from([1, 2, 4, 8]), gpr, amode)
def test_store(size, r, m):
    assert decode(lambda a: a.store(size, m, r)) == f"mov {mem_text(m, size)}, {NAMES[size][r]}"


@settings_
@given(size48, gpr, amode)
def test_load_and_lea(size, r, m):
    assert decode(lambda a: a.load(size, r, m)) == f"mov {NAMES[size][r]}, {mem_text(m, size)}"
    assert decode(lambda a: a.lea(r, m)) == f"lea {GPR_NAMES[r]}, {mem_text(m, None)}"


@settings_
@given(size48, amode, st.integers(-(1 << 31), (1 << 31) - 1))
def test_store_imm(size, m, v):
    head, imm = split_imm(decode(lambda a: a.store_imm(size, m, v)))
    assert head == f"mov {mem_text(m, size)}" and same_imm(imm, v, size)


@settings_
@given(st.sampled_from([1, 2]), size48, gpr, st.one_of(gpr, amode))
def test_movzx_movsx(src, dst_size, d, rm):
    operand = NAMES[src][rm] if isinstance(rm, int) else mem_text(rm, src)
    assert decode(lambda a: a.movzx(src, d, rm)) == f"movzx {R32[d]}, {operand}"
    assert decode(lambda a: a.movsx(src, dst_size, d, rm)) == \
        f"movsx {NAMES[dst_size][d]}, {operand}"


@settings_
@given(gpr, st.one_of(gpr, amode))
def test_movsxd(d, rm):
    operand = R32[rm] if isinstance(rm, int) else mem_text(rm, 4)
    assert decode(lambda a: a.movsx(4, 8, d, rm)) == f"movsxd {GPR_NAMES[d]}, {operand}"


@settings_
@given(st.sampled_from(ALU), size48, gpr, gpr, amode)
def test_alu_rr_rm(op, size, d, s, m):
    n = NAMES[size]
    assert decode(lambda a: a.alu_rr(op, size, d, s)) == f"{op} {n[d]}, {n[s]}"
    assert decode(lambda a: a.alu_rm(op, size, d, m)) == f"{op} {n[d]}, {mem_text(m, size)}"


@settings_
@given(st.sampled_from(ALU), size48, gpr, st.one_of(
    st.sampled_from([0, 1, -1, 127, -128, 128, -129, 0x7FFF_FFFF, -(1 << 31)]),
    st.integers(-(1 << 31), (1 << 31) - 1)))
def test_alu_ri(op, size, d, v):
    text = decode(lambda a: a.alu_ri(op, size, d, v))
    mnem, rest = text.split(" ", 1)
    reg, imm = rest.split(", ")
    assert mnem == op and reg == NAMES[size][d]
    got = int(imm, 0)
    mask = (1 << (8 * size)) - 1
    assert got & mask == v & mask


def test_alu_ri_out_of_range():
    with pytest.raises(EncodingError):
        X64Assembler(CodeBuffer()).alu_ri("add", 8, 0, 1 << 40)


@settings_
@given(size48, gpr, gpr, st.integers(-(1 << 31), (1 << 31) - 1))
def test_imul_test_cmov(size, d, s, v):
    n = NAMES[size]
    assert decode(lambda a: a.imul_rr(size, d, s)) == f"imul {n[d]}, {n[s]}"
    assert decode(lambda a: a.test_rr(size, d, s)) == f"test {n[d]}, {n[s]}"
    head, imm = split_imm(decode(lambda a: a.imul_rri(size, d, s, v)))
    assert head == f"imul {n[d]}, {n[s]}" and same_imm(imm, v, size)
    for c, name in CC.items():
        assert decode(lambda a: a.cmov(c, size, d, s)) == f"cmov{name} {n[d]}, {n[s]}"


@settings_
@given(st.sampled_from(["not", "neg", "mul", "div", "idiv"]), size48, gpr)
def test_group3(op, size, r):
    assert decode(lambda a: a.group3(op, size, r)) == f"{op} {NAMES[size][r]}"


@settings_
@given(st.sampled_from(["rol", "ror", "shl", "shr", "sar"]), size48, gpr, st.integers(1, 63))
def test_shifts(op, size, r, n):
    assert decode(lambda a: a.shift_cl(op, size, r)) == f"{op} {NAMES[size][r]}, cl"
    n &= 8 * size - 1
    if n > 1:
        assert split_imm(decode(lambda a: a.shift_ri(op, size, r, n))) == \
            (f"{op} {NAMES[size][r]}", n)


@settings_
@given(st.sampled_from(["lzcnt", "tzcnt", "popcnt"]), size48, gpr, gpr)
def test_bitcount(op, size, d, s):
    assert decode(lambda a: a.bitcount(op, size, d, s)) == f"{op} {NAMES[size][d]}, {NAMES[size][s]}"


@settings_
@given(gpr, st.sampled_from(list(Cond)))
def test_setcc(r, c):
    assert decode(lambda a: a.setcc(c, r)) == f"set{CC[c]} {R8[r]}"


@settings_
@given(gpr)
def test_push_pop_calls(r):
    assert decode(lambda a: a.push(r)) == f"push {GPR_NAMES[r]}"
    assert decode(lambda a: a.pop(r)) == f"pop {GPR_NAMES[r]}"
    assert decode(lambda a: a.call_r(r)) == f"call {GPR_NAMES[r]}"
    assert decode(lambda a: a.jmp_r(r)) == f"jmp {GPR_NAMES[r]}"


@settings_
@given(st.sampled_from([4, 8]), xmm, xmm, amode)
def test_sse_moves(size, x, y, m):
    s = "ss" if size == 4 else "sd"
    assert decode(lambda a: a.movs_load(size, x, m)) == f"mov{s} xmm{x}, {mem_text(m, size)}"
    assert decode(lambda a: a.movs_store(size, m, x)) == f"mov{s} {mem_text(m, size)}, xmm{x}"
    assert decode(lambda a: a.movaps(x, y)) == f"movaps xmm{x}, xmm{y}"


@settings_
@given(st.sampled_from([4, 8]), xmm, gpr)
def test_movd(size, x, r):
    mn = "movd" if size == 4 else "movq"
    assert decode(lambda a: a.movd_to_x(size, x, r)) == f"{mn} xmm{x}, {NAMES[size][r]}"
    assert decode(lambda a: a.movd_from_x(size, r, x)) == f"{mn} {NAMES[size][r]}, xmm{x}"


@settings_
@given(st.sampled_from(["add", "sub", "mul", "div", "min", "max", "sqrt"]), st.sampled_from([4, 8]),
       xmm, xmm)
def test_sse_arith(op, size, x, y):
    s = "ss" if size == 4 else "sd"
    assert decode(lambda a: a.sse_arith(op, size, x, y)) == f"{op}{s} xmm{x}, xmm{y}"


@settings_
@given(st.sampled_from(["and", "andn", "or", "xor"]), st.sampled_from([4, 8]), xmm, xmm)
def test_sse_logic(op, size, x, y):
    s = "ps" if size == 4 else "pd"
    assert decode(lambda a: a.sse_logic(op, size, x, y)) == f"{op}{s} xmm{x}, xmm{y}"


@settings_
@given(st.sampled_from([4, 8]), size48, xmm, gpr, st.sampled_from([8, 9, 10, 11]))
def test_sse_conversions(fsize, isize, x, r, mode):
    f = "ss" if fsize == 4 else "sd"
    g = "sd" if fsize == 4 else "ss"
    assert decode(lambda a: a.ucomis(fsize, x, r)) == f"ucomi{f} xmm{x}, xmm{r}"
    assert decode(lambda a: a.cvtsi2s(fsize, isize, x, r)) == f"cvtsi2{f} xmm{x}, {NAMES[isize][r]}"
    assert decode(lambda a: a.cvtts2si(isize, fsize, r, x)) == f"cvtt{f}2si {NAMES[isize][r]}, xmm{x}"
    assert decode(lambda a: a.cvt_f2f(8 if fsize == 4 else 4, x, r)) == f"cvt{f}2{g} xmm{x}, xmm{r}"
    assert split_imm(decode(lambda a: a.rounds(fsize, x, r, mode))) == \
        (f"round{f} xmm{x}, xmm{r}", mode)


def test_labels_forward_and_backward():
    buf = CodeBuffer()
    a = X64Assembler(buf)
    top, end, const = buf.new_label(), buf.new_label(), buf.constant(b"\x01" * 8, 8)
    buf.bind_label(top)
    a.jcc_label(Cond.E, end)
    a.call_label(top)
    a.movs_load(8, 1, __import__("winch.isa.x64.asm", fromlist=["LabelAmode"]).LabelAmode(const))
    a.jmp_label(top)
    buf.bind_label(end)
    a.ret()
    fin = buf.finish()
    insns = list(MD.disasm(fin.code, 0))
    assert [i.mnemonic for i in insns[:5]] == ["je", "call", "movsd", "jmp", "ret"]
    assert int(insns[0].op_str, 0) == insns[4].address
    assert int(insns[1].op_str, 0) == 0 and int(insns[3].op_str, 0) == 0
    rip_disp = int(re.search(r"rip \+ (0x[0-9a-f]+)", insns[2].op_str).group(1), 0)
    assert fin.code[insns[3].address - 0 + 0:][:0] == b""  # layout sanity
    assert fin.code[insns[2].address + insns[2].size + rip_disp:][:8] == b"\x01" * 8


# -- GNU as reference set --------------------------------------------------------------------------
def _reference_set():
    """(intel syntax text, emit function) pairs over awkward registers and boundaries."""
    out = []
    bases = [0, 4, 5, 12, 13, 15]
    disps = [0, 8, -8, 127, 128, -128, -129, 0x12345678]
    for b in bases:
        for d in disps:
            m = Amode(b, None, 1, d)
            for r in (0, 7, 8, 15):
                out.append((f"mov {GPR_NAMES[r]}, qword ptr {mem_text(m, None)}",
                            lambda a, r=r, m=m: a.load(8, r, m)))
                out.append((f"mov dword ptr {mem_text(m, None)}, {R32[r]}",
                            lambda a, r=r, m=m: a.store(4, m, r)))
                out.append((f"mov byte ptr {mem_text(m, None)}, {R8[r]}",
                            lambda a, r=r, m=m: a.store(1, m, r)))
            m2 = Amode(b, 13, 8, d)
            out.append((f"lea r11, {mem_text(m2, None)}", lambda a, m=m2: a.lea(11, m)))
            out.append((f"movsd xmm9, qword ptr {mem_text(m2, None)}",
                        lambda a, m=m2: a.movs_load(8, 9, m)))
    for r in range(16):
        for v in (0, 1, -1, 127, 128, -129, 0x7FFFFFFF):
            out.append((f"add {GPR_NAMES[r]}, {v}", lambda a, r=r, v=v: a.alu_ri("add", 8, r, v)))
            out.append((f"cmp {R32[r]}, {v}", lambda a, r=r, v=v: a.alu_ri("cmp", 4, r, v)))
        out.append((f"movabs {GPR_NAMES[r]}, 0x123456789abcdef0",
                    lambda a, r=r: a.mov_ri(8, r, 0x123456789ABCDEF0)))
        out.append((f"mov {R32[r]}, 0xdeadbeef", lambda a, r=r: a.mov_ri(4, r, 0xDEADBEEF)))
        out.append((f"sete {R8[r]}", lambda a, r=r: a.setcc(Cond.E, r)))
        out.append((f"movzx {R32[r]}, {R8[r]}", lambda a, r=r: a.movzx(1, r, r)))
        out.append((f"shl {GPR_NAMES[r]}, cl", lambda a, r=r: a.shift_cl("shl", 8, r)))
        out.append((f"sar {R32[r]}, 5", lambda a, r=r: a.shift_ri("sar", 4, r, 5)))
        out.append((f"lzcnt {GPR_NAMES[r]}, {GPR_NAMES[15 - r]}",
                    lambda a, r=r: a.bitcount("lzcnt", 8, r, 15 - r)))
        out.append((f"idiv {GPR_NAMES[r]}", lambda a, r=r: a.group3("idiv", 8, r)))
        out.append((f"cmovne {GPR_NAMES[r]}, {GPR_NAMES[15 - r]}",
                    lambda a, r=r: a.cmov(Cond.NE, 8, r, 15 - r)))
        out.append((f"movq xmm{r}, {GPR_NAMES[15 - r]}", lambda a, r=r: a.movd_to_x(8, r, 15 - r)))
        out.append((f"cvttsd2si {R32[r]}, xmm{15 - r}",
                    lambda a, r=r: a.cvtts2si(4, 8, r, 15 - r)))
        out.append((f"roundss xmm{r}, xmm{15 - r}, 9", lambda a, r=r: a.rounds(4, r, 15 - r, 9)))
        out.append((f"ucomisd xmm{r}, xmm{15 - r}", lambda a, r=r: a.ucomis(8, r, 15 - r)))
        out.append((f"push {GPR_NAMES[r]}", lambda a, r=r: a.push(r)))
    out += [("ud2", lambda a: a.ud2()), ("ret", lambda a: a.ret()), ("leave", lambda a: a.leave()),
            ("cqo", lambda a: a.cdq(8)), ("cdq", lambda a: a.cdq(4)),
            ("rep stosq", lambda a: a.rep_stosq())]
    return out


@pytest.mark.skipif(shutil.which("as") is None, reason="GNU as (binutils) is not installed")
def test_matches_gnu_as(tmp_path):
    ref = _reference_set()
    src = tmp_path / "ref.s"
    src.write_text(".intel_syntax noprefix\n.text\n" + "\n".join(t for t, _ in ref) + "\n")
    obj = tmp_path / "ref.o"
    subprocess.run(["as", "--64", "-o", str(obj), str(src)], check=True)
    raw = subprocess.run(["objcopy", "-O", "binary", "--only-section=.text", str(obj),
                          str(tmp_path / "ref.bin")], check=True)
    del raw
    expected = (tmp_path / "ref.bin").read_bytes()
    buf = CodeBuffer()
    a = X64Assembler(buf)
    for text, emit in ref:
        start = buf.offset()
        emit(a)
        got = bytes(buf.data[start:])
        want = expected[start:start + len(got)]
        assert got == want, f"{text}: ours {got.hex()} GNU {want.hex()}"
    assert len(buf.data) == len(expected)
