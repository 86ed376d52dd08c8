"""wasmtime's per-file test configuration (`;;!` header lines) and whether an engine honours it.

wasmtime's own test suite (`tests/misc_testsuite`, where Winch's regression tests live) opens
a file with lines such as `;;! simd = true` or `;;! reference_types = false`: TOML, one
boolean per option of wasmtime's `TestConfig`.  wasmtime's runner builds an engine with
exactly those proposals on (an absent proposal is off, and enabling `gc` also enables
`function_references` and `reference_types`, and so on, see `IMPLIES`).

Our engines cannot be reconfigured per file, so a file runs only where the engine's fixed
feature set agrees with the header; otherwise every command of the file is skipped with one
reason naming the options in conflict.  Per option:

- a proposal set to `true` needs the engine to support it; we ask the engine itself (tiny
  modules using the proposal, compiled once per engine and cached: `PROBES`), so the table
  follows the engines as they grow.  It is supported if every probe compiles;
- a proposal set to `false` that the engine has on, even in part (any probe compiles), is a
  conflict too: with it off, wasmtime rejects modules that use it and the file may assert
  exactly that (invalid or malformed modules, several tables without reference types,
  ...), which an engine that accepts them cannot reproduce.  A proposal the engine rejects
  outright is no conflict (`simd = false` on winch-x64 runs: its modules are `Unsupported`,
  whatever the file expects of them is skipped);
- an *absent* proposal is not treated as disabled: wasmtime's files are annotated so that
  every proposal a file uses is named, and a file relying on a proposal being rejected says
  `= false`.  Treating absence as "off" would skip nearly every file on every engine, since
  all our engines have reference types and bulk memory on;
- `INFORMATIONAL` options change nothing a script can observe on our engines (they steer
  wasmtime's pooling allocator, collector choice and spec-test bookkeeping): ignored;
- `HOST_CONFIG` options ask for engine behaviour none of our engines has
  (`nan_canonicalization`: results would be compared bit for bit against canonical NaNs;
  the component model): `true` is a conflict, `false` is what we do anyway;
- an option wasmtime's `TestConfig` does not know is a conflict (wasmtime refuses the file):
  the file is skipped naming it, rather than run under a configuration we cannot know.
"""

from __future__ import annotations

import wasmtime

from oracle.engines.base import Engine, Rejected

#: wasm proposals wasmtime's `TestConfig` can switch, each with modules that use it (text, or
#: a tuple of texts when an engine may support a proposal in part).
PROBES = {
    "bulk_memory": ("(module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0) "
                    "(i32.const 0))))",
                    "(module (memory 1) (data \"x\") (func (data.drop 0)))"),
    "reference_types": ("(module (table 1 externref) (func (result externref) "
                        "(table.get 0 (i32.const 0))))",
                        "(module (table 1 funcref) (table 1 funcref))",
                        "(module (func (result i32) (ref.is_null (ref.null func))))"),
    "extended_const": "(module (global i32 (i32.add (i32.const 1) (i32.const 2))))",
    "simd": ("(module (func (param v128) (result v128) (i32x4.add (local.get 0) "
             "(local.get 0))))",
             "(module (type (func (param v128))))"),
    "relaxed_simd": "(module (func (param v128) (result v128) (f32x4.relaxed_madd "
                    "(local.get 0) (local.get 0) (local.get 0))))",
    "memory64": "(module (memory i64 1) (func (result i32) (i32.load (i64.const 0))))",
    "multi_memory": "(module (memory 1) (memory $b 1) (func (result i32) "
                    "(i32.load $b (i32.const 0))))",
    "threads": "(module (memory 1 1 shared) (func (result i32) "
               "(i32.atomic.load (i32.const 0))))",
    "tail_call": "(module (func $f (return_call $f)))",
    "function_references": "(module (type $t (func)) (func (param (ref $t)) "
                           "(call_ref $t (local.get 0))))",
    "gc": "(module (type $s (struct (field i32))) (func (result i32) "
          "(struct.get $s 0 (struct.new $s (i32.const 1)))))",
    "exceptions": "(module (tag $e) (func (block $h (try_table (catch_all $h) (throw $e)))))",
    "legacy_exceptions": "(module (tag $e) (func (try (do (throw $e)) (catch $e))))",
    "custom_page_sizes": "(module (memory 1 (pagesize 1)))",
    "wide_arithmetic": "(module (func (param i64 i64 i64 i64) (result i64 i64) "
                       "(i64.add128 (local.get 0) (local.get 1) (local.get 2) (local.get 3))))",
    "stack_switching": "(module (type $f (func)) (type $c (cont $f)) "
                       "(func (param (ref null $c))))",
    "shared_everything_threads": "(module (global (shared i32) (i32.const 0)))",
    "custom_descriptors": "(module (rec (type $a (descriptor $b (struct))) "
                          "(type $b (describes $a (struct)))))",
}

