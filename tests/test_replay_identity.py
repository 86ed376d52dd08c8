"""`oracle replay` judges a crash file by its finding's identity (issue 15 §2): what the reducer
keeps (kind, engines, export, what differs), not the exact signature with its call index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import wasmtime

from oracle.cli import main
from oracle.compare import Finding, Identity, same_finding
from oracle.crashfile import SECTION, expected_identity, read_crash, write_crash
from oracle.diff import run_diff
from oracle.mutants import applied
from oracle.plan import Call, Plan
from oracle.values import Value
from winch.wasm.leb import encode_unsigned

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ["wasmtime", "winch-x64"]
# `f` shows `sub-is-add`, `g` shows `shr_u-is-shr_s`; `noise` only makes calls before them
MODULE = wasmtime.wat2wasm('''(module
 (global $g (export "g") (mut i32) (i32.const 0))
 (func (export "noise") (param i32) (result i32)
   local.get 0 i32.const 7 i32.mul i32.const 3 i32.xor global.set $g global.get $g)
 (func (export "f") (param i32 i32) (result i32)
   local.get 0 i32.const 1 i32.add local.get 1 i32.const 2 i32.mul i32.sub
   local.get 0 i32.xor)
 (func (export "sh") (param i64) (result i64) local.get 0 i64.const 4 i64.shr_u))''')


def _i32(v):
    return Value("i32", v)


PLAN = Plan([Call("noise", (_i32(1),)), Call("noise", (_i32(2),)), Call("noise", (_i32(3),)),
             Call("f", (_i32(9), _i32(2))), Call("sh", (Value("i64", 1 << 63),))])


def _crash(tmp_path) -> Path:
    """The finding of `sub-is-add` on `f`, at call #3 of the plan, as a crash file."""
    with applied("sub-is-add"):
        r = run_diff(MODULE, ENGINES, PLAN)
    f = r.findings[0]
    assert f.signature == "wrong value|wasmtime~winch-x64|x64|f#3"
    path = tmp_path / "crash.wasm"
    path.write_bytes(write_crash(MODULE, PLAN, f.signature, engines=ENGINES))
    return path


