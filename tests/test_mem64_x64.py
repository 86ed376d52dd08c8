"""x64 accesses to any memory (issue 20): wasm_load_at, wasm_store_at, memory_size_at and
call_indirect64, run alone under Unicorn against a model of the Wasm semantics.

Each case assembles one operation with X64Masm (the VM context pinned in r14 as in compiled
code), runs it, and compares with the model: an access traps `memory_out_of_bounds` exactly
when addr + offset + width > the memory's byte size in unbounded integer arithmetic (so a
carry past 2**64 is a trap, never a wrap), else it reads or writes [base + addr + offset].
The memories are mapped only where the model allows an access (a wrong bounds check shows as
a read or write of unmapped memory, or as a wrong value); a 64-bit memory's size field can
exceed what is mapped (only the field is compared), so that offsets past 2**32 can succeed.
Then whole modules (several memories of both index types, page size 1, a table64) compiled
for winch-x64 are compared with wasmtime.
"""

from __future__ import annotations

import struct

import pytest
from unicorn import UC_ARCH_X86, UC_MODE_64, Uc, UcError
from unicorn import x86_const as X

from oracle.diff import run_diff
from oracle.outcomes import Trap, Values
from oracle.plan import Call, Plan
from oracle.values import Value
from tests.test_big_frames import lost_scratch_values
from tests.wasm_util import wat
from winch.isa.x64.masm import LOAD_KINDS, STORE_KINDS, XMM0, X64Masm
from winch.masm.buffer import CodeBuffer
from winch.traps import TrapKind
from winch.vmctx import MEM0_BASE, MEM0_SIZE

GPR_UC = (X.UC_X86_REG_RAX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX, X.UC_X86_REG_RBX,
          X.UC_X86_REG_RSP, X.UC_X86_REG_RBP, X.UC_X86_REG_RSI, X.UC_X86_REG_RDI,
          X.UC_X86_REG_R8, X.UC_X86_REG_R9, X.UC_X86_REG_R10, X.UC_X86_REG_R11,
          X.UC_X86_REG_R12, X.UC_X86_REG_R13, X.UC_X86_REG_R14, X.UC_X86_REG_R15)
CODE, VMCTX, STACK = 0x1000_0000, 0x2000_0000, 0x3000_0000
M64 = (1 << 64) - 1
P32 = 1 << 32


class Mem:
    """A memory: its base, the byte size in its VM-context field, the VM-context offsets of
    both, its index type, and the address ranges [lo, hi) that are mapped and filled."""

    def __init__(self, base, size, base_off, size_off, is64, windows):
        self.base, self.size, self.base_off, self.size_off = base, size, base_off, size_off
        self.is64, self.windows = is64, windows


MEMS = {
    # memory 0 through the general entry point (32-bit, the fields MEM0_BASE / MEM0_SIZE)
    "m0_32": Mem(0x4000_0000, 0x1_0000, MEM0_BASE, MEM0_SIZE, 0, [(0, 0x1_0000)]),
    # "memory 1": 32-bit, an odd size (a page-size-1 memory), fields past 32 KiB
    "m1_32": Mem(0x5000_0000, 0x2FFD, 0x9000, 0x9008, 0, [(0, 0x3000)]),
    # "memory 2": 64-bit, 0x1_1000 bytes, fields at disp8-reachable offsets
    "m2_64": Mem(0x6000_0000, 0x1_1000, 0x40, 0x48, 1, [(0, 0x1_1000)]),
    # a 64-bit memory of 4 GiB + 64 KiB whose start and end only are mapped
    "m3_64big": Mem(0x1_0000_0000, P32 + 0x1_0000, 0x1200, 0x1208, 1,
                    [(0, 0x1000), (P32, P32 + 0x1_0000)]),
}


def _pattern(n: int, seed: int) -> bytes:
    return bytes((i * 131 + seed * 17 + (i >> 8) * 7) & 0xFF for i in range(n))


