"""Tests of the aarch64 assembler (winch/isa/aarch64/asm.py) and its immediates (imms.py).

1. Round trip through Capstone: every form draws registers over all 32 and immediates over
   their full range, encodes one instruction and compares Capstone's text with the text an
   LLVM-style disassembler prints (the alias rules are modelled in the `Case` builders of
   fuzz_targets/asm_ref/aarch64.py, shared with the `assemble` fuzz target).
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

import pytest
from hypothesis import given, settings, strategies as st

from winch.errors import EncodingError
from winch.isa.aarch64 import imms
from winch.isa.aarch64.asm import (
    ADR21, IMM14, IMM19, IMM26, A64Assembler, Cond, Extend, Index, Shift,
)
from winch.masm.buffer import CodeBuffer

from fuzz_targets.asm_ref.aarch64 import (
    BASE, CONDS, FORMS, LABEL_FORMS, Case, RandSrc, assemble, bitmask_value, decode_mov_words,
    disasm, imm, signed,
)

GNU_AS = "/usr/bin/aarch64-linux-gnu-as"
GNU_OBJCOPY = "/usr/bin/aarch64-linux-gnu-objcopy"


# ---------------------------------------------------------------------------------------------
# Operand source for Hypothesis draws (the seeded one, RandSrc, lives with the forms)
# ---------------------------------------------------------------------------------------------


class HypoSrc:
    def __init__(self, draw):
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, seq):
        return self.draw(st.sampled_from(list(seq)))


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
    assert decode_mov_words(code, size) == value & mask
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
        assert decode_mov_words(bytes(a.buf.data), size) == value & ((1 << 8 * size) - 1)


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
