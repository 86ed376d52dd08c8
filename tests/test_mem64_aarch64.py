"""aarch64: loads, stores and `memory.size` of any memory, and call_indirect through a table64
(issue 20, the aarch64 macro-assembler's part).

`wasm_load_at`/`wasm_store_at` check `addr + offset + width <= size` for a memory whose base
and byte size lie at given VM-context offsets.  For a 64-bit memory the sum can carry past
2^64; that carry must trap, never wrap to a small in-bounds address.  These tests run each
emitted sequence alone under Unicorn, on a VM context and memory laid out by hand: the base
field is only a number, so a memory "of" 2^32 + 64 KiB or 2^63 + 64 KiB bytes is mapped only
around the bytes the test touches, and an access that escapes its check either reads a
sentinel or faults on unmapped memory -- both fail the test.  Then whole modules (memory64,
several memories, table64) run on winch-aarch64 and are compared with wasmtime.
"""

from __future__ import annotations

import struct

import pytest
import unicorn as uc
from hypothesis import given, settings
from hypothesis import strategies as st
from unicorn import arm64_const as A

from oracle.diff import run_diff
from oracle.outcomes import Trap, Values
from oracle.plan import Call, Plan
from oracle.values import Value
from tests.test_big_frames import lost_scratch_values
from tests.wasm_util import wat
from winch.isa.aarch64.masm import LOADS, STORES, V0, A64Masm
from winch.masm.buffer import CodeBuffer
from winch.traps import TrapKind

M64 = (1 << 64) - 1
CODE, STACK, VMCTX, MEM = 0x10000, 0x80000, 0x100000, 0x2_0000_0000
VM_LEN, MEM_LEN = 0x100000, 0x20000
SENTINEL = 0xA5
# (base_off, size_off): memory 0's own fields, a near pair, and a pair beyond the reach of
# ldr's scaled immediate (32 KiB) and of two add immediates (16 MiB is past VM_LEN: 0x8_0000)
FIELDS = ((8, 16), (0x200, 0x208), (0x8_0000, 0x8_0008))
ADDR, DST, VAL, FDST, FVAL = 5, 6, 7, V0 + 3, V0 + 4
DONE = 1  # brk #1 ends every test sequence; the masm's traps are brk #0


class Run:
    """One emitted sequence run to its end: the trap kind (None if it reached the end), the
    registers and the memory window."""

    def __init__(self, emit, *, regs=None, fregs=None, fields=None, mem_size=MEM_LEN,
                 fill=SENTINEL, mem=b"", extra=None, extra_field=None):
        buf = CodeBuffer()
        masm = A64Masm(buf, None)
        emit(masm)
        done = buf.offset()
        masm.a.brk(DONE)
        if extra is not None:
            extra(masm)
        fin = buf.finish()
        self.code = fin.code[:done]
        fields = dict(fields or {})
        if extra_field is not None:  # the address of the code `extra` emitted
            fields[extra_field] = CODE + done + 4
        mu = uc.Uc(uc.UC_ARCH_ARM64, uc.UC_MODE_ARM)
        mu.mem_map(CODE, 0x10000)
        mu.mem_map(STACK, 0x10000)
        mu.mem_map(VMCTX, VM_LEN)
        mu.mem_map(MEM, MEM_LEN)
        mu.mem_write(CODE, fin.code)
        mu.mem_write(MEM, bytes([fill]) * MEM_LEN)
        mu.mem_write(MEM, mem)
        for off, value in fields.items():
            mu.mem_write(VMCTX + off, struct.pack("<Q", value & M64))
        for r, v in (regs or {}).items():
            mu.reg_write(A.UC_ARM64_REG_X0 + r, v & M64)
        for r, v in (fregs or {}).items():
            mu.reg_write(A.UC_ARM64_REG_D0 + (r - V0), v)
        mu.reg_write(A.UC_ARM64_REG_X28, VMCTX)
        mu.reg_write(A.UC_ARM64_REG_FP, STACK + 0x8000)
        mu.reg_write(A.UC_ARM64_REG_SP, STACK + 0x4000)
        mu.mem_write(STACK + 0x8000 - 8, struct.pack("<Q", VMCTX))  # the vmctx slot
        stop = []

        def on_intr(mu, intno, _):
            stop.append((intno, mu.reg_read(A.UC_ARM64_REG_PC)))
            mu.emu_stop()

        mu.hook_add(uc.UC_HOOK_INTR, on_intr)
        mu.emu_start(CODE, CODE + len(fin.code), count=10_000)
        assert len(stop) == 1 and stop[0][0] == 7, stop
        pc = stop[0][1] - CODE
        traps = dict(fin.traps)
        assert pc == done or pc in traps, pc
        self.trap = traps.get(pc)
        self.mu = mu

    def x(self, r):
        return self.mu.reg_read(A.UC_ARM64_REG_X0 + r)

    def d(self, r):
        return self.mu.reg_read(A.UC_ARM64_REG_D0 + (r - V0))

    def mem(self, at, n):
        return bytes(self.mu.mem_read(MEM + at, n))


