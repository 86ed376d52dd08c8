"""Reduction passes.  Each is a small class whose `run(state, test)` returns a smaller state
for which `test` still holds (or the same state).  `test(state)` is the cached predicate;
every candidate a pass proposes is a complete (module, plan) pair.

Passes that keep the module valid by construction (index-space edits, subtree replacement,
block unwrapping) come with passes that rely on the validator to reject (ddmin over bodies).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools

from oracle.plan import Plan
from oracle.reduce import edit
# (State and instruction_count are also imported from here by scripts and tests)
from oracle.reduce.base import (CONST_OP, END, BodyReducer, Reducer, State, ddmin,
                                instruction_count, label_arity, typed_const, with_body)
from oracle.reduce.calls import DirectCalls, ExportCallee
from oracle.reduce.stack_types import block_sig, local_types, stack_before
from oracle.reduce.trees import RemoveTrees
from winch.wasm.module import Instr, Module
from winch.wasm.opcodes import BY_NAME
from winch.wasm.types import F32, F64, I32, I64


class DropCalls(Reducer):
    name = "drop calls"

    def run(self, state, test):
        calls = ddmin(list(state.plan.calls), lambda cs: test(State(state.module, Plan(cs))))
        return State(state.module, Plan(calls))


class DropExports(Reducer):
    name = "drop exports"

    def run(self, state, test):
        m = state.module

        def build(keep):
            names = {e.name for e in keep}
            return State(dataclasses.replace(m, exports=tuple(keep)),
                         Plan([c for c in state.plan.calls if c.export in names]))

        keep = ddmin(list(m.exports), lambda k: test(build(k)))
        return build(keep)


class DropCustoms(Reducer):
    """Custom sections (the `name` section, producers...): engines run a module the same
    without them, and a reduced module's names no longer match its indices."""

    name = "drop customs"

    def run(self, state, test):
        if not state.module.customs:
            return state
        cand = State(dataclasses.replace(state.module, customs=()), state.plan)
        return cand if test(cand) else state


class RemoveItems(Reducer):
    """Remove functions, globals, segments, tables, memories and types nothing refers to."""

    name = "remove items"
    SPACES = ("export", "elem", "data", "func", "global", "table", "memory", "type")

    def run(self, state, test):
        for space in self.SPACES:
            i = edit.space_size(state.module, space) - 1
            while i >= 0:
                m2 = edit.remove(state.module, space, i)
                if m2 is not None:
                    plan = state.plan
                    if space == "export":
                        names = {e.name for e in m2.exports}
                        plan = Plan([c for c in plan.calls if c.export in names])
                    cand = State(m2, plan)
                    if test(cand):
                        state = cand
                i -= 1
        return state


class ReplaceBodies(Reducer):
    """Each function body by `unreachable`, or by constants of its results."""

    name = "replace bodies"

    def run(self, state, test):
        m = state.module
        for k, f in enumerate(m.funcs):
            results = m.types[f.type_index].results
            consts = [typed_const(t) for t in results]
            options = [[Instr(BY_NAME["unreachable"]), END]]
            if None not in consts:
                options.append(consts + [END])
            for body in options:
                if len(edit.bodies(state.module)[k]) <= len(body):
                    continue
                cand = with_body(state, k, body)
                if test(cand):
                    state = cand
                    break
        return state


class DdminBodies(Reducer):
    """Delta debugging over each body's instructions (the validator rejects broken ones)."""

    name = "ddmin bodies"

    def run(self, state, test):
        for k in range(len(state.module.funcs)):
            body = edit.bodies(state.module)[k]
            idx = list(range(len(body) - 1))

            def build(keep, k=k, body=body):
                return with_body(state, k, [body[i] for i in keep] + [END])

            keep = ddmin(idx, lambda keep: test(build(keep)))
            if len(keep) < len(idx):
                state = build(keep)
        return state


