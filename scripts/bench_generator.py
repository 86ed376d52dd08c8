"""Generation time per module: the byte-driven source against the hypothesis source.

    python scripts/bench_generator.py [--modules 300] [--seed 1] [--profile]

Byte source: `oracle.gen.generate(data)` on random 4 KiB inputs (a swarm configuration drawn
from each, as the differential fuzz target does).  Hypothesis source: the `wasm_modules()`
strategy driven by `fuzz_one_input` on random 8 KiB buffers (how a hypothesis-based target
runs it).  Both in one process, one after the other, so their ratio is fair on a noisy
machine.  Prints the median and mean milliseconds per module and the median module size;
`--profile` prints the top of a cProfile of the byte source.
"""

from __future__ import annotations

import argparse
import pathlib
import random
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))


def bench_bytes(n: int, seed: int, size: int = 4096) -> tuple:
    from oracle.gen import generate

    rng = random.Random(seed)
    inputs = [rng.randbytes(size) for _ in range(n)]
    times, sizes = [], []
    for data in inputs:
        t0 = time.perf_counter()
        wasm = generate(data)
        times.append(time.perf_counter() - t0)
        sizes.append(len(wasm))
    return times, sizes


def bench_hypothesis(n: int, seed: int) -> tuple:
    from hypothesis import HealthCheck, given, settings

    from oracle.strategies import wasm_modules

    out: list = []

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(wasm_modules())
    def prop(wasm):
        out.append(wasm)

    rng = random.Random(seed)
    times = []
    for _ in range(n):
        buf = rng.randbytes(8192)
        t0 = time.perf_counter()
        prop.hypothesis.fuzz_one_input(buf)
        times.append(time.perf_counter() - t0)
    return times, [len(w) for w in out]


def _line(name: str, times: list, sizes: list) -> str:
    return (f"{name:<18} median {statistics.median(times) * 1e3:7.2f} ms/module   mean "
            f"{statistics.mean(times) * 1e3:7.2f} ms   median size {statistics.median(sizes):.0f} B"
            f"   ({len(times)} modules)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)
    bench_bytes(20, args.seed + 1)  # warm the per-configuration caches' code paths
    print(_line("byte source", *bench_bytes(args.modules, args.seed)), flush=True)
    print(_line("hypothesis source", *bench_hypothesis(args.modules, args.seed)), flush=True)
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("bench_bytes(n, s)", globals(), {"n": args.modules, "s": args.seed,
                                                         "bench_bytes": bench_bytes},
                        "/tmp/bench_generator.prof")
        pstats.Stats("/tmp/bench_generator.prof").sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
