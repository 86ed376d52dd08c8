"""The oracle with several memories: every exported memory compared after every call, of
both index types and page sizes, and a difference found in the memory it is in, by name."""

from __future__ import annotations

from oracle.compare import MemoryState, memory_difference
from oracle.diff import run_diff
from oracle.engines.winch_engine import WinchEngine
from oracle.plan import Call, Plan
from oracle.values import Value
from tests.wasm_util import wat
from winch.host import store as wstore

ENGINES = ["wasmtime", "winch-x64", "winch-aarch64", "winch-s390x"]

MOD = wat("""
(module
  (memory $a (export "m0") 1)
  (memory $b (export "m1") i64 1 2)
  (memory $c (export "m2") 300 (pagesize 1))
  (func (export "f") (param i64 i32)
    (i32.store $a (i32.wrap_i64 (local.get 0)) (local.get 1))
    (memory.fill $b (local.get 0) (local.get 1) (i64.const 16))
    (i64.store $c (i32.wrap_i64 (local.get 0)) (i64.extend_i32_u (local.get 1))))
  (func (export "grow") (result i64) (memory.grow $b (i64.const 1)))
  (func (export "copy") (memory.copy $c $b (i32.const 290) (i64.const 0x10008) (i32.const 10))))
""")

PLAN = Plan([Call("f", (Value("i64", 40), Value("i32", 0x11223344))),
             Call("grow", ()),
             Call("f", (Value("i64", 0x10000), Value("i32", 0x55))),
             Call("copy", ()),
             Call("f", (Value("i64", 292), Value("i32", 7)))])


def test_several_memories_of_both_index_types_and_page_sizes_agree():
    r = run_diff(MOD, ENGINES, PLAN, determinism="none")
    assert r.verdict == "agree", [f.signature for f in r.findings]
    assert all(n == len(PLAN.calls) for n in r.compared.values())
    for run in r.runs.values():  # every exported memory, at its exact size (page size 1)
        assert [s["m2"].size for s in run.states] == [300] * len(PLAN.calls)
        assert [s["m1"].size for s in run.states] == [0x10000] + [0x20000] * 4
        assert set(run.states[0]) == {"m0", "m1", "m2"}


def test_a_planted_difference_in_memory_1_is_found_and_named(monkeypatch):
    real = wstore.Store._b_memory_fill

    def off_by_one(self, base):  # fills one byte too many (into memory 1 only: m1)
        real(self, base)
        inst = self._vm_instance()
        _m, d, _v, n = self._argv(base, "ilil")
        self.mu.mem_write(inst.memories[1].base + d + n, b"\x99")

    monkeypatch.setattr(wstore.Store, "_b_memory_fill", off_by_one)
    # a new engine: its stores are made now and bind the patched builtin
    r = run_diff(MOD, ["wasmtime", WinchEngine("x64")], PLAN, determinism="none")
    assert len(r.findings) == 1
    f = r.findings[0]
    assert (f.kind, f.what, f.where, f.export) == ("wrong value", "memory", "f#0:m1", "f")
    assert f.detail.startswith("memory 'm1': first difference at 0x38: 00")
    assert f.detail.split("first difference at 0x38: ")[1].split(";")[0] == \
        "0000000000000000 vs 9900000000000000"


def test_memory_difference_names_sizes_and_the_first_differing_byte():
    a, b = MemoryState(bytes(100)), MemoryState(bytes(50) + b"\x01" + bytes(49))
    assert memory_difference("m", a, b).startswith(
        "memory 'm': first difference at 0x32: 0000000000000000 vs 0100000000000000")
    grown = MemoryState(bytes(200))
    assert memory_difference("m", a, grown).startswith(
        "memory 'm': 100 bytes vs 200 bytes; equal up to 0x64")
    big = MemoryState(bytes(MemoryState.KEEP_BYTES + 1))
    assert memory_difference("m", a, big).startswith(
        f"memory 'm': 100 bytes vs {MemoryState.KEEP_BYTES + 1} bytes; digest ")


def test_the_reference_has_our_hosts_limits_so_big_memories_are_never_findings():
    """Past what our host maps, both refuse to instantiate (a resource limit: nothing
    compared) and both answer -1 to a grow (an unlimited wasmtime would grow and the -1 of
    ours would look like a wrong value)."""
    big = [f"(memory i64 {wstore.MAX_MEMORY_PAGES + 1})", "(memory i64 0x1_0000_0000_0000)",
           f"(memory {wstore.MAX_MEMORY_BYTES + 1} (pagesize 1))",
           f"(table {wstore.MAX_TABLE + 1} funcref)"]
    for text in big:
        r = run_diff(wat(f"(module {text} (func (export \"f\")))"), ["wasmtime", "winch-x64"])
        assert r.verdict == "nothing compared", text
        assert [x.status for x in r.runs.values()] == ["resource limit"] * 2, text
    grows = ["(memory i64 1) (func (export \"f\") (result i64) "
             f"(memory.grow (i64.const {wstore.MAX_MEMORY_PAGES})))",
             "(memory 1) (func (export \"f\") (result i32) "
             f"(memory.grow (i32.const {wstore.MAX_MEMORY_PAGES})))",
             "(memory 0 (pagesize 1)) (func (export \"f\") (result i32) "
             f"(memory.grow (i32.const {wstore.MAX_MEMORY_BYTES + 1})))",
             "(table 0 funcref) (func (export \"f\") (result i32) "
             f"(table.grow (ref.null func) (i32.const {wstore.MAX_TABLE + 1})))"]
    for text in grows:
        r = run_diff(wat(f"(module {text})"), ["wasmtime", "winch-x64"])
        assert r.verdict == "agree", text
        assert str(r.runs["wasmtime"].outcomes[0]) in ("(i32:-1)", "(i64:-1)"), text


