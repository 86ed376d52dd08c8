"""The reference interpreter (oracle/interp, engine `interp`): the spec's tricky corners, traced
steps, and a few spec scripts."""

from __future__ import annotations

import os
import struct

import pytest

from oracle.engines import get_engine
from oracle.engines.base import Rejected
from oracle.interp.numeric import int_to_f32
from oracle.outcomes import Trap, TrapKind, Values
from oracle.spectest.runner import run_script
from oracle.spectest.script import parse_script
from oracle.values import Value
from tests.suite_modules import SUITE
from tests.wasm_util import func_module, wat
from winch.debuginfo import Step, Write
from winch.wasm.types import I32, I64

T = TrapKind


def f32(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def run(wasm: bytes, *args, export="f"):
    s = get_engine("interp").session()
    inst = s.instantiate(s.compile(wasm))
    return s.invoke(inst, export, list(args))


def binop(op: str, t: str, a: int, b: int, rt: str | None = None):
    m = func_module(f"({op} (local.get 0) (local.get 1))", f"{t} {t}", rt or t)
    out = run(m, Value(t, a), Value(t, b))
    return out.values[0].bits if isinstance(out, Values) else out.kind


def unop(op: str, t: str, a: int, rt: str):
    out = run(func_module(f"({op} (local.get 0))", t, rt), Value(t, a))
    return out.values[0].bits if isinstance(out, Values) else out.kind


M32, M64 = (1 << 32) - 1, (1 << 64) - 1


def test_division_traps_and_signs():
    assert binop("i32.div_s", "i32", 7, 0) == T.integer_divide_by_zero
    assert binop("i32.rem_u", "i32", 7, 0) == T.integer_divide_by_zero
    assert binop("i32.div_s", "i32", 0x8000_0000, M32) == T.integer_overflow
    assert binop("i32.rem_s", "i32", 0x8000_0000, M32) == 0  # no trap for rem
    assert binop("i64.div_s", "i64", 1 << 63, M64) == T.integer_overflow
    assert binop("i32.div_s", "i32", -7 & M32, 2) == -3 & M32  # truncates toward zero
    assert binop("i32.rem_s", "i32", -7 & M32, 2) == M32  # sign of the dividend
    assert binop("i32.rem_s", "i32", 7, -2 & M32) == 1
    assert binop("i64.div_u", "i64", M64, 2) == M64 >> 1
    assert binop("i64.rem_s", "i64", -7 & M64, -2 & M64) == M64


def test_trunc_traps_and_saturation():
    assert unop("i32.trunc_f32_s", "f32", 0x7FC0_0000, "i32") == T.invalid_conversion_to_integer
    assert unop("i32.trunc_f32_s", "f32", f32(2.0 ** 31), "i32") == T.integer_overflow
    assert unop("i32.trunc_f32_s", "f32", f32(-2.0 ** 31), "i32") == 0x8000_0000
    assert unop("i32.trunc_f64_s", "f64", f64(-2147483648.9), "i32") == 0x8000_0000
    assert unop("i32.trunc_f64_s", "f64", f64(-2147483649.0), "i32") == T.integer_overflow
    assert unop("i32.trunc_f64_u", "f64", f64(-0.9), "i32") == 0
    assert unop("i32.trunc_f64_u", "f64", f64(-1.0), "i32") == T.integer_overflow
    assert unop("i64.trunc_f64_s", "f64", f64(-2.0 ** 63), "i64") == 1 << 63
    assert unop("i64.trunc_f64_s", "f64", f64(2.0 ** 63), "i64") == T.integer_overflow
    assert unop("i64.trunc_f64_u", "f64", f64(2.0 ** 64), "i64") == T.integer_overflow
    assert unop("i32.trunc_sat_f32_s", "f32", 0x7FC0_0000, "i32") == 0
    assert unop("i32.trunc_sat_f32_s", "f32", f32(-1e10), "i32") == 0x8000_0000
    assert unop("i32.trunc_sat_f32_u", "f32", f32(1e10), "i32") == M32
    assert unop("i32.trunc_sat_f32_u", "f32", f32(-5.0), "i32") == 0
    assert unop("i64.trunc_sat_f64_s", "f64", f64(float("inf")), "i64") == (1 << 63) - 1
    assert unop("i64.trunc_sat_f64_u", "f64", f64(float("-inf")), "i64") == 0


def test_shift_and_rotate_counts_are_masked():
    assert binop("i32.shl", "i32", 1, 33) == 2
    assert binop("i32.shr_s", "i32", 0x8000_0000, 31 + 32) == M32
    assert binop("i32.shr_u", "i32", 0x8000_0000, 31 + 64) == 1
    assert binop("i32.rotl", "i32", 0x8000_0001, 36) == 0x18
    assert binop("i64.rotr", "i64", 1, 65) == 1 << 63
    assert binop("i64.shl", "i64", 1, 64 + 63) == 1 << 63
    assert unop("i32.clz", "i32", 0, "i32") == 32 and unop("i64.ctz", "i64", 0, "i64") == 64


def test_float_min_max_nearest_copysign():
    neg0, pos0 = 0x8000_0000, 0
    assert binop("f32.min", "f32", neg0, pos0) == neg0
    assert binop("f32.min", "f32", pos0, neg0) == neg0
    assert binop("f32.max", "f32", neg0, pos0) == pos0
    assert binop("f64.max", "f64", 1 << 63, 0) == 0
    assert binop("f32.min", "f32", 0x7FA0_0001, f32(1.0)) == 0x7FC0_0000  # canonical NaN
    assert binop("f64.max", "f64", f64(1.0), 0xFFF0_0000_0000_0001) == 0x7FF8_0000_0000_0000
    assert unop("f32.nearest", "f32", f32(2.5), "f32") == f32(2.0)  # ties to even
    assert unop("f32.nearest", "f32", f32(3.5), "f32") == f32(4.0)
    assert unop("f64.nearest", "f64", f64(-0.5), "f64") == 1 << 63  # keeps the sign of zero
    assert unop("f64.ceil", "f64", f64(-0.5), "f64") == 1 << 63
    # bit operations keep NaN payloads
    assert binop("f32.copysign", "f32", 0x7FA0_0001, f32(-1.0)) == 0xFFA0_0001
    assert unop("f64.abs", "f64", 0xFFF0_0000_0000_0001, "f64") == 0x7FF0_0000_0000_0001
    assert unop("f32.neg", "f32", 0x7F80_0001, "f32") == 0xFF80_0001
    assert binop("f64.div", "f64", f64(-1.0), 0, "f64") == f64(float("-inf"))
    assert binop("f64.div", "f64", 0, 0, "f64") == 0x7FF8_0000_0000_0000


def test_float_rounding_is_single():
    assert binop("f32.add", "f32", f32(16777216.0), f32(1.0)) == f32(16777216.0)
    assert binop("f32.mul", "f32", f32(3.4e38), f32(10.0)) == 0x7F80_0000  # overflow: inf
    # i64 -> f32 just above a halfway point: a double in between would round to even twice
    n = (1 << 53) + (1 << 29) + 1
    assert int_to_f32(n) == 0x5A00_0001
    assert unop("f32.convert_i64_u", "i64", n, "f32") == 0x5A00_0001
    assert unop("f32.convert_i64_s", "i64", -n & M64, "f32") == 0xDA00_0001
    assert unop("f32.demote_f64", "f64", f64(1e300), "f32") == 0x7F80_0000


def test_memory64_bounds_have_no_carry():
    m = wat("""(module (memory i64 1)
      (func (export "ld") (param i64) (result i32) (i32.load offset=1 (local.get 0)))
      (func (export "ld0") (param i64) (result i32) (i32.load (local.get 0)))
      (func (export "st") (param i64) (i64.store offset=0xfffffffffffffff0 (local.get 0)
                                                  (i64.const -1))))""")
    s = get_engine("interp").session()
    inst = s.instantiate(s.compile(m))
    assert s.invoke(inst, "ld", [Value("i64", M64)]).kind == T.memory_out_of_bounds
    assert s.invoke(inst, "ld", [Value("i64", 65531)]) == Values((Value("i32", 0),))
    assert s.invoke(inst, "ld", [Value("i64", 65532)]).kind == T.memory_out_of_bounds
    assert s.invoke(inst, "ld0", [Value("i64", 1 << 63)]).kind == T.memory_out_of_bounds
    assert s.invoke(inst, "st", [Value("i64", 0x20)]).kind == T.memory_out_of_bounds
    assert not any(bytes(inst.mems[0].data))


def test_bulk_memory_overlap_and_bounds():
    m = wat("""(module (memory (export "m") 1) (data (i32.const 0) "abcdefgh")
      (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1)
                                                             (local.get 2)))
      (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1)
                                                             (local.get 2))))""")
    s = get_engine("interp").session()
    inst = s.instantiate(s.compile(m))
    i32 = lambda v: Value("i32", v)  # noqa: E731
    s.invoke(inst, "copy", [i32(2), i32(0), i32(6)])  # forward overlap: memmove
    assert s.memory_bytes(inst, "m")[:8] == b"ababcdef"
    s.invoke(inst, "copy", [i32(0), i32(2), i32(6)])  # backward overlap
    assert s.memory_bytes(inst, "m")[:8] == b"abcdefef"
    out = s.invoke(inst, "fill", [i32(65530), i32(0x41), i32(7)])
    assert out.kind == T.memory_out_of_bounds
    assert s.memory_bytes(inst, "m")[65530:] == bytes(6)  # nothing written before the trap
    assert s.invoke(inst, "fill", [i32(65536), i32(0x41), i32(0)]) == Values(())


def test_table_operations():
    m = wat("""(module (table $t 2 4 funcref) (type $v (func (result i32)))
      (func $one (result i32) (i32.const 1)) (func $two (param i32) (result i32) (local.get 0))
      (elem (table $t) (i32.const 0) func $one $two)
      (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
      (func (export "size") (result i32) (table.size $t))
      (func (export "ci") (param i32) (result i32) (call_indirect $t (type $v) (local.get 0)))
      (func (export "copy") (param i32 i32 i32) (table.copy $t $t (local.get 0) (local.get 1)
                                                            (local.get 2)))
      (func (export "get") (param i32) (result i32) (ref.is_null (table.get $t (local.get 0)))))""")
    s = get_engine("interp").session()
    inst = s.instantiate(s.compile(m))
    i32 = lambda v: Value("i32", v)  # noqa: E731
    res = lambda v: Values((Value("i32", v & M32),))  # noqa: E731
    assert s.invoke(inst, "ci", [i32(0)]) == res(1)
    assert s.invoke(inst, "ci", [i32(1)]).kind == T.indirect_call_type_mismatch
    assert s.invoke(inst, "ci", [i32(2)]).kind == T.table_out_of_bounds
    assert s.invoke(inst, "grow", [i32(1)]) == res(2)
    assert s.invoke(inst, "ci", [i32(2)]).kind == T.indirect_call_null
    assert s.invoke(inst, "grow", [i32(2)]) == res(-1)  # past the maximum
    assert s.invoke(inst, "size", []) == res(3)
    s.invoke(inst, "copy", [i32(1), i32(0), i32(2)])  # overlapping: [one, one, two]
    assert s.invoke(inst, "ci", [i32(1)]) == res(1)
    assert s.invoke(inst, "get", [i32(2)]) == res(0)
    assert s.invoke(inst, "copy", [i32(2), i32(0), i32(2)]).kind == T.table_out_of_bounds
    assert s.invoke(inst, "get", [i32(3)]).kind == T.table_out_of_bounds


def test_unsupported_and_invalid_modules():
    s = get_engine("interp").session()
    with pytest.raises(Rejected) as e:
        s.compile(func_module("(drop (i32x4.splat (i32.const 1)))"))
    assert e.value.kind == "unsupported" and e.value.feature == "simd"
    s.compile(func_module("(return) (drop (i32x4.splat (i32.const 1)))"))  # dead code
    with pytest.raises(Rejected) as e:
        s.compile(b"\0asm\1\0\0\0\1\4\1\x60\0")
    assert e.value.kind == "malformed"


def test_call_stack_exhaustion_is_a_trap():
    out = run(wat("(module (func $f (export \"f\") (call $f)))"))
    assert isinstance(out, Trap) and out.kind == T.call_stack_exhausted


def test_traced_steps_of_a_small_function():
    m = wat("""(module (memory 1)
      (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "f") (param i32) (result i32) (local i64)
        (i32.store (i32.const 8) (call $inc (local.get 0)))
        (block (br_if 0 (local.get 0)) (nop))
        (local.get 0)))""")
    s = get_engine("interp").session()
    inst = s.instantiate(s.compile(m))
    steps, writes = [], []
    out = s.invoke_traced(inst, "f", [Value("i32", 5)], steps.append, writes.append)
    assert out == Values((Value("i32", 5),))
    body = m.index(bytes([0x41, 0x08]))  # the first instruction of f: i32.const 8
    loc = ((I32, 5), (I64, 0))
    inc = m.index(bytes([0x20, 0x00, 0x41, 0x01, 0x6A]))
    assert [(st.func, st.offset - body if st.func == 1 else st.offset - inc) for st in steps] == [
        (1, 0), (1, 2), (1, 4),  # i32.const 8, local.get 0, call
        (0, 0), (0, 2), (0, 4), (0, 5),  # local.get, i32.const, i32.add, end
        (1, 6), (1, 9), (1, 11), (1, 13),  # i32.store, block, local.get, br_if (taken)
        (1, 17), (1, 19)]  # local.get 0, end (nop and the block's end: skipped by the br)
    assert steps[0] == Step(1, body, (), loc)
    assert steps[3] == Step(0, inc, (), ((I32, 5),))
    assert steps[6] == Step(0, inc + 5, ((I32, 6),), ((I32, 5),))
    assert steps[7] == Step(1, body + 6, ((I32, 8), (I32, 6)), loc)
    assert steps[10].stack == ((I32, 5),)
    assert steps[-1] == Step(1, body + 19, ((I32, 5),), loc)
    assert writes == [Write(0, 8, 4, 6)]
    limited = s.invoke_traced(inst, "f", [Value("i32", 5)], lambda st: None, limit=5)
    assert type(limited).__name__ == "Exhausted"


SPEC_FILES = ("i64.wast", "f64.wast", "conversions.wast", "memory_trap64.wast",
              "address64.wast", "bulk.wast", "call_indirect.wast", "table_copy.wast",
              "memory_grow64.wast", "br_table.wast", "float_misc.wast")


def test_spec_scripts_pass_on_interp():
    paths = [os.path.join(SUITE, f) for f in SPEC_FILES]
    if not all(os.path.exists(p) for p in paths):
        pytest.skip(f"spec test suite not found at {os.path.normpath(SUITE)}")
    engine = get_engine("interp")
    for path in paths:
        with open(path, "rb") as f:
            r = run_script(engine, parse_script(f.read(), path))
        assert r.failed == 0, (path, r.failures[:3])
        assert r.passed > 0
        assert all(why.startswith("unsupported: ") for why in r.skip_reasons), r.skip_reasons


def test_traced_runs_agree_with_plain_runs_on_generated_modules():
    """On generated modules, every call gives the same outcome traced and plain, and replaying
    the traced Writes onto the memories before the call gives the memories after it."""
    import random

    from oracle.diff import define_deterministic_imports
    from oracle.gen import generate
    from oracle.plan import default_plan
    from winch.wasm.reader import decode_module

    def instance(m, wasm):
        s = get_engine("interp").session()
        define_deterministic_imports(s, m)
        return s, s.instantiate(s.compile(wasm))

    rng = random.Random(23)
    steps_seen = writes_seen = 0
    for _ in range(30):
        wasm = generate(rng.randbytes(rng.choice([256, 1024, 4096])))
        m = decode_module(wasm)
        (a, ia), (b, ib) = instance(m, wasm), instance(m, wasm)
        for call in default_plan(m).calls:
            before = [bytearray(mem.data) for mem in ib.mems]
            steps, writes = [], []
            plain = a.invoke(ia, call.export, list(call.args))
            traced = b.invoke_traced(ib, call.export, list(call.args), steps.append,
                                     writes.append, limit=10**7)
            assert plain == traced, (call, plain, traced)
            for k, mem in enumerate(ib.mems):
                before[k].extend(bytes(len(mem.data) - len(before[k])))  # grown: zeros
            for w in writes:
                before[w.mem][w.addr:w.addr + w.size] = w.value.to_bytes(w.size, "little")
            assert [bytes(x) for x in before] == [bytes(mem.data) for mem in ib.mems]
            assert [bytes(mem.data) for mem in ia.mems] == [bytes(mem.data) for mem in ib.mems]
            assert all(isinstance(st, Step) for st in steps)
            steps_seen += len(steps)
            writes_seen += len(writes)
    assert steps_seen > 1000 and writes_seen > 10


def test_resource_limits_are_the_winch_hosts():
    from oracle.interp import runtime
    from winch.host import store

    assert (runtime.MAX_MEMORY_BYTES, runtime.MAX_TABLE, runtime.MAX_MEMORIES) == \
        (store.MAX_MEMORY_BYTES, store.MAX_TABLE, store.MAX_MEMORIES)
    grow = wat("""(module (memory 1) (table 1 funcref)
      (func (export "m") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "t") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))""")
    s = get_engine("interp").session()
    inst = s.instantiate(s.compile(grow))
    assert s.invoke(inst, "m", [Value("i32", store.MAX_MEMORY_PAGES)]) == \
        Values((Value("i32", M32),))  # one page past 1 GiB: -1
    assert s.invoke(inst, "t", [Value("i32", store.MAX_TABLE)]) == Values((Value("i32", M32),))
    with pytest.raises(Exception) as e:
        s.instantiate(s.compile(wat("(module (memory 16385))")))
    assert type(e.value).__name__ == "ResourceLimited"


def test_a_call_past_its_budget_is_exhausted_not_a_trap():
    s = get_engine("interp", 0.05).session()
    inst = s.instantiate(s.compile(wat('(module (func (export "f") (loop (br 0))))')))
    out = s.invoke(inst, "f", [])
    assert type(out).__name__ == "Exhausted" and "time budget" in out.reason
