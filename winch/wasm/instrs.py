"""Reading operators and their immediates, driven by the opcode table.

`read_op` turns bytes into an opcode row (recognising every known proposal by name and
rejecting those outside the scope as `Unsupported`); `read_imm` reads the immediates of a
row's `imm` kind.  The body validator inlines the hot cases and falls back to these; the
constant-expression reader, `decode_body` (instruction lists for tools) and the encoder's
round trip use them directly, so there is one definition of every immediate's encoding.
"""

from __future__ import annotations

import struct

from winch.errors import DecodeError, Unsupported
from winch.wasm import opcodes as K
from winch.wasm.leb import read_s32, read_s33, read_s64, read_u32, read_u64
from winch.wasm.module import Instr
from winch.wasm.types import FOREIGN_VALUE_TYPES, VALUE_TYPES, FUNCREF, EXTERNREF


def _end(pos: int) -> DecodeError:
    return DecodeError("unexpected end of section or function", pos)


def read_valtype(data, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise _end(pos)
    t = data[pos]
    if t in VALUE_TYPES:
        return t, pos + 1
    if t in FOREIGN_VALUE_TYPES:
        raise Unsupported(FOREIGN_VALUE_TYPES[t], f"value type {t:#04x}", pos)
    raise DecodeError(f"malformed value type {t:#04x}", pos)


def read_reftype(data, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise _end(pos)
    t = data[pos]
    if t == FUNCREF or t == EXTERNREF:
        return t, pos + 1
    if t in FOREIGN_VALUE_TYPES:
        raise Unsupported(FOREIGN_VALUE_TYPES[t], f"reference type {t:#04x}", pos)
    raise DecodeError("malformed reference type", pos)


def read_op(data, pos: int, end: int):
    """The opcode row at `pos` and the position after the opcode."""
    if pos >= end:
        raise _end(pos)
    start = pos
    b = data[pos]
    pos += 1
    if b in K.PREFIXED:
        code, pos = read_u32(data, pos, end)
        op = K.PREFIXED[b].get(code)
        if op is None:
            raise DecodeError(f"illegal opcode {b:02x} {code:02x}", start)
    else:
        op = K.SINGLE[b]
        if op is None:
            raise DecodeError(f"illegal opcode {b:02x}", start)
    if op.imm is K.FOREIGN:
        raise Unsupported(op.feature, op.name, start)
    return op, pos


def _memarg(data, pos, end):
    start = pos
    flags, pos = read_u32(data, pos, end)
    if flags >= 0x80:
        raise DecodeError("malformed memop flags", start)
    memidx = 0
    if flags & 0x40:
        memidx, pos = read_u32(data, pos, end)
        flags -= 0x40
    offset, pos = read_u64(data, pos, end)
    return (flags, offset, memidx), pos


def _u32(data, pos, end):
    return read_u32(data, pos, end)


def _u32_pair(data, pos, end):
    a, pos = read_u32(data, pos, end)
    b, pos = read_u32(data, pos, end)
    return (a, b), pos


def _br_table(data, pos, end):
    n, pos = read_u32(data, pos, end)
    if n > end - pos:
        raise _end(pos)
    targets = []
    for _ in range(n):
        t, pos = read_u32(data, pos, end)
        targets.append(t)
    default, pos = read_u32(data, pos, end)
    return (tuple(targets), default), pos


def _f32(data, pos, end):
    if pos + 4 > end:
        raise _end(pos)
    return struct.unpack_from("<I", data, pos)[0], pos + 4


def _f64(data, pos, end):
    if pos + 8 > end:
        raise _end(pos)
    return struct.unpack_from("<Q", data, pos)[0], pos + 8


def _bytes16(data, pos, end):
    if pos + 16 > end:
        raise _end(pos)
    return bytes(data[pos:pos + 16]), pos + 16


def _lane(data, pos, end):
    if pos >= end:
        raise _end(pos)
    return data[pos], pos + 1


def _memarg_lane(data, pos, end):
    (align, offset, memidx), pos = _memarg(data, pos, end)
    lane, pos = _lane(data, pos, end)
    return (align, offset, memidx, lane), pos


def _select_t(data, pos, end):
    n, pos = read_u32(data, pos, end)
    if n > end - pos:
        raise _end(pos)
    ts = []
    for _ in range(n):
        t, pos = read_valtype(data, pos, end)
        ts.append(t)
    return tuple(ts), pos


def _heaptype(data, pos, end):
    if pos >= end:
        raise _end(pos)
    t = data[pos]
    if t == FUNCREF or t == EXTERNREF:
        return t, pos + 1
    if t in FOREIGN_VALUE_TYPES:
        raise Unsupported(FOREIGN_VALUE_TYPES[t], f"heap type {t:#04x}", pos)
    if t < 0x80 and t >= 0x40:
        raise DecodeError("malformed reference type", pos)
    # a type index (typed function references)
    raise Unsupported(K.FUNC_REFS, "ref.null with a type index", pos)


IMM_READERS = {
    K.NONE: None,
    K.BLOCKTYPE: read_s33,
    K.LABEL: _u32, K.FUNC: _u32, K.LOCAL: _u32, K.GLOBAL: _u32, K.TABLE: _u32, K.MEM: _u32,
    K.DATA: _u32, K.ELEM: _u32,
    K.BR_TABLE: _br_table,
    K.CALL_INDIRECT: _u32_pair, K.DATA_MEM: _u32_pair, K.MEM_MEM: _u32_pair,
    K.ELEM_TABLE: _u32_pair, K.TABLE_TABLE: _u32_pair,
    K.MEMARG: _memarg, K.MEMARG_LANE: _memarg_lane,
    K.I32_CONST: read_s32, K.I64_CONST: read_s64, K.F32_CONST: _f32, K.F64_CONST: _f64,
    K.V128_CONST: _bytes16, K.SHUFFLE: _bytes16, K.LANE: _lane,
    K.SELECT_T: _select_t, K.HEAPTYPE: _heaptype,
}


def read_imm(kind: str, data, pos: int, end: int):
    reader = IMM_READERS[kind]
    if reader is None:
        return None, pos
    return reader(data, pos, end)


def read_instr(data, pos: int, end: int) -> tuple[Instr, int]:
    start = pos
    op, pos = read_op(data, pos, end)
    imm, pos = read_imm(op.imm, data, pos, end)
    return Instr(op, imm, start), pos


def decode_instrs(data, pos: int, end: int) -> list[Instr]:
    """Every instruction from `pos` to `end` (a function body's instructions, final `end` included).

    Decoding only: structure (nesting) and types are the validator's business, except that
    the body must end exactly at `end` with the `end` that closes the function.
    """
    out = []
    openers = ["func"]
    while pos < end:
        ins, pos = read_instr(data, pos, end)
        out.append(ins)
        name = ins.op.name
        if name in ("block", "loop", "if"):
            openers.append(name)
        elif name == "else":
            if openers[-1] != "if":
                raise DecodeError("else without matching if", ins.offset)
            openers[-1] = "else"
        elif name == "end":
            openers.pop()
            if not openers:
                if pos != end:
                    raise DecodeError("section size mismatch", pos)
                return out
    raise _end(pos)
