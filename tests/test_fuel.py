"""Fuel with wasmtime's semantics (winch/codegen/fuel.py): every operator's cost, where fuel is
checked and saved, the host API, `winch run --fuel` and `oracle diff --fuel`, checked call by
call against wasmtime-py on all three ISAs.  The full figures (the spec suite's modules and
1,000 generated ones) come from scripts/fuel_check.py."""

from __future__ import annotations

import json
import random

import pytest
import wasmtime

from oracle.diff import run_diff
from winch.codegen.compile import compile_module
from winch.host import instance as winst
from winch.host.store import Returned, Store, Trapped

ISAS = ("x64", "aarch64", "s390x")

# one function per rule of the module docstring of winch/codegen/fuel.py
MODULE = """(module (memory 1 10) (memory 0 0) (table 4 10 funcref)
 (func (export "empty"))
 (func (export "nops") nop nop (block (block nop)) i32.const 1 drop)
 (func (export "add") (result i32) i32.const 1 i32.const 2 i32.add)
 (func (export "div") (result i32) i32.const 1 i32.const 0 i32.div_u)
 (func (export "unr") i32.const 1 drop unreachable)
 (func $g (result i32) i32.const 1 i32.const 2 i32.add)
 (func (export "call") (result i32) i32.const 5 drop call $g)
 (func $h (result i32) i32.const 1 i32.const 0 i32.div_u)
 (func (export "calltrap") (result i32) i32.const 5 drop call $h)
 (func (export "loop") (result i32) (local i32)
   (loop $l local.get 0 i32.const 1 i32.add local.tee 0 i32.const 10 i32.lt_u br_if $l)
   local.get 0)
 (func (export "ret") (result i32) i32.const 1 return)
 (func (export "iff") (param i32) (result i32)
   local.get 0 (if (result i32) (then i32.const 1) (else i32.const 2)))
 (func (export "brt") (param i32) (result i32)
   (block (block (block local.get 0 br_table 0 1 2) i32.const 7 return) i32.const 8 return)
   i32.const 9)
 (func (export "fill") (param i32) i32.const 0 i32.const 0 local.get 0 memory.fill)
 (func (export "fillc") i32.const 0 i32.const 0 i32.const 200 memory.fill)
 (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
 (func (export "growc") (result i32) i32.const 20 memory.grow)
 (func (export "tgrow") (param i32) (result i32) ref.null func local.get 0 table.grow 0)
 (func (export "filldiv") (param i32)
   i32.const 0 i32.const 0 local.get 0 memory.fill i32.const 1 i32.const 0 i32.div_u drop)
 (func (export "ci") (param i32) local.get 0 call_indirect)
 (func (export "never") i32.const 9 drop i32.const 0 i32.load8_u 1 drop)
 (func (export "far") i32.const 0 i32.load offset=0xFFFFFFFF drop)
 (func (export "inf") (loop $l br $l))
)"""
CALLS = [("empty", ()), ("nops", ()), ("add", ()), ("div", ()), ("unr", ()), ("call", ()),
         ("calltrap", ()), ("loop", ()), ("ret", ()), ("iff", (1,)), ("iff", (0,)),
         ("brt", (0,)), ("brt", (1,)), ("brt", (5,)), ("fill", (10,)), ("fillc", ()),
         ("grow", (2,)), ("grow", (100,)), ("growc", ()), ("tgrow", (3,)), ("tgrow", (100,)),
         ("filldiv", (5,)), ("ci", (0,)), ("ci", (9,)), ("never", ()), ("far", ()),
         ("inf", ()), ("empty", ())]
FUELS = (100_000, 300, 40, 7, 1, 0)
TRAP_NAMES = {"INTEGER_DIVISION_BY_ZERO": "integer_divide_by_zero", "UNREACHABLE": "unreachable",
              "OUT_OF_FUEL": "out_of_fuel", "INDIRECT_CALL_TO_NULL": "indirect_call_null",
              "TABLE_OUT_OF_BOUNDS": "table_out_of_bounds",
              "MEMORY_OUT_OF_BOUNDS": "memory_out_of_bounds"}


