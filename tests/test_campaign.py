"""`oracle campaign`: reports, a planted bug found and deduplicated, kills survived."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
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


def _campaign_timed(out, *extra, cwd=ROOT):
    """Run a campaign with stderr a pipe (not a terminal); returns (exit status, stdout,
    [(seconds since start, stderr line)], seconds it ran)."""
    argv = [sys.executable, "-m", "oracle.cli", "campaign", "--out", str(out), *extra]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    lines = []

    def read():
        for line in p.stderr:
            lines.append((time.monotonic() - t0, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stdout = p.stdout.read()
    p.wait(timeout=900)
    reader.join(10)
    return p.returncode, stdout, lines, time.monotonic() - t0


@pytest.mark.slow  # runs campaigns: more than 20 s with their wind-down
def test_short_campaign_writes_report_and_summary(tmp_path):
    """Also: with stderr a pipe, a progress line (elapsed, findings, exec/s, coverage,
    corpus) at least every 10 s from start to end, the end of the run included; and a
    relative --out is relative to where the command runs (the workers run elsewhere)."""
    out = tmp_path / "c"
    rc, stdout, lines, took = _campaign_timed("c", "--minutes", "0.34", "--jobs", "2",
                                              cwd=tmp_path)
    # 1 would mean a finding: a real one, which the campaign reports in full below
    assert rc in (0, 1), stdout + "\n".join(t for _, t in lines)
    progress = [(t, line) for t, line in lines if line.startswith("[campaign ")]
    assert len(progress) >= 3, lines
    times = [0.0] + [t for t, _ in progress] + [took]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) <= 10.0, (gaps, lines)  # (a line every 5 s; 10 s leaves room for load)
    assert not any("\r" in line for _, line in lines)  # whole lines, not a redrawn bar
    last = progress[-1][1]
    for word in ("findings", "exec/s", "cov", "corpus", "differential", "assemble"):
        assert word in last, last
    rate = [int(m) for _, line in progress
            for m in re.findall(r"\] findings \d+, (\d+) exec/s", line)]
    assert max(rate) > 0, progress  # live, not only when a 60 s chunk ends
    assert re.search(r"\[campaign 0:(0[5-9]|[1-9]\d)/0:20\]", "\n".join(
        line for _, line in progress)), progress  # the clock moves during the first chunk
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["targets"]) == {"differential", "validate", "compile", "assemble"}
    for t, d in summary["targets"].items():
        assert d["execs"] > 0 and d["exec_per_s"] > 0, (t, d)
        assert d["corpus_files"] > 0
    tp = summary["throughput"]  # in total and per core (per second of worker time)
    assert tp["execs"] == sum(d["execs"] for d in summary["targets"].values()) and tp["jobs"] == 2
    assert tp["exec_per_s"] > 0 and tp["exec_per_s_per_core"] > 0
    html = (out / "report.html").read_text()
    for title in ("Findings over time", "Executions per second", "Corpus size over time",
                  "Coverage over time", "Workers"):
        assert f'aria-label="{title}"' in html, title
    rows = [json.loads(line) for line in (out / "timeseries.jsonl").read_text().splitlines()]
    for t in summary["targets"]:  # every target in every sample, sampled every ~2.5 s
        xs = [r["elapsed"] for r in rows if r["target"] == t]
        assert len(xs) >= 6 and max(b - a for a, b in zip(xs, xs[1:])) <= 10, (t, xs)
    for f in summary["findings"]:  # a finding, if any, is complete and replayable
        assert f["signature"] and (out / f["file"]).exists()


@pytest.mark.slow  # runs campaigns: more than 20 s with their wind-down
def test_planted_bug_is_found_reduced_and_deduplicated(tmp_path):
    out = tmp_path / "c"
    # a generous reduction budget: CI runs other tests beside this one
    r = _campaign(out, "--minutes", "0.5", "--jobs", "2", "--targets", "differential",
                  "--isa", "x64,s390x", "--mutant", "s390x-xor-is-or", "--reduce-seconds", "300",
                  "--quiet")
    assert r.returncode == 1, r.stdout + r.stderr  # 1: findings
    assert "[campaign" not in r.stderr, r.stderr  # --quiet: no progress line
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


@pytest.mark.slow  # runs campaigns: more than 20 s with their wind-down
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
    summary = json.loads((out / "summary.json").read_text())
    assert summary["findings"]
    # the workers killed with the runner are in the report: listed, and on the time axis
    killed = [w for w in summary["workers"] if (w["how"] or "").startswith("killed")]
    assert killed and len(summary["resumes"]) == 3, summary["workers"]
    page = (out / "report.html").read_text()
    table = page.split("Workers that did not end normally")[1].split("</table>")[0]
    assert "killed (runner died; stopped on --resume)" in table
    assert f"{killed[0]['target']} worker (pid {killed[0]['pid']}) killed" in page


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
    # one line naming the option (the table of tests/test_cli_bad_input.py has the rest)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and bad[0] in r.stderr, r.stderr
