"""Run sightglass's benchmark modules under `winch run --wasi` semantics and wasmtime.

    python scripts/sightglass_wasi.py [--isa x64 ...] [--only NAME ...] [--timeout S]

For each benchmark in ../shared/sightglass (every shootout-*, quicksort, richards, bz2; the
*-simd ones are skipped: SIMD is unsupported), as sightglass runs it: a fresh working
directory holding its *.input files, preopened as "."; stdout and stderr must equal its
*.expected files (richards has none: wasmtime's output is the reference).  Prints one line
per benchmark: status per engine and wall time (compile + run) beside wasmtime's.
Exit status 1 if any engine disagrees.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import shutil
import sys
import tempfile
import time

import wasmtime

from winch.codegen.compile import compile_module
from winch.host.wasi import WasiConfig, run_wasi

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIGHTGLASS = (ROOT.parent / "shared" / "sightglass") if (ROOT.parent / "shared").is_dir() \
    else pathlib.Path("/work/shared/sightglass")
ISAS = ("x64", "aarch64", "s390x")


def benchmarks(root=SIGHTGLASS) -> list:
    """[(name, wasm path, [input paths], expected stdout or None, expected stderr or None)]."""
    out = []
    if not root.is_dir():
        return out
    for wasm in sorted(root.glob("*/*.wasm")):
        d = wasm.parent
        if d.name.endswith("-simd"):
            continue
        stem = wasm.stem
        prefix = "" if stem == "benchmark" else stem + "."
        name = d.name if stem == "benchmark" else stem
        inputs = sorted(d.glob(f"{prefix}*.input"))
        exp_out, exp_err = d / f"{stem}.stdout.expected", d / f"{stem}.stderr.expected"
        out.append((name, wasm, inputs,
                    exp_out.read_bytes() if exp_out.exists() else None,
                    exp_err.read_bytes() if exp_err.exists() else None))
    return out


def _workdir(inputs) -> str:
    d = tempfile.mkdtemp(prefix="sightglass-")
    for p in inputs:  # the programs open them by their own names (./default.input)
        shutil.copy(p, os.path.join(d, p.name))
    return d


def run_wasmtime(wasm: pathlib.Path, inputs):
    d = _workdir(inputs)
    io_dir = tempfile.mkdtemp(prefix="sightglass-io-")
    try:
        cfg = wasmtime.WasiConfig()
        cfg.argv = [wasm.name]
        cfg.preopen_dir(d, ".")
        cfg.stdout_file = os.path.join(io_dir, "out")
        cfg.stderr_file = os.path.join(io_dir, "err")
        t0 = time.perf_counter()
        engine = wasmtime.Engine()
        store = wasmtime.Store(engine)
        store.set_wasi(cfg)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        for n in ("start", "end"):
            linker.define_func("bench", n, wasmtime.FuncType([], []), lambda: None)
        inst = linker.instantiate(store, wasmtime.Module(engine, wasm.read_bytes()))
        try:
            inst.exports(store)["_start"](store)
            code = 0
        except wasmtime.ExitTrap as e:
            code = e.code
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
            code = f"trap: {str(e).splitlines()[-1]}"
        wall = time.perf_counter() - t0
        return code, pathlib.Path(io_dir, "out").read_bytes(), \
            pathlib.Path(io_dir, "err").read_bytes(), wall
    finally:
        shutil.rmtree(d)
        shutil.rmtree(io_dir)


def run_winch(wasm: pathlib.Path, inputs, isa: str, timeout: float = 3600.0):
    d = _workdir(inputs)
    try:
        out, err = io.BytesIO(), io.BytesIO()
        t0 = time.perf_counter()
        compiled = compile_module(wasm.read_bytes(), isa)
        from winch.host.store import Store

        config = WasiConfig(args=[wasm.name], preopens=[(d, ".")], stdin=io.BytesIO(b""),
                            stdout=out, stderr=err)
        code, res = run_wasi(compiled, config, Store(isa, timeout=timeout))
        wall = time.perf_counter() - t0
        if code is None:
            code = f"{type(res).__name__}: {getattr(res, 'kind', '')} " \
                   f"{getattr(res, 'message', getattr(res, 'reason', ''))}"
        return code, out.getvalue(), err.getvalue(), wall
    finally:
        shutil.rmtree(d)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--isa", action="append", choices=ISAS, default=None)
    ap.add_argument("--only", action="append", default=None, metavar="NAME")
    ap.add_argument("--timeout", type=float, default=3600.0,
                    help="seconds of emulated work per run (default 3600)")
    args = ap.parse_args(argv)
    isas = args.isa or list(ISAS)
    bad = 0
    print(f"{'benchmark':24} {'wasmtime':>10} " + " ".join(f"{i:>16}" for i in isas))
    for name, wasm, inputs, exp_out, exp_err in benchmarks():
        if args.only and name not in args.only:
            continue
        ref = run_wasmtime(wasm, inputs)
        want = (0, exp_out if exp_out is not None else ref[1],
                exp_err if exp_err is not None else ref[2])
        cells = [f"{'ok' if ref[:3] == want else 'DIFF'} {ref[3]:5.2f}s"]
        bad += ref[:3] != want
        for isa in isas:
            got = run_winch(wasm, inputs, isa, args.timeout)
            ok = got[:3] == want
            bad += not ok
            cells.append(f"{'ok' if ok else 'DIFF'} {got[3]:7.2f}s x{got[3] / ref[3]:<5.0f}")
            if not ok:
                print(f"  {name} {isa}: exit {got[0]!r}, stdout {got[1][:80]!r}, "
                      f"stderr {got[2][:80]!r}", file=sys.stderr)
        print(f"{name:24} " + " ".join(f"{c:>16}" for c in cells), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
