"""`winch`: compile, explain and run WebAssembly with the baseline compiler.

    winch compile --target ISA m.wasm -o m.bin
    winch explain --target ISA m.wasm [--func N]
    winch run --target ISA m.wasm --invoke NAME [ARGS...]
    winch run --wasi [--target ISA] prog.wasm [--dir HOST[::GUEST]] [--env K=V] [-- ARGS...]

Bad input exits with status 2 and one line naming the file, the byte offset and the problem
(winch/cli_common.py); `winch --help` lists the commands with an example each.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys

from winch.cli_common import (BadInput, Parser, check_output, error_line, read_module, run_main,
                               u64_arg, version)
from winch.codegen.compile import ISAS, compile_module
from winch.errors import WinchError


COMMANDS = (
    ("compile", "compile a module, write its code with trap and source maps",
     "winch compile --target aarch64 m.wasm -o m.bin"),
    ("explain", "print each Wasm instruction with the machine code emitted for it",
     "winch explain --target x64 m.wasm --func 0"),
    ("run", "call an exported function under the emulator, print its results",
     "winch run --target s390x m.wasm --invoke add 40 2"),
)


def _parser() -> tuple[Parser, dict]:
    p = Parser(prog="winch", formatter_class=argparse.RawDescriptionHelpFormatter,
               description="a single-pass WebAssembly compiler for x64, aarch64 and s390x, "
                           "run under Unicorn",
               epilog="examples:\n" + "".join(f"  {ex}\n" for _, _, ex in COMMANDS)
                      + "\nexit status: 0 ok, 1 the call trapped or did not finish, 2 bad input "
                        "or usage (one line on stderr)")
    p.add_argument("--version", action="version", version=f"winch {version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           title="commands", parser_class=Parser)
    subparsers = {}
    for name, helptext, example in COMMANDS:
        sp = subparsers[name] = sub.add_parser(name, help=helptext, description=helptext,
                                               epilog=f"example: {example}")
        sp.add_argument("--target", default="x64", choices=ISAS)
        sp.add_argument("wasm", metavar="FILE", help="a binary module (.wasm)")
        sp.add_argument("--canonicalize-nans", action="store_true",
                        help="every float operator that can make a NaN makes the canonical "
                             "one (as wasmtime's cranelift_nan_canonicalization)")
        if name == "compile":
            sp.add_argument("-o", dest="output", required=True, metavar="OUT.bin")
            sp.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                            help="processes compiling function bodies (the code is the same "
                                 "for any N; default: every core for a module with more "
                                 "than 256 KiB of code, else 1)")
        elif name == "explain":
            sp.add_argument("--func", type=int, default=None, metavar="N",
                            help="function index (default: every defined function)")
            sp.add_argument("--debug", action="store_true",
                            help="debug code: every value in its frame slot at every "
                                 "instruction (winch/codegen/debug.py), slots shown")
        else:
            sp.add_argument("--invoke", metavar="NAME",
                            help="the exported function to call (required without --wasi)")
            sp.add_argument("--wasi", action="store_true",
                            help="run a WASI command: its _start, with stdin/stdout/stderr "
                                 "passed through; exits with the program's exit code (134 "
                                 "after a trap, as wasmtime's CLI); program arguments after --")
            sp.add_argument("--dir", action="append", default=[], metavar="HOST[::GUEST]",
                            help="with --wasi: preopen directory HOST (as GUEST, default HOST)")
            sp.add_argument("--env", action="append", default=[], metavar="K=V",
                            help="with --wasi: an environment variable of the program")
            sp.add_argument("--fuel", type=u64_arg, default=None, metavar="N",
                            help="compile with fuel accounting and give the store N units "
                                 "(as wasmtime's consume_fuel); prints the fuel left")
            sp.add_argument("--epoch-deadline", type=u64_arg, default=None, metavar="N",
                            help="compile with epoch-interruption checks; the call is "
                                 "interrupted once the epoch advances N ticks (0: at once)")
            sp.add_argument("--epoch-tick-ms", type=u64_arg, default=None, metavar="MS",
                            help="with --epoch-deadline: a thread advances the epoch every "
                                 "MS milliseconds (default: never)")
            sp.add_argument("--trace", type=u64_arg, default=None, metavar="N",
                            help="compile debug code and print each executed Wasm "
                                 "instruction with its operands and results, at most N")
            sp.add_argument("args", nargs="*", metavar="ARG",
                            help="one per parameter: an integer (decimal or 0x..., signed "
                                 "or unsigned) or a float (1.5, -inf, nan, 0x1p-3)")
    return p, subparsers


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"not a positive number of processes: {text!r}")
    return n


def main(argv=None) -> int:
    return run_main("winch", _main, argv)


def _main(argv) -> int:
    p, subparsers = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    prog_args = None  # `run --wasi`: everything after the first `--` is the program's
    if "--" in argv and "--wasi" in argv[:argv.index("--")]:
        cut = argv.index("--")
        argv, prog_args = argv[:cut], argv[cut + 1:]
    # `run` arguments may look like options (-1, -inf): argparse leaves them over, in order
    args, extra = p.parse_known_args(argv)
    if extra:
        unknown = [x for x in extra if x.startswith("--") and x != "--"]
        if args.command != "run" or unknown:
            bad = " ".join(unknown or extra)
            subparsers[args.command].error(f"unrecognized arguments: {bad}")
        args.args = list(args.args) + [x for x in extra if x != "--"]
    if args.command == "run":
        if args.wasi:
            args.args = list(args.args) + (prog_args or [])
        elif args.invoke is None:
            subparsers["run"].error("the following arguments are required: --invoke "
                                    "(or --wasi)")
        if args.wasi and args.trace is not None:
            subparsers["run"].error("--trace needs --invoke (not --wasi)")
    data = read_module(args.wasm)
    if args.command == "compile":
        check_output(args.output)
    try:
        compiled = compile_module(data, args.target, jobs=getattr(args, "jobs", None),
                                  canonicalize_nans=args.canonicalize_nans,
                                  fuel=getattr(args, "fuel", None) is not None,
                                  epoch=getattr(args, "epoch_deadline", None) is not None,
                                  debug=bool(getattr(args, "debug", False)
                                             or getattr(args, "trace", None) is not None))
    except WinchError as e:
        raise BadInput(error_line(args.wasm, e)) from None
    if args.command == "compile":
        return _write_bin(compiled, args.output)
    if args.command == "explain":
        from winch.explain import explain

        try:
            text = explain(compiled, args.func)
        except ValueError as e:
            raise BadInput(f"{args.wasm}: {e}") from None
        sys.stdout.write(text)
        return 0
    return _run(compiled, args)


MAGIC = b"WNCH"


def _write_bin(c, path: str) -> int:
    """Layout: magic, version u32, isa (NUL-padded 8 bytes), header length u32, JSON header
    (functions, traps, srclocs), then the code bytes.  See README "winch compile"."""
    fields = {
        "isa": c.isa,
        "code_size": len(c.code),
        "functions": [{"index": c.module.num_imported_funcs + i, "offset": s, "size": e - s}
                      for i, (s, e) in enumerate(c.func_ranges)],
        "traps": [[off, kind.value] for off, kind in c.traps],
        "srclocs": [list(x) for x in c.srclocs],
    }
    if c.canonicalize_nans:  # (absent otherwise: the default header is unchanged)
        fields["canonicalize_nans"] = True
    header = json.dumps(fields, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<I", 1) + c.isa.encode().ljust(8, b"\0"))
        f.write(struct.pack("<I", len(header)) + header + c.code)
    print(f"{path}: {len(c.code)} bytes of {c.isa} code, {len(c.func_offsets)} functions, "
          f"{len(c.traps)} trap sites")
    return 0


def parse_arg(text: str, t: int) -> int:
    """The bits of a command-line argument of type `t`; ValueError (with the reason) when
    the text is not a value of that type.  Integers may be written signed or unsigned
    (`-1` and `0xffffffff` are the same i32) but must fit: nothing wraps silently."""
    from winch.wasm.types import F32, F64, I32, I64, type_name

    name = type_name(t)
    if t in (I32, I64):
        bits = 32 if t == I32 else 64
        try:
            v = int(text, 0)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer ({name})") from None
        if not -(1 << (bits - 1)) <= v < (1 << bits):
            raise ValueError(f"{text!r} is out of range for {name} "
                             f"({-(1 << (bits - 1))}..{(1 << bits) - 1})")
        return v & ((1 << bits) - 1)
    if t in (F32, F64):
        try:
            x = float.fromhex(text) if "0x" in text.lower() else float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number ({name})") from None
        if abs(x) == float("inf") and "inf" not in text.lower():  # 1e400 as f64
            raise ValueError(f"{text!r} is out of range for {name}")
        fmt = ("<f", "<I") if t == F32 else ("<d", "<Q")
        try:
            packed = struct.pack(fmt[0], x)
        except OverflowError:  # 1e39 as f32
            raise ValueError(f"{text!r} is out of range for {name}") from None
        return struct.unpack(fmt[1], packed)[0]
    raise ValueError(f"arguments of type {name} cannot be given on the command line")


def format_value(t: int, v: int) -> str:
    from winch.wasm.types import F32, F64, I32, I64, type_name

    if t == I32:
        return f"{v - (1 << 32) if v >> 31 else v}:i32"
    if t == I64:
        return f"{v - (1 << 64) if v >> 63 else v}:i64"
    if t in (F32, F64):
        frac = 23 if t == F32 else 52
        exp_all = (1 << (31 - frac if t == F32 else 63 - frac)) - 1
        if (v >> frac) & exp_all == exp_all and v & ((1 << frac) - 1):
            # a NaN, as WAT writes it: sign, and the payload unless it is the canonical one
            payload = v & ((1 << frac) - 1)
            sign = "-" if v >> (31 if t == F32 else 63) else ""
            text = "nan" if payload == 1 << (frac - 1) else f"nan:{payload:#x}"
            return f"{sign}{text}:{type_name(t)}"
    if t == F32:
        return f"{struct.unpack('<f', struct.pack('<I', v))[0]!r}:f32"
    if t == F64:
        return f"{struct.unpack('<d', struct.pack('<Q', v))[0]!r}:f64"
    return f"{'null' if v == 0 else hex(v)}:{type_name(t)}"


def _run(c, args) -> int:
    if args.wasi:
        return _run_wasi(c, args)
    from winch.host import instance as winst
    from winch.host import store as wstore
    from winch.wasm.module import EXT_FUNC

    exp = c.module.export_map().get(args.invoke)
    if exp is None or exp.kind != EXT_FUNC:
        raise BadInput(f"{args.wasm}: no exported function {args.invoke!r}")
    ft = c.module.func_type(exp.index)
    if len(args.args) != len(ft.params):
        raise BadInput(f"{args.wasm}: {args.invoke} takes {len(ft.params)} argument(s), "
                       f"got {len(args.args)}")
    bits = []
    for i, (a, t) in enumerate(zip(args.args, ft.params)):
        try:
            bits.append(parse_arg(a, t))
        except ValueError as e:
            raise BadInput(f"{args.wasm}: {args.invoke} argument {i + 1}: {e}") from None
    if c.module.imports:
        imp = c.module.imports[0]
        raise BadInput(f"{args.wasm}: import {imp.module}.{imp.name} cannot be provided by "
                       f"`winch run`")
    store = wstore.Store(c.isa)
    if args.fuel is not None:  # before instantiation: a start function spends fuel too
        store.set_fuel(args.fuel)
    if args.epoch_deadline is not None:
        store.set_epoch_deadline(args.epoch_deadline)
    try:
        inst = winst.instantiate(store, c, {})
    except winst.InstantiationTrap as t:
        print(f"trap during instantiation: {t.outcome}")
        return 1
    ticker = None
    if args.epoch_deadline is not None and args.epoch_tick_ms:
        from winch.host.epoch import Ticker

        ticker = Ticker(store.epoch, args.epoch_tick_ms / 1000).start()
    try:
        if args.trace is not None:
            from winch.host.trace import TracePrinter, run_traced

            printer = TracePrinter(c.module, print)
            try:
                res = run_traced(store, inst, args.invoke, bits, printer.step, printer.write,
                                 limit=args.trace)
            finally:
                printer.finish()
        else:
            res = winst.call(store, inst.exports[args.invoke], bits)
    finally:
        if ticker is not None:
            ticker.stop()
    try:
        if isinstance(res, wstore.Returned):
            print(" ".join(format_value(t, v) for t, v in zip(ft.results, res.values)))
            return 0
        if isinstance(res, wstore.Trapped):
            loc = (f" in func {res.func} at wasm offset {res.wasm_offset:#x}"
                   if res.func >= 0 else "")
            print(f"trap: {res.kind.value}{loc}")
            return 1
        print(f"{type(res).__name__}: {getattr(res, 'reason', getattr(res, 'message', ''))}")
        return 1
    finally:
        if args.fuel is not None:
            print(f"fuel remaining: {store.get_fuel()}")


def _run_wasi(c, args) -> int:
    """`winch run --wasi`: the program's own exit code; a trap or an unfinished run is one
    line on stderr and 134 (wasmtime's CLI exits so after a trap)."""
    import os

    from winch.host import instance as winst
    from winch.host import store as wstore
    from winch.host.wasi import WasiConfig, run_wasi

    preopens = []
    for d in args.dir:
        host, _, guest = d.partition("::")
        if not os.path.isdir(host):
            raise BadInput(f"--dir {d}: not a directory")
        preopens.append((host, guest or host))
    env = []
    for kv in args.env:
        k, eq, v = kv.partition("=")
        if not eq or not k:
            raise BadInput(f"--env {kv}: expected NAME=VALUE")
        env.append((k, v))
    config = WasiConfig(args=[os.path.basename(args.wasm)] + list(args.args), env=env,
                        preopens=preopens)
    store = wstore.Store(c.isa, timeout=3600.0)
    if args.fuel is not None:
        store.set_fuel(args.fuel)
    if args.epoch_deadline is not None:
        store.set_epoch_deadline(args.epoch_deadline)
    try:
        code, res = run_wasi(c, config, store)
    except wstore.LinkError as e:
        raise BadInput(f"{args.wasm}: {e}") from None
    except ValueError as e:
        raise BadInput(f"{args.wasm}: {e}") from None
    except winst.InstantiationTrap as t:
        print(f"trap during instantiation: {t.outcome}", file=sys.stderr)
        return 134
    if code is not None:
        return code & 0xFF
    if isinstance(res, wstore.Trapped):
        loc = f" in func {res.func} at wasm offset {res.wasm_offset:#x}" if res.func >= 0 else ""
        msg = f": {res.message}" if res.func < 0 and res.message else ""
        print(f"trap: {res.kind.value}{loc}{msg}", file=sys.stderr)
    else:
        print(f"{type(res).__name__}: {getattr(res, 'reason', getattr(res, 'message', ''))}",
              file=sys.stderr)
    return 134


if __name__ == "__main__":
    sys.exit(main())
