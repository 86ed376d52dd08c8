"""The differential oracle: real engines agree; broken doubles give exactly their finding."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from oracle.crashfile import read_crash, write_crash
from oracle.diff import DEFAULT_ENGINES, run_diff
from oracle.engines import get_engine
from oracle.engines.winch_engine import WinchEngine, WinchSession
from oracle.outcomes import Trap, TrapKind, Values
from oracle.plan import Call, Plan
from oracle.values import Value
from tests.wasm_util import wat

MOD = bytes(wat((Path(__file__).parent / "wat" / "oracle_basic.wat").read_text()))
ENGINES = ["wasmtime", "winch-x64", "winch-aarch64", "winch-s390x"]


class Broken(WinchEngine):
    """winch-x64 with one deliberate fault, to check that the oracle names it exactly."""

    def __init__(self, fault):
        super().__init__("x64", 1.0)
        self.fault = fault

    def session(self):
        s = BrokenSession(self.isa, self.budget)
        s.fault = self.fault
        return s


class BrokenSession(WinchSession):
    def compile(self, wasm):
        if self.fault == "crash":
            raise ZeroDivisionError("compiler bug")
        if self.fault == "reject":
            from oracle.engines.base import Rejected

            raise Rejected("invalid", "type mismatch")
        c = super().compile(wasm)
        if self.fault == "nondeterministic":
            self.fault = "nondeterministic-second"
        elif self.fault == "nondeterministic-second":
            return dataclasses.replace(c, code=c.code + b"\x90")
        return c

    def invoke(self, instance, export, args):
        out = super().invoke(instance, export, args)
        f = self.fault
        if f == "value" and export == "add" and isinstance(out, Values):
            return Values((Value("i32", (out.values[0].bits + 1) & 0xFFFF_FFFF),))
        if f == "trap-kind" and isinstance(out, Trap):
            return Trap(TrapKind.integer_overflow)
        if f == "missing-trap" and isinstance(out, Trap):
            return Values((Value("i32", 0),))
        if f == "spurious-trap" and export in ("add", "ok"):
            return Trap(TrapKind.unreachable)
        if f == "sandbox" and export in ("add", "load"):
            from oracle.outcomes import HostError

            return HostError("sandbox violation: read of unmapped memory (pc 0x0)")
        if f in ("memory", "memory-nan") and export in ("poke", "store_nan"):
            mem = instance.exports["mem"]
            self.store.mu.mem_write(mem.base + 100, b"\x01")
        return out

    def instantiate(self, compiled):
        if self.fault == "host-crash":
            raise RuntimeError("host bug while copying data segments")
        return super().instantiate(compiled)

    def get(self, instance, export):
        out = super().get(instance, export)
        if self.fault == "global" and isinstance(out, Values):
            v = out.values[0]
            return Values((Value(v.type, v.bits + 1),))
        return out


PLAN = Plan([Call("add", (Value("i32", 1), Value("i32", 2))),
             Call("div", (Value("i32", 7), Value("i32", 0))),
             Call("nan", (Value("f32", 0),)),
             Call("poke", (Value("i32", 5),))])


def test_real_engines_agree():
    r = run_diff(MOD, ENGINES, PLAN)
    assert r.agree, [f.signature for f in r.findings]
    assert all(run.status == "ok" for run in r.runs.values())


KINDS_DIR = Path(__file__).parent / "wat" / "kinds"


def _kind_module(name: str) -> bytes:
    return bytes(wat((KINDS_DIR / f"{name}.wat").read_text()))


def _i32(v):
    return Value("i32", v & 0xFFFF_FFFF)


# file in tests/wat/kinds -> (fault of the double, plan, finding kind, where)
KIND_CASES = {
    "wrong_value": ("value", [Call("add", (_i32(1), _i32(2)))], "wrong value", "add#0"),
    "wrong_value_memory": ("memory", [Call("poke", (_i32(5),))], "wrong value", "poke#0:mem"),
    "wrong_value_global": ("global", [Call("bump", ())], "wrong value", "bump#0:g"),
    "wrong_trap": ("trap-kind", [Call("div", (_i32(7), _i32(0)))], "wrong trap", "div#0"),
    "missing_trap": ("missing-trap", [Call("boom", ())], "missing trap", "boom#0"),
    "spurious_trap": ("spurious-trap", [Call("ok", ())], "spurious trap", "ok#0"),
    "sandbox_violation": ("sandbox", [Call("load", (_i32(0),))], "sandbox violation",
                          "load#0"),
    "compiler_crash": ("crash", [Call("f", ())], "compiler crash", "compile"),
    "validation_disagreement": ("reject", [Call("f", (_i32(1),))], "validation disagreement",
                                "compile"),
    "nondeterministic_compile": ("nondeterministic", [Call("f", (_i32(3),))],
                                 "nondeterministic compile", "compile"),
    "host_crash": ("host-crash", [Call("f", ())], "host crash", "instantiate"),
}


def test_every_finding_kind_has_a_case():
    from oracle.compare import KINDS

    assert {c[2] for c in KIND_CASES.values()} == set(KINDS)
    assert {p.stem for p in KINDS_DIR.glob("*.wat")} == set(KIND_CASES) | {"nan_through_memory"}


@pytest.mark.parametrize("name", sorted(KIND_CASES))
def test_each_finding_kind(name):
    fault, calls, kind, where = KIND_CASES[name]
    r = run_diff(_kind_module(name), [get_engine("wasmtime", 1.0), Broken(fault)], Plan(calls))
    assert len(r.findings) == 1, r.findings
    f = r.findings[0]
    assert (f.kind, f.where, f.isa) == (kind, where, "x64")
    assert f.signature == f"{kind}|wasmtime~winch-x64|x64|{where}"


@pytest.mark.parametrize("name", sorted(KIND_CASES))
def test_each_kind_module_agrees_on_real_engines(name):
    r = run_diff(_kind_module(name), ENGINES, Plan(KIND_CASES[name][1]))
    assert r.agree, [f.signature for f in r.findings]
    assert all(run.status == "ok" for run in r.runs.values())


def test_nan_bits_through_memory_are_inconclusive_not_findings():
    mod = _kind_module("nan_through_memory")
    plan = Plan([Call("store_nan", (Value("f32", 0),)), Call("bits", ())])
    r = run_diff(mod, ["wasmtime", "winch-aarch64", "winch-s390x"], plan)
    assert r.agree, [f.signature for f in r.findings]
    assert any(k.startswith("NaN sign/payload") for k in r.inconclusive), r.inconclusive
    # the bits really differ between x86 and aarch64 before canonicalization
    raw = {n: run.outcomes[1] for n, run in r.runs.items()}
    assert raw["wasmtime"].values[0].bits != raw["winch-aarch64"].values[0].bits
    # a real wrong value in the same module stays a finding
    r = run_diff(mod, [get_engine("wasmtime", 1.0), Broken("memory-nan")], plan)
    assert [f.signature for f in r.findings] == ["wrong value|wasmtime~winch-x64|x64|store_nan#0:mem"]
    # ... also beside an engine whose difference is the NaN's alone and one that agrees (the
    # canonical re-run takes only the engines with a wrong value, each judged against the
    # reference alone; the one that agreed keeps its comparisons)
    others = ["winch-aarch64"] + (["wasmtime-winch"] if "wasmtime-winch" in DEFAULT_ENGINES
                                  else [])
    r = run_diff(mod, [get_engine("wasmtime", 1.0), *others, Broken("memory-nan")], plan)
    assert [f.signature for f in r.findings] == ["wrong value|wasmtime~winch-x64|x64|store_nan#0:mem"]
    assert all(r.compared[o] == 2 and o not in r.not_compared for o in others), r.compared


def test_nan_canonicalization_keeps_modules_valid_and_makes_nans_canonical():
    from oracle.nan_canon import canonicalize_nans
    from winch.wasm import validate

    canon = canonicalize_nans(_kind_module("nan_through_memory"))
    validate(canon)
    plan = Plan([Call("store_nan", (Value("f32", 0),)), Call("bits", ())])
    for engine in ENGINES:
        r = run_diff(canon, [engine], plan)
        assert r.runs[engine].outcomes[1].values[0].bits == 0x7FC0_0000, engine


def test_nan_results_agree_whatever_the_payload():
    from oracle.compare import values_agree

    assert values_agree(Value("f32", 0x7FC0_0000), Value("f32", 0xFFC0_0001))
    assert not values_agree(Value("f32", 0x7FC0_0000), Value("f32", 0x7F80_0000))
    assert not values_agree(Value("f64", 0), Value("f64", 1 << 63))  # +0 vs -0


def test_crash_file_replays_the_same_signature():
    r = run_diff(MOD, [get_engine("wasmtime", 1.0), Broken("value")], PLAN)
    sig = r.findings[0].signature
    crash = write_crash(MOD, r.plan, sig)
    module, plan, meta = read_crash(crash)
    assert module == MOD and meta["signature"] == sig
    assert [c.export for c in plan.calls] == ["add", "div", "nan", "poke"]
    for _ in range(10):
        again = run_diff(module, [get_engine("wasmtime", 1.0), Broken("value")], plan)
        assert [f.signature for f in again.findings] == [sig]


def test_cli_diff_and_replay(tmp_path, capsys):
    from oracle.cli import main

    path = tmp_path / "m.wasm"
    path.write_bytes(MOD)
    assert main(["diff", str(path), "--engines", "wasmtime,winch-x64"]) == 0
    assert "all engines agree" in capsys.readouterr().out
    crash = tmp_path / "crash.wasm"
    crash.write_bytes(write_crash(MOD, PLAN, "wrong value|wasmtime~winch-x64|x64|add#0",
                                  engines=["wasmtime", "winch-x64"]))
    assert main(["replay", str(crash)]) == 0  # the real engine is right: "fixed"
    assert "no longer reproduces" in capsys.readouterr().out
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"junk")
    assert main(["diff", str(bad)]) == 2


def test_replay_shows_the_code_of_a_wrong_value(tmp_path, capsys, monkeypatch):
    import oracle.diff as diff_mod
    from oracle.cli import main

    crash = tmp_path / "crash.wasm"
    sig = "wrong value|wasmtime~winch-x64|x64|add#0"
    crash.write_bytes(write_crash(MOD, PLAN, sig, engines=["wasmtime", "winch-x64"]))
    # make winch-x64 wrong for the duration of the replay
    monkeypatch.setitem(diff_mod._ENGINES, "winch-x64", Broken("value"))
    assert main(["replay", str(crash)]) == 1
    out = capsys.readouterr().out
    assert "REPRODUCES" in out and "winch explain --target x64 --func 0" in out
    assert "i32.add" in out


def test_compiler_bug_names_function_and_opcode(monkeypatch):
    from winch.codegen import func as F
    from winch.codegen.compile import compile_module

    def broken(g, op, imm):
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(F.HANDLERS, "i32.add", broken)
    with pytest.raises(F.CompilerBug) as e:
        compile_module(MOD, "x64")
    assert "function 0, i32.add at wasm offset" in str(e.value)


def test_a_closed_winch_session_lends_its_store_to_the_next():
    engine = WinchEngine("x64", 1.0)
    first = engine.session()
    store = first.store
    busy = engine.session()
    assert busy.store is not store
    first.close()
    again = engine.session()
    assert again.store is store  # reset, not rebuilt
    assert engine.session().store not in (store, busy.store)


def test_runs_on_reused_stores_agree_with_fresh_ones():
    """The oracle reuses our engines' stores; a run must not see anything of the last."""
    fresh = run_diff(MOD, [WinchEngine("x64", 1.0), WinchEngine("s390x", 1.0)])
    for _ in range(3):
        again = run_diff(MOD, ENGINES)
        assert not again.findings
        for name, other in (("winch-x64", "winch-x64"), ("winch-s390x", "winch-s390x")):
            assert again.runs[name].outcomes == fresh.runs[other].outcomes
            assert again.runs[name].states == fresh.runs[other].states


