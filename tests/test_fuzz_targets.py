"""The differential, validate and compile fuzz targets: they run cleanly as libFuzzer
processes, find deliberately planted bugs, and record each signature once."""

from __future__ import annotations

import json
import os
import pathlib
import random
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "oracle" / "corpus").glob("*.wasm"))


@pytest.fixture
def findings_dir(tmp_path, monkeypatch):
    d = tmp_path / "findings"
    monkeypatch.setenv("ORACLE_FINDINGS_DIR", str(d))
    monkeypatch.setenv("ORACLE_FUZZ_KEEP_GOING", "1")
    return d


def _recorded(d: pathlib.Path) -> list:
    return sorted((json.loads(p.read_text()) for p in d.glob("*.json")),
                  key=lambda r: r["signature"]) if d.exists() else []


@pytest.mark.parametrize("target", ["differential", "validate", "compile"])
def test_libfuzzer_runs(tmp_path, target):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    if target != "differential":
        for s in SEEDS:
            (corpus / s.name).write_bytes(s.read_bytes())
    env = dict(os.environ, ORACLE_FINDINGS_DIR=str(tmp_path / "findings"))
    proc = subprocess.run(
        [sys.executable, "-m", f"fuzz_targets.{target}", str(corpus), "-runs=150", "-seed=1",
         f"-artifact_prefix={tmp_path}{os.sep}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # libFuzzer may overshoot -runs a little (it checks the limit between batches).
    done = re.search(r"^Done (\d+) runs", proc.stderr, re.M)
    assert done and int(done.group(1)) >= 150, proc.stderr[-4000:]
    assert not (tmp_path / "findings").exists() or not _recorded(tmp_path / "findings")


def test_validate_agrees_on_seeds_and_mutations(findings_dir):
    from fuzz_targets.validate import check_bytes

    rng = random.Random(7)
    verdicts = []
    for s in SEEDS:
        data = s.read_bytes()
        verdicts.append(check_bytes(data))
        for _ in range(40):
            b = bytearray(data)
            for _ in range(rng.randint(1, 3)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            check_bytes(bytes(b))
    assert set(verdicts) == {"valid"}
    assert _recorded(findings_dir) == []


def test_validate_records_an_untyped_exception_once(findings_dir, monkeypatch):
    import fuzz_targets.validate as V

    def broken(data):
        raise KeyError("front-end bug")

    monkeypatch.setattr(V, "validate", broken)
    for s in SEEDS[:3]:
        V.check_bytes(s.read_bytes())
    rec = _recorded(findings_dir)
    assert len(rec) == 1 and rec[0]["kind"] == "front-end crash"
    assert rec[0]["signature"].startswith("front-end crash|frontend||KeyError at")
    assert len((findings_dir / "hits.log").read_text().splitlines()) == 3


def test_validate_raises_without_keep_going(tmp_path, monkeypatch):
    import fuzz_targets.validate as V
    from fuzz_targets.findings import FindingError

    monkeypatch.setenv("ORACLE_FINDINGS_DIR", str(tmp_path))
    monkeypatch.delenv("ORACLE_FUZZ_KEEP_GOING", raising=False)
    monkeypatch.setattr(V, "_wasmtime_verdict", lambda data: "invalid")
    with pytest.raises(FindingError, match="validation disagreement"):
        V.check_bytes(SEEDS[0].read_bytes())


def test_compile_target_finds_a_planted_crash(findings_dir, monkeypatch):
    import fuzz_targets.compile as C
    from winch.codegen import func as F

    def broken(g, op, imm):
        raise IndexError("planted")

    monkeypatch.setitem(F.HANDLERS, "i32.add", broken)
    C.check_module((ROOT / "oracle" / "corpus" / "int_arith.wasm").read_bytes())
    sigs = [r["signature"] for r in _recorded(findings_dir)]
    assert sigs and all(s.startswith("compiler crash|winch-") for s in sigs)
    assert {s.split("|")[2] for s in sigs} == {"x64", "aarch64", "s390x"}


def test_compile_mutants_compile_cleanly(findings_dir):
    import atheris

    import fuzz_targets.compile as C

    rng = random.Random(3)
    for _ in range(150):
        C.TestOneInput(bytes(rng.randrange(256) for _ in range(rng.randint(4, 40))))
    assert C.STATS["inputs"] >= 150 and C.STATS["compiled"] > 0
    assert _recorded(findings_dir) == []
    assert isinstance(C.mutate(atheris.FuzzedDataProvider(b"\x01\x02\x03")), object)


def test_differential_records_a_finding_as_a_crash_file(findings_dir, monkeypatch):
    import fuzz_targets.differential as D
    from oracle.crashfile import read_crash
    from tests.test_oracle_diff import Broken

    monkeypatch.setattr(D, "ENGINES", ("wasmtime", Broken("spurious-trap")))
    from tests.wasm_util import wat

    mod = bytes(wat((ROOT / "tests" / "wat" / "kinds" / "spurious_trap.wat").read_text()))
    D.check_module(mod)
    D.check_module(mod)
    rec = _recorded(findings_dir)
    assert len(rec) == 1 and rec[0]["signature"] == "spurious trap|wasmtime~winch-x64|x64|ok#0"
    module, plan, meta = read_crash((findings_dir / rec[0]["file"]).read_bytes())
    assert module == mod and meta["signature"] == rec[0]["signature"] and plan.calls
