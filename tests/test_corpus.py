"""The seed corpus: binaries up to date with their sources, and every engine agrees on them."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from oracle.diff import DEFAULT_ENGINES, run_diff

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "oracle" / "corpus").glob("*.wasm"))


def test_binaries_match_their_sources():
    assert len(SEEDS) == len(list((ROOT / "oracle" / "corpus" / "src").glob("*.wat"))) >= 8
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_corpus.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_engines_agree_on_seed(path):
    r = run_diff(path.read_bytes(), DEFAULT_ENGINES, determinism="all")
    assert r.agree, [f.signature for f in r.findings]
    assert all(run.status == "ok" for run in r.runs.values())
