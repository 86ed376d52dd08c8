"""Debug code (`compile_module(..., debug=True)`), its table, traced runs, and the CLI."""

from __future__ import annotations

import random

import pytest

from tests.wasm_util import wat
from winch.codegen.compile import compile_module
from winch.debuginfo import Step, Write
from winch.host import instance as winst
from winch.host import store as wstore
from winch.host.trace import run_traced
from winch.wasm.instrs import decode_instrs
from winch.wasm.types import F32, I32, I64

ISAS = ["x64", "aarch64", "s390x"]

P1 = 0x1_0000_0002  # an i64 with bits in both halves: a 4-byte read of it would show
X = P1 - 1
F = 0x3FC0_0000  # 1.5f

# function 1 (after one imported function): hand-traced below
MOD = wat("""
(module
  (import "env" "nop" (func $imp))
  (memory 1)
  (func (export "f") (param i32 i64 f32) (result i64) (local i32)
    local.get 0  i32.const 7  i32.add  local.set 3
    local.get 1  i64.const -1  i64.add
    i32.const 8  local.get 2  f32.store
    block  br 0  end
    loop
      local.get 3  i32.const 1  i32.sub  local.tee 3
      i32.const 10  i32.gt_u  br_if 0
    end
    call $g)
  (func $g (param i64) (result i64) local.get 0)
  (func (export "trap") (param i32) (result i32) local.get 0 unreachable)
  (func (export "fill") i32.const 16 i32.const 171 i32.const 2 memory.fill))
""")


def _run(isa, export, args, limit=1_000_000, debug=True):
    c = compile_module(MOD, isa, debug=debug)
    store = wstore.Store(isa)
    inst = winst.instantiate(store, c, {("env", "nop"): store.host_func((), (), lambda: [])})
    steps, writes, events = [], [], []

    def on_step(s):
        steps.append(s)
        events.append(s)

    def on_write(w):
        writes.append(w)
        events.append(w)

    res = run_traced(store, inst, export, args, on_step, on_write, limit=limit)
    return c, store, inst, res, steps, writes, events


def _offsets(c, func_index):
    m = c.module
    body = m.funcs[func_index - m.num_imported_funcs].body
    return [ins.offset for ins in decode_instrs(m.raw, body[0], body[1])]


def _expected(c):
    """The steps of f(5, P1, 1.5), by hand: (instruction position, stack, locals)."""
    i32, i64 = (lambda v: (I32, v)), (lambda v: (I64, v))
    f32 = (F32, F)

    def loc(l3):
        return (i32(5), i64(P1), f32, i32(l3))

    rows = [
        (0, (), loc(0)),                          # local.get 0
        (1, (i32(5),), loc(0)),                   # i32.const 7
        (2, (i32(5), i32(7)), loc(0)),            # i32.add: its operands
        (3, (i32(12),), loc(0)),                  # local.set 3
        (4, (), loc(12)),                         # local.get 1: local 3 set
        (5, (i64(P1),), loc(12)),                 # i64.const -1
        (6, (i64(P1), i64(2**64 - 1)), loc(12)),  # i64.add
        (7, (i64(X),), loc(12)),                  # i32.const 8
        (8, (i64(X), i32(8)), loc(12)),           # local.get 2
        (9, (i64(X), i32(8), f32), loc(12)),      # f32.store
        (10, (i64(X),), loc(12)),                 # block
        (11, (i64(X),), loc(12)),                 # br 0 (its `end`, 12, is not executed)
    ]
    for before, after, taken in ((12, 11, 1), (11, 10, 0)):
        rows += [
            (13, (i64(X),), loc(before)),                        # loop
            (14, (i64(X),), loc(before)),                        # local.get 3
            (15, (i64(X), i32(before)), loc(before)),            # i32.const 1
            (16, (i64(X), i32(before), i32(1)), loc(before)),    # i32.sub
            (17, (i64(X), i32(after)), loc(before)),             # local.tee 3
            (18, (i64(X), i32(after)), loc(after)),              # i32.const 10
            (19, (i64(X), i32(after), i32(10)), loc(after)),     # i32.gt_u
            (20, (i64(X), i32(taken)), loc(after)),              # br_if 0
        ]
    rows += [(21, (i64(X),), loc(10)),   # end (the loop's)
             (22, (i64(X),), loc(10))]   # call $g
    offs = _offsets(c, 1)
    out = [Step(1, offs[k], stack, locals_) for k, stack, locals_ in rows]
    g = _offsets(c, 2)
    out += [Step(2, g[0], (), (i64(X),)),           # callee: local.get 0
            Step(2, g[1], (i64(X),), (i64(X),)),    # its end
            Step(1, offs[23], (i64(X),), loc(10))]  # f's end, the result on the stack
    return out


