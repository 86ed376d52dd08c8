"""The text printer: printed modules parse back (wasmtime's wat2wasm) to the same module."""

from __future__ import annotations

import dataclasses
import struct

import wasmtime

from oracle.watprint import f32_text, f64_text, print_wat, wat_string
from tests.suite_modules import suite_modules
from winch.errors import Unsupported
from winch.wasm import validate
from winch.wasm.encoder import encode_module, func_instrs
from winch.wasm.leb import encode_unsigned
from winch.wasm.reader import decode_module


def _canonical(wasm: bytes) -> bytes:
    """The module re-encoded without what the text format cannot say.

    Left out or normalised: custom sections (names included), empty sections and the data
    count section (the text parser emits what it needs), over-long LEBs inside bodies (the
    bodies are re-encoded from their instructions), the grouping of local declarations
    (`(local i32 i32)` is one group of two), and data segment flags 2 with memory 0 (the
    parser writes `(memory 0)` as flags 0).
    """
    m = decode_module(wasm)
    funcs = []
    for f in m.funcs:
        groups: list[list[int]] = []
        for n, t in f.locals:
            if n == 0:
                continue
            if groups and groups[-1][1] == t:
                groups[-1][0] += n
            else:
                groups.append([n, t])
        funcs.append(dataclasses.replace(f, instrs=func_instrs(m, f),
                                         locals=tuple(tuple(g) for g in groups)))
    datas = tuple(dataclasses.replace(d, flags=0) if d.flags == 2 and d.memory == 0 else d
                  for d in m.datas)
    m = dataclasses.replace(m, funcs=tuple(funcs), datas=datas, customs=(), section_order=(),
                            data_count=None)
    return encode_module(m)


def _decodable(wasm: bytes) -> bool:
    """Whether our reader decodes the module and every body (False: a proposal out of scope)."""
    try:
        m = decode_module(wasm)
        for f in m.funcs:
            func_instrs(m, f)
    except Unsupported:
        return False
    return True


def _round_trips(wasm: bytes) -> tuple[bool, str]:
    text = print_wat(wasm)
    back = bytes(wasmtime.wat2wasm(text))
    return _canonical(back) == _canonical(wasm), text


def test_every_valid_suite_module_round_trips_through_the_text_format():
    modules = [m for m in suite_modules() if m.expect == "valid" and _decodable(m.wasm)]
    assert len(modules) > 2000, len(modules)
    failures = []
    for sm in modules:
        try:
            ok, text = _round_trips(sm.wasm)
        except wasmtime.WasmtimeError as e:
            failures.append((sm, str(e).splitlines()[0]))
            continue
        if not ok:
            failures.append((sm, text[:2000]))
    assert not failures, f"{len(failures)} of {len(modules)} do not round-trip: {failures[:5]}"


# -- a small hand-written module ------------------------------------------------------------------
HAND = """
(module
  (type $v (func))
  (type $ii (func (param i32) (result i32)))
  (type $pair (func (param i32) (result i32 i64)))
  (import "env" "f" (func $imp (type $ii)))
  (import "env" "t" (table 1 2 funcref))
  (import "env" "m" (memory 1))
  (import "env" "g" (global $g (mut i64)))
  (func $main (type $ii) (param $x i32) (result i32) (local f32 f32 f64)
    (drop (block $out (result i32)
      (loop $l
        (br_table $out $out (i32.const 7) (local.get $x)))
      (i32.const 0)))
    (drop (if (result i32) (i32.const 1)
      (then (i32.const 2))
      (else (call $imp (i32.const 3)))))
    (drop (f32.const 3.0))
    (drop (f64.const -0x1p-1074))
    (drop (f32.const nan:0x200000))
    (drop (f64.const -inf))
    (i32.store16 offset=4 align=1 (i32.const 8) (i32.load8_s offset=3 (i32.const 0)))
    (drop (i32.extend8_s (i32.const 255)))
    (drop (i64.trunc_sat_f64_u (f64.const 1e300)))
    (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 1))
    (data.drop 1)
    (table.init 1 (i32.const 0) (i32.const 0) (i32.const 0))
    (elem.drop 0)
    (drop (ref.is_null (ref.null extern)))
    (drop (call_indirect (type $ii) (i32.const 5) (i32.const 0)))
    (drop (select (result i32) (i32.const 1) (i32.const 2) (i32.const 3)))
    (global.set $g (i64.const -9223372036854775808))
    (local.get $x)
    (block (type $pair) (i64.const -1))
    (drop))
  (func $start)
  (table $t2 i64 3 externref)
  (memory $m2 0 1)
  (global $k f32 (f32.const -0.5))
  (export "main" (func $main))
  (export "mem" (memory 0))
  (start $start)
  (elem (i32.const 0) $main $imp)
  (elem func $start)
  (elem declare func $main)
  (data (i32.const 16) "hi\\n\\00\\"\\\\\\ff")
  (data "passive"))
"""


