"""NaN canonicalization (`compile_module(..., canonicalize_nans=True)`, `oracle diff
--canonicalize-nans`): every float operator that can make a NaN makes the canonical one on
every ISA, wasmtime (Cranelift and its Winch) with `cranelift_nan_canonicalization` agrees bit
for bit, the operators wasmtime leaves alone are left alone, and without the option the code
is byte for byte what it was (the golden listings of tests/test_explain_golden.py).

Golden listings of the canonicalizing sequences: tests/golden/explain/<isa>_nan_canon.txt
(re-bless with WINCH_BLESS=1, as tests/test_explain_golden.py).
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.diff import DEFAULT_ENGINES, run_diff
from oracle.plan import Call, Plan
from oracle.values import Value
from tests.test_explain_golden import FAMILIES, GOLDEN
from tests.wasm_util import wat
from winch.codegen.compile import compile_module
from winch.codegen.nan_canon import CANONICAL_F32, CANONICAL_F64, NAN_OPERATORS
from winch.explain import explain

ISAS = ("x64", "aarch64", "s390x")
BLESS = os.environ.get("WINCH_BLESS") == "1"
ROOT = Path(__file__).resolve().parent.parent
CANON = {"f32": CANONICAL_F32, "f64": CANONICAL_F64}


def f32(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


INF32, INF64 = 0x7F80_0000, 0x7FF0_0000_0000_0000
# NaNs that no engine makes by itself: signalling, negative, with payloads
SNAN32, NNAN32 = 0x7F80_0001, 0xFFC0_0123
SNAN64, NNAN64 = 0x7FF0_0000_0000_0001, 0xFFF8_0000_0000_0123
# per operator (without the type prefix): argument lists whose result is a NaN
NAN_INPUTS = {
    "add": lambda t: [(t.snan, t.one), (t.one, t.nnan), (t.inf, t.inf | t.sign)],
    "sub": lambda t: [(t.inf, t.inf), (t.nnan, t.one), (t.one, t.snan)],
    "mul": lambda t: [(0, t.inf), (t.snan, t.one), (t.one | t.sign, t.nnan)],
    "div": lambda t: [(0, 0), (t.inf, t.inf | t.sign), (t.nnan, t.one), (t.one, t.snan)],
    "min": lambda t: [(t.snan, 0), (0, t.nnan), (t.nnan, t.snan)],
    "max": lambda t: [(t.snan, 0), (0, t.nnan), (t.nnan, t.snan)],
    "sqrt": lambda t: [(t.one | t.sign,), (t.snan,), (t.nnan,)],
    "ceil": lambda t: [(t.snan,), (t.nnan,)],
    "floor": lambda t: [(t.snan,), (t.nnan,)],
    "trunc": lambda t: [(t.snan,), (t.nnan,)],
    "nearest": lambda t: [(t.snan,), (t.nnan,)],
}


class T32:
    name, snan, nnan, inf, one, sign = "f32", SNAN32, NNAN32, INF32, f32(1.0), 1 << 31


class T64:
    name, snan, nnan, inf, one, sign = "f64", SNAN64, NNAN64, INF64, f64(1.0), 1 << 63


def _operator_module() -> tuple[bytes, Plan, dict]:
    """One export per operator of NAN_OPERATORS (its name), plus the operators wasmtime does
    not canonicalize; the plan's calls; and per call the bits every engine must return."""
    funcs, calls, expect = [], [], {}

    def call(export, args, want):
        expect[len(calls)] = want
        calls.append(Call(export, tuple(args)))

    for t in (T32, T64):
        n = t.name
        for op, inputs in NAN_INPUTS.items():
            arity = len(inputs(t)[0])
            params = " ".join([n] * arity)
            gets = " ".join(f"(local.get {i})" for i in range(arity))
            funcs.append(f'(func (export "{n}.{op}") (param {params}) (result {n}) '
                         f'({n}.{op} {gets}))')
            for args in inputs(t):
                call(f"{n}.{op}", [Value(n, a) for a in args], CANON[n])
            # a number stays the number it was (compared with wasmtime's bits)
            call(f"{n}.{op}", [Value(n, t.one)] * arity, None)
    funcs.append('(func (export "f32.demote_f64") (param f64) (result f32) '
                 '(f32.demote_f64 (local.get 0)))')
    funcs.append('(func (export "f64.promote_f32") (param f32) (result f64) '
                 '(f64.promote_f32 (local.get 0)))')
    for a in (SNAN64, NNAN64, 0x7FF8_0000_2000_0000):
        call("f32.demote_f64", [Value("f64", a)], CANONICAL_F32)
    call("f32.demote_f64", [Value("f64", f64(1.5))], None)
    for a in (SNAN32, NNAN32):
        call("f64.promote_f32", [Value("f32", a)], CANONICAL_F64)
    call("f64.promote_f32", [Value("f32", f32(1.5))], None)
    # not canonicalized by wasmtime (sign-bit operations, moves, a callee's result): the
    # input's own NaN bits come back (compared with wasmtime's bits, and checked here)
    funcs.append("""
      (memory 1) (global $g (mut f64) (f64.const 0))
      (func $nan32 (result f32) (f32.reinterpret_i32 (i32.const 0x7f800001)))
      (func (export "call") (result f32) (call $nan32))
      (func (export "neg") (param f32) (result f32) (f32.neg (local.get 0)))
      (func (export "abs") (param f64) (result f64) (f64.abs (local.get 0)))
      (func (export "copysign") (param f32 f32) (result f32)
        (f32.copysign (local.get 0) (local.get 1)))
      (func (export "reinterpret") (param i64) (result f64) (f64.reinterpret_i64 (local.get 0)))
      (func (export "load") (param f32) (result f32)
        (f32.store (i32.const 8) (local.get 0)) (f32.load (i32.const 8)))
      (func (export "global") (param f64) (result f64)
        (global.set $g (local.get 0)) (global.get $g))
      (func (export "select") (param f32 f32 i32) (result f32)
        (select (local.get 0) (local.get 1) (local.get 2)))""")
    call("call", [], SNAN32)
    call("neg", [Value("f32", SNAN32)], SNAN32 | 1 << 31)
    call("abs", [Value("f64", NNAN64)], NNAN64 & ~(1 << 63))
    call("copysign", [Value("f32", SNAN32), Value("f32", 1 << 31)], SNAN32 | 1 << 31)
    call("reinterpret", [Value("i64", SNAN64)], SNAN64)
    call("load", [Value("f32", SNAN32)], SNAN32)
    call("global", [Value("f64", NNAN64)], NNAN64)
    call("select", [Value("f32", SNAN32), Value("f32", 0), Value("i32", 1)], SNAN32)
    return wat("(module " + "\n".join(funcs) + ")"), Plan(calls), expect