#: Enabling the key enables these too (wasmtime's test harness does the same).
IMPLIES = {
    "gc": ("function_references",),
    "function_references": ("reference_types",),
    "relaxed_simd": ("simd",),
    "stack_switching": ("exceptions",),
}

INFORMATIONAL = frozenset(("spec_test", "hogs_memory", "gc_types"))

HOST_CONFIG = frozenset((
    "nan_canonicalization", "component_model_async", "component_model_more_async_builtins",
    "component_model_async_builtins", "component_model_async_stackful",
    "component_model_threading", "component_model_error_context", "component_model_gc",
    "component_model_map", "component_model_fixed_length_lists",
    "component_model_more_flags",
))

_support: dict = {}  # (engine name, probe text) -> accepted


def supports(engine: Engine, option: str) -> bool:
    """Does `engine` accept every probe module of proposal `option`?"""
    return all(_accepts(engine, text) for text in _probes(option))


def enables(engine: Engine, option: str) -> bool:
    """Does `engine` accept any probe module of proposal `option` (has it on, maybe in part)?"""
    return any(_accepts(engine, text) for text in _probes(option))


def _probes(option: str) -> tuple:
    texts = PROBES[option]
    return (texts,) if isinstance(texts, str) else texts


def _accepts(engine: Engine, text: str) -> bool:
    """Asked once per engine name and probe."""
    key = (engine.name, text)
    if key not in _support:
        _support[key] = _probe(engine, text)
    return _support[key]


def _probe(engine: Engine, text: str) -> bool:
    try:
        wasm = bytes(wasmtime.wat2wasm(text))
    except wasmtime.WasmtimeError:
        return False  # not even our text parser knows it
    session = engine.session()
    try:
        session.compile(wasm)
        return True
    except Rejected:
        return False
    finally:
        session.close()


def effective(entries) -> dict:
    """The options of a header as wasmtime applies them: last line wins, then `IMPLIES`."""
    opts = {key: value for key, value, _line in entries}
    todo = [k for k, v in opts.items() if v]
    while todo:
        for implied in IMPLIES.get(todo.pop(), ()):
            if not opts.get(implied):
                opts[implied] = True
                todo.append(implied)
    return opts


def conflicts(engine: Engine, entries) -> list:
    """Why `engine` cannot run a file with these `;;!` lines (empty: it can)."""
    out = []
    for key, value in effective(entries).items():
        if key in INFORMATIONAL or (key in HOST_CONFIG and not value):
            continue
        if key in HOST_CONFIG:
            out.append(f"{key} = true (not available in {engine.name})")
        elif key not in PROBES:
            out.append(f"unknown option {key!r}")
        elif value and not supports(engine, key):
            out.append(f"{key} = true (unsupported by {engine.name})")
        elif not value and enables(engine, key):
            out.append(f"{key} = false (always enabled in {engine.name})")
    return out


def skip_reason(engine: Engine, entries) -> str | None:
    """One skip reason for every command of a file the engine cannot run as configured."""
    why = conflicts(engine, entries) if entries else []
    return "file config (;;!): " + "; ".join(why) if why else None
