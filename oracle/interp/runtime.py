"""The interpreter's store: memories, tables, globals, functions and instantiation (spec 4.2
"Runtime Structure" and 4.5 "Modules").

Representation: a memory is a `bytearray` holding exactly its bytes (grown in place, so
pre-decoded code may hold the bytearray itself); a table is a list of references; a
reference is None (null), a `Func` (funcref) or the host's value itself (externref, any
non-None Python value); numbers are their bits (oracle/interp/numeric.py).

Resource limits are the winch host's (winch/host/store.py), so that both engines answer
the same: a memory of more than 1 GiB or a table of more than 10M elements cannot be made
(`ResourceExceeded`), growing past them answers -1, at most MAX_MEMORIES memories per store.

Instantiation follows the spec's order (and winch/host/instance.py's): imports are matched
(`LinkFailure`), memories, tables and globals are made, element segments evaluated, active
element then data segments copied in order (a trap keeps what was written before it), then
the start function runs.
"""

from __future__ import annotations

from oracle.interp.errors import LinkFailure, ResourceExceeded, WasmTrap
from winch.traps import TrapKind
from winch.wasm.module import EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, EXT_TABLE
from winch.wasm.types import FuncType

# the winch host's limits (winch/host/store.py); not imported: winch.host needs Unicorn
MAX_MEMORY_BYTES = 0x4000_0000
MAX_TABLE = 10_000_000
MAX_MEMORIES = ((1 << 48) - 0x1_0000_0000) // 0x2_0000_0000
M32, M64 = 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF


class Memory:
    __slots__ = ("data", "max", "is64", "page_log2")

    def __init__(self, pages: int, maximum, is64: bool, page_log2: int):
        if pages << page_log2 > MAX_MEMORY_BYTES:
            raise ResourceExceeded(f"memory of {pages} pages is more than this host provides "
                                   f"({MAX_MEMORY_BYTES} bytes)")
        self.data = bytearray(pages << page_log2)
        self.max = maximum
        self.is64 = is64
        self.page_log2 = page_log2

    @property
    def pages(self) -> int:
        return len(self.data) >> self.page_log2

    def grow(self, delta: int) -> int:
        """memory.grow: the old size in pages, or -1 past the maximum (the memory's, the
        index type's address space, or this host's)."""
        old = self.pages
        new = old + delta
        limit = self.max if self.max is not None else \
            (1 << (64 if self.is64 else 32)) >> self.page_log2
        if new > limit or new << self.page_log2 > MAX_MEMORY_BYTES:
            return -1
        if delta:
            self.data.extend(bytes(delta << self.page_log2))  # in place: same bytearray
        return old


class Table:
    __slots__ = ("elems", "max", "is64", "elem")

    def __init__(self, elem: int, size: int, maximum, is64: bool, init=None):
        if size > MAX_TABLE:
            raise ResourceExceeded(f"table of {size} elements is more than this host provides "
                                   f"({MAX_TABLE})")
        self.elem = elem
        self.elems = [init] * size
        self.max = maximum
        self.is64 = is64

    def grow(self, delta: int, init) -> int:
        old = len(self.elems)
        new = old + delta
        limit = self.max if self.max is not None else (M64 if self.is64 else M32)
        if new > limit or new > MAX_TABLE:
            return -1
        self.elems.extend([init] * delta)
        return old


class Global:
    __slots__ = ("valtype", "mutable", "value")

    def __init__(self, valtype: int, mutable: bool, value):
        self.valtype = valtype
        self.mutable = mutable
        self.value = value


class Func:
    """A function instance: defined in a module instance (`code` pre-decoded on first call)
    or provided by the host (`host` is its callable: host(*args) -> list of results)."""

    __slots__ = ("type", "nparams", "nresults", "instance", "index", "defn", "host",
                 "code", "zeros", "offsets", "traced", "cost")

    def __init__(self, ftype: FuncType, instance=None, index: int = -1, defn=None, host=None):
        self.type = ftype
        self.nparams = len(ftype.params)
        self.nresults = len(ftype.results)
        self.instance = instance
        self.index = index  # in its module's function index space
        self.defn = defn  # the module's Func (None for host functions)
        self.host = host
        self.code = None  # [(handler, imm)], see predecode.py
        self.zeros = None  # initial values of the declared locals
        self.offsets = None  # wasm offset of each code entry
        self.traced = None  # (code, offsets, stack types, local types) for traced runs
        self.cost = 0  # its frame's share of the interpreter's stack bound (machine.py)


class Instance:
    def __init__(self, module, store):
        self.module = module
        self.store = store
        self.funcs: list = []
        self.tables: list = []
        self.mems: list = []
        self.globals: list = []
        self.exports: dict = {}
        self.datas: list = []  # each data segment's bytes (b"" once dropped)
        self.elems: list = []  # each element segment's references ([] once dropped)


def _limits_ok(have_min, have_max, want) -> bool:
    if have_min < want.min:
        return False
    return want.max is None or (have_max is not None and have_max <= want.max)


