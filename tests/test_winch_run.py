"""The x64 compiler and host end to end: results, traps, determinism, the sandbox, the CLI."""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import sys

import pytest

from tests.wasm_util import wat
from winch.codegen.compile import compile_module
from winch.errors import Unsupported
from winch.host import instance as winst
from winch.host import store as wstore
from winch.traps import TrapKind

MOD = wat("""
(module
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $add)
  (type $bin (func (param i32 i32) (result i32)))
  (func $add (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "icall") (param i32) (result i32)
    (call_indirect (type $bin) (i32.const 2) (i32.const 3) (local.get 0)))
  (func $rec (export "rec") (param i32) (result i32) (call $rec (local.get 0)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "multi") (param i64) (result i64 i32 f64)
    (local.get 0) (i32.wrap_i64 (local.get 0)) (f64.convert_i64_s (local.get 0)))
)
""")


ISAS = ["x64", "aarch64", "s390x"]


def run(name, *args, compiled=None, timeout=5.0, isa="x64"):
    c = compiled or compile_module(MOD, isa)
    store = wstore.Store(c.isa, timeout=timeout)
    inst = winst.instantiate(store, c, {})
    return winst.call(store, inst.exports[name], list(args))


@pytest.mark.parametrize("isa", ISAS)
def test_values_and_multi_value(isa):
    assert run("add", 40, 2, isa=isa).values == [42]
    assert run("add", 0xFFFF_FFFF, 2, isa=isa).values == [1]
    r = run("multi", (1 << 64) - 5, isa=isa)
    assert r.values == [(1 << 64) - 5, (1 << 32) - 5, struct.unpack("<Q", struct.pack("<d", -5.0))[0]]


@pytest.mark.parametrize("name,args,kind", [
    ("load", (65533,), TrapKind.memory_out_of_bounds),
    ("load", (0xFFFF_FFFF,), TrapKind.memory_out_of_bounds),
    ("div", (1, 0), TrapKind.integer_divide_by_zero),
    ("div", (0x8000_0000, 0xFFFF_FFFF), TrapKind.integer_overflow),
    ("icall", (1,), TrapKind.indirect_call_null),
    ("icall", (2,), TrapKind.table_out_of_bounds),
    ("rec", (0,), TrapKind.call_stack_exhausted),
])
@pytest.mark.parametrize("isa", ISAS)
def test_traps_name_kind_and_location(name, args, kind, isa):
    r = run(name, *args, isa=isa)
    assert isinstance(r, wstore.Trapped), r
    assert r.kind == kind
    if kind != TrapKind.call_stack_exhausted:
        assert r.func >= 0 and r.wasm_offset > 0


@pytest.mark.parametrize("isa", ISAS)
def test_runaway_code_is_exhausted_not_a_hang(isa):
    r = run("spin", timeout=0.5, isa=isa)
    assert isinstance(r, wstore.Exhausted)


@pytest.mark.parametrize("isa", ISAS)
def test_builtin_calls_spend_the_runaway_budget(isa, monkeypatch):
    # a loop around a builtin (memory.grow failing at the maximum: Python each time) is
    # bounded by the budget as time, not by its own few instructions per iteration
    m = wat("""(module (memory 1 1)
      (func (export "f") (loop (br_if 0 (i32.ne (memory.grow (i32.const 1)) (i32.const 7))))))""")
    calls = []
    charge = wstore.Store._charge
    monkeypatch.setattr(wstore.Store, "_charge",
                        lambda self, units: calls.append(units) or charge(self, units))
    store = wstore.Store(isa, timeout=0.01)  # 200,000 units of the runaway-code fuel
    inst = winst.instantiate(store, compile_module(m, isa), {})
    r = winst.call(store, inst.exports["f"], [])
    assert isinstance(r, wstore.Exhausted)
    budget = 0.01 * wstore.FUEL_PER_SECOND
    every = wstore.BUILTIN_CHARGE_EVERY
    assert calls and set(calls) == {every * wstore.BUILTIN_CALL_FUEL}
    assert len(calls) * every <= budget / wstore.BUILTIN_CALL_FUEL + every  # not 200,000


@pytest.mark.parametrize("isa", ISAS)
def test_same_bytes_twice_give_identical_code(isa):
    a = compile_module(MOD, isa)
    b = compile_module(MOD, isa)
    assert a.code == b.code and a.traps == b.traps and a.srclocs == b.srclocs


