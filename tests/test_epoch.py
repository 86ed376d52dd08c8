"""Epoch interruption with wasmtime's semantics (winch/codegen/fuel.py, winch/host/epoch.py):
checks at function entry and loop headers, a deadline of 0 interrupting at the first check,
an engine-wide epoch advanced by the host (from a host function, deterministically, or by a
wall-clock ticker thread while Unicorn runs), on every ISA.  The interrupt latency figures
come from scripts/bench_epoch.py."""

from __future__ import annotations

import pytest
import wasmtime

from oracle.diff import run_diff
from winch.codegen.compile import compile_module
from winch.host import instance as winst
from winch.host.epoch import Epoch, Ticker
from winch.host.store import Returned, Store, Trapped
from winch.traps import TrapKind

ISAS = ("x64", "aarch64", "s390x")

MODULE = """(module (import "env" "tick" (func $tick))
 (func (export "f") (result i32) i32.const 7)
 (func (export "ticks") (param i32) (result i32) (local i32)
   (loop $l
     call $tick
     local.get 1 i32.const 1 i32.add local.set 1
     local.get 1 local.get 0 i32.lt_u br_if $l)
   local.get 1)
 (func (export "inf") (loop $l br $l)))"""


def _ours(isa: str, epoch: Epoch):
    store = Store(isa, epoch=epoch)
    tick = store.host_func((), (), lambda: epoch.increment() and [])
    compiled = compile_module(wasmtime.wat2wasm(MODULE), isa, epoch=True)
    inst = winst.instantiate(store, compiled, {("env", "tick"): tick})
    return store, inst


@pytest.mark.parametrize("isa", ISAS)
def test_deadline_zero_interrupts_at_entry(isa):
    store, inst = _ours(isa, Epoch())
    for _ in range(3):  # deterministic: every call, at its first check (the entry's)
        store.set_epoch_deadline(0)
        r = winst.call(store, inst.exports["f"], [])
        assert isinstance(r, Trapped) and r.kind == TrapKind.interrupt
        assert r.wasm_offset == -1  # the prologue, before any instruction
    store.set_epoch_deadline(1)
    assert winst.call(store, inst.exports["f"], []) == Returned([7])


@pytest.mark.parametrize("isa", ISAS)
def test_loop_header_check_matches_wasmtime(isa):
    """A host function advancing the epoch once per iteration: the interrupt comes at the
    loop header check after `deadline` of them, the same call count as wasmtime's."""
    config = wasmtime.Config()
    config.epoch_interruption = True
    engine = wasmtime.Engine(config)
    wstore = wasmtime.Store(engine)
    calls = []

    def tick():
        calls.append(1)
        engine.increment_epoch()

    winst_ = wasmtime.Instance(wstore, wasmtime.Module(engine, MODULE),
                               [wasmtime.Func(wstore, wasmtime.FuncType([], []), tick)])
    epoch = Epoch()
    store, inst = _ours(isa, epoch)
    for deadline in (1, 3, 10):
        calls.clear()
        wstore.set_epoch_deadline(deadline)
        try:
            want = winst_.exports(wstore)["ticks"](wstore, 100)
        except wasmtime.Trap as t:
            want = t.trap_code.name.lower()
        want = (want, len(calls))
        before = epoch.value
        store.set_epoch_deadline(deadline)
        r = winst.call(store, inst.exports["ticks"], [100])
        got = r.values[0] if isinstance(r, Returned) else r.kind.value
        assert (got, epoch.value - before) == want
    assert want == ("interrupt", 10)


@pytest.mark.parametrize("isa", ISAS)
def test_ticker_interrupts_an_infinite_loop(isa):
    """A wall-clock ticker thread advances the epoch while Unicorn runs the loop: the loop
    header sees it (the epoch page is host memory mapped into the emulator)."""
    epoch = Epoch()
    store, inst = _ours(isa, epoch)
    store.set_epoch_deadline(2)
    with Ticker(epoch, 0.01) as ticker:
        r = winst.call(store, inst.exports["inf"], [])
    assert isinstance(r, Trapped) and r.kind == TrapKind.interrupt
    assert len(ticker.ticks) >= 2 and epoch.value >= 2


def test_default_epoch_is_shared_and_store_reset():
    a, b = Store("x64"), Store("s390x")
    assert a.epoch is b.epoch  # one engine: the default
    a.set_epoch_deadline(5)
    assert a.epoch_deadline == a.epoch.value + 5
    a.reset()
    assert a.epoch_deadline == 0


def test_oracle_diff_epoch_deadline(tmp_path):
    wasm = wasmtime.wat2wasm('(module (func (export "f") (result i32) i32.const 1))')
    engines = ["wasmtime", "winch-x64", "winch-aarch64", "winch-s390x"]
    r = run_diff(wasm, engines, epoch_deadline=0)
    assert not r.findings and r.compared["winch-x64"] > 0
    assert all(str(o).startswith("trap interrupt") for o in r.runs["winch-s390x"].outcomes)
    r = run_diff(wasm, engines, epoch_deadline=5)  # the epoch never advances: no interrupt
    assert not r.findings and all(str(o) == "(i32:1)" for o in r.runs["wasmtime"].outcomes)


def test_oracle_catches_a_missing_check(monkeypatch):
    """Code without its epoch checks (a deliberately broken masm) is an `interrupt mismatch`."""
    from winch.isa.x64.masm import X64Masm

    wasm = wasmtime.wat2wasm('(module (func (export "f") (result i32) i32.const 1))')
    monkeypatch.setattr(X64Masm, "epoch_check", lambda self: None)
    r = run_diff(wasm, ["wasmtime", "winch-x64"], epoch_deadline=0)
    assert [f.kind for f in r.findings] == ["interrupt mismatch"]


def test_winch_run_epoch_cli(tmp_path, capsys):
    from winch.cli import main as winch_main

    path = tmp_path / "m.wasm"
    path.write_bytes(wasmtime.wat2wasm(MODULE.replace(
        '(import "env" "tick" (func $tick))', "").replace("call $tick", "nop")))
    assert winch_main(["run", str(path), "--invoke", "f", "--epoch-deadline", "0"]) == 1
    assert capsys.readouterr().out.startswith("trap: interrupt in func 0")
    assert winch_main(["run", str(path), "--invoke", "f", "--epoch-deadline", "3"]) == 0
    assert capsys.readouterr().out == "7:i32\n"
    assert winch_main(["run", str(path), "--target", "aarch64", "--invoke", "inf",
                       "--epoch-deadline", "1", "--epoch-tick-ms", "5"]) == 1
    assert capsys.readouterr().out.startswith("trap: interrupt in func 2")
