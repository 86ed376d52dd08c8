"""Compile a real module for x64 on one core: our compiler vs wasmtime Cranelift and Winch.

    python scripts/bench_compile.py [module.wasm] [--repeat N] [--target x64]

Prints, from one run, microseconds per Wasm instruction and machine-code bytes for:
  ours            `winch.codegen.compile_module` (decode + validate + compile), code bytes
  wasmtime        Cranelift, `parallel_compilation = False`
  wasmtime-winch  wasmtime's Winch (strategy 2), `parallel_compilation = False`
wasmtime's code size is the sum of the sizes of the function symbols in the ELF that
`Module.serialize()` produces.  Without a module argument, sql.js's dist/sql-wasm.wasm is
fetched from npm (cached under .cache/).  Targets: <= 1.0 us per instruction, code no
larger than wasmtime Winch's.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import struct
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from bench_frontend import count_instructions  # noqa: E402
from winch.codegen.compile import compile_module  # noqa: E402


def elf_function_bytes(elf: bytes) -> int:
    """Sum of st_size over STT_FUNC symbols of an ELF64 little-endian image."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        raise ValueError("not an ELF64 image")
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    total = 0
    for i in range(shnum):
        sh = shoff + i * shentsize
        sh_type = struct.unpack_from("<I", elf, sh + 4)[0]
        if sh_type != 2:  # SHT_SYMTAB
            continue
        off, size = struct.unpack_from("<QQ", elf, sh + 0x18)
        entsize = struct.unpack_from("<Q", elf, sh + 0x38)[0]
        for j in range(size // entsize):
            st = off + j * entsize
            info = elf[st + 4]
            st_size = struct.unpack_from("<Q", elf, st + 16)[0]
            if info & 0xF == 2:  # STT_FUNC
                total += st_size
    return total


def time_best(fn, repeat):
    best = float("inf")
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module", nargs="?")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--target", default="x64")
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
    print(f"module: {path.name}, {len(data)} bytes, {n} instructions, one core, "
          f"best of {args.repeat}")
    def ours():
        from winch.isa.s390x import asm as s390xasm
        from winch.isa.x64 import asm as x64asm
        from winch.isa.x64 import masm as x64masm

        # no help from an earlier run's memoized encodings
        x64asm._ENCODED.clear()
        x64masm._SLOT_CODE.clear()
        s390xasm._MEMO.clear()
        return compile_module(data, args.target)

    t, c = time_best(ours, args.repeat)
    print(f"  ours ({args.target}):      {t / n * 1e6:7.3f} us/instr  {t:7.2f} s  "
          f"code {len(c.code):>9} bytes")
    import wasmtime

    from oracle.engines.wasmtime_engine import make_config

    for strategy in ("cranelift", "winch"):
        engine = wasmtime.Engine(make_config(strategy))
        t, mod = time_best(lambda: wasmtime.Module(engine, data), args.repeat)
        size = elf_function_bytes(mod.serialize())
        label = "wasmtime" if strategy == "cranelift" else "wasmtime-winch"
        print(f"  {label + ':':<19}{t / n * 1e6:7.3f} us/instr  {t:7.2f} s  code {size:>9} bytes")
    print("targets: ours <= 1.0 us/instr; ours code <= wasmtime-winch code")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