def _machine():
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(CODE, 0x1_0000)
    uc.mem_map(VMCTX, 0x1_0000)
    uc.mem_map(STACK, 0x1_0000)
    for k, m in enumerate(MEMS.values()):
        for lo, hi in m.windows:
            uc.mem_map(m.base + lo, hi - lo)
            uc.mem_write(m.base + lo, _pattern(hi - lo, k + lo))
        uc.mem_write(VMCTX + m.base_off, struct.pack("<Q", m.base))
        uc.mem_write(VMCTX + m.size_off, struct.pack("<Q", m.size))
    return uc


@pytest.fixture(scope="module")
def uc():
    return _machine()


def run(uc, emit, regs=(), xmm=()):
    """Assemble `emit(masm)` at CODE, set `regs` {reg: value}, run it; returns
    ("trap", kind) or ("ok", None)."""
    buf = CodeBuffer()
    emit(X64Masm(buf, None))
    end = buf.offset()
    fin = buf.finish()
    assert lost_scratch_values(fin.code, "x64") == []
    uc.mem_write(CODE, fin.code)
    uc.ctl_flush_tb()  # forget the code translated from the previous case
    uc.reg_write(X.UC_X86_REG_R14, VMCTX)
    uc.reg_write(X.UC_X86_REG_RSP, STACK + 0x8000)
    uc.reg_write(X.UC_X86_REG_RBP, STACK + 0xC000)
    uc.mem_write(STACK + 0xC000 - 8, struct.pack("<Q", VMCTX))
    for r, v in regs:
        uc.reg_write(GPR_UC[r], v)
    for r, v in xmm:
        uc.reg_write(X.UC_X86_REG_XMM0 + r, v)
    try:
        uc.emu_start(CODE, CODE + end)
    except UcError as e:
        pc = uc.reg_read(X.UC_X86_REG_RIP) - CODE
        kinds = [k for off, k in fin.traps if off == pc]
        assert kinds, f"{e} at +{pc:#x} outside any trap site"
        return "trap", kinds[0]
    assert uc.reg_read(X.UC_X86_REG_RIP) == CODE + end
    assert uc.reg_read(X.UC_X86_REG_R14) == VMCTX
    return "ok", None


def in_bounds(m: Mem, addr: int, offset: int, width: int) -> bool:
    return addr + offset + width <= m.size


def cases(m: Mem, width: int):
    """(addr, offset) pairs at and around every edge the bounds check has."""
    s = m.size
    out = [(s - width, 0), (s - width + 1, 0), (0, s - width), (0, s - width + 1),
           (s - width - 5, 5), (s - width - 5, 6), (s, 0), (0, 0), (1, 3)]
    if m.is64:
        out += [(M64, 1), (M64, 0), (P32 * P32 - width, 0), (P32 * P32 - width - 1, 0),
                (1, M64), (0, M64 - width + 1), (0, M64 - width), (0, M64 - width - 1),
                (M64 - P32 - 6, P32 + 7), (M64 - P32 - 6 - width, P32 + 7),
                (3, P32 + 5), (P32 + 3, 0), (P32 * 2, 0), (1 << 63, 1 << 63),
                ((1 << 63) - 1, 1 << 63), (5, 0x7FFF_FFF0), (5, 0x8000_0000)]
        if s > P32:  # offsets past 2**32 that succeed
            out += [(5, P32 + 7), (s - P32 - width, P32), (P32 + 0x100, 0x20),
                    (0, P32 + 0xFFF0 - width), (0xFFF0 - width, P32)]
    else:
        out += [(0xFFFF_FFFF, 0xFFFF_FFFF), (0xFFFF_FFFF, 0), (3, 0x8000_0000),
                (0x8000_0000, 0x7FFF_FFFF), (0, 0xFFFF_FFFF)]
    return [(a, o) for a, o in out if 0 <= a <= M64 and 0 <= o <= M64
            and (m.is64 or (a < P32 and o < P32))
            and (not in_bounds(m, a, o, width) or _window(m, a + o, width))]


