"""The reducer on slow programs (issue 15 §4): it drops the calls that do not show the finding
and the calls that run out of budget before anything else, `--max-seconds` bounds the whole
command even inside one long predicate call, and it says so (exit 3) when it could not reduce.

A call that loops 2^63 times runs out of fuel in ~0.1 s on wasmtime but takes seconds on each
of our emulated engines: a reducer that runs it on every candidate is what these guard."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from oracle.crashfile import write_crash
from oracle.diff import run_diff
from oracle.mutants import applied
from oracle.plan import Call, Plan
from oracle.reduce import reduce_module
from oracle.reduce.predicate import SignaturePredicate
from oracle.values import Value
from tests.wasm_util import wat

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ["wasmtime", "winch-x64"]

SPIN = """
  (func (export "spin") (param i64) (result i64) (local i64)
    (loop $l
      (local.set 1 (i64.add (local.get 1) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get 1) (local.get 0))))
    (local.get 1))"""

MODULE = """
(module
  (func (export "plain") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "calc") (param i32 i32) (result i32)
    (i32.mul (i32.sub (local.get 0) (local.get 1)) (i32.const 3)))""" + SPIN + ")"

SPIN_FOREVER = Call("spin", (Value("i64", (1 << 64) - 1),))
# (a call that runs out of budget ends the comparison: the finding comes before them)
PLAN = Plan([Call("plain", (Value("i32", 1),)), Call("calc", (Value("i32", 5), Value("i32", 2))),
             SPIN_FOREVER, Call("plain", (Value("i32", 2),)), SPIN_FOREVER])


class Recording(SignaturePredicate):
    """The finding's predicate, remembering every plan it ran."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.plans = []

    def __call__(self, wasm, plan):
        self.plans.append([c.export for c in plan.calls])
        return super().__call__(wasm, plan)


def _finding(wasm: bytes, plan: Plan):
    with applied("sub-is-add"):
        found = run_diff(wasm, ENGINES, plan, determinism="none").findings
    assert [f.where for f in found] == ["calc#1"]
    return found[0]


def test_calls_not_showing_the_finding_and_out_of_budget_calls_go_first():
    wasm = bytes(wat(MODULE))
    finding = _finding(wasm, PLAN)
    # the exact signature names the call: it alone is tried first, and is enough
    pred = Recording.for_finding(finding)
    with applied("sub-is-add"):
        r = reduce_module(wasm, PLAN, pred, max_seconds=120)
    assert pred.plans[0] == ["calc"]
    assert [c.export for c in r.plan.calls] == ["calc"] and r.reduced
    assert not any("spin" in p for p in pred.plans)
    # a signature whose call index no longer fits the plan (call 0 is not "calc"): the
    # calls that run out of fuel on the reference engine are dropped before any other test
    stale = finding.signature.replace("calc#1", "calc#0")
    pred = Recording(stale, identity=finding.identity)
    t0 = time.monotonic()
    with applied("sub-is-add"):
        r = reduce_module(wasm, PLAN, pred, max_seconds=120)
    assert pred.plans[0] == ["plain", "calc", "plain"]
    assert not any("spin" in p for p in pred.plans)
    assert [c.export for c in r.plan.calls] == ["calc"] and r.instrs_after < r.instrs_before
    assert time.monotonic() - t0 < 60  # one spin on winch-x64 alone takes seconds


def _reduce_cli(tmp_path, wasm: bytes, plan: Plan, signature: str, *flags):
    crash = tmp_path / "crash.wasm"
    crash.write_bytes(write_crash(wasm, plan, signature))
    out = tmp_path / "min.wasm"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "oracle.cli", "reduce", str(crash), "-o", str(out),
                        "--quiet", *flags], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return r, time.monotonic() - t0, out


def test_max_seconds_is_a_hard_bound_inside_a_long_predicate_call(tmp_path):
    """Every call of the plan loops until its work bound (~7 s each on winch-x64): the first
    predicate call alone would take 20 s; the command ends soon after --max-seconds 5 and says
    it could not reduce (exit 3, one line)."""
    wasm = bytes(wat("(module" + SPIN + ")"))
    plan = Plan([SPIN_FOREVER] * 3)
    sig = "wrong value|wasmtime~winch-x64|x64|spin#0"
    r, seconds, out = _reduce_cli(tmp_path, wasm, plan, sig, "--max-seconds", "5")
    assert r.returncode == 3, r.stderr
    assert seconds < 5 + 5, seconds  # interpreter start-up, imports and the kill included
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not reduce" in lines[0] and "time bound" in lines[0], lines
    assert not out.exists()


def test_exit_3_when_nothing_smaller_shows_the_finding(tmp_path):
    wasm = bytes(wat('(module (func (export "f") (result i32) '
                     '(i32.sub (i32.const 5) (i32.const 2))))'))
    plan = Plan([Call("f", ())])
    finding = _finding_of(wasm, plan)
    r, _, out = _reduce_cli(tmp_path, wasm, plan, finding.signature, "--mutant", "sub-is-add")
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not reduce: no candidate smaller" in lines[0], lines
    assert not out.exists()


def _finding_of(wasm, plan):
    with applied("sub-is-add"):
        return run_diff(wasm, ENGINES, plan, determinism="none").findings[0]


def test_bad_command_is_bad_input(tmp_path):
    wasm = bytes(wat('(module (func (export "f")))'))
    r, _, _ = _reduce_cli(tmp_path, wasm, Plan([Call("f", ())]), "", "--command", "/nonexistent")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "oracle reduce: --command: /nonexistent: no such command"]


def test_backstop_stops_pure_python_work_and_reduce_returns_the_best_so_far():
    """The CLI's SIGALRM backstop interrupts a pass that computes between predicate calls;
    the reducer ends as at its own deadline, with the best candidate so far."""
    from oracle.reduce.base import Reducer
    from oracle.reduce.passes import DropCalls
    from oracle.reduce_cli import _backstop

    class Stuck(Reducer):
        name = "stuck"

        def run(self, state, test):
            while True:
                pass

    wasm = bytes(wat('(module (func (export "f") (result i32) (i32.sub (i32.const 5) '
                     '(i32.const 2))) (func (export "g")))'))
    plan = Plan([Call("g", ()), Call("f", ())])
    keep_f = lambda w, p: any(c.export == "f" for c in p.calls) and b"\x6b" in w  # i32.sub
    cancel = _backstop(1.0)
    t0 = time.monotonic()
    try:
        r = reduce_module(wasm, plan, keep_f, max_seconds=600, passes=(DropCalls(), Stuck()))
    finally:
        cancel()
    assert time.monotonic() - t0 < 10
    assert r.timed_out and r.reduced and [c.export for c in r.plan.calls] == ["f"]
