""""All engines agree" only when they did (issue 15 §3, DESIGN.md §6).

`oracle diff` exits 0 only when the reference and at least one other engine compared at least
one call conclusively; 1 for findings; 2 for bad input (malformed or invalid for our front end
and the reference alike: one line); 3 when a valid module could not be compared (one line
saying why).  `oracle replay` follows the same rule.
"""

from __future__ import annotations

import json

import pytest
import wasmtime

from oracle.cli import main
from oracle.crashfile import write_crash
from oracle.diff import run_diff
from oracle.engines.base import Rejected
from oracle.engines.winch_engine import WinchEngine, WinchSession
from oracle.plan import Call, Plan

OURS = ["winch-x64", "winch-aarch64", "winch-s390x"]
ENGINES = ["wasmtime"] + OURS
W = wasmtime.wat2wasm
SIMD = W('(module (func (export "f") (result i32) v128.const i64x2 1 2 i32x4.extract_lane 0))')
LOOP = W('(module (func (export "f") (loop (br 0))))')
NO_EXPORTS = W('(module (func))')
OK = W('(module (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add))')
TRUNCATED = W('(module (func (export "f") (result i32) i32.const 1))')[:-3]
# a function of type [] -> [i32] whose body is empty: decodes, does not validate
INVALID = bytes.fromhex("0061736d01000000" "0105016000017f" "03020100" "0a040102000b")


def _diff(tmp_path, capsys, wasm: bytes, *extra, engines=ENGINES):
    path = tmp_path / "m.wasm"
    path.write_bytes(wasm)
    rc = main(["diff", str(path), "--engines", ",".join(engines), *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err, str(path)


def _lines_with(text: str, word: str) -> list:
    return [line for line in text.splitlines() if word in line]


def test_module_our_engines_do_not_support_compares_nothing(tmp_path, capsys):
    rc, out, err, _ = _diff(tmp_path, capsys, SIMD)
    assert rc == 3, out + err
    assert _lines_with(out, "nothing compared") == [
        "nothing compared: winch-x64, winch-aarch64, winch-s390x unsupported (simd)"]
    assert "agree" not in out


def test_every_call_out_of_fuel_compares_nothing(tmp_path, capsys):
    # one call (each engine spends its whole budget on it)
    rc, out, err, _ = _diff(tmp_path, capsys, write_crash(LOOP, Plan([Call("f", ())]), ""),
                            engines=["wasmtime", "winch-x64"])
    assert rc == 3, out + err
    [line] = _lines_with(out, "nothing compared")
    assert line.startswith("nothing compared: winch-x64 inconclusive from the first call")
    assert "exhausted" in line


def test_no_exports_compares_nothing(tmp_path, capsys):
    rc, out, _, _ = _diff(tmp_path, capsys, NO_EXPORTS)
    assert rc == 3
    [line] = _lines_with(out, "nothing compared")
    assert "no call" in line


def test_a_plan_without_calls_compares_nothing(tmp_path, capsys):
    rc, out, _, _ = _diff(tmp_path, capsys, write_crash(OK, Plan([]), ""))
    assert rc == 3 and len(_lines_with(out, "nothing compared")) == 1


@pytest.mark.parametrize("wasm,kind,offset", [(TRUNCATED, "malformed", 0x1a),
                                              (INVALID, "invalid", 0x18)],
                         ids=["malformed", "invalid"])
def test_malformed_or_invalid_module_is_bad_input(tmp_path, capsys, wasm, kind, offset):
    rc, out, err, path = _diff(tmp_path, capsys, wasm)
    assert rc == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"oracle diff: {path}@{offset:#x}: {kind}: "), line


def test_json_carries_the_verdict_and_the_reason(tmp_path, capsys):
    rc, out, _, _ = _diff(tmp_path, capsys, SIMD, "--json")
    d = json.loads(out)
    assert rc == 3 and d["agree"] is False and d["verdict"] == "nothing compared"
    assert d["reason"] == "nothing compared: winch-x64, winch-aarch64, winch-s390x " \
        "unsupported (simd)"
    assert d["compared"] == {e: 0 for e in OURS}
    rc, out, _, _ = _diff(tmp_path, capsys, OK, "--json")
    d = json.loads(out)
    assert rc == 0 and d["verdict"] == "agree" and d["reason"] == "" and d["agree"]
    assert all(d["compared"][e] == 3 for e in OURS)


def test_one_engine_comparing_is_enough(tmp_path, capsys):
    """The reference and ONE other engine compared: agree, and the others' reasons show."""
    rc, out, _, _ = _diff(tmp_path, capsys, SIMD, engines=["wasmtime", "wasmtime-winch"] + OURS)
    r = run_diff(SIMD, ["wasmtime", "wasmtime-winch"] + OURS)
    if r.compared.get("wasmtime-winch"):  # wasmtime's Winch has SIMD on x86-64 hosts
        assert rc == 0 and r.agree
        assert "all engines agree (the reference and 1 other engine(s) compared)" in out
    else:
        assert rc == 3


class _Refusing(WinchEngine):
    """winch-x64 that refuses every module with the given kind of rejection."""

    def __init__(self, kind):
        super().__init__("x64", 1.0)
        self.kind = kind

    def session(self):
        s = _RefusingSession(self.isa, self.budget)
        s.kind = self.kind
        return s


class _RefusingSession(WinchSession):
    def compile(self, wasm):
        raise Rejected(self.kind, "no", feature="threads" if self.kind == "unsupported" else None)


def test_rejection_is_a_finding_unless_it_is_unsupported_by_name():
    from oracle.engines import get_engine

    ref = get_engine("wasmtime", 1.0)
    r = run_diff(OK, [ref, _Refusing("invalid")])
    assert [f.kind for f in r.findings] == ["validation disagreement"]
    r = run_diff(OK, [ref, _Refusing("unsupported")])
    assert r.findings == [] and r.verdict == "nothing compared"
    assert r.reason == "nothing compared: winch-x64 unsupported (threads)"


def test_nothing_compared_is_not_a_finding_for_the_fuzz_target_and_campaign():
    """The differential target and the campaign record `run_diff(...).findings` only."""
    for wasm in (SIMD, NO_EXPORTS, TRUNCATED):
        r = run_diff(wasm, ENGINES)
        assert r.findings == [] and not r.agree


def test_replay_follows_the_same_rule(tmp_path, capsys):
    path = tmp_path / "c.wasm"
    path.write_bytes(write_crash(SIMD, Plan([Call("f", ())]),
                                 "wrong value|wasmtime~winch-x64|x64|f#0", engines=ENGINES))
    assert main(["replay", str(path)]) == 3
    out = capsys.readouterr().out
    assert len(_lines_with(out, "nothing compared: ")) == 1 and "fixed" not in out
    path.write_bytes(write_crash(TRUNCATED, Plan([Call("f", ())]),
                                 "wrong value|wasmtime~winch-x64|x64|f#0", engines=ENGINES))
    assert main(["replay", str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