def _window(m: Mem, at: int, width: int):
    """The mapped window that holds [at, at + width), or None."""
    for lo, hi in m.windows:
        if lo <= at and at + width <= hi:
            return lo, hi
    return None


def _expect_load(kind, width, raw: bytes) -> int:
    u = int.from_bytes(raw, "little")
    if kind in ("i", "zx", "f"):
        return u
    signed = u - (1 << (8 * width)) if u >> (8 * width - 1) else u
    return signed & (0xFFFF_FFFF if kind == "sx4" else M64)


LOAD_REGS = ((3, 3), (9, 9), (12, 12), (0, 0), (13, 13))  # (addr, dst): as func.py, dst = addr
STORE_REGS = ((3, 12), (13, 1), (8, 6))  # (addr, val)


@pytest.mark.parametrize("mem", sorted(MEMS))
def test_loads(uc, mem):
    m = MEMS[mem]
    n = 0
    for name, (kind, width) in LOAD_KINDS.items():
        for k, (addr, offset) in enumerate(cases(m, width)):
            ra, rd = LOAD_REGS[(n + k) % len(LOAD_REGS)]
            if kind == "f":
                rd = XMM0 + (k % 16 if k % 16 != 15 else 3)
            n += 1
            got = run(uc, lambda a, name=name, rd=rd, ra=ra, offset=offset:
                      a.wasm_load_at(name, rd, ra, offset, m.base_off, m.size_off, m.is64),
                      regs=[(ra, addr)])
            where = (name, hex(addr), hex(offset))
            if not in_bounds(m, addr, offset, width):
                assert got == ("trap", TrapKind.memory_out_of_bounds), where
                continue
            assert got == ("ok", None), where
            raw = bytes(uc.mem_read(m.base + addr + offset, width))
            want = _expect_load(kind, width, raw)
            if kind == "f":
                val = uc.reg_read(X.UC_X86_REG_XMM0 + rd - XMM0) & ((1 << (8 * width)) - 1)
            else:
                val = uc.reg_read(GPR_UC[rd])
            assert val == want, where


@pytest.mark.parametrize("mem", sorted(MEMS))
def test_stores(uc, mem):
    m = MEMS[mem]
    value = 0x8877_6655_4433_2211
    for name, (kind, width) in STORE_KINDS.items():
        for k, (addr, offset) in enumerate(cases(m, width)):
            ra, rv = STORE_REGS[k % len(STORE_REGS)]
            xmm = ()
            regs = [(ra, addr)]
            if kind == "f":
                rv = XMM0 + 7
                xmm = [(7, value ^ k)]
            else:
                regs.append((rv, value ^ k))
            where = (name, hex(addr), hex(offset))
            ok = in_bounds(m, addr, offset, width)
            if ok:  # the bytes around the access, to see that nothing else changed
                wlo, whi = _window(m, addr + offset, width)
                lo = max(wlo, addr + offset - 8)
                before = bytes(uc.mem_read(m.base + lo,
                                           min(whi, addr + offset + width + 8) - lo))
            got = run(uc, lambda a, name=name, ra=ra, rv=rv, offset=offset:
                      a.wasm_store_at(name, ra, offset, rv, m.base_off, m.size_off, m.is64),
                      regs=regs, xmm=xmm)
            if not ok:
                assert got == ("trap", TrapKind.memory_out_of_bounds), where
                continue
            assert got == ("ok", None), where
            after = bytes(uc.mem_read(m.base + lo, len(before)))
            at = addr + offset - lo
            want = bytearray(before)
            want[at:at + width] = ((value ^ k) & ((1 << (8 * width)) - 1)).to_bytes(width,
                                                                                     "little")
            assert after == bytes(want), where


def test_store_leaves_a_64bit_address_register_unchanged(uc):
    """func.py may reuse the address register's value: a 64-bit access must not add the
    offset into it (a 32-bit one may, as today's wasm_store does for big offsets)."""
    m = MEMS["m3_64big"]
    run(uc, lambda a: a.wasm_store_at("i32.store", 3, P32 + 7, 1, m.base_off, m.size_off, 1),
        regs=[(3, 5), (1, 0x1234)])
    assert uc.reg_read(GPR_UC[3]) == 5
    assert bytes(uc.mem_read(m.base + P32 + 12, 4)) == struct.pack("<I", 0x1234)


