"""The generator (`oracle.strategies`): its API, validity of what it makes, and property tests
that drive `oracle diff` over generated modules on every engine."""

from __future__ import annotations

import inspect
import re

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import oracle.strategies as S
from oracle.diff import DEFAULT_ENGINES, run_diff
from winch.wasm import validate
from winch.wasm.encoder import func_instrs

SETTINGS = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))
WASMTIME = wasmtime.Engine()


def test_all_is_the_documented_public_api():
    public = {n for n, v in vars(S).items() if not n.startswith("_")
              and (inspect.isfunction(v) or inspect.isclass(v))
              and getattr(v, "__module__", "") == S.__name__}
    assert set(S.__all__) >= public
    for name in S.__all__:
        obj = getattr(S, name)
        if callable(obj):
            assert obj.__doc__ and len(obj.__doc__) > 30, name


def test_arguments_are_validated_up_front():
    with pytest.raises(InvalidArgument):
        S.wasm_modules(config=3)
    with pytest.raises(InvalidArgument):
        S.Config(families=frozenset({"nope"}))
    with pytest.raises(InvalidArgument):
        S.Config(max_funcs=0)
    with pytest.raises(InvalidArgument):
        S.single_instruction_modules(["i32.bogus"])
    with pytest.raises(InvalidArgument):
        S.configs(max_funcs=0)


def _check_valid(wasm: bytes):
    m = validate(wasm)
    wasmtime.Module.validate(WASMTIME, wasm)
    return m


@settings(max_examples=60, **SETTINGS)
@given(S.wasm_modules())
def test_generated_modules_are_valid_for_both_validators(wasm):
    _check_valid(wasm)


@settings(max_examples=40, **SETTINGS)
@given(S.single_instruction_modules())
def test_single_instruction_modules_are_valid(wasm):
    m = _check_valid(wasm)
    body = func_instrs(m, m.funcs[0])
    assert body[-2].op.name in S.SINGLE_INSTRUCTION_OPS


def test_every_family_appears_when_switched_on():
    """Each family, alone with a few helpers, shows up in some generated body."""
    marks = {"int": r"^i(32|64)\.(add|sub|mul|and|or|xor|sh|rot|div|rem|clz|ctz|popcnt)",
             "float": r"^f(32|64)\.(add|sub|mul|div|sqrt|min|max|ceil|floor|abs|neg|copysign)",
             "compare": r"\.(eq|ne|lt_|gt_|le_|ge_|lt|gt|le|ge|eqz)$", "convert": r"_[iuf](32|64)",
             "select": "select", "memory": ".load", "bulk_memory": "memory.fill",
             "blocks": "loop", "branches": "br_if", "br_table": "br_table", "calls": "call",
             "call_indirect": "call_indirect", "host_calls": "call",
             "unreachable_code": "return", "sign_extension": "extend8_s",
             "saturating": "trunc_sat", "locals": "local.tee", "globals": "global.set"}
    assert set(marks) == set(S.FAMILIES)
    for fam, mark in marks.items():
        cfg = S.Config(families=frozenset({fam, "int", "float", "locals", "blocks"}),
                       max_instrs=40)
        seen = []

        @settings(max_examples=40, **SETTINGS)
        @given(S.wasm_modules(cfg))
        def collect(wasm):
            m = validate(wasm)
            seen.extend(i.op.name for f in m.funcs for i in func_instrs(m, f))

        collect()
        assert any(re.search(mark, name) for name in seen), fam


def _agree(wasm: bytes):
    r = run_diff(wasm, DEFAULT_ENGINES, determinism="all")
    assert r.agree, [(f.signature, f.detail[:200]) for f in r.findings]
    assert all(run.status == "ok" for run in r.runs.values()), {
        n: (run.status, run.detail[:200]) for n, run in r.runs.items()}
    # termination: the fuel counter stops every loop and recursion
    assert not any(k.startswith("exhausted") for k in r.inconclusive), r.inconclusive
    return r


@settings(max_examples=25, **SETTINGS)
@given(S.wasm_modules())
def test_oracle_diff_agrees_on_generated_modules(wasm):
    _agree(wasm)


@settings(max_examples=25, **SETTINGS)
@given(S.single_instruction_modules())
def test_oracle_diff_agrees_on_single_instructions(wasm):
    _agree(wasm)


@settings(max_examples=10, **SETTINGS)
@given(S.wasm_modules(S.Config(canonicalize_nans=True, max_instrs=80)))
def test_canonicalized_modules_compare_bit_exactly(wasm):
    r = _agree(wasm)
    assert not any(k.startswith("NaN sign") for k in r.inconclusive)


@pytest.mark.slow
@settings(max_examples=400, **SETTINGS)
@given(st.one_of(S.wasm_modules(), S.single_instruction_modules()))
def test_oracle_diff_agrees_on_many_generated_modules(wasm):
    _agree(wasm)
