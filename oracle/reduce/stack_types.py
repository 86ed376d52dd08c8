"""The operand stack before every instruction of a function body, for the reducer.

`stack_before(module, func_index_in_defined, instrs)` returns, per instruction, `(depth,
types)`: the control depth and the operand types above the enclosing block's base, or None
where the stack is not known exactly (after an unconditional branch until the block ends,
or after an operator this simple simulation does not model).  The reducer uses it to find
spans it can cut or replace without breaking validity; the validator has the last word.

Index types (memory64, table64): `memory.size`/`memory.grow` push the memory's index type
(i64 for a 64-bit memory), `table.size`/`table.grow` the table's, so a replaced tree that
made an address or index of a 64-bit memory or table becomes an `i64.const`.
"""

from __future__ import annotations

from winch.wasm.module import Module
from winch.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64

_CONST = {"i32.const": I32, "i64.const": I64, "f32.const": F32, "f64.const": F64}


def block_sig(m: Module, bt: int) -> tuple:
    if bt == -64:
        return (), ()
    if bt < 0:
        return (), (bt + 128,)
    ft = m.types[bt]
    return tuple(ft.params), tuple(ft.results)


def local_types(m: Module, fidx: int) -> list:
    f = m.funcs[fidx]
    out = list(m.types[f.type_index].params)
    for n, t in f.locals:
        out.extend([t] * n)
    return out


def global_types(m: Module) -> list:
    from winch.wasm.module import EXT_GLOBAL

    return [i.desc.valtype for i in m.imports if i.kind == EXT_GLOBAL] + \
        [g.type.valtype for g in m.globals]


def stack_before(m: Module, fidx: int, instrs) -> list:
    locs = local_types(m, fidx)
    globs = global_types(m)
    ftypes = m.func_types
    out = []
    # frames: [base stack (types below, tuple), params, results, kind]
    frames = [[(), (), tuple(m.types[m.funcs[fidx].type_index].results), "func"]]
    stack: list | None = []
    for ins in instrs:
        name = ins.op.name
        out.append(None if stack is None else (len(frames), tuple(stack)))
        if name in ("block", "loop", "if"):
            params, results = block_sig(m, ins.imm)
            if stack is not None:
                if name == "if":
                    stack = stack[:-1]
                base = tuple(stack[:len(stack) - len(params)])
                frames.append([base, params, results, name])
                stack = list(params)
            else:
                frames.append([None, params, results, name])
                stack = list(params)
            continue
        if name == "else":
            f = frames[-1]
            stack = list(f[1])
            continue
        if name == "end":
            f = frames.pop()
            if not frames:
                break
            stack = None if f[0] is None else list(f[0]) + list(f[2])
            continue
        if stack is None:
            continue
        sig = _effect(m, ins, stack, locs, globs, ftypes)
        if sig is None:
            stack = None
            continue
        pops, pushes, transfer = sig
        if pops > len(stack):
            stack = None
            continue
        del stack[len(stack) - pops:]
        stack.extend(pushes)
        if transfer:
            stack = None
    return out


def _effect(m, ins, stack, locs, globs, ftypes):
    """(pops, pushed types, unconditional transfer) or None if not modelled."""
    op, name, imm = ins.op, ins.op.name, ins.imm
    if name in _CONST:
        return 0, (_CONST[name],), False
    if op.has_sig:
        extra = 1 if op.family in ("load", "store") else 0
        return len(op.params) + extra, tuple(op.results), False
    if name == "nop":
        return 0, (), False
    if name == "drop":
        return 1, (), False
    if name in ("select", "select_t"):
        return (3, (stack[-2],), False) if len(stack) >= 3 else None
    if name == "local.get":
        return 0, (locs[imm],), False
    if name == "local.set":
        return 1, (), False
    if name == "local.tee":
        return 1, (locs[imm],), False
    if name == "global.get":
        return 0, (globs[imm],), False
    if name == "global.set":
        return 1, (), False
    if name == "memory.size":
        return 0, (_mem_at(m, imm),), False
    if name == "memory.grow":
        return 1, (_mem_at(m, imm),), False
    if name in ("memory.fill", "memory.copy", "memory.init"):
        return 3, (), False
    if name == "data.drop":
        return 0, (), False
    if name in ("call", "call_indirect"):
        ft = m.types[ftypes[imm]] if name == "call" else m.types[imm[0]]
        return len(ft.params) + (name == "call_indirect"), tuple(ft.results), False
    if name in ("unreachable", "return", "br", "br_table"):
        return 0, (), True
    if name == "br_if":
        return 1, (), False
    if name == "ref.null":
        return 0, (FUNCREF if imm == FUNCREF else EXTERNREF,), False
    if name == "ref.is_null":
        return 1, (I32,), False
    if name == "ref.func":
        return 0, (FUNCREF,), False
    if name in _TABLE_EFFECT:
        pops, pushes = _TABLE_EFFECT[name]
        if name in ("table.size", "table.grow"):
            pushes = (I64 if m.table_types[imm].limits.is64 else I32,)
        return pops, (m.table_types[imm].elem,) if pushes is None else pushes, False
    return None


def _mem_at(m: Module, mem: int) -> int:
    """The index type of memory `mem` (I64 for a 64-bit memory)."""
    return I64 if m.mem_types[mem].limits.is64 else I32


# table operators: (pops, pushes); None: the table's element type (table.get)
_TABLE_EFFECT = {
    "table.get": (1, None), "table.set": (2, ()), "table.size": (0, (I32,)),
    "table.grow": (2, (I32,)), "table.fill": (3, ()), "table.copy": (3, ()),
    "table.init": (3, ()), "elem.drop": (0, ()),
}