def _segments(body, count: int) -> list:
    """Per position 0..count-1 (before that instruction): an id of the block arm it lies in.
    body[i:j] opens and closes its own blocks (`balanced`) exactly when i and j have the same
    id: each `block`/`loop`/`if` and each `else` starts a new one, `end` returns to the
    enclosing one."""
    out, open_, fresh = [], [0], 1
    for x in range(count):
        out.append(open_[-1] if open_ else -1 - x)
        name = body[x].op.name if x < len(body) else ""
        if name in ("block", "loop", "if"):
            open_.append(fresh)
            fresh += 1
        elif name == "else" and open_:
            open_[-1] = fresh
            fresh += 1
        elif name == "end" and open_:
            open_.pop()
    return out


def _smaller(repl, span) -> bool:
    """Fewer instructions, or as many but only constants or `drop`s in place of something
    that touches state (a global, a local, a call): that frees the global or parameter to
    be removed."""
    if len(repl) != len(span):
        return len(repl) < len(span)
    plain = _CONSTS + ("drop",)
    return all(r.op.name in plain for r in repl) and not all(s.op.name in plain for s in span)


_CONSTS = ("i32.const", "i64.const", "f32.const", "f64.const", "ref.null")


class _SpanPass(Reducer):
    """Shared: candidate spans (i, j) of a body where the stack before i and before j are
    known and at the same block depth, longest first (then leftmost), at most
    `max_candidates`.  `relation` says which stacks pair up: "same" (the span leaves the
    stack as it found it), "push" (it pushes values), "pop" (it only pops).

    Fast on long bodies (real programs have functions of thousands of instructions): spans
    come from groups of positions in the same block arm with related stacks, the longest first
    from a heap, instead of testing every pair."""

    max_candidates = 400
    relation = "same"

    def spans(self, m, k, body, want):
        stacks = stack_before(m, k, body)
        n = len(body) - 1
        segs = _segments(body, n + 1)
        full: dict = {}  # (arm, stack) -> positions with exactly that stack
        ext: dict = {}  # (arm, stack) -> positions whose stack extends it
        for x in range(min(n + 1, len(stacks))):
            if stacks[x] is None:
                continue
            st = tuple(stacks[x][1])
            full.setdefault((segs[x], st), []).append(x)
            for h in range(len(st)):
                ext.setdefault((segs[x], st[:h]), []).append(x)
        left, right = {"same": (full, full), "push": (full, ext),
                       "pop": (ext, full)}[self.relation]
        heap = []
        for g, a in left.items():
            b = right.get(g)
            if b and a[0] < b[-1]:
                heap.append((a[0] - b[-1], a[0], 0, len(b) - 1, g))
        heapq.heapify(heap)
        seen, out = set(), []
        while heap and len(out) < self.max_candidates:
            _, i, ai, bi, g = heapq.heappop(heap)
            a, b = left[g], right[g]
            j = b[bi]
            out.append((j - i, i, j, want(stacks[i][1], stacks[j][1])))
            for a2, b2 in ((ai + 1, bi), (ai, bi - 1)):
                if a2 < len(a) and b2 >= 0 and a[a2] < b[b2] and (g, a2, b2) not in seen:
                    seen.add((g, a2, b2))
                    heapq.heappush(heap, (a[a2] - b[b2], a[a2], a2, b2, g))
        return out

    def run(self, state, test):
        k = 0
        while k < len(state.module.funcs):
            progress = True
            while progress:
                progress = False
                body = edit.bodies(state.module)[k]
                for _, i, j, extra in self.spans(state.module, k, body, self.want):
                    for repl in self.replacements(state.module, k, extra):
                        if not _smaller(repl, body[i:j]):
                            continue
                        cand = with_body(state, k, body[:i] + repl + body[j:])
                        if test(cand):
                            state, progress = cand, True
                            break
                    if progress:
                        break
            k += 1
        return state


class CutSpans(_SpanPass):
    """Remove spans that leave the stack as they found it."""

    name = "cut spans"

    @staticmethod
    def want(a, b):
        return () if a == b else None

    def replacements(self, m, k, extra):
        return [[]]