MODULE, PLAN, EXPECT = _operator_module()


def test_every_operator_wasmtime_canonicalizes_is_covered():
    names = {c.export for c in PLAN.calls}
    assert set(NAN_OPERATORS) <= names
    assert len(NAN_OPERATORS) == 24  # 11 operators per type, demote, promote


def test_every_nan_result_is_canonical_on_every_engine():
    """Every ISA, and wasmtime with `cranelift_nan_canonicalization` (Cranelift, and its
    Winch on x86-64 hosts), return the canonical NaN from every NaN-producing call, agree bit
    for bit on every call, and leave the operators wasmtime does not canonicalize alone."""
    r = run_diff(MODULE, DEFAULT_ENGINES, PLAN, determinism="all", canonicalize_nans=True)
    assert r.canonicalize_nans and r.verdict == "agree", (r.findings, r.inconclusive)
    assert not r.inconclusive
    for name, run in r.runs.items():
        assert run.status == "ok", (name, run.detail)
        for i, call in enumerate(PLAN.calls):
            want = EXPECT[i]
            got = run.outcomes[i].values[0].bits
            if want is not None:
                assert got == want, (name, call, hex(got), hex(want))
            else:  # a number: the reference's bits, and not a NaN
                assert got == r.runs["wasmtime"].outcomes[i].values[0].bits, (name, call)


