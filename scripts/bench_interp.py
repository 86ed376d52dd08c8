"""The reference interpreter's speed: Wasm instructions executed per second.

For each workload the instructions are counted once by a traced run (`invoke_traced`: one
Step per executed instruction, structural ones included), then the plain run is timed
(best of --repeat).  Prints one line per workload and the total, then the same figure over
the default plans of --generated modules of the oracle's generator, each plan run twice (the
second run is timed: short calls, per-call costs included; the first also pre-decodes).

    .venv/bin/python scripts/bench_interp.py [--repeat N] [--scale K] [--generated N]
"""

from __future__ import annotations

import argparse
import time

import wasmtime

from oracle.engines import get_engine
from oracle.values import Value

WAT = r"""
(module
  (memory 1)
  (func $fib_iter (export "fib_iter") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $t i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $t (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $a))
  (func $fib_rec (export "fib_rec") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib_rec (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib_rec (i32.sub (local.get $n) (i32.const 2)))))))
  ;; sieve of Eratosthenes over n bytes of memory: the number of primes below n
  (func (export "sieve") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $count i32)
    (memory.fill (i32.const 0) (i32.const 0) (local.get $n))
    (local.set $i (i32.const 2))
    (block $out
      (loop $outer
        (br_if $out (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $inner_out
              (loop $inner
                (br_if $inner_out (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $count))
  ;; a float loop: sum of 1/k^2
  (func (export "basel") (param $n i32) (result f64)
    (local $k f64) (local $s f64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $k (f64.convert_i32_u (local.get $n)))
        (local.set $s (f64.add (local.get $s)
          (f64.div (f64.const 1) (f64.mul (local.get $k) (local.get $k)))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $s)))
"""

WORKLOADS = (("fib_iter", "i32", 20_000), ("fib_rec", "i32", 18), ("sieve", "i32", 30_000),
             ("basel", "i32", 10_000))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the workload sizes")
    ap.add_argument("--generated", type=int, default=200, help="generated modules (0: none)")
    args = ap.parse_args(argv)
    wasm = bytes(wasmtime.wat2wasm(WAT))
    session = get_engine("interp").session()
    inst = session.instantiate(session.compile(wasm))
    total_n, total_t = 0, 0.0
    for name, t, n in WORKLOADS:
        n = int(n * args.scale) if name != "fib_rec" else n
        arg = [Value(t, n)]
        count = [0]

        def on_step(_step, count=count):
            count[0] += 1

        traced = session.invoke_traced(inst, name, arg, on_step, limit=10**9)
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = session.invoke(inst, name, arg)
            best = min(best, time.perf_counter() - t0)
        assert out == traced, (out, traced)
        total_n += count[0]
        total_t += best
        print(f"{name:10} {count[0]:>10,} instructions  {best:7.3f} s  "
              f"{count[0] / best / 1e6:6.2f} M instr/s  -> {out}")
    print(f"{'total':10} {total_n:>10,} instructions  {total_t:7.3f} s  "
          f"{total_n / total_t / 1e6:6.2f} M instr/s")
    if args.generated:
        generated(args.generated)
    return 0


def generated(n: int) -> None:
    """Instructions per second over the default plans of `n` generated modules."""
    import random

    from oracle.diff import define_deterministic_imports
    from oracle.gen import generate
    from oracle.plan import default_plan
    from winch.wasm.reader import decode_module

    def instance(m, wasm):
        s = get_engine("interp").session()
        define_deterministic_imports(s, m)
        return s, s.instantiate(s.compile(wasm))

    rng = random.Random(1)
    steps = calls = 0
    seconds = first = 0.0
    for _ in range(n):
        wasm = generate(rng.randbytes(rng.choice([256, 1024, 4096])))
        m = decode_module(wasm)
        plan = default_plan(m)
        (a, ia), (b, ib) = instance(m, wasm), instance(m, wasm)
        count = [0]

        def on_step(_step, count=count):
            count[0] += 1

        for call in plan.calls:  # a first pass pre-decodes (timed separately)
            b.invoke(ib, call.export, list(call.args))
            t0 = time.perf_counter()
            a.invoke(ia, call.export, list(call.args))
            first += time.perf_counter() - t0
        for call in plan.calls:  # the same calls again, on the same (now changed) state
            b.invoke_traced(ib, call.export, list(call.args), on_step, limit=10**8)
            t0 = time.perf_counter()
            a.invoke(ia, call.export, list(call.args))
            seconds += time.perf_counter() - t0
            calls += 1
        steps += count[0]
    print(f"{'generated':10} {steps:>10,} instructions  {seconds:7.3f} s  "
          f"{steps / seconds / 1e6:6.2f} M instr/s  ({n} modules, {calls} calls, each run "
          f"a second time; the first runs, pre-decoding included: {first:.3f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
