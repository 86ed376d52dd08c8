"""scripts/generator_coverage.py: its measurements on a few generated modules."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

from oracle.strategies import SINGLE_INSTRUCTION_OPS
from tests.wasm_util import func_module
from winch.wasm.reader import decode_module

PATH = pathlib.Path(__file__).resolve().parent.parent / "scripts" / "generator_coverage.py"
_spec = importlib.util.spec_from_file_location("generator_coverage", PATH)
gc = sys.modules["generator_coverage"] = importlib.util.module_from_spec(_spec)  # dataclasses
_spec.loader.exec_module(gc)


@pytest.fixture(scope="module")
def report():
    return gc.measure(30, seed=1)


def test_scope_is_derived_from_the_generator():
    scope = gc.in_scope()
    assert set(SINGLE_INSTRUCTION_OPS) <= set(scope)
    assert {"block", "br_table", "call_indirect", "local.tee", "memory.fill"} <= set(scope)
    assert not any(n.startswith(("v128", "i8x16", "table.", "ref.")) for n in scope)


def test_measure_on_30_modules(report):
    assert report.modules == 30
    assert len(report.instrs) == len(report.sizes) == len(report.depths) == 30
    assert 0 < report.opcode_share <= 1
    assert report.seen and set(report.missing) < set(report.scope)
    assert all(n >= 1 for n in report.instrs) and all(b > 8 for b in report.sizes)
    assert max(report.depths) >= 1
    calls = sum(report.outcomes.values())
    assert calls > 0 and report.outcomes["returned"] >= 1
    assert 0 < report.outcomes["returned"] / calls <= 1
    text = gc.format_report(report)
    assert "1. opcodes" in text and "4. outcomes" in text


@pytest.mark.parametrize("body, height", [
    ("i32.const 1 i32.const 2 i32.add drop", 2),
    ("i32.const 1 i32.const 2 block (param i32) (result i32) i32.const 3 i32.const 4 i32.add "
     "i32.add end i32.add drop", 4),
    ("i32.const 1 if i32.const 1 i32.const 2 i32.const 3 drop drop drop end", 3),
    ("i32.const 1 br 0 i32.const 1 i32.const 1 i32.add drop", 1),  # dead code: skipped
    ("i32.const 1 i32.const 1 br 0 block (result i32 i32) i32.const 1 i32.const 1 end "
     "drop drop", 2),  # a block in dead code counts from the enclosing base
])
def test_max_stack_height(body, height):
    m = decode_module(func_module(body))
    instrs = gc.bodies(m)[0]
    assert gc.max_stack_height(m, 0, instrs) == height
