"""The host with several memories per instance (imported and defined, 32- and 64-bit, page
sizes 65536 and 1): each memory's own mapping with unmapped gaps between them, VM-context
fields per memory kept up to date when any instance grows a shared memory, the builtins'
slot kinds at the edges of the 64-bit index types, import type matching, resource limits."""

from __future__ import annotations

import pytest
import unicorn as uc

from tests.wasm_util import wat
from winch.codegen.compile import compile_module
from winch.host import instance as winst
from winch.host import store as wstore
from winch.traps import TrapKind

ISAS = ["x64", "aarch64", "s390x"]
M64 = (1 << 64) - 1

# memory 0: imported (32-bit); 1: defined memory64; 2: defined, page size 1
MULTI = wat("""
(module
  (import "env" "m" (memory $imp 1 4))
  (memory $m64 i64 1 3)
  (memory $tiny 100 200 (pagesize 1))
  (export "m64" (memory $m64))
  (export "tiny" (memory $tiny))
  (func (export "put") (param i64 i32)
    (i32.store $imp (i32.wrap_i64 (local.get 0)) (local.get 1))
    (i32.store $m64 (local.get 0) (i32.add (local.get 1) (i32.const 1)))
    (i32.store $tiny (i32.wrap_i64 (local.get 0)) (i32.add (local.get 1) (i32.const 2))))
  (func (export "get64") (param i64) (result i32) (i32.load $m64 (local.get 0)))
  (func (export "sizes") (result i32 i64 i32)
    (memory.size $imp) (memory.size $m64) (memory.size $tiny))
  (func (export "grow64") (param i64) (result i64) (memory.grow $m64 (local.get 0)))
  (func (export "grow_tiny") (param i32) (result i32) (memory.grow $tiny (local.get 0)))
  (func (export "fill64") (param i64 i32 i64) (memory.fill $m64 (local.get 0) (local.get 1)
                                                (local.get 2)))
  (func (export "copy_64_to_32") (param i32 i64 i32)
    (memory.copy $imp $m64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_tiny_to_64") (param i64 i32 i32)
    (memory.copy $m64 $tiny (local.get 0) (local.get 1) (local.get 2)))
  (data $d "\\01\\02\\03\\04")
  (func (export "init64") (param i64 i32 i32)
    (memory.init $m64 $d (local.get 0) (local.get 1) (local.get 2)))
)
""")


def _instance(isa, store=None):
    store = store or wstore.Store(isa)
    env = store.new_memory(1, 4)
    inst = winst.instantiate(store, compile_module(MULTI, isa), {("env", "m"): env})
    return store, env, inst


def _call(store, inst, name, *args):
    return winst.call(store, inst.exports[name], list(args))


def _read(store, mem, addr, n):
    return bytes(store.mu.mem_read(mem.base + addr, n))


@pytest.mark.parametrize("isa", ISAS)
def test_each_memory_its_own_mapping_and_vmctx_fields(isa):
    store, env, inst = _instance(isa)
    m64, tiny = inst.exports["m64"], inst.exports["tiny"]
    assert inst.memories == [env, m64, tiny]  # imports first, as Wasm numbers them
    assert (m64.is64, tiny.page_log2, env.is64, env.page_log2) == (True, 0, False, 16)
    vm = inst.compiled.vm
    for i, mem in enumerate(inst.memories):
        assert store.read_u64(inst.vmctx + vm.mem_base(i)) == mem.base
        assert store.read_u64(inst.vmctx + vm.mem_size(i)) == mem.byte_size
    assert tiny.byte_size == 100 and tiny.mapped == wstore.PAGE
    assert isinstance(_call(store, inst, "put", 96, 0x1000), wstore.Returned)
    order = "little"  # Wasm memory on every ISA, s390x included
    assert _read(store, env, 96, 4) == (0x1000).to_bytes(4, order)
    assert _read(store, m64, 96, 4) == (0x1001).to_bytes(4, order)
    assert _read(store, tiny, 96, 4) == (0x1002).to_bytes(4, order)
    # page size 1: one byte past the end traps, though the host page behind it is mapped
    assert _call(store, inst, "put", 97, 0).kind == TrapKind.memory_out_of_bounds
    assert _call(store, inst, "sizes").values == [1, 1, 100]
    # unmapped gaps: past each memory's mapping the emulator faults
    for mem in inst.memories:
        with pytest.raises(uc.UcError):
            store.mu.mem_read(mem.base + mem.mapped, 1)