STATE_MOD = wat("""
(module
  (import "host" "g" (global $imp i64))
  (global $a (export "a") (mut i32) (i32.const -7))
  (memory (export "m") 1 3)
  (global $b (export "b") (mut f32) (f32.const -1.5))
  (global (export "imp") i64 (global.get $imp))
  (global $c (export "c") (mut f64) (f64.const 2.25))
  (global $d (export "d") (mut externref) (ref.null extern))
  (global $e (export "e") (mut i64) (i64.const -2))
  (func (export "f") (param i32)
    (global.set $a (local.get 0)) (global.set $e (i64.extend_i32_s (local.get 0)))
    (i32.store (i32.const 65532) (local.get 0))
    (drop (memory.grow (i32.const 1)))))
""")


@pytest.mark.parametrize("isa", ["x64", "aarch64", "s390x"])
def test_bulk_state_reads_what_get_and_memory_bytes_read(isa):
    """`WinchSession.state` reads the globals in one read and each memory in one: the same
    values, in export order, as the one-by-one default through `get` and `memory_bytes`
    (s390x is big-endian; memory grows between reads; an imported global lives elsewhere)."""
    from oracle.engines.base import Session
    from winch.wasm.types import I64

    s = WinchEngine(isa, 1.0).session()
    s.registered["host"] = {"g": s.store.new_global(I64, False, 0x1234_5678_9ABC)}
    inst = s.instantiate(s.compile(STATE_MOD))
    exports = (("a", False), ("m", True), ("b", False), ("imp", False), ("c", False),
               ("d", False), ("e", False), ("nope", False))
    for arg in (None, 0x8000_0001, 5):
        if arg is not None:
            s.invoke(inst, "f", [Value("i32", arg)])
        bulk, one_by_one = s.state(inst, exports), Session.state(s, inst, exports)
        assert list(bulk) == list(one_by_one) and bulk == one_by_one
    assert bulk["a"] == Value("i32", 5) and bulk["e"] == Value("i64", 5)
    assert bulk["imp"] == Value("i64", 0x1234_5678_9ABC) and len(bulk["m"]) == 3 * 65536
    s.close()