def _wasmtime_run(wat: str, fuel: int, calls) -> list:
    config = wasmtime.Config()
    config.consume_fuel = True
    config.wasm_multi_memory = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    store.set_fuel(10 ** 9)
    inst = wasmtime.Instance(store, wasmtime.Module(engine, wat), [])
    store.set_fuel(fuel)
    out = []
    for name, args in calls:
        try:
            r = inst.exports(store)[name](store, *args)
            o = ("ok", None if r is None else r & 0xFFFF_FFFF)
        except wasmtime.Trap as t:
            o = ("trap", TRAP_NAMES[t.trap_code.name])
        out.append((o, store.get_fuel()))
    return out


def _our_run(wasm: bytes, isa: str, fuel: int, calls) -> list:
    store = Store(isa)
    store.set_fuel(10 ** 9)
    inst = winst.instantiate(store, compile_module(wasm, isa, fuel=True), {})
    store.set_fuel(fuel)
    out = []
    for name, args in calls:
        r = winst.call(store, inst.exports[name], list(args))
        if isinstance(r, Returned):
            o = ("ok", r.values[0] if r.values else None)
        else:
            assert isinstance(r, Trapped), r
            o = ("trap", r.kind.value)
        out.append((o, store.get_fuel()))
    return out


@pytest.fixture(scope="module")
def reference():
    return {fuel: _wasmtime_run(MODULE, fuel, CALLS) for fuel in FUELS}


@pytest.mark.parametrize("isa", ISAS)
def test_every_rule_matches_wasmtime(isa, reference):
    wasm = wasmtime.wat2wasm(MODULE)
    for fuel in FUELS:
        ours = _our_run(wasm, isa, fuel, CALLS)
        diff = [(c, want, got) for c, want, got in zip(CALLS, reference[fuel], ours)
                if want != got]
        assert not diff, (fuel, diff[:3])
    # the calls do exercise the rules: fuel ran out part way at 300, at once at 0
    assert [o for o, _ in reference[300]].count(("trap", "out_of_fuel")) >= 2
    assert all(o == ("trap", "out_of_fuel") and left == 0 for o, left in reference[0])


def test_off_by_default_and_code_unchanged():
    wasm = wasmtime.wat2wasm(MODULE)
    for isa in ISAS:
        plain = compile_module(wasm, isa)
        assert compile_module(wasm, isa, fuel=False, epoch=False).code == plain.code
        assert not plain.fuel and not plain.epoch
        fueled = compile_module(wasm, isa, fuel=True)
        assert fueled.fuel and fueled.code != plain.code


def test_store_fuel_api():
    wasm = wasmtime.wat2wasm('(module (func (export "f") (result i32) i32.const 1 '
                             'i32.const 2 i32.add))')
    store = Store("x64")
    assert store.get_fuel() == 0  # as wasmtime: no fuel until set
    inst = winst.instantiate(store, compile_module(wasm, "x64", fuel=True), {})
    out = winst.call(store, inst.exports["f"], [])
    assert isinstance(out, Trapped) and out.kind.value == "out_of_fuel"
    store.set_fuel(2)  # the entry check passes (1 spent), the body overspends: reads 0
    assert isinstance(winst.call(store, inst.exports["f"], []), Returned)
    assert store.get_fuel() == 0
    store.set_fuel(2 ** 64 - 1)  # beyond an i64: wasmtime keeps the rest in reserve
    winst.call(store, inst.exports["f"], [])
    assert store.get_fuel() == 2 ** 64 - 1 - 4
    with pytest.raises(ValueError):
        store.set_fuel(-1)
    store.reset()
    assert store.get_fuel() == 0


def test_spec_modules_sample():
    from tests.suite_modules import suite_modules

    picked = [sm for sm in suite_modules() if sm.expect == "valid" and any(
        sm.file.endswith(n) for n in ("/fac.wast", "/loop.wast", "/br_table.wast",
                                      "/call_indirect.wast", "/memory_grow.wast"))]
    assert len(picked) >= 8
    compared = 0
    for sm in picked[:12]:
        for fuel in (150, 20_000):
            r = run_diff(sm.wasm, ["wasmtime", "winch-x64", "winch-aarch64", "winch-s390x"],
                         fuel=fuel, determinism="none")
            assert not r.findings, (sm, fuel, r.findings[0])
            compared += sum(len(run.fuel) for run in r.runs.values())
    assert compared > 100


