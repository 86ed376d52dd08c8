"""A whole module from a choice source: imports, functions, globals, memory, table, exports.

    from oracle.gen.module import generate
    wasm = generate(data)            # bytes -> a valid module, deterministic, never fails

Problem: assemble the bodies `oracle.gen.body` builds into a module the oracle can run and
observe, drawing every choice from the source, and encode it without building a `Module`.

Order of the choices (what a byte-driven input's bytes mean, in order): the swarm
configuration (`oracle.gen.config.draw_config`, unless one is given); the host imports'
count and signatures; the number of defined functions and their signatures; the mutable
and the immutable user globals (types, then initial values); the memory's active data
segment (and a passive one with bulk memory); with `memory64` / `multi_memory` the memories'
index types and sizes and the other memories' data (`oracle.gen.mems.draw_memories`); the
tables and element segments (with reference types or bulk tables: whether there is an
externref table, the tables' sizes and, with `table64`, index types, the segments'
functions); the function bodies, in order.  A family that is off reads no byte, so a
configuration without the issue-20 families gives the module it gave before they existed.
Every section is written directly (sizes as LEB128).

Per-configuration tables (numeric operators, unary operators by operand type, operators by
the two types on top of the stack) are built once per configuration and cached; the lists of
actions a body can take are built once per module and state shape.
"""

from __future__ import annotations

import functools
from itertools import groupby

from winch.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64

from oracle.gen import body as B
from oracle.gen.config import Config, draw_config, numeric_ops
from oracle.gen.mems import MemActions, draw_memories, extra_data
from oracle.gen.refs import RefActions
from oracle.gen.source import EDGE_BITS, NUM, ByteSource

PAGE = B.PAGE
DATA_PATTERN = bytes((0x80, 0xFF, 0x7F, 0x01, 0xFE, 0x8F, 0x00, 0xC3)) * 8
uleb, opb = B.uleb, B.opb
REF_NULL_EXTERN = opb("ref.null") + b"\x6f" + B.END


class ConfigTables:
    """What a body builder looks up per step, computed once per configuration."""

    def __init__(self, cfg: Config):
        self.ops = tuple(_op(o) for o in numeric_ops(cfg))
        self.unary = {t: tuple(o for o in self.ops if o.params == (t,)) for t in NUM}
        keys = (0,) + NUM
        one = {t: [] for t in keys}
        two = {(a, b): [] for a in keys for b in keys}
        for o in self.ops:
            (one[o.params[0]] if len(o.params) == 1 else two[o.params]).append(o)
        # the operators that take what is on top: (second, top) -> ops
        self.fitting = {(a, b): tuple(one[b]) + tuple(two[(a, b)]) if b else ()
                        for a in keys for b in keys}
        names = {o.name for o in self.unary[I32]}
        ext = tuple(opb(n) for n in ("i64.extend_i32_u", "i64.extend_i32_s") if n in names)
        wrap = any(o.name == "i32.wrap_i64" for o in self.unary[I64])
        self.roundtrip = ext if wrap else ()


@functools.lru_cache(maxsize=None)
def _op(o) -> B.Op:
    return B.Op(o)


@functools.lru_cache(maxsize=512)
def config_tables(cfg: Config) -> ConfigTables:
    return ConfigTables(cfg)


def _vec(items) -> bytes:
    return uleb(len(items)) + b"".join(items)


def _section(sid: int, payload: bytes) -> bytes:
    return bytes((sid,)) + uleb(len(payload)) + payload


def _name(s: str) -> bytes:
    raw = s.encode()
    return uleb(len(raw)) + raw


def _const_expr(t: int, bits: int) -> bytes:
    return B.const_bytes(t, bits) + B.END


class Body(MemActions, RefActions, B.Body):
    """A body builder with every action, references, tables and memories included."""


