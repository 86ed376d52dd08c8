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
    assert run_diff(wasm, engines).findings == []
    with mutants.applied(name):
        found = run_diff(wasm, engines).findings
    assert found, f"{name} changes nothing on its module"
    assert all(m.engine in f.signature for f in found)
    assert run_diff(wasm, engines).findings == []  # and undone
