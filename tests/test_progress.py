"""Progress of long commands on stderr, terminal or not: `oracle reduce` (the campaign's is
tested with a campaign in test_campaign.py)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oracle.progress import Heartbeat

ROOT = Path(__file__).resolve().parent.parent


def test_heartbeat_writes_whole_lines_while_the_caller_is_busy():
    out = io.StringIO()  # not a terminal
    hb = Heartbeat("reduce", every=0.2, stream=out)
    hb("pass one   12 instrs")
    time.sleep(0.7)  # one long step: the line still comes
    hb.close()
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2 and "\r" not in out.getvalue(), lines
    assert all(line.startswith("[reduce 0:00] pass one   12 instrs") for line in lines)
    n = len(lines)
    time.sleep(0.5)
    assert len(out.getvalue().splitlines()) == n  # closed: silent
    quick = io.StringIO()
    Heartbeat("reduce", every=5, stream=quick).close()
    assert quick.getvalue() == ""  # a command done before the first beat prints nothing


def _module(tmp_path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.wasm_util import wat

    body = " ".join(f"(i32.add (i32.const {i}) (i32.const {i + 1})) drop" for i in range(12))
    p = tmp_path / "m.wasm"
    p.write_bytes(bytes(wat(f'(module (func (export "f") {body}))')))
    return p


def _reduce(tmp_path, *extra):
    """`oracle reduce` with a slow interestingness command (1 s a call), stderr a pipe."""
    cmd = tmp_path / "slow.py"  # interesting while 6 of the adds (then drops) are left
    cmd.write_text(f"#!{sys.executable}\nimport sys, time\ntime.sleep(1)\n"
                   "data = open(sys.argv[1], 'rb').read()\n"
                   "sys.exit(0 if data.count(bytes([0x6a, 0x1a])) >= 6 else 1)\n")
    cmd.chmod(0o755)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "oracle.cli", "reduce", str(_module(tmp_path)),
                        "-o", str(tmp_path / "min.wasm"), "--command", str(cmd), *extra],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    return r, time.monotonic() - t0


@pytest.mark.slow  # two reductions bounded at 11 and 7 s
def test_reduce_prints_progress_lines_on_a_pipe_and_none_with_quiet(tmp_path):
    r, took = _reduce(tmp_path, "--max-seconds", "11")
    assert r.returncode in (0, 3), r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("[reduce ")]
    assert took >= 10 and len(lines) >= 2, (took, r.stderr)  # one every 5 s
    assert "\r" not in r.stderr and "instrs" in lines[-1], lines
    r, took = _reduce(tmp_path, "--max-seconds", "7", "--quiet")
    assert r.returncode in (0, 3) and took >= 6, r.stderr  # past the first beat (5 s)
    assert "[reduce" not in r.stderr, r.stderr
