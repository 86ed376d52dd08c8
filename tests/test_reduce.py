"""The reducer: each pass keeps modules valid and makes progress on a hand-written module;
the whole reduction is deterministic; `oracle reduce` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.plan import Call, Plan
from oracle.reduce import NotInteresting, reduce_module
from oracle.reduce import passes as P
from oracle.values import Value
from tests.wasm_util import wat
from winch.errors import WinchError
from winch.wasm import validate
from winch.wasm.encoder import encode_module, func_instrs
from winch.wasm.reader import decode_module

ROOT = Path(__file__).resolve().parent.parent


def _ops(wasm: bytes) -> list:
    m = decode_module(wasm)
    return [i.op.name for f in m.funcs for i in func_instrs(m, f)]


def keeps_div(wasm: bytes, plan: Plan) -> bool:
    """Interesting: valid, exports "f", and still divides."""
    try:
        m = validate(wasm)
    except WinchError:
        return False
    return any(e.name == "f" for e in m.exports) and "i32.div_s" in _ops(wasm) and any(
        c.export == "f" for c in plan.calls)


def _state(text: str, calls=("f",)) -> P.State:
    return P.State(decode_module(bytes(wat(text))), Plan([Call(c, ()) for c in calls]))


def _test(state: P.State) -> bool:
    return keeps_div(encode_module(state.module), state.plan)


MODULE = """
(module
  (type $unused (func (param f64)))
  (memory 1 5)
  (global $g (mut i32) (i32.const 7))
  (data (i32.const 0) "abc")
  (func $helper (result i32) (i32.add (i32.const 1) (i32.const 2)))
  (func (export "f") (result i32) (local i32 i64 f32)
    (block (result i32)
      (drop (i32.add (i32.const 12345) (i32.mul (i32.const 2) (i32.const 3))))
      (nop) (nop)
      (i32.div_s (i32.add (i32.const 100) (i32.const 200)) (i32.const 12345))))
  (func $r (export "r") (result i64 f32) (i64.const 1) (f32.const 2))
  (func (export "d") (call $r) (nop) (drop) (drop))
  (func (export "p") (param i32 f64) (result i32) (local.get 0))
  (func (export "g") (result i32) (call $helper))
  (table 1 funcref)
  (elem (i32.const 0) $helper)
  (func (export "i") (result i32) (call_indirect (result i32) (i32.const 0)))
  (func (export "h") (result i32) (i32.const 0) (return) (drop (i32.const 9)))
  (func (export "c") (result i32) (i32.wrap_i64 (i64.extend_i32_s (i32.clz (i32.const 5))))))
"""


@pytest.mark.parametrize("reducer", P.DEFAULT_PASSES, ids=lambda r: r.name)
def test_each_pass_keeps_validity_and_makes_progress(reducer):
    state = _state(MODULE, calls=("g", "f", "h", "i"))
    assert _test(state)
    out = reducer.run(state, _test)
    wasm = encode_module(out.module)
    validate(wasm)
    assert _test(out)
    before = (P.instruction_count(state.module), len(encode_module(state.module)),
              len(state.plan.calls))
    after = (P.instruction_count(out.module), len(wasm), len(out.plan.calls))
    if isinstance(reducer, P.ShrinkLimits):  # the same bytes, smaller numbers
        assert out.module.mems[0].limits.max < state.module.mems[0].limits.max
    else:
        assert after < before or (after[0] <= before[0] and after[1] < before[1]), (before,
                                                                                    after)


SEPARATED = """
(module
  (memory 1)
  (func (export "f") (result i32) (local i32)
    i32.const 0
    i32.const 0
    i32.const 7
    i32.const 3
    i32.div_s
    local.set 0
    i32.const 0
    memory.fill
    local.get 0))
