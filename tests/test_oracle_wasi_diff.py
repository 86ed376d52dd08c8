"""`oracle diff --wasi` (oracle/wasi_diff.py) on hand-made WASI commands: no toolchain needed.

Agreement on every engine; each kind of difference (exit code, trap, stdout, stderr, files)
detected through a deliberately wrong engine double; clocks and random bytes compared among
our ISAs only; a planted compiler bug saved with --save and replayed from its crash file
(which carries the arguments, environment, stdin and directory template); bad input.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import pytest
import wasmtime

from oracle.cli import main as oracle_main
from oracle.crashfile import read_crash
from oracle.outcomes import Trap, TrapKind
from oracle.wasi_diff import WasiSpec, WinchWasi, run_wasi_diff

W = "wasi_snapshot_preview1"
# reads argv[1] (its length is the exit code, minus 1), stdin (4 bytes, echoed to stdout), the
# template's in.txt (copied to out.txt) and $E (to stderr); writes "hello\n" to stdout
PROGRAM = wasmtime.wat2wasm(f"""(module
  (import "{W}" "args_sizes_get" (func $asz (param i32 i32) (result i32)))
  (import "{W}" "args_get" (func $args (param i32 i32) (result i32)))
  (import "{W}" "environ_sizes_get" (func $esz (param i32 i32) (result i32)))
  (import "{W}" "environ_get" (func $env (param i32 i32) (result i32)))
  (import "{W}" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "{W}" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "{W}" "fd_close" (func $close (param i32) (result i32)))
  (import "{W}" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32)
                                        (result i32)))
  (import "{W}" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "hello\\n")
  (data (i32.const 120) "in.txt")
  (data (i32.const 130) "out.txt")
  (func $put (param $fd i32) (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p)) (i32.store (i32.const 4) (local.get $n))
    (drop (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") (local $fd i32) (local $n i32) (local $len i32)
    (call $put (i32.const 1) (i32.const 100) (i32.const 6))
    ;; stdin
    (i32.store (i32.const 0) (i32.const 200)) (i32.store (i32.const 4) (i32.const 4))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $put (i32.const 1) (i32.const 200) (i32.load (i32.const 8)))
    ;; environment: the whole block to stderr
    (drop (call $esz (i32.const 16) (i32.const 20)))
    (drop (call $env (i32.const 300) (i32.const 400)))
    (call $put (i32.const 2) (i32.const 400) (i32.load (i32.const 20)))
    ;; in.txt -> out.txt (64 bytes at most)
    (drop (call $open (i32.const 3) (i32.const 1) (i32.const 120) (i32.const 6) (i32.const 0)
                      (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0)
                      (i32.const 24)))
    (local.set $fd (i32.load (i32.const 24)))
    (i32.store (i32.const 0) (i32.const 500)) (i32.store (i32.const 4) (i32.const 64))
    (drop (call $read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
    (local.set $n (i32.load (i32.const 8)))
    (drop (call $close (local.get $fd)))
    (drop (call $open (i32.const 3) (i32.const 1) (i32.const 130) (i32.const 7) (i32.const 1)
                      (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0)
                      (i32.const 24)))
    (call $put (i32.load (i32.const 24)) (i32.const 500) (local.get $n))
    ;; exit code: len(argv[1]) - 1 (a subtraction: the planted bug makes it an addition)
    (drop (call $asz (i32.const 16) (i32.const 20)))
    (drop (call $args (i32.const 600) (i32.const 700)))
    (local.set $len (i32.sub (i32.load (i32.const 20))
                             (i32.sub (i32.load (i32.const 604)) (i32.load (i32.const 600)))))
    (call $exit (i32.sub (local.get $len) (i32.const 1)))))""")

ENGINES = ["wasmtime", "winch-x64", "winch-aarch64", "winch-s390x"]


@pytest.fixture
def template(tmp_path):
    t = tmp_path / "template"
    (t / "sub").mkdir(parents=True)
    (t / "in.txt").write_bytes(b"from the template\n")
    (t / "sub" / "keep").write_bytes(b"kept")
    return t


def _spec(template, arg="abcd"):
    return WasiSpec(["prog.wasm", arg], [("E", "1"), ("F", "two")], [(str(template), ".")],
                    b"stdin-data")


def _diff(tmp_path, template, *extra, wasm=PROGRAM, arg="abcd", capsys=None):
    path = tmp_path / "prog.wasm"
    path.write_bytes(wasm)
    stdin = tmp_path / "stdin"
    stdin.write_bytes(b"stdin-data")
    rc = oracle_main(["diff", "--wasi", str(path), "--dir", f"{template}::.", "--env", "E=1",
                      "--env", "F=two", "--stdin", str(stdin), "--json", *extra, "--", arg])
    return rc, json.loads(capsys.readouterr().out)


def test_every_engine_agrees(tmp_path, template, capsys):
    rc, got = _diff(tmp_path, template, capsys=capsys)
    assert rc == 0 and got["verdict"] == "agree", got["findings"]
    for isa in ("x64", "aarch64", "s390x"):
        assert got["compared"][f"winch-{isa}"] == 1
    ref = got["engines"]["wasmtime"]
    # exit: len("abcd") + 1 (its NUL) - 1; out.txt was written to the copy, not the template
    assert ref["exit"] == 4 and ref["stdout"] == "hello\nstdi" and ref["stderr"] == "E=1\0F=two\0"
    assert ref["files"]["."] == ["in.txt", "out.txt", "sub", "sub/keep"]
    assert sorted(p.name for p in template.iterdir()) == ["in.txt", "sub"]


class Wrong:
    """An engine double: winch-x64's run, then one aspect changed."""

    def __init__(self, change, name="winch-x64"):
        self.name, self.change = name, change

    def run(self, data, spec, timeout, canonicalize_nans=False):
        run = WinchWasi("x64").run(data, spec, timeout, canonicalize_nans)
        run.name = self.name
        return self.change(run)


def _files(run):
    run.trees["."]["out.txt"] += b"!"
    return run


WRONG = {
    "wrong exit code": lambda r: dataclasses.replace(r, exit=r.exit + 1),
    "spurious trap": lambda r: dataclasses.replace(r, exit=None,
                                                   trap=Trap(TrapKind.unreachable, "")),
    "wrong stdout": lambda r: dataclasses.replace(r, stdout=r.stdout[:-1]),
    "wrong stderr": lambda r: dataclasses.replace(r, stderr=b"E=2" + r.stderr[3:]),
    "wrong files": _files,
}


@pytest.mark.parametrize("kind", sorted(WRONG))
def test_each_difference_is_a_finding(kind, template):
    result = run_wasi_diff(PROGRAM, _spec(template), ["wasmtime", Wrong(WRONG[kind])])
    assert result.verdict == "findings"
    assert [f.kind for f in result.findings] == [kind]
    f = result.findings[0]
    assert f.engines == ("wasmtime", "winch-x64") and f.isa == "x64"
    assert str(f.identity) == f"{kind}|wasmtime~winch-x64|_start|result"


def test_a_trap_on_the_reference_only_is_missing(template):
    result = run_wasi_diff(PROGRAM, _spec(template), [Wrong(WRONG["spurious trap"]), "wasmtime"])
    assert [f.kind for f in result.findings] == ["missing trap"]


@pytest.mark.parametrize("exit_in_start", [True, False])
def test_start_function_exits_or_traps(exit_in_start, template):
    """proc_exit (or a trap) in the start function, before `_start`: wasmtime-py reports
    both at instantiation; the engines still agree on the exit code and output."""
    end = "(call $x (i32.const 9))" if exit_in_start else "unreachable"
    data = wasmtime.wat2wasm(f"""(module
      (import "{W}" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (import "{W}" "proc_exit" (func $x (param i32)))
      (memory (export "memory") 1)
      (data (i32.const 100) "from start")
      (func $s (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 10))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) {end})
      (start $s)
      (func (export "_start") (call $x (i32.const 3))))""")
    result = run_wasi_diff(data, _spec(template), ENGINES)
    assert not result.findings
    for run in result.runs.values():
        if exit_in_start:
            assert (run.status, run.exit, run.stdout) == ("ok", 9, b"from start")
        else:
            assert run.status == "trapped at start"
    assert result.verdict == ("agree" if exit_in_start else "nothing compared")


RANDOM = wasmtime.wat2wasm(f"""(module
  (import "{W}" "random_get" (func $rand (param i32 i32) (result i32)))
  (import "{W}" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "{W}" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $rand (i32.const 100) (i32.const 16)))
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 120)))
    (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 28))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))""")


def test_clock_and_random_compare_among_our_isas(template):
    """wasmtime's clock and random cannot be fixed: its output differs, inconclusively;
    our three ISAs read the same fixed sources and are compared with each other."""
    result = run_wasi_diff(RANDOM, _spec(template), ENGINES)
    assert result.verdict == "agree" and result.nondeterministic
    assert result.compared["winch-aarch64"] == result.compared["winch-s390x"] == 1
    assert any("clock or random" in r for r in result.inconclusive)
    outs = {r.stdout for n, r in result.runs.items() if n.startswith("winch-")}
    assert len(outs) == 1 and len(outs.pop()) == 28
    wrong = Wrong(WRONG["wrong stdout"], name="winch-fake")
    result = run_wasi_diff(RANDOM, _spec(template), ["wasmtime", "winch-x64", wrong])
    assert [(f.kind, f.engines) for f in result.findings] == [
        ("wrong stdout", ("winch-x64", "winch-fake"))]


def test_planted_bug_saved_and_replayed(tmp_path, template, capsys):
    """The crash file carries args, env, stdin and the template (embedded: replay works
    after the template is gone)."""
    crash = tmp_path / "crash.wasm"
    rc, got = _diff(tmp_path, template, "--engines", "wasmtime,winch-s390x", "--mutant",
                    "sub-is-add", "--save", str(crash), capsys=capsys)
    assert rc == 1
    assert [f["kind"] for f in got["findings"]] == ["wrong exit code"]
    assert got["engines"]["winch-s390x"]["exit"] != 4
    _module, _plan, meta = read_crash(crash.read_bytes())
    assert meta["wasi"]["args"] == ["prog.wasm", "abcd"]
    assert meta["wasi"]["env"] == [["E", "1"], ["F", "two"]]
    shutil.rmtree(template)
    rc = oracle_main(["replay", str(crash), "--json", "--mutant", "sub-is-add"])
    got = json.loads(capsys.readouterr().out)
    assert rc == 1 and got["replay"] == "reproduces"
    assert got["engines"]["wasmtime"]["stdout"] == "hello\nstdi"
    assert got["engines"]["wasmtime"]["files"]["."] == ["in.txt", "out.txt", "sub", "sub/keep"]
    rc = oracle_main(["replay", str(crash), "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["replay"] == "fixed"
    assert oracle_main(["reduce", str(crash), "-o", str(tmp_path / "min.wasm")]) == 2
    assert "--command" in capsys.readouterr().err  # no WASI predicate of its own (yet)


def test_bad_input(tmp_path, template, capsys):
    path = tmp_path / "prog.wasm"
    path.write_bytes(PROGRAM)
    fifo_dir = tmp_path / "fifo"
    fifo_dir.mkdir()
    os.mkfifo(fifo_dir / "pipe")
    nostart = tmp_path / "nostart.wasm"
    nostart.write_bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1))'))
    cases = [
        (["diff", "--wasi", str(path), "--dir", str(tmp_path / "missing")], "not a directory"),
        (["diff", "--wasi", str(path), "--env", "NOEQUALS"], "NAME=VALUE"),
        (["diff", "--wasi", str(path), "--stdin", str(tmp_path / "nope")], "cannot read"),
        (["diff", "--wasi", str(path), "--timeout", "0"], "must be > 0"),
        (["diff", "--wasi", str(path), "--fuel", "5"], "do not apply"),
        (["diff", str(path), "--dir", str(template)], "needs --wasi"),
        (["diff", "--wasi", str(nostart)], "_start"),
        (["diff", "--wasi", str(path), "--dir", str(fifo_dir)], "cannot copy"),
    ]
    for argv, says in cases:
        assert oracle_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, (argv, err)
