"""`winch`: compile, explain and run WebAssembly with the baseline compiler.

    winch compile --target ISA m.wasm -o m.bin
    winch explain --target ISA m.wasm [--func N]
    winch run --target ISA m.wasm --invoke NAME [ARGS...]

Bad input exits with status 2 and one line naming the file, the byte offset and the problem.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys

from winch.codegen.compile import ISAS, compile_module
from winch.errors import WinchError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv=None) -> int:
    p = _Parser(prog="winch", description="a single-pass WebAssembly compiler")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in ("compile", "explain", "run"):
        sp = sub.add_parser(name)
        sp.add_argument("--target", default="x64", choices=ISAS)
        sp.add_argument("wasm", metavar="FILE")
        if name == "compile":
            sp.add_argument("-o", dest="output", required=True)
        elif name == "explain":
            sp.add_argument("--func", type=int, default=None,
                            help="function index (default: every defined function)")
        else:
            sp.add_argument("--invoke", required=True, metavar="NAME")
            sp.add_argument("args", nargs="*", metavar="ARG")
    args, extra = p.parse_known_args(argv)
    if extra:
        if args.command != "run" or any(x.startswith("--") for x in extra):
            p.error(f"unrecognized arguments: {' '.join(extra)}")
        args.args = list(args.args) + extra
    try:
        with open(args.wasm, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"winch: {args.wasm}: cannot read: {e.strerror}", file=sys.stderr)
        return 2
    try:
        compiled = compile_module(data, args.target)
    except WinchError as e:
        where = f"@{e.offset:#x}" if getattr(e, "offset", -1) >= 0 else ""
        print(f"winch: {args.wasm}{where}: {type(e).__name__}: {e.message}", file=sys.stderr)
        return 2
    if args.command == "compile":
        return _write_bin(compiled, args.output)
    if args.command == "explain":
        from winch.explain import explain

        try:
            sys.stdout.write(explain(compiled, args.func))
        except ValueError as e:
            print(f"winch: {args.wasm}: {e}", file=sys.stderr)
            return 2
        return 0
    return _run(compiled, args)


MAGIC = b"WNCH"


def _write_bin(c, path: str) -> int:
    """Layout: magic, version u32, isa (NUL-padded 8 bytes), header length u32, JSON header
    (functions, traps, srclocs), then the code bytes.  See README "winch compile"."""
    header = json.dumps({
        "isa": c.isa,
        "code_size": len(c.code),
        "functions": [{"index": c.module.num_imported_funcs + i, "offset": s, "size": e - s}
                      for i, (s, e) in enumerate(c.func_ranges)],
        "traps": [[off, kind.value] for off, kind in c.traps],
        "srclocs": [list(x) for x in c.srclocs],
    }, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<I", 1) + c.isa.encode().ljust(8, b"\0"))
        f.write(struct.pack("<I", len(header)) + header + c.code)
    print(f"{path}: {len(c.code)} bytes of {c.isa} code, {len(c.func_offsets)} functions, "
          f"{len(c.traps)} trap sites")
    return 0


def parse_arg(text: str, t: int) -> int:
    from winch.wasm.types import F32, F64, I32, I64

    try:
        if t in (I32, I64):
            v = int(text, 0)
            return v & (0xFFFF_FFFF if t == I32 else 0xFFFF_FFFF_FFFF_FFFF)
        if t == F32:
            return struct.unpack("<I", struct.pack("<f", float(text)))[0]
        if t == F64:
            return struct.unpack("<Q", struct.pack("<d", float(text)))[0]
    except (ValueError, OverflowError):
        pass
    raise ValueError(f"bad argument {text!r}")


def format_value(t: int, v: int) -> str:
    from winch.wasm.types import F32, F64, I32, I64, type_name

    if t == I32:
        return f"{v - (1 << 32) if v >> 31 else v}:i32"
    if t == I64:
        return f"{v - (1 << 64) if v >> 63 else v}:i64"
    if t == F32:
        return f"{struct.unpack('<f', struct.pack('<I', v))[0]!r}:f32"
    if t == F64:
        return f"{struct.unpack('<d', struct.pack('<Q', v))[0]!r}:f64"
    return f"{'null' if v == 0 else hex(v)}:{type_name(t)}"


def _run(c, args) -> int:
    from winch.host import instance as winst
    from winch.host import store as wstore
    from winch.wasm.module import EXT_FUNC

    exp = c.module.export_map().get(args.invoke)
    if exp is None or exp.kind != EXT_FUNC:
        print(f"winch: {args.wasm}: no exported function {args.invoke!r}", file=sys.stderr)
        return 2
    ft = c.module.func_type(exp.index)
    if len(args.args) != len(ft.params):
        print(f"winch: {args.wasm}: {args.invoke} takes {len(ft.params)} argument(s), "
              f"got {len(args.args)}", file=sys.stderr)
        return 2
    try:
        bits = [parse_arg(a, t) for a, t in zip(args.args, ft.params)]
    except ValueError as e:
        print(f"winch: {e}", file=sys.stderr)
        return 2
    store = wstore.Store(c.isa)
    imports = {}
    for imp in c.module.imports:
        print(f"winch: {args.wasm}: import {imp.module}.{imp.name} cannot be provided by "
              f"`winch run`", file=sys.stderr)
        return 2
    try:
        inst = winst.instantiate(store, c, imports)
    except winst.InstantiationTrap as t:
        print(f"trap during instantiation: {t.outcome}")
        return 1
    res = winst.call(store, inst.exports[args.invoke], bits)
    if isinstance(res, wstore.Returned):
        print(" ".join(format_value(t, v) for t, v in zip(ft.results, res.values)))
        return 0
    if isinstance(res, wstore.Trapped):
        loc = f" in func {res.func} at wasm offset {res.wasm_offset:#x}" if res.func >= 0 else ""
        print(f"trap: {res.kind.value}{loc}")
        return 1
    print(f"{type(res).__name__}: {getattr(res, 'reason', getattr(res, 'message', ''))}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
