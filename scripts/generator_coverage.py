"""How far the module generator reaches: operators, boundary values, frames, speed, outcomes.

    python scripts/generator_coverage.py [--modules 1000] [--seed 1] [--source S] [--json]
                                         [--no-outcomes] [--timing-modules 200] [--inputs DIR]

Generates N modules from one *source* of choices (`--source`): "hypothesis" runs
`oracle.strategies.wasm_modules()` (swarm configurations) through hypothesis's
`fuzz_one_input` on seeded random 8 KiB buffers, as the differential fuzz target feeds it;
"bytes" calls the generator's byte-driven entry point (`BYTES_ENTRY`, a "module:function"
taking the fuzzer's input bytes and returning the module's bytes; `--bytes-entry` overrides
it) on seeded random inputs of `--bytes-len` bytes.  "auto" (the default) is "bytes" when
that entry point exists, else "hypothesis".  `--inputs DIR` gives the byte-driven source
the files of DIR instead of random bytes (a libFuzzer corpus: what the fuzzer really feeds
it, short inputs mostly; N is then at most the number of files).  Each module is decoded with
`winch.wasm.reader.decode_module` and the report says:

1. operators: the share of the operators *the compiler has a handler for* (the keys of
   `winch.codegen.func.HANDLERS`, which `FuncCodegen.visit` dispatches on, in opcode-table
   order) that occur at least once in some function body, and each one that never does.
   The scope is the compiler's, never the generator's: an operator the generator cannot
   emit is reported missing, not left out;
2. boundary patterns: the share of modules in which at least one instruction shows each
   pattern of `PATTERNS` (target: 5% each).  Found by static analysis (`analyse`): a forward
   abstract interpretation of every body that tracks, per operand-stack entry, its type and,
   where static, its value.  Values are known for `*.const` (a *literal*: the compiler's
   immediate operand), `global.get` of an immutable defined global with a constant
   initializer, `local.get` of a local written with a known value (or a declared local, zero)
   earlier with no merge point in between (the top of a loop and every `end` forget the
   locals; an `else` arm starts from what held at its `if`), `local.tee`, and a few folds
   of known operands (wrap, extends, reinterprets, add/sub/and/or/xor/mul/shl).  Everything
   else (parameters, loads, call results, merges) is unknown, and an instruction whose
   operands are unknown shows no pattern: the shares
   are lower bounds of what the modules do at run time.  Memory and table sizes are the
   initial ones (`min`; each memory its own, in its page size); memory contents are the
   active data segments with constant offsets, per memory (stores are ignored).  The
   issue-20 patterns (`mem64.*`, `multi.*`, `table64.*`, `page1.*`) are also given as a
   share of the modules of their family (`FAMILY_SHARES`: with a 64-bit memory, two or more
   memories, a 64-bit table, a memory of 1-byte pages), and the target applies to that
   share.  Code after an unconditional
   branch is not analysed;
3. frames: per function, 8 + 8 x (declared locals) + 8 x (maximum operand-stack height)
   bytes, the compiler's frame formula (`winch.codegen.frame.Frame.size`) without its
   outgoing-argument area and alignment; the share of modules with a frame >= 4 KiB
   (target 2%: aarch64 then builds a slot's offset from fp in two instructions, issue 15)
   and >= 32 KiB (offsets wider than 15 bits);
4. generation time: the median time of one call of the source (input to module bytes;
   decoding not included) for the source used, and for the other source on
   `--timing-modules` modules (the byte-driven target is 2 ms);
5. module sizes (instructions, each body's final `end` not counted; bytes) and the maximum
   operand-stack height per module, from `oracle.reduce.stack_types.stack_before`
   (unreachable code skipped, a block opened in it counts from its parent's base);
6. unless `--no-outcomes`: the outcome of every call of each module's default plan on the
   engine "wasmtime": returned, trapped (by trap kind), out of fuel (the generated code's
   `fuel` global reached 0: an `unreachable` trap with `fuel` == 0 after the call);
   wasmtime's own budget running out (`Exhausted`) is counted apart.

`--json` prints the same figures as one JSON object.  Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import pathlib
import random
import statistics
import struct
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from oracle.reduce.edit import bodies  # noqa: E402
from oracle.reduce.stack_types import _effect, block_sig, global_types, local_types, \
    stack_before  # noqa: E402
from winch.wasm.module import EXT_MEMORY, EXT_TABLE  # noqa: E402
from winch.wasm.opcodes import OPS  # noqa: E402
from winch.wasm.reader import decode_module  # noqa: E402
from winch.wasm.types import F32, I32, I64  # noqa: E402

ENGINE = "wasmtime"
#: the generator's byte-driven entry point: data (bytes) -> module bytes (or None)
BYTES_ENTRY = "oracle.gen:generate"
PAGE = 65536
FRAME_BIG, FRAME_HUGE = 4096, 32768

PATTERNS = {
    "mem.end_exact": "a load/store with known address a and offset o: a + o + width == "
                     "memory size (the last in-bounds access)",
    "mem.end_plus1": "... a + o + width == memory size + 1 (the first out of bounds)",
    "mem.carry32": "... a + o >= 2**32 (the offset carries the address past 32 bits)",
    "table.near_size": "table.get/set or call_indirect with a known index in {size-1, size, "
                       "size+1}, or table.fill/copy/init with known start + n in {size, "
                       "size+1} (destination table)",
    "table.at_size": "... the first index out of bounds: index == size, or start + n == "
                     "size + 1",
    "shift.edge": "a shift or rotate with a known count (unmasked) in {0, 1, w-1, w, w+1} or "
                  "32..63",
    "shift.i64_32_63_const": "an i64 shift/rotate whose count is an i64.const in 32..63 "
                             "(the compiler's immediate form)",
    "shift.i64_32_63_nonconst": "an i64 shift/rotate whose count is known to be in 32..63 "
                                "but is not a literal (a register count at run time)",
    "sign.8": "a known operand of an integer operator or store whose low 8 bits have their "
              "sign bit set, the bits above all equal (a negative 8-bit value, sign- or "
              "zero-extended)",
    "sign.16": "... the same for 16 bits",
    "sign.32": "... the same for 32 bits (an i32 or i64 operand)",
    "sign.64": "... an i64 operand with bit 63 set",
    "float_to_int.edge": "a trunc/trunc_sat with a known operand NaN, +-inf, or within 1 of a "
                         "bound of the target range (signed: -2**(n-1), 2**(n-1); unsigned: "
                         "0, 2**n)",
    "fcmp.nan": "a float comparison with a known NaN operand",
    "fminmax.nan": "a float min/max with a known NaN operand",
    "fcmp_minmax.zero": "a float comparison or min/max with a known +0 or -0 operand",
    "int_to_float.tie": "an int-to-float conversion of a known value that must round and is "
                        "within 1 of a halfway point between two floats of the target "
                        "(0x8000008000000001 to f32)",
    "data.read8": "an 8-bit integer load with a known address reading a non-zero byte of an "
                  "active data segment",
    "data.read16": "... a 16-bit load", "data.read32": "... a 32-bit load",
    "data.read64": "... a 64-bit load",
    "data.read_all": "all four of data.read8/16/32/64 in one module",
    "sx_load.sign": "a sign-extending load whose known bytes (data segments) have the sign "
                    "bit set",
    "br_table.default": "br_table with a known index >= its target count and a default that "
                        "differs from its last target",
    # memory64, table64, multi-memory (issue 20); sizes are each memory's own
    "page1.end_plus1": "a load/store on a memory of 1-byte pages (custom-page-sizes) "
                       "ending one byte past its end",
    "mem64.end_exact": "a load/store on a 64-bit memory ending exactly at its end",
    "mem64.end_plus1": "... ending one byte past its end",
    "mem64.offset_2_32": "a load/store on a 64-bit memory with a memarg offset >= 2**32",
    "mem64.high_bits": "... with a known address >= 2**32 whose low 32 bits (plus offset "
                       "and width) are in bounds: a bounds check done in 32 bits passes it",
    "mem64.carry64": "... with a known address + offset >= 2**64 (the sum carries out of 64 "
                     "bits)",
    "multi.end_exact": "a load/store on a memory other than 0 ending exactly at its end",
    "multi.end_plus1": "... ending one byte past its end",
    "multi.copy_mixed": "memory.copy between memories of different index types",
    "multi.grow_nonzero": "memory.grow of a memory other than 0 by a known delta > 0",
    "multi.after_grow": "a load/store past a memory's initial end (in bounds only if it "
                        "grew) after a memory.grow of that memory earlier in the body",
    "table64.index_2_32": "table.get/set or call_indirect on a 64-bit table with a known "
                          "index >= 2**32",
}
#: the issue-20 families: the share of modules with ...
FAMILY_SHARES = {"memory64": "a 64-bit memory", "table64": "a 64-bit table",
                 "multi_memory": "two or more memories",
                 "page_size_1": "a memory of 1-byte pages (custom-page-sizes)"}
TARGET_SHARE = 0.05

_SHIFTS = ("shl", "shr_s", "shr_u", "rotl", "rotr")
_FCMP = ("eq", "ne", "lt", "gt", "le", "ge")
_LOAD_WIDTH = {"load8": 1, "load16": 2, "load32": 4, "load": None}
MASK32 = 0xFFFF_FFFF


def offset_only(ins) -> bool:
    """A load or store of a memory (not a SIMD lane access), whose memarg is (align, offset,
    memory)."""
    return len(ins.imm) == 3


# -- the scope: what the compiler handles ----------------------------------------------------------
def in_scope() -> list:
    """Every operator the compiler has a handler for, in opcode-table order."""
    from winch.codegen.func import HANDLERS

    return [o.name for o in OPS if o.name in HANDLERS]


# -- sources ---------------------------------------------------------------------------------------
def _bytes_entry(spec: str):
    mod, _, fn = spec.partition(":")
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError):
        return None


def _hypothesis_source():
    """A function data -> module bytes (or None when hypothesis rejects the buffer)."""
    from hypothesis import HealthCheck, given, settings

    from oracle.strategies import wasm_modules

    box = []

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(wasm_modules())
    def prop(wasm):
        box.append(wasm)

    def gen(data: bytes):
        box.clear()
        prop.hypothesis.fuzz_one_input(data)
        return box[0] if box else None
    return gen


def make_source(name: str, bytes_entry: str = BYTES_ENTRY):
    """(generator function, input length) for source "hypothesis" or "bytes"; None if the
    byte-driven entry point does not exist (yet)."""
    if name == "hypothesis":
        return _hypothesis_source(), 8192
    fn = _bytes_entry(bytes_entry)
    return None if fn is None else (fn, None)


def generate(source, n: int, seed: int, length: int, progress=None, inputs=None) -> tuple:
    """n modules from `source` on seeded random inputs (or on `inputs`, a list of byte
    strings, while they last): (modules, seconds per module).  An input the source rejects
    (None) is replaced by the next; its time is counted."""
    gen, fixed = source
    rng = random.Random(seed)
    mods, times = [], []
    spent = 0.0
    if inputs is not None:
        inputs = iter(inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(mods) < n:
            data = rng.randbytes(fixed or length) if inputs is None else next(inputs, None)
            if data is None:
                break
            t0 = time.perf_counter()
            wasm = gen(data)
            spent += time.perf_counter() - t0
            if wasm is None:
                continue
            mods.append(wasm)
            times.append(spent)
            spent = 0.0
            if progress and len(mods) % 100 == 0:
                progress(f"generated {len(mods)}/{n}")
    return mods, times


# -- static analysis -------------------------------------------------------------------------------
def _f(bits: int, t: int) -> float:
    return struct.unpack("<f", bits.to_bytes(4, "little"))[0] if t == F32 else \
        struct.unpack("<d", bits.to_bytes(8, "little"))[0]


def _width(t: int) -> int:
    return 32 if t in (I32, F32) else 64


def _signed(v: int, w: int) -> int:
    return v - (1 << w) if v >> (w - 1) else v


def _sign_patterns(v: int, w: int) -> list:
    out = []
    for k in (8, 16, 32, 64):
        if k > w or not (v >> (k - 1)) & 1:
            continue
        high = v >> k
        if k == w or high == 0 or high == (1 << (w - k)) - 1:
            out.append(f"sign.{k}")
    return out


def _near_tie(v: int, p: int) -> bool:
    """|v| needs rounding to p significant bits and lies within 1 of a halfway point."""
    m = abs(v)
    if m < (1 << p):
        return False
    ulp = 1 << (m.bit_length() - p)
    r = m % ulp
    return r != 0 and abs(r - ulp // 2) <= 1


def _float_to_int_edge(x: float, name: str) -> bool:
    if math.isnan(x) or math.isinf(x):
        return True
    n = 64 if name.startswith("i64") else 32
    bounds = (-(2.0 ** (n - 1)), 2.0 ** (n - 1)) if name.endswith("_s") else (0.0, 2.0 ** n)
    return any(b - 1 <= x <= b + 1 for b in bounds)


def _fold(name: str, args: list, t_out: int):
    """The value of numeric operator `name` on known args (bit patterns), or None."""
    if any(a is None for a in args):
        return None
    w = _width(t_out)
    mask = (1 << w) - 1
    if name in ("i32.wrap_i64", "i64.extend_i32_u") or "reinterpret" in name:
        return args[0] & mask
    if name == "i64.extend_i32_s":
        return _signed(args[0], 32) & mask
    for k in (8, 16, 32):
        if name.endswith(f"extend{k}_s"):
            return _signed(args[0] & ((1 << k) - 1), k) & mask
    op = name.split(".", 1)[1]
    if len(args) == 2 and name[0] == "i":
        a, b = args
        r = {"add": a + b, "sub": a - b, "and": a & b, "or": a | b, "xor": a ^ b,
             "mul": a * b, "shl": a << (b & (w - 1))}.get(op)
        return None if r is None else r & mask
    return None


class _Ctx:
    """Module-level facts the analysis needs."""

    def __init__(self, m):
        self.m = m
        self.globs = global_types(m)
        self.ftypes = m.func_types
        n_imp_globals = len(self.globs) - len(m.globals)
        self.global_values = {}
        for i, g in enumerate(m.globals):
            ins = g.init.instrs
            if not g.type.mutable and len(ins) == 1 and ins[0].op.name.endswith(".const"):
                t = g.type.valtype
                self.global_values[n_imp_globals + i] = ins[0].imm & ((1 << _width(t)) - 1)
        mems = [i.desc.limits for i in m.imports if i.kind == EXT_MEMORY] + \
            [mt.limits for mt in m.mems]
        # per memory: its initial size in bytes, and whether it is 64-bit
        self.mem_sizes = [lim.min << getattr(lim, "page_log2", 16) for lim in mems]
        self.mem64 = [lim.is64 for lim in mems]
        self.mem_pages = [1 << getattr(lim, "page_log2", 16) for lim in mems]  # page bytes
        self.mem_size = self.mem_sizes[0] if mems else None
        tables = [i.desc.limits for i in m.imports if i.kind == EXT_TABLE] + \
            [tt.limits for tt in m.tables]
        self.table_sizes = [lim.min for lim in tables]
        self.table64 = [lim.is64 for lim in tables]
        self.grown: dict = {}  # memory -> pages grown by a known delta earlier in the body
        # per memory: address -> non-zero byte of an active segment (later ones win)
        self.data = [{} for _ in mems]
        for d in m.datas:
            if d.mode != "active" or len(d.offset.instrs) != 1 or \
                    d.offset.instrs[0].op.name not in ("i32.const", "i64.const"):
                continue
            base = d.offset.instrs[0].imm & 0xFFFF_FFFF_FFFF_FFFF
            data = self.data[d.memory]
            for k, b in enumerate(d.init):
                if b:
                    data[base + k] = b
                else:
                    data.pop(base + k, None)


def _check(ctx: _Ctx, ins, args: list, found: set) -> None:
    """Add the patterns instruction `ins` shows on its operands `args` ((type, value,
    literal) each, deepest first) to `found`."""
    op, name = ins.op, ins.op.name
    fam = op.family
    vals = [a[1] for a in args]
    if fam in ("load", "store") and ctx.mem_size is not None and offset_only(ins):
        mem = ins.imm[2]
        if ctx.mem64[mem] and ins.imm[1] >= 1 << 32:
            found.add("mem64.offset_2_32")
    if fam in ("load", "store") and ctx.mem_size is not None and vals[0] is not None:
        _, offset, mem = ins.imm[:3]
        size = ctx.mem_sizes[mem]
        kind = name.split(".", 1)[1]
        width = _LOAD_WIDTH.get(kind.split("_")[0]) if fam == "load" else \
            {"store8": 1, "store16": 2, "store32": 4}.get(kind)
        width = width or _width(op.results[0] if fam == "load" else op.params[0]) // 8
        ea = vals[0] + offset
        end = ea + width
        if end == size:
            found.add("mem.end_exact")
        elif end == size + 1:
            found.add("mem.end_plus1")
        if ea >= 1 << 32:
            found.add("mem.carry32")
        if ctx.mem64[mem]:
            if end == size:
                found.add("mem64.end_exact")
            elif end == size + 1:
                found.add("mem64.end_plus1")
            if vals[0] >= 1 << 32 and (vals[0] & MASK32) + offset + width <= size:
                found.add("mem64.high_bits")
            if ea >= 1 << 64:
                found.add("mem64.carry64")
        if ctx.mem_pages[mem] == 1 and end == size + 1:
            found.add("page1.end_plus1")
        if mem:
            if end == size:
                found.add("multi.end_exact")
            elif end == size + 1:
                found.add("multi.end_plus1")
        if size < end <= size + ctx.mem_pages[mem] * ctx.grown.get(mem, 0):
            found.add("multi.after_grow")
        if fam == "load" and name[0] == "i":
            got = [ctx.data[mem].get(ea + k, 0) for k in range(width)]
            if any(got):
                found.add(f"data.read{8 * width}")
                if kind.endswith("_s") and got[-1] & 0x80:
                    found.add("sx_load.sign")
    if fam == "store" and name[0] == "i" and vals[1] is not None:
        found.update(_sign_patterns(vals[1], _width(op.params[0])))
    if fam in ("binop", "cmp", "test", "unop", "conv"):
        for t, v, _ in args:
            if v is not None and t in (I32, I64):
                found.update(_sign_patterns(v, _width(t)))
    if fam == "binop" and name[0] == "i" and name.split(".")[1] in _SHIFTS:
        t, c, literal = args[1]
        if c is not None:
            w = _width(t)
            if c in (0, 1, w - 1, w, w + 1) or 32 <= c <= 63:
                found.add("shift.edge")
            if t == I64 and 32 <= c <= 63:
                found.add("shift.i64_32_63_const" if literal else "shift.i64_32_63_nonconst")
    if name[0] == "f" and (fam == "cmp" or name.endswith((".min", ".max"))):
        t = op.params[0]
        xs = [_f(v, t) for v in vals if v is not None]
        if any(math.isnan(x) for x in xs):
            found.add("fcmp.nan" if fam == "cmp" else "fminmax.nan")
        if any(x == 0 for x in xs):
            found.add("fcmp_minmax.zero")
    if fam == "conv" and "trunc" in name and vals[0] is not None:
        if _float_to_int_edge(_f(vals[0], op.params[0]), name):
            found.add("float_to_int.edge")
    if fam == "conv" and "convert" in name and vals[0] is not None:
        w = _width(op.params[0])
        v = _signed(vals[0], w) if name.endswith("_s") else vals[0]
        if _near_tie(v, 24 if name.startswith("f32") else 53):
            found.add("int_to_float.tie")
    if name == "memory.copy" and ctx.mem64[ins.imm[0]] != ctx.mem64[ins.imm[1]]:
        found.add("multi.copy_mixed")
    if name == "memory.grow" and vals[0] is not None and 0 < vals[0] < 1 << 31:
        if ins.imm:
            found.add("multi.grow_nonzero")
        ctx.grown[ins.imm] = ctx.grown.get(ins.imm, 0) + vals[0]
    if name in ("table.get", "table.set", "call_indirect", "table.fill", "table.copy",
                "table.init"):
        ti = {"call_indirect": lambda imm: imm[1], "table.copy": lambda imm: imm[0],
              "table.init": lambda imm: imm[1]}.get(name, lambda imm: imm)(ins.imm)
        size = ctx.table_sizes[ti] if ti < len(ctx.table_sizes) else None
        i = vals[0] if name in ("table.set", "table.fill", "table.copy", "table.init") \
            else vals[-1]
        if size is not None and ctx.table64[ti] and i is not None and i >= 1 << 32:
            found.add("table64.index_2_32")
        if size is not None:
            if name in ("table.get", "call_indirect") and vals[-1] is not None or \
                    name == "table.set" and vals[0] is not None:
                i = vals[-1] if name != "table.set" else vals[0]
                if size - 1 <= i <= size + 1:
                    found.add("table.near_size")
                if i == size:
                    found.add("table.at_size")
            elif name in ("table.fill", "table.copy", "table.init") and \
                    vals[0] is not None and vals[2] is not None:
                if vals[0] + vals[2] in (size, size + 1):
                    found.add("table.near_size")
                if vals[0] + vals[2] == size + 1:
                    found.add("table.at_size")
    if name == "br_table" and vals[0] is not None:
        targets, default = ins.imm
        if vals[0] >= len(targets) and targets and default != targets[-1]:
            found.add("br_table.default")


def analyse(m, fidx: int, instrs, found: set) -> None:
    """Add to `found` the patterns of `PATTERNS` that body `fidx` shows (see the module
    docstring for what is known statically)."""
    ctx = m if isinstance(m, _Ctx) else _Ctx(m)
    ctx.grown = {}
    m = ctx.m
    locs = local_types(m, fidx)
    nparams = len(m.types[m.funcs[fidx].type_index].params)

    known = {i: 0 for i in range(nparams, len(locs))}  # declared locals start at zero
    frames = [[(), (), tuple(m.types[m.funcs[fidx].type_index].results), {}]]
    stack: list | None = []
    for ins in instrs:
        name = ins.op.name
        if name in ("block", "loop", "if"):
            params, results = block_sig(m, ins.imm)
            if stack is not None:
                if name == "if":
                    _check(ctx, ins, stack[-1:], found)
                    stack = stack[:-1]
                base = stack[:len(stack) - len(params)]
                entry = stack[len(stack) - len(params):] if params else []
            else:
                base, entry = None, [(t, None, False) for t in params]
            if name == "loop":  # a label at the top: the back edges bring other values
                known = {}
            frames.append([base, entry, results, dict(known)])
            stack = list(entry)
            continue
        if name == "else":  # the else arm starts from the if's entry
            stack = list(frames[-1][1])
            known = dict(frames[-1][3])
            continue
        if name == "end":
            f = frames.pop()
            if not frames:
                break
            stack = None if f[0] is None else list(f[0]) + [(t, None, False) for t in f[2]]
            known = {}  # a merge: what was known of the locals no longer holds
            continue
        if stack is None:
            continue
        sig = _effect(m, ins, [e[0] for e in stack], locs, ctx.globs, ctx.ftypes)
        if sig is None:
            stack = None
            continue
        pops, pushes, transfer = sig
        if pops > len(stack):
            stack = None
            continue
        args = stack[len(stack) - pops:]
        _check(ctx, ins, stack[-1:] if name == "br_table" else args, found)
        del stack[len(stack) - pops:]
        if name.endswith(".const") and ins.op.family == "const":
            t = pushes[0]
            stack.append((t, ins.imm & ((1 << _width(t)) - 1), True))
        elif name == "local.get":
            stack.append((pushes[0], known.get(ins.imm), False))
        elif name in ("local.set", "local.tee"):
            v = args[0][1]
            if v is None:
                known.pop(ins.imm, None)
            else:
                known[ins.imm] = v
            if name == "local.tee":
                stack.append((pushes[0], v, False))
        elif name == "global.get":
            stack.append((pushes[0], ctx.global_values.get(ins.imm), False))
        elif len(pushes) == 1 and ins.op.has_sig and ins.op.family in ("binop", "conv", "unop"):
            stack.append((pushes[0], _fold(name, [a[1] for a in args], pushes[0]), False))
        elif name in ("select", "select_t") and args[2][1] is not None:
            stack.append(args[0] if args[2][1] else args[1])
        else:
            stack.extend((t, None, False) for t in pushes)
        if transfer:
            stack = None


def module_patterns(m) -> set:
    """The patterns a decoded module shows in some body, plus "data.read_all"."""
    ctx = _Ctx(m)
    found: set = set()
    for k, b in enumerate(bodies(m)):
        analyse(ctx, k, b, found)
    if all(f"data.read{w}" in found for w in (8, 16, 32, 64)):
        found.add("data.read_all")
    return found


def module_families(m) -> set:
    """The issue-20 families (`FAMILY_SHARES`) a decoded module shows."""
    mems = [i.desc.limits for i in m.imports if i.kind == EXT_MEMORY] + \
        [mt.limits for mt in m.mems]
    tables = [i.desc.limits for i in m.imports if i.kind == EXT_TABLE] + \
        [tt.limits for tt in m.tables]
    out = set()
    if any(lim.is64 for lim in mems):
        out.add("memory64")
    if any(lim.is64 for lim in tables):
        out.add("table64")
    if len(mems) >= 2:
        out.add("multi_memory")
    if any(getattr(lim, "page_log2", 16) == 0 for lim in mems):
        out.add("page_size_1")
    return out


def pattern_family(p: str) -> str | None:
    """The family whose modules a pattern's share is also given of (None: all modules)."""
    return {"mem64": "memory64", "multi": "multi_memory", "table64": "table64",
            "page1": "page_size_1"}.get(
        p.split(".")[0])