def test_always_trapping_access_emits_just_the_trap():
    buf = CodeBuffer()
    X64Masm(buf, None).wasm_load_at("i64.load", 3, 3, M64 - 7, 0x40, 0x48, 1)
    fin = buf.finish()
    assert fin.code == b"\x0f\x0b" and fin.traps == ((0, TrapKind.memory_out_of_bounds),)


def test_memory0_path_is_todays_code():
    """wasm_load_at on memory 0 of 32-bit type makes the same bounds check as wasm_load."""
    for name in ("i32.load", "i64.load8_s", "f64.load"):
        for offset in (0, 100, 0x7FFF_FFF0, 0xFFFF_FFFF):
            dst = XMM0 + 2 if name[0] == "f" else 3
            b1, b2 = CodeBuffer(), CodeBuffer()
            X64Masm(b1, None).wasm_load(name, dst, 3, offset)
            X64Masm(b2, None).wasm_load_at(name, dst, 3, offset, MEM0_BASE, MEM0_SIZE, 0)
            assert bytes(b1.data) == bytes(b2.data)


@pytest.mark.parametrize("size,log2,want", [(0x3_0000, 16, 3), (0x2FFD, 0, 0x2FFD),
                                            ((1 << 40) + 5, 0, (1 << 40) + 5),
                                            ((1 << 48), 16, 1 << 32)])
def test_memory_size_at(uc, size, log2, want):
    uc.mem_write(VMCTX + 0x7000, struct.pack("<Q", size))
    assert run(uc, lambda a: a.memory_size_at(9, 0x7000, log2), regs=[(9, M64)]) == ("ok", None)
    assert uc.reg_read(GPR_UC[9]) == want


# -- call_indirect64 -------------------------------------------------------------------------------
TABLE_BASE, TABLE_LEN, SIG = 0x500, 0x508, 0x510
ELEMS, RECORDS, CALLEE, CALLEE_VMCTX = VMCTX + 0x4000, VMCTX + 0x5000, CODE + 0x8000, VMCTX + 0x6000


def _table(uc, length):
    uc.mem_write(VMCTX + TABLE_BASE, struct.pack("<Q", ELEMS))
    uc.mem_write(VMCTX + TABLE_LEN, struct.pack("<Q", length))
    uc.mem_write(VMCTX + SIG, struct.pack("<Q", 7))
    # element 0 null, 1 a function of signature 7, 2 one of signature 8
    uc.mem_write(ELEMS, struct.pack("<QQQ", 0, RECORDS, RECORDS + 24))
    uc.mem_write(RECORDS, struct.pack("<QQQQQQ", CALLEE, 7, CALLEE_VMCTX, CALLEE, 8, VMCTX))
    # the callee: rax = 42 + (r14 == CALLEE_VMCTX); ret
    buf = CodeBuffer()
    a = X64Masm(buf, None).a
    a.mov_ri(4, 0, 42)
    a.mov_ri(8, 1, CALLEE_VMCTX)
    a.alu_rr("cmp", 8, 1, 14)
    a.buf.put(b"\x75\x02")  # jne +2
    a.mov_ri(4, 0, 43)
    a.buf.put(b"\xc3")
    uc.mem_write(CALLEE, bytes(buf.data))


@pytest.mark.parametrize("index,want", [
    (1, 43), (0, TrapKind.indirect_call_null), (2, TrapKind.indirect_call_type_mismatch),
    (3, TrapKind.table_out_of_bounds), (P32 + 1, TrapKind.table_out_of_bounds),
    (P32, TrapKind.table_out_of_bounds), (M64, TrapKind.table_out_of_bounds),
    (1 << 63, TrapKind.table_out_of_bounds)])
