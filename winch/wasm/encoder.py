"""The module encoder: a structured `Module` back to bytes, the inverse of `decode_module`.

Every integer is written in its shortest LEB128 form, so a canonically encoded module
round-trips byte for byte; a module with over-long encodings round-trips to the same
meaning.  Sections come out in the order they were read (`Module.section_order`; a tool that
fills a section the original lacked gets it in the spec's order), custom sections after the
section they followed.  Instruction immediates are written per the opcode table's `imm`
kind, the same kinds `instrs.py` reads: no opcode is listed here.
"""

from __future__ import annotations

import struct

from winch.wasm import opcodes as K
from winch.wasm.instrs import decode_instrs
from winch.wasm.leb import encode_signed, encode_unsigned
from winch.wasm.module import EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, EXT_TABLE, Instr, Module
from winch.wasm.reader import SECTION_ORDER

u = encode_unsigned


def _vec(items, enc) -> bytes:
    return u(len(items)) + b"".join(enc(x) for x in items)


def _name(s: str) -> bytes:
    raw = s.encode("utf-8")
    return u(len(raw)) + raw


def _limits(lim) -> bytes:
    custom = lim.page_log2 != 16
    flags = ((1 if lim.max is not None else 0) | (2 if lim.shared else 0) | (4 if lim.is64 else 0)
             | (8 if custom else 0))
    return (bytes((flags,)) + u(lim.min) + (u(lim.max) if lim.max is not None else b"")
            + (u(lim.page_log2) if custom else b""))


def _table_type(tt) -> bytes:
    return bytes((tt.elem,)) + _limits(tt.limits)


def _global_type(gt) -> bytes:
    return bytes((gt.valtype, 1 if gt.mutable else 0))


# -- instructions ---------------------------------------------------------------------------------
def _memarg(imm) -> bytes:
    align, offset, memidx = imm[:3]
    if memidx:
        return u(align | 0x40) + u(memidx) + u(offset)
    return u(align) + u(offset)


IMM_WRITERS = {
    K.NONE: lambda imm: b"",
    K.BLOCKTYPE: encode_signed,
    K.LABEL: u, K.FUNC: u, K.LOCAL: u, K.GLOBAL: u, K.TABLE: u, K.MEM: u, K.DATA: u, K.ELEM: u,
    K.BR_TABLE: lambda imm: _vec(imm[0], u) + u(imm[1]),
    K.CALL_INDIRECT: lambda imm: u(imm[0]) + u(imm[1]),
    K.DATA_MEM: lambda imm: u(imm[0]) + u(imm[1]),
    K.MEM_MEM: lambda imm: u(imm[0]) + u(imm[1]),
    K.ELEM_TABLE: lambda imm: u(imm[0]) + u(imm[1]),
    K.TABLE_TABLE: lambda imm: u(imm[0]) + u(imm[1]),
    K.MEMARG: _memarg,
    K.MEMARG_LANE: lambda imm: _memarg(imm) + bytes((imm[3],)),
    K.I32_CONST: encode_signed, K.I64_CONST: encode_signed,
    K.F32_CONST: lambda imm: struct.pack("<I", imm),
    K.F64_CONST: lambda imm: struct.pack("<Q", imm),
    K.V128_CONST: bytes, K.SHUFFLE: bytes,
    K.LANE: lambda imm: bytes((imm,)),
    K.SELECT_T: lambda imm: _vec(imm, lambda t: bytes((t,))),
    K.HEAPTYPE: lambda imm: bytes((imm,)),
}


def encode_instr(ins: Instr) -> bytes:
    op = ins.op
    head = bytes((op.code,)) if op.prefix == 0 else bytes((op.prefix,)) + u(op.code)
    return head + IMM_WRITERS[op.imm](ins.imm)


def encode_instrs(instrs) -> bytes:
    return b"".join(encode_instr(i) for i in instrs)


def encode_const_expr(expr) -> bytes:
    return encode_instrs(expr.instrs) + b"\x0b"


