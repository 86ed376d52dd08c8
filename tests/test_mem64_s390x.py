"""memory64, multi-memory and table64 on s390x: the bounds checks of `wasm_load_at` /
`wasm_store_at`, `memory_size_at` and `call_indirect64` (issue 20), against wasmtime.

The 64-bit check must treat a carry out of addr + offset + width as out of bounds: each
access below is tried at addresses whose sum with the offset wraps around 2^64 to a small,
in-bounds address (a wrapping check would let it through), at the last valid address of
its width and one past it, and with offsets that carry past 2^32 and past 2^64 (an offset
+ width of 2^64 or more always traps).  Memories 1 and 2 have their own sizes, which the
checks must read from their own VM-context fields, also beyond s390x's 20-bit displacement.
A table64 index of 2^32 or more must not be truncated to 32 bits.
"""

from __future__ import annotations

from oracle.diff import run_diff
from oracle.outcomes import Trap, TrapKind, Values
from oracle.plan import Call, Plan
from oracle.values import Value
from tests.wasm_util import wat
from winch.vmctx import VMOffsets
from winch.wasm import validate

ENGINES = ["wasmtime", "winch-s390x"]
M64 = (1 << 64) - 1
PAGE = 65536

# (load, result type, width); the matching store is found by `_store_of`
LOADS = (("i32.load8_u", "i32", 1), ("i32.load8_s", "i32", 1), ("i32.load16_u", "i32", 2),
         ("i32.load16_s", "i32", 2), ("i32.load", "i32", 4), ("i64.load8_s", "i64", 1),
         ("i64.load16_u", "i64", 2), ("i64.load32_s", "i64", 4), ("i64.load32_u", "i64", 4),
         ("i64.load", "i64", 8), ("f32.load", "f32", 4), ("f64.load", "f64", 8))
STORES = (("i32.store8", "i32", 1), ("i32.store16", "i32", 2), ("i32.store", "i32", 4),
          ("i64.store8", "i64", 1), ("i64.store16", "i64", 2), ("i64.store32", "i64", 4),
          ("i64.store", "i64", 8), ("f32.store", "f32", 4), ("f64.store", "f64", 8))
CONST = {"i32": "0x8192a3b4", "i64": "0x8192a3b4c5d6e7f8", "f32": "-1.75", "f64": "-3.0e300"}
# offsets: none, small, past 2^32, near 2^64 (a dynamic check), and offset + width = 2^64 or
# more for every width (a static trap)
OFFSETS = (0, 16, (1 << 32) + 3, (1 << 64) - 0x20, M64)
DATA = "".join(f"\\{b:02x}" for b in range(0x81, 0x91))  # 16 bytes with the sign bits set


def _addresses(width: int, size: int) -> tuple:
    """Addresses to try an access of `width` with: in bounds, the last valid one and one
    past it (for offsets 0 and 16), and ones whose sum with an offset wraps past 2^64."""
    last = size - width
    return (0, 3, last, last + 1, last - 16, last - 15, size, (1 << 32) - 1, 1 << 32,
            M64, (1 << 64) - width, (1 << 64) - 16, (1 << 64) - (1 << 32), 0x20,
            (1 << 63), (1 << 64) - 0x20 + 8)


def _name(op: str, off: int) -> str:
    return f"{op}_{off:x}"


def _agree(wasm: bytes, plan: Plan):
    r = run_diff(wasm, ENGINES, plan, determinism="none")
    assert r.agree, [(f.signature, f.detail) for f in r.findings][:5]
    run = r.runs["winch-s390x"]
    assert run.status == "ok", (run.status, run.detail)
    return run.outcomes


def _by_call(plan: Plan, outcomes) -> dict:
    """(export, argument bits) -> the outcome; a trap as just its kind's Trap."""
    return {(c.export, tuple(v.bits for v in c.args)): Trap(o.kind) if isinstance(o, Trap) else o
            for c, o in zip(plan.calls, outcomes)}


# -- a 64-bit memory 0 ----------------------------------------------------------------------------
def mem64_loads_module() -> bytes:
    funcs = "\n".join(
        f'(func (export "{_name(op, off)}") (param i64) (result {t}) '
        f'({op} offset={off} (local.get 0)))'
        for op, t, _ in LOADS for off in OFFSETS)
    return wat(f"""(module (memory (export "mem") i64 1)
      (data (i64.const 0) "{DATA}") (data (i64.const {PAGE - 16}) "{DATA}") {funcs})""")