def max_stack_height(m, fidx: int, instrs) -> int:
    """Highest operand-stack height (from the function's base) before any instruction of a
    body; unreachable code, whose stack `stack_before` leaves unknown, is skipped."""
    bases = [0]
    best = 0
    for ins, state in zip(instrs, stack_before(m, fidx, instrs)):
        height = bases[-1] + (len(state[1]) if state is not None else 0)
        best = max(best, height)
        name = ins.op.name
        if name in ("block", "loop", "if"):
            params = block_sig(m, ins.imm)[0]
            bases.append(height - (name == "if") - len(params) if state is not None
                         else bases[-1])
        elif name == "end":
            bases.pop()
    return best


def frame_bytes(m, fidx: int, height: int) -> int:
    """The compiler's frame size without outgoing arguments (module docstring, 3)."""
    declared = sum(n for n, _ in m.funcs[fidx].locals)
    return 8 + 8 * declared + 8 * height


# -- outcomes --------------------------------------------------------------------------------------
def classify(out, state: dict) -> str:
    from oracle.outcomes import Exhausted, HostError, Trap, TrapKind, Values

    if isinstance(out, Values):
        return "returned"
    if isinstance(out, Trap):
        fuel = state.get("fuel")
        if out.kind == TrapKind.unreachable and fuel is not None and fuel.bits == 0:
            return "out of fuel (fuel global)"
        return f"trapped: {out.kind.value}"
    if isinstance(out, Exhausted):
        return f"exhausted (engine budget: {out.reason})"
    if isinstance(out, HostError):
        return "host error"
    return f"not run: {out}"