SCRIPT = b"""
(module $a (memory (export "m") i64 1 4) (memory (export "n") 2)
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "peek") (param i64) (result i32) (i32.load8_u (local.get 0))))
(register "a" $a)
(module $b
  (import "a" "n" (memory $n 1))
  (import "a" "m" (memory $m i64 1))
  (func (export "poke") (param i64 i32) (i32.store8 $m (local.get 0) (local.get 1)))
  (func (export "grow") (param i64) (result i64) (memory.grow $m (local.get 0))))
(assert_unlinkable (module (import "a" "m" (memory 1))) "incompatible import type")
(assert_unlinkable (module (import "a" "n" (memory i64 1))) "incompatible import type")
(assert_unlinkable (module (import "spectest" "table64" (table 10 funcref)))
  "incompatible import type")
(assert_return (invoke $b "grow" (i64.const 1)) (i64.const 1))
(assert_return (invoke $a "grow" (i64.const 0)) (i64.const 2))
(assert_return (invoke $b "poke" (i64.const 0x1ffff) (i32.const 7)))
(assert_return (invoke $a "peek" (i64.const 0x1ffff)) (i32.const 7))
(assert_return (invoke $b "grow" (i64.const 3)) (i64.const -1))
(assert_trap (invoke $a "peek" (i64.const 0x20000)) "out of bounds memory access")
(module $c (import "spectest" "table64" (table $t i64 10 funcref))
  (func (export "size_t") (result i64) (table.size $t)))
(assert_return (invoke $c "size_t") (i64.const 10))
"""


def test_spec_scripts_link_memories_of_both_index_types_across_modules():
    """Registered memories imported by another module (grown there, seen by the exporter),
    import type matching by index type, and the spectest host's 64-bit table."""
    from oracle.engines import get_engine
    from oracle.spectest.runner import run_script
    from oracle.spectest.script import parse_script

    for name in ("winch-x64", "winch-aarch64", "winch-s390x"):
        r = run_script(get_engine(name), parse_script(SCRIPT, "inline.wast"))
        assert (r.passed, r.failed, r.skipped) == (14, 0, 0), (name, r.failures, r.skip_reasons)
    r = run_script(get_engine("wasmtime"), parse_script(SCRIPT, "inline.wast"))
    # the reference agrees; wasmtime-py cannot make a spectest.table64 (what uses it: skipped)
    assert (r.passed, r.failed, r.skipped) == (12, 0, 2), (r.failures, r.skip_reasons)


def test_wasmtimes_implementation_limit_on_memories_is_inconclusive():
    """wasmparser refuses more than 100 memories (an implementation limit, not a spec rule):
    not a validation disagreement with our compiler, which takes them."""
    wasm = wat("(module " + "(memory 0)" * 101 + " (func (export \"f\")))")
    r = run_diff(wasm, ["wasmtime", "winch-x64"], determinism="none")
    assert not r.findings and r.verdict == "nothing compared"
    assert r.runs["wasmtime"].status == "unsupported" and r.runs["winch-x64"].status == "ok"


def test_cli_diff_saves_and_replay_reproduces_a_difference_in_memory_1(tmp_path, capsys,
                                                                       monkeypatch):
    import oracle.diff as diff_mod
    from oracle.cli import main
    from oracle.crashfile import write_crash

    real = wstore.Store._b_memory_fill

    def fills_one_more(self, base):
        real(self, base)
        _m, d, _v, n = self._argv(base, "ilil")
        self.mu.mem_write(self._vm_instance().memories[1].base + d + n, b"\x99")

    monkeypatch.setattr(wstore.Store, "_b_memory_fill", fills_one_more)
    monkeypatch.setitem(diff_mod._ENGINES, "winch-x64", WinchEngine("x64"))
    path, crash = tmp_path / "m.wasm", tmp_path / "crash.wasm"
    path.write_bytes(write_crash(MOD, PLAN, ""))  # the module with its plan, no finding
    assert main(["diff", str(path), "--engines", "wasmtime,winch-x64", "--save",
                 str(crash)]) == 1
    out = capsys.readouterr().out
    assert "FINDING wrong value: wrong value|wasmtime~winch-x64|x64|f#0:m1" in out
    assert "memory 'm1': first difference at 0x38" in out
    assert main(["replay", str(crash)]) == 1
    out = capsys.readouterr().out
    assert "REPRODUCES: wrong value|wasmtime~winch-x64|f|memory" in out