def test_removed_bounds_check_is_a_sandbox_violation():
    c = compile_module(MOD, "x64")
    load_start, load_end = c.func_ranges[1]
    sites = [off for off, kind in c.traps
             if kind == TrapKind.memory_out_of_bounds and load_start <= off < load_end]
    assert len(sites) == 1
    ud2 = sites[0]
    code = bytearray(c.code)
    assert code[ud2:ud2 + 2] == b"\x0f\x0b" and code[ud2 - 2] & 0xF0 == 0x70  # jcc +2; ud2
    code[ud2 - 2] = 0xEB  # jcc -> jmp: the check always passes
    patched = dataclasses.replace(c, code=bytes(code))
    assert run("load", 8, compiled=patched).values == [0]  # in bounds: still fine
    r = run("load", 0xFFFF_FFF0, compiled=patched)
    assert isinstance(r, wstore.SandboxViolation), r


def test_removed_bounds_check_is_a_sandbox_violation_aarch64():
    c = compile_module(MOD, "aarch64")
    start, end = c.func_ranges[1]
    brk = [off for off, kind in c.traps
           if kind == TrapKind.memory_out_of_bounds and start <= off < end][0]
    code = bytearray(c.code)
    bcond = int.from_bytes(code[brk - 4:brk], "little")
    assert bcond >> 24 == 0x54  # b.cond over the brk
    code[brk - 4:brk] = (0x14000002).to_bytes(4, "little")  # b .+8: the check always passes
    patched = dataclasses.replace(c, code=bytes(code))
    assert run("load", 8, compiled=patched).values == [0]
    r = run("load", 0xFFFF_FFF0, compiled=patched)
    assert isinstance(r, wstore.SandboxViolation), r


def test_outside_scope_is_unsupported_by_name():
    with pytest.raises(Unsupported) as e:
        compile_module(wat('(module (func (drop (v128.const i64x2 0 0))))'), "x64")
    assert e.value.feature == "simd"
    with pytest.raises(Unsupported) as e:
        compile_module(wat('(module (func (return_call 0)))'), "x64")
    assert e.value.feature == "tail-call"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "winch.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_run_explain_compile(tmp_path):
    path = tmp_path / "m.wasm"
    path.write_bytes(MOD)
    r = _cli("run", "--target", "x64", str(path), "--invoke", "add", "2", "-5")
    assert r.returncode == 0 and r.stdout.strip() == "-3:i32"
    r = _cli("run", str(path), "--invoke", "div", "1", "0")
    assert r.returncode == 1 and "trap: integer_divide_by_zero in func 3" in r.stdout
    r = _cli("explain", "--target", "x64", str(path), "--func", "0")
    assert r.returncode == 0 and "i32.add" in r.stdout and "add" in r.stdout
    out = tmp_path / "m.bin"
    r = _cli("compile", "--target", "x64", str(path), "-o", str(out))
    assert r.returncode == 0 and out.read_bytes().startswith(b"WNCH")


def test_cli_bad_input_is_one_line_and_status_2(tmp_path):
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm\x01\0\0\0\x01\x05\x01\x60\x00")
    r = _cli("run", str(bad), "--invoke", "f")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and str(bad) in r.stderr and "@0x" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli("run", str(tmp_path / "missing.wasm"), "--invoke", "f")
    assert r.returncode == 2 and "cannot read" in r.stderr


MEMORY_MIX = wat("""
(module
  (memory (export "mem") 1)
  (func (export "fill") (param i64 f64)
    (i64.store (i32.const 0) (local.get 0))
    (i32.store (i32.const 9) (i32.wrap_i64 (local.get 0)))
    (i32.store16 (i32.const 14) (i32.const 0xBEEF))
    (i32.store8 (i32.const 17) (i32.const 0x1FF))
    (i64.store32 (i32.const 19) (local.get 0))
    (i64.store16 (i32.const 23) (local.get 0))
    (i64.store8 (i32.const 26) (local.get 0))
    (f32.store (i32.const 29) (f32.demote_f64 (local.get 1)))
    (f64.store (i32.const 35) (local.get 1))
    (f64.store (i32.const 45) (f64.reinterpret_i64 (i64.load (i32.const 1))))
    (memory.fill (i32.const 60) (i32.const 0xAB) (i32.const 5))
    (memory.copy (i32.const 70) (i32.const 0) (i32.const 30)))
  (func (export "sum") (result i64)
    (i64.add (i64.load (i32.const 3)) (i64.extend_i32_u (i32.load16_s (i32.const 14)))))
)
""")