def func_instrs(m: Module, func) -> tuple:
    """A function's instructions (final `end` included), decoded from the body if need be."""
    if func.instrs is not None:
        return tuple(func.instrs)
    return tuple(decode_instrs(m.raw, func.body[0], func.body[1]))


# -- sections -------------------------------------------------------------------------------------
def _import(imp) -> bytes:
    head = _name(imp.module) + _name(imp.name) + bytes((imp.kind,))
    if imp.kind == EXT_FUNC:
        return head + u(imp.desc)
    if imp.kind == EXT_TABLE:
        return head + _table_type(imp.desc)
    if imp.kind == EXT_MEMORY:
        return head + _limits(imp.desc.limits)
    if imp.kind == EXT_GLOBAL:
        return head + _global_type(imp.desc)
    raise ValueError(f"cannot encode import kind {imp.kind}")


def _elem(e) -> bytes:
    f = e.flags
    out = u(f)
    if not f & 1:
        if f & 2:
            out += u(e.table)
        out += encode_const_expr(e.offset)
    if f & 3:
        out += bytes((e.reftype,)) if f & 4 else b"\x00"
    if f & 4:
        return out + _vec(e.exprs, encode_const_expr)
    return out + _vec(e.funcs, u)


def _data(d) -> bytes:
    if d.flags == 1:
        return b"\x01" + u(len(d.init)) + d.init
    out = u(d.flags) + (u(d.memory) if d.flags == 2 else b"")
    return out + encode_const_expr(d.offset) + u(len(d.init)) + d.init


def _code(m: Module, f) -> bytes:
    body = _vec(f.locals, lambda g: u(g[0]) + bytes((g[1],)))
    if f.instrs is not None:
        body += encode_instrs(f.instrs)
    else:
        body += m.raw[f.body[0]:f.body[1]]
    return u(len(body)) + body


def _section_payload(m: Module, sid: int) -> bytes | None:
    """The payload of section `sid`, or None when the module has nothing for it."""
    if sid == 1:
        return _vec(m.types, lambda ft: b"\x60" + _vec(ft.params, lambda t: bytes((t,)))
                    + _vec(ft.results, lambda t: bytes((t,)))) if m.types else None
    if sid == 2:
        return _vec(m.imports, _import) if m.imports else None
    if sid == 3:
        return _vec(m.funcs, lambda f: u(f.type_index)) if m.funcs else None
    if sid == 4:
        return _vec(m.tables, _table_type) if m.tables else None
    if sid == 5:
        return _vec(m.mems, lambda mt: _limits(mt.limits)) if m.mems else None
    if sid == 6:
        return _vec(m.globals, lambda g: _global_type(g.type) + encode_const_expr(g.init)) \
            if m.globals else None
    if sid == 7:
        return _vec(m.exports, lambda e: _name(e.name) + bytes((e.kind,)) + u(e.index)) \
            if m.exports else None
    if sid == 8:
        return u(m.start) if m.start is not None else None
    if sid == 9:
        return _vec(m.elems, _elem) if m.elems else None
    if sid == 12:
        return u(m.data_count) if m.data_count is not None else None
    if sid == 10:
        return _vec(m.funcs, lambda f: _code(m, f)) if m.funcs else None
    if sid == 11:
        return _vec(m.datas, _data) if m.datas else None
    if sid == 13:
        return None  # tags: a decoded module never has them (exceptions are Unsupported)
    raise ValueError(f"unknown section id {sid}")


def encode_module(m: Module) -> bytes:
    out = bytearray(b"\0asm\x01\0\0\0")
    present = set(m.section_order)

    def customs_after(sid):
        for c in m.customs:
            if c.after == sid:
                payload = _name(c.name) + c.payload
                out.extend(b"\x00" + u(len(payload)) + payload)

    customs_after(0)
    for sid in SECTION_ORDER:
        payload = _section_payload(m, sid)
        if payload is None:
            if sid not in present:
                continue
            payload = u(0) if sid not in (8, 12) else None
            if payload is None:
                continue
        out.extend(bytes((sid,)) + u(len(payload)) + payload)
        customs_after(sid)
    return bytes(out)
