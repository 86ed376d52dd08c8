"""The assembler fuzz target (fuzz_targets/assemble.py) runs cleanly: in-process on random
inputs through `check_one`, and as a libFuzzer process for a few hundred runs."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from fuzz_targets.assemble import check_one

ROOT = Path(__file__).resolve().parent.parent


def test_check_one_on_random_inputs():
    rng = random.Random(20240607)
    for _ in range(300):
        data = rng.randbytes(rng.randrange(0, 96))
        check_one(data)  # raises AssertionError / AssemblerCrash on a finding


def test_check_one_on_empty_and_tiny_inputs():
    for data in (b"", b"\x00", b"\xff", b"\xff" * 4, bytes(range(32))):
        check_one(data)


def test_libfuzzer_runs(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ASM_FUZZ_KNOWN"}
    proc = subprocess.run(
        [sys.executable, "-m", "fuzz_targets.assemble", str(corpus), "-runs=200", "-seed=1",
         f"-artifact_prefix={tmp_path}{os.sep}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