def mem_fields(base_off, size_off, base, size):
    return {base_off: base, size_off: size}


PATTERN = bytes((i * 7 + 3) & 0xFF for i in range(MEM_LEN))


def expect_load(name, raw: bytes) -> int:
    kind, width, size = LOADS[name]
    v = int.from_bytes(raw[:width], "little")
    if kind == "s" and v >> (8 * width - 1):
        v -= 1 << (8 * width)
    return v & ((1 << (8 * size)) - 1)


def load(name, addr, offset, *, is64, fields=FIELDS[1], size=0x10000, base=MEM, dst=None):
    kind = LOADS[name][0]
    dst = dst if dst is not None else (FDST if kind == "f" else DST)
    base_off, size_off = fields
    run = Run(lambda m: m.wasm_load_at(name, dst, ADDR, offset, base_off, size_off, is64),
              regs={ADDR: addr, DST: 0x1111},
              fields=mem_fields(base_off, size_off, base, size), mem=PATTERN)
    value = run.d(dst) if kind == "f" else run.x(dst)
    if kind == "f" and LOADS[name][1] == 4:
        value &= 0xFFFF_FFFF
    return run.trap, value, run


def store(name, addr, offset, value, *, is64, fields=FIELDS[1], size=0x10000, base=MEM):
    kind, width = STORES[name]
    val = FVAL if kind == "f" else VAL
    base_off, size_off = fields
    run = Run(lambda m: m.wasm_store_at(name, ADDR, offset, val, base_off, size_off, is64),
              regs={ADDR: addr, VAL: value}, fregs={FVAL: value},
              fields=mem_fields(base_off, size_off, base, size))
    return run.trap, run


OOB = TrapKind.memory_out_of_bounds


# -- loads and stores at the edge, both index types, every width and field pair ------------------
@pytest.mark.parametrize("fields", FIELDS)
@pytest.mark.parametrize("is64", [0, 1])
@pytest.mark.parametrize("name", sorted(LOADS))
def test_load_last_valid_byte_and_one_past(name, is64, fields):
    width = LOADS[name][1]
    size = 0x10000 - 3  # not a page multiple (custom page size 1)
    for addr, offset in ((size - width, 0), (0, size - width), (size - width - 100, 100)):
        trap, v, _ = load(name, addr, offset, is64=is64, fields=fields, size=size)
        assert trap is None, (addr, offset)
        assert v == expect_load(name, PATTERN[addr + offset:]), (addr, offset)
        trap, _, _ = load(name, addr + 1, offset, is64=is64, fields=fields, size=size)
        assert trap is OOB, (addr + 1, offset)
        trap, _, _ = load(name, addr, offset + 1, is64=is64, fields=fields, size=size)
        assert trap is OOB, (addr, offset + 1)


@pytest.mark.parametrize("fields", FIELDS)
@pytest.mark.parametrize("is64", [0, 1])
@pytest.mark.parametrize("name", sorted(STORES))
def test_store_last_valid_byte_and_one_past(name, is64, fields):
    width = STORES[name][1]
    size = 0x8000 + 5
    value = 0x8877_6655_4433_2211
    for addr, offset in ((size - width, 0), (1, size - width - 1)):
        trap, run = store(name, addr, offset, value, is64=is64, fields=fields, size=size)
        assert trap is None
        assert run.mem(size - width - 2, width + 4) == (
            bytes([SENTINEL] * 2) + value.to_bytes(8, "little")[:width] + bytes([SENTINEL] * 2))
        trap, run = store(name, addr + 1, offset, value, is64=is64, fields=fields, size=size)
        assert trap is OOB
        assert run.mem(size - width - 2, width + 4) == bytes([SENTINEL]) * (width + 4)