"""


def test_operand_trees_see_operands_separated_by_a_statement():
    """memory.fill's first two operands sit before an unrelated statement; its tree is
    them, its third operand and itself, and removing it leaves the statement intact."""
    from oracle.reduce.stack_types import stack_before
    from oracle.reduce.trees import RemoveTrees, operand_trees

    state = _state(SEPARATED)
    body = list(func_instrs(state.module, state.module.funcs[0]))
    trees = operand_trees(state.module, 0, body, stack_before(state.module, 0, body))
    assert trees[7] == {0, 1, 6, 7}  # memory.fill
    assert trees[5] == {2, 3, 4, 5}  # local.set of the quotient
    out = RemoveTrees().run(state, _test)
    validate(encode_module(out.module))
    assert _ops(encode_module(out.module)) == ["i32.const", "i32.const", "i32.div_s",
                                               "local.set", "local.get", "end"]


def test_blocks_with_parameters_unwrap():
    state = _state("""
    (module (func (export "f") (result i32)
      i32.const 5
      i32.const 1
      loop (param i32 i32) (result i32) i32.div_s end))""")
    out = P.UnwrapBlocks().run(state, _test)
    assert _ops(encode_module(out.module)) == ["i32.const", "i32.const", "i32.div_s", "end"]


def test_fixpoint_reaches_a_tiny_module_deterministically():
    state = _state(MODULE, calls=("g", "f", "h"))
    wasm = encode_module(state.module)
    a = reduce_module(wasm, state.plan, keeps_div, max_seconds=60)
    b = reduce_module(wasm, state.plan, keeps_div, max_seconds=60)
    assert a.wasm == b.wasm and a.plan.calls == b.plan.calls
    assert a.instrs_after <= 3 < a.instrs_before  # i32.const, i32.const, i32.div_s
    assert [c.export for c in a.plan.calls] == ["f"]
    assert not a.timed_out


def test_uninteresting_input_and_trivial_predicate_are_refused():
    state = _state(MODULE)
    wasm = encode_module(state.module)
    with pytest.raises(NotInteresting, match="not interesting"):
        reduce_module(wasm, state.plan, lambda w, p: False)
    with pytest.raises(NotInteresting, match="empty module"):
        reduce_module(wasm, state.plan, lambda w, p: True)


def test_time_budget_returns_the_best_so_far():
    import time

    state = _state(MODULE, calls=("g", "f", "h"))

    def slow(wasm, plan):
        time.sleep(0.02)
        return keeps_div(wasm, plan)

    r = reduce_module(encode_module(state.module), state.plan, slow, max_seconds=0.3)
    assert r.timed_out and keeps_div(r.wasm, r.plan)


def test_oracle_reduce_cli_on_a_real_finding(tmp_path, monkeypatch, capsys):
    """A wrong value of a broken engine double, reduced through the CLI, keeps its
    signature; min.wat is written."""
    import oracle.diff as diff_mod
    from oracle.cli import main
    from oracle.crashfile import read_crash, write_crash
    from oracle.diff import run_diff
    from tests.test_oracle_diff import Broken

    mod = bytes(wat((ROOT / "tests" / "wat" / "oracle_basic.wat").read_text()))
    plan = Plan([Call("add", (Value("i32", 1), Value("i32", 2))), Call("poke", (Value("i32", 5),))])
    monkeypatch.setitem(diff_mod._ENGINES, "winch-x64", Broken("value"))
    r = run_diff(mod, ["wasmtime", "winch-x64"], plan)
    sig = r.findings[0].signature
    crash = tmp_path / "crash.wasm"
    crash.write_bytes(write_crash(mod, plan, sig))
    out = tmp_path / "min.wasm"
    assert main(["reduce", str(crash), "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["instructions_after"] < summary["instructions_before"]
    module, plan2, meta = read_crash(out.read_bytes())
    assert meta["signature"] == sig
    assert [f.signature for f in run_diff(module, ["wasmtime", "winch-x64"], plan2).findings] \
        == [sig]
    assert (tmp_path / "min.wat").read_text().startswith("(module")


def test_oracle_reduce_with_a_command_predicate(tmp_path):
    """wasm-reduce style: an external command, exit 0 = interesting."""
    state = _state(MODULE, calls=("g", "f", "h"))
    src = tmp_path / "in.wasm"
    from oracle.crashfile import write_crash

    src.write_bytes(write_crash(encode_module(state.module), state.plan, ""))
    script = tmp_path / "pred.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\n" % str(ROOT)
        + "from oracle.crashfile import read_crash\nfrom tests.test_reduce import keeps_div\n"
        "m, plan, _ = read_crash(open(sys.argv[1], 'rb').read())\n"
        "sys.exit(0 if keeps_div(m, plan) else 1)\n")
    out = tmp_path / "out.wasm"
    r = subprocess.run([sys.executable, "-m", "oracle.cli", "reduce", str(src), "-o", str(out),
                        "--command", f"{sys.executable} {script}", "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["instructions_after"] <= 3
