"""Tests of the s390x assembler (winch/isa/s390x/asm.py).

1. Every row of `INSNS` round-trips through Capstone (SYSZ, big-endian) with operands
   drawn by hypothesis over their full ranges (edges favoured).  Capstone 5 decodes every
   instruction in the table, so no row relies on the GNU set alone.
2. A reference set (each row at its low edge, its high edge and a random point) is
   assembled once with ``s390x-linux-gnu-as -march=z13`` and compared byte for byte; the
   ``-march=z13`` also proves that nothing in the table is newer than z13.
3. Labels: forward and backward BRC/BRCL/BRASL/LARL/LGRL fixups, range checks.
4. Operand validation raises `EncodingError`.
5. Execution under Unicorn (set up as ISA-NOTES.md section 0 says): every row runs
   without an interruption, plus semantic smoke tests (AGR, LRV, loops, calls, pools,
   constants, FP, traps) and the measured list of encodings the emulator rejects.
"""

from __future__ import annotations

import functools
import random
import shutil
import struct
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from unicorn import UC_ARCH_S390X, UC_HOOK_INTR, UC_MODE_BIG_ENDIAN, Uc
from unicorn import s390x_const as U

from winch.errors import EncodingError
from winch.isa.s390x import asm as asm_mod
from winch.isa.s390x.asm import (
    FORMATS, INSNS, PCREL16, PCREL32, Cond, Kind, Mem, Rel, S390xAssembler, patch_pcrel32,
)

from fuzz_targets.asm_ref.s390x import (
    D12, D20, MD, RANGES, check_capstone, edge_values, encode, gnu_text,
)

GNU_AS = "/usr/bin/s390x-linux-gnu-as"
GNU_OBJCOPY = "/usr/bin/s390x-linux-gnu-objcopy"

