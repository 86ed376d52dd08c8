"""Structural edits of a `Module` that keep every index consistent: remove an item of an
index space (function, global, type, data or element segment, export, table, memory) and
renumber every reference to the ones after it.  An edit that would leave a dangling
reference returns None instead.

Memories (multi-memory): every memory operator names its memory (a load's or store's memarg
too, memory 0 included), as do active data segments and memory exports, so removing a memory
nothing refers to renumbers the memories after it; an imported memory is never removed."""

from __future__ import annotations

import dataclasses

from winch.wasm import opcodes as K
from winch.wasm.encoder import func_instrs
from winch.wasm.module import (EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, EXT_TABLE, ConstExpr, Instr,
                               Module)


def bodies(m: Module) -> list:
    return [list(func_instrs(m, f)) for f in m.funcs]


def with_bodies(m: Module, new_bodies) -> Module:
    funcs = tuple(dataclasses.replace(f, instrs=tuple(b)) for f, b in zip(m.funcs, new_bodies))
    return dataclasses.replace(m, funcs=funcs)


# which immediates refer to which index space: op name -> function(imm, map) -> new imm
def _idx(imm, f):
    return f(imm)


_REFS = {
    "func": {"call": _idx, "ref.func": _idx},
    "global": {"global.get": _idx, "global.set": _idx},
    "type": {"call_indirect": lambda imm, f: (f(imm[0]), imm[1]),
             "block": lambda imm, f: f(imm) if imm >= 0 else imm,
             "loop": lambda imm, f: f(imm) if imm >= 0 else imm,
             "if": lambda imm, f: f(imm) if imm >= 0 else imm},
    "data": {"memory.init": lambda imm, f: (f(imm[0]), imm[1]), "data.drop": _idx},
    "elem": {"table.init": lambda imm, f: (f(imm[0]), imm[1]), "elem.drop": _idx},
    "table": {"call_indirect": lambda imm, f: (imm[0], f(imm[1])),
              "table.get": _idx, "table.set": _idx, "table.grow": _idx, "table.size": _idx,
              "table.fill": _idx, "table.init": lambda imm, f: (imm[0], f(imm[1])),
              "table.copy": lambda imm, f: (f(imm[0]), f(imm[1]))},
    "memory": {"memory.size": _idx, "memory.grow": _idx, "memory.fill": _idx,
               "memory.copy": lambda imm, f: (f(imm[0]), f(imm[1])),
               "memory.init": lambda imm, f: (imm[0], f(imm[1]))},
}
# loads and stores: (align, offset, memory index, [lane])
_REFS["memory"].update({o.name: (lambda imm, f: (imm[0], imm[1], f(imm[2])) + tuple(imm[3:]))
                        for o in K.OPS if o.imm in (K.MEMARG, K.MEMARG_LANE)})


class _Dangling(Exception):
    pass


def _mapper(removed: int):
    def f(i):
        if i == removed:
            raise _Dangling
        return i - 1 if i > removed else i
    return f


def _map_instrs(instrs, space: str, f) -> tuple:
    table = _REFS[space]
    out = []
    for ins in instrs:
        h = table.get(ins.op.name)
        out.append(Instr(ins.op, h(ins.imm, f)) if h else ins)
    return tuple(out)


def _map_expr(e, space, f):
    return None if e is None else ConstExpr(_map_instrs(e.instrs, space, f))


def _remap(m: Module, space: str, f) -> Module:
    """Every reference to `space` in `m` passed through f (which raises _Dangling)."""
    funcs = tuple(dataclasses.replace(fn, instrs=_map_instrs(func_instrs(m, fn), space, f))
                  for fn in m.funcs)
    globals_ = tuple(dataclasses.replace(g, init=_map_expr(g.init, space, f)) for g in m.globals)
    elems = []
    for e in m.elems:
        e2 = dataclasses.replace(e, offset=_map_expr(e.offset, space, f))
        if space == "func" and e.funcs is not None:
            e2 = dataclasses.replace(e2, funcs=tuple(f(i) for i in e.funcs))
        if e.exprs is not None:
            e2 = dataclasses.replace(e2, exprs=tuple(_map_expr(x, space, f) for x in e.exprs))
        if space == "table" and e.mode == "active":
            e2 = dataclasses.replace(e2, table=f(e.table))
        elems.append(e2)
    datas = tuple(dataclasses.replace(d, offset=_map_expr(d.offset, space, f),
                                      memory=f(d.memory) if space == "memory" and
                                      d.mode == "active" else d.memory) for d in m.datas)
    kind = {"func": EXT_FUNC, "global": EXT_GLOBAL, "table": EXT_TABLE,
            "memory": EXT_MEMORY}.get(space)
    exports = tuple(dataclasses.replace(e, index=f(e.index)) if e.kind == kind else e
                    for e in m.exports)
    start = m.start
    if space == "func" and start is not None:
        start = f(start)
    out = dataclasses.replace(m, funcs=funcs, globals=globals_, elems=tuple(elems), datas=datas,
                              exports=exports, start=start)
    if space == "type":
        out = dataclasses.replace(
            out, funcs=tuple(dataclasses.replace(fn, type_index=f(fn.type_index))
                             for fn in out.funcs),
            imports=tuple(dataclasses.replace(i, desc=f(i.desc)) if i.kind == EXT_FUNC else i
                          for i in m.imports))
    return out


def _n_imported(m: Module, kind: int) -> int:
    return sum(1 for i in m.imports if i.kind == kind)


# index spaces whose defined items are a tuple of the module: (import kind or None, field)
_DEFINED = {"func": (EXT_FUNC, "funcs"), "global": (EXT_GLOBAL, "globals"),
            "table": (EXT_TABLE, "tables"), "memory": (EXT_MEMORY, "mems"),
            "type": (None, "types"), "data": (None, "datas"),
            "elem": (None, "elems")}


def remove(m: Module, space: str, index: int) -> Module | None:
    """`m` without item `index` of `space` (an index in that space, imports first), or None
    if something still refers to it."""
    try:
        if space == "export":
            return dataclasses.replace(m, exports=m.exports[:index] + m.exports[index + 1:])
        mapped = _remap(m, space, _mapper(index))
        if space == "func" and index < _n_imported(m, EXT_FUNC):
            target = [i for i in m.imports if i.kind == EXT_FUNC][index]
            return dataclasses.replace(mapped, imports=tuple(
                i for i in mapped.imports if i is not target))
        if space in _DEFINED:
            kind, name = _DEFINED[space]
            k = index - (_n_imported(m, kind) if kind is not None else 0)
            if k < 0:
                return None  # an imported global or table: its importers need it
            items = getattr(mapped, name)
            out = dataclasses.replace(mapped, **{name: items[:k] + items[k + 1:]})
            if space == "data" and out.data_count is not None:
                out = dataclasses.replace(out, data_count=out.data_count - 1)
            return out
    except _Dangling:
        return None
    raise ValueError(f"unknown index space {space!r}")


def space_size(m: Module, space: str) -> int:
    return {"func": len(m.func_types), "global": _n_imported(m, EXT_GLOBAL) + len(m.globals),
            "type": len(m.types), "data": len(m.datas), "elem": len(m.elems),
            "table": _n_imported(m, EXT_TABLE) + len(m.tables), "export": len(m.exports),
            "memory": _n_imported(m, EXT_MEMORY) + len(m.mems)}[space]
