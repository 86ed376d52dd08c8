"""`oracle locate` names the instruction a deliberate bug is in (issue 23).

Each mutant's module (tests/wat/mutants/) is diffed with the bug planted, the finding saved as
a crash file, and `oracle.locate.locate` must name an operator of `oracle.mutants.LOCATED_IN`
(the fuel bugs are not listed: the reference interpreter has no fuel).  Also the pieces: the
trace comparison on hand-made traces, NaN rules, and the command line's exit codes."""

from __future__ import annotations

import pathlib

import pytest
import wasmtime

from oracle.crashfile import write_crash
from oracle.diff import run_diff
from oracle.locate import first_divergence, format_location, locate, same_value
from oracle.mutants import BY_NAME, LOCATED_IN, applied, located
from winch.debuginfo import Step, Write
from winch.wasm.types import F32, I32

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "wat" / "mutants"

#: a few bugs on every ISA kind of bug: wrong operator, condition code, trap, entry, NaN
QUICK = ("sub-is-add", "aarch64-add-is-sub", "s390x-xor-is-or", "x64-ge_u-is-gt_u",
         "aarch64-div-by-zero-unchecked", "s390x-epoch-entry-unchecked",
         "x64-canonical-nan-negative")


def _crash_for(name: str) -> bytes:
    m = BY_NAME[name]
    wasm = wasmtime.wat2wasm((CASES / f"{name}.wat").read_text())
    opts = m.diff_options
    with applied(name):
        r = run_diff(wasm, ["wasmtime", m.engine], determinism="none", **opts)
    assert r.findings, f"{name} shows nothing on its module"
    return write_crash(wasm, r.plan, r.findings[0].signature, **opts)


def _check(name: str) -> None:
    crash = _crash_for(name)
    with applied(name):
        loc = locate(crash)
    text = format_location(loc)
    assert loc.status == "located", text
    op = loc.instr.split()[0] if loc.instr else ""
    assert located(name, op, loc.what), f"{name}: located at {op} ({loc.what}):\n{text}"
    assert loc.engine == BY_NAME[name].engine


@pytest.mark.parametrize("name", QUICK)
def test_locate_names_the_bugs_operator(name):
    _check(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(LOCATED_IN) - set(QUICK)))
def test_locate_names_every_listed_bug(name):
    _check(name)


def test_without_the_bug_there_is_no_failing_call():
    crash = _crash_for("sub-is-add")
    loc = locate(crash)  # nothing planted now: the engine agrees with the interpreter
    assert loc.status == "no failing call"


def test_every_mutant_but_fuel_is_listed():
    unlisted = {n for n in BY_NAME if n not in LOCATED_IN}
    assert unlisted and all("fuel" in n for n in unlisted)
    assert set(LOCATED_IN) <= set(BY_NAME)


def _step(stack, locals_=(), offset=0x20):
    return Step(0, offset, tuple(stack), tuple(locals_))


def test_first_divergence_blames_the_instruction_before_it():
    a = [_step([]), _step([(I32, 1)], offset=0x22), _step([(I32, 3)], offset=0x24)]
    b = [_step([]), _step([(I32, 1)], offset=0x22), _step([(I32, 4)], offset=0x24)]
    d = first_divergence(a, b, exact_nans=False)
    assert d.what == "result" and d.before.offset == 0x22 and d.index == 2
    assert first_divergence(a, a, exact_nans=False) is None


def test_stores_compare_as_bytes_and_control_flow_as_offsets():
    a = [_step([]), Write(0, 8, 4, 0x11223344), _step([], offset=0x30)]
    b = [_step([]), Write(0, 8, 2, 0x3344), Write(0, 10, 2, 0x1122), _step([], offset=0x30)]
    assert first_divergence(a, b, exact_nans=False) is None  # one store seen as two
    c = [_step([]), Write(0, 8, 4, 0x11223345), _step([], offset=0x30)]
    assert first_divergence(a, c, exact_nans=False).what == "store"
    e = [_step([]), Write(0, 8, 4, 0x11223344), _step([], offset=0x32)]
    assert first_divergence(a, e, exact_nans=False).what == "control flow"
    f = [_step([]), _step([], offset=0x30)]
    assert first_divergence(f, f[:1], exact_nans=False).what == "trap"


def test_nans_agree_unless_canonicalization_wants_the_canonical_one():
    assert same_value((F32, 0x7FC0_0000), (F32, 0xFFC0_0001), exact_nans=False)
    assert not same_value((F32, 0x7FC0_0000), (F32, 0xFFC0_0000), exact_nans=True)
    assert same_value((F32, 0x7FC0_0000), (F32, 0x7FC0_0000), exact_nans=True)
    assert not same_value((F32, 0x7FC0_0000), (F32, 0x3F80_0000), exact_nans=False)


def test_cli_exit_codes(tmp_path, capsys):
    from oracle.cli import main

    crash = tmp_path / "c.wasm"
    crash.write_bytes(_crash_for("sub-is-add"))
    assert main(["locate", str(crash)]) == 3  # the bug is not planted: nothing differs
    assert "agrees with the interpreter" in capsys.readouterr().out
    assert main(["locate", str(crash), "--mutant", "sub-is-add"]) == 0
    out = capsys.readouterr().out
    assert "first wrong instruction" in out and "i32.sub" in out
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm\1\0\0\0\x01\xff")
    assert main(["locate", str(bad)]) == 2
    assert main(["locate", str(crash), "--engine", "wasmtime"]) == 2
    assert main(["locate", str(crash), "--mutant", "no-such-bug"]) == 2
    assert main(["locate", str(crash), "--json", "--mutant", "sub-is-add"]) == 0
    import json

    d = json.loads(capsys.readouterr().out)
    assert d["status"] == "located" and d["instr"] == "i32.sub" and d["machine_code"]
