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
    # wasmtime-winch (a third opinion) is not given modules with table instructions, on which
    # wasmtime 50.0.1's Winch crashes the process (oracle.engines.wasmtime_engine)
    from oracle.engines.wasmtime_engine import WINCH_CRASHING_OPS

    declined = {n for n, run in r.runs.items() if n == "wasmtime-winch"
                and run.status == "unsupported"
                and any(op in run.detail for op in WINCH_CRASHING_OPS)}
    assert declined == (set() if path.stem != "bulk_reftypes" else {"wasmtime-winch"})
    assert all(run.status == "ok" for n, run in r.runs.items() if n not in declined)
