"""Golden `winch explain` listings, one small module per opcode family and ISA.

Re-bless after an intended change to code generation with:
    WINCH_BLESS=1 pytest tests/test_explain_golden.py
and review the diff of tests/golden/explain/ like any other change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.wasm_util import wat
from winch.codegen.compile import compile_module
from winch.explain import explain

GOLDEN = Path(__file__).parent / "golden" / "explain"
BLESS = os.environ.get("WINCH_BLESS") == "1"

FAMILIES = {
    "int_alu": """(func (param i32 i64) (result i64)
        (i64.add (i64.extend_i32_u (i32.mul (i32.xor (local.get 0) (i32.const 7)) (local.get 0)))
                 (i64.and (local.get 1) (i64.const 0x1234567890))))""",
    "shifts": """(func (param i32 i32 i64) (result i32 i64)
        (i32.rotl (i32.shl (local.get 0) (local.get 1)) (i32.const 3))
        (i64.shr_s (local.get 2) (i64.extend_i32_u (local.get 1))))""",
    "divrem": """(func (param i32 i32 i64 i64) (result i32 i32 i64 i64)
        (i32.div_s (local.get 0) (local.get 1)) (i32.rem_u (local.get 0) (local.get 1))
        (i64.div_u (local.get 2) (local.get 3)) (i64.rem_s (local.get 2) (local.get 3)))""",
    "compare": """(func (param i32 i64 f32 f64) (result i32 i32 i32 i32)
        (i32.lt_s (local.get 0) (i32.const 10)) (i64.ge_u (local.get 1) (i64.const 0))
        (f32.eq (local.get 2) (local.get 2)) (f64.le (local.get 3) (f64.const 1.5)))""",
    "bits": """(func (param i32 i64) (result i32 i64 i32)
        (i32.clz (local.get 0)) (i64.popcnt (local.get 1)) (i32.extend8_s (local.get 0)))""",
    "float": """(func (param f32 f64) (result f32 f64 f64)
        (f32.min (local.get 0) (f32.neg (local.get 0)))
        (f64.copysign (f64.sqrt (local.get 1)) (f64.const -1))
        (f64.nearest (f64.max (local.get 1) (f64.const 0))))""",
    "convert": """(func (param f64 i64) (result i32 i64 f32 f64)
        (i32.trunc_f64_s (local.get 0)) (i64.trunc_sat_f64_u (local.get 0))
        (f32.convert_i64_u (local.get 1)) (f64.reinterpret_i64 (local.get 1)))""",
    "memory": """(memory 1) (func (param i32) (result i64)
        (i32.store16 offset=2 (local.get 0) (i32.const 7))
        (i64.load32_s offset=4 (local.get 0)) (drop (memory.grow (i32.const 1))))""",
    "control": """(func (param i32) (result i32) (local i32)
        (block $out
          (loop $l
            (local.set 1 (i32.add (local.get 1) (local.get 0)))
            (br_table $l $out 0 (local.get 0))))
        (if (result i32) (local.get 0) (then (i32.const 1)) (else (local.get 1))))""",
    "calls": """(type $t (func (param i32) (result i32))) (table 1 funcref)
        (func $f (param i32) (result i32) (call $f (local.get 0)))
        (func (param i32) (result i32)
          (call_indirect (type $t) (i32.const 1) (local.get 0)))""",
    "globals_select": """(global $g (mut i64) (i64.const 0))
        (func (param i32 f64 f64) (result f64)
          (global.set $g (i64.add (global.get $g) (i64.const 1)))
          (select (local.get 1) (local.get 2) (local.get 0)))""",
    "tables_refs": """(table $t 4 funcref) (elem declare func 0)
        (func (param i32) (result i32)
          (table.set $t (local.get 0) (ref.func 0))
          (ref.is_null (table.get $t (local.get 0)))
          (drop (table.grow $t (ref.null func) (i32.const 1))))""",
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("isa", ["x64", "aarch64", "s390x"])
def test_explain_golden(family, isa):
    module = wat(f"(module {FAMILIES[family]})")
    text = explain(compile_module(module, isa))
    path = GOLDEN / f"{isa}_{family}.txt"
    if BLESS:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with WINCH_BLESS=1 to create it"
    assert text == path.read_text(), f"explain output for {family} changed (WINCH_BLESS=1 to accept)"