def test_without_the_option_nans_differ_and_diff_calls_them_spec_nondeterministic():
    """The test above can fail: without the option the ISAs' NaNs differ (x64's 0/0 is
    negative, aarch64's and s390x's positive; payloads propagate), and `oracle diff` can only
    compare NaN-ness; a NaN stored to memory is a NaN-inconclusive call."""
    bits = {}
    for isa in ISAS:
        r = run_diff(MODULE, [f"winch-{isa}"], PLAN, determinism="none")
        bits[isa] = [o.values[0].bits for o in r.runs[f"winch-{isa}"].outcomes]
    nan_calls = [i for i in EXPECT if EXPECT[i] in (CANONICAL_F32, CANONICAL_F64)]
    assert any(bits["x64"][i] != EXPECT[i] for i in nan_calls)
    assert any(bits["x64"][i] != bits["aarch64"][i] for i in nan_calls)
    stored = wat("""(module (memory (export "m") 1)
      (func (export "f") (param f32 f32) (f32.store (i32.const 0)
        (f32.div (local.get 0) (local.get 1)))))""")
    plan = Plan([Call("f", (Value("f32", 0), Value("f32", 0)))])
    engines = ["wasmtime", "winch-aarch64"]
    off = run_diff(stored, engines, plan, determinism="none")
    assert not off.findings and any(k.startswith("NaN sign/payload") for k in off.inconclusive)
    on = run_diff(stored, engines, plan, determinism="none", canonicalize_nans=True)
    assert on.verdict == "agree" and not on.inconclusive and on.compared["winch-aarch64"] == 1


def test_register_pressure_every_register_canonicalizes():
    """16 NaN-producing results live at once (every allocatable FP register of x64, then
    spills): each canonical, each number kept."""
    n = 16
    params = " ".join(["f64"] * n)
    body = " ".join(f"(f64.add (local.get {i}) (local.get {i}))" for i in range(n))
    mod = wat(f'(module (func (export "f") (param {params}) (result {params}) {body}))')
    args = tuple(Value("f64", SNAN64 if i % 3 else f64(i)) for i in range(n))
    r = run_diff(mod, ["wasmtime"] + [f"winch-{i}" for i in ISAS], Plan([Call("f", args)]),
                 determinism="all", canonicalize_nans=True)
    assert r.verdict == "agree" and not r.inconclusive, (r.findings, r.inconclusive)
    for run in r.runs.values():
        got = [v.bits for v in run.outcomes[0].values]
        assert got == [CANONICAL_F64 if i % 3 else f64(2.0 * i) for i in range(n)], run.name


@pytest.mark.parametrize("isa", ISAS)
def test_off_is_byte_for_byte_the_default(isa):
    """Without the option, the listings are the committed golden ones of
    tests/test_explain_golden.py (float-using families), and `canonicalize_nans=False` is the
    default; with it, only functions with a NaN-producing operator change."""
    for family in ("float", "convert", "compare", "globals_select"):
        module = wat(f"(module {FAMILIES[family]})")
        off = compile_module(module, isa, canonicalize_nans=False)
        assert off.code == compile_module(module, isa).code
        assert explain(off) == (GOLDEN / f"{isa}_{family}.txt").read_text()
    for family in ("int_alu", "control", "calls", "memory", "compare", "globals_select"):
        module = wat(f"(module {FAMILIES[family]})")
        assert compile_module(module, isa, canonicalize_nans=True).code == \
            compile_module(module, isa).code, family


@pytest.mark.parametrize("isa", ISAS)
def test_golden_canonicalizing_sequences(isa):
    module = wat("""(module (func (param f32 f64) (result f32 f64 f64 f32)
        (f32.div (local.get 0) (local.get 0)) (f64.min (local.get 1) (local.get 1))
        (f64.promote_f32 (f32.neg (local.get 0))) (f32.demote_f64 (f64.sqrt (local.get 1)))))""")
    text = explain(compile_module(module, isa, canonicalize_nans=True))
    path = GOLDEN / f"{isa}_nan_canon.txt"
    if BLESS:
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with WINCH_BLESS=1 to create it"
    assert text == path.read_text(), "explain output changed (WINCH_BLESS=1 to accept)"


def test_generated_modules_have_no_nan_inconclusive_calls_with_the_option():
    """Generated modules (the byte-driven generator on random bytes) diffed with the option:
    no call is put down to NaN nondeterminism, and nothing differs."""
    from oracle.gen import generate

    rng = random.Random(21)
    engines = ["wasmtime"] + [f"winch-{i}" for i in ISAS]
    nan_inconclusive = 0
    for _ in range(40):
        wasm = generate(rng.randbytes(4096))
        r = run_diff(wasm, engines, determinism="none", canonicalize_nans=True)
        assert not r.findings, [f.signature for f in r.findings]
        nan_inconclusive += sum(n for k, n in r.inconclusive.items() if k.startswith("NaN"))
    assert nan_inconclusive == 0