class ReplaceSubtrees(_SpanPass):
    """Replace a span that pushes values (one, or several as a call's results) by constants
    of their types (0, 1, -1; 0.0, 1.0, -1.0), or a single value by a `local.get`.  Two more
    for a single value, where a constant would lose the bug because the allocator's history
    matters: a zero computed into a register (`i32.const 0; i32.extend8_s`, `f64.const 0;
    f64.abs`, ...), and for an i32 the wrap of an i64 constant whose high half is all ones
    (`i64.const 0xffffffff00000000; i32.wrap_i64`, the value 0): a bug that leaves a
    register's high half in place (a missing zero- or sign-extension) then shows on that
    value alone, whatever ran before, where otherwise it needs the code that last left junk
    in the register picked."""

    name = "replace subtrees"
    relation = "push"

    @staticmethod
    def want(a, b):
        return tuple(b[len(a):]) if len(b) > len(a) and tuple(b[:len(a)]) == tuple(a) else None

    def replacements(self, m, k, types):
        out = []
        for v in (0, 1, -1):  # 0 first; 1 or -1 where the finding needs a non-zero value
            consts = [typed_const(t, _FLOAT_BITS[t][v] if t in _FLOAT_BITS else v)
                      for t in types]
            if None not in consts:
                out.append(consts)
        if len(types) == 1:
            for li, lt in enumerate(local_types(m, k)):
                if lt == types[0]:
                    out.append([Instr(BY_NAME["local.get"], li)])
                    break
        if types == (I32,):
            out.append(_JUNK_HIGH_ZERO)
        if len(types) == 1 and types[0] in _COMPUTED:
            out.append([typed_const(types[0]), Instr(BY_NAME[_COMPUTED[types[0]]])])
        return out


_FLOAT_BITS = {F32: {0: 0, 1: 0x3F80_0000, -1: 0xBF80_0000},
               F64: {0: 0, 1: 0x3FF0 << 48, -1: 0xBFF0 << 48}}  # 0.0, 1.0, -1.0
_JUNK_HIGH_ZERO = [Instr(BY_NAME["i64.const"], -(1 << 32)), Instr(BY_NAME["i32.wrap_i64"])]
# A computed zero: unlike a constant, which a baseline compiler
# keeps lazily and never puts in a register, it lives in a register, like the value it stands
# for; a bug in what happens to live registers (a call clobbering them, a spill) still shows.
_COMPUTED = {I32: "i32.extend8_s", I64: "i64.extend8_s", F32: "f32.abs", F64: "f64.abs"}


class DropSpans(_SpanPass):
    """Replace a span that only consumes values (its net effect pops k) by k `drop`s."""

    name = "drop spans"
    relation = "pop"

    @staticmethod
    def want(a, b):
        return len(a) - len(b) if len(b) < len(a) and tuple(a[:len(b)]) == tuple(b) else None

    def replacements(self, m, k, n):
        return [[Instr(BY_NAME["drop"])] * n]


_SINKS = ("drop", "global.set", "local.set")
_SOURCES = ("i32.const", "i64.const", "f32.const", "f64.const", "local.get", "global.get",
            "ref.null", "ref.func", "memory.size")


class RemoveValueChains(BodyReducer):
    """A value made from nothing (a constant, a `local.get`, ...), carried through one-operand
    operators, and sunk (`drop`, `global.set`, `local.set`): remove the whole chain.  The
    instructions are usually far apart, which delta debugging over contiguous chunks
    cannot see."""

    name = "remove value chains"

    def proposals(self, m, k, body):
        stacks = stack_before(m, k, body)
        for i, ins in enumerate(body):
            if ins.op.name not in _SOURCES or stacks[i] is None:
                continue
            chain = _chain(m, k, body, stacks, i)
            if chain is not None:
                yield [x for n, x in enumerate(body) if n not in chain]