@pytest.mark.parametrize("isa", ISAS)
def test_grow_of_a_shared_memory_is_seen_by_every_instance(isa):
    store = wstore.Store(isa)
    owner = winst.instantiate(store, compile_module(wat("""
      (module
        (memory $a 1) (memory $b i64 1 10)
        (export "a" (memory $a)) (export "b" (memory $b))
        (func (export "size_b") (result i64) (memory.size $b))
        (func (export "load_b") (param i64) (result i32) (i32.load8_u $b (local.get 0))))
    """), isa), {})
    user = winst.instantiate(store, compile_module(wat("""
      (module
        (import "o" "a" (memory $a 1))
        (import "o" "b" (memory $b i64 1))
        (func (export "grow_b") (param i64) (result i64) (memory.grow $b (local.get 0)))
        (func (export "store_b") (param i64 i32) (i32.store8 $b (local.get 0) (local.get 1)))
        (func (export "size_a") (result i32) (memory.size $a)))
    """), isa), {("o", "a"): owner.exports["a"], ("o", "b"): owner.exports["b"]})
    b = owner.exports["b"]
    assert len(b.views) == 2  # both instances' vmctx size fields of their memory 1
    assert _call(store, user, "grow_b", 2).values == [1]
    assert _call(store, owner, "size_b").values == [3]
    assert _call(store, user, "store_b", 3 * 0x10000 - 1, 0xAB).values == []
    assert _call(store, owner, "load_b", 3 * 0x10000 - 1).values == [0xAB]
    assert _call(store, owner, "load_b", 3 * 0x10000).kind == TrapKind.memory_out_of_bounds
    assert _call(store, user, "size_a").values == [1]  # memory 0 untouched
    for inst in (owner, user):
        assert store.read_u64(inst.vmctx + inst.compiled.vm.mem_size(1)) == 3 * 0x10000
        assert store.read_u64(inst.vmctx + inst.compiled.vm.mem_size(0)) == 0x10000


@pytest.mark.parametrize("isa", ISAS)
def test_64_bit_builtins_at_their_edges(isa):
    store, env, inst = _instance(isa)
    m64 = inst.exports["m64"]
    # memory.grow: -1 as an i64 past the maximum or past 2^64; the old size otherwise
    assert _call(store, inst, "grow64", 1 << 48).values == [M64]
    assert _call(store, inst, "grow64", M64).values == [M64]
    assert _call(store, inst, "grow64", 3).values == [M64]  # max 3 pages
    assert _call(store, inst, "grow64", 2).values == [1]
    assert _call(store, inst, "grow64", 0).values == [3]
    # memory.fill: i64 address and length; a sum past 2^64 traps, never wraps
    end = 3 * 0x10000
    assert _call(store, inst, "fill64", end - 4, 0x5A, 4).values == []
    assert _read(store, m64, end - 5, 5) == b"\x00" + b"\x5a" * 4
    for d, n in ((end - 3, 4), (M64, 2), (1, M64), (end, 0), (end + 1, 0)):
        r = _call(store, inst, "fill64", d, 0x11, n)
        assert (isinstance(r, wstore.Returned) if (d, n) == (end, 0)
                else r.kind == TrapKind.memory_out_of_bounds), (d, n, r)
    assert _read(store, m64, end - 4, 4) == b"\x5a" * 4  # no partial write
    # memory.copy between index types: n is an i32 unless both memories are 64-bit
    assert _call(store, inst, "copy_64_to_32", 8, end - 4, 4).values == []
    assert _read(store, env, 8, 4) == b"\x5a" * 4
    assert _call(store, inst, "copy_64_to_32", 0, M64, 1).kind == \
        TrapKind.memory_out_of_bounds
    assert _call(store, inst, "copy_tiny_to_64", end - 100, 0, 100).values == []
    assert _call(store, inst, "copy_tiny_to_64", end - 100, 1, 100).kind == \
        TrapKind.memory_out_of_bounds
    # memory.init: i64 destination, i32 source and length
    assert _call(store, inst, "init64", end - 2, 2, 2).values == []
    assert _read(store, m64, end - 2, 2) == b"\x03\x04"
    assert _call(store, inst, "init64", M64, 0, 1).kind == TrapKind.memory_out_of_bounds
    # page size 1: grow counts bytes; the limit is the memory's maximum
    assert _call(store, inst, "grow_tiny", 101).values == [0xFFFF_FFFF]
    assert _call(store, inst, "grow_tiny", 4000).values == [0xFFFF_FFFF]
    assert _call(store, inst, "grow_tiny", 100).values == [100]
    assert _call(store, inst, "sizes").values == [1, 3, 200]


