"""`pip install .` (not editable) gives working commands, with no checkout beside them.

The project is built into a wheel from a copy of the source tree and installed into a fresh
virtual environment.  The dependencies are not downloaded again: the fresh environment sees
this environment's third-party packages through a directory of links (our own packages and
the editable install's hooks left out), so pip still checks that every requirement is met.
The commands then run from a directory outside the repository, with no PYTHONPATH: the
seed corpus, the crash-file store, the assembler reference and the fuzz targets must all
come from the installed packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import wasmtime

# one worker builds the environment for every test here (./dev.sh test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("install")

ROOT = Path(__file__).resolve().parent.parent
OURS = ("winch", "oracle", "fuzz_targets", "tests", "winch_py")
MODULE = """(module
  (memory (export "mem") 1)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "store_load") (param i64) (result i64)
    (i64.store offset=8 (i32.const 0) (local.get 0))
    (i64.load offset=8 (i32.const 0))))
"""


def _run(argv, *, cwd, env, timeout=300):
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _deps_dir(into: Path) -> Path:
    """Links to every third-party package of this environment, none of ours."""
    into.mkdir()
    dirs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    for d in dirs:
        for name in os.listdir(d):
            low = name.lower()
            if (low.endswith(".pth") or low.startswith("__editable__")
                    or low.split("-")[0].split(".")[0] in OURS or (into / name).exists()):
                continue
            (into / name).symlink_to(Path(d) / name)
    return into


def _imports(path: Path) -> set:
    import ast

    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package, forbidden", [
    ("winch", {"oracle", "fuzz_targets", "scripts", "tests"}),
    ("oracle", {"fuzz_targets", "scripts", "tests"}),
    ("fuzz_targets", {"scripts", "tests"}),
])
def test_layers_import_one_way(package, forbidden):
    """What an installed command imports must be installed: no package reaches into the
    checkout's scripts/ or tests/, and oracle starts fuzz targets only as processes."""
    bad = {str(p.relative_to(ROOT)): sorted(_imports(p) & forbidden)
           for p in (ROOT / package).rglob("*.py") if _imports(p) & forbidden}
    assert not bad, bad


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin dir, env, work dir, site-packages) of a fresh virtual environment with the
    project installed from a wheel."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "tests", "__pycache__", "*.egg-info", "build", "dist",
        ".hypothesis", ".pytest_cache", "campaign-out", "findings"))
    r = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "wheels"),
              str(src)], cwd=tmp, env=dict(os.environ), timeout=600)
    # (the isolated build fetches setuptools and wheel from the package index)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = (tmp / "wheels").glob("winch_py-*.whl")
    venv = tmp / "venv"
    r = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp,
             env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    py = venv / "bin" / "python"
    purelib = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                         "['purelib'])"], cwd=tmp, env={}).stdout.strip())
    (purelib / "_deps.pth").write_text(str(_deps_dir(tmp / "deps")) + "\n")
    # not -e; --no-index: every requirement must be met by what the environment has
    r = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index",
              str(wheel)], cwd=tmp, env=dict(os.environ), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"])
    work = tmp / "work"
    work.mkdir()
    m = bytes(wasmtime.wat2wasm(MODULE))
    (work / "m.wasm").write_bytes(m)
    return venv / "bin", env, work, purelib


@pytest.mark.slow  # the fixture builds a wheel and a virtual environment
def test_packages_come_from_the_install_not_the_source_tree(installed):
    bindir, env, work, purelib = installed
    code = ("import fuzz_targets.assemble, oracle, winch, oracle.findings_store\n"
            "from oracle.corpus import seeds\n"
            "print(winch.__file__); print(oracle.__file__); print(fuzz_targets.__file__)\n"
            "print(len(seeds()))\n"
            "try:\n    import tests\nexcept ImportError:\n    print('no tests')\n")
    r = _run([str(bindir / "python"), "-c", code], cwd=work, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.split()
    assert all(p.startswith(str(purelib)) for p in lines[:3]), lines
    assert int(lines[3]) >= 8 and lines[4:] == ["no", "tests"], lines


@pytest.mark.slow
def test_winch_commands(installed):
    bindir, env, work, _ = installed
    r = _run([str(bindir / "winch"), "--version"], cwd=work, env=env)
    assert r.returncode == 0 and r.stdout.strip(), r.stdout + r.stderr
    for isa in ("x64", "aarch64", "s390x"):
        r = _run([str(bindir / "winch"), "run", "--target", isa, "m.wasm", "--invoke", "add",
                  "2", "40"], cwd=work, env=env)
        assert r.returncode == 0 and r.stdout.strip() == "42:i32", (isa, r.stdout, r.stderr)


@pytest.mark.slow
def test_oracle_diff(installed):
    bindir, env, work, _ = installed
    r = _run([str(bindir / "oracle"), "diff", "m.wasm", "--json"], cwd=work, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert json.loads(r.stdout), r.stdout[:2000]
    # the deliberate bugs are installed too (they were scripts/mutants.py)
    r = _run([str(bindir / "oracle"), "diff", "m.wasm", "--mutant", "aarch64-add-is-sub"],
             cwd=work, env=env)
    assert r.returncode == 1 and "winch-aarch64" in r.stdout, r.stdout[-3000:] + r.stderr


@pytest.mark.slow
def test_twenty_second_campaign(installed):
    bindir, env, work, _ = installed
    out = work / "camp"
    r = _run([str(bindir / "oracle"), "campaign", "--minutes", "0.34", "--jobs", "1", "--out",
              str(out)], cwd=work, env=env, timeout=600)
    assert r.returncode in (0, 1), r.stdout[-3000:] + r.stderr[-3000:]  # 1: findings
    assert "fails to start" not in r.stderr, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["targets"]) == {"differential", "validate", "compile", "assemble"}
    for t, d in summary["targets"].items():
        assert d["execs"] > 0, (t, d, r.stderr[-3000:])
    assert (out / "report.html").stat().st_size > 1000
    # the seeds came from the installed package
    assert len(list((out / "corpus" / "validate").glob("*.wasm"))) >= 8


@pytest.mark.slow
def test_fork_mode_of_an_installed_target(installed):
    """-fork re-runs the target's file: pip does not keep its executable bit, and `python3`
    on PATH is not this environment's (fuzz_targets.child_command)."""
    bindir, env, work, _ = installed
    corpus = work / "fork-corpus"
    corpus.mkdir()
    r = _run([str(bindir / "python"), "-m", "fuzz_targets.validate", str(corpus), "-fork=2",
              "-max_total_time=4", "-seed=1"], cwd=work, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert any(corpus.iterdir()), r.stderr[-3000:]
