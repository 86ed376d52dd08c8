"""`oracle campaign`: reports, a planted bug found and deduplicated, kills survived."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _campaign(out: Path, *extra, wait=True):
    argv = [sys.executable, "-m", "oracle.cli", "campaign", "--out", str(out), *extra]
    if wait:
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def test_short_campaign_writes_report_and_summary(tmp_path):
    out = tmp_path / "c"
    r = _campaign(out, "--minutes", "0.34", "--jobs", "2")
    # 1 would mean a finding: a real one, which the campaign reports in full below
    assert r.returncode in (0, 1), r.stdout + r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["targets"]) == {"differential", "validate", "compile", "assemble"}
    for t, d in summary["targets"].items():
        assert d["execs"] > 0 and d["exec_per_s"] > 0, (t, d)
        assert d["corpus_files"] > 0
    html = (out / "report.html").read_text()
    assert html.count("<svg") == 2 and "executions per second" in html
    for f in summary["findings"]:  # a finding, if any, is complete and replayable
        assert f["signature"] and (out / f["file"]).exists()


def test_planted_bug_is_found_reduced_and_deduplicated(tmp_path):
    out = tmp_path / "c"
    # a generous reduction budget: CI runs other tests beside this one
    r = _campaign(out, "--minutes", "0.5", "--jobs", "2", "--targets", "differential",
                  "--isa", "x64,s390x", "--mutant", "s390x-xor-is-or", "--reduce-seconds", "300")
    assert r.returncode == 1, r.stdout + r.stderr  # 1: findings
    summary = json.loads((out / "summary.json").read_text())
    assert summary["findings"], summary
    assert sum(f["hits"] for f in summary["findings"]) > len(summary["findings"])  # hit often
    found = [f for f in summary["findings"] if f["kind"] != "timeout"]
    assert found, summary
    # (a bug that breaks the fuel counter, as sub-is-add does, also hangs inputs: timeout
    # findings are raw inputs, not reduced; this bug leaves the fuel alone)
    regressions = list((out / "regressions").glob("*.wasm"))
    assert len(regressions) == 1, regressions  # one bug, one regression candidate
    assert [r["file"] for r in summary["regressions"]] == ["regressions/" + regressions[0].name]
    for f in found:  # every finding reduced, each a duplicate of that candidate
        assert f["reduced"] and f["reduced"]["bucket"] == regressions[0].stem, f
    from oracle.crashfile import read_crash
    from oracle.reduce.passes import instruction_count
    from winch.wasm.reader import decode_module

    module, plan, meta = read_crash(regressions[0].read_bytes())
    assert instruction_count(decode_module(module)) <= 10  # issue 8's bound
    assert meta["expected"] and plan.calls


def test_a_finding_with_a_candidates_operators_and_more_is_its_duplicate(tmp_path):
    """Deduplication by operators: a reduction that kept extra operators around the same
    core joins the smaller candidate, whatever its kind; a smaller one replaces a bigger;
    plumbing alone covers nothing else."""
    from oracle.campaign.reduce_one import place
    from oracle.crashfile import write_crash
    from oracle.plan import Plan
    from tests.wasm_util import wat

    def mod(body):
        return bytes(wat(f'(module (global (mut i32) (i32.const 0)) (func (export "f") {body}))'))

    xor = mod("(global.set 0 (i32.xor (i32.const -1) (i32.const 1)))")
    xor_call = mod("(global.set 0 (i32.xor (i32.const -1) (i32.const 1))) (call 0)")
    add = mod("(global.set 0 (i32.add (i32.const -1) (i32.const 1)))")
    plumbing = mod("(global.set 0 (i32.const 1))")
    regs = tmp_path / "regressions"
    regs.mkdir()

    def save(key, wasm, kind="wrong value"):
        (regs / f"{key}.wasm").write_bytes(write_crash(wasm, Plan(), f"{kind}|a~b|x64|f#0:g0"))

    save("big", xor_call)
    assert place("wrong value", xor_call, str(regs)) == ("big", False, [])
    key, new, replaced = place("wrong value", xor, str(regs))
    assert new and replaced == ["big"]
    save(key, xor)
    (regs / "big.wasm").unlink()
    assert place("wrong value", xor_call, str(regs)) == (key, False, [])
    assert place("wrong value", add, str(regs))[1]  # another operator: another bug
    assert place("missing trap", xor_call, str(regs)) == (key, False, [])  # a kind it caused
    save("p", plumbing)
    assert place("wrong value", add, str(regs))[1]  # plumbing alone covers nothing else
    assert place("wrong value", plumbing, str(regs)) == ("p", False, [])


def _snapshot(out: Path) -> dict:
    d = out / "findings"
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest()
            for p in d.glob("*") if p.suffix in (".wasm", ".json")} if d.exists() else {}


def test_killed_runner_and_workers_lose_nothing(tmp_path):
    """SIGKILL the runner and a worker at random moments, resume, repeat; every finding
    written before a kill is still there, unchanged, and parses."""
    rng = random.Random(5)
    out = tmp_path / "c"
    args = ("--minutes", "0.6", "--jobs", "2", "--targets", "differential,validate",
            "--isa", "x64", "--mutant", "sub-is-add")
    seen: dict = {}
    for round_ in range(3):
        p = _campaign(out, *args, *(["--resume"] if round_ else []), wait=False)
        time.sleep(rng.uniform(6, 12))
        state = out / "state.json"
        if state.exists():
            workers = list(json.loads(state.read_text()).get("workers", {}))
            if workers:
                try:
                    os.killpg(int(rng.choice(workers)), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        time.sleep(rng.uniform(0.5, 2))
        seen.update(_snapshot(out))
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    r = _campaign(out, *args, "--resume")
    assert r.returncode in (0, 1), r.stdout + r.stderr
    final = _snapshot(out)
    for name, digest in seen.items():
        if name.endswith(".json") or name.endswith(".wasm"):
            assert final.get(name) == digest, f"{name} lost or changed"
    from oracle.crashfile import read_crash

    for p in (out / "findings").glob("*.json"):
        meta = json.loads(p.read_text())
        data = (out / "findings" / meta["file"]).read_bytes()
        assert data, meta["file"]
        if meta["file"].endswith(".wasm"):  # a crash file: module, plan and signature
            module, plan, m2 = read_crash(data)
            assert m2["signature"] == meta["signature"] and module[:4] == b"\0asm"
        # other findings are raw inputs: a libFuzzer timeout or harness crash artifact (this
        # mutant breaks the fuel counter, so inputs can hang), validate's bytes
    assert seen, "no finding was written before the kills"
    assert json.loads((out / "summary.json").read_text())["findings"]


def test_libfuzzer_timeouts_and_crashes_become_findings(tmp_path, monkeypatch):
    """A hung input (libFuzzer's -timeout writes timeout-<sha1>) and a harness crash are
    recorded as findings, once per kind and target."""
    from oracle.campaign.runner import Options, Runner

    r = Runner(Options(out=str(tmp_path / "c"), targets=("validate",)), progress=False)
    art = tmp_path / "c" / "artifacts" / "validate"
    art.mkdir(parents=True)
    (art / "timeout-aaaa").write_bytes(b"\0asm1")
    (art / "timeout-bbbb").write_bytes(b"\0asm2")
    (art / "crash-cccc").write_bytes(b"\0asm3")
    r._record_artifacts("validate")
    metas = [json.loads(p.read_text()) for p in (tmp_path / "c" / "findings").glob("*.json")]
    assert sorted(m["kind"] for m in metas) == ["harness crash", "timeout"]


@pytest.mark.parametrize("bad", [["--targets", "nope"], ["--isa", "mips"], ["--jobs", "0"]])
def test_bad_options_exit_2(tmp_path, bad):
    r = _campaign(tmp_path / "c", *bad)
    assert r.returncode == 2 and "bad options" in r.stderr
