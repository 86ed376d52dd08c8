"""wasmtime's runner conventions in `oracle spectest`, so `tests/misc_testsuite` runs unchanged.

The fixtures in tests/wast/ exercise one convention each: named modules registered under
their name, `;;!` configuration headers (honoured, or the file skipped with the reason),
`thread`/`wait` and other unsupported commands skipped, and commands depending on a module
refused for a resource limit skipped rather than run against the previous module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle.cli import main
from oracle.engines import get_engine
from oracle.engines.base import Engine, Rejected, Session
from oracle.spectest.config import effective, skip_reason, supports
from oracle.spectest.errors import ScriptError
from oracle.spectest.runner import run_script
from oracle.spectest.script import parse_config_header, parse_script

WAST = Path(__file__).parent / "wast"


def run(name: str, engine: str):
    path = WAST / name
    return run_script(get_engine(engine), parse_script(path.read_bytes(), str(path)))


def counts(r):
    return (r.passed, r.failed, r.skipped)


def run_text(text: bytes, engine: str):
    return run_script(get_engine(engine), parse_script(text, "t.wast"))


# -- named modules ----------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["wasmtime", "winch-x64", "interp"])
def test_named_module_is_registered_under_its_name(engine):
    r = run("named_register.wast", engine)
    assert counts(r) == (15, 0, 0), r.failures


def test_named_module_skipped_makes_its_importers_skip():
    r = run_text(b"""
    (module $vec (func (export "f") (param v128)))
    (module (import "vec" "f" (func (param v128))))
    """, "winch-x64")
    assert counts(r) == (0, 0, 2)
    assert r.skip_reasons == {"unsupported: simd": 2}


# -- `;;!` headers ------------------------------------------------------------------------------

def test_config_header_is_read_like_wasmtime():
    text = (";;! simd = true\n;;!reference_types=false   # why\n;;!\n"
            "(module)\n;;! gc = true\n")
    assert parse_config_header(text) == [("simd", True, 1), ("reference_types", False, 2)]
    assert parse_config_header("\n;;! simd = true\n") == []  # not at the top: a comment
    with pytest.raises(ScriptError) as info:
        parse_config_header(";;! simd = true\n;;! threads = yes\n")
    assert info.value.pos == len(";;! simd = true\n")


def test_implied_options_follow_wasmtime():
    opts = effective([("gc", True, 1), ("reference_types", False, 2), ("relaxed_simd", True, 3)])
    assert opts == {"gc": True, "function_references": True, "reference_types": True,
                    "relaxed_simd": True, "simd": True}


def test_engines_support_what_they_compile():
    fe, x64, wt = get_engine("frontend"), get_engine("winch-x64"), get_engine("wasmtime")
    ip = get_engine("interp")  # the reference interpreter runs what the compiler compiles
    always = ("bulk_memory", "reference_types", "extended_const")
    assert all(supports(e, o) for e in (fe, x64, wt, ip) for o in always)
    # the front end validates simd, our compiler does not compile it
    assert supports(fe, "simd") and not supports(x64, "simd") and supports(wt, "simd")
    assert not supports(ip, "simd")
    for option in ("memory64", "multi_memory", "custom_page_sizes"):
        assert all(supports(e, option) for e in (fe, x64, wt, ip))
    for option in ("threads", "gc", "tail_call", "exceptions"):
        assert not supports(fe, option) and not supports(x64, option) and supports(wt, option)
        assert not supports(ip, option)
    assert not any(supports(e, "custom_descriptors") for e in (fe, x64, wt, ip))


class _PartialEngine(Engine):
    """Accepts modules with funcref tables but none with externref: reference types in part,
    as wasmtime's Winch has them."""

    name = "partial-reftypes"

    def session(self):
        return _PartialSession()


class _PartialSession(Session):
    def compile(self, wasm):
        if b"\x6f" in wasm:  # externref anywhere
            raise Rejected("unsupported", "externref", feature="reference-types")
        return wasm

    def close(self):
        pass


@pytest.mark.parametrize("value, reason", [
    ("true", "reference_types = true (unsupported by partial-reftypes)"),
    ("false", "reference_types = false (always enabled in partial-reftypes)"),
])
def test_proposal_supported_in_part_conflicts_either_way(value, reason):
    entries = parse_config_header(f";;! reference_types = {value}\n")
    assert skip_reason(_PartialEngine(), entries) == "file config (;;!): " + reason


SIMD = "file config (;;!): simd = true (unsupported by winch-x64)"


