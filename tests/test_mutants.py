"""Every deliberate bug of scripts/mutants.py is live: on a module written for it (one per bug,
in tests/wat/mutants/) the oracle reports a finding with the bug planted and none without it.
A mutant that no module can show would make the generator and reducer tables meaningless."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest
import wasmtime

from oracle.diff import run_diff

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "wat" / "mutants"
_spec = importlib.util.spec_from_file_location("mutants", ROOT / "scripts" / "mutants.py")
mutants = sys.modules["mutants"] = importlib.util.module_from_spec(_spec)  # dataclasses
_spec.loader.exec_module(mutants)


def test_every_mutant_has_a_case_and_a_class():
    assert len(mutants.MUTANTS) >= 15
    assert sorted(p.stem for p in CASES.glob("*.wat")) == sorted(mutants.BY_NAME)
    assert all(m.bug_class and m.description for m in mutants.MUTANTS)


@pytest.mark.parametrize("name", sorted(mutants.BY_NAME))
def test_mutant_is_found_on_its_module(name):
    m = mutants.BY_NAME[name]
    wasm = wasmtime.wat2wasm((CASES / f"{name}.wat").read_text())
    engines = ["wasmtime", m.engine]
    opts = m.diff_options  # e.g. fuel: a bug in what an option adds shows only with it
    assert run_diff(wasm, engines, **opts).findings == []
    with mutants.applied(name):
        found = run_diff(wasm, engines, **opts).findings
    assert found, f"{name} changes nothing on its module"
    assert all(m.engine in f.signature for f in found)
    assert run_diff(wasm, engines, **opts).findings == []  # and undone


def test_hunt_counts_executions_exactly():
    # libFuzzer's final stats (printed at a crash too) win over the last status line
    log = ("#2\tINITED exec/s: 0\n#64\tpulse  cov: 10\n==1== ERROR: libFuzzer: fuzz target "
           "exited\nstat::number_of_executed_units: 77\nstat::average_exec_per_sec:     3\n")
    assert mutants.executed_units(log) == 77
    assert mutants.executed_units("#2\tINITED\n#64\tpulse\n") == 64
    assert mutants.executed_units("INFO: Seed: 1\n") is None


def test_hunt_credits_a_finding_to_the_bug_only_if_it_needs_the_bug():
    from oracle.crashfile import write_crash

    name = "x64-shift64-count-5-bits"
    wasm = wasmtime.wat2wasm((CASES / f"{name}.wat").read_text())
    with mutants.applied(name):
        r = run_diff(wasm, ["wasmtime", "winch-x64"])
        crash = write_crash(wasm, r.plan, r.findings[0].signature)
        assert mutants.shows_without_bug(crash, r.findings[0].signature)  # planted here
    assert not mutants.shows_without_bug(crash, r.findings[0].signature)
