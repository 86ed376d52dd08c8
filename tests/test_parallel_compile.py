"""Parallel compilation (`compile_module(..., jobs=N)`, winch/codegen/parallel.py) gives the
code one process gives, byte for byte, and the same errors."""

from __future__ import annotations

import pathlib
import random

import pytest
import wasmtime

from winch.codegen.compile import ISAS, compile_module
from winch.codegen.parallel import split
from winch.errors import Unsupported, ValidationError
from winch.wasm import decode_module

ROOT = pathlib.Path(__file__).resolve().parent.parent
SQL = ROOT / ".cache/modules/sql-wasm.wasm"


def _same(a, b) -> bool:
    return (a.code == b.code and a.func_offsets == b.func_offsets and a.traps == b.traps
            and a.srcloc_packed == b.srcloc_packed and a.func_ranges == b.func_ranges)


def _generated(n: int, seed: int) -> list:
    from oracle.gen import generate

    rng = random.Random(seed)
    return [generate(rng.randbytes(4096)) for _ in range(n)]


@pytest.mark.parametrize("isa", ISAS)
def test_generated_modules_identical(isa):
    mods = [m for m in _generated(100, 7) if len(decode_module(m).funcs) >= 2]
    assert len(mods) >= 50  # most generated modules have several functions
    for data in mods:
        assert _same(compile_module(data, isa, jobs=1), compile_module(data, isa, jobs=2))


def test_three_parts_and_corpus_identical():
    import oracle.corpus

    mods = [p.read_bytes() for p in sorted(pathlib.Path(oracle.corpus.__file__).parent.glob(
        "*.wasm"))]
    for data in mods:
        for isa in ISAS:
            assert _same(compile_module(data, isa, jobs=1), compile_module(data, isa, jobs=3))


@pytest.mark.slow
@pytest.mark.skipif(not SQL.exists(), reason="sql-wasm.wasm not cached: run "
                    "`python scripts/fetch_module.py sql-wasm.wasm` (bench_compile does)")
@pytest.mark.parametrize("isa", ISAS)
def test_sql_wasm_identical(isa):
    data = SQL.read_bytes()
    assert _same(compile_module(data, isa, jobs=1), compile_module(data, isa, jobs=2))


def test_split_covers_every_function_once():
    data = _generated(1, 3)[0]
    m = decode_module(data)
    for parts in range(1, len(m.funcs) + 1):
        ranges = split(m, parts)
        assert len(ranges) == parts
        assert ranges[0][0] == 0 and ranges[-1][1] == len(m.funcs)
        assert all(lo < hi for lo, hi in ranges)
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def _funcs(bodies: list) -> bytes:
    text = "(module (memory 1) " + " ".join(
        f"(func (export \"f{i}\") (result i32) {b})" for i, b in enumerate(bodies)) + ")"
    return bytes(wasmtime.wat2wasm(text))


def test_errors_are_the_one_process_errors():
    ok = "(i32.add (i32.const 1) (i32.const 2))"
    invalid = _funcs([ok] * 6)
    # make the last body invalid: i32.add -> i64.add (0x6a -> 0x7c) on i32 operands
    at = invalid.rindex(b"\x6a")
    invalid = invalid[:at] + b"\x7c" + invalid[at + 1:]
    with pytest.raises(ValidationError) as one:
        compile_module(invalid, "x64", jobs=1)
    with pytest.raises(ValidationError) as two:
        compile_module(invalid, "x64", jobs=2)
    assert (str(one.value), one.value.offset) == (str(two.value), two.value.offset)

    simd = _funcs([ok] * 5 + ["(i32x4.extract_lane 0 (v128.const i64x2 0 0))"])
    with pytest.raises(Unsupported) as one:
        compile_module(simd, "x64", jobs=1)
    with pytest.raises(Unsupported) as two:
        compile_module(simd, "x64", jobs=2)
    assert (str(one.value), one.value.offset) == (str(two.value), two.value.offset)


def test_jobs_must_be_positive():
    with pytest.raises(ValueError):
        compile_module(_funcs(["(i32.const 0)"]), "x64", jobs=0)


def test_winch_compile_jobs(tmp_path):
    from winch.cli import main

    data = _generated(1, 11)[0]
    src = tmp_path / "m.wasm"
    src.write_bytes(data)
    assert main(["compile", str(src), "-o", str(tmp_path / "a.bin"), "--jobs", "1"]) == 0
    assert main(["compile", str(src), "-o", str(tmp_path / "b.bin"), "--jobs", "2"]) == 0
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
