"""Operand trees of a function body, and the reduction pass that removes them whole.

A stack machine's body is a forest written in postorder: every instruction consumes the
values its operands' instructions pushed.  Those instructions need not be contiguous: a
statement (`global.set`, a store, a call without results) may sit between two operands of
`memory.fill` and leave the stack as it found it.  `operand_trees` recovers, for each
instruction, the set of indices that make up its tree: the instruction itself and,
transitively, the producers of every value it consumes.  A block counts as one instruction
that consumes its parameters and pushes its results.

Removing a whole tree that pushes nothing keeps the stack discipline of everything else: each
remaining instruction still finds its own operands on top.  Replacing a tree that pushes one
value by a constant of its type at the tree's root does the same.
"""

from __future__ import annotations

from oracle.reduce.base import BodyReducer, label_arity, typed_const
from oracle.reduce.stack_types import (_effect, block_sig, global_types, local_types,
                                       stack_before)
_OPEN = ("block", "loop", "if")
_TRANSFER = ("br", "br_table", "return", "unreachable")


def operand_trees(m, k: int, body, stacks) -> list:
    """Per index of `body` (function k's instructions, `stacks` from `stack_before`): the
    frozenset of indices of the tree rooted there, or None where it is not known (values
    from a block's parameters, after an unconditional branch, multi-value producers)."""
    locs, globs, ftypes = local_types(m, k), global_types(m), m.func_types
    trees: list = [None] * len(body)
    vals: list | None = []  # per value on the current block's stack: its tree, or None
    frames: list = []  # (opening index, the enclosing block's values)
    for j, ins in enumerate(body):
        name = ins.op.name
        if name in _OPEN:
            params, _ = block_sig(m, ins.imm)
            frames.append((j, vals))
            vals = [None] * len(params)
            continue
        if name == "else":
            vals = [None] * len(block_sig(m, body[frames[-1][0]].imm)[0]) if frames else None
            continue
        if name == "end":
            if not frames:
                break
            b, outer = frames.pop()
            vals = _close_block(m, body, b, j, outer, trees)
            continue
        st = stacks[j]
        if vals is None or st is None:
            vals = None
            continue
        if name in _TRANSFER:
            vals = None
            continue
        eff = _effect(m, ins, list(st[1]), locs, globs, ftypes)
        if eff is None or eff[0] > len(vals):
            vals = None
            continue
        pops, pushes, _ = eff
        tree = _join(j, vals[len(vals) - pops:] if pops else [])
        del vals[len(vals) - pops:]
        trees[j] = tree
        if name == "br_if":
            n = label_arity(m, k, body, j, ins.imm)
            if n:  # the values the branch would carry are read here too
                vals[len(vals) - n:] = [None] * n
        if len(pushes) == 1:
            vals.append(tree)
        else:
            vals.extend([None] * len(pushes))
    return trees


def _join(root: int, operands):
    if any(t is None for t in operands):
        return None
    out = {root}
    for t in operands:
        out |= t
    return frozenset(out)


def _close_block(m, body, b: int, e: int, outer, trees):
    """The block body[b..e] as one instruction of the enclosing stack `outer`."""
    if outer is None:
        return None
    params, results = block_sig(m, body[b].imm)
    pops = len(params) + (body[b].op.name == "if")
    if pops > len(outer):
        return None
    tree = _join(b, outer[len(outer) - pops:] if pops else [])
    if tree is not None:
        tree = tree | frozenset(range(b, e + 1))
    vals = outer[:len(outer) - pops]
    trees[b] = trees[e] = tree
    if len(results) == 1:
        vals.append(tree)
    else:
        vals.extend([None] * len(results))
    return vals


class RemoveTrees(BodyReducer):
    """Remove a statement together with the trees of its operands, wherever they sit; replace
    a tree that pushes one value (and is not a constant already) by a constant of its type.
    Bigger trees first.  Covers what cutting contiguous spans cannot: operands separated by
    unrelated statements."""

    name = "remove trees"

    def proposals(self, m, k, body):
        stacks = stack_before(m, k, body)
        cands = []
        for j, t in enumerate(operand_trees(m, k, body, stacks)):
            if t is None or body[j].op.name in _OPEN:
                continue  # a block's tree is taken at its `end`
            after = stacks[j + 1] if j + 1 < len(stacks) else None
            before = stacks[min(t)]
            if before is None or after is None or before[0] != after[0]:
                continue
            pushed = after[1][len(before[1]):]
            if after[1][:len(before[1])] != before[1] or len(pushed) > 1:
                continue
            if pushed and len(t) == 1:
                continue  # already a single instruction: other passes simplify it
            cands.append((-len(t), j, t, pushed))
        cands.sort(key=lambda c: (c[0], c[1]))
        for _, j, t, pushed in cands:
            repl = {}
            if pushed:
                c = typed_const(pushed[0])
                if c is None:
                    continue
                repl[j] = c
            yield [repl.get(n, x) for n, x in enumerate(body) if n not in t or n in repl]


__all__ = ["operand_trees", "RemoveTrees"]