@pytest.mark.parametrize("isa", ISAS)
def test_traced_steps_are_the_values_by_hand(isa):
    c, _store, _inst, res, steps, writes, events = _run(isa, "f", [5, P1, F])
    assert isinstance(res, wstore.Returned) and res.values == [X]
    assert steps == _expected(c)
    assert writes == [Write(0, 8, 4, F)]
    # the write comes after the f32.store's step, before the next one
    k = events.index(writes[0])
    assert events[k - 1].offset == _offsets(c, 1)[9] and isinstance(events[k + 1], Step)


@pytest.mark.parametrize("isa", ISAS)
def test_observed_normal_code_reads_registers_and_constants(isa):
    # debug="observe": the code is normal code, byte for byte; its table names registers
    # and constants, and the trace reads them: the same values as debug code's, at every
    # boundary but the structural ones (a branch lands past a loop header's boundary)
    c, _store, _inst, res, steps, writes, _events = _run(isa, "f", [5, P1, F], debug="observe")
    normal = compile_module(MOD, isa, jobs=1)
    assert c.code == normal.code and c.traps == normal.traps
    assert c.srcloc_packed == normal.srcloc_packed and c.debug.mode == "observe"
    kinds = {type(o) is tuple and o[0] for b in c.debug.boundaries for _, o in b.stack}
    assert {"reg", "const"} <= kinds  # values in registers and constants were observed
    names = {}
    for k, f in ((1, _offsets(c, 1)), (2, _offsets(c, 2))):
        m = c.module
        body = m.funcs[k - m.num_imported_funcs].body
        for ins in decode_instrs(m.raw, body[0], body[1]):
            names[k, ins.offset] = ins.op.name
    skip = ("loop", "end", "else")
    assert isinstance(res, wstore.Returned) and res.values == [X]
    assert [s for s in steps if names[s.func, s.offset] not in skip] == \
        [s for s in _expected(c) if names[s.func, s.offset] not in skip]
    assert writes == [Write(0, 8, 4, F)]


@pytest.mark.parametrize("isa", ISAS)
def test_trap_bulk_writes_and_step_limit(isa):
    c, *_, res, steps, _w, _e = _run(isa, "trap", [9])
    assert isinstance(res, wstore.Trapped) and res.kind.name == "unreachable"
    offs = _offsets(c, 3)
    assert steps == [Step(3, offs[0], (), ((I32, 9),)),
                     Step(3, offs[1], ((I32, 9),), ((I32, 9),))]
    *_, res, steps, writes, _e = _run(isa, "fill", [])
    assert isinstance(res, wstore.Returned)
    assert writes == [Write(0, 16, 2, 0xABAB)]  # host-made: one per operation
    *_, res, steps, _w, _e = _run(isa, "f", [5, P1, F], limit=5)
    assert isinstance(res, wstore.Exhausted) and len(steps) == 5