# -- the report ------------------------------------------------------------------------------------
@dataclass
class Report:
    modules: int = 0
    source: str = ""
    scope: list = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)  # opcode -> occurrences
    patterns: Counter = field(default_factory=Counter)  # pattern -> modules showing it
    families: Counter = field(default_factory=Counter)  # issue-20 family -> modules
    # (family, pattern) -> modules of the family showing the pattern
    family_patterns: Counter = field(default_factory=Counter)
    frames: list = field(default_factory=list)  # largest frame per module, bytes
    gen_times: dict = field(default_factory=dict)  # source -> seconds per module
    instrs: list = field(default_factory=list)
    sizes: list = field(default_factory=list)
    depths: list = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)  # per call; module failures too

    @property
    def missing(self) -> list:
        return [n for n in self.scope if n not in self.seen]

    @property
    def opcode_share(self) -> float:
        return 1 - len(self.missing) / len(self.scope)

    def share(self, pattern: str) -> float:
        return self.patterns[pattern] / self.modules if self.modules else 0.0

    def family_share(self, family: str) -> float:
        return self.families[family] / self.modules if self.modules else 0.0

    def share_in_family(self, pattern: str) -> float | None:
        """The share of the modules of the pattern's family showing it (None: no family)."""
        fam = pattern_family(pattern)
        if fam is None:
            return None
        n = self.families[fam]
        return self.family_patterns[(fam, pattern)] / n if n else 0.0

    def frame_share(self, limit: int) -> float:
        return sum(f >= limit for f in self.frames) / self.modules if self.modules else 0.0

    def median_ms(self, source: str) -> float | None:
        ts = self.gen_times.get(source)
        return 1000 * statistics.median(ts) if ts else None

    def as_json(self) -> dict:
        return {
            "modules": self.modules, "source": self.source,
            "operators": {"scope": len(self.scope), "seen": len(self.scope) - len(self.missing),
                          "share": self.opcode_share, "missing": self.missing},
            "patterns": {p: self.share(p) for p in PATTERNS},
            "families": {f: self.family_share(f) for f in FAMILY_SHARES},
            "patterns_in_family": {p: self.share_in_family(p) for p in PATTERNS
                                   if pattern_family(p)},
            "frames": {"ge_4k": self.frame_share(FRAME_BIG), "ge_32k": self.frame_share(FRAME_HUGE),
                       "max": max(self.frames, default=0)},
            "generation_ms_median": {s: self.median_ms(s) for s in self.gen_times},
            "instructions_median": statistics.median(self.instrs) if self.instrs else 0,
            "bytes_median": statistics.median(self.sizes) if self.sizes else 0,
            "stack_height_max": max(self.depths, default=0),
            "outcomes": dict(self.outcomes),
        }


