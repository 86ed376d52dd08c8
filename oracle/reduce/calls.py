"""Reduction passes over calls: a bug found deep in a call chain ends up in one exported
function.

- `DirectCalls`: `i32.const c; call_indirect (type t)` where slot c of the table is known
  (an active element segment at a constant offset) and holds a function of type t -> `call`.
- `ExportCallee`: an export that calls a function is pointed at the callee itself (same
  export name, so the finding's signature can hold), the plan's calls to it given zero
  arguments of the callee's parameter types; the caller goes too if nothing else uses it.
"""

from __future__ import annotations

import dataclasses

from oracle.plan import EDGES, TYPE_NAMES, Call, Plan
from oracle.reduce import edit
from oracle.reduce.base import BodyReducer
from oracle.values import Value
from winch.wasm.module import EXT_FUNC, EXT_TABLE, Instr
from winch.wasm.opcodes import BY_NAME


def _table0_slots(m) -> dict:
    """Slot -> function index of table 0, from active segments at constant offsets (later
    segments overwrite earlier ones, as instantiation does)."""
    if any(i.kind == EXT_TABLE for i in m.imports):
        return {}
    slots: dict = {}
    for e in m.elems:
        if e.mode != "active" or e.table != 0 or e.funcs is None or e.offset is None:
            continue
        ins = e.offset.instrs
        if len(ins) != 1 or ins[0].op.name != "i32.const":
            return {}  # an offset from a global: unknown
        base = ins[0].imm & 0xFFFF_FFFF
        for n, f in enumerate(e.funcs):
            slots[base + n] = f
    return slots


class DirectCalls(BodyReducer):
    name = "direct calls"

    def proposals(self, m, k, body):
        slots = _table0_slots(m)
        for i in range(1, len(body)):
            ins, prev = body[i], body[i - 1]
            if ins.op.name != "call_indirect" or prev.op.name != "i32.const":
                continue
            t, table = ins.imm
            f = slots.get(prev.imm & 0xFFFF_FFFF)
            if table == 0 and f is not None and m.types[m.func_types[f]] == m.types[t]:
                yield body[:i - 1] + [Instr(BY_NAME["call"], f)] + body[i + 1:]


class ExportCallee:
    name = "export callee"

    def run(self, state, test):
        seen = set()  # (export name, function): recursion must not send it round in circles
        progress = True
        while progress:
            progress = False
            m = state.module
            n_imported = len(m.func_types) - len(m.funcs)
            for ei, e in enumerate(m.exports):
                if e.kind != EXT_FUNC or e.index < n_imported:
                    continue
                body = edit.bodies(m)[e.index - n_imported]
                callees = sorted({i.imm for i in body if i.op.name == "call"
                                  and i.imm >= n_imported and i.imm != e.index})
                for g in callees:
                    if (e.name, g) in seen:
                        continue
                    seen.add((e.name, g))
                    exports = list(m.exports)
                    exports[ei] = dataclasses.replace(e, index=g)
                    names = [TYPE_NAMES.get(t) for t in m.types[m.func_types[g]].params]
                    if None in names:
                        continue  # a parameter type a plan cannot express
                    args = tuple(Value(n, EDGES[n][0]) for n in names)  # as default_plan
                    calls = [Call(c.export, args) if c.export == e.name else c
                             for c in state.plan.calls]
                    m2 = dataclasses.replace(m, exports=tuple(exports))
                    m2 = edit.remove(m2, "func", e.index) or m2  # the caller, if now unused
                    cand = type(state)(m2, Plan(calls))
                    if test(cand):
                        state, progress = cand, True
                        break
                if progress:
                    break
        return state


__all__ = ["DirectCalls", "ExportCallee"]