@pytest.mark.parametrize("isa", ISAS)
def test_table_covers_every_reachable_instruction(isa):
    c = compile_module(MOD, isa, debug=True)
    info = c.debug
    assert info.fp_reg == {"x64": "rbp", "aarch64": "x29", "s390x": "r11"}[isa]
    codes = [b.code_offset for b in info.boundaries]
    assert codes == sorted(codes)
    for f in (1, 2, 3, 4):
        mine = [b.offset for b in info.boundaries if b.func == f]
        want = _offsets(c, f)
        # every instruction in order, but for the two `end`s only reached by nothing (after
        # `br 0` in f, after `unreachable` in "trap")
        dead = {1: 12, 3: len(want) - 1}.get(f)
        assert mine == [o for k, o in enumerate(want) if k != dead]
    # each instruction's source location is its boundary (explain shows the debug code)
    assert {(b.code_offset, b.offset) for b in info.boundaries} <= set(c.srclocs)


@pytest.mark.parametrize("isa", ISAS)
def test_off_changes_nothing(isa):
    plain = compile_module(MOD, isa)
    off = compile_module(MOD, isa, debug=False)
    assert plain.debug is None and off.code == plain.code and off.srclocs == plain.srclocs
    assert len(compile_module(MOD, isa, debug=True).code) > len(plain.code)


FUEL_MOD = wat("""
(module
  (memory 1)
  (func (export "f") (param i32) (result i32) (local i32)
    local.get 0 if i32.const 1 drop i32.const 2 drop end
    loop i32.const 1 drop local.get 1 i32.const 1 i32.add local.tee 1 i32.const 3 i32.lt_u
      br_if 0 end
    i32.const 0 i32.const 0 local.get 1 memory.fill
    local.get 1))
""")


@pytest.mark.parametrize("isa", ISAS)
def test_debug_code_with_fuel_charges_what_normal_code_does(isa):
    """The then-arm's pending cost is flushed on its own path, not on the false path that
    lands on the `end`'s boundary; a loop's pending cost before its header."""
    left = {}
    for debug in (False, True):
        c = compile_module(FUEL_MOD, isa, fuel=True, debug=debug)
        store = wstore.Store(isa)
        inst = winst.instantiate(store, c, {})
        for arg in (0, 1):
            store.set_fuel(1000)
            assert winst.call(store, inst.exports["f"], [arg]).values == [3]
            left[debug, arg] = store.get_fuel()
    assert left[False, 0] != left[False, 1]  # the two paths cost differently
    assert left[True, 0] == left[False, 0] and left[True, 1] == left[False, 1]
    steps = []
    c = compile_module(FUEL_MOD, isa, epoch=True, debug=True)
    store = wstore.Store(isa)
    store.set_epoch_deadline(10)
    inst = winst.instantiate(store, c, {})
    assert run_traced(store, inst, "f", [0], steps.append).values == [3]
    # local.get if end (the false path), 3 x (loop + 9), the loop's end, 4, local.get, end
    assert len(steps) == 3 + 3 * 10 + 1 + 4 + 1 + 1


@pytest.mark.parametrize("isa", ISAS)
def test_debug_and_normal_code_agree_on_generated_modules(isa):
    from oracle.diff import run_diff
    from oracle.engines import get_engine
    from oracle.gen import generate

    rng = random.Random(23)
    normal, debug = get_engine(f"winch-{isa}"), get_engine(f"winch-{isa}-debug")
    compared = 0
    for _ in range(12):
        r = run_diff(generate(rng.randbytes(4096)), [normal, debug], determinism="none")
        assert not r.findings, r.findings
        compared += sum(r.compared.values())
    assert compared > 12


def test_a_wrong_debug_spill_is_a_finding(monkeypatch):
    """The comparison can fail: debug code whose spilled constants are off by one disagrees
    with normal code (the oracle finds it)."""
    from oracle.diff import run_diff
    from oracle.engines import get_engine
    from winch.codegen import stack

    mod = wat('(module (func (export "f") (result i32) i32.const 40 i32.const 2 i32.add))')
    real = stack.ValueStack.spill_all

    def wrong(self):
        self.items[:] = [(e[0], e[1], e[2] + 1) if e[0] == stack.CONST else e
                         for e in self.items]
        real(self)

    monkeypatch.setattr(stack.ValueStack, "spill_all", wrong)
    r = run_diff(mod, [get_engine("winch-x64"), get_engine("winch-x64-debug")],
                 determinism="none")
    assert r.findings