@pytest.mark.parametrize("isa", ISAS)
def test_table64_builtins(isa):
    store = wstore.Store(isa)
    inst = winst.instantiate(store, compile_module(wat("""
      (module
        (table $t i64 2 funcref)
        (table $u 3 funcref)
        (func $f (result i32) (i32.const 7))
        (elem (table $t) (i64.const 1) func $f)
        (func (export "grow") (param i64) (result i64)
          (table.grow $t (ref.null func) (local.get 0)))
        (func (export "size") (result i64) (table.size $t))
        (func (export "is_null") (param i64) (result i32) (ref.is_null (table.get $t (local.get 0))))
        (func (export "fill") (param i64 i64) (table.fill $t (local.get 0) (ref.func $f) (local.get 1)))
        (func (export "copy_to_32") (param i32 i64 i32)
          (table.copy $u $t (local.get 0) (local.get 1) (local.get 2))))
    """), isa), {})
    assert _call(store, inst, "grow", M64).values == [M64]
    assert _call(store, inst, "grow", 3).values == [2]
    assert _call(store, inst, "size").values == [5]
    assert _call(store, inst, "is_null", 1).values == [0]
    assert _call(store, inst, "is_null", 1 << 32).kind == TrapKind.table_out_of_bounds
    assert _call(store, inst, "fill", 4, M64).kind == TrapKind.table_out_of_bounds
    assert _call(store, inst, "fill", 4, 1).values == []
    assert _call(store, inst, "is_null", 4).values == [0]
    assert _call(store, inst, "copy_to_32", 0, 3, 2).values == []
    assert _call(store, inst, "copy_to_32", 0, M64, 1).kind == TrapKind.table_out_of_bounds


@pytest.mark.parametrize("kind, exported, imported", [
    ("memory", "i64 1", "1"),               # index types differ, either way
    ("memory", "1", "i64 1"),
    ("memory", "1 (pagesize 1)", "1"),      # page sizes differ, either way
    ("memory", "1", "1 (pagesize 1)"),
    ("memory", "i64 1", "i64 2"),           # too small
    ("memory", "i64 1", "i64 1 5"),         # no maximum where one is required
    ("table", "i64 1 funcref", "1 funcref"),
    ("table", "1 funcref", "i64 1 funcref"),
])
def test_import_type_matching(kind, exported, imported):
    store = wstore.Store("x64")
    ex = winst.instantiate(store, compile_module(
        wat(f'(module ({kind} (export "x") {exported}))'), "x64"), {})
    imp = compile_module(wat(f'(module (import "e" "x" ({kind} {imported})))'), "x64")
    with pytest.raises(wstore.LinkError, match="incompatible import type"):
        winst.instantiate(store, imp, {("e", "x"): ex.exports["x"]})


def test_matching_imports_link():
    store = wstore.Store("x64")
    m = store.new_memory(2, 5, is64=True)
    tiny = store.new_memory(3, None, page_log2=0)
    imp = compile_module(wat('(module (import "e" "m" (memory i64 1 6)) '
                             '(import "e" "t" (memory 2 (pagesize 1))))'), "x64")
    inst = winst.instantiate(store, imp, {("e", "m"): m, ("e", "t"): tiny})
    assert inst.memories == [m, tiny]


def test_memories_larger_than_the_host_maps_are_a_resource_limit():
    store = wstore.Store("x64")
    for text in ("(memory i64 0x1_0000_0000)", "(memory 0x4001)",
                 f"(memory {wstore.MAX_MEMORY_BYTES + 1} (pagesize 1))"):
        with pytest.raises(wstore.ResourceLimit):
            winst.instantiate(store, compile_module(wat(f"(module {text})"), "x64"), {})
    # at the host's limit it instantiates; growing past it answers -1 (as the spec allows)
    inst = winst.instantiate(store, compile_module(wat(f"""
      (module (memory i64 {wstore.MAX_MEMORY_PAGES - 1})
        (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0))))"""),
        "x64"), {})
    assert _call(store, inst, "grow", 2).values == [M64]
    assert _call(store, inst, "grow", 1).values == [wstore.MAX_MEMORY_PAGES - 1]


def test_memory_slots_run_out_as_a_resource_limit():
    store = wstore.Store("x64")
    store._mem_slots = wstore.MAX_MEMORIES - 1  # (as after that many memories)
    c = compile_module(wat("(module (memory 0) (memory 1))"), "x64")
    with pytest.raises(wstore.ResourceLimit, match="memories in one store"):
        winst.instantiate(store, c, {})
    assert wstore.MEM_BASE + wstore.MAX_MEMORIES * wstore.MEM_SPACING <= 1 << 48
