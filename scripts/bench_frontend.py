"""Decode + validate a real module on one core and print microseconds per Wasm instruction.

    python scripts/bench_frontend.py [module.wasm] [--repeat N]

Without a module argument, sql.js's dist/sql-wasm.wasm is fetched from npm (cached under
.cache/).  The figure is the best of N runs of `winch.wasm.validate` (decode every section,
validate every function body), divided by the number of instructions in the code section.
wasmtime's own `Module.validate` is timed on the same bytes for comparison.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from winch.wasm import decode_module, validate  # noqa: E402
from winch.wasm.instrs import decode_instrs  # noqa: E402


def count_instructions(data: bytes) -> int:
    m = decode_module(data)
    return sum(len(decode_instrs(data, *f.body)) for f in m.funcs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module", nargs="?")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    if args.module:
        path = pathlib.Path(args.module)
    else:
        from fetch_module import fetch
        path = fetch("sql-wasm.wasm")
    data = path.read_bytes()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    n = count_instructions(data)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        validate(data)
        times.append(time.perf_counter() - t)
    best, med = min(times), statistics.median(times)
    print(f"module: {path.name}, {len(data)} bytes, {n} instructions")
    print(f"winch front end (decode + validate): best {best * 1e3:.1f} ms, "
          f"median {med * 1e3:.1f} ms over {args.repeat} runs")
    print(f"  {best / n * 1e6:.3f} us per instruction (best), {med / n * 1e6:.3f} (median); "
          f"target <= 0.5")
    try:
        import wasmtime
        engine = wasmtime.Engine()
        wt = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            wasmtime.Module.validate(engine, data)
            wt.append(time.perf_counter() - t)
        print(f"wasmtime Module.validate, for comparison: {min(wt) / n * 1e6:.3f} us per "
              f"instruction (best)")
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
