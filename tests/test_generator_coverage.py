"""scripts/generator_coverage.py: its scope (the compiler's operators), its boundary-pattern
detectors on hand-written modules, and its measurements on a few generated modules."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

from tests.wasm_util import func_module
from winch.codegen.func import HANDLERS
from winch.wasm.reader import decode_module

PATH = pathlib.Path(__file__).resolve().parent.parent / "scripts" / "generator_coverage.py"
_spec = importlib.util.spec_from_file_location("generator_coverage", PATH)
gc = sys.modules["generator_coverage"] = importlib.util.module_from_spec(_spec)  # dataclasses
_spec.loader.exec_module(gc)


def test_scope_is_every_operator_the_compiler_handles():
    scope = gc.in_scope()
    assert set(scope) == set(HANDLERS) and len(scope) == len(HANDLERS)
    # operators the generator has long not emitted are in scope all the same
    assert {"table.get", "table.set", "ref.func", "memory.init", "data.drop",
            "select_t"} <= set(scope)


def test_scope_follows_the_compiler_not_the_generator(monkeypatch):
    # an operator the compiler starts handling joins the scope at once, whether or not the
    # generator can emit it; one it stops handling leaves it
    monkeypatch.setitem(HANDLERS, "v128.load", lambda g, op, imm: None)
    monkeypatch.delitem(HANDLERS, "table.fill")
    scope = gc.in_scope()
    assert "v128.load" in scope and "table.fill" not in scope


MEM = "(memory 1)"
DATA = MEM + ' (data (i32.const 0) "\\01\\02\\03\\04\\05\\06\\07\\08")'
SIGNED_DATA = MEM + ' (data (i32.const 0) "\\00\\80\\00\\80")'
TABLE = "(table 3 funcref)"
M64 = "(memory i64 1)"
MULTI = "(memory 1) (memory 1 3)"
MIXED = "(memory 1) (memory i64 1)"
T64 = "(table i64 3 funcref)"
BYTE_PAGES = "(memory 1) (memory 100 (pagesize 1))"

# pattern -> (module showing it, module not showing it): (body, locals, extra) each
CASES = {
    "mem.end_exact": (("i32.const 65532 i32.load drop", "", MEM),
                      ("i32.const 65528 i32.load drop", "", MEM)),
    "mem.end_plus1": (("i32.const 65530 i32.load16_u offset=5 drop", "", MEM),
                      ("i32.const 65530 i32.load16_u offset=4 drop", "", MEM)),
    "mem.carry32": (("i32.const -4 i64.const 1 i64.store offset=8", "", MEM),
                    ("i32.const 4 i64.const 1 i64.store offset=8", "", MEM)),
    "table.near_size": (("i32.const 3 table.get 0 drop", "", TABLE),
                        ("i32.const 1 table.get 0 drop", "", TABLE)),
    "table.at_size": (("i32.const 1 ref.null func i32.const 3 table.fill 0", "", TABLE),
                      ("i32.const 2 ref.null func i32.const 1 table.fill 0", "", TABLE)),
    "shift.edge": (("i32.const 5 i32.const 33 i32.rotl drop", "", ""),
                   ("i32.const 5 i32.const 7 i32.rotl drop", "", "")),
    "shift.i64_32_63_const": (("i64.const 5 i64.const 40 i64.shl drop", "", ""),
                              ("i64.const 5 i64.const 20 i64.shl drop", "", "")),
    "shift.i64_32_63_nonconst": (
        ("i64.const 40 local.set 0 i64.const 5 local.get 0 i64.shr_u drop", "i64", ""),
        # the same count, but a local written before a block: no longer known after it
        ("i64.const 40 local.set 0 block end i64.const 5 local.get 0 i64.shr_u drop",
         "i64", "")),
    # (inside the block it still is; in a loop it is not: a back edge may change it)
    "shift.i64_32_63_nonconst ": (
        ("i64.const 40 local.set 0 block i64.const 5 local.get 0 i64.shr_u drop end",
         "i64", ""),
        ("i64.const 40 local.set 0 loop i64.const 5 local.get 0 i64.shr_u drop end",
         "i64", "")),
    "sign.8": (("i32.const 0x80 i32.extend8_s drop", "", ""),
               ("i32.const 0x7f i32.extend8_s drop", "", "")),
    "sign.16": (("i32.const 0xffff8000 i32.extend16_s drop", "", ""),
                ("i32.const 0x7fff i32.extend16_s drop", "", "")),
    "sign.32": (("i64.const 0x80000000 i64.extend32_s drop", "", ""),
                ("i64.const 0x7fffffff i64.extend32_s drop", "", "")),
    "sign.64": (("i64.const 0x8000000000000000 i64.eqz drop", "", ""),
                ("i64.const 0x7000000000000000 i64.eqz drop", "", "")),
    "float_to_int.edge": (("f64.const 4294967296.5 i32.trunc_sat_f64_u drop", "", ""),
                          ("f64.const 1000 i32.trunc_sat_f64_u drop", "", "")),
    "fcmp.nan": (("f32.const nan f32.const 1 f32.lt drop", "", ""),
                 ("f32.const 2 f32.const 1 f32.lt drop", "", "")),
    "fminmax.nan": (("f64.const 1 f64.const nan:0x1 f64.min drop", "", ""),
                    ("f64.const 1 f64.const 2 f64.min drop", "", "")),
    "fcmp_minmax.zero": (("f64.const -0 f64.const 1 f64.max drop", "", ""),
                         ("f64.const -1 f64.const 1 f64.max drop", "", "")),
    "int_to_float.tie": (("i64.const 0x8000008000000001 f32.convert_i64_u drop", "", ""),
                         ("i64.const 0x8000000000000001 f64.convert_i64_u drop", "", "")),
    "data.read8": (("i32.const 7 i32.load8_u drop", "", DATA),
                   ("i32.const 8 i32.load8_u drop", "", DATA)),
    "data.read16": (("i32.const 7 i32.load16_s drop", "", DATA),
                    ("i32.const 8 i32.load16_s drop", "", DATA)),
    "data.read32": (("i32.const 2 i64.load32_s drop", "", DATA),
                    ("i32.const 2 i64.load16_s offset=10 drop", "", DATA)),
    "data.read64": (("i32.const 1 i64.load drop", "", DATA),
                    ("i32.const 8 i64.load drop", "", DATA)),
    "data.read_all": (("i32.const 0 i64.load8_s drop i32.const 0 i32.load16_u drop "
                       "i32.const 0 f32.load drop i32.const 0 i32.load drop "
                       "i32.const 0 i64.load drop", "", DATA),
                      ("i32.const 0 i64.load8_s drop i32.const 0 i32.load16_u drop "
                       "i32.const 0 f32.load drop i32.const 0 f64.load drop "
                       "i32.const 0 i64.load drop", "", DATA)),
    "sx_load.sign": (("i32.const 0 i32.load16_s drop", "", SIGNED_DATA),
                     ("i32.const 0 i32.load16_u drop", "", SIGNED_DATA)),
    "br_table.default": (("block block i32.const 5 br_table 0 1 end end", "", ""),
                         ("block block i32.const 0 br_table 0 1 end end", "", "")),
    # issue 20: each memory's own size and index type, 64-bit tables
    "mem64.end_exact": (("i64.const 65532 i32.load drop", "", M64),
                        ("i64.const 65528 i32.load drop", "", M64)),
    "mem64.end_plus1": (("i64.const 65533 i32.load drop", "", M64),
                        ("i64.const 65532 i32.load drop", "", M64)),
    "mem64.offset_2_32": (("i64.const 0 i32.load offset=4294967296 drop", "", M64),
                          ("i64.const 0 i32.load offset=4294967295 drop", "", M64)),
    "mem64.high_bits": (("i64.const 0x100000008 i32.load drop", "", M64),
                        ("i64.const 0x100010000 i32.load drop", "", M64)),
    "mem64.carry64": (("i64.const -16 i32.load offset=24 drop", "", M64),
                      ("i64.const -16 i32.load offset=8 drop", "", M64)),
    "multi.end_exact": (("i32.const 65532 i32.load 1 drop", "", MULTI),
                        ("i32.const 65532 i32.load 0 drop", "", MULTI)),
    "multi.end_plus1": (("i32.const 65533 i32.load 1 drop", "", MULTI),
                        ("i32.const 65532 i32.load 1 drop", "", MULTI)),
    "multi.copy_mixed": (("i32.const 0 i64.const 0 i32.const 1 memory.copy 0 1", "", MIXED),
                         ("i32.const 0 i32.const 0 i32.const 1 memory.copy 0 0", "", MIXED)),
    "multi.grow_nonzero": (("i32.const 1 memory.grow 1 drop", "", MULTI),
                           ("i32.const 1 memory.grow 0 drop", "", MULTI)),
    "multi.after_grow": (("i32.const 1 memory.grow 1 drop i32.const 65536 i32.load 1 drop", "",
                          MULTI),
                         ("i32.const 1 memory.grow 0 drop i32.const 65536 i32.load 1 drop", "",
                          MULTI)),
    "page1.end_plus1": (("i32.const 97 i32.load 1 drop", "", BYTE_PAGES),
                        ("i32.const 96 i32.load 1 drop", "", BYTE_PAGES)),
    "table64.index_2_32": (("i64.const 0x100000001 table.get 0 drop", "", T64),
                           ("i64.const 1 table.get 0 drop", "", T64)),
}


def _patterns(body, locals_, extra) -> set:
    return gc.module_patterns(decode_module(func_module(body, locals_=locals_, extra=extra)))


def test_every_pattern_has_a_case():
    assert {c.strip() for c in CASES} == set(gc.PATTERNS)


@pytest.mark.parametrize("case", sorted(CASES))
def test_pattern_detector(case):
    shows, lacks = CASES[case]
    pattern = case.strip()  # a second case of a pattern: its name and a space
    assert pattern in _patterns(*shows)
    assert pattern not in _patterns(*lacks)


def test_unknown_operands_show_nothing():
    # a parameter, a load, a call result: not statically known
    m = decode_module(func_module("i64.const 40 local.get 0 i64.shl drop "
                                  "i32.const 100 i32.load i32.load drop", params="i64",
                                  extra=DATA))
    found = gc.module_patterns(m)
    assert not {p for p in found if p.startswith(("shift.", "mem.", "data."))}


def test_frames():
    m = decode_module(func_module("i32.const 1 drop", locals_=" ".join(["i64"] * 600)))
    assert gc.frame_bytes(m, 0, 1) == 8 + 8 * 600 + 8 >= gc.FRAME_BIG


@pytest.fixture(scope="module")
def report():
    return gc.measure(20, seed=1, source="bytes", timing_modules=3)


def test_measure_on_20_modules(report):
    assert report.modules == 20 and report.source == "bytes"
    assert len(report.instrs) == len(report.sizes) == len(report.depths) == 20
    assert len(report.frames) == 20 and min(report.frames) >= 8
    assert 0 < report.opcode_share <= 1
    assert report.seen and set(report.missing) < set(report.scope)
    assert set(report.patterns) <= set(gc.PATTERNS)
    assert all(n >= 1 for n in report.instrs) and all(b > 8 for b in report.sizes)
    assert len(report.gen_times["bytes"]) == 20 and len(report.gen_times["hypothesis"]) == 3
    calls = sum(report.outcomes.values())
    assert calls > 0 and report.outcomes["returned"] >= 1
    text = gc.format_report(report)
    assert "1. operators" in text and "2. boundary patterns" in text and "6. outcomes" in text
    js = report.as_json()
    assert js["operators"]["scope"] == len(HANDLERS)
    assert set(js["patterns"]) == set(gc.PATTERNS)


def test_hypothesis_source_without_outcomes():
    rep = gc.measure(5, seed=2, source="hypothesis", outcomes=False, timing_modules=0)
    assert rep.modules == 5 and not rep.outcomes and list(rep.gen_times) == ["hypothesis"]


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


def test_given_inputs_drive_the_byte_source():
    inputs = [b"", b"\x01" * 40, bytes(range(256))]
    rep = gc.measure(10, source="bytes", outcomes=False, timing_modules=0, inputs=inputs)
    assert rep.modules == 3 and rep.source == "bytes (given inputs)"
    again = gc.measure(10, source="bytes", outcomes=False, timing_modules=0, inputs=inputs)
    assert again.sizes == rep.sizes  # the same inputs, the same modules
