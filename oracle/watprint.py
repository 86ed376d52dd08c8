"""A printer of binary modules in the WebAssembly text format (our own, independent of wabt).

`print_wat(wasm)` decodes `wasm` with the winch reader and writes every field of the module
with explicit numeric indices: no symbolic names are invented, so the text reads as the binary
does.  Function bodies are flat (one instruction a line, indented by block depth); constant
expressions (global initialisers, segment offsets, element items) are flat too.  Floats are
exact (hex floats, `inf`, `nan:0x...`), strings escape every byte outside printable ASCII as
`\\hh`, custom sections become comments `(;@custom "name" N bytes;)` where they appeared.

The text is meant to be parsed back by a standard text parser (wasmtime's `wat2wasm`) into a
module that re-encodes to the same module, so every choice between equivalent spellings picks
the one that pins the binary form: block types by index when the binary used an index, element
segments by function index or by expression as the binary had them, an explicit `(table N)` /
`(memory N)` exactly when the binary's segment flags named one.  Memory64, table64 and
multi-memory: `(memory i64 ...)` / `(table i64 ...)`, a memory index on every memory operator
that names a memory other than 0 (`i32.load 1 offset=8`, `memory.copy 1 0`), and a custom
page size as `(pagesize 1)` (the default 64 KiB is left out: a binary that spells it out
explicitly re-encodes without the flag).
"""

from __future__ import annotations

from winch.wasm import opcodes as K
from winch.wasm.encoder import func_instrs
from winch.wasm.module import (
    EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, EXT_NAMES, EXT_TABLE, ConstExpr, Module,
)
from winch.wasm.reader import decode_module
from winch.wasm.types import EXTERNREF, FUNCREF, type_name

_HEAP_NAMES = {FUNCREF: "func", EXTERNREF: "extern"}
_PRINTABLE = frozenset(range(0x20, 0x7F)) - {ord('"'), ord("\\")}


# -- atoms ----------------------------------------------------------------------------------
def wat_string(data: bytes | str, extra_escapes: bytes = b"") -> str:
    """A text-format string literal of `data` (a `str` stands for its UTF-8 bytes)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    out = ['"']
    for b in data:
        if b in _PRINTABLE and b not in extra_escapes:
            out.append(chr(b))
        else:
            out.append(f"\\{b:02x}")
    out.append('"')
    return "".join(out)


def _float(bits: int, exp_bits: int, mant_bits: int) -> str:
    """The exact text of the IEEE binary float with raw bit pattern `bits`."""
    sign = "-" if bits >> (exp_bits + mant_bits) else ""
    exp = (bits >> mant_bits) & ((1 << exp_bits) - 1)
    mant = bits & ((1 << mant_bits) - 1)
    if exp == (1 << exp_bits) - 1:
        return f"{sign}inf" if mant == 0 else f"{sign}nan:{mant:#x}"
    if exp == 0 and mant == 0:
        return f"{sign}0x0p+0"
    bias = (1 << (exp_bits - 1)) - 1
    lead, e = (0, 1 - bias) if exp == 0 else (1, exp - bias)
    digits = (mant_bits + 3) // 4
    frac = f"{mant << (4 * digits - mant_bits):0{digits}x}".rstrip("0")
    return f"{sign}0x{lead}{'.' + frac if frac else ''}p{e:+d}"


def f32_text(bits: int) -> str:
    return _float(bits, 8, 23)


def f64_text(bits: int) -> str:
    return _float(bits, 11, 52)


def _types(kw: str, ts) -> str:
    return f"({kw} {' '.join(type_name(t) for t in ts)})" if ts else ""


def _sig(m: Module, typeidx: int) -> str:
    """` (param ...) (result ...)` of type `typeidx` (checked by the parser against the index)."""
    if typeidx >= len(m.types):
        return ""
    ft = m.types[typeidx]
    return "".join(" " + x for x in (_types("param", ft.params), _types("result", ft.results)) if x)


def _limits(lim) -> str:
    """`[i64] min [max] [(pagesize N)]`: the index type of a 64-bit memory or table, and a
    memory's page size when it is not the default 64 KiB (custom-page-sizes)."""
    page = getattr(lim, "page_log2", 16)
    return ("i64 " if lim.is64 else "") + str(lim.min) + \
        ("" if lim.max is None else f" {lim.max}") + \
        ("" if page == 16 else f" (pagesize {1 << page})")