def test_cli_trace_and_explain_debug(tmp_path, capsys):
    from winch.cli import main

    path = tmp_path / "m.wasm"
    path.write_bytes(wat('(module (memory 1) (func (export "f") (param i32) (result i32) '
                         'i32.const 4 local.get 0 i32.store local.get 0 i32.const 2 i32.add))'))
    assert main(["run", "--target", "s390x", str(path), "--invoke", "f", "40", "--trace",
                 "100"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].endswith("i32.store 2 0 0  4:i32 40:i32")
    assert out[3] == "    write memory 0 [0x4] 4 byte(s): 0x00000028"
    assert out[6].endswith("i32.add  40:i32 2:i32 -> 42:i32")
    assert out[-1] == "42:i32"
    assert main(["run", str(path), "--invoke", "f", "1", "--trace", "2"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[-1].startswith("Exhausted: step limit reached")
    assert main(["run", str(path), "--invoke", "f", "1", "--trace", "9", "--fuel", "9"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 10 and out[-2] == "3:i32" and out[-1].startswith("fuel remaining: ")
    assert main(["explain", "--debug", "--target", "aarch64", str(path)]) == 0
    out = capsys.readouterr().out
    assert ";; locals: i32@[x29+16]" in out and ";; stack: i32@[x29-16] i32@[x29-24]" in out


STRUCTURE = [
    # (body of f(i32 0), the instructions executed, by name, as the interpreter steps them)
    ("block br 0 end nop", "block br nop end"),  # a branch out does not execute `end`
    ("local.get 0 if nop end nop", "local.get if end nop end"),  # false, no else: `end`
    ("local.get 0 if unreachable end nop", "local.get if end nop end"),
    ("local.get 0 if nop else nop end", "local.get if nop end end"),  # no `else` step
    ("i32.const 1 if nop else nop end", "i32.const if nop else end"),  # `else` leaves
    ("block loop local.get 1 i32.const 1 i32.add local.tee 1 i32.const 2 i32.lt_u br_if 0 "
     "end end",  # a branch back re-executes `loop`, not the `block` at the same address
     "block loop local.get i32.const i32.add local.tee i32.const i32.lt_u br_if "
     "loop local.get i32.const i32.add local.tee i32.const i32.lt_u br_if end end end"),
    ("block return end", "block return"),
]


@pytest.mark.parametrize("isa", ISAS)
def test_which_structural_instructions_step(isa):
    for body, want in STRUCTURE:
        w = wat(f'(module (func (export "f") (param i32) (local i32) {body}))')
        c = compile_module(w, isa, debug=True)
        store = wstore.Store(isa)
        inst = winst.instantiate(store, c, {})
        steps = []
        assert isinstance(run_traced(store, inst, "f", [0], steps.append), wstore.Returned)
        m = c.module
        names = {i.offset: i.op.name
                 for i in decode_instrs(m.raw, m.funcs[0].body[0], m.funcs[0].body[1])}
        assert " ".join(names[s.offset] for s in steps) == want, body


def test_an_exception_in_on_step_stops_the_run_and_leaves_the_store_untraced():
    c, store, inst, *_ = _run("x64", "trap", [1])

    class Enough(Exception):
        pass

    def stop(s):
        raise Enough()

    with pytest.raises(Enough):
        run_traced(store, inst, "f", [5, P1, F], stop)
    res = winst.call(store, inst.exports["f"], [5, P1, F])  # untraced, as before
    assert isinstance(res, wstore.Returned) and res.values == [X]
