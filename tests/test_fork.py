"""libFuzzer's -fork/-jobs/-workers modes start each child by running argv[0] - the target's
.py file under `python -m` - through the shell (they failed with exit 126: the file was not
executable).  Every target is an executable script that imports its package when run by
path, and in those modes the children run through a wrapper that uses the parent's own
interpreter, even when it is not on PATH (a virtual environment that is not activated) and
when the file is not executable (pip drops the mode; tests/test_install.py forks there)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("differential", "validate", "compile", "assemble")
# PATH without the virtual environment: `python3` there is the system one (no atheris)
BARE_PATH = os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin")
                            if os.path.isdir(p))


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "ASM_FUZZ_KNOWN")}
    env.update(PATH=BARE_PATH, ORACLE_FINDINGS_DIR=str(tmp_path / "findings"))
    return env


@pytest.mark.parametrize("target", TARGETS)
def test_target_file_is_an_executable_script(tmp_path, target):
    path = ROOT / "fuzz_targets" / f"{target}.py"
    assert path.read_text().startswith("#!/usr/bin/env python3\n")
    assert os.access(path, os.X_OK), f"{path} is not executable (git add --chmod=+x)"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # run by path, from elsewhere (the shebang's python3 must have atheris: this test's
    # interpreter goes first on PATH, as an activated virtual environment does)
    env = _env(tmp_path)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    proc = subprocess.run([str(path), str(corpus), "-runs=3", "-seed=1"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^Done \d+ runs", proc.stderr, re.M), proc.stderr[-3000:]


# (target, seconds, executions the children report at least): the differential target's
# children each import wasmtime, Unicorn and the instrumented compiler first (2-3 s, more on
# a loaded machine), and libFuzzer gives its first jobs 1, 2, 3... seconds each
FORKS = [("validate", 5, 100),
         pytest.param("differential", 15, 1, marks=pytest.mark.slow)]  # ~20 s


@pytest.mark.parametrize("target,seconds,min_runs", FORKS)
def test_fork_mode_runs_inputs_in_children(tmp_path, target, seconds, min_runs):
    """`python -m fuzz_targets.TARGET CORPUS -fork=2` from a bare environment: the parent's
    interpreter named by path, not on PATH, no PYTHONPATH, run from elsewhere."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    env = _env(tmp_path)
    if target == "differential":  # it may well find a real bug: recorded, the run goes on
        env["ORACLE_FUZZ_KEEP_GOING"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", f"fuzz_targets.{target}", str(corpus), "-fork=2",
         f"-max_total_time={seconds}", "-seed=1", f"-artifact_prefix={tmp_path}{os.sep}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    err = proc.stderr
    assert proc.returncode == 0, err[-3000:]  # was 126: "validate.py: Permission denied"
    assert "-fork=2: fuzzing in separate process" in err, err[-3000:]
    # the parent's progress lines count the children's executions; what the children found
    # is merged into the corpus
    runs = [int(n) for n in re.findall(r"^#(\d+): cov: \d+", err, re.M)]
    assert runs and max(runs) >= min_runs, err[-3000:]
    assert any(corpus.iterdir()), "the children added nothing to the corpus"
    if target == "validate":  # (no bug to find there)
        assert not (tmp_path / "findings").exists()