def measure(n: int, seed: int = 1, progress=None, source: str = "auto",
            bytes_entry: str = BYTES_ENTRY, bytes_len: int = 4096, outcomes: bool = True,
            timing_modules: int = 200, inputs=None) -> Report:
    if source == "auto":
        source = "bytes" if _bytes_entry(bytes_entry) is not None else "hypothesis"
    src = make_source(source, bytes_entry)
    if src is None:
        raise SystemExit(f"generator_coverage.py: no byte-driven entry point {bytes_entry}")
    rep = Report(scope=in_scope(), source=source if inputs is None or source != "bytes"
                 else "bytes (given inputs)")
    mods, rep.gen_times[source] = generate(src, n, seed, bytes_len, progress,
                                           inputs if source == "bytes" else None)
    other = "hypothesis" if source == "bytes" else "bytes"
    osrc = make_source(other, bytes_entry)
    if osrc is not None and timing_modules:
        rep.gen_times[other] = generate(osrc, timing_modules, seed + 1, bytes_len)[1]
    scope = set(rep.scope)
    for i, wasm in enumerate(mods, 1):
        m = decode_module(wasm)
        bs = bodies(m)
        for b in bs:
            rep.seen.update(ins.op.name for ins in b if ins.op.name in scope)
        rep.modules += 1
        rep.instrs.append(sum(len(b) - 1 for b in bs))
        rep.sizes.append(len(wasm))
        heights = [max_stack_height(m, k, b) for k, b in enumerate(bs)]
        rep.depths.append(max(heights, default=0))
        rep.frames.append(max((frame_bytes(m, k, h) for k, h in enumerate(heights)), default=0))
        found = module_patterns(m)
        rep.patterns.update(found)
        fams = module_families(m)
        rep.families.update(fams)
        rep.family_patterns.update((pattern_family(p), p) for p in found
                                   if pattern_family(p) in fams)
        if outcomes:
            from oracle.diff import run_diff

            run = run_diff(wasm, (ENGINE,), determinism="none").runs[ENGINE]
            if run.status != "ok":
                rep.outcomes[f"module {run.status}"] += 1
            for out, state in zip(run.outcomes, run.states):
                rep.outcomes[classify(out, state)] += 1
        if progress and i % 100 == 0:
            progress(f"measured {i}/{n}")
    return rep


