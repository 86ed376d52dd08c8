"""A NaN's sign is spec-nondeterministic (x86 makes 0/0 negative, Arm and s390x positive);
reinterpreted as an integer it can decide whether a later conversion traps.  That is not a
miscompile: the oracle re-runs with canonical NaNs and calls it inconclusive, for traps as
for values."""

from __future__ import annotations

import pytest
import wasmtime

from oracle.diff import run_diff

WAT = """(module
  (func (export "f") (result i64)
    f32.const 0 f32.const 0 f32.div   ;; a NaN, sign chosen by the hardware
    i32.reinterpret_f32
    f32.convert_i32_s                 ;; -4194304.0 (x86) or 2143289344.0 (Arm, s390x)
    i64.trunc_f32_u))                 ;; traps on the negative one only
"""


@pytest.mark.parametrize("engine", ["winch-aarch64", "winch-s390x"])
def test_trap_decided_by_a_nan_sign_is_inconclusive_not_a_finding(engine):
    r = run_diff(wasmtime.wat2wasm(WAT), ["wasmtime", engine])
    assert r.findings == []
    assert any("NaN" in reason for reason in r.inconclusive), r.inconclusive


def test_a_trap_bug_beside_nans_is_still_found():
    # the same module without the NaN: a trap every engine must agree on stays compared
    wat = WAT.replace("f32.const 0 f32.const 0 f32.div", "f32.const -1")
    r = run_diff(wasmtime.wat2wasm(wat), ["wasmtime", "winch-aarch64", "winch-s390x"])
    assert r.findings == [] and not r.inconclusive
    assert r.compared.get("winch-aarch64") and r.compared.get("winch-s390x")