def test_load_into_the_address_register():
    trap, v, _ = load("i64.load", 0x1230, 0x10, is64=1, dst=ADDR)
    assert trap is None and v == expect_load("i64.load", PATTERN[0x1240:])
    trap, v, _ = load("i32.load16_s", 0x1230, 0x10, is64=0, dst=ADDR, fields=FIELDS[2])
    assert trap is None and v == expect_load("i32.load16_s", PATTERN[0x1240:])


# -- carries past 2^64, offsets past 2^32 and 2^63 ---------------------------------------------------
@pytest.mark.parametrize("name", ["i32.load8_u", "i32.load", "i64.load", "f64.load"])
def test_address_near_2_64_with_small_offset_traps(name):
    width = LOADS[name][1]
    for addr, offset in ((M64, 1), (M64, 0), (M64 - width + 1, 0), (1 << 63, 1 << 63),
                         (M64 - 7, 8), (M64 - 0x10, 0x10 - width + 1)):
        trap, _, _ = load(name, addr, offset, is64=1)
        assert trap is OOB, (hex(addr), hex(offset))


@pytest.mark.parametrize("name", ["i32.store8", "i64.store", "f32.store"])
def test_store_near_2_64_traps_and_writes_nothing(name):
    for addr, offset in ((M64, 1), ((1 << 64) - 0x10, 0x10), (2, M64 - 1)):
        trap, run = store(name, addr, offset, M64, is64=1)
        assert trap is OOB
        assert run.mem(0, 64) == bytes([SENTINEL]) * 64


@pytest.mark.parametrize("width_name", ["i32.load8_u", "i64.load"])
def test_offset_near_2_64_traps(width_name):
    width = LOADS[width_name][1]
    # offset + width >= 2^64: always out of bounds, whatever the address (even 0)
    for offset in (M64, M64 - width + 1, (1 << 64) - width):
        for addr in (0, 1, M64):
            trap, _, _ = load(width_name, addr, offset, is64=1)
            assert trap is OOB
    # offset + width just below 2^64: in bounds for no real memory, and address 1 carries
    for addr in (0, 1, 0x20):
        trap, _, _ = load(width_name, addr, (1 << 64) - width - 1, is64=1)
        assert trap is OOB


def test_a_static_trap_is_one_brk():
    buf = CodeBuffer()
    A64Masm(buf, None).wasm_load_at("i64.load", DST, ADDR, M64 - 3, 0x200, 0x208, 1)
    fin = buf.finish()
    assert fin.code == (0xD4200000).to_bytes(4, "little")  # brk #0
    assert fin.traps == ((0, OOB),)


@pytest.mark.parametrize("name", ["i32.load", "i64.load8_s", "f32.load"])
def test_offset_past_2_32_on_a_64_bit_memory(name):
    """A memory of 2^32 + 64 KiB bytes, its last 64 KiB mapped: offset = 2^32 + k."""
    width = LOADS[name][1]
    size, base = (1 << 32) + 0x10000, MEM - (1 << 32)
    for k in (0, 4, 0x10000 - width):
        for addr, offset in ((0, (1 << 32) + k), (k, 1 << 32), (1 << 32, k)):
            trap, v, _ = load(name, addr, offset, is64=1, size=size, base=base)
            assert trap is None and v == expect_load(name, PATTERN[k:]), (addr, offset)
    for addr, offset in ((0, (1 << 32) + 0x10000 - width + 1), (1, (1 << 32) + 0x10000 - width),
                         ((1 << 33), 0), (0, 1 << 33), (0, (1 << 32) * 3)):
        trap, _, _ = load(name, addr, offset, is64=1, size=size, base=base)
        assert trap is OOB, (hex(addr), hex(offset))