def mem64_stores_module() -> bytes:
    funcs = "\n".join(
        f'(func (export "{_name(op, off)}") (param i64) '
        f'({op} offset={off} (local.get 0) ({t}.const {CONST[t]})))'
        for op, t, _ in STORES for off in OFFSETS)
    return wat(f'(module (memory (export "mem") i64 1) {funcs})')


def _plan(ops) -> Plan:
    return Plan([Call(_name(op, off), (Value("i64", a),))
                 for op, _, w in ops for off in OFFSETS for a in _addresses(w, PAGE)])


def test_mem64_loads_every_width_and_offset():
    plan = _plan(LOADS)
    got = _by_call(plan, _agree(mem64_loads_module(), plan))
    oob = Trap(TrapKind.memory_out_of_bounds)
    for op, _, w in LOADS:
        assert isinstance(got[_name(op, 0), (PAGE - w,)], Values), op  # the last valid address
        assert isinstance(got[_name(op, 16), (PAGE - w - 16,)], Values), op
        assert got[_name(op, 0), (PAGE - w + 1,)] == oob, op  # one past it
        assert got[_name(op, 16), (PAGE - w - 15,)] == oob, op
        # addr + offset wraps past 2^64 to a small address: still out of bounds
        assert got[_name(op, 16), ((1 << 64) - 16,)] == oob, op
        assert got[_name(op, (1 << 64) - 0x20), (0x20,)] == oob, op
        assert got[_name(op, (1 << 32) + 3), ((1 << 64) - (1 << 32),)] == oob, op
        assert got[_name(op, M64), (0,)] == oob, op  # offset + width >= 2^64: always


def test_mem64_stores_every_width_and_offset():
    plan = _plan(STORES)
    got = _by_call(plan, _agree(mem64_stores_module(), plan))
    oob = Trap(TrapKind.memory_out_of_bounds)
    for op, _, w in STORES:
        assert got[_name(op, 16), (PAGE - w - 16,)] == Values(()), op
        assert got[_name(op, 16), (PAGE - w - 15,)] == oob, op
        assert got[_name(op, (1 << 64) - 0x20), (0x20,)] == oob, op
        assert got[_name(op, (1 << 64) - 0x20), ((1 << 64) - 0x20 + 8,)] == oob, op


# -- several memories -----------------------------------------------------------------------------
# memory 0: 32-bit, 1 page; memory 1: 64-bit, 2 pages; memory 2: 32-bit, 3 pages
MEMS = (("", 1), ("i64", 2), ("", 3))


def multi_memory_module(nglobals: int = 0) -> bytes:
    """Loads, stores and memory.size on each of three memories; with `nglobals` globals the
    VM-context fields of memories 1 and 2 lie far (beyond 512 KiB with 65,600)."""
    parts = [" ".join(f"(global (mut i32) (i32.const {i}))" for i in range(nglobals))]
    for m, (it, pages) in enumerate(MEMS):
        at = "i64" if it else "i32"
        parts.append(f'(memory $m{m} (export "mem{m}") {it} {pages})')
        parts.append(f'(data (memory $m{m}) ({at}.const {pages * PAGE - 16}) "{DATA}")')
        parts.append(f'(func (export "size{m}") (result {at}) (memory.size $m{m}))')
        for op, t, _ in LOADS:
            for off in (0, 7, 70000):
                parts.append(f'(func (export "{op}_m{m}_{off}") (param {at}) (result {t}) '
                             f'({op} $m{m} offset={off} (local.get 0)))')
        for op, t, _ in STORES:
            parts.append(f'(func (export "{op}_m{m}") (param {at}) '
                         f'({op} $m{m} offset=5 (local.get 0) ({t}.const {CONST[t]})))')
    return wat("(module " + "\n".join(parts) + ")")


def _multi_plan() -> Plan:
    calls = []
    for m, (it, pages) in enumerate(MEMS):
        at = "i64" if it else "i32"
        size = pages * PAGE
        calls.append(Call(f"size{m}", ()))
        for op, _, w in STORES:
            for a in (0, size - w - 5, size - w - 4, (1 << 32) - 5):
                if at == "i64" or a < (1 << 32):
                    calls.append(Call(f"{op}_m{m}", (Value(at, a),)))
        for op, _, w in LOADS:
            for off in (0, 7, 70000):
                for a in (0, size - w - off, size - w - off + 1, PAGE - w, 2 * PAGE - w + 1,
                          (1 << 32) - 1):
                    if 0 <= a < (1 << 32):
                        calls.append(Call(f"{op}_m{m}_{off}", (Value(at, a),)))
    return Plan(calls)