def _chain(m, k, body, stacks, i):
    """Indices of the chain starting at the value body[i] pushes, or None."""
    from oracle.reduce.stack_types import _effect, global_types

    locs, globs, ftypes = local_types(m, k), global_types(m), m.func_types
    depth, h = stacks[i][0], len(stacks[i][1])  # the value sits at height h
    chain = [i]
    j = i + 1
    while j < len(body) - 1:
        sj = stacks[j]
        if sj is None or sj[0] != depth:
            return None
        name = body[j].op.name
        if name == "br_if":  # reads the condition and the values its label carries
            if len(sj[1]) - 1 - label_arity(m, k, body, j, body[j].imm) > h:
                j += 1
                continue
            return None
        if name in ("block", "loop", "if", "else", "end", "br", "br_table",
                    "return", "unreachable"):
            return None
        eff = _effect(m, body[j], list(sj[1]), locs, globs, ftypes)
        if eff is None:
            return None
        pops, pushes, _ = eff
        if len(sj[1]) - pops > h:
            j += 1  # works above the value
            continue
        # body[j] takes the value
        op = body[j].op
        top = len(sj[1]) == h + 1
        if name in _SINKS and top:
            return chain + [j]
        if pops == 1 and len(pushes) == 1 and top:
            chain.append(j)  # the value goes on as this operator's result
            j += 1
            continue
        if op.has_sig and pops == 2 and len(pushes) == 1 and \
                op.params[0] == op.params[1] == pushes[0]:
            return chain + [j]  # `x op y` -> the other operand
        return None
    return None


class CutDeadCode(BodyReducer):
    """Everything after `unreachable`, `br`, `br_table` or `return` up to the end of its
    block: never runs, and the stack there is polymorphic, so no other pass can touch it."""

    name = "cut dead code"

    def proposals(self, m, k, body):
        for i, ins in enumerate(body[:-1]):
            if ins.op.name not in ("unreachable", "br", "br_table", "return"):
                continue
            j, nested = i + 1, 0
            while j < len(body) - 1:
                name = body[j].op.name
                if name in ("block", "loop", "if"):
                    nested += 1
                elif name in ("end", "else") and not nested:
                    break
                elif name == "end":
                    nested -= 1
                j += 1
            if j > i + 1:
                yield body[:i + 1] + body[j:]


class RemoveDroppedCalls(BodyReducer):
    """A call without arguments whose results all end in one run of `drop`s later (the code
    between works above them): remove the call and the drops.  Neither is a span the other
    passes can cut alone, and code in between keeps them apart."""

    name = "remove dropped calls"

    def proposals(self, m, k, body):
        stacks = stack_before(m, k, body)
        for i, ins in enumerate(body):
            if ins.op.name != "call" or stacks[i] is None:
                continue
            ft = m.types[m.func_types[ins.imm]]
            n, h = len(ft.results), len(stacks[i][1])
            if ft.params or not n:
                continue
            j = _dropped_at(body, stacks, i, h + n)
            if j is not None:
                yield body[:i] + body[i + 1:j] + body[j + n:]


def _dropped_at(body, stacks, i, top):
    """Where a run of drops takes the stack from `top` down past the values a call at i
    pushed (the code before it never reaches below `top`), or None."""
    depth = stacks[i][0]
    n = top - len(stacks[i][1])
    for j in range(i + 1, len(body) - n):
        sj = stacks[j]
        if sj is None or sj[0] != depth or len(sj[1]) < top:
            return None
        if len(sj[1]) == top and all(x.op.name == "drop" for x in body[j:j + n]):
            return j
        if body[j].op.name in ("block", "loop", "if", "else", "end", "br", "br_if",
                               "br_table", "return", "unreachable"):
            return None
    return None