def _table_type(tt) -> str:
    return f"{_limits(tt.limits)} {type_name(tt.elem)}"


def _global_type(gt) -> str:
    return f"(mut {type_name(gt.valtype)})" if gt.mutable else type_name(gt.valtype)


# -- instructions ---------------------------------------------------------------------------
def _memarg(op, imm) -> str:
    align, offset, memidx = imm[:3]
    parts = [str(memidx)] if memidx else []
    if offset:
        parts.append(f"offset={offset}")
    if align != op.align:
        parts.append(f"align={1 << align}")
    return " ".join(parts)


def _blocktype(m: Module, bt: int) -> str:
    if bt == -64:
        return ""
    if bt < 0:
        return f"(result {type_name(bt + 128)})"
    return f"(type {bt}){_sig(m, bt)}"


def instr_text(m: Module, ins) -> str:
    """One instruction in flat text form (without indentation)."""
    op, imm, kind = ins.op, ins.imm, ins.op.imm
    name = op.name
    if kind == K.NONE:
        return name
    if kind == K.BLOCKTYPE:
        bt = _blocktype(m, imm)
        return f"{name} {bt}" if bt else name
    if kind in (K.LABEL, K.FUNC, K.LOCAL, K.GLOBAL, K.TABLE, K.DATA, K.ELEM, K.LANE):
        return f"{name} {imm}"
    if kind == K.MEM:
        return f"{name} {imm}" if imm else name
    if kind == K.BR_TABLE:
        return " ".join([name, *map(str, imm[0]), str(imm[1])])
    if kind == K.CALL_INDIRECT:
        typeidx, tableidx = imm
        return f"{name} {tableidx} (type {typeidx}){_sig(m, typeidx)}"
    if kind == K.MEMARG:
        ma = _memarg(op, imm)
        return f"{name} {ma}" if ma else name
    if kind == K.MEMARG_LANE:
        ma = _memarg(op, imm)
        return f"{name} {ma} {imm[3]}" if ma else f"{name} {imm[3]}"
    if kind in (K.I32_CONST, K.I64_CONST):
        return f"{name} {imm}"
    if kind == K.F32_CONST:
        return f"{name} {f32_text(imm)}"
    if kind == K.F64_CONST:
        return f"{name} {f64_text(imm)}"
    if kind == K.V128_CONST:
        return f"{name} i8x16 " + " ".join(f"0x{b:02x}" for b in imm)
    if kind == K.SHUFFLE:
        return f"{name} " + " ".join(str(b) for b in imm)
    if kind == K.SELECT_T:
        return f"select (result {' '.join(type_name(t) for t in imm)})"
    if kind == K.HEAPTYPE:
        return f"{name} {_HEAP_NAMES[imm]}"
    if kind == K.DATA_MEM:  # binary: dataidx memidx; text: memidx dataidx
        data, mem = imm
        return f"{name} {mem} {data}"
    if kind == K.ELEM_TABLE:  # binary: elemidx tableidx; text: tableidx elemidx
        elem, table = imm
        return f"{name} {table} {elem}"
    if kind in (K.MEM_MEM, K.TABLE_TABLE):  # dst src in both
        return f"{name} {imm[0]} {imm[1]}"
    raise ValueError(f"cannot print immediate kind {kind!r} of {name}")  # pragma: no cover


def body_lines(m: Module, instrs, depth: int) -> list[str]:
    """Flat instruction lines of a function body (its final `end` left out)."""
    lines = []
    instrs = list(instrs)
    if instrs and instrs[-1].op.name == "end":
        instrs.pop()
    ind = depth
    for ins in instrs:
        name = ins.op.name
        if name in ("end", "else"):
            ind -= 1
        lines.append("  " * ind + instr_text(m, ins))
        if name in ("block", "loop", "if", "else"):
            ind += 1
    return lines


def _const_expr(m: Module, expr: ConstExpr) -> str:
    return " ".join(instr_text(m, i) for i in expr.instrs)


# -- module fields --------------------------------------------------------------------------
def _custom_comments(m: Module, after: int) -> list[str]:
    return [f"  (;@custom {wat_string(c.name, b'();')} {len(c.payload)} bytes;)"
            for c in m.customs if c.after == after]


