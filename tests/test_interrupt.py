"""Ctrl-C: one line and exit 130, never a traceback; a campaign stops its workers and keeps
what it did (state, summary, report) so that `--resume` can go on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from winch.cli_common import run_main

ROOT = Path(__file__).resolve().parent.parent


def test_run_main_turns_ctrl_c_into_one_line_and_130(capsys):
    def body(argv):
        raise KeyboardInterrupt

    assert run_main("winch", body, []) == 130
    err = capsys.readouterr().err
    assert err.strip() == "winch: interrupted"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by anyone) is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_interrupted_campaign_stops_workers_and_writes_its_report(tmp_path):
    out = tmp_path / "c"
    argv = [sys.executable, "-m", "oracle.cli", "campaign", "--out", str(out), "--minutes", "2",
            "--jobs", "1", "--targets", "validate", "--quiet"]
    # the default SIGINT disposition, as in a terminal (a background job inherits SIG_IGN)
    p = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state = out / "state.json"
    deadline = time.monotonic() + 60
    workers = {}
    while time.monotonic() < deadline and not workers:  # until a worker runs
        time.sleep(0.5)
        try:
            workers = json.loads(state.read_text()).get("workers") or {}
        except (OSError, ValueError):
            pass
    assert workers, "no worker started"
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr and "--resume" in stderr
    for pid in workers:
        assert not _alive(int(pid)), f"worker {pid} still runs"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["workers"] and all(w["end"] is not None for w in summary["workers"])
    assert any(w["how"] == "stopped (campaign interrupted)" for w in summary["workers"])
    assert (out / "report.html").exists()
    # nothing lost: the corpus the worker built is still there
    assert any((out / "corpus" / "validate").iterdir())
