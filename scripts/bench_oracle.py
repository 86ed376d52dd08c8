"""How many modules per second `oracle diff` finishes, on generated-sized modules, one core.

    python scripts/bench_oracle.py [--seconds S] [--modules N] [--engines a,b,...]

Modules: drawn by `oracle.strategies.wasm_modules` (fixed seed), kept when they have 5
exported functions and 80 to 120 instructions in all (the generator's fuel counter
included, so about 100 on average), run with the
default plan (3 calls per export) on every default engine.  Generation is not timed.
Target >= 100 modules/s.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from oracle.diff import DEFAULT_ENGINES, run_diff  # noqa: E402
from winch.wasm.encoder import func_instrs  # noqa: E402
from winch.wasm.reader import decode_module  # noqa: E402


def _size(m) -> int:
    return sum(len(func_instrs(m, f)) for f in m.funcs)


def generate(n: int) -> list:
    from hypothesis import HealthCheck, given, seed, settings

    from oracle.strategies import FAMILIES, Config, wasm_modules

    cfg = Config(families=frozenset(FAMILIES), max_funcs=5, max_instrs=3, max_depth=3,
                 canonicalize_nans=True)
    out = []

    @seed(20261202)
    @settings(max_examples=20 * n, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(wasm_modules(cfg))
    def collect(wasm):
        m = decode_module(wasm)
        if len(out) < n and len(m.funcs) == 5 and 80 <= _size(m) <= 120:
            out.append(wasm)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--modules", type=int, default=100)
    ap.add_argument("--engines", default=",".join(DEFAULT_ENGINES))
    args = ap.parse_args(argv)
    engines = args.engines.split(",")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    mods = generate(args.modules)
    sizes = [_size(m) for m in map(decode_module, mods)]
    for m in mods[:5]:
        run_diff(m, engines)  # warm up: engines built, caches filled
    done, findings = 0, 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.seconds:
        findings += len(run_diff(mods[done % len(mods)], engines).findings)
        done += 1
    dt = time.monotonic() - t0
    print(f"{len(mods)} generated modules, 5 exported functions each, "
          f"{sum(sizes) / len(sizes):.0f} instructions on average; "
          f"engines: {', '.join(engines)}")
    print(f"oracle diff: {done} modules in {dt:.1f}s = {done / dt:.1f} modules/s "
          f"(target >= 100); findings: {findings}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