@pytest.mark.parametrize("name, engine, expect, reasons", [
    ("config_supported.wast", "winch-x64", (3, 0, 0), {}),
    ("config_supported.wast", "wasmtime", (3, 0, 0), {}),
    ("config_simd.wast", "winch-x64", (0, 0, 3), {SIMD: 3}),
    ("config_simd.wast", "frontend", (2, 0, 1), {"not run: front end only": 1}),
    ("config_simd.wast", "wasmtime", (3, 0, 0), {}),
    ("config_refs_off.wast", "winch-x64", (0, 0, 3),
     {"file config (;;!): reference_types = false (always enabled in winch-x64)": 3}),
    ("config_refs_off.wast", "frontend", (0, 0, 3),
     {"file config (;;!): reference_types = false (always enabled in frontend)": 3}),
    ("config_gc.wast", "wasmtime", (2, 0, 0), {}),
    ("config_host.wast", "wasmtime", (0, 0, 2),
     {"file config (;;!): nan_canonicalization = true (not available in wasmtime); "
      "unknown option 'warp_drive'": 2}),
])
def test_config_header_runs_or_skips_the_file(name, engine, expect, reasons):
    r = run(name, engine)
    assert counts(r) == expect, r.failures
    assert dict(r.skip_reasons) == reasons


def test_gc_header_names_gc_not_the_reference_types_it_implies():
    (reason,) = run("config_gc.wast", "winch-x64").skip_reasons
    assert "gc = true (unsupported by winch-x64)" in reason
    assert "reference_types" not in reason


def test_cli_reports_file_skips_and_rejects_a_bad_header(tmp_path, capsys):
    assert main(["spectest", "--engine", "winch-x64", str(WAST / "config_simd.wast")]) == 0
    out = capsys.readouterr().out
    assert "0 passed, 0 failed, 3 skipped" in out and SIMD in out
    bad = tmp_path / "bad.wast"
    bad.write_bytes(b";;! simd = true\n;;! threads = 1\n(module)\n")
    assert main(["spectest", "--engine", "winch-x64", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"oracle spectest: {bad}:2: bad `;;!` line")


# -- commands the runner does not perform ----------------------------------------------------

def test_threads_are_skipped_and_shared_state_is_not_checked():
    r = run("threads.wast", "wasmtime")
    assert counts(r) == (5, 0, 3), r.failures
    assert r.skip_reasons == {"thread/wait: concurrent threads are not run by this runner": 2,
                              "state depends on a skipped thread": 1}
    assert counts(run("threads.wast", "winch-x64")) == (0, 0, 8)


def test_thread_without_shared_module_leaves_instances_checked():
    r = run_text(b"""
    (module $m (func (export "f") (result i32) (i32.const 3)))
    (thread $t (module (func)))
    (wait $t)
    (assert_return (invoke $m "f") (i32.const 3))
    """, "winch-x64")
    assert counts(r) == (2, 0, 2)


@pytest.mark.parametrize("engine", ["winch-x64", "frontend", "interp"])
def test_unsupported_commands_are_skipped_not_failed(engine):
    r = run("unsupported_commands.wast", engine)
    assert r.failed == 0 and r.skip_reasons["component model: not supported"] == 2
    assert r.skip_reasons["(assert_suspension ...): command not supported by the runner"] == 1


def test_argument_the_runner_cannot_pass_skips_the_command():
    r = run_text(b"""
    (module (func (export "f") (param funcref) (result i32) (i32.const 0)))
    (assert_return (invoke "f" (ref.func 0)) (i32.const 0))
    """, "winch-x64")
    assert counts(r) == (1, 0, 1)
    assert r.skip_reasons == {"argument (ref.func 0) cannot be passed by the runner": 1}


def test_wasmtime_gc_host_function_is_provided():
    text = b"""
    (module (import "wasmtime" "gc" (func $gc))
      (func (export "f") (result i32) (call $gc) (i32.const 1)))
    (assert_return (invoke "f") (i32.const 1))
    """
    for engine in ("wasmtime", "winch-x64", "interp"):
        assert counts(run_text(text, engine)) == (2, 0, 0)


# -- resource limits ------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["winch-x64", "interp"])
def test_commands_depending_on_a_resource_limited_module_are_skipped(engine):
    r = run("resource_limit.wast", engine)
    assert counts(r) == (2, 0, 6), r.failures
    (reason,) = r.skip_reasons
    assert reason.startswith("resource limit: memory of 16385 pages")
