"""A finding made with a compile option that is off by default (NaN canonicalization, fuel,
an epoch deadline) keeps it everywhere it goes: the differential target diffs with the
options its environment names and records them in the crash file; the mutant hunt (and a
campaign with `--mutant`) gives the target a deliberate bug's options; the reducer
(`oracle reduce`, from the file or `--fuel` / `--epoch-deadline`) and the regression files
run with them; and `oracle spectest --canonicalize-nans` compiles every engine with
canonicalization, the scripts' NaN patterns still matching.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys
import types

import pytest

from oracle.crashfile import read_crash, write_crash
from oracle.diff import DEFAULT_ENGINES, run_diff
from oracle.plan import Call, Plan
from tests.wasm_util import wat

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("mutants", ROOT / "scripts" / "mutants.py")
mutants = sys.modules.setdefault("mutants", importlib.util.module_from_spec(_spec))
if not hasattr(mutants, "hunt_one"):
    _spec.loader.exec_module(mutants)


# -- the differential target ----------------------------------------------------------------
def test_differential_target_diffs_and_records_fuel_and_epoch(tmp_path, monkeypatch):
    import fuzz_targets.differential as D
    import oracle.diff
    from oracle.compare import Finding

    seen = []

    def fake(wasm, engines, plan=None, *, determinism="one", canonicalize_nans=False,
             fuel=None, epoch_deadline=None):
        seen.append((canonicalize_nans, fuel, epoch_deadline))
        r = oracle.diff.DiffResult(list(engines), Plan(), {})
        r.findings.append(Finding("fuel mismatch", ("wasmtime", "winch-x64"), "x64", "f#0"))
        return r

    monkeypatch.setattr(D, "run_diff", fake)
    monkeypatch.setenv("ORACLE_FINDINGS_DIR", str(tmp_path))
    monkeypatch.setenv("ORACLE_FUZZ_KEEP_GOING", "1")
    for i, (fuel, deadline) in enumerate(((None, None), (400, None), (None, 0), (7, 3))):
        monkeypatch.setattr(D, "FUEL", fuel)
        monkeypatch.setattr(D, "EPOCH_DEADLINE", deadline)
        D.check_module(wat(f'(module (func (export "f{i}")))'))
        crash = max(tmp_path.glob("*.wasm"), key=lambda p: p.stat().st_mtime_ns)
        meta = read_crash(crash.read_bytes())[2]
        assert (meta.get("fuel"), meta.get("epoch_deadline")) == (fuel, deadline)
        assert "canonicalize_nans" not in meta
        for p in tmp_path.glob("*"):
            p.unlink()
    assert seen == [(False, None, None), (False, 400, None), (False, None, 0), (False, 7, 3)]


def test_differential_target_reads_the_environment(monkeypatch):
    import fuzz_targets.differential as D

    for text, want in (("", None), ("0", 0), ("5000", 5000), ("0x10", 16)):
        monkeypatch.setenv("ORACLE_FUEL", text)
        assert D._limit("ORACLE_FUEL") == want
    for bad in ("-1", "lots", str(1 << 64)):
        monkeypatch.setenv("ORACLE_FUEL", bad)
        with pytest.raises(SystemExit, match="ORACLE_FUEL"):
            D._limit("ORACLE_FUEL")
    monkeypatch.delenv("ORACLE_ENGINES", raising=False)
    assert D.engines_from_env(None) == DEFAULT_ENGINES
    # wasmtime's own Winch counts fuel its own way: not by default with fuel
    assert D.engines_from_env(60) == tuple(e for e in DEFAULT_ENGINES if e != "wasmtime-winch")
    monkeypatch.setenv("ORACLE_ENGINES", "wasmtime,wasmtime-winch")
    assert D.engines_from_env(60) == ("wasmtime", "wasmtime-winch")


def test_a_bad_limit_stops_the_target_with_one_line():
    import os

    r = subprocess.run([sys.executable, "-m", "fuzz_targets.differential", "-runs=0"],
                       cwd=ROOT, env=dict(os.environ, ORACLE_EPOCH_DEADLINE="soon"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "$ORACLE_EPOCH_DEADLINE='soon'" in r.stderr.strip().splitlines()[-1]


# -- the hunt ---------------------------------------------------------------------------------
def test_every_option_mutant_names_options_the_target_knows():
    from oracle.mutants import ENV_OF

    need = [m for m in mutants.MUTANTS if m.options]
    assert {k for m in need for k, _ in m.options} == set(ENV_OF)  # each option has bugs
    for m in need:
        assert set(m.env) <= set(ENV_OF.values())
        run_diff(wat("(module)"), ["wasmtime", m.engine], **m.diff_options)  # accepted


def test_hunt_runs_the_target_with_the_mutants_options_only(monkeypatch):
    """A mutant's options reach the target's environment; the options of this process's
    environment do not (a hunt of the other bugs stays what it was)."""
    envs = []

    def fake_run(argv, env=None, **kw):
        envs.append(env)
        return types.SimpleNamespace(returncode=0, stderr="#7\tDONE\n", stdout="")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setenv("ORACLE_FUEL", "123")
    monkeypatch.setenv("ORACLE_CANONICALIZE_NANS", "1")
    r = mutants.hunt_one("x64-fuel-check-before-charge", 1)
    assert not r["found"] and r["runs"] == 7
    assert envs[-1]["ORACLE_FUEL"] == "60" and "ORACLE_CANONICALIZE_NANS" not in envs[-1]
    mutants.hunt_one("x64-canonical-nan-negative", 1)
    assert envs[-1]["ORACLE_CANONICALIZE_NANS"] == "1" and "ORACLE_FUEL" not in envs[-1]
    mutants.hunt_one("sub-is-add", 1)
    assert not {"ORACLE_FUEL", "ORACLE_CANONICALIZE_NANS", "ORACLE_EPOCH_DEADLINE"} & set(
        envs[-1])


def test_hunt_without_only_runs_every_mutant(monkeypatch, capsys):
    import importlib.util as iu

    ran = []

    def fake_one(name, seconds, seed=1, engines=""):
        ran.append(name)
        return {"mutant": name, "found": True, "seconds": 1.0, "runs": 3, "signature": "s",
                "kind": "k", "died": "", "unplanted": ""}

    monkeypatch.setattr(mutants, "hunt_one", fake_one)
    monkeypatch.setattr(iu, "find_spec", lambda name, *a: object())  # atheris "installed"
    assert mutants.hunt(1.0) == 0
    assert ran == [m.name for m in mutants.MUTANTS]
    out = capsys.readouterr().out
    assert f"{len(mutants.MUTANTS)}/{len(mutants.MUTANTS)} found" in out


def test_a_campaign_with_a_mutant_gives_its_workers_the_mutants_options(tmp_path,
                                                                       monkeypatch):
    import oracle.campaign.runner as runner

    envs = []

    class FakePopen:
        pid = 424243

        def __init__(self, argv, env=None, **kw):
            envs.append(env)

    monkeypatch.setattr(runner.subprocess, "Popen", FakePopen)
    monkeypatch.delenv("ORACLE_FUEL", raising=False)
    for mutant, var, value in (("x64-fuel-check-before-charge", "ORACLE_FUEL", "60"),
                               ("sub-is-add", "ORACLE_FUEL", None),
                               ("s390x-epoch-entry-unchecked", "ORACLE_EPOCH_DEADLINE", "0")):
        r = runner.Runner(runner.Options(out=str(tmp_path / mutant), targets=("differential",),
                                         mutant=mutant), progress=False)
        r._spawn("differential", 1)
        assert envs[-1]["ORACLE_MUTANT"] == mutant and envs[-1].get(var) == value


def _case(name: str) -> bytes:
    return wat((ROOT / "tests" / "wat" / "mutants" / f"{name}.wat").read_text())


@pytest.mark.parametrize("name", ["fuel-loop-charge-one-short", "aarch64-epoch-past-deadline"])
def test_hunt_checks_a_finding_without_the_bug_with_the_files_options(name):
    m = mutants.BY_NAME[name]
    wasm = _case(name)
    with mutants.applied(name):
        r = run_diff(wasm, ["wasmtime", m.engine], **m.diff_options)
    crash = write_crash(wasm, r.plan, r.findings[0].signature,
                        identity=str(r.findings[0].identity), **m.diff_options)
    assert not mutants.shows_without_bug(crash, r.findings[0].signature)
    with mutants.applied(name):
        assert mutants.shows_without_bug(crash, r.findings[0].signature)


# -- reduction ----------------------------------------------------------------------------------
def test_predicates_run_with_fuel_and_epoch(monkeypatch):
    import oracle.diff
    from oracle.reduce.predicate import IsolatedPredicate, SignaturePredicate

    sig = "fuel mismatch|wasmtime~winch-x64|x64|f#0"
    seen = []

    def fake(wasm, engines, plan=None, *, determinism="one", canonicalize_nans=False,
             fuel=None, epoch_deadline=None):
        seen.append((fuel, epoch_deadline,
                     [(e.engine.user_fuel, e.engine.epoch_deadline) for e in engines]))
        return oracle.diff.DiffResult([e.name for e in engines], plan, {})

    monkeypatch.setattr(oracle.diff, "run_diff", fake)
    mod = wat('(module (func (export "f")))')
    for fuel, deadline in ((None, None), (60, None), (None, 0), (5, 9)):
        assert not SignaturePredicate(sig, fuel=fuel, epoch_deadline=deadline)(mod, Plan())
        assert seen[-1] == (fuel, deadline, [(fuel, deadline)] * 2)
        config = IsolatedPredicate(sig, fuel=fuel, epoch_deadline=deadline).config
        assert (config["fuel"], config["epoch_deadline"]) == (fuel, deadline)


def _reduce_argv(crash, out, *extra):
    return ["reduce", str(crash), "-o", str(out), "--quiet", "--json", "--max-seconds", "60",
            *extra]


def test_reduce_takes_the_limits_from_the_file_or_the_command_line(tmp_path, monkeypatch,
                                                                   capsys):
    """`--fuel` / `--epoch-deadline` win over the crash file's; without them, the file's."""
    import oracle.reduce.predicate as P
    from oracle.cli import main

    made = []

    class Stub:
        def __init__(self, signature, **kw):
            made.append(kw)

        def __call__(self, wasm, plan):
            return False

    monkeypatch.setattr(P, "IsolatedPredicate", Stub)
    mod = wat('(module (func (export "f")))')
    crash = tmp_path / "c.wasm"
    crash.write_bytes(write_crash(mod, Plan([Call("f", ())]),
                                  "fuel mismatch|wasmtime~winch-x64|x64|f#0", fuel=60))
    for extra, want in (([], (60, None)), (["--fuel", "7"], (7, None)),
                        (["--epoch-deadline", "0"], (60, 0))):
        assert main(_reduce_argv(crash, tmp_path / "m.wasm", *extra)) == 1  # not interesting
        assert (made[-1].get("fuel"), made[-1].get("epoch_deadline")) == want
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:  # bad usage: one line, exit 2
        main(_reduce_argv(crash, tmp_path / "m.wasm", "--fuel", "-3"))
    assert e.value.code == 2 and "--fuel" in capsys.readouterr().err


def test_a_fuel_finding_reduces_and_its_regression_runs_with_fuel(tmp_path, capsys):
    """End to end: a deliberate fuel bug's finding, in a module with things to remove,
    reduces with the file's fuel (without it the finding would not show), and the regression
    file saved from it records the fuel and the fuel left wasmtime computes."""
    from oracle.cli import main
    from tests.test_regressions import test_regression

    name = "aarch64-fuel-unsaved-at-call"
    m = mutants.BY_NAME[name]
    wasm = wat('(module (global $g (export "g") (mut i32) (i32.const 0))'
               ' (func $h (param i32) (result i32) local.get 0 i32.const 3 i32.mul)'
               ' (func $k)'
               ' (func (export "f") (param i32) (result i32)'
               '  local.get 0 i32.const 1 i32.add global.set $g'
               '  local.get 0 call $h drop call $k global.get $g))')
    with mutants.applied(name):
        r = run_diff(wasm, ["wasmtime", m.engine], **m.diff_options)
    assert [f.kind for f in r.findings] == ["fuel mismatch"]
    crash = tmp_path / "crash.wasm"
    crash.write_bytes(write_crash(wasm, r.plan, r.findings[0].signature,
                                  identity=str(r.findings[0].identity), **m.diff_options))
    out = tmp_path / "min.wasm"
    regressions = tmp_path / "reg"
    code = main(_reduce_argv(crash, out, "--mutant", name, "--save-regression",
                             str(regressions)))
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["instructions_after"] < report["instructions_before"]
    _, _, meta = read_crash(out.read_bytes())
    assert meta["fuel"] == 5000
    reg = pathlib.Path(report["regression"])
    _, plan, reg_meta = read_crash(reg.read_bytes())
    assert reg_meta["fuel"] == 5000 and len(reg_meta["expected_fuel"]) == len(plan.calls)
    for isa in ("x64", "aarch64", "s390x"):  # no bug planted: every ISA counts as wasmtime
        test_regression(reg, isa)


# -- the spec suite with NaN canonicalization ----------------------------------------------
SCRIPT = """
(module
  (func (export "add") (param f32 f32) (result f32) (f32.add (local.get 0) (local.get 1)))
  (func (export "div-bits") (param f32 f32) (result i32)
    (i32.reinterpret_f32 (f32.div (local.get 0) (local.get 1))))
  (func (export "min-bits") (param f64 f64) (result i64)
    (i64.reinterpret_f64 (f64.min (local.get 0) (local.get 1)))))
