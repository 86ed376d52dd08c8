"""The whole spec suite through the runner: 0 failures on wasmtime and on the front end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.engines import get_engine
from oracle.spectest.runner import run_script
from oracle.spectest.script import parse_script
from tests.suite_modules import suite_files


def _run_suite(engine_name: str):
    engine = get_engine(engine_name)
    results = []
    for path in suite_files():
        with open(path, "rb") as f:
            results.append(run_script(engine, parse_script(f.read(), path)))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ["wasmtime", "frontend", "winch-x64", "winch-aarch64",
                                         "winch-s390x", "interp"])
def test_spec_suite_has_no_failures(engine_name):
    results = _run_suite(engine_name)
    failures = [(r.path, f.line, f.message) for r in results for f in r.failures]
    assert not failures, failures[:10]
    passed = sum(r.passed for r in results)
    assert passed > {"wasmtime": 60000, "frontend": 6000}.get(engine_name, 35000)
    reasons = set().union(*(r.skip_reasons for r in results))
    if engine_name == "frontend":
        # only "not run" and named out-of-scope features
        assert all(x == "not run: front end only" or x.startswith("unsupported: ")
                   for x in reasons), reasons
    if engine_name.startswith("winch-") or engine_name == "interp":
        # only features outside core-2.0 scalar, by name (directly or through a dependency)
        in_scope = ("mvp", "sign-extension", "nontrapping-float-to-int", "bulk-memory",
                    "reference-types", "multi-value")
        for x in reasons:
            assert "unsupported: " in x and not any(x.endswith(f) for f in in_scope), x


def test_missing_suite_is_a_skip_that_names_SPEC_TESTSUITE(tmp_path):
    """Without the suite, the tests that need it are skipped, saying where to get it (they
    used to fail with FileNotFoundError)."""
    test_file = Path(__file__).resolve().parent / "test_frontend_suite.py"
    env = dict(os.environ, SPEC_TESTSUITE=str(tmp_path / "nonexistent"))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                        "-p", "no:xdist", str(test_file)], cwd=Path(__file__).parent.parent,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "2 skipped" in r.stdout and "passed" not in r.stdout and "failed" not in r.stdout, \
        r.stdout[-3000:]
    skips = [line for line in r.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skips and all("spec test suite not found at" in line and "SPEC_TESTSUITE=DIR" in line
                         and "github.com/WebAssembly/testsuite" in line for line in skips), skips