class UnwrapBlocks(Reducer):
    """`block`/`loop` no branch targets -> their body (its parameters are on the stack
    already, its results stay there); `if` -> `drop` + one arm."""

    name = "unwrap blocks"

    def run(self, state, test):
        k = 0
        while k < len(state.module.funcs):
            body = edit.bodies(state.module)[k]
            for i, ins in enumerate(body):
                if ins.op.name not in ("block", "loop", "if"):
                    continue
                end, els = _match(body, i)
                if end is None or _targets(body, i, end):
                    continue
                inner = _shift_labels(body[i + 1:end])
                cands = []
                if ins.op.name == "if":
                    then = _shift_labels(body[i + 1:els if els else end])
                    cands.append([Instr(BY_NAME["drop"])] + then)
                    if els:
                        cands.append([Instr(BY_NAME["drop"])] + _shift_labels(body[els + 1:end]))
                else:
                    cands.append(inner)
                done = False
                for c in cands:
                    cand = with_body(state, k, body[:i] + c + body[end + 1:])
                    if test(cand):
                        state, done = cand, True
                        break
                if done:
                    break
            else:
                k += 1
        return state


def _match(body, i):
    """Index of the `end` closing body[i], and of its `else` (or None)."""
    depth, els = 0, None
    for j in range(i, len(body)):
        n = body[j].op.name
        if n in ("block", "loop", "if"):
            depth += 1
        elif n == "else" and depth == 1:
            els = j
        elif n == "end":
            depth -= 1
            if depth == 0:
                return j, els
    return None, None


def _targets(body, i, end) -> bool:
    """Whether a branch inside body[i+1:end] targets the block opened at i."""
    depth = 0
    for ins in body[i + 1:end]:
        n = ins.op.name
        if n in ("block", "loop", "if"):
            depth += 1
        elif n == "end":
            depth -= 1
        elif n in ("br", "br_if") and ins.imm == depth:
            return True
        elif n == "br_table" and depth in tuple(ins.imm[0]) + (ins.imm[1],):
            return True
    return False


def _shift_labels(instrs) -> list:
    """Labels that reached past the removed block now need one level less."""
    out, depth = [], 0
    for ins in instrs:
        n = ins.op.name
        if n in ("block", "loop", "if"):
            depth += 1
        elif n == "end":
            depth -= 1
        if n in ("br", "br_if") and ins.imm > depth:
            ins = Instr(ins.op, ins.imm - 1)
        elif n == "br_table":
            ts, d = ins.imm
            f = (lambda x: x - 1 if x > depth else x)
            ins = Instr(ins.op, (tuple(f(x) for x in ts), f(d)))
        out.append(ins)
    return out


class BlockResults(BodyReducer):
    """A block, loop or `if` whose last results are dropped right after its `end` (all of
    them, or the top ones), and that no branch targets: those results go (its type keeps the
    parameters and the other results, a type added if the module has none such), the drops
    after it go, and each arm that can fall through drops them at its end instead.  The block
    stays (a bug at a block's entry or merge keeps its block); the drops left inside are then
    cut as dead code or as spans.  Also the first of several results, when each arm pushes it
    with one instruction and nothing after the block reads it (`bottom_result`)."""

    name = "block results"

    def candidates(self, state, k, body):
        """Each proposal brings the module's types with it (a block type may be added)."""
        m = state.module
        for new, types in itertools.chain(self.proposals(m, body),
                                          self.bottom_result(m, k, body)):
            yield with_body(State(dataclasses.replace(m, types=types), state.plan), k, new)

    @staticmethod
    def proposals(m, body):
        from winch.wasm.types import FuncType

        for i, ins in enumerate(body):
            if ins.op.name not in ("block", "loop", "if"):
                continue
            params, results = block_sig(m, ins.imm)
            end, els = _match(body, i)
            if not results or end is None or _targets(body, i, end) or \
                    ins.op.name == "if" and els is None:
                continue
            n = 0  # how many of the top results are dropped right after `end`
            while n < len(results) and end + 1 + n < len(body) - 1 and \
                    body[end + 1 + n].op.name == "drop":
                n += 1
            if not n:
                continue
            keep = tuple(results[:len(results) - n])
            types = tuple(m.types)
            if not params and not keep:
                bt = -64
            elif not params and len(keep) == 1:
                bt = keep[0] - 128
            else:
                want = FuncType(tuple(params), keep)
                if want not in types:
                    types += (want,)
                bt = types.index(want)
            arm_ends = [x for x in (els, end) if x is not None]
            new = []
            for x, y in enumerate(body[:end + 1]):
                if x in arm_ends and body[x - 1].op.name not in _TRANSFERS:
                    new += [Instr(BY_NAME["drop"])] * n
                new.append(Instr(y.op, bt) if x == i else y)
            yield new + body[end + 1 + n:], types

    @staticmethod
    def bottom_result(m, k, body):
        """The first result of a block with several, where each arm pushes it with one
        instruction (a constant, `local.get`, ...) that nothing above touches: the result and
        those instructions go.  Valid only if nothing after the block reads it (e.g. a
        transfer comes first): the validator decides."""
        from winch.wasm.types import FuncType

        stacks = stack_before(m, k, body)
        for i, ins in enumerate(body):
            if ins.op.name not in ("block", "loop", "if"):
                continue
            params, results = block_sig(m, ins.imm)
            end, els = _match(body, i)
            if len(results) < 2 or end is None or _targets(body, i, end):
                continue
            starts = [i + 1] + ([els + 1] if els is not None else [])
            ends = ([els] if els is not None else []) + [end]
            cut = []
            for a, b in zip(starts, ends):
                sb = stacks[b] if b < len(stacks) else None
                if sb is None:
                    break
                h = len(sb[1]) - len(results)  # where the first result sits
                j = next((j for j in range(b - 1, a - 1, -1) if stacks[j] is not None and
                          len(stacks[j][1]) <= h), None)
                if j is None or body[j].op.name not in _SOURCES or \
                        len(stacks[j][1]) != h or stacks[j + 1] is None or \
                        len(stacks[j + 1][1]) != h + 1:
                    break
                cut.append(j)
            else:
                want = FuncType(tuple(params), tuple(results[1:]))
                types = tuple(m.types)
                if want not in types:
                    types += (want,)
                new = [Instr(y.op, types.index(want)) if x == i else y
                       for x, y in enumerate(body) if x not in cut]
                yield new, types