def _elem(m: Module, i: int, e) -> str:
    parts = [f"(elem (;{i};)"]
    if e.mode == "declarative":
        parts.append("declare")
    elif e.mode == "active":
        if e.flags & 2:
            parts.append(f"(table {e.table})")
        parts.append(f"(offset {_const_expr(m, e.offset)})")
    if e.funcs is not None:
        if e.mode == "active" and not e.flags & 2:
            parts.extend(str(f) for f in e.funcs)  # MVP form: flags 0
        else:
            parts.append("func")
            parts.extend(str(f) for f in e.funcs)
    else:
        parts.append(type_name(e.reftype))
        parts.extend(f"(item {_const_expr(m, x)})" for x in e.exprs)
    return " ".join(parts) + ")"


def _data(m: Module, i: int, d) -> str:
    parts = [f"(data (;{i};)"]
    if d.mode == "active":
        if d.flags == 2:
            parts.append(f"(memory {d.memory})")
        parts.append(f"(offset {_const_expr(m, d.offset)})")
    parts.append(wat_string(d.init))
    return " ".join(parts) + ")"


def module_text(m: Module) -> str:
    """The text of a decoded module."""
    out = ["(module"]
    out += _custom_comments(m, 0)
    for i in range(len(m.types)):
        out.append(f"  (type (;{i};) (func{_sig(m, i)}))")
    out += _custom_comments(m, 1)

    counters = {EXT_FUNC: 0, EXT_TABLE: 0, EXT_MEMORY: 0, EXT_GLOBAL: 0}
    for imp in m.imports:
        n = counters[imp.kind]
        counters[imp.kind] += 1
        kw = EXT_NAMES[imp.kind]
        if imp.kind == EXT_FUNC:
            desc = f"(type {imp.desc}){_sig(m, imp.desc)}"
        elif imp.kind == EXT_TABLE:
            desc = _table_type(imp.desc)
        elif imp.kind == EXT_MEMORY:
            desc = _limits(imp.desc.limits)
        else:
            desc = _global_type(imp.desc)
        out.append(f"  (import {wat_string(imp.module)} {wat_string(imp.name)} "
                   f"({kw} (;{n};) {desc}))")
    out += _custom_comments(m, 2)
    out += _custom_comments(m, 3)

    nfunc = counters[EXT_FUNC]
    for i, f in enumerate(m.funcs):
        out.append(f"  (func (;{nfunc + i};) (type {f.type_index}){_sig(m, f.type_index)}")
        local_types = [t for n, t in f.locals for _ in range(n)]
        if local_types:
            out.append("    " + _types("local", local_types))
        out += body_lines(m, func_instrs(m, f), 2)
        out[-1] += ")"

    for i, tt in enumerate(m.tables):
        out.append(f"  (table (;{counters[EXT_TABLE] + i};) {_table_type(tt)})")
    out += _custom_comments(m, 4)
    for i, mt in enumerate(m.mems):
        out.append(f"  (memory (;{counters[EXT_MEMORY] + i};) {_limits(mt.limits)})")
    out += _custom_comments(m, 5)
    for i, g in enumerate(m.globals):
        out.append(f"  (global (;{counters[EXT_GLOBAL] + i};) {_global_type(g.type)} "
                   f"{_const_expr(m, g.init)})")
    out += _custom_comments(m, 6)
    for e in m.exports:
        out.append(f"  (export {wat_string(e.name)} ({EXT_NAMES[e.kind]} {e.index}))")
    out += _custom_comments(m, 7)
    if m.start is not None:
        out.append(f"  (start {m.start})")
    out += _custom_comments(m, 8)
    for i, e in enumerate(m.elems):
        out.append("  " + _elem(m, i, e))
    out += _custom_comments(m, 9)
    out += _custom_comments(m, 12)
    out += _custom_comments(m, 10)
    for i, d in enumerate(m.datas):
        out.append("  " + _data(m, i, d))
    out += _custom_comments(m, 11)
    out += _custom_comments(m, 13)
    if out[-1].endswith(";)"):  # a comment: close the module on a line of its own
        out.append(")")
    else:
        out[-1] += ")"
    return "\n".join(out) + "\n"


def print_wat(wasm: bytes) -> str:
    """The text format of the binary module `wasm` (DecodeError/Unsupported as the reader)."""
    return module_text(decode_module(wasm))