# --------------------------------------------------------------------------------------
# Operand generation by hypothesis (ranges, edge values and the Capstone and GNU texts:
# fuzz_targets/asm_ref/s390x.py, shared with the assemble fuzz target)
# --------------------------------------------------------------------------------------
def _edgy(lo: int, hi: int):
    """Integers in lo..hi; shrinks toward lo and draws the edges and 0 often."""
    edges = sorted({lo, lo + 1, hi - 1, hi} | {v for v in (0, -1, 1) if lo <= v <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


def operand_strategy(kind: Kind):
    """A strategy for the flattened values of one operand of `kind`."""
    reg = st.integers(0, 15)
    if kind in (Kind.GPR, Kind.FPR):
        return st.tuples(reg)
    if kind is Kind.GPR_EVEN:
        return st.tuples(st.integers(0, 7).map(lambda r: 2 * r))
    if kind in (Kind.REL16, Kind.REL32):
        return st.tuples(_edgy(*RANGES[kind]).map(Rel))
    if kind in RANGES:
        return st.tuples(_edgy(*RANGES[kind]))
    if kind is Kind.MEM_RX:
        return st.tuples(_edgy(*D12), reg, reg)
    if kind is Kind.MEM_RXY:
        return st.tuples(_edgy(*D20), reg, reg)
    if kind is Kind.MEM_RS:
        return st.tuples(_edgy(*D12), reg)
    if kind is Kind.MEM_RSY:
        return st.tuples(_edgy(*D20), reg)
    if kind is Kind.MEM_SS:
        return st.tuples(_edgy(*D12), _edgy(1, 256), reg)
    raise AssertionError(kind)


@functools.cache
def operands_strategy(mnemonic: str):
    """The flattened operand list of `mnemonic`, for `S390xAssembler.emit`."""
    parts = [operand_strategy(o.kind) for o in INSNS[mnemonic].operands]
    return st.tuples(*parts).map(lambda groups: [v for g in groups for v in g])


# --------------------------------------------------------------------------------------
# 1. Capstone round trip
# --------------------------------------------------------------------------------------
ROWS_BY_FORMAT = {f: sorted(m for m, row in INSNS.items() if row.fmt == f) for f in FORMATS}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(max_examples=50, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_capstone_round_trip(fmt, data):
    # Each example draws fresh operands for every row of the format, so every form gets
    # 50 encodings while hypothesis pays its per-example overhead once per format.
    for mnemonic in ROWS_BY_FORMAT[fmt]:
        check_capstone(mnemonic, data.draw(operands_strategy(mnemonic), label=mnemonic))


def test_capstone_decodes_helper_sequences():
    a = S390xAssembler()
    for v in (0, -1, 0x7FFF, 0x8000, 0xFFFF_0000, 0x1234_5678_9ABC_DEF0, -2**63):
        a.load_const(3, v, 64)
    a.load_const(4, -5, 32)
    a.load_const(4, 0x8765_4321, 32)
    a.br(14)
    a.nop()
    raw = bytes(a.buf.data)
    assert sum(i.size for i in MD.disasm(raw, 0)) == len(raw)


# --------------------------------------------------------------------------------------
# 2. GNU reference set
# --------------------------------------------------------------------------------------
def reference_set() -> list[tuple[str, list]]:
    """Each row at its low edge, its high edge and two random points (deterministic)."""
    rnd = random.Random(390)
    cases = []
    for mnemonic in sorted(INSNS):
        ops = INSNS[mnemonic].operands
        for high, r in ((False, None), (True, None), (False, rnd), (False, rnd)):
            cases.append((mnemonic, [v for o in ops for v in edge_values(o.kind, high, r)]))
    return cases


@pytest.fixture(scope="module")
def gnu_bytes(tmp_path_factory):
    if not (shutil.which(GNU_AS) and shutil.which(GNU_OBJCOPY)):
        pytest.skip(f"{GNU_AS} or {GNU_OBJCOPY} not installed")
    cases = reference_set()
    d = tmp_path_factory.mktemp("gnu")
    (d / "ref.s").write_text("\n".join(gnu_text(m, v) for m, v in cases) + "\n")
    subprocess.run([GNU_AS, "-march=z13", "-o", str(d / "ref.o"), str(d / "ref.s")],
                   check=True, capture_output=True, text=True)
    subprocess.run([GNU_OBJCOPY, "-O", "binary", "-j", ".text", str(d / "ref.o"),
                    str(d / "ref.bin")], check=True)
    return cases, (d / "ref.bin").read_bytes()


def test_gnu_reference_set(gnu_bytes):
    cases, ref = gnu_bytes
    assert len(cases) >= 300
    pos = 0
    mismatches = []
    for mnemonic, values in cases:
        ours = encode(mnemonic, values)
        theirs = ref[pos:pos + len(ours)]
        if ours != theirs:
            mismatches.append(f"{gnu_text(mnemonic, values)}: ours {ours.hex()} gnu {theirs.hex()}")
        pos += len(ours)
    assert not mismatches, "\n".join(mismatches[:20])
    assert pos == len(ref)


def test_table_rows_fit_their_formats():
    assert len(INSNS) == len(asm_mod._ROWS), "duplicate mnemonic in _ROWS"
    for m, row in INSNS.items():
        layout = dict(FORMATS[row.fmt])
        assert 0 <= row.opcode < 1 << (layout["op"] + layout.get("op2", 0)), m
        filled = [f for o in row.operands for f in o.fields]
        assert len(filled) == len(set(filled)), m
        for o in row.operands:
            for f, (what, lo, hi) in zip(o.fields, asm_mod._SLOTS[o.kind], strict=True):
                width = 20 if f == "d2" and "dl2" in layout else layout[f]
                if what == "length":
                    lo, hi = lo - 1, hi - 1
                assert -(1 << (width - 1)) <= lo and hi < 1 << width, (m, f)
        # Left zero: reserved fields, optional masks, R3 of the RS-a shifts, R2 of the
        # one-operand RRE forms (IPM, SFPC, EFPC, LZER, LZDR).
        unfilled = set(layout) - set(filled) - {"op", "op2", "_", "dl2", "dh2"}
        assert unfilled <= {"m3", "m4", "r3", "r2"}, (m, unfilled)


def test_every_format_is_used_and_sized():
    used = {row.fmt for row in INSNS.values()}
    assert used == set(FORMATS)
    for name, layout in FORMATS.items():
        assert sum(w for _, w in layout) in (16, 32, 48), name


# --------------------------------------------------------------------------------------
# 3. Labels and relocations
# --------------------------------------------------------------------------------------
def _disp(code: bytes, at: int, bits: int) -> int:
    return int.from_bytes(code[at + 2:at + 2 + bits // 8], "big", signed=True)


def test_forward_and_backward_branches_resolve():
    a = S390xAssembler()
    top = a.buf.new_label()
    fwd = a.buf.new_label()
    a.buf.bind_label(top)
    b1 = a.brc(Cond.EQ, fwd)
    b2 = a.brcl(Cond.NE, fwd)
    c1 = a.brasl(14, fwd)
    j1 = a.cgrj(1, 2, Cond.LT, fwd)
    a.nop()
    a.buf.bind_label(fwd)
    b3 = a.brc(Cond.ALWAYS, top)
    b4 = a.brcl(Cond.GT, top)
    c2 = a.emit("BRASL", 14, top)
    code = a.buf.finish().code
    target = a.buf.label_offset(fwd)
    assert _disp(code, b1, 16) * 2 == target - b1
    assert _disp(code, b2, 32) * 2 == target - b2
    assert _disp(code, c1, 32) * 2 == target - c1
    assert _disp(code, j1, 16) * 2 == target - j1
    assert _disp(code, b3, 16) * 2 == -b3
    assert _disp(code, b4, 32) * 2 == -b4
    assert _disp(code, c2, 32) * 2 == -c2
    listing = {i.address: i for i in MD.disasm(code, 0)}
    assert listing[b1].mnemonic == "je" and listing[b1].operands[0].imm == target
    assert listing[b3].mnemonic == "j" and listing[b3].operands[0].imm == 0
    assert listing[c1].mnemonic == "brasl" and listing[c1].operands[1].imm == target


def test_brc_range_edges():
    for gap, ok in ((65534, True), (65536, False)):
        a = S390xAssembler()
        lab = a.buf.new_label()
        a.brc(Cond.EQ, lab)
        a.buf.put(b"\x07\x00" * ((gap - 4) // 2))
        assert a.buf.offset() == gap
        a.buf.bind_label(lab)
        if ok:
            assert _disp(a.buf.finish().code, 0, 16) == 32767
        else:
            with pytest.raises(EncodingError, match="out of range"):
                a.buf.finish()
    for gap, ok in ((65536, True), (65538, False)):
        a = S390xAssembler()
        lab = a.buf.new_label()
        a.buf.bind_label(lab)
        a.buf.put(b"\x07\x00" * (gap // 2))
        at = a.brc(Cond.ALWAYS, lab)
        if ok:
            assert _disp(a.buf.finish().code, at, 16) == -32768
        else:
            with pytest.raises(EncodingError, match="out of range"):
                a.buf.finish()


def test_pcrel32_range_and_alignment():
    class Sink:             # stands in for a 4 GiB buffer: records the patched bytes
        def __setitem__(self, where, raw):
            self.where, self.raw = where, bytes(raw)

    code = bytearray(6)
    PCREL32.patch(code, 0, 2 * (2**31 - 1))
    assert _disp(code, 0, 32) == 2**31 - 1
    sink = Sink()
    PCREL32.patch(sink, 2**32, 0)
    assert sink.where == slice(2**32 + 2, 2**32 + 6) and sink.raw == bytes.fromhex("80000000")
    with pytest.raises(EncodingError, match="out of range"):
        PCREL32.patch(code, 0, 2**32)
    with pytest.raises(EncodingError, match="out of range"):
        PCREL32.patch(code, 2**32 + 2, 0)
    with pytest.raises(EncodingError, match="halfword"):
        PCREL16.patch(code, 0, 3)
    patch_pcrel32(code, 0, 0x1000)
    assert _disp(code, 0, 32) == 0x800


def test_brasl_reloc_records_the_call():
    a = S390xAssembler()
    a.nop()
    at = a.brasl_reloc("func", 7)
    fin = a.buf.finish()
    assert at == 2
    assert fin.relocs[0].offset == 2 and fin.relocs[0].kind == "func" and fin.relocs[0].target == 7
    assert fin.code[2:] == bytes.fromhex("c0e500000000")
    code = bytearray(fin.code)
    patch_pcrel32(code, 2, 0x400)
    assert next(MD.disasm(bytes(code[2:]), 2)).op_str == "%r14, 0x400"


def test_unbound_label_and_bad_label_operands():
    a = S390xAssembler()
    lab = a.buf.new_label()
    a.brc(Cond.EQ, lab)
    with pytest.raises(EncodingError, match="never bound"):
        a.buf.finish()
    with pytest.raises(EncodingError, match="label"):
        a.brc(Cond.EQ, 99)
    with pytest.raises(EncodingError, match="out of range"):
        a.brc(Cond.EQ, Rel(0x8000))
    with pytest.raises(EncodingError, match="out of range"):
        a.brcl(Cond.EQ, Rel(-2**31 - 1))


def test_constant_pool_is_aligned_and_shared():
    a = S390xAssembler()
    a.nop()
    p1 = a.load_const_pool(2, 0x1122334455667788, 64)
    p2 = a.load_const_pool(3, 0x1122334455667788, 64)
    p3 = a.load_const_pool(4, -1, 32)
    code = a.buf.finish().code
    t1 = p1 + 2 * _disp(code, p1, 32)
    assert t1 % 8 == 0 and code[t1:t1 + 8] == bytes.fromhex("1122334455667788")
    assert p2 + 2 * _disp(code, p2, 32) == t1
    t3 = p3 + 2 * _disp(code, p3, 32)
    assert t3 % 4 == 0 and code[t3:t3 + 4] == b"\xff" * 4


# --------------------------------------------------------------------------------------
# 4. Validation
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mnemonic, operands, match", [
    ("AGR", (16, 0), "out of range"),
    ("AGR", (-1, 0), "out of range"),
    ("AGR", (True, 0), "must be an int"),
    ("AGR", (1,), "takes the operands"),
    ("AGR", (1, 2, 3), "takes the operands"),
    ("DLGR", (3, 4), "even register"),
    ("DR", (1, 4), "even register"),
    ("FLOGR", (15, 4), "out of range"),
    ("MLGR", (5, 4), "even register"),
    ("LDGR", (16, 1), "out of range"),
    ("L", (1, 4096, 0, 2), "displacement"),
    ("L", (1, -1, 0, 2), "displacement"),
    ("LG", (1, 2**19, 0, 2), "displacement"),
    ("LG", (1, -2**19 - 1, 0, 2), "displacement"),
    ("LG", (1, 0, 16, 2), "index register"),
    ("LG", (1, 0, 0, 16), "base register"),
    ("SLLG", (1, 2, Mem(3, 0, 4)), "no index"),
    ("LHI", (1, 0x8000), "out of range"),
    ("LHI", (1, -0x8001), "out of range"),
    ("NILL", (1, -1), "out of range"),
    ("AFI", (1, 2**31), "out of range"),
    ("IILF", (1, 2**32), "out of range"),
    ("CLFI", (1, -1), "out of range"),
    ("BRC", (16, Rel(0)), "mask"),
    ("CFDBR", (1, 16, 2), "mask"),
    ("CIJ", (1, 128, 8, Rel(0)), "out of range"),
    ("MVC", (0, 0, 1, 0, 2), "length"),
    ("MVC", (0, 257, 1, 0, 2), "length"),
    ("RISBG", (1, 2, 256, 0, 0), "out of range"),
    ("NOPE", (), "unknown"),
])
def test_invalid_operands_raise(mnemonic, operands, match):
    a = S390xAssembler()
    with pytest.raises(EncodingError, match=match):
        a.emit(mnemonic, *operands)
    assert a.buf.offset() == 0


def test_mem_operand_and_method_forms_agree():
    a = S390xAssembler()
    a.emit("LG", 1, -8, 4, 15)
    a.lg(1, Mem(15, -8, 4))
    a.sllg(1, 2, Mem(3, 7))
    a.emit("SLLG", 1, 2, 7, 3)
    raw = bytes(a.buf.data)
    assert raw[:6] == raw[6:12] == bytes.fromhex("e314fff8ff04")
    assert raw[12:18] == raw[18:24]
    with pytest.raises(AttributeError):
        a.not_an_instruction  # noqa: B018


def test_emit_mem_picks_the_short_form_when_it_fits():
    a = S390xAssembler()
    a.emit_mem("L", "LY", 1, Mem(2, 4095))
    a.emit_mem("L", "LY", 1, Mem(2, 4096))
    a.emit_mem("STD", "STDY", 3, Mem(2, -1, 4))
    listing = [(i.mnemonic, i.op_str) for i in MD.disasm(bytes(a.buf.data), 0)]
    assert listing == [("l", "%r1, 0xfff(%r2)"), ("ly", "%r1, 0x1000(%r2)"),
                       ("stdy", "%f3, -1(%r4, %r2)")]
    with pytest.raises(EncodingError, match="displacement"):
        a.emit_mem("L", "LY", 1, Mem(2, 2**19))


def test_misc_helpers_validate():
    a = S390xAssembler()
    with pytest.raises(EncodingError):
        a.br(0)           # BCR 15,0 would be a no-op, not a branch
    with pytest.raises(EncodingError):
        a.trap("x", 256)
    with pytest.raises(EncodingError):
        a.load_const(1, 2**64, 64)
    with pytest.raises(EncodingError):
        a.load_const(1, 2**32, 32)
    with pytest.raises(EncodingError):
        a.load_const(1, 0, 16)
    with pytest.raises(EncodingError):
        a.load_fp_const(0, b"\0" * 3, 1)
    with pytest.raises(EncodingError):
        a.load_fp_const(0, b"\0" * 8, 0)
    assert Cond.invert(Cond.EQ) == Cond.NE and Cond.invert(Cond.LT) == Cond.NL
    assert a.buf.offset() == 0


def test_public_names():
    for name in asm_mod.__all__:
        assert hasattr(asm_mod, name)


# --------------------------------------------------------------------------------------
# 5. Execution under Unicorn
# --------------------------------------------------------------------------------------
CODE = 0x10000        # above the 0..0x1FFF lowcore
DATA = 0x20000
GPR = [getattr(U, f"UC_S390X_REG_R{i}") for i in range(16)]
FPR = [getattr(U, f"UC_S390X_REG_F{i}") for i in range(16)]


class Machine:
    """One s390x engine set up per ISA-NOTES.md: 64-bit addressing, AFP + vector on."""

    def __init__(self) -> None:
        uc = Uc(UC_ARCH_S390X, UC_MODE_BIG_ENDIAN)
        uc.mem_map(CODE, 0x20000)
        uc.reg_write(U.UC_S390X_REG_PSWM, uc.reg_read(U.UC_S390X_REG_PSWM) | 0x0000000180000000)
        uc.reg_write(U.UC_S390X_REG_CR0, uc.reg_read(U.UC_S390X_REG_CR0) | 0x60000)
        self.interrupts: list[tuple[int, int]] = []
        uc.hook_add(UC_HOOK_INTR, self._intr)
        self.clean = uc.context_save()
        self.uc = uc

    def _intr(self, uc, intno, _user) -> None:
        self.interrupts.append((intno, uc.reg_read(U.UC_S390X_REG_PC)))
        uc.emu_stop()

    def run(self, code: bytes, regs: dict[int, int] | None = None, data: bytes = b"",
            fregs: dict[int, int] | None = None, until: int | None = None) -> Uc:
        uc = self.uc
        uc.context_restore(self.clean)
        self.interrupts.clear()
        uc.mem_write(CODE, code)
        uc.mem_write(DATA, data.ljust(0x1000, b"\x07"))
        # Measured: without this, translation blocks cached from an earlier program with
        # branches can run instead of the freshly written code (context_restore and
        # mem_write do not drop them).
        uc.ctl_remove_cache(CODE, DATA + 0x1000)
        for i in range(16):
            uc.reg_write(GPR[i], (regs or {}).get(i, 0))
        for i, v in (fregs or {}).items():
            uc.reg_write(FPR[i], v)
        uc.emu_start(CODE, CODE + len(code) if until is None else until)
        return uc

    def gpr(self, r: int) -> int:
        return self.uc.reg_read(GPR[r])

    def fpr(self, r: int) -> int:
        return self.uc.reg_read(FPR[r])

    def pc(self) -> int:
        return self.uc.reg_read(U.UC_S390X_REG_PC)


_SHARED_MACHINE = Machine()


@pytest.fixture(scope="module")
def machine():
    return _SHARED_MACHINE


def _benign_operands(mnemonic: str) -> list:
    """Operands with which the row runs one step and falls through to the next one.

    GPRs: r1 field = 2 (an even pair r2:r3 = 0:100), r2 field = 4 (7), r3 field = 5;
    storage at 8(r6) with r6 = DATA (filled with 0x07 bytes, which also decode as a nop
    for EX); masks 0 (conditional forms do nothing, compare-and-trap never traps);
    relative targets = the next instruction, except the PC-relative loads and stores,
    which address DATA.
    """
    row = INSNS[mnemonic]
    vals: list = []
    for o in row.operands:
        k = o.kind
        if k in (Kind.GPR, Kind.GPR_EVEN):
            vals.append({"r1": 2, "r2": 4, "r3": 5}[o.fields[0]])
        elif k is Kind.FPR:
            vals.append({"r1": 1, "r2": 2, "r3": 3}[o.fields[0]])
        elif k is Kind.MASK:
            vals.append(0)
        elif k in (Kind.REL16, Kind.REL32):
            vals.append(Rel((DATA - CODE) // 2) if mnemonic.endswith("RL") else Rel(row.size // 2))
        elif k in RANGES:
            vals.append(1)
        elif k in (Kind.MEM_RX, Kind.MEM_RXY):
            vals += [8, 0, 6]
        elif k in (Kind.MEM_RS, Kind.MEM_RSY):
            vals += [8, 6]
        else:
            vals += [8, 8, 6]
    if mnemonic == "BASR":
        vals = [14, 7]          # r7 holds the address of the next instruction
    if mnemonic == "SFPC":
        vals = [0]
    return vals


TRAPPING_BY_DESIGN = {"TRAP2", "TRAP4", "SVC"}


@pytest.mark.parametrize("mnemonic", sorted(set(INSNS) - TRAPPING_BY_DESIGN))
def test_emulator_accepts_every_row(machine, mnemonic):
    code = encode(mnemonic, _benign_operands(mnemonic))
    regs = {1: 1, 2: 0, 3: 100, 4: 7, 5: 3, 6: DATA, 7: CODE + len(code)}
    machine.run(code, {**{i: 1 for i in range(8, 16)}, **regs})
    assert machine.interrupts == [] and machine.pc() == CODE + len(code), mnemonic


# Measured: newer-than-z13 encodings the emulator rejects with a program interruption
# (operation exception), which is why `INSNS` has none of them.
REJECTED = {
    "agh (z14 MIE2)": "e32060080038",
    "msgrkc (z14 MIE2)": "b9ed4024",
    "selgr (z15 MIE3)": "b9e34024",
    "nngrk (z15 MIE3)": "b9644024",
    "wfmindb (z14 VE1)": "e712300830ee",
    "vfasb (z14 VE1)": "e712300020e3",
    "illegal 0x0005": "0005",
}


@pytest.mark.parametrize("what", sorted(REJECTED))
def test_emulator_rejects_newer_encodings(machine, what):
    code = bytes.fromhex(REJECTED[what])
    machine.run(code, {i: DATA for i in range(16)})
    assert machine.interrupts == [(3, CODE)]


def test_smoke_agr_and_three_operand_forms(machine):
    a = S390xAssembler()
    a.agr(1, 2)
    a.agrk(3, 1, 2)
    a.srk(4, 2, 1)           # 32-bit: high half of r4 kept
    machine.run(bytes(a.buf.data), {1: 5, 2: 0xFFFF_FFFF_0000_0007, 4: 0xAAAA_AAAA_0000_0000})
    assert machine.gpr(1) == 0xFFFF_FFFF_0000_000C
    assert machine.gpr(3) == (0xFFFF_FFFF_0000_000C + 0xFFFF_FFFF_0000_0007) % 2**64
    assert machine.gpr(4) == 0xAAAA_AAAA_0000_0000 | ((7 - 0xC) % 2**32)


def test_smoke_byte_reversed_memory(machine):
    a = S390xAssembler()
    a.lrv(1, 0, 0, 6)
    a.lrvg(2, Mem(6, 8))
    a.lrvh(3, Mem(6, 0))
    a.llghr(3, 3)
    a.strv(1, Mem(6, 16))
    a.strvg(2, Mem(6, 24))
    a.strvh(1, 32, 0, 6)
    a.lg(4, Mem(6, 16))
    a.lg(5, Mem(6, 24))
    a.llgh(7, Mem(6, 32))
    data = bytes.fromhex("44332211" "00000000" "8877665544332211")
    machine.run(bytes(a.buf.data), {6: DATA, 3: 0xFFFF_FFFF_FFFF_FFFF}, data)
    assert machine.gpr(1) == 0x11223344
    assert machine.gpr(2) == 0x1122334455667788
    assert machine.gpr(3) == 0x3344
    assert machine.gpr(4) >> 32 == 0x44332211
    assert machine.gpr(5) == 0x8877665544332211
    assert machine.gpr(7) == 0x4433


def test_smoke_brc_loop_and_brct(machine):
    # r2 = sum(1..10) with CGHI + BRC back to a label; r3 counts with BRCTG.
    a = S390xAssembler()
    top = a.buf.new_label()
    a.lghi(1, 0)
    a.lghi(2, 0)
    a.lghi(3, 0)
    a.lghi(4, 5)
    a.buf.bind_label(top)
    a.aghi(1, 1)
    a.agr(2, 1)
    a.cghi(1, 10)
    a.brc(Cond.LT, top)
    inner = a.buf.new_label()
    a.buf.bind_label(inner)
    a.aghi(3, 2)
    a.brctg(4, inner)
    code = a.buf.finish().code
    machine.run(code)
    assert (machine.gpr(1), machine.gpr(2), machine.gpr(3), machine.gpr(4)) == (10, 55, 10, 0)


def test_smoke_call_and_return(machine):
    a = S390xAssembler()
    func = a.buf.new_label()
    end = a.buf.new_label()
    a.lghi(2, 20)
    a.brasl(14, func)
    a.aghi(2, 1)
    a.jg(end)
    a.buf.bind_label(func)
    a.msgfi(2, 3)
    a.br(14)
    a.buf.bind_label(end)
    code = a.buf.finish().code
    machine.run(code)
    assert machine.gpr(2) == 61 and machine.pc() == CODE + len(code)


def test_smoke_compare_and_branch_conditions(machine):
    # r5 = bitmask of which conditions held for (r1 cmp r2), signed and unsigned.
    a = S390xAssembler()
    a.lghi(5, 0)
    for bit, (mn, mask) in enumerate((("CGR", Cond.EQ), ("CGR", Cond.NE), ("CGR", Cond.LT),
                                      ("CGR", Cond.GT), ("CGR", Cond.LE), ("CGR", Cond.GE),
                                      ("CLGR", Cond.LT), ("CLGR", Cond.GT))):
        skip = a.buf.new_label()
        a.emit(mn, 1, 2)
        a.brc(Cond.invert(mask), skip)
        a.oill(5, 1 << bit)
        a.buf.bind_label(skip)
    code = a.buf.finish().code
    for x, y in ((1, 2), (2, 1), (3, 3), (2**64 - 1, 1)):
        machine.run(code, {1: x, 2: y})
        sx, sy = (v - 2**64 if v >> 63 else v for v in (x, y))
        want = [sx == sy, sx != sy, sx < sy, sx > sy, sx <= sy, sx >= sy, x < y, x > y]
        assert machine.gpr(5) == sum(1 << i for i, w in enumerate(want) if w), (x, y)


def test_smoke_float_compare_masks(machine):
    # r5 = bitmask of which Cond masks are taken after CDBR f0, f2 (CC3 = unordered).
    masks = (Cond.EQ, Cond.NE, Cond.LT, Cond.GT, Cond.LE, Cond.GE, Cond.UNORDERED, Cond.ORDERED)
    a = S390xAssembler()
    a.lghi(5, 0)
    for bit, mask in enumerate(masks):
        skip = a.buf.new_label()
        a.cdbr(0, 2)
        a.brc(Cond.invert(mask), skip)
        a.oill(5, 1 << bit)
        a.buf.bind_label(skip)
    code = a.buf.finish().code
    nan = float("nan")
    for x, y in ((1.0, 2.0), (2.0, 1.0), (0.0, -0.0), (nan, 1.0), (1.0, nan)):
        machine.run(code, fregs={0: int.from_bytes(struct.pack(">d", x), "big"),
                                 2: int.from_bytes(struct.pack(">d", y), "big")})
        unordered = x != x or y != y
        want = [x == y, x != y, x < y, x > y, x <= y, x >= y, unordered, not unordered]
        assert machine.gpr(5) == sum(1 << i for i, w in enumerate(want) if w), (x, y)


def test_smoke_divide_pairs_flogr_popcnt(machine):
    a = S390xAssembler()
    a.lghi(2, 0)
    a.lghi(3, 100)
    a.dlgr(2, 7)               # r2 = 100 % 7, r3 = 100 // 7
    a.dsgr(10, 7)              # r11 / r7 (signed): r10 remainder, r11 quotient
    a.flogr(12, 13)            # r12 = clz64(r13), r13 clobbered
    a.popcnt(0, 1)             # per-byte counts
    machine.run(bytes(a.buf.data), {7: 7, 11: 2**64 - 100, 13: 1 << 40, 1: 0xFF01030700000000})
    assert (machine.gpr(2), machine.gpr(3)) == (2, 14)
    assert (machine.gpr(10), machine.gpr(11)) == (2**64 - 2, 2**64 - 14)
    assert machine.gpr(12) == 23
    assert machine.gpr(0) == 0x0801020300000000


def test_smoke_shifts_and_rotates(machine):
    a = S390xAssembler()
    a.sllg(1, 2, 4, 0)
    a.srag(3, 2, Mem(5, 0))      # count from r5 (63)
    a.rllg(4, 2, 8, 0)
    a.lr(6, 2)
    a.sll(6, 33, 0)              # 32-bit shifts use 6 bits: the low word becomes 0
    a.srlk(7, 2, 1, 0)
    machine.run(bytes(a.buf.data), {2: 0x8000_0000_0000_00F1, 5: 63, 6: 0x1234_5678_0000_0000})
    assert machine.gpr(1) == 0xF10
    assert machine.gpr(3) == 2**64 - 1
    assert machine.gpr(4) == 0xF180
    assert machine.gpr(6) == 0x1234_5678_0000_0000
    assert machine.gpr(7) & 0xFFFF_FFFF == 0x78


@given(st.one_of(st.integers(-2**63, 2**64 - 1),
                 st.sampled_from([0, -1, 0x7FFF, -0x8000, 0x8000, 0xFFFF, 0x10000, 2**31,
                                  -2**31, 2**32 - 1, 2**32, 0xFFFF_FFFF_0000_0000,
                                  0x1234_0000_0000_5678, 2**63, -2**63, 2**64 - 1])))
@settings(max_examples=150, deadline=None)
def test_load_const_64_runs(value):
    m = _SHARED_MACHINE
    a = S390xAssembler()
    n = a.load_const(9, value, 64)
    assert n == a.buf.offset() <= 12
    m.run(bytes(a.buf.data), {9: 0x5A5A_5A5A_5A5A_5A5A})
    assert m.gpr(9) == value % 2**64


@given(st.integers(-2**31, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_load_const_32_runs(value):
    m = _SHARED_MACHINE
    a = S390xAssembler()
    n = a.load_const(9, value, 32)
    assert n == (4 if -0x8000 <= (value + 2**31) % 2**32 - 2**31 <= 0x7FFF else 6)
    m.run(bytes(a.buf.data), {9: 0x5A5A_5A5A_5A5A_5A5A})
    assert m.gpr(9) & 0xFFFF_FFFF == value % 2**32


@pytest.mark.parametrize("value, size", [
    (0, 4), (-1, 4), (0x7FFF, 4), (0x8000, 4), (0xFFFF, 4), (0x10000, 4), (0xABCD_0000, 4),
    (0x1_0000_0000, 4), (0xFFFF_0000_0000_0000, 4), (0x8000_0000, 4), (-2**31, 6),
    (0x8000_0001, 6),
    (0xFFFF_FFFF, 6), (0xFFFF_FFFF_0000_0000, 6), (0x1234_0000_0000_5678, 8),
    (0x1234_5678_0000_9ABC, 10), (0x1234_5678_9ABC_DEF0, 12),
])
def test_load_const_chooses_short_sequences(value, size):
    a = S390xAssembler()
    assert a.load_const(1, value, 64) == size


def test_smoke_constant_pool_loads(machine):
    a = S390xAssembler()
    a.load_const_pool(1, 0x0123_4567_89AB_CDEF, 64)
    a.load_const_pool(2, 0x8000_0001, 32)
    a.load_fp_const(0, struct.pack(">d", 1.5), 3)
    a.load_fp_const(2, struct.pack(">d", 2.25), 3)
    a.adbr(0, 2)
    a.load_fp_const(4, struct.pack(">f", 0.5), 3)
    a.aebr(4, 4)
    end = a.buf.new_label()
    a.jg(end)               # skip the pool, which finish() appends after the code
    a.buf.bind_label(end)
    a.nop()
    code = a.buf.finish().code
    machine.run(code, until=CODE + a.buf.label_offset(end) + 2)
    assert machine.gpr(1) == 0x0123_4567_89AB_CDEF
    assert machine.gpr(2) & 0xFFFF_FFFF == 0x8000_0001
    assert struct.unpack(">d", machine.fpr(0).to_bytes(8, "big"))[0] == 3.75
    assert struct.unpack(">f", (machine.fpr(4) >> 32).to_bytes(4, "big"))[0] == 1.0


def test_smoke_float_conversions_and_rounding(machine):
    def d(x: float) -> int:
        return int.from_bytes(struct.pack(">d", x), "big")

    a = S390xAssembler()
    a.cgdbr(1, 5, 0)            # trunc(-2.5) = -2
    a.cgdbra(2, 7, 0, 4)        # floor(-2.5) = -3
    a.cfdbr(3, 4, 0)            # nearest-even(-2.5) = -2
    a.fidbra(1, 6, 0, 4)        # f1 = ceil(-2.5) = -2.0
    a.cdgbr(2, 4)               # f2 = (double) r4
    a.cdlgbr(3, 0, 5, 0)        # f3 = (double) unsigned r5
    a.ledbr(4, 0)               # f4 = (float) -2.5
    a.ldebr(5, 4)               # f5 = (double) f4
    a.sqdbr(6, 7)
    a.lcdbr(7, 7)
    a.cdbr(0, 7)                # -2.5 vs -9.0: high
    a.ipm(6)
    a.lgdr(8, 0)
    a.ldgr(9, 8)
    machine.run(bytes(a.buf.data), {4: 2**64 - 3, 5: 2**64 - 1},
                fregs={0: d(-2.5), 7: d(9.0)})
    to_f = lambda v: struct.unpack(">d", v.to_bytes(8, "big"))[0]  # noqa: E731
    assert machine.gpr(1) == 2**64 - 2
    assert machine.gpr(2) == 2**64 - 3
    assert machine.gpr(3) & 0xFFFF_FFFF == 2**32 - 2
    assert to_f(machine.fpr(1)) == -2.0
    assert to_f(machine.fpr(2)) == -3.0
    assert to_f(machine.fpr(3)) == float(2**64)
    assert machine.fpr(4) >> 32 == int.from_bytes(struct.pack(">f", -2.5), "big")
    assert to_f(machine.fpr(5)) == -2.5
    assert to_f(machine.fpr(6)) == 3.0
    assert to_f(machine.fpr(7)) == -9.0
    assert (machine.gpr(6) >> 28) & 3 == 2
    assert machine.gpr(8) == d(-2.5) and machine.fpr(9) == d(-2.5)


def test_smoke_prologue_epilogue_and_mvc(machine):
    a = S390xAssembler()
    a.stmg(6, 15, 48, 15)            # save r6..r15 in the caller's frame
    a.lay(15, Mem(15, -160))
    a.lghi(6, 0)
    a.lghi(14, 0)
    a.mvc(0, 16, 7, 0, 8)            # copy 16 bytes from 0(r8) to 0(r7)
    a.xc(16, 8, 7, 16, 7)            # zero 8 bytes at 16(r7)
    a.lmg(6, 15, 48 + 160, 15)
    sp = DATA + 0x800
    machine.run(bytes(a.buf.data), {6: 66, 14: 1414, 15: sp, 7: DATA + 0x100, 8: DATA},
                data=bytes(range(16)))
    assert (machine.gpr(6), machine.gpr(14), machine.gpr(15)) == (66, 1414, sp)
    assert machine.uc.mem_read(DATA + 0x100, 24) == bytes(range(16)) + bytes(8)


def test_smoke_trap_is_reported_at_its_pc(machine):
    a = S390xAssembler()
    a.lghi(1, 1)
    at = a.trap("unreachable", 0x2A)
    a.lghi(1, 2)
    fin = a.buf.finish()
    assert fin.traps == ((at, "unreachable"),)
    assert fin.code[at:at + 2] == b"\x00\x2a"
    machine.run(fin.code)
    assert machine.interrupts == [(3, CODE + at)] and machine.gpr(1) == 1
    assert machine.uc.mem_read(CODE + at + 1, 1) == b"\x2a"


def test_smoke_compare_and_trap_bounds_check(machine):
    a = S390xAssembler()
    a.clgrt(1, 2, Cond.HE)      # trap when r1 >= r2 (unsigned)
    a.lghi(3, 1)
    code = bytes(a.buf.data)
    machine.run(code, {1: 4, 2: 5})
    assert machine.interrupts == [] and machine.gpr(3) == 1
    machine.run(code, {1: 5, 2: 5})
    assert machine.interrupts == [(3, CODE)] and machine.gpr(3) == 0


def test_smoke_load_on_condition_and_risbg(machine):
    a = S390xAssembler()
    a.cgr(1, 2)
    a.locgr(3, 1, Cond.GT)
    a.locghi(4, -7, Cond.LT)
    a.risbg(5, 1, 58, 0x80 | 63, 0)   # r5 = r1 & 63 (zero the rest)
    machine.run(bytes(a.buf.data), {1: 0x1FF, 2: 3, 3: 11, 4: 22})
    assert (machine.gpr(3), machine.gpr(4), machine.gpr(5)) == (0x1FF, 22, 0x3F)
