"""The .wast runner: parser, literals, matching, and that it finds real failures."""

from __future__ import annotations

import json
import struct

import pytest

from oracle.cli import main
from oracle.engines import get_engine
from oracle.spectest import script as S
from oracle.spectest.errors import ScriptError
from oracle.spectest.literals import parse_float, parse_int
from oracle.spectest.matching import matches
from oracle.spectest.runner import escape_string_literals, run_script
from oracle.spectest.script import parse_script
from oracle.values import Value

ADD = b"""
(module $m
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "nan") (result f32) (f32.div (f32.const 0) (f32.const 0)))
  (global (export "g") i64 (i64.const -5)))
"""


def run(text: bytes, engine: str = "wasmtime"):
    return run_script(get_engine(engine), parse_script(text, "t.wast"))


def test_int_literals():
    assert parse_int("-1", 32) == 0xFFFF_FFFF
    assert parse_int("0x8000_0000", 32) == 0x8000_0000
    assert parse_int("-0x8000_0000", 32) == 0x8000_0000
    with pytest.raises(ScriptError):
        parse_int("0x1_0000_0000", 32)
    with pytest.raises(ScriptError):
        parse_int("-0x8000_0001", 32)


@pytest.mark.parametrize("text,bits", [
    ("0x1p-149", 1), ("0x1p-150", 0), ("0x1.8p-149", 2), ("-0.0", 0x8000_0000),
    ("nan:0x200000", 0x7FA0_0000), ("-inf", 0xFF80_0000), ("3.4028236e38", 0x7F80_0000),
    # a decimal exactly between two f32 values after rounding to f64 first: must use the
    # exact value (ties-to-even on the true value, not on the double)
    ("1.00000005960464477539062500000000001", 0x3F80_0001),
])
def test_f32_literals_round_once(text, bits):
    assert parse_float(text, "f32") == bits


def test_f64_literals():
    assert parse_float("0.1", "f64") == struct.unpack("<Q", struct.pack("<d", 0.1))[0]
    assert parse_float("0x1p-1074", "f64") == 1
    assert parse_float("nan", "f64") == 0x7FF8_0000_0000_0000


def test_nan_patterns():
    canon = S.NanPattern("f32", "canonical")
    arith = S.NanPattern("f32", "arithmetic")
    assert matches(canon, Value("f32", 0xFFC0_0000))
    assert not matches(canon, Value("f32", 0x7FC0_0001))
    assert matches(arith, Value("f32", 0x7FC0_0001))
    assert not matches(arith, Value("f32", 0x7FA0_0000))  # signalling
    assert not matches(arith, Value("f64", 0x7FF8 << 48))  # wrong type


def test_parses_every_command_form():
    text = b"""
    (module $a binary "\\00asm" "\\01\\00\\00\\00")
    (module definition $d (func))
    (module instance $i $d)
    (register "r" $a)
    (invoke $a "f" (i32.const 1) (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15))
    (get "g")
    (assert_return (invoke "f") (either (i32.const 1) (i32.const 2)) (ref.null func) (ref.extern 3))
    (assert_trap (invoke "f") "unreachable")
    (assert_trap (module (func)) "unreachable")
    (assert_exhaustion (invoke "f") "call stack exhausted")
    (assert_exception (invoke "f"))
    (assert_invalid (module (func (result i32))) "type mismatch")
    (assert_malformed (module quote "(func") "unexpected end")
    (assert_unlinkable (module (import "x" "y" (func))) "unknown import")
    (assert_uninstantiable (module (func)) "x")
    ((@note) module (@x) $ann)
    """
    cmds = parse_script(text).commands
    kinds = [type(c).__name__ for c in cmds]
    assert kinds == ["ModuleCmd", "ModuleCmd", "InstanceCmd", "RegisterCmd", "ActionCmd",
                     "ActionCmd", "AssertReturn", "AssertTrap", "AssertTrap", "AssertExhaustion",
                     "AssertException", "AssertModule", "AssertModule", "AssertModule",
                     "AssertModule", "ModuleCmd"]
    assert cmds[0].module.data == b"\x00asm\x01\x00\x00\x00"
    assert cmds[1].module.definition and cmds[2].definition == "$d"
    assert cmds[4].action.args[1] == Value("v128", int.from_bytes(bytes(range(16)), "little"))
    assert cmds[12].module.kind == "quote"
    assert cmds[15].module.name == "$ann"