def test_winch_cli_flag(tmp_path):
    """`winch run|compile|explain --canonicalize-nans`; `winch run` prints a NaN's sign and
    payload as WAT writes them."""
    path = tmp_path / "m.wasm"
    path.write_bytes(wat('(module (func (export "div") (param f32 f32) (result f32) '
                         '(f32.div (local.get 0) (local.get 1))))'))
    winch = [sys.executable, "-m", "winch.cli"]

    def run(*argv):
        r = subprocess.run(winch + list(argv), capture_output=True, text=True, cwd=ROOT,
                           timeout=120)
        return r.returncode, r.stdout

    assert run("run", "--target", "x64", str(path), "--invoke", "div", "0", "0") == \
        (0, "-nan:f32\n")
    for isa in ISAS:
        assert run("run", "--canonicalize-nans", "--target", isa, str(path), "--invoke", "div",
                   "0", "0") == (0, "nan:f32\n")
    rc, text = run("explain", "--canonicalize-nans", str(path))
    assert rc == 0 and "ucomiss xmm1, xmm1" in text and "jnp" in text
    out = tmp_path / "m.bin"
    rc, _ = run("compile", "--canonicalize-nans", "--target", "s390x", str(path), "-o", str(out))
    assert rc == 0 and b'"canonicalize_nans":true' in out.read_bytes()
    rc, _ = run("compile", "--target", "s390x", str(path), "-o", str(out))
    assert rc == 0 and b"canonicalize_nans" not in out.read_bytes()


def test_oracle_diff_flag_and_replay_keep_the_setting(tmp_path, monkeypatch, capsys):
    """`oracle diff --canonicalize-nans --save` records the setting in the crash file, and
    `oracle replay` runs it the same way: a NaN-payload bug that only exact NaN comparison
    sees reproduces."""
    import oracle.diff as diff_mod
    from oracle.cli import main
    from oracle.crashfile import read_crash
    from oracle.engines import get_engine

    mod = tmp_path / "m.wasm"
    mod.write_bytes(wat('(module (func (export "f") (param f32) (result f32) '
                        '(f32.div (local.get 0) (local.get 0))))'))  # the plan passes 0
    assert main(["diff", "--canonicalize-nans", "--engines", "wasmtime,winch-s390x",
                 str(mod)]) == 0
    assert "NaN canonicalization: on" in capsys.readouterr().out

    class Uncanonical:  # winch-x64 compiled WITHOUT canonicalization: its NaNs differ
        name = "winch-x64"

        def __init__(self):
            self.inner = get_engine("winch-x64")

        def session(self):
            return self.inner.session()

    monkeypatch.setitem(diff_mod._ENGINES, ("winch-x64", True), Uncanonical())
    crash = tmp_path / "crash.wasm"
    rc = main(["diff", "--canonicalize-nans", "--engines", "wasmtime,winch-x64", str(mod),
               "--save", str(crash)])
    assert rc == 1 and read_crash(crash.read_bytes())[2]["canonicalize_nans"] is True
    capsys.readouterr()
    assert main(["replay", str(crash)]) == 1
    out = capsys.readouterr().out
    assert "REPRODUCES" in out and "NaN canonicalization: on" in out
    monkeypatch.delitem(diff_mod._ENGINES, ("winch-x64", True))
    assert main(["replay", str(crash)]) == 0  # the real canonicalizing engine: fixed


def test_differential_target_honours_the_environment_and_records_it(tmp_path, monkeypatch):
    """`$ORACLE_CANONICALIZE_NANS=1`: the target diffs with the option, and a finding's crash
    file says so (replay and reduction then use it)."""
    import fuzz_targets.differential as D
    import oracle.diff
    from oracle.compare import Finding
    from oracle.crashfile import read_crash

    seen = []

    def fake(wasm, engines, plan=None, *, determinism="one", canonicalize_nans=False, **_):
        seen.append(canonicalize_nans)
        r = oracle.diff.DiffResult(list(engines), Plan(), {})
        r.findings.append(Finding("wrong value", ("wasmtime", "winch-x64"), "x64", "f#0"))
        return r

    monkeypatch.setattr(D, "run_diff", fake)
    monkeypatch.setenv("ORACLE_FINDINGS_DIR", str(tmp_path))
    monkeypatch.setenv("ORACLE_FUZZ_KEEP_GOING", "1")
    for on in (False, True):
        monkeypatch.setattr(D, "CANONICALIZE_NANS", on)
        D.check_module(wat(f'(module (func (export "f{int(on)}")))'))
        crash = max(tmp_path.glob("*.wasm"), key=lambda p: p.stat().st_mtime_ns)
        assert read_crash(crash.read_bytes())[2].get("canonicalize_nans", False) is on
        for p in tmp_path.glob("*"):
            p.unlink()
    assert seen == [False, True]


