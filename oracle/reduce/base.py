"""What every reduction pass shares: the state being reduced (a module and its plan), delta
debugging, typed constants, label arities, and the two pass shapes (`Reducer`, `BodyReducer`).

Passes live in `passes.py`, `calls.py` and `trees.py`; they import from here and this module
imports none of them, so the reducer's imports point one way (base <- passes, calls, trees).
"""

from __future__ import annotations

from dataclasses import dataclass

from oracle.plan import Plan
from oracle.reduce import edit
from oracle.reduce.stack_types import block_sig
from winch.wasm.module import Instr, Module
from winch.wasm.opcodes import BY_NAME
from winch.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64

END = Instr(BY_NAME["end"])
CONST_OP = {I32: "i32.const", I64: "i64.const", F32: "f32.const", F64: "f64.const"}


@dataclass(frozen=True)
class State:
    module: Module
    plan: Plan


def with_body(state: State, k: int, body) -> State:
    """`state` with function k's body replaced."""
    bodies = edit.bodies(state.module)
    bodies[k] = list(body)
    return State(edit.with_bodies(state.module, bodies), state.plan)


def instruction_count(m: Module) -> int:
    """Instructions in all function bodies, not counting each body's final `end`."""
    return sum(len(b) - 1 for b in edit.bodies(m))


def ddmin(items: list, test) -> list:
    """Zeller's delta debugging, complement-only: a smallest-found sublist of `items` for
    which `test(sublist)` holds (it holds for `items`)."""
    n = 2
    while len(items) >= 1:
        chunk = max(1, -(-len(items) // n))
        reduced = False
        for start in range(0, len(items), chunk):
            rest = items[:start] + items[start + chunk:]
            if test(rest):
                items = rest
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(2 * n, len(items))
    return items


def typed_const(t: int, value: int = 0):
    if t in CONST_OP:
        return Instr(BY_NAME[CONST_OP[t]], value)
    if t in (FUNCREF, EXTERNREF):
        return Instr(BY_NAME["ref.null"], t)
    return None


def balanced(body, i: int, j: int) -> bool:
    """Whether body[i:j] opens and closes its own blocks (no `else`/`end` of an outer one)."""
    depth = 0
    for ins in body[i:j]:
        n = ins.op.name
        if n in ("block", "loop", "if"):
            depth += 1
        elif n == "end":
            depth -= 1
            if depth < 0:
                return False
        elif n == "else" and depth == 0:
            return False
    return depth == 0


class Reducer:
    name = "reducer"

    def run(self, state: State, test) -> State:
        raise NotImplementedError


class BodyReducer(Reducer):
    """A pass that proposes new bodies for one function at a time: the first that passes
    is taken and the same function is looked at again; when none passes, the next one."""

    def proposals(self, m: Module, k: int, body: list):
        """New bodies for function k, best first (a generator: proposals are made lazily)."""
        raise NotImplementedError

    def candidates(self, state: State, k: int, body: list):
        """The states to try for function k, best first: its proposed bodies in place."""
        for new in self.proposals(state.module, k, body):
            yield with_body(state, k, new)

    def run(self, state, test):
        k = 0
        while k < len(state.module.funcs):
            body = edit.bodies(state.module)[k]
            for cand in self.candidates(state, k, body):
                if test(cand):
                    state = cand
                    break
            else:
                k += 1
        return state


def label_arity(m, k, body, j, depth) -> int:
    """How many values a branch at body[j] to label `depth` carries."""
    nested = 0
    for b in range(j - 1, -1, -1):
        name = body[b].op.name
        if name == "end":
            nested += 1
        elif name in ("block", "loop", "if"):
            if nested:
                nested -= 1
            elif depth:
                depth -= 1
            else:
                params, results = block_sig(m, body[b].imm)
                return len(params) if name == "loop" else len(results)
    return len(m.types[m.funcs[k].type_index].results)


__all__ = ["State", "with_body", "instruction_count", "ddmin", "typed_const", "balanced",
           "label_arity", "Reducer", "BodyReducer", "Plan"]
