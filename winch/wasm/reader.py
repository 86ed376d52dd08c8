"""The module reader: bytes to a structured `Module`, decoding only (the spec's "malformed").

Every section is read in full, custom sections kept with their position, before anything
is validated: a module that is both malformed and invalid is reported as malformed, as the
spec's reference interpreter does.  Function bodies are not decoded here beyond their local
declarations; the body validator walks them (decode + validate [+ compile] in one loop).

Invariants: every read is bounded by the end of the enclosing section (or code entry), so a
length field can never make the reader look outside it; errors carry the byte offset.
"""

from __future__ import annotations

from winch.errors import DecodeError, Unsupported
from winch.wasm import opcodes as K
from winch.wasm.instrs import read_instr, read_reftype, read_valtype
from winch.wasm.leb import read_u32, read_u64
from winch.wasm.module import (
    EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, EXT_TABLE, EXT_TAG, ConstExpr, Custom, Data, Elem, Export,
    Func, Global, Import, Module,
)
from winch.wasm.types import (
    FUNCREF, VALUE_TYPES, FuncType, GlobalType, Limits, MemoryType, TableType,
)

MAGIC = b"\0asm"
VERSION = b"\x01\0\0\0"

# Non-custom sections in their required order (13 = tag, between memory and global).
SECTION_ORDER = (1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11)
_RANK = {sid: i for i, sid in enumerate(SECTION_ORDER)}
MAX_LOCALS = 50000  # far beyond any engine's limit, and below "too many locals" territory