_TRANSFERS = ("unreachable", "br", "br_table", "return")


class SimplifyConstants(Reducer):
    """Constants toward 0, 1, -1; `br_table` toward fewer targets."""

    name = "simplify constants"

    def run(self, state, test):
        for gi, g in enumerate(state.module.globals):
            ins = g.init.instrs[0] if len(g.init.instrs) == 1 else None
            if ins is None or not ins.op.name.endswith(".const") or ins.imm == 0:
                continue
            globals_ = list(state.module.globals)
            globals_[gi] = dataclasses.replace(g, init=dataclasses.replace(
                g.init, instrs=(Instr(ins.op, 0),)))
            cand = State(dataclasses.replace(state.module, globals=tuple(globals_)), state.plan)
            if test(cand):
                state = cand
        for k in range(len(state.module.funcs)):
            i = 0
            while i < len(edit.bodies(state.module)[k]):
                body = edit.bodies(state.module)[k]
                ins = body[i]
                cands = []
                if ins.op.name in ("i32.const", "i64.const", "f32.const", "f64.const"):
                    cands = [Instr(ins.op, v) for v in (0, 1, -1) if v != ins.imm and not (
                        ins.op.name[0] == "f" and v == -1)]
                elif ins.op.name == "br_table" and ins.imm[0]:
                    ts, d = ins.imm
                    cands = [Instr(ins.op, ((), d))] + [
                        Instr(ins.op, (ts[:x] + ts[x + 1:], d)) for x in range(len(ts))]
                for c in cands:
                    b2 = list(body)
                    b2[i] = c
                    cand = with_body(state, k, b2)
                    if test(cand):
                        state = cand
                        break
                i += 1
        return state