def test_memory_bytes_identical_on_every_isa():
    images, sums = {}, {}
    for isa in ISAS:
        c = compile_module(MEMORY_MIX, isa)
        store = wstore.Store(isa)
        inst = winst.instantiate(store, c, {})
        r = winst.call(store, inst.exports["fill"],
                       [0x0123456789ABCDEF, struct.unpack("<Q", struct.pack("<d", -1.25e-3))[0]])
        assert isinstance(r, wstore.Returned), (isa, r)
        mem = inst.exports["mem"]
        images[isa] = bytes(store.mu.mem_read(mem.base, 128))
        sums[isa] = winst.call(store, inst.exports["sum"], []).values
    assert images["x64"][:8] == (0x0123456789ABCDEF).to_bytes(8, "little")  # Wasm is LE
    assert images["aarch64"] == images["x64"] and images["s390x"] == images["x64"]
    assert sums["aarch64"] == sums["x64"] == sums["s390x"]


def _const_module(value: int) -> bytes:
    return wat(f"""
(module
  (memory (export "mem") 1)
  (global (export "g") (mut i32) (i32.const {value}))
  (data (i32.const 8) "\\{value:02x}")
  (func (export "f") (result i32) (i32.const {value}))
  (func (export "store") (i32.store (i32.const 100) (i32.const {value}))))
""")


@pytest.mark.parametrize("isa", ISAS)
def test_a_reset_store_runs_new_code_at_the_same_addresses(isa):
    """`Store.reset` keeps the Unicorn engine: the next module lands at the same addresses,
    so translated code of the old one must not run, and nothing of its state may show."""
    store = wstore.Store(isa)
    first = winst.instantiate(store, compile_module(_const_module(7), isa), {})
    assert winst.call(store, first.exports["f"], []).values == [7]
    winst.call(store, first.exports["store"], [])
    host = store.host_func((), (), lambda: [])
    store.reset()
    second = winst.instantiate(store, compile_module(_const_module(9), isa), {})
    assert second.code_base == first.code_base and second.vmctx == first.vmctx
    assert winst.call(store, second.exports["f"], []).values == [9]
    mem = second.exports["mem"]
    image = bytes(store.mu.mem_read(mem.base, mem.pages * 0x10000))
    assert image[8] == 9 and image[100:104] == bytes(4)  # its data; not the old store's
    assert store.global_value(second.exports["g"]) == 9
    assert host.stub not in store.host_stubs  # host functions of the old store are gone
    fresh = wstore.Store(isa)
    assert sorted(store.mu.mem_regions()) == sorted(
        _regions_after(fresh, compile_module(_const_module(9), isa)))


@pytest.mark.parametrize("isa", ISAS)
def test_a_reset_store_maps_only_the_next_modules_regions(isa):
    """After a reset, regions of the old module are reused in place (zeroed) or unmapped
    before code runs: a smaller next module leaves nothing of the bigger one mapped, so its
    accesses beyond its own regions still fault, and what it reuses reads as zeros."""
    big = wat("""
(module
  (memory (export "mem") 3)
  (table 40 funcref)
  (global (export "g") (mut i64) (i64.const -1))
  (func (export "f") (i64.store (i32.const 131064) (i64.const -1))))""")
    small = wat("""
(module
  (memory (export "mem") 1)
  (global (export "g") (mut i64) (i64.const 0))
  (func (export "f") (result i64) (i64.load (i32.const 65528))))""")
    store = wstore.Store(isa)
    first = winst.instantiate(store, compile_module(big, isa), {})
    winst.call(store, first.exports["f"], [])
    for _ in range(4):  # host-made objects after the module's: beyond the next one's layout
        store.new_table(wstore.FUNCREF, 600, None)
    store.reset()
    second = winst.instantiate(store, compile_module(small, isa), {})
    assert winst.call(store, second.exports["f"], []).values == [0]
    assert store.global_value(second.exports["g"]) == 0
    fresh = wstore.Store(isa)
    assert sorted(store.mu.mem_regions()) == sorted(
        _regions_after(fresh, compile_module(small, isa)))
    mem = second.exports["mem"]
    with pytest.raises(Exception):  # the old module's second page is gone
        store.mu.mem_read(mem.base + 0x10000, 8)


def _regions_after(store, compiled):
    winst.instantiate(store, compiled, {})
    return store.mu.mem_regions()
