"""Every reduced finding in corpus/regressions/ runs on every ISA and must give the outcomes
recorded in it (computed by wasmtime when it was saved).  A file dropped into that
directory is picked up without editing this test."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle.compare import values_agree
from oracle.crashfile import read_crash
from oracle.diff import run_diff
from oracle.outcomes import Trap, Values
from oracle.values import Value

import os

DIR = Path(os.environ.get("ORACLE_REGRESSIONS_DIR") or
           Path(__file__).resolve().parent.parent / "corpus" / "regressions")
FILES = sorted(DIR.glob("*.wasm"))
ISAS = ("x64", "aarch64", "s390x")


def _matches(expected: dict, out, exact_nans: bool = False) -> bool:
    if "values" in expected:
        return isinstance(out, Values) and len(out.values) == len(expected["values"]) and all(
            values_agree(Value(t, b), v, exact_nans)
            for (t, b), v in zip(expected["values"], out.values))
    if "trap" in expected:
        return isinstance(out, Trap) and out.kind.value == expected["trap"]
    return str(out) == expected["other"]


def _state_matches(expected: dict, state: dict, exact_nans: bool = False) -> bool:
    for k, e in expected.items():
        got = state.get(k)
        if isinstance(e, list):
            if not (hasattr(got, "bits") and values_agree(Value(*e), got, exact_nans)):
                return False
        elif str(got) != e:
            return False
    return True


def test_the_directory_exists_and_is_documented():
    assert DIR.is_dir() and (DIR / "README.md").exists()


def test_a_file_dropped_in_is_picked_up(tmp_path):
    """Drop a regression file into a directory and run this test file on it: it is
    collected and run on every ISA without editing anything."""
    import subprocess
    import sys

    from oracle.plan import Call, Plan
    from oracle.reduce_cli import save_regression
    from tests.wasm_util import wat

    (tmp_path / "README.md").write_text("x")
    mod = bytes(wat('(module (func (export "f") (param i32) (result i32) '
                    '(i32.sub (i32.const 0) (local.get 0))))'))
    save_regression(mod, Plan([Call("f", (Value("i32", 5),))]), "hand-written|x~y||f#0",
                    str(tmp_path))
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(root / "tests" / "test_regressions.py") + "::test_regression"],
                       cwd=root, env=dict(os.environ, ORACLE_REGRESSIONS_DIR=str(tmp_path)),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "3 passed" in r.stdout, r.stdout[-2000:]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_regression(path, isa):
    module, plan, meta = read_crash(path.read_bytes())
    assert plan is not None and "expected" in meta, f"{path.name} has no recorded outcomes"
    engine = f"winch-{isa}"
    canon = bool(meta.get("canonicalize_nans"))  # found (and recorded) with it: NaNs exact
    limits = {k: meta[k] for k in ("fuel", "epoch_deadline") if meta.get(k) is not None}
    run = run_diff(module, [engine], plan, determinism="all", canonicalize_nans=canon,
                   **limits).runs[engine]
    assert run.status == "ok", (run.status, run.detail[:500])
    if "expected_fuel" in meta:  # found with fuel: the fuel left after every call too
        assert run.fuel == meta["expected_fuel"], \
            f"{meta['signature']}: fuel left {run.fuel} != {meta['expected_fuel']}"
    for i, (call, exp) in enumerate(zip(plan.calls, meta["expected"])):
        out = run.outcomes[i]
        assert _matches(exp, out, canon), f"{meta['signature']}: call {i} {call.export}: " \
                                   f"expected {exp}, got {out}"
        states = meta.get("expected_states") or []
        if i < len(states):
            assert _state_matches(states[i], run.states[i], canon), \
                f"call {i} {call.export}: state {run.states[i]} != {states[i]}"