(assert_return (invoke "add" (f32.const nan:0x200000) (f32.const 1)) (f32.const nan:arithmetic))
(assert_return (invoke "add" (f32.const inf) (f32.const -inf)) (f32.const nan:canonical))
(assert_return (invoke "div-bits" (f32.const 0) (f32.const 0)) (i32.const 0x7fc00000))
(assert_return (invoke "div-bits" (f32.const -nan:0x1234) (f32.const 1)) (i32.const 0x7fc00000))
(assert_return (invoke "min-bits" (f64.const nan:0x4000000000000) (f64.const 1))
               (i64.const 0x7ff8000000000000))
"""


@pytest.mark.parametrize("engine", ["wasmtime", "winch-x64", "winch-aarch64", "winch-s390x"])
def test_spectest_compiles_every_engine_with_canonicalization(engine, tmp_path, capsys):
    """The bit patterns of NaN results are the canonical NaN's with the option (all pass),
    what each ISA makes without it (some fail); the NaN patterns match either way."""
    from oracle.cli import main

    path = tmp_path / "canon.wast"
    path.write_text(SCRIPT)
    assert main(["spectest", "--engine", engine, "--canonicalize-nans", "--json",
                 str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["canonicalize_nans"] is True
    assert report["total"]["passed"] == 6 and report["total"]["failed"] == 0  # (module too)
    assert main(["spectest", "--engine", engine, "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["canonicalize_nans"] is False and 1 <= report["total"]["failed"] <= 3