def _replay(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["replay", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_reduced_finding_replays_with_the_bug_planted_and_not_without(tmp_path, capsys):
    crash = _crash(tmp_path)
    reduced = tmp_path / "min.wasm"
    assert main(["reduce", str(crash), "-o", str(reduced), "--max-seconds", "60",
                 "--mutant", "sub-is-add"]) == 0
    capsys.readouterr()
    module, plan, meta = read_crash(reduced.read_bytes())
    assert [c.export for c in plan.calls] == ["f"]  # renumbered: the finding is now at #0
    assert meta["identity"] == "wrong value|wasmtime~winch-x64|f|result"
    rc, out, _ = _replay(capsys, reduced, "--mutant", "sub-is-add")
    assert rc == 1 and "REPRODUCES: wrong value|wasmtime~winch-x64|f|result" in out
    rc, out, _ = _replay(capsys, reduced)
    assert rc == 0 and "fixed" in out.splitlines()[-1]


def test_a_different_finding_is_named_and_exits_1(tmp_path, capsys):
    crash = _crash(tmp_path)
    rc, out, _ = _replay(capsys, crash, "--mutant", "shr_u-is-shr_s")
    assert rc == 1
    assert "a DIFFERENT finding reproduces: wrong value|wasmtime~winch-x64|sh|result" in out
    assert "REPRODUCES" not in out and "fixed" not in out
    rc, out, _ = _replay(capsys, crash, "--mutant", "shr_u-is-shr_s", "--json")
    assert rc == 1 and json.loads(out)["replay"] == "different finding"


def test_diff_saves_the_identity_and_the_mutant_flag_reproduces_it(tmp_path, capsys):
    src, crash = tmp_path / "m.wasm", tmp_path / "saved.wasm"
    src.write_bytes(MODULE)
    assert main(["diff", str(src), "--engines", ",".join(ENGINES), "--mutant", "sub-is-add",
                 "--save", str(crash)]) == 1
    assert main(["diff", str(src), "--engines", ",".join(ENGINES)]) == 0  # and undone
    _, _, meta = read_crash(crash.read_bytes())
    assert meta["identity"] == "wrong value|wasmtime~winch-x64|f|result"
    capsys.readouterr()
    assert _replay(capsys, crash, "--mutant", "sub-is-add")[0] == 1
    assert _replay(capsys, crash)[0] == 0


def _old_style(module: bytes, plan: Plan, signature: str) -> bytes:
    """A crash file as written before identities existed: the signature only."""
    name = SECTION.encode()
    meta = {"plan": json.loads(plan.to_json()), "signature": signature, "engines": ENGINES}
    payload = encode_unsigned(len(name)) + name + json.dumps(meta).encode()
    return module + b"\x00" + encode_unsigned(len(payload)) + payload


def test_old_crash_file_with_a_stale_call_index_still_reproduces(tmp_path, capsys):
    path = tmp_path / "old.wasm"
    plan = Plan([Call("f", (_i32(9), _i32(2)))])  # the call is #0; the signature says #3
    path.write_bytes(_old_style(MODULE, plan, "wrong value|wasmtime~winch-x64|x64|f#3"))
    rc, out, _ = _replay(capsys, path, "--mutant", "sub-is-add")
    assert rc == 1 and "REPRODUCES" in out
    rc, out, _ = _replay(capsys, path)
    assert rc == 0 and "fixed" in out


def test_a_regression_file_of_the_corpus_replays_by_its_old_signature(capsys):
    """corpus/regressions/ holds old-style signatures (`f2#6:g0|mutant ...`) on reduced
    modules whose only call is #0."""
    path = ROOT / "corpus" / "regressions" / "04f0e9433e7171f0.wasm"
    module, plan, meta = read_crash(path.read_bytes())
    assert "identity" not in meta and "#6:g0" in meta["signature"]
    assert str(expected_identity(meta, module)) == "wrong value|wasmtime~winch-x64|f2|global"
    assert _replay(capsys, path, "--mutant", "lt_u-is-signed")[0] == 1
    rc, out, _ = _replay(capsys, path)
    assert rc == 0 and out.splitlines()[-1] == "fixed: the finding no longer reproduces (it " \
        "was found with a deliberate bug planted: add --mutant lt_u-is-signed)"


def test_identity_keeps_what_reduction_keeps():
    sig = Identity.from_signature("wrong value|wasmtime~winch-x64|x64|f3#10:g0")
    assert str(sig) == "wrong value|wasmtime~winch-x64|f3|state"
    later = Finding("wrong value", ("wasmtime", "winch-x64"), "x64", "f3#0:g7", "", "f3",
                    "global")
    assert same_finding(sig, later)  # another call index, another global: the same finding
    assert same_finding(str(later.identity), later)
    assert not same_finding(sig, Finding("wrong value", ("wasmtime", "winch-x64"), "x64",
                                         "f3#0", "", "f3", "result"))
    assert not same_finding(sig, Finding("wrong value", ("wasmtime", "winch-aarch64"),
                                         "aarch64", "f3#0:g0", "", "f3", "global"))
    assert not same_finding(sig, Finding("wrong value", ("wasmtime", "winch-x64"), "x64",
                                         "f4#0:g0", "", "f4", "global"))
    odd = Identity("wrong trap", ("wasmtime", "winch-s390x"), "a|b", "result")
    assert Identity.parse(str(odd)) == odd
    assert Identity.from_signature("compiler crash|wasmtime~winch-x64|x64|compile").what \
        == "compile"


@pytest.mark.parametrize("content", [MODULE, b""], ids=["plain module", "empty"])
def test_replay_of_a_module_that_is_not_a_crash_file_is_bad_input(tmp_path, capsys, content):
    path = tmp_path / "plain.wasm"
    path.write_bytes(content)
    rc, out, err = _replay(capsys, path)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(path) in err


def test_unknown_mutant_is_bad_usage(tmp_path, capsys):
    rc, _, err = _replay(capsys, _crash(tmp_path), "--mutant", "no-such-bug")
    assert rc == 2 and err.strip().splitlines() == [
        "oracle replay: unknown mutant 'no-such-bug' (`python scripts/mutants.py list` lists "
        "them)"]


def test_campaign_report_replay_column_names_the_mutant():
    from oracle.campaign.report import _replay_command

    assert _replay_command("out/findings/ab.wasm", "sub-is-add") == \
        "oracle replay out/findings/ab.wasm --mutant sub-is-add"
    assert _replay_command("out/findings/ab.wasm", None) == "oracle replay out/findings/ab.wasm"