def test_campaign_turns_it_on_for_its_workers_unless_told_not_to(tmp_path, monkeypatch):
    import oracle.campaign.runner as runner
    from oracle.cli import main

    envs = []

    class FakePopen:
        pid = 424242

        def __init__(self, argv, env=None, **kw):
            envs.append(env)

    monkeypatch.setattr(runner.subprocess, "Popen", FakePopen)
    for canon in (True, False):
        r = runner.Runner(runner.Options(out=str(tmp_path / str(canon)),
                                         targets=("differential",), canonicalize_nans=canon),
                          progress=False)
        r._spawn("differential", 1)
        assert envs[-1]["ORACLE_CANONICALIZE_NANS"] == ("1" if canon else "0")
    opts = []
    monkeypatch.setattr(runner.Runner, "run", lambda self: opts.append(self.opts) or 0)
    for argv, want in (([], True), (["--no-canonicalize-nans"], False)):
        assert main(["campaign", "--minutes", "0.1", "--targets", "differential", "--out",
                     str(tmp_path / f"c{want}"), "--quiet"] + argv) == 0
        assert opts[-1].canonicalize_nans is want


def test_reduction_keeps_the_setting(monkeypatch):
    """The reducer's predicate (in process, and the worker's configuration) diffs with the
    setting of the finding's crash file."""
    import oracle.diff
    from oracle.reduce.predicate import IsolatedPredicate, SignaturePredicate

    sig = "wrong value|wasmtime~winch-x64|x64|f32.add#0"
    seen = []

    def fake(wasm, engines, plan=None, *, determinism="one", canonicalize_nans=False, **_):
        seen.append((canonicalize_nans, [e.engine.canonicalize_nans for e in engines]))
        return oracle.diff.DiffResult([e.name for e in engines], plan, {})

    monkeypatch.setattr(oracle.diff, "run_diff", fake)
    for on in (False, True):
        assert SignaturePredicate(sig, canonicalize_nans=on)(MODULE, PLAN) is False
        assert seen[-1] == (on, [on, on])
        assert IsolatedPredicate(sig, canonicalize_nans=on).config["canonicalize_nans"] is on


@pytest.mark.parametrize("isa", ISAS)
def test_parallel_compilation_keeps_the_option(isa):
    """Worker processes compile with the parent's setting: the same bytes as one process."""
    one = compile_module(MODULE, isa, jobs=1, canonicalize_nans=True)
    two = compile_module(MODULE, isa, jobs=2, canonicalize_nans=True)
    assert two.code == one.code and two.canonicalize_nans
    assert one.code != compile_module(MODULE, isa, jobs=1).code


def test_a_canonicalization_bug_is_a_finding_only_with_exact_nans(monkeypatch):
    """A deliberate bug (aarch64 leaves f64 NaNs alone) is a wrong value when NaN bits are
    compared exactly; today's rule (any two NaNs agree) cannot see it."""
    from winch.isa.aarch64.masm import A64Masm
    from winch.wasm.types import F64

    orig = A64Masm.canonicalize_nan

    def buggy(self, t, reg):
        if t != F64:
            orig(self, t, reg)

    monkeypatch.setattr(A64Masm, "canonicalize_nan", buggy)
    mod = wat('(module (func (export "f") (param f64) (result f64) '
              '(f64.add (local.get 0) (f64.const 1))))')
    plan = Plan([Call("f", (Value("f64", SNAN64),))])
    on = run_diff(mod, ["wasmtime", "winch-aarch64"], plan, determinism="none",
                  canonicalize_nans=True)
    assert [f.kind for f in on.findings] == ["wrong value"]
    off = run_diff(mod, ["wasmtime", "winch-aarch64"], plan, determinism="none")
    assert off.verdict == "agree"