def test_offsets_near_2_63_and_far_fields():
    """A memory of 2^63 + 64 KiB bytes: every comparison is a 64-bit unsigned one."""
    size, base = (1 << 63) + 0x10000, (MEM - (1 << 63)) & M64
    for fields in FIELDS:
        for addr, offset in ((1 << 63, 8), (0, (1 << 63) + 8), ((1 << 63) - 0x100, 0x108)):
            trap, v, _ = load("i64.load", addr, offset, is64=1, size=size, base=base,
                              fields=fields)
            assert trap is None and v == expect_load("i64.load", PATTERN[8:])
        trap, run = store("i64.store", 1 << 62, (1 << 62) + 0xFFF8, 0x0102030405060708,
                          is64=1, size=size, base=base, fields=fields)
        assert trap is None and run.mem(0xFFF8, 8) == bytes(range(8, 0, -1))
        for addr, offset in ((1 << 63, 0x10000 - 7), (M64, (1 << 63) + 2), (1 << 63, 1 << 63)):
            trap, _, _ = load("i64.load", addr, offset, is64=1, size=size, base=base,
                              fields=fields)
            assert trap is OOB


def test_a_32_bit_memory_uses_its_own_fields():
    """Memory 1 (32-bit) is bounded by its own size field, not memory 0's."""
    base_off, size_off = FIELDS[2]
    fields = {8: MEM, 16: 0x20000, base_off: MEM + 0x100, size_off: 0x1000}
    for addr, want in ((0xFFC, None), (0xFFD, OOB), (0x1FFF0, OOB)):
        run = Run(lambda m: m.wasm_load_at("i32.load", DST, ADDR, 0, base_off, size_off, 0),
                  regs={ADDR: addr}, fields=fields, mem=PATTERN)
        assert run.trap is want
        if want is None:
            assert run.x(DST) == expect_load("i32.load", PATTERN[0x100 + addr:])
    # an offset near 2^32 on a 32-bit memory: the sum stays exact (no carry in 64 bits)
    run = Run(lambda m: m.wasm_load_at("i32.load", DST, ADDR, 0xFFFF_FFFF, base_off, size_off,
                                       0), regs={ADDR: 0xFFFF_FFFF}, fields=fields)
    assert run.trap is OOB


@pytest.mark.parametrize("page_log2", [16, 0])
@pytest.mark.parametrize("fields", FIELDS)
def test_memory_size_at(fields, page_log2):
    size = 0x1234 << 16 if page_log2 else 0x1_2345_6789_ABCD
    run = Run(lambda m: m.memory_size_at(DST, fields[1], page_log2),
              fields={fields[1]: size, 16 if fields[1] != 16 else 8: 7 << 16})
    assert run.trap is None and run.x(DST) == size >> page_log2


# -- call_indirect through a table64 --------------------------------------------------------------
TBL_BASE, TBL_LEN, SIG = 0x300, 0x308, 0x310
TABLE, RECORDS = 0x4000, 0x6000  # in the VM-context mapping


def call_indirect64(index, length, *, null=False, sig=7, far=False):
    """Run call_indirect64 on a 4-entry table whose records name a callee returning 42."""
    offs = (TBL_BASE, TBL_LEN, SIG) if not far else (0x9_0000, 0x9_0008, 0x9_0010)

    def callee(m):  # after the brk that ends the test: x0 = 42
        m.a.mov_imm(8, 0, 42)
        m.a.ret()

    fields = {offs[0]: VMCTX + TABLE, offs[1]: length, offs[2]: 7,
              RECORDS + 8: sig, RECORDS + 16: VMCTX}  # record: (code, signature id, vmctx)
    for i in range(4):
        fields[TABLE + 8 * i] = 0 if null else VMCTX + RECORDS
    return Run(lambda m: m.call_indirect64(ADDR, *offs, -8), regs={ADDR: index, 0: 0},
               fields=fields, extra=callee, extra_field=RECORDS)


@pytest.mark.parametrize("far", [False, True])
def test_call_indirect64(far):
    ok = call_indirect64(3, 4, far=far)
    assert ok.trap is None and ok.x(0) == 42 and ok.x(28) == VMCTX
    for index in (4, 1 << 32, (1 << 32) + 1, 1 << 63, M64):
        assert call_indirect64(index, 4, far=far).trap is TrapKind.table_out_of_bounds, index
    assert call_indirect64(0, 4, null=True, far=far).trap is TrapKind.indirect_call_null
    assert call_indirect64(2, 4, sig=8, far=far).trap is TrapKind.indirect_call_type_mismatch