def test_call_indirect64(uc, index, want):
    _table(uc, 3)
    for reg in (3, 10):
        uc.reg_write(X.UC_X86_REG_RAX, 0)
        got = run(uc, lambda a: a.call_indirect64(reg, TABLE_BASE, TABLE_LEN, SIG, -8),
                  regs=[(reg, index)])
        if isinstance(want, TrapKind):
            assert got == ("trap", want), (reg, hex(index))
        else:
            assert got == ("ok", None) and uc.reg_read(X.UC_X86_REG_RAX) == want


def test_call_indirect64_reads_the_whole_length(uc):
    """A table64 length of 2**32: the high half of the field counts (its low half is 0)."""
    _table(uc, P32)
    got = run(uc, lambda a: a.call_indirect64(3, TABLE_BASE, TABLE_LEN, SIG, -8), regs=[(3, 1)])
    assert got == ("ok", None) and uc.reg_read(X.UC_X86_REG_RAX) == 43


# -- whole modules on winch-x64 against wasmtime ---------------------------------------------------
# Generated: for each memory of a multi-memory module (64-bit and 32-bit, sizes differing), each
# access width and a few offsets (past 2**32 and near 2**64 on the 64-bit ones), one export that
# loads (or stores, then loads back) at its address parameter; each is called at the last valid
# address for its width and offset, one past it, and at addresses near 2**32 and 2**64.
LOAD_RESULT = {name: name.split(".")[0] for name in LOAD_KINDS}
LOAD_BACK = {"i32.store": "i32.load", "i64.store": "i64.load", "f32.store": "f32.load",
             "f64.store": "f64.load", "i32.store8": "i32.load8_u", "i32.store16": "i32.load16_u",
             "i64.store8": "i64.load8_u", "i64.store16": "i64.load16_u",
             "i64.store32": "i64.load32_u"}
STORE_VALUE = {"i32": "0x8badf00d", "i64": "0x1122334455667788", "f32": "-1.5", "f64": "3.25"}


def _offsets(is64: int, width: int):
    if is64:
        return tuple(dict.fromkeys((0, 3, P32 + 5, M64 - width - 2, M64 - width + 1, M64)))
    return (0, 3, 0x7FFF_FFFF, 0xFFFF_FFFF)


def _addresses(is64: int, size: int, width: int, offset: int):
    top = M64 if is64 else 0xFFFF_FFFF
    last = size - width - offset
    out = {0, 1, top, top - width + 1, P32 - 1 & top, last, last + 1, last + width}
    return sorted(a for a in out if 0 <= a <= top)


def _multi_module(mems):
    """`mems`: [(is64, pages)]; the module and its calls [(export, [(type, value)])]."""
    decls, funcs, calls = [], [], []
    for i, (is64, pages) in enumerate(mems):
        it = "i64" if is64 else "i32"
        decls.append(f"(memory ${i} {it} {pages})")
        decls.append(f'(data (memory ${i}) ({it}.const {pages * 0x1_0000 - 16}) '
                     f'"\\01\\82\\03\\f4\\05\\06\\07\\88\\09\\0a\\fb\\0c\\0d\\0e\\0f\\90")')
        size = pages * 0x1_0000
        for name, (_, width) in LOAD_KINDS.items():
            for offset in _offsets(is64, width):
                f = f"{name}@{i}+{offset:x}"
                funcs.append(f'(func (export "{f}") (param {it}) (result {LOAD_RESULT[name]})'
                             f" ({name} ${i} offset={offset} (local.get 0)))")
                calls += [(f, [(it, a)]) for a in _addresses(is64, size, width, offset)]
        for name, (_, width) in STORE_KINDS.items():
            t = name.split(".")[0]
            for offset in _offsets(is64, width)[1::2]:
                f = f"{name}@{i}+{offset:x}"
                funcs.append(f'(func (export "{f}") (param {it}) (result {t})'
                             f" ({name} ${i} offset={offset} (local.get 0)"
                             f" ({t}.const {STORE_VALUE[t]}))"
                             f" ({LOAD_BACK[name]} ${i} offset={offset} (local.get 0)))")
                calls += [(f, [(it, a)]) for a in _addresses(is64, size, width, offset)]
        funcs.append(f'(func (export "size{i}") (result {it}) (memory.size ${i}))')
        calls.append((f"size{i}", []))
    return wat("(module " + " ".join(decls + funcs) + ")"), calls