def test_generated_sample():
    from oracle.gen import generate

    rng = random.Random(5)
    compared = 0
    for _ in range(6):
        wasm = generate(rng.randbytes(4096))
        r = run_diff(wasm, ["wasmtime", "winch-x64", "winch-aarch64", "winch-s390x"],
                     fuel=400, determinism="none")
        assert not r.findings, r.findings[0]
        compared += sum(r.compared.values())
    assert compared > 0


def test_oracle_catches_a_wrong_cost(monkeypatch):
    """A deliberately wrong cost table (nop and drop cost 1) is a `fuel mismatch`."""
    from winch.codegen import fuel as fuel_mod

    wasm = wasmtime.wat2wasm('(module (func (export "f") nop nop i32.const 1 drop))')
    assert not run_diff(wasm, ["wasmtime", "winch-x64"], fuel=1000).findings
    monkeypatch.setattr(fuel_mod, "FREE", frozenset(("block", "loop", "end")))
    r = run_diff(wasm, ["wasmtime", "winch-x64"], fuel=1000)
    assert [f.kind for f in r.findings] == ["fuel mismatch"]
    assert "fuel left" in r.findings[0].detail


def test_winch_run_and_oracle_diff_cli(tmp_path, capsys):
    from oracle.cli import main as oracle_main
    from winch.cli import main as winch_main

    path = tmp_path / "m.wasm"
    path.write_bytes(wasmtime.wat2wasm(
        '(module (func (export "f") (param i32) (result i32) (local i32) '
        '(loop $l local.get 1 i32.const 1 i32.add local.tee 1 local.get 0 i32.lt_u br_if $l) '
        'local.get 1))'))
    assert winch_main(["run", str(path), "--target", "s390x", "--invoke", "f", "3",
                       "--fuel", "100"]) == 0
    # as wasmtime: 100 - (1 on entry + 3 iterations x 7 + 1 for the last local.get) = 77
    assert capsys.readouterr().out.splitlines() == ["3:i32", "fuel remaining: 77"]
    assert winch_main(["run", str(path), "--invoke", "f", "1000", "--fuel", "100"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("trap: out_of_fuel in func 0") and lines[1:] == [
        "fuel remaining: 0"]
    assert oracle_main(["diff", str(path), "--fuel", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fuel"] == 300 and "wasmtime-winch" not in out["engines"]
    left = out["fuel_left"]
    assert left["wasmtime"] == left["winch-x64"] == left["winch-aarch64"] == left["winch-s390x"]
    assert left["wasmtime"][-1] == 0  # the plan's calls ran it out


# operand-dependent costs, each call on a store with just the fuel given: where the charge
# and the check fall (up front or after, checked or not, on success or always)
BULK = """(module (memory 1) (table 10 20 funcref)
 (func (export "fill") (param i32) i32.const 0 i32.const 0 local.get 0 memory.fill)
 (func (export "fill3") (param i32) i32.const 0 i32.const 0 i32.const 3 memory.fill)
 (func (export "fill200") (param i32) i32.const 0 i32.const 0 i32.const 200 memory.fill)
 (func (export "tcopy") (param i32) i32.const 0 i32.const 1 local.get 0 table.copy)
 (func (export "grow") (param i32) local.get 0 memory.grow drop)
 (func (export "grow2") (param i32) i32.const 2 memory.grow drop)
 (func (export "tgrow") (param i32) ref.null func local.get 0 table.grow 0 drop)
 (func (export "size") (result i32) memory.size))"""
BULK_CASES = [("fill", 10), ("fill", 0), ("fill3", 0), ("fill200", 0), ("tcopy", 5),
              ("grow", 5), ("grow", 100000), ("grow", 0), ("grow2", 0), ("tgrow", 5),
              ("tgrow", 100000000)]


def test_operand_costs_match_wasmtime():
    wasm = wasmtime.wat2wasm(BULK)
    config = wasmtime.Config()
    config.consume_fuel = True
    engine = wasmtime.Engine(config)
    module = wasmtime.Module(engine, BULK)
    ours_by_isa = {isa: (Store(isa), compile_module(wasm, isa, fuel=True)) for isa in ISAS}
    seen = set()
    for name, arg in BULK_CASES:
        for fuel in (2, 4, 6, 8, 9, 14, 15, 16, 205, 206):
            store = wasmtime.Store(engine)
            inst = wasmtime.Instance(store, module, [])
            store.set_fuel(fuel)
            try:
                inst.exports(store)[name](store, arg)
                want = "ok"
            except wasmtime.Trap as t:
                want = TRAP_NAMES[t.trap_code.name]
            left = store.get_fuel()
            store.set_fuel(10)
            want = (want, left, inst.exports(store)["size"](store))
            seen.add(want[0])
            for isa in ISAS:
                ours, compiled = ours_by_isa[isa]
                ours.reset()
                i = winst.instantiate(ours, compiled, {})
                ours.set_fuel(fuel)
                r = winst.call(ours, i.exports[name], [arg])
                got = "ok" if isinstance(r, Returned) else r.kind.value
                left = ours.get_fuel()
                ours.set_fuel(10)
                size = winst.call(ours, i.exports["size"], []).values[0]
                assert (got, left, size) == want, (isa, name, arg, fuel)
    assert seen == {"ok", "out_of_fuel"}


def test_start_function_fuel():
    """Instantiation runs the start function with the store's fuel, as wasmtime's (2 to
    enter it, then as any call).  (Constant expressions wasmtime evaluates with fuel, such as
    a `global.get` initializer, are not charged here: the oracle gives fuel after
    instantiation.)"""
    wat = '(module (func $s i32.const 1 drop) (start $s) (func (export "f")))'
    engine = wasmtime.Engine(_fuel_config())
    module = wasmtime.Module(engine, wat)
    wasm = wasmtime.wat2wasm(wat)
    for isa in ISAS:
        compiled = compile_module(wasm, isa, fuel=True)
        for fuel in range(7):
            store = wasmtime.Store(engine)
            store.set_fuel(fuel)
            try:
                wasmtime.Instance(store, module, [])
                want = "ok"
            except wasmtime.Trap:
                want = "trapped"
            ours = Store(isa)
            ours.set_fuel(fuel)
            try:
                winst.instantiate(ours, compiled, {})
                got = "ok"
            except winst.InstantiationTrap:
                got = "trapped"
            assert (got, ours.get_fuel()) == (want, store.get_fuel()), (isa, fuel)


def _fuel_config():
    config = wasmtime.Config()
    config.consume_fuel = True
    return config


# What Cranelift sees as a constant operand decides whether a bulk operation's length is
# charged up front unchecked (a constant <= 128) or after, checked: with the fuel overspent
# (3 given), "ok" means constant, "out_of_fuel" not.  Each case against wasmtime.
CONST_HDR = ('(module (memory 1 2) (global $c i32 (i32.const 5)) (global $m (mut i32) '
             '(i32.const 5)) (func (export "f") (param i32) (local i32 i32) {body}))')
FILL = "i32.const 0 i32.const 0 local.get 2 memory.fill"
CONST_CASES = [
    "i32.const 0 i32.const 0 local.get 1 memory.fill",  # a local never assigned: 0
    "i32.const 0 i32.const 0 local.get 0 memory.fill",  # a parameter
    "i32.const 5 local.set 2 " + FILL,
    "i32.const 5 local.set 2 i32.const 0 i32.const 0 local.get 2 local.tee 1 memory.fill",
    "i32.const 0 i32.const 0 global.get $c memory.fill",
    "i32.const 0 i32.const 0 global.get $m memory.fill",
    "i32.const 0 i32.const 0 i32.const 2 i32.const 3 i32.add memory.fill",
    "(block i32.const 5 local.set 2 i32.const 0 br_if 0) " + FILL,
    "(block i32.const 0 br_if 0 i32.const 5 local.set 2) " + FILL,
    "(block i32.const 5 local.set 2 i32.const 0 br_table 0 0) " + FILL,
    "(block (block i32.const 5 local.set 2 i32.const 0 br_if 1) i32.const 6 local.set 2) "
    + FILL,
    "(loop i32.const 5 local.set 2 i32.const 0 br_if 0) " + FILL,
    "(loop i32.const 0 br_if 0 i32.const 0 i32.const 0 local.get 1 memory.fill)",
    "i32.const 1 (if (then i32.const 5 local.set 2)) " + FILL,
    "i32.const 5 local.set 2 i32.const 0 (if (then i32.const 6 local.set 2) (else " + FILL
    + "))",
    "i32.const 1 (if (then i32.const 5 local.set 2) (else i32.const 5 local.set 2)) " + FILL,
    "i32.const 0 i32.const 0 (block (result i32) i32.const 5 i32.const 0 br_if 0) memory.fill",
    "i32.const 0 i32.const 0 i32.const 5 (block) memory.fill",
    "i32.const 0 i32.const 0 i32.const 1 (if (result i32) (then i32.const 5) (else i32.const 5))"
    " memory.fill",
    "i32.const 5 local.set 2 i32.const 0 (if (then i32.const 6 local.set 2 br 0) (else "
    + FILL + "))",  # an else after a then-arm that cannot fall through
    "(block i32.const 5 local.set 2 br 0) " + FILL,
    "(block i32.const 0 br_if 0 i32.const 5 local.set 2 br 0) " + FILL,
    "i32.const 5 local.set 2 local.get 2 memory.grow drop",  # a failing grow: charged or not
    "global.get $c memory.grow drop",
]


def test_constant_operands_match_wasmtime():
    engine = wasmtime.Engine(_fuel_config())
    stores = {isa: Store(isa) for isa in ISAS}
    seen = set()
    for body in CONST_CASES:
        wat = CONST_HDR.format(body=body)
        fuel = 100 if "grow" in body else 3
        store = wasmtime.Store(engine)
        inst = wasmtime.Instance(store, wasmtime.Module(engine, wat), [])
        store.set_fuel(fuel)
        try:
            inst.exports(store)["f"](store, 5)
            want = "ok"
        except wasmtime.Trap as t:
            want = TRAP_NAMES[t.trap_code.name]
        want = (want, store.get_fuel())
        seen.add(want)
        wasm = wasmtime.wat2wasm(wat)
        for isa in ISAS:
            ours = stores[isa]
            ours.reset()
            i = winst.instantiate(ours, compile_module(wasm, isa, fuel=True), {})
            ours.set_fuel(fuel)
            r = winst.call(ours, i.exports["f"], [5])
            got = "ok" if isinstance(r, Returned) else r.kind.value
            assert (got, ours.get_fuel()) == want, (isa, body)
    assert {w[0] for w in seen} == {"ok", "out_of_fuel"} and len(seen) >= 4


def test_across_instances():
    """Calls between two instances of a store share its fuel (each saves and reloads)."""
    b_wat = ('(module (func (export "g") (param i32) (result i32) local.get 0 i32.const 1 '
             'i32.add) (func (export "t") (result i32) i32.const 1 i32.const 0 i32.div_u))')
    a_wat = ('(module (import "b" "g" (func $g (param i32) (result i32))) (import "b" "t" '
             '(func $t (result i32))) (func (export "f") (result i32) i32.const 5 call $g '
             'call $g) (func (export "ft") (result i32) i32.const 5 drop call $t))')
    engine = wasmtime.Engine(_fuel_config())
    store = wasmtime.Store(engine)
    store.set_fuel(1000)
    linker = wasmtime.Linker(engine)
    linker.define_instance(store, "b", linker.instantiate(store, wasmtime.Module(engine, b_wat)))
    a = linker.instantiate(store, wasmtime.Module(engine, a_wat))
    want = []
    for name in ("f", "ft", "f"):
        try:
            out = a.exports(store)[name](store)
        except wasmtime.Trap:
            out = "trap"
        want.append((out, store.get_fuel()))
    for isa in ISAS:
        ours = Store(isa)
        ours.set_fuel(1000)
        b = winst.instantiate(ours, compile_module(wasmtime.wat2wasm(b_wat), isa, fuel=True), {})
        a2 = winst.instantiate(ours, compile_module(wasmtime.wat2wasm(a_wat), isa, fuel=True),
                               {("b", "g"): b.exports["g"], ("b", "t"): b.exports["t"]})
        got = []
        for name in ("f", "ft", "f"):
            r = winst.call(ours, a2.exports[name], [])
            got.append((r.values[0] if isinstance(r, Returned) else "trap", ours.get_fuel()))
        assert got == want, isa