def test_call_indirect_is_unchanged():
    """The 32-bit form still compares a w register and indexes with uxtw (today's bytes)."""
    def emitted(method):
        buf = CodeBuffer()
        getattr(A64Masm(buf, None), method)(ADDR, TBL_BASE, TBL_LEN, SIG, -8)
        return buf.finish().code

    c32, c64 = emitted("call_indirect"), emitted("call_indirect64")
    assert c32.hex() == ("900b43b9bf00106b43000054000020d4908341f9105a65f8500000b5000020d4"
                         "050640f9918b41f9bf0011eb40000054000020d41c0a40f9100240f900023fd6"
                         "bc835ff8")
    assert len(c64) == len(c32) and c64 != c32


# -- the scratch registers: no value in x16/x17 is overwritten before it is read ------------------
def test_no_scratch_value_is_lost():
    buf = CodeBuffer()
    m = A64Masm(buf, None)
    for is64 in (0, 1):
        for base_off, size_off in FIELDS + ((0x100_0000, 0x200_0008),):
            for offset in (0, 8, 0xFFF, 0x1_0000, 0x123_4567, 1 << 32, (1 << 63) + 5):
                if offset >> 32 and not is64:
                    continue
                for name in LOADS:
                    kind = LOADS[name][0]
                    m.wasm_load_at(name, FDST if kind == "f" else DST, ADDR, offset, base_off,
                                   size_off, is64)
                for name in STORES:
                    kind = STORES[name][0]
                    m.wasm_store_at(name, ADDR, offset, FVAL if kind == "f" else VAL, offset,
                                    size_off, is64)
            m.memory_size_at(DST, size_off, 16)
            m.call_indirect64(ADDR, base_off, size_off, base_off + 16, -8)
    assert lost_scratch_values(bytes(buf.finish().code), "aarch64") == []


SIZES64 = (0x10000 - 1, (1 << 32) - 8, (1 << 32) + 0x1_0003, (1 << 63) + 5, (1 << 64) - 0x2_0001)
SIZES32 = (0x1_0000, 0x3_0000 - 1, 1 << 32)