def test_three_memories_of_different_sizes():
    plan = _multi_plan()
    got = _by_call(plan, _agree(multi_memory_module(), plan))
    assert got["size0", ()] == Values((Value("i32", 1),))
    assert got["size1", ()] == Values((Value("i64", 2),))
    assert got["size2", ()] == Values((Value("i32", 3),))
    oob = Trap(TrapKind.memory_out_of_bounds)
    # 2 * PAGE - 8 is past memory 0's end but in memory 1's and 2's
    assert got["i64.load_m0_0", (2 * PAGE - 7,)] == oob
    assert isinstance(got["i64.load_m1_0", (2 * PAGE - 8,)], Values)
    assert got["i64.load_m1_0", (2 * PAGE - 7,)] == oob
    assert isinstance(got["i64.load_m2_0", (3 * PAGE - 8,)], Values)
    assert got["i64.load_m2_0", (3 * PAGE - 7,)] == oob


def test_memory_fields_beyond_512k():
    wasm = multi_memory_module(65600)
    vm = VMOffsets.for_module(validate(wasm))
    assert min(vm.mem_base(1), vm.mem_size(1)) >= 1 << 19  # out of reach of a displacement
    _agree(wasm, _multi_plan())


# -- table64 --------------------------------------------------------------------------------------
def table64_module() -> bytes:
    return wat("""(module
      (type $t (func (result i32)))
      (type $u (func (result i64)))
      (table $tab i64 3 funcref)
      (elem (table $tab) (i64.const 1) func $one $two)
      (func $one (result i32) (i32.const 1))
      (func $two (result i32) (i32.const 2))
      (func (export "ci") (param i64) (result i32)
        (call_indirect $tab (type $t) (local.get 0)))
      (func (export "cu") (param i64) (result i64)
        (call_indirect $tab (type $u) (local.get 0))))""")


def test_call_indirect64_compares_the_whole_index():
    idx = (0, 1, 2, 3, (1 << 32) + 1, (1 << 32) + 2, 1 << 63, M64, (1 << 64) - (1 << 32) + 1)
    plan = Plan([Call(f, (Value("i64", i),)) for f in ("ci", "cu") for i in idx])
    got = _by_call(plan, _agree(table64_module(), plan))
    assert got["ci", (2,)] == Values((Value("i32", 2),))
    assert got["ci", (0,)] == Trap(TrapKind.indirect_call_null)
    assert got["cu", (1,)] == Trap(TrapKind.indirect_call_type_mismatch)
    for i in idx[3:]:
        assert got["ci", (i,)] == Trap(TrapKind.table_out_of_bounds), hex(i)


# -- custom page sizes ----------------------------------------------------------------------------
def test_page_size_one():
    """memory.size of a memory of 1-byte pages is its size in bytes (`memory_size_at` with
    page_log2 0), before and after a grow; the bound is byte-exact."""
    wasm = wat("""(module (memory $a 1) (memory $p i64 3 (pagesize 1))
      (func (export "size") (result i64) (memory.size $p))
      (func (export "grow") (param i64) (result i64) (memory.grow $p (local.get 0)))
      (func (export "ld16") (param i64) (result i32) (i32.load16_u $p (local.get 0))))""")
    args = (0, 1, 2, 6, 7)
    calls = [Call("size", ())] + [Call("ld16", (Value("i64", a),)) for a in args]
    plan = Plan(calls + [Call("grow", (Value("i64", 5),))] + calls)
    out = _agree(wasm, plan)
    oob = Trap(TrapKind.memory_out_of_bounds)
    assert out[0] == Values((Value("i64", 3),)) and out[7] == Values((Value("i64", 8),))
    assert isinstance(out[2], Values) and Trap(out[3].kind) == oob  # 1 + 2 <= 3 < 2 + 2
    assert isinstance(out[11], Values) and Trap(out[12].kind) == oob  # 6 + 2 <= 8 < 7 + 2