def test_memory_states_compare_bytes_and_show_a_digest():
    from oracle.compare import MemoryState, memory_digest

    a, b = MemoryState(bytes(65536)), MemoryState(bytes(65536))
    c = MemoryState(bytes(65535) + b"\1")
    assert a == b and a != c and hash(a) == hash(b)
    assert str(a) == memory_digest(bytes(65536)) and str(c) != str(a)
    big = bytes(MemoryState.KEEP_BYTES + 1)
    assert MemoryState(big).data is None and MemoryState(big) == MemoryState(big)
    assert MemoryState(big) != MemoryState(big[:-1] + b"\1")


def test_spectest_imports_mix_recorded_host_functions_and_the_spectest_module():
    """A host function the plan defines (recorded) and the rest of `spectest` (memory,
    globals) in one module: every engine links it and records the same calls."""
    mod = wat("""
(module
  (import "spectest" "print_i32" (func $print (param i32)))
  (import "spectest" "global_i32" (global $g i32))
  (import "spectest" "memory" (memory 1))
  (func $start (call $print (global.get $g)))
  (start $start)
  (func (export "f") (param i32) (call $print (i32.add (local.get 0) (i32.load8_u (i32.const 0))))))
""")
    result = run_diff(mod, ENGINES)
    assert not result.findings, [f.signature for f in result.findings]
    for name in ENGINES:
        run = result.runs[name]
        assert run.status == "ok", (name, run.status, run.detail)
        assert run.host_calls[0] == ("spectest", "print_i32", (666,)), (name, run.host_calls)
        assert len(run.host_calls) == 1 + len(result.plan.calls), name


def test_a_function_import_named_like_a_spectest_global_gets_the_recording_host():
    """Every function import gets a recording host function, even under a name `spectest`
    gives to a global: then all engines link it alike."""
    mod = wat('(module (import "spectest" "global_i32" (func $f)) (start $f))')
    result = run_diff(mod, ENGINES)
    assert not result.findings, [f.signature for f in result.findings]
    for name in ENGINES:
        assert result.runs[name].host_calls == [("spectest", "global_i32", ())], name