class ModuleBuilder:
    """The module-wide state the bodies share, and the module's assembly."""

    def __init__(self, src, cfg: Config):
        self.src, self.cfg = src, cfg
        self.ct = config_tables(cfg)
        self.types: list = []  # (params, results)
        self._type_ids: dict = {}
        self.func_types: list = []  # type index per function (imports first)
        self.n_imports = 0
        self.globals: list = []  # (valtype, mutable)
        self.actions: dict = {}
        self.has_memory = cfg.has("memory") or cfg.has("bulk_memory")
        self.has_table = cfg.has("call_indirect")
        self.has_refs = cfg.has("reference_types") or cfg.has("bulk_tables")
        self.bulk_data = self.has_memory and cfg.has("bulk_memory")
        self.mems: list = []  # oracle.gen.mems.Mem per memory
        self.plain_mem = True  # one memory of type i32 (the body builder's own actions)
        self.i32_and = opb("i32.and")
        self.memory_size, self.memory_grow = opb("memory.size") + b"\x00", \
            opb("memory.grow") + b"\x00"
        self.memory_fill, self.memory_copy = opb("memory.fill") + b"\x00", \
            opb("memory.copy") + b"\x00\x00"

    def type_index(self, params: tuple, results: tuple) -> int:
        key = (params, results)
        i = self._type_ids.get(key)
        if i is None:
            i = self._type_ids[key] = len(self.types)
            self.types.append(key)
        return i

    def functype(self) -> int:
        cfg, src = self.cfg, self.src
        params = tuple(src.types(cfg.max_params))
        k = cfg.max_results if cfg.multi_value else min(1, cfg.max_results)
        return self.type_index(params, tuple(src.types(k)))

    def make_actions(self, key) -> tuple:
        """The actions (Body methods, repeated by weight) for a state shape `key`: (type on
        top or 0, two or more values, inside a block, may open a block, in an `if` frame,
        has callees)."""
        top, two, inside, can_open, in_if, callees = key
        cfg, bd = self.cfg, Body
        acts = [bd.a_const]
        if cfg.has("locals"):
            acts.append(bd.a_local_get)
            if top:  # every type has scratch locals
                acts += [bd.a_local_set, bd.a_local_tee]
        if self.ct.ops:
            acts += [bd.a_op] * 8  # operators are what most bugs are about: weight them up
            if top and self.ct.unary[top]:
                acts += [bd.a_chain] * 2
        if top:
            # fold values into the sinks soon: a value still on the stack when the call
            # traps is never observed
            acts += [bd.a_drop] * (3 if two else 1)
        if cfg.has("globals"):
            acts.append(bd.a_global_get)
            if top and self.settable[top]:
                acts.append(bd.a_global_set)
        if cfg.has("select"):
            acts.append(bd.a_select)
        if self.has_memory and self.plain_mem:
            acts += [bd.a_load, bd.a_store] if top else [bd.a_load]
            acts += [bd.a_memory_size, bd.a_memory_grow]
            if cfg.has("bulk_memory"):
                acts += [bd.a_memory_fill, bd.a_memory_copy]
        elif self.has_memory:  # several or 64-bit memories (oracle.gen.mems)
            acts += [bd.m_load, bd.m_store] if top else [bd.m_load]
            acts += [bd.m_memory_size, bd.m_memory_grow, bd.m_grow_access]
            if cfg.has("bulk_memory"):
                acts += [bd.m_memory_fill, bd.m_memory_copy]
        if cfg.has("blocks") and can_open:
            acts += [bd.a_block, bd.a_loop, bd.a_if]
        if inside:
            acts.append(bd.a_end)
            if in_if:
                acts.append(bd.a_else)
        if cfg.has("branches"):
            acts += [bd.a_br_if, bd.a_br] if inside else [bd.a_br_if]
        if cfg.has("br_table") and inside:
            acts += [bd.a_br_table] * 2
        if cfg.has("calls") and callees:
            acts.append(bd.a_call)
        if cfg.has("host_calls") and self.n_imports:
            acts.append(bd.a_call_host)
        if cfg.has("call_indirect") and self.has_table and (callees or self.n_imports):
            acts.append(bd.a_call_indirect)
        if cfg.has("unreachable_code") and inside:
            acts += [bd.a_return, bd.a_return, bd.a_unreachable]
        if cfg.has("reference_types"):
            acts += [bd.a_ref_is_null, bd.a_ref_is_null, bd.a_select_t, bd.a_table_set,
                     bd.a_table_size, bd.a_table_grow, bd.a_table_fill]
        if cfg.has("bulk_tables"):
            acts += [bd.a_table_copy, bd.a_table_init, bd.a_elem_drop]
        if self.bulk_data:
            acts += [bd.a_memory_init if self.plain_mem else bd.m_memory_init, bd.a_data_drop]
        return tuple(acts)

    def build(self) -> bytes:
        src, cfg = self.src, self.cfg
        imports = []
        if cfg.has("host_calls"):
            for i in range(src.int(0, cfg.max_imports)):
                ti = self.functype()
                imports.append(_name("host") + _name(f"h{i}") + b"\x00" + uleb(ti))
                self.func_types.append(ti)
        self.n_imports = len(imports)
        n_funcs = src.int(1, cfg.max_funcs)
        for _ in range(n_funcs):
            self.func_types.append(self.functype())
        # globals: user globals (mutable, then immutable ones: edge values the compiler
        # cannot fold as it may fold constants), two sinks and the fuel counter
        inits = []
        has_globals = cfg.has("globals")
        for mutable, most in ((True, 3), (False, 4)):
            for t in src.types(most if has_globals else 0):
                self.globals.append((t, mutable))
                inits.append(src.pick(EDGE_BITS[t]))
        self.sink = {}
        for t in (I32, I64):
            self.sink[t] = len(self.globals)
            self.globals.append((t, True))
            inits.append(0)
        self.fuel = len(self.globals)
        self.globals.append((I32, True))
        inits.append(cfg.fuel)
        gs = self.globals
        self.fixed = {t: [i for i, (gt, m) in enumerate(gs) if gt == t and not m] for t in NUM}
        self.settable = {t: [i for i, (gt, m) in enumerate(gs) if gt == t and m
                             and i != self.fuel] for t in NUM}
        self.globals_of = {t: [i for i, (gt, _) in enumerate(gs) if gt == t] for t in NUM}
        g = B.GLOBAL_GET[self.fuel], B.GLOBAL_SET[self.fuel]
        self.fuel_code = (g[0] + opb("i32.eqz") + B.IF + B.EMPTY_BT + B.UNREACHABLE + B.END
                          + g[0] + B.I32_CONST + b"\x01" + opb("i32.sub") + g[1])
        self.sink_code = {}
        for t, conv, it, xor in ((I32, b"", I32, "i32.xor"), (I64, b"", I64, "i64.xor"),
                                 (F32, opb("i32.reinterpret_f32"), I32, "i32.xor"),
                                 (F64, opb("i64.reinterpret_f64"), I64, "i64.xor")):
            k = self.sink[it]
            self.sink_code[t] = conv + B.GLOBAL_GET[k] + opb(xor) + B.GLOBAL_SET[k]
        datas = []
        if self.has_memory:
            # drawn before the bodies, so a short input still has it: the drawn bytes XOR a
            # pattern with the sign bit of every width set here and there (zeros read back
            # as zeros would hide a missing sign extension)
            init = bytes(a ^ b for a, b in zip(src.data(8, 64), DATA_PATTERN))
            off = src.pick((0, 8, PAGE - len(init)))
            self.data_window = (off, len(init))
            seg0 = uleb(len(init)) + init
            self.data_segs = [(0, 0)]  # (index, length as memory.init sees it: dropped)
            if self.bulk_data:
                init = bytes(a ^ b for a, b in zip(src.data(4, 32), DATA_PATTERN[3:]))
                datas.append(b"\x01" + uleb(len(init)) + init)
                self.data_segs.append((1, len(init)))
            # with memory64 / multi_memory: the memories' index types and sizes, data of
            # their own in the memories after 0 (dropped once instantiated, like segment 0)
            self.mems = mems = draw_memories(src, cfg)
            self.plain_mem = len(mems) == 1 and mems[0].plain
            mems[0].window = self.data_window
            datas.insert(0, b"\x00" + _const_expr(mems[0].at, off) + seg0)
            for mem in mems[1:]:
                d = extra_data(src, mem)
                if d is not None:
                    datas.append(d)
        tables, elems = self.tables_and_elems()
        codes = []
        for k in range(n_funcs):
            fi = self.n_imports + k
            body = Body(src, self, fi)
            instrs = body.build()
            codes.append(_locals_decl(body.local_types[len(body.params):]) + instrs)
        return self.encode(imports, n_funcs, inits, codes, datas, tables, elems)

    def tables_and_elems(self) -> tuple:
        """The tables and element segments (encoded), and what the body actions look up:
        `mutable_tables` [(index, elem type, initial size)], `tables_of` {elem type:
        [(index, size)]}, `all_tables`, `elems_of` {elem type: [(segment, length)]}."""
        src, n_all = self.src, len(self.func_types)
        tables, elems = [], []
        # with table64: each table's index type drawn (I64: 64-bit), from the bytes only then
        t64 = self.cfg.has("table64")
        self.table_at = []
        self.tables_of = {FUNCREF: [], EXTERNREF: []}
        self.elems_of = {FUNCREF: [], EXTERNREF: []}
        self.mutable_tables = []
        if self.has_table:  # call_indirect's: every function at its own index, never written
            at = I64 if t64 and src.bool() else I32
            self.table_at.append(at)
            tables.append(b"\x70" + _TABLE_FLAGS[at] + uleb(n_all) + uleb(n_all))
            elems.append(b"\x00" + _const_expr(at, 0) + _vec([uleb(i) for i in range(n_all)]))
            self.tables_of[FUNCREF].append((0, n_all))
            self.elems_of[FUNCREF].append((0, 0))  # dropped once instantiated: length 0
        # externref in half the modules: wasmtime-winch rejects it (a GC type there), and it
        # is the third opinion only where it compiles
        self.ref_types = (FUNCREF, EXTERNREF) if self.has_refs and src.bool() else (FUNCREF,)
        if self.has_refs:
            # (never empty: every access to an empty table traps, and ends the call)
            for elem, lo, hi in ((FUNCREF, 1, 6), (EXTERNREF, 1, 4))[:len(self.ref_types)]:
                size = src.int(lo, hi)
                idx = len(tables)
                at = I64 if t64 and src.bool() else I32
                self.table_at.append(at)
                tables.append(bytes((elem,)) + _TABLE_FLAGS[at] + uleb(size) + uleb(size + 4))
                self.mutable_tables.append((idx, elem, size))
                self.tables_of[elem].append((idx, size))
            ft, fsize = self.tables_of[FUNCREF][-1]
            funcs = [src.int(0, n_all - 1) for _ in range(src.int(1, 6))]
            self.elems_of[FUNCREF].append((len(elems), len(funcs)))
            elems.append(b"\x01\x00" + _vec([uleb(f) for f in funcs]))  # passive
            if EXTERNREF in self.ref_types:
                k = src.int(1, 4)
                self.elems_of[EXTERNREF].append((len(elems), k))
                elems.append(b"\x05\x6f" + _vec([REF_NULL_EXTERN] * k))  # passive, exprs
            funcs = [src.int(0, n_all - 1) for _ in range(src.int(0, fsize))]
            self.elems_of[FUNCREF].append((len(elems), 0))  # active: dropped, length 0
            elems.append(b"\x02" + uleb(ft) + _const_expr(self.table_at[ft], 0) + b"\x00"
                         + _vec([uleb(f) for f in funcs]))
            # declarative: every function may be named by ref.func
            elems.append(b"\x03\x00" + _vec([uleb(i) for i in range(n_all)]))
        self.n_elems = len(elems)
        self.all_tables = [(i, 0) for i in range(len(tables))]
        return tables, elems

    def encode(self, imports, n_funcs, inits, codes, datas, tables, elems) -> bytes:
        out = [b"\0asm\x01\0\0\0"]
        out.append(_section(1, _vec([b"\x60" + uleb(len(p)) + bytes(p) + uleb(len(r))
                                     + bytes(r) for p, r in self.types])))
        if imports:
            out.append(_section(2, _vec(imports)))
        out.append(_section(3, _vec([uleb(t) for t in self.func_types[self.n_imports:]])))
        if tables:
            out.append(_section(4, _vec(tables)))
        if self.has_memory:
            out.append(_section(5, _vec([mem.limits() for mem in self.mems])))
        out.append(_section(6, _vec([bytes((t, int(m))) + _const_expr(t, bits)
                                     for (t, m), bits in zip(self.globals, inits)])))
        exports = [_name(f"f{k}") + b"\x00" + uleb(self.n_imports + k) for k in range(n_funcs)]
        exports += [_name("fuel" if i == self.fuel else f"g{i}") + b"\x03" + uleb(i)
                    for i in range(len(self.globals))]
        exports += [_name(mem.export_name) + b"\x02" + mem.imm for mem in self.mems]
        out.append(_section(7, _vec(exports)))
        if elems:
            out.append(_section(9, _vec(elems)))
        if self.bulk_data:
            out.append(_section(12, uleb(len(datas))))
        out.append(_section(10, _vec([uleb(len(c)) + c for c in codes])))
        if datas:
            out.append(_section(11, _vec(datas)))
        return b"".join(out)


_TABLE_FLAGS = {I32: b"\x01", I64: b"\x05"}  # limits flags: a maximum; and 64-bit


def _locals_decl(types) -> bytes:
    """The local declarations of a body: runs of one type as one entry."""
    return _vec([uleb(sum(1 for _ in run)) + bytes((t,)) for t, run in groupby(types)])


def build(src, config: Config | None = None, *, max_funcs: int = 6, max_instrs: int = 120,
          big_frames: int = 16) -> bytes:
    """A valid module from the choice source `src`, under `config` or a swarm configuration
    drawn from `src` first."""
    cfg = config if config is not None else draw_config(src, max_funcs, max_instrs, big_frames)
    return ModuleBuilder(src, cfg).build()


def generate(data: bytes, config: Config | None = None, **sizes) -> bytes:
    """The module the bytes `data` describe (the byte-driven generator).  Deterministic;
    never fails: every input, however short, gives a valid module (a short one a small one)."""
    return build(ByteSource(data), config, **sizes)