class ShrinkLimits(Reducer):
    """Memory and table sizes toward their smallest (index type and page size kept: a
    64-bit memory's operators take i64 operands)."""

    name = "shrink limits"

    def run(self, state, test):
        from winch.wasm.types import MemoryType, TableType

        def sized(lim, lo, hi):
            return dataclasses.replace(lim, min=lo, max=hi)

        kinds = (("mems", lambda mt, lim: MemoryType(lim),
                  lambda lim: (sized(lim, 0, 0), sized(lim, 1, 1), sized(lim, lim.min, None),
                               sized(lim, lim.min, lim.min))),
                 ("tables", lambda tt, lim: TableType(tt.elem, lim),
                  lambda lim: (sized(lim, 0, 0), sized(lim, lim.min, None))))
        for field_name, build, options in kinds:
            for i, item in enumerate(getattr(state.module, field_name)):
                for lim in options(item.limits):
                    if lim == item.limits:
                        continue
                    items = list(getattr(state.module, field_name))
                    items[i] = build(item, lim)
                    cand = State(dataclasses.replace(state.module, **{field_name: tuple(items)}),
                                 state.plan)
                    if test(cand):
                        state = cand
                        break
        return state


class DropLocals(Reducer):
    """Local declarations no instruction uses."""

    name = "drop locals"

    def run(self, state, test):
        for k in range(len(state.module.funcs)):
            m = state.module
            f = m.funcs[k]
            if not f.locals:
                continue
            body = edit.bodies(m)[k]
            n_params = len(m.types[f.type_index].params)
            used = max([ins.imm for ins in body if ins.op.name.startswith("local.")] or [-1])
            keep, total = [], n_params
            for count, t in f.locals:
                if total >= used + 1:
                    break
                take = min(count, used + 1 - total)
                keep.append((take, t))
                total += take
            if tuple(keep) != tuple(f.locals):
                funcs = list(m.funcs)
                funcs[k] = dataclasses.replace(f, locals=tuple(keep), instrs=tuple(body))
                cand = State(dataclasses.replace(m, funcs=tuple(funcs)), state.plan)
                if test(cand):
                    state = cand
        return state


def _unary(op) -> bool:
    return op.has_sig and len(op.params) == 1 and len(op.results) == 1 and \
        op.params[0] in CONST_OP and op.results[0] in CONST_OP


def _single_ops() -> dict:
    """(param type, result type) -> the one-operand numeric operators of that signature."""
    from winch.wasm.opcodes import OPS

    out: dict = {}
    for o in OPS:
        if _unary(o) and o.feature in ("mvp", "sign-extension", "nontrapping-float-to-int"):
            out.setdefault((o.params[0], o.results[0]), []).append(o)
    return out


class ShortenChains(BodyReducer):
    """A run of one-operand operators (a conversion chain, say i64 -> f64 -> i32) replaced by
    one operator of the run's overall signature, or by nothing if it ends where it began."""

    name = "shorten chains"

    def proposals(self, m, k, body):
        singles = _single_ops()
        for i, j in self.subruns(body):
            a, b = body[i].op.params[0], body[j - 1].op.results[0]
            repls = [[Instr(o)] for o in singles.get((a, b), ())]
            for repl in ([[]] + repls if a == b else repls):
                yield body[:i] + repl + body[j:]

    @staticmethod
    def subruns(body) -> list:
        """(i, j): spans of at least two one-operand operators, longest first."""
        out, i = [], 0
        while i < len(body):
            j = i
            while j < len(body) and _unary(body[j].op):
                j += 1
            out += [(a, b) for a in range(i, j) for b in range(a + 2, j + 1)]
            i = j + 1
        return sorted(out, key=lambda r: (r[0] - r[1], r[0]))


class DropResults(Reducer):
    """A function nothing calls indirectly or by reference, with its results (and the code
    computing them at the end of the body) removed, its calls dropping nothing."""

    name = "drop results"

    def run(self, state, test):
        from winch.wasm.types import FuncType

        k = 0
        while k < len(state.module.funcs):
            m = state.module
            f = m.funcs[k]
            ft = m.types[f.type_index]
            fidx = len(m.func_types) - len(m.funcs) + k
            body = edit.bodies(m)[k]
            if not ft.results or _referenced_indirectly(m, fidx) or any(
                    i.op.name == "call" and i.imm == fidx for b in edit.bodies(m) for i in b):
                k += 1
                continue
            stacks = stack_before(m, k, body)
            cut = max((i for i, s in enumerate(stacks) if s is not None and s[0] == 1 and
                       s[1] == ()), default=None)
            new_ft = FuncType(tuple(ft.params), ())
            types = list(m.types)
            if new_ft not in types:
                types.append(new_ft)
            if cut is not None:
                funcs = list(m.funcs)
                funcs[k] = dataclasses.replace(f, type_index=types.index(new_ft),
                                               instrs=tuple(body[:cut]) + (END,))
                cand = State(dataclasses.replace(m, types=tuple(types), funcs=tuple(funcs)),
                             state.plan)
                if test(cand):
                    state = cand
            k += 1
        return state


