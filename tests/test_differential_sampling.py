"""The differential target's sampling (determinism re-compile 1 in N, wasmtime-winch 1 in M,
chosen per module so a replay does the same) and its phase timers (off by default)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import fuzz_targets.differential as D
import oracle.diff

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODS = [os.urandom(40) for _ in range(2000)]


def test_sampling_is_deterministic_per_input_and_near_its_rate():
    picks = [D.sampled(m, 16, b"determinism") for m in MODS]
    assert picks == [D.sampled(bytes(m), 16, b"determinism") for m in MODS]
    assert 2000 / 16 * 0.6 < sum(picks) < 2000 / 16 * 1.4
    assert all(D.sampled(m, 1, b"determinism") for m in MODS[:50])
    # the two samples are independent: the winch share is not the determinism share
    assert [D.sampled(m, 16, b"wasmtime-winch") for m in MODS] != picks


def test_plan_for_keeps_the_reference_and_samples_winch_and_determinism(monkeypatch):
    engines = ("wasmtime", "wasmtime-winch", "winch-x64")
    monkeypatch.setattr(D, "WINCH_EVERY", 4)
    monkeypatch.setattr(D, "DETERMINISM_EVERY", 16)
    seen_winch = seen_det = 0
    for m in MODS[:400]:
        es, det = D.plan_for(m, engines)
        assert es[0] == "wasmtime" and "winch-x64" in es
        assert ("wasmtime-winch" in es) == D.sampled(m, 4, b"wasmtime-winch")
        assert det == ("one" if D.sampled(m, 16, b"determinism") else "none")
        assert D.plan_for(m, engines) == (es, det)  # same module, same plan
        seen_winch += "wasmtime-winch" in es
        seen_det += det == "one"
    assert 50 < seen_winch < 150 and 5 < seen_det < 50
    monkeypatch.setattr(D, "WINCH_EVERY", 1)
    monkeypatch.setattr(D, "DETERMINISM_EVERY", 1)
    assert all(D.plan_for(m, engines) == (engines, "one") for m in MODS[:50])


def test_check_module_passes_the_sampled_determinism_to_run_diff(monkeypatch):
    calls = []

    def fake(wasm, engines, plan=None, *, determinism="one", canonicalize_nans=False,
             fuel=None, epoch_deadline=None):
        calls.append((engines, determinism))
        return oracle.diff.DiffResult(list(engines), oracle.diff.Plan(), {})

    monkeypatch.setattr(D, "run_diff", fake)
    monkeypatch.setattr(D, "ENGINES", ("wasmtime", "wasmtime-winch", "winch-x64"))
    monkeypatch.setattr(D, "SEEN", {})
    for m in MODS[:64]:
        D.check_module(m)
    assert [c for c in calls] == [D.plan_for(m) for m in MODS[:64]]
    assert {d for _, d in calls} == {"one", "none"}


def test_repeated_modules_are_counted_and_diffed_again(monkeypatch):
    """libFuzzer's mutations past what the generator reads give the same module again: it is
    diffed again (libFuzzer must see its coverage) and counted as `repeated` while it is among
    the last SEEN_MAX modules."""
    diffed = []

    def fake(wasm, engines, plan=None, *, determinism="one", canonicalize_nans=False,
             fuel=None, epoch_deadline=None):
        diffed.append(wasm)
        return oracle.diff.DiffResult(list(engines), oracle.diff.Plan(), {})

    monkeypatch.setattr(D, "run_diff", fake)
    monkeypatch.setattr(D, "SEEN", {})
    monkeypatch.setattr(D, "SEEN_MAX", 3)
    monkeypatch.setitem(D.STATS, "modules", 0)
    monkeypatch.setitem(D.STATS, "repeated", 0)
    a, b, c, d = MODS[:4]
    order = [a, b, a, bytes(bytearray(a)), c, a, d, a]
    for m in order:
        D.check_module(m)
    assert diffed == order
    # a counts as repeated until three other modules came after it: not the last time
    assert D.STATS["modules"] == 8 and D.STATS["repeated"] == 3


@pytest.mark.parametrize("value,expected", [("1", 1), ("7", 7), ("", 16), ("0", 1),
                                            ("x", 16)])
def test_sampling_period_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("ORACLE_DETERMINISM_EVERY", value)
    assert D._every("ORACLE_DETERMINISM_EVERY", 16) == expected


def test_phase_timers_off_by_default():
    assert "ORACLE_PHASE_TIMES" not in os.environ
    assert D.PHASES is None and oracle.diff.PHASE_TIMES is None
    D.check_module(MODS[0])  # not a module: the diff runs, no timer is kept
    assert oracle.diff.PHASE_TIMES is None


def test_phase_timers_on_write_the_file(tmp_path):
    phases = tmp_path / "phases.json"
    off = tmp_path / "off"
    off.mkdir()
    env = dict(os.environ, ORACLE_ENGINES="wasmtime,winch-x64",
               ORACLE_FINDINGS_DIR=str(tmp_path / "findings"))
    env.pop("ORACLE_PHASE_TIMES", None)
    base = [sys.executable, "-m", "fuzz_targets.differential", "-seed=1"]
    subprocess.run(base + ["-runs=5", str(off)], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    assert not phases.exists()
    env["ORACLE_PHASE_TIMES"] = str(phases)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    subprocess.run(base + ["-max_total_time=3", str(corpus)], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)
    ph = json.loads(phases.read_text())
    assert ph["executions"] > 0 and ph["total"] >= ph["diff"] > 0
    assert ph["compile"]["winch-x64"] > 0 and ph["run"]["wasmtime"] > 0