class _Cursor:
    """Bounded reads over `data[pos:end]`."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data, pos: int, end: int):
        self.data, self.pos, self.end = data, pos, end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise DecodeError("unexpected end of section or function", self.pos)
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u32(self) -> int:
        pos = self.pos
        if pos < self.end:
            b = self.data[pos]
            if b < 0x80:  # the one-byte form, most counts and sizes
                self.pos = pos + 1
                return b
        v, self.pos = read_u32(self.data, pos, self.end)
        return v

    def count(self) -> int:
        """A vector length: each element takes at least one byte, so bound it by what is left."""
        at = self.pos
        if at < self.end and self.data[at] < 0x80:  # a one-byte count (u32's first case)
            n = self.data[at]
            self.pos = at + 1
        else:
            n = self.u32()
        if n > self.end - self.pos:
            raise DecodeError("length out of bounds", at)
        return n

    def raw(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise DecodeError("length out of bounds", self.pos)
        b = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return b

    def name(self) -> str:
        at = self.pos
        if at < self.end and self.data[at] < 0x80:  # a one-byte length, the usual case
            n = self.data[at]
            self.pos = at + 1
        else:
            n = self.u32()
        if n > self.end - self.pos:
            raise DecodeError("length out of bounds", at)
        raw = self.raw(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("malformed UTF-8 encoding", at) from None

    def valtype(self) -> int:
        t, self.pos = read_valtype(self.data, self.pos, self.end)
        return t

    def reftype(self) -> int:
        t, self.pos = read_reftype(self.data, self.pos, self.end)
        return t


def _limits(c: _Cursor, what: str) -> Limits:
    at = c.pos
    flags = c.byte()
    if flags & ~0x0F:
        raise DecodeError("malformed limits flags", at)
    shared = bool(flags & 0x02)
    is64 = bool(flags & 0x04)
    if shared:
        raise Unsupported(K.THREADS, f"shared {what}", at)
    # Wasm 3.0 decodes every limit as u64; the validator checks it against the address type.
    lo = _u64(c)
    hi = _u64(c) if flags & 0x01 else None
    page_log2 = 16
    if flags & 0x08:  # custom-page-sizes: the page size's log2 follows the limits
        if what != "memory":
            raise DecodeError("malformed limits flags", at)
        p_at = c.pos
        page_log2 = c.u32()
        if page_log2 > 64:
            raise DecodeError("malformed custom page size", p_at)
    return Limits(lo, hi, is64, shared, page_log2)


def _u64(c: _Cursor) -> int:
    v, c.pos = read_u64(c.data, c.pos, c.end)
    return v


def _table_type(c: _Cursor) -> TableType:
    at = c.pos
    if c.pos < c.end and c.data[c.pos] == 0x40:
        raise Unsupported(K.FUNC_REFS, "table with an initializer expression", at)
    elem = c.reftype()
    return TableType(elem, _limits(c, "table"))


def _global_type(c: _Cursor) -> GlobalType:
    t = c.valtype()
    at = c.pos
    m = c.byte()
    if m > 1:
        raise DecodeError("malformed mutability", at)
    return GlobalType(t, bool(m))


def read_const_expr(c: _Cursor) -> ConstExpr:
    """Instructions up to and including the `end` at depth 0 (which is not kept)."""
    start = c.pos
    instrs = []
    while True:
        ins, c.pos = read_instr(c.data, c.pos, c.end)
        if ins.op.name == "end":
            return ConstExpr(tuple(instrs), start)
        instrs.append(ins)


def _func_type(c: _Cursor) -> FuncType:
    at = c.pos
    form = c.byte()
    if form != 0x60:
        foreign = K.FOREIGN_TYPE_FORMS.get(form)
        if foreign is not None:
            feature, what = foreign
            raise Unsupported(feature, f"{what} (type form {form:#04x})", at)
        raise DecodeError(f"malformed function type form {form:#04x}", at)
    return FuncType(_valtypes(c), _valtypes(c))


def _valtypes(c: _Cursor) -> tuple:
    """A vector of value types (one byte each when they are all known ones)."""
    n = c.count()  # at most what is left of the section
    raw = c.data[c.pos:c.pos + n]
    if VALUE_TYPES.issuperset(raw):
        c.pos += n
        return tuple(raw)
    return tuple(c.valtype() for _ in range(n))  # the error, at its byte


def _import(c: _Cursor) -> Import:
    module = c.name()
    name = c.name()
    at = c.pos
    kind = c.byte()
    if kind == EXT_FUNC:
        desc = c.u32()
    elif kind == EXT_TABLE:
        desc = _table_type(c)
    elif kind == EXT_MEMORY:
        desc = MemoryType(_limits(c, "memory"))
    elif kind == EXT_GLOBAL:
        desc = _global_type(c)
    elif kind == EXT_TAG:
        raise Unsupported(K.EXCEPTIONS, "tag import", at)
    else:
        raise DecodeError("malformed import kind", at)
    return Import(module, name, kind, desc)


def _export(c: _Cursor) -> Export:
    name = c.name()
    at = c.pos
    kind = c.byte()
    if kind == EXT_TAG:
        raise Unsupported(K.EXCEPTIONS, "tag export", at)
    if kind > EXT_GLOBAL:
        raise DecodeError("malformed export kind", at)
    return Export(name, kind, c.u32())


def _elem(c: _Cursor) -> Elem:
    at = c.pos
    flags = c.u32()
    if flags > 7:
        raise DecodeError("malformed elements segment kind", at)
    table, offset = 0, None
    if flags & 1:
        mode = "declarative" if flags & 2 else "passive"
    else:
        mode = "active"
        if flags & 2:
            table = c.u32()
        offset = read_const_expr(c)
    uses_exprs = bool(flags & 4)
    if flags & 3:  # an explicit element kind / reference type
        if uses_exprs:
            reftype = c.reftype()
        else:
            kat = c.pos
            if c.byte() != 0x00:
                raise DecodeError("malformed element kind", kat)
            reftype = FUNCREF
    else:
        reftype = FUNCREF
    n = c.count()
    if uses_exprs:
        return Elem(flags, mode, reftype, table, offset, None,
                    tuple(read_const_expr(c) for _ in range(n)))
    return Elem(flags, mode, reftype, table, offset, tuple(c.u32() for _ in range(n)), None)


def _data(c: _Cursor) -> Data:
    at = c.pos
    flags = c.u32()
    if flags == 1:
        return Data(1, "passive", c.raw(c.u32()))
    if flags not in (0, 2):
        raise DecodeError("malformed data segment kind", at)
    memory = c.u32() if flags == 2 else 0
    offset = read_const_expr(c)
    return Data(flags, "active", c.raw(c.u32()), memory, offset)


def _code(c: _Cursor, type_index: int) -> Func:
    at = c.pos
    size = c.u32()
    if size > c.end - c.pos:
        raise DecodeError("length out of bounds", at)
    body_end = c.pos + size
    data = c.data
    pos = c.pos
    groups = []
    # The common form first: a count of groups in one or two bytes, each group a one-byte
    # count and a value type, all inside the body, at most MAX_LOCALS locals.  Anything else
    # is read again, in full, below (which reports what is wrong, where).
    k = data[pos] if pos < body_end else 0x80
    start = pos + 1
    simple = k < 0x80
    if not simple and start < body_end and data[start] < 0x80:  # a two-byte count
        k = (k & 0x7F) | data[start] << 7
        start += 1
        simple = True
    if simple and 2 * k < body_end - start:
        end = start + 2 * k
        total = 0
        for i in range(start, end, 2):
            n = data[i]
            t = data[i + 1]
            total += n
            if n & 0x80 or t not in VALUE_TYPES or total > MAX_LOCALS:
                break  # not that form after all
            groups.append((n, t))
        else:
            c.pos = body_end
            return Func(type_index, tuple(groups), (end, body_end), None, at)
        groups = []
    inner = _Cursor(data, c.pos, body_end)
    total = 0
    for _ in range(inner.count()):
        gat = inner.pos
        n = inner.u32()
        total += n
        if total > MAX_LOCALS:
            raise DecodeError("too many locals", gat)
        groups.append((n, inner.valtype()))
    c.pos = body_end
    if inner.pos >= body_end:
        raise DecodeError("unexpected end of section or function", inner.pos)
    return Func(type_index, tuple(groups), (inner.pos, body_end), None, at)


def decode_module(data: bytes) -> Module:
    """Decode every section of `data` into a `Module` (no validation)."""
    data = bytes(data)
    if len(data) < 4 or data[:4] != MAGIC:
        raise DecodeError("magic header not detected", 0)
    if len(data) < 8:
        raise DecodeError("unexpected end", 4)
    if data[4:8] != VERSION:
        raise DecodeError("unknown binary version", 4)
    top = _Cursor(data, 8, len(data))
    f = {"types": [], "imports": [], "funcs": [], "tables": [], "mems": [], "globals": [],
         "exports": [], "start": None, "elems": [], "datas": [], "data_count": None,
         "customs": []}
    func_decls: list[int] | None = None
    codes: list[Func] | None = None
    order: list[int] = []
    last_rank = -1
    last_id = 0
    while top.pos < top.end:
        sec_at = top.pos
        sid = top.byte()
        size = top.u32()
        if size > top.end - top.pos:
            raise DecodeError("length out of bounds", sec_at)
        c = _Cursor(data, top.pos, top.pos + size)
        top.pos += size
        if sid == 0:
            name = c.name()
            f["customs"].append(Custom(name, bytes(data[c.pos:c.end]), last_id))
            continue
        if sid not in _RANK:
            raise DecodeError("malformed section id", sec_at)
        if _RANK[sid] <= last_rank:
            raise DecodeError("unexpected content after last section", sec_at)
        last_rank, last_id = _RANK[sid], sid
        order.append(sid)
        if sid == 1:
            f["types"] = [_func_type(c) for _ in range(c.count())]
        elif sid == 2:
            f["imports"] = [_import(c) for _ in range(c.count())]
        elif sid == 3:
            func_decls = [c.u32() for _ in range(c.count())]
        elif sid == 4:
            f["tables"] = [_table_type(c) for _ in range(c.count())]
        elif sid == 5:
            f["mems"] = [MemoryType(_limits(c, "memory")) for _ in range(c.count())]
        elif sid == 13:
            raise Unsupported(K.EXCEPTIONS, "tag section", sec_at)
        elif sid == 6:
            f["globals"] = [Global(_global_type(c), read_const_expr(c)) for _ in range(c.count())]
        elif sid == 7:
            f["exports"] = [_export(c) for _ in range(c.count())]
        elif sid == 8:
            f["start"] = c.u32()
        elif sid == 9:
            f["elems"] = [_elem(c) for _ in range(c.count())]
        elif sid == 12:
            f["data_count"] = c.u32()
        elif sid == 10:
            n = c.count()
            decls = func_decls or []
            if n != len(decls):
                raise DecodeError("function and code section have inconsistent lengths", sec_at)
            codes = [_code(c, decls[i]) for i in range(n)]
        elif sid == 11:
            f["datas"] = [_data(c) for _ in range(c.count())]
        if c.pos != c.end:
            raise DecodeError("section size mismatch", c.pos)
    if codes is None:
        if func_decls:
            raise DecodeError("function and code section have inconsistent lengths", len(data))
        codes = []
    if f["data_count"] is not None and f["data_count"] != len(f["datas"]):
        raise DecodeError("data count and data section have inconsistent lengths", len(data))
    return Module(
        types=tuple(f["types"]), imports=tuple(f["imports"]), funcs=tuple(codes),
        tables=tuple(f["tables"]), mems=tuple(f["mems"]), globals=tuple(f["globals"]),
        exports=tuple(f["exports"]), start=f["start"], elems=tuple(f["elems"]),
        datas=tuple(f["datas"]), data_count=f["data_count"], customs=tuple(f["customs"]),
        raw=data, section_order=tuple(order),
    )
