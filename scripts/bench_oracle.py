"""How many modules per second `oracle diff` finishes, on small modules, all engines, one core.

    python scripts/bench_oracle.py [--seconds S]

Modules: spec-suite modules of generated size (50..200 instructions, 1..5 exported
functions), run with the default plan on wasmtime and our three ISAs.  Target >= 100/s.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from oracle.diff import DEFAULT_ENGINES, run_diff  # noqa: E402
from tests.suite_modules import suite_modules  # noqa: E402
from winch.errors import WinchError  # noqa: E402
from winch.wasm import validate  # noqa: E402
from winch.wasm.encoder import func_instrs  # noqa: E402
from winch.wasm.module import EXT_FUNC  # noqa: E402


def pick():
    out = []
    for m in suite_modules():
        if m.expect != "valid":
            continue
        try:
            mod = validate(m.wasm)
        except WinchError:
            continue
        n = sum(len(func_instrs(mod, f)) for f in mod.funcs)
        exports = sum(1 for e in mod.exports if e.kind == EXT_FUNC)
        if 50 <= n <= 200 and 1 <= exports <= 5 and not mod.imports:
            out.append(m.wasm)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    mods = pick()
    # modules whose default plan runs away (fuel / time budget) are not "generated-sized":
    # generated modules carry a fuel counter; leave them out of the rate
    mods = [m for m in mods if not any(k.startswith("exhausted") for k in
                                       run_diff(m, DEFAULT_ENGINES).inconclusive)]
    done = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.seconds:
        run_diff(mods[done % len(mods)], DEFAULT_ENGINES)
        done += 1
    dt = time.monotonic() - t0
    print(f"{len(mods)} candidate modules (50..200 instructions, <= 5 exports); "
          f"engines: {', '.join(DEFAULT_ENGINES)}")
    print(f"oracle diff: {done} modules in {dt:.1f}s = {done / dt:.1f} modules/s "
          f"(target >= 100)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
