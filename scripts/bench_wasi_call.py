"""What a WASI call from compiled code costs: a loop of N `sched_yield` (and N empty
`fd_write`) calls against the same loop without calls, per ISA; prints microseconds a call.

    python scripts/bench_wasi_call.py [-n 20000]
"""

from __future__ import annotations

import argparse
import io
import time

import wasmtime

from winch.codegen.compile import compile_module
from winch.host.wasi import WasiConfig, run_wasi

BODY = {
    "empty loop": "",
    "sched_yield": "(drop (call $yield))",
    "fd_write 0 bytes": "(drop (call $write (i32.const 1) (i32.const 0) (i32.const 0) "
                        "(i32.const 16)))",
}


def module(n: int, body: str) -> bytes:
    return wasmtime.wat2wasm(f"""(module
      (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32)
                                                    (result i32)))
      (memory (export "memory") 1)
      (func (export "_start") (local $i i32)
        (loop $l {body}
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const {n}))))))""")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20000)
    args = ap.parse_args(argv)
    for isa in ("x64", "aarch64", "s390x"):
        times = {}
        for name, body in BODY.items():
            compiled = compile_module(module(args.n, body), isa)
            cfg = WasiConfig(args=["b"], stdout=io.BytesIO(), stderr=io.BytesIO(),
                             stdin=io.BytesIO())
            t0 = time.perf_counter()
            code, _ = run_wasi(compiled, cfg)
            times[name] = time.perf_counter() - t0
            assert code == 0
        base = times.pop("empty loop")
        print(f"{isa:8} " + "  ".join(f"{k}: {(v - base) / args.n * 1e6:.1f} us/call"
                                      for k, v in times.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