def _hand() -> bytes:
    wasm = bytes(wasmtime.wat2wasm(HAND))
    name = b"we;)ird"
    payload = encode_unsigned(len(name)) + name + b"\x01\x02\x03"
    return wasm + b"\x00" + encode_unsigned(len(payload)) + payload


def test_hand_written_module_golden_lines():
    text = print_wat(_hand())
    lines = [line.strip() for line in text.splitlines()]
    for want in (
        "(type (;2;) (func (param i32) (result i32 i64)))",
        '(import "env" "f" (func (;0;) (type 1) (param i32) (result i32)))',
        '(import "env" "t" (table (;0;) 1 2 funcref))',
        '(import "env" "m" (memory (;0;) 1))',
        '(import "env" "g" (global (;0;) (mut i64)))',
        "(func (;1;) (type 1) (param i32) (result i32)",
        "(local f32 f32 f64)",
        "block (result i32)",
        "br_table 1 1",
        "f32.const 0x1.8p+1",
        "f64.const -0x0.0000000000001p-1022",
        "f32.const nan:0x200000",
        "f64.const -inf",
        "i32.store16 offset=4 align=1",
        "i32.load8_s offset=3",
        "i32.extend8_s",
        "i64.trunc_sat_f64_u",
        "memory.init 0 1",
        "data.drop 1",
        "table.init 0 1",
        "elem.drop 0",
        "ref.null extern",
        "call_indirect 0 (type 1) (param i32) (result i32)",
        "select (result i32)",
        "block (type 2) (param i32) (result i32 i64)",
        "global.set 0",
        "drop)",  # the last instruction closes the function
        "i64.const -9223372036854775808",
        "(func (;2;) (type 0))",
        "(table (;1;) i64 3 externref)",
        "(memory (;1;) 0 1)",
        "(global (;1;) f32 f32.const -0x1p-1)",
        '(export "main" (func 1))',
        '(export "mem" (memory 0))',
        "(start 2)",
        "(elem (;0;) (offset i32.const 0) 1 0)",
        "(elem (;1;) func 2)",
        "(elem (;2;) declare func 1)",
        '(data (;0;) (offset i32.const 16) "hi\\0a\\00\\22\\5c\\ff")',
        '(data (;1;) "passive")',
        '(;@custom "we\\3b\\29ird" 3 bytes;)',
    ):
        assert want in lines, (want, text)
    # indentation follows block depth: the loop sits inside the block, br_table inside both
    raw = text.splitlines()
    i = next(k for k, line in enumerate(raw) if line.strip() == "loop")
    assert raw[i].startswith("      loop") and raw[i + 3].startswith("        br_table")
    assert raw[i + 4] == "      end" and raw[i + 5] == "      i32.const 0"
    assert raw[i + 6] == "    end"


def test_hand_written_module_round_trips():
    validate(_hand())  # a valid module, like the suite's
    ok, text = _round_trips(_hand())
    assert ok, text


def test_float_text_is_exact():
    assert f32_text(struct.unpack("<I", struct.pack("<f", 3.0))[0]) == "0x1.8p+1"
    assert f32_text(0x80000000) == "-0x0p+0"
    assert f32_text(0x7F800000) == "inf"
    assert f32_text(0xFFC00000) == "-nan:0x400000"
    assert f32_text(0x00000001) == "0x0.000002p-126"
    assert f32_text(0x7F7FFFFF) == "0x1.fffffep+127"
    assert f64_text(struct.unpack("<Q", struct.pack("<d", 0.1))[0]) == (0.1).hex()
    assert f64_text(0x7FF0000000000001) == "nan:0x1"
    assert f64_text(0x000FFFFFFFFFFFFF) == "0x0.fffffffffffffp-1022"
    for x in (1.0, -2.5, 1e-310, 5e-324, 1.7976931348623157e308, 123456.789):
        bits = struct.unpack("<Q", struct.pack("<d", x))[0]
        assert float.fromhex(f64_text(bits)) == x


def test_string_escapes():
    assert wat_string(b'a"\\\x00\x7f ~') == '"a\\22\\5c\\00\\7f ~"'
    assert wat_string("é") == '"\\c3\\a9"'