def test_bad_script_is_a_script_error():
    with pytest.raises(ScriptError):
        parse_script(b"(module (func)")
    with pytest.raises(ScriptError):
        parse_script(b'(assert_return (invoke "f") (i32.const 0x1_0000_0000))')


def test_escape_string_literals_keeps_comments_and_meaning():
    text = '(module (; "é ;) (func (export "\u202e")) ;; "é\n)'.encode()
    out = escape_string_literals(text)
    assert b'"\\e2\\80\\ae"' in out
    assert '(; "é ;)'.encode() in out and ';; "é'.encode() in out


def test_passing_script_on_wasmtime():
    r = run(ADD + b"""
    (assert_return (invoke "add" (i32.const 1) (i32.const -1)) (i32.const 0))
    (assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
    (assert_trap (invoke "div" (i32.const 0x80000000) (i32.const -1)) "integer overflow")
    (assert_return (invoke "nan") (f32.const nan:canonical))
    (assert_return (get "g") (i64.const -5))
    (register "m" $m)
    (module (import "m" "add" (func (param i32 i32) (result i32))))
    (assert_invalid (module (func (result i32))) "type mismatch")
    (assert_malformed (module binary "\\00asm\\02\\00\\00\\00") "unknown binary version")
    (assert_unlinkable (module (import "m" "nope" (func))) "unknown import")
    """)
    assert (r.passed, r.failed, r.skipped) == (11, 0, 0), r.failures


def test_runner_reports_wrong_results_as_failures():
    r = run(ADD + b"""
    (assert_return (invoke "add" (i32.const 1) (i32.const 1)) (i32.const 3))
    (assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer overflow")
    (assert_return (invoke "nan") (f32.const 0))
    (assert_invalid (module (func)) "should have been invalid")
    (assert_trap (invoke "add" (i32.const 1) (i32.const 1)) "unreachable")
    """)
    assert (r.passed, r.failed) == (1, 5)
    assert [f.line for f in r.failures] == [8, 9, 10, 11, 12]


def test_front_end_engine_is_strict_about_error_kinds():
    # a malformed module (bad version) claimed to be merely invalid must fail on `frontend`
    r = run(b'(assert_invalid (module binary "\\00asm\\02\\00\\00\\00") "x")', "frontend")
    assert r.failed == 1 and "malformed" in r.failures[0].message
    r = run(ADD + b'(assert_return (invoke "add" (i32.const 1) (i32.const 1)) (i32.const 2))',
            "frontend")
    assert (r.passed, r.failed, r.skipped) == (1, 0, 1)
    assert r.skip_reasons == {"not run: front end only": 1}


def test_unsupported_features_are_named_skips(tmp_path):
    path = tmp_path / "tail.wast"
    path.write_bytes(b'(module (func $f (return_call $f)))\n(assert_return (invoke "f"))\n')
    r = run(path.read_bytes(), "frontend")
    assert r.skip_reasons == {"unsupported: tail-call": 2}


def test_cli_exit_codes_and_json(tmp_path, capsys):
    good = tmp_path / "good.wast"
    good.write_bytes(ADD + b'(assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 5))')
    bad = tmp_path / "bad.wast"
    bad.write_bytes(ADD + b'(assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 6))')
    assert main(["spectest", "--engine", "wasmtime", "--json", str(good)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"]["passed"] == 2 and out["total"]["failed"] == 0
    assert main(["spectest", "--engine", "wasmtime", str(good), str(bad)]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["spectest", "--engine", "wasmtime", str(tmp_path / "missing.wast")]) == 2
    broken = tmp_path / "broken.wast"
    broken.write_bytes(b"(module")
    assert main(["spectest", "--engine", "wasmtime", str(broken)]) == 2
    with pytest.raises(SystemExit) as e:
        main(["spectest", str(good)])  # --engine missing
    assert e.value.code == 2