def _agree(wasm, calls):
    plan = Plan([Call(name, tuple(Value(t, v) for t, v in args)) for name, args in calls])
    r = run_diff(wasm, ["wasmtime", "winch-x64"], plan, determinism="none")
    assert r.agree, [(f.signature, f.detail) for f in r.findings][:5]
    run = r.runs["winch-x64"]
    assert run.status == "ok", (run.status, run.detail)
    kinds = {type(o) for o in run.outcomes}
    assert kinds == {Trap, Values}, kinds  # both outcomes are exercised
    return run.outcomes


@pytest.mark.parametrize("mems", [
    [(1, 1), (1, 2), (0, 3)],  # memory 0 64-bit: every access through wasm_load_at
    [(0, 1), (1, 2), (0, 3)],  # memory 0 32-bit (today's path), memories 1 and 2 by index
], ids=["mem0-64", "mem0-32"])
def test_multi_memory_module_agrees_with_wasmtime(mems):
    _agree(*_multi_module(mems))


TABLE64_MODULE = """(module
  (type $r (func (result i32))) (type $other (func (param i32) (result i32)))
  (table $t0 2 funcref) (table $t1 i64 4 funcref)
  (elem (table $t0) (i32.const 0) func $seven)
  (elem (table $t1) (i64.const 1) func $forty $wrong $forty)
  (func $seven (result i32) (i32.const 7))
  (func $forty (result i32) (i32.const 40))
  (func $wrong (param i32) (result i32) (local.get 0))
  (func (export "call64") (param i64) (result i32) (call_indirect $t1 (type $r) (local.get 0)))
  (func (export "call32") (param i32) (result i32) (call_indirect $t0 (type $r) (local.get 0)))
)"""


def test_call_indirect64_module_agrees_with_wasmtime():
    idx = (0, 1, 2, 3, 4, P32, P32 + 1, P32 + 3, 1 << 63, M64)
    outs = _agree(wat(TABLE64_MODULE), [("call64", [("i64", i)]) for i in idx]
                  + [("call32", [("i32", i)]) for i in (0, 1, 2, 0xFFFF_FFFF)])
    assert [type(o) for o in outs[:len(idx)]] == [Trap, Values, Trap, Values] + [Trap] * 6


PAGESIZE1_MODULE = """(module
  (memory $a 0) (memory $b i64 5 (pagesize 1)) (memory $c 70000 (pagesize 1))
  (data (memory $b) (i64.const 3) "\\c1\\d2")
  (data (memory $c) (i32.const 69990) "\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a")
  (func (export "lb") (param i64) (result i32) (i32.load16_u $b (local.get 0)))
  (func (export "lc") (param i32) (result i64) (i64.load $c offset=5 (local.get 0)))
  (func (export "sb") (result i64) (memory.size $b))
  (func (export "sc") (result i32) (memory.size $c)))"""


def test_page_size_1_memories_agree_with_wasmtime():
    """Byte-sized pages: the bounds are the byte sizes 5 and 70000, memory.size counts bytes."""
    outs = _agree(wat(PAGESIZE1_MODULE),
                  [("lb", [("i64", a)]) for a in (0, 3, 4, M64)]
                  + [("lc", [("i32", a)]) for a in (69985, 69987, 69988, 0xFFFF_FFFF)]
                  + [("sb", []), ("sc", [])])
    assert outs[1] == Values((Value("i32", 0xD2C1),))
    assert [type(o) for o in outs[:8]] == [Values, Values, Trap, Trap, Values, Values, Trap, Trap]
    assert outs[8:] == [Values((Value("i64", 5),)), Values((Value("i32", 70000),))]