def distribution(title: str, xs: list, bins: int = 10, width: int = 40) -> list:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
    lines = [f"{title}: min {xs[0]}, median {statistics.median(xs):g}, p90 {p90}, "
             f"max {xs[-1]}"]
    lo, hi = xs[0], xs[-1]
    step = max(1, -(-(hi - lo + 1) // bins))
    counts = Counter((x - lo) // step for x in xs)
    top = max(counts.values())
    for b in range((hi - lo) // step + 1):
        a = lo + b * step
        c = counts.get(b, 0)
        lines.append(f"  {a:>7}..{a + step - 1:<7} {c:5} {'#' * round(width * c / top)}")
    return lines


def _mark(ok: bool) -> str:
    return "" if ok else "   < target"


def format_report(rep: Report) -> str:
    lines = [f"{rep.modules} modules from the {rep.source} source", ""]
    seen = len(rep.scope) - len(rep.missing)
    lines.append(f"1. operators: {seen}/{len(rep.scope)} of the compiler's handled operators "
                 f"seen ({100 * rep.opcode_share:.1f}%)")
    if rep.missing:
        lines.append("   never seen: " + " ".join(rep.missing))
    lines += ["", f"2. boundary patterns (share of modules; target {100 * TARGET_SHARE:.0f}%)"]
    for p in PATTERNS:
        s, fs = rep.share(p), rep.share_in_family(p)
        if fs is None:
            lines.append(f"   {p:<26} {100 * s:5.1f}%{_mark(s >= TARGET_SHARE)}")
        else:  # an issue-20 pattern: the target is for the modules of its family
            lines.append(f"   {p:<26} {100 * s:5.1f}%  ({100 * fs:5.1f}% of the "
                         f"{pattern_family(p)} modules){_mark(fs >= TARGET_SHARE)}")
    lines += ["", "2b. memory64 / table64 / multi-memory / 1-byte pages (share of modules "
                  "with ...)"]
    for f, what in FAMILY_SHARES.items():
        lines.append(f"   {f:<26} {100 * rep.family_share(f):5.1f}%  ({what})")
    lines += ["", "3. frames (largest per module, estimated)"]
    lines.append(f"   >= 4 KiB  {100 * rep.frame_share(FRAME_BIG):5.1f}% of modules"
                 f"{_mark(rep.frame_share(FRAME_BIG) >= 0.02)}")
    lines.append(f"   >= 32 KiB {100 * rep.frame_share(FRAME_HUGE):5.1f}% of modules")
    lines += ["", "4. generation time per module (median)"]
    for s in ("bytes", "hypothesis"):
        ms = rep.median_ms(s)
        n = len(rep.gen_times.get(s, ()))
        lines.append(f"   {s:<11} " + ("not available" if ms is None else
                                        f"{ms:7.2f} ms  ({n} modules)"))
    lines += ["", "5. module sizes"] + distribution("   instructions", rep.instrs)
    lines += distribution("   bytes", rep.sizes)
    lines += distribution("   max operand-stack height", rep.depths)
    lines += distribution("   largest frame, bytes", rep.frames)
    if rep.outcomes:
        total = sum(v for k, v in rep.outcomes.items() if not k.startswith("module "))
        lines += ["", f"6. outcomes of {total} calls on {ENGINE}"]
        for k, v in sorted(rep.outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
            share = "" if k.startswith("module ") or not total else f" {100 * v / total:5.1f}%"
            lines.append(f"   {k:<40} {v:6}{share}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--source", choices=("auto", "bytes", "hypothesis"), default="auto")
    ap.add_argument("--bytes-entry", default=BYTES_ENTRY, help="module:function")
    ap.add_argument("--bytes-len", type=int, default=4096,
                    help="input length for the byte-driven source")
    ap.add_argument("--inputs", metavar="DIR", default=None,
                    help="the byte-driven source's inputs: the files of DIR (e.g. a fuzzing "
                         "corpus), not random bytes")
    ap.add_argument("--timing-modules", type=int, default=200,
                    help="modules to time the other source on (0: none)")
    ap.add_argument("--no-outcomes", action="store_true", help="skip running the modules")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the text")
    args = ap.parse_args(argv)
    if args.modules < 1:
        print("generator_coverage.py: --modules must be at least 1", file=sys.stderr)
        return 2
    if args.source == "bytes" and _bytes_entry(args.bytes_entry) is None:
        print(f"generator_coverage.py: no byte-driven entry point {args.bytes_entry}",
              file=sys.stderr)
        return 2
    inputs = None
    if args.inputs is not None:
        d = pathlib.Path(args.inputs)
        if not d.is_dir():
            print(f"generator_coverage.py: --inputs {args.inputs}: not a directory",
                  file=sys.stderr)
            return 2
        inputs = [p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()]
        if not inputs:
            print(f"generator_coverage.py: --inputs {args.inputs}: no files", file=sys.stderr)
            return 2
        if args.source == "auto":
            args.source = "bytes"
    t0 = time.monotonic()
    rep = measure(args.modules, args.seed,
                  lambda msg: print(f"[{time.monotonic() - t0:6.1f}s] {msg}", file=sys.stderr),
                  source=args.source, bytes_entry=args.bytes_entry, bytes_len=args.bytes_len,
                  outcomes=not args.no_outcomes, timing_modules=args.timing_modules,
                  inputs=inputs)
    if args.json:
        print(json.dumps(rep.as_json(), indent=1))
    else:
        print(format_report(rep))
        print(f"\n({time.monotonic() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
