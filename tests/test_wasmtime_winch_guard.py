"""wasmtime's Winch (50.0.1) kills the process compiling `table.copy`/`table.init` with values
live on its stack, and running a generated mix of other table instructions
(tests/wat/wasmtime_winch_table_crash.wat); the oracle must not hand it such a module (a fuzz
target or a test worker would die)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime

ROOT = Path(__file__).resolve().parent.parent

BODY = ("i64.const 0 local.tee 1 memory.size memory.size global.get 0 "
        "i32.const 0 i32.const 0 i32.const 0 {op} drop drop drop drop")


@pytest.mark.parametrize("op", ["table.copy 0 1", "table.init 1 0"])
def test_wasmtime_winch_is_not_given_a_module_it_crashes_on(tmp_path, op):
    wat = f"""(module
      (table 3 7 funcref) (table 3 7 funcref) (memory 0 0) (global (mut i32) (i32.const 0))
      (elem (table 1) (i32.const 0) func $f)
      (func $f (export "f") (result i32) (local i32 i64) {BODY.format(op=op)} i32.const 1))"""
    path = tmp_path / "m.wasm"
    path.write_bytes(wasmtime.wat2wasm(wat))
    # in a child process: a regression would be a SIGSEGV, which must not kill pytest
    code = ("import sys, json; from oracle.diff import run_diff; "
            "r = run_diff(open(sys.argv[1], 'rb').read(), ['wasmtime', 'wasmtime-winch', "
            "'winch-x64']); print(json.dumps([r.verdict, r.inconclusive, "
            "[f.signature for f in r.findings]]))")
    p = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    import json

    verdict, inconclusive, findings = json.loads(p.stdout.strip().splitlines()[-1])
    assert findings == []
    assert verdict == "agree"  # the reference and winch-x64 compared
    assert any("wasmtime-winch" in r and op.split()[0] in r for r in inconclusive), inconclusive


def test_wasmtime_winch_is_not_given_other_table_instructions(tmp_path):
    wat = (ROOT / "tests" / "wat" / "wasmtime_winch_table_crash.wat").read_text()
    path = tmp_path / "m.wasm"
    path.write_bytes(wasmtime.wat2wasm(wat))
    code = ("import sys, json; from oracle.diff import run_diff; "
            "r = run_diff(open(sys.argv[1], 'rb').read(), ['wasmtime', 'wasmtime-winch']); "
            "print(json.dumps(r.inconclusive))")
    p = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    assert any(r.startswith("wasmtime-winch: unsupported: table.") for r in p.stdout.split('"'))