@settings(max_examples=250, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_bounds_agree_with_exact_arithmetic(data):
    """Random accesses near a memory's end, near 2^32 and near 2^64, split at random between
    address and offset: in bounds exactly when addr + offset + width <= size (no modulus),
    and then the bytes at base + addr + offset.  Only the memory's last 128 KiB are mapped."""
    is64 = data.draw(st.sampled_from((0, 1)))
    name = data.draw(st.sampled_from(sorted(LOADS)))
    width = LOADS[name][1]
    size = data.draw(st.sampled_from(SIZES64 if is64 else SIZES32))
    top = (1 << 64) if is64 else (1 << 32)
    near = st.one_of(st.integers(-1, 1), st.integers(-24, 24))
    ea = data.draw(st.one_of(
        st.builds(lambda d: size - width + d, near),
        st.builds(lambda d: top + d, near), st.builds(lambda d: 2 * top - 2 + d, near),
        st.integers(0, 2 * top - 2)))
    ea = max(0, min(ea, 2 * top - 2))
    addr = data.draw(st.integers(max(0, ea - (top - 1)), min(ea, top - 1)))
    offset = ea - addr
    base = (MEM - max(size - MEM_LEN, 0)) & M64
    in_bounds = ea + width <= size
    if in_bounds and ea < size - MEM_LEN:
        return  # in bounds but not mapped here
    trap, v, _ = load(name, addr, offset, is64=is64, size=size, base=base,
                      fields=data.draw(st.sampled_from(FIELDS)))
    if not in_bounds:
        assert trap is OOB
    else:
        at = ea - max(size - MEM_LEN, 0)
        assert trap is None and v == expect_load(name, PATTERN[at:])


def test_replay_equals_direct_emission():
    """A recorded sequence replayed (`_memo`) is the bytes and trap records of a direct one."""
    from winch.isa.aarch64 import masm as masm_mod

    cases = [("wasm_load_at", (n, FDST if LOADS[n][0] == "f" else DST, ADDR, off, b, s, w))
             for n in ("i32.load8_s", "i64.load", "f32.load") for (b, s) in FIELDS
             for w in (0, 1) for off in (0, 0x1_0000, 0xFFFF_FFFF, (1 << 32) + 3, M64)
             if w or off < 1 << 32]
    cases += [("wasm_store_at", ("i64.store16", ADDR, off, VAL, 0x8_0000, 0x8_0008, 1))
              for off in (0, 5, M64 - 1)]
    cases += [("memory_size_at", (DST, 0x8_0008, 16)),
              ("call_indirect64", (ADDR, 0x9_0000, 0x9_0008, 0x9_0010, -8))]

    def emit(name, args, direct):
        buf = CodeBuffer()
        m = A64Masm(buf, None)
        fn = getattr(A64Masm, name)
        (fn.__wrapped__ if direct else fn)(m, *args)
        return buf.recorded((0, 0, 0, 0, 0))

    masm_mod.clear_caches()
    for name, args in cases:
        want = emit(name, args, True)
        assert emit(name, args, False) == want == emit(name, args, False), (name, args)


# -- whole modules on winch-aarch64 against wasmtime ---------------------------------------------
def _agree(wasm: bytes, calls):
    plan = Plan([Call(name, tuple(Value(t, v) for t, v in args)) for name, args in calls])
    r = run_diff(wasm, ["wasmtime", "winch-aarch64"], plan, determinism="none")
    assert r.agree, [(f.signature, f.detail) for f in r.findings]
    run = r.runs["winch-aarch64"]
    assert run.status == "ok", (run.status, run.detail)
    return run.outcomes


MEM64_MODULE = """(module
  (memory $m i64 1)
  (data (i64.const 0xFFF0) "\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f\\10")
  (func (export "ld8") (param i64) (result i32) (i32.load8_u (local.get 0)))
  (func (export "ld64") (param i64) (result i64) (i64.load (local.get 0)))
  (func (export "ld32_off1") (param i64) (result i32) (i32.load offset=1 (local.get 0)))
  (func (export "ldf64") (param i64) (result f64) (f64.load (local.get 0)))
  (func (export "ld_big_off") (param i64) (result i32)
    (i32.load offset=0x100000004 (local.get 0)))
  (func (export "ld_huge_off") (param i64) (result i32)
    (i32.load8_u offset=0xffffffffffffffff (local.get 0)))
  (func (export "ld_near_off") (param i64) (result i64)
    (i64.load offset=0xfffffffffffffff0 (local.get 0)))
  (func (export "st16") (param i64 i32) (i32.store16 (local.get 0) (local.get 1)))
  (func (export "size") (result i64) (memory.size))
)"""


def test_memory64_module():
    top = (1 << 64) - 1
    outs = _agree(wat(MEM64_MODULE), [
        ("ld8", [("i64", 0xFFFF)]), ("ld8", [("i64", 0x10000)]), ("ld8", [("i64", top)]),
        ("ld64", [("i64", 0xFFF8)]), ("ld64", [("i64", 0xFFF9)]), ("ld64", [("i64", top - 7)]),
        ("ld32_off1", [("i64", 0xFFFB)]), ("ld32_off1", [("i64", 0xFFFC)]),
        ("ld32_off1", [("i64", top)]), ("ldf64", [("i64", 0xFFF8)]),
        ("ld_big_off", [("i64", 0)]), ("ld_big_off", [("i64", top - 0x100000003)]),
        ("ld_huge_off", [("i64", 0)]), ("ld_huge_off", [("i64", 1)]),
        ("ld_near_off", [("i64", 0)]), ("ld_near_off", [("i64", 0x10)]),
        ("st16", [("i64", 0xFFFE), ("i32", 0xBEEF)]), ("ld8", [("i64", 0xFFFF)]),
        ("st16", [("i64", 0xFFFF), ("i32", 0xBEEF)]), ("st16", [("i64", top), ("i32", 1)]),
        ("size", []),
    ])
    assert outs[0] == Values((Value("i32", 0x10),))
    assert all(isinstance(outs[i], Trap) for i in (1, 2, 4, 5, 7, 8, 10, 11, 12, 13, 14, 15))
    assert outs[17] == Values((Value("i32", 0xBE),))
    assert outs[-1] == Values((Value("i64", 1),))


MULTI_MODULE = """(module
  (memory $a 1)
  (memory $b 2)
  (memory $c i64 3)
  (data (memory $b) (i32.const 0x1FFFC) "\\aa\\bb\\cc\\dd")
  (data (memory $c) (i64.const 0x2FFFC) "\\11\\22\\33\\44")
  (func (export "a") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "b") (param i32) (result i32) (i32.load $b (local.get 0)))
  (func (export "b8") (param i32) (result i32) (i32.load8_s $b offset=0x1FFFF (local.get 0)))
  (func (export "c") (param i64) (result i32) (i32.load $c (local.get 0)))
  (func (export "setb") (param i32 i64) (i64.store $b (local.get 0) (local.get 1)))
  (func (export "getb") (param i32) (result i64) (i64.load $b (local.get 0)))
  (func (export "seta") (param i32 f32) (f32.store $a offset=8 (local.get 0) (local.get 1)))
  (func (export "geta") (param i32) (result f32) (f32.load $a offset=8 (local.get 0)))
  (func (export "sizes") (result i32)
    (i32.add (i32.add (memory.size $a) (i32.mul (memory.size $b) (i32.const 10)))
      (i32.mul (i32.wrap_i64 (memory.size $c)) (i32.const 100))))
)"""


def test_memory_index_1_and_2():
    outs = _agree(wat(MULTI_MODULE), [
        ("a", [("i32", 0xFFFC)]), ("a", [("i32", 0xFFFD)]), ("a", [("i32", 0x1FFFC)]),
        ("b", [("i32", 0x1FFFC)]), ("b", [("i32", 0x1FFFD)]), ("b8", [("i32", 0)]),
        ("b8", [("i32", 1)]), ("c", [("i64", 0x2FFFC)]), ("c", [("i64", 0x2FFFD)]),
        ("c", [("i64", 1 << 32)]),
        ("setb", [("i32", 0x1FFF8), ("i64", 0x0102030405060708)]), ("getb", [("i32", 0x1FFF8)]),
        ("setb", [("i32", 0x1FFF9), ("i64", 1)]), ("a", [("i32", 0)]),
        ("seta", [("i32", 0xFFF4), ("f32", 0x3FC00000)]), ("geta", [("i32", 0xFFF4)]),
        ("seta", [("i32", 0xFFF5), ("f32", 0)]), ("sizes", []),
    ])
    assert outs[3] == Values((Value("i32", 0xDDCCBBAA),))
    assert outs[5] == Values((Value("i32", (0xDD - 256) & 0xFFFF_FFFF),))
    assert outs[7] == Values((Value("i32", 0x44332211),))
    assert all(isinstance(outs[i], Trap) for i in (1, 2, 4, 6, 8, 9, 12, 16))
    assert outs[11] == Values((Value("i64", 0x0102030405060708),))
    assert outs[-1] == Values((Value("i32", 321),))


TABLE64_MODULE = """(module
  (type $t (func (result i32)))
  (table $t64 i64 3 funcref)
  (elem (table $t64) (i64.const 0) func $f0 $f1)
  (func $f0 (type $t) (i32.const 10))
  (func $f1 (type $t) (i32.const 11))
  (func (export "call") (param i64) (result i32) (call_indirect $t64 (type $t) (local.get 0)))
)"""


def test_call_indirect64_module():
    outs = _agree(wat(TABLE64_MODULE), [
        ("call", [("i64", 0)]), ("call", [("i64", 1)]), ("call", [("i64", 2)]),
        ("call", [("i64", 3)]), ("call", [("i64", 1 << 32)]), ("call", [("i64", (1 << 32) + 1)]),
        ("call", [("i64", (1 << 64) - 1)]),
    ])
    assert outs[0] == Values((Value("i32", 10),)) and outs[1] == Values((Value("i32", 11),))
    assert all(isinstance(o, Trap) for o in outs[2:])