class DropParams(Reducer):
    """A parameter the body never reads: removed from the function's type, the local indices
    above it renumbered, and its argument dropped from the plan's calls and, for the last
    parameter of a function called directly, by a `drop` before each `call` (the later
    passes then remove the argument's code).  Not for functions reachable indirectly."""

    name = "drop params"

    def run(self, state, test):
        from oracle.plan import Call
        from winch.wasm.module import EXT_FUNC
        from winch.wasm.types import FuncType

        drop = Instr(BY_NAME["drop"])
        k = 0
        while k < len(state.module.funcs):
            m = state.module
            f = m.funcs[k]
            ft = m.types[f.type_index]
            fidx = len(m.func_types) - len(m.funcs) + k
            bodies = edit.bodies(m)
            direct = any(i.op.name == "call" and i.imm == fidx for b in bodies for i in b)
            names = {e.name for e in m.exports if e.kind == EXT_FUNC and e.index == fidx}
            used = {i.imm for i in bodies[k] if i.op.name.startswith("local.")}
            changed = False
            for p in reversed(range(len(ft.params))):
                if _referenced_indirectly(m, fidx) or p in used or \
                        (direct and p != len(ft.params) - 1):
                    continue
                new_ft = FuncType(ft.params[:p] + ft.params[p + 1:], tuple(ft.results))
                types = list(m.types)
                if new_ft not in types:
                    types.append(new_ft)
                new_bodies = list(bodies)
                new_bodies[k] = [Instr(i.op, i.imm - 1) if i.op.name.startswith("local.")
                                 and i.imm > p else i for i in bodies[k]]
                if direct:
                    new_bodies = [[x for i in b for x in ((drop, i) if i.op.name == "call"
                                                          and i.imm == fidx else (i,))]
                                  for b in new_bodies]
                m2 = edit.with_bodies(m, new_bodies)
                funcs = list(m2.funcs)
                funcs[k] = dataclasses.replace(funcs[k], type_index=types.index(new_ft))
                calls = [Call(c.export, c.args[:p] + c.args[p + 1:]) if c.export in names
                         else c for c in state.plan.calls]
                m2 = dataclasses.replace(m2, types=tuple(types), funcs=tuple(funcs))
                m2 = edit.remove(m2, "type", f.type_index) or m2  # if nothing else uses it
                cand = State(m2, Plan(calls))
                if test(cand):
                    state, changed = cand, True
                    break
            if not changed:
                k += 1
        return state


def _referenced_indirectly(m: Module, fidx: int) -> bool:
    if any(e.funcs is not None and fidx in e.funcs for e in m.elems):
        return True
    if any(e.exprs for e in m.elems) or m.start == fidx:
        return True
    return any(i.op.name == "ref.func" and i.imm == fidx for b in edit.bodies(m) for i in b)


DEFAULT_PASSES = (DropCalls(), DropExports(), DropCustoms(), DirectCalls(), ExportCallee(),
                  ReplaceBodies(),
                  RemoveItems(), CutDeadCode(),
                  UnwrapBlocks(), BlockResults(),
                  CutSpans(), ReplaceSubtrees(), RemoveTrees(), RemoveValueChains(),
                  RemoveDroppedCalls(),
                  DropSpans(),
                  ShortenChains(),
                  DdminBodies(),
                  DropResults(), DropParams(),
                  SimplifyConstants(), DropLocals(), ShrinkLimits())