def eval_const(inst: Instance, expr):
    """A constant expression (with extended-const arithmetic) in `inst`."""
    stack = []
    for ins in expr.instrs:
        n = ins.op.name
        if n == "i32.const":
            stack.append(ins.imm & M32)
        elif n == "i64.const":
            stack.append(ins.imm & M64)
        elif n in ("f32.const", "f64.const"):
            stack.append(ins.imm)
        elif n == "ref.null":
            stack.append(None)
        elif n == "ref.func":
            stack.append(inst.funcs[ins.imm])
        elif n == "global.get":
            stack.append(inst.globals[ins.imm].value)
        else:  # i32/i64 add, sub, mul
            b = stack.pop()
            a = stack.pop()
            r = a + b if n.endswith("add") else a - b if n.endswith("sub") else a * b
            stack.append(r & (M32 if n[1] == "3" else M64))
    return stack[-1]


class Store:
    """The objects of one session; `clock` bounds the work of each top-level call."""

    def __init__(self, clock):
        self.clock = clock
        self.memories = 0

    def new_memory(self, mt) -> Memory:
        lim = mt.limits
        if self.memories >= MAX_MEMORIES:
            raise ResourceExceeded(f"more than {MAX_MEMORIES} memories in one store")
        mem = Memory(lim.min, lim.max, bool(lim.is64), lim.page_log2)
        self.memories += 1
        return mem

    def instantiate(self, module, imports: dict, run) -> Instance:
        """`imports`: (module, name) -> Func / Table / Memory / Global; `run(func, args)`
        calls a function (the start function).  Raises LinkFailure, ResourceExceeded, or
        WasmTrap (a segment out of bounds, or a trap of the start function)."""
        m = module
        inst = Instance(m, self)
        for imp in m.imports:
            ext = imports.get((imp.module, imp.name))
            where = f"{imp.module}.{imp.name}"
            if ext is None:
                raise LinkFailure(f"unknown import {where}")
            if imp.kind == EXT_FUNC:
                want = m.types[imp.desc]
                if not isinstance(ext, Func) or ext.type != want:
                    raise LinkFailure(f"incompatible import type for {where}")
                inst.funcs.append(ext)
            elif imp.kind == EXT_TABLE:
                d = imp.desc
                if not (isinstance(ext, Table) and ext.elem == d.elem
                        and ext.is64 == bool(d.limits.is64)
                        and _limits_ok(len(ext.elems), ext.max, d.limits)):
                    raise LinkFailure(f"incompatible import type for {where}")
                inst.tables.append(ext)
            elif imp.kind == EXT_MEMORY:
                lim = imp.desc.limits
                if not (isinstance(ext, Memory) and ext.is64 == bool(lim.is64)
                        and ext.page_log2 == lim.page_log2
                        and _limits_ok(ext.pages, ext.max, lim)):
                    raise LinkFailure(f"incompatible import type for {where}")
                inst.mems.append(ext)
            elif imp.kind == EXT_GLOBAL:
                if not (isinstance(ext, Global) and ext.valtype == imp.desc.valtype
                        and ext.mutable == imp.desc.mutable):
                    raise LinkFailure(f"incompatible import type for {where}")
                inst.globals.append(ext)
            else:
                raise LinkFailure(f"cannot import kind {imp.kind}")
        for mt in m.mems:
            inst.mems.append(self.new_memory(mt))
        for tt in m.tables:
            inst.tables.append(Table(tt.elem, tt.limits.min, tt.limits.max,
                                     bool(tt.limits.is64)))
        nimp = len(inst.funcs)
        for j, f in enumerate(m.funcs):
            inst.funcs.append(Func(m.types[f.type_index], inst, nimp + j, f))
        for g in m.globals:
            inst.globals.append(Global(g.type.valtype, g.type.mutable, eval_const(inst, g.init)))
        spaces = {EXT_FUNC: inst.funcs, EXT_TABLE: inst.tables, EXT_MEMORY: inst.mems,
                  EXT_GLOBAL: inst.globals}
        for e in m.exports:
            inst.exports[e.name] = spaces[e.kind][e.index]
        for seg in m.elems:
            if seg.funcs is not None:
                inst.elems.append([inst.funcs[i] for i in seg.funcs])
            else:
                inst.elems.append([eval_const(inst, ex) for ex in seg.exprs])
        inst.datas = [d.init for d in m.datas]
        for si, seg in enumerate(m.elems):
            if seg.mode == "active":
                t = inst.tables[seg.table]
                off = eval_const(inst, seg.offset)
                vals = inst.elems[si]
                if off + len(vals) > len(t.elems):
                    raise WasmTrap(TrapKind.table_out_of_bounds)
                t.elems[off:off + len(vals)] = vals
            if seg.mode != "passive":  # active and declarative segments are dropped
                inst.elems[si] = []
        for di, seg in enumerate(m.datas):
            if seg.mode == "active":
                mem = inst.mems[seg.memory]
                off = eval_const(inst, seg.offset)
                if off + len(seg.init) > len(mem.data):
                    raise WasmTrap(TrapKind.memory_out_of_bounds)
                mem.data[off:off + len(seg.init)] = seg.init
                inst.datas[di] = b""
        if m.start is not None:
            run(inst.funcs[m.start], [])
        return inst
