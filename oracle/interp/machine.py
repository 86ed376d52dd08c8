"""The interpreter's loop: calls, returns and the dispatch of pre-decoded code (spec 4.4.10
"Function Calls" and 4.4.8 "Control Instructions").

Algorithm: one loop per top-level call, with an explicit stack of suspended frames (no
Python recursion, so Wasm call depth is bounded by `MAX_DEPTH`, not by Python's stack).  A
frame is `(code, pc, s, nresults, func)`; `s` holds the locals then the operand stack.  Each
step fetches `(handler, imm)`, calls `handler(s, imm)` and looks at what it returned
(ops.py): None (next), a code index (jump), RETURN, or a `Func` to call.  A call moves the
arguments off the caller's `s` into the callee's new `s`; a return appends the callee's
top `nresults` values to the caller's `s`.

`call_traced` is the same loop with a `Step` before every instruction of every frame (the
traced flavour of the code, predecode.py) and a bound on their number.

Bounds: `MAX_DEPTH` frames or `MAX_SLOTS` locals in all frames (beyond: the trap
`call_stack_exhausted`, as an engine's stack overflow); the store's `Clock`, checked on
calls and backward branches, ends a call that runs past its time budget (`OutOfBudget`:
inconclusive, not a trap).
"""

from __future__ import annotations

import time

from oracle.interp.errors import OutOfBudget, WasmTrap
from oracle.interp.predecode import local_types, predecode
from winch.traps import TrapKind
from winch.wasm.types import EXTERNREF, FUNCREF

MAX_DEPTH = 20_000
# ... and at most this many locals (plus FRAME_EXTRA per frame) in all frames together, so
# that deep recursion with big frames ends before it takes gigabytes (an engine's stack
# is bounded in bytes, not frames)
MAX_SLOTS = 1 << 21
FRAME_EXTRA = 16
CHECK_EVERY = 10_000  # clock ticks (calls, backward branches) between two reads of the time
REF_TYPES = (FUNCREF, EXTERNREF)


class Clock:
    """The time budget of one top-level call, in seconds of wall-clock time."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.n = CHECK_EVERY
        self.deadline = float("inf")

    def start(self) -> None:
        self.deadline = time.monotonic() + self.seconds
        self.n = CHECK_EVERY

    def check(self) -> None:
        self.n = CHECK_EVERY
        if time.monotonic() > self.deadline:
            raise OutOfBudget(f"time budget of {self.seconds:g} s exhausted")


def _zero(t):
    return None if t in REF_TYPES else 0


def prepare(fn, clock):
    """Pre-decode `fn` (once): its plain code, offsets and initial declared locals."""
    code, offsets, _ = predecode(fn, clock)
    fn.zeros = [_zero(t) for t in local_types(fn)[fn.nparams:]]
    fn.cost = fn.nparams + len(fn.zeros) + FRAME_EXTRA
    fn.offsets = offsets
    fn.code = code
    return code


def call_host(fn, args: list) -> list:
    res = fn.host(*args)
    return list(res) if res else []


def call(fn, args: list, clock) -> list:
    """Run `fn` on `args` (values in the interpreter's representation) to its results."""
    if fn.host is not None:
        return call_host(fn, args)
    frames = []
    code = fn.code or prepare(fn, clock)
    s = list(args)
    s += fn.zeros
    pc = 0
    nres = fn.nresults
    cur = fn
    used = fn.cost
    try:
        while True:
            h, imm = code[pc]
            pc += 1
            r = h(s, imm)
            if r is None:
                continue
            if r.__class__ is int:
                if r >= 0:
                    pc = r
                    continue
                res = s[len(s) - nres:] if nres else []
                if not frames:
                    return res
                used -= cur.cost
                code, pc, s, nres, cur = frames.pop()
                s += res
                continue
            n = r.nparams  # a call
            if n:
                a = s[len(s) - n:]
                del s[len(s) - n:]
            else:
                a = []
            if r.host is not None:
                s += call_host(r, a)
                continue
            code_r = r.code or prepare(r, clock)
            used += r.cost
            if len(frames) >= MAX_DEPTH or used > MAX_SLOTS:
                raise WasmTrap(TrapKind.call_stack_exhausted)
            clock.n -= 1
            if clock.n < 0:
                clock.check()
            frames.append((code, pc, s, nres, cur))
            cur = r
            code = code_r
            a += r.zeros
            s = a
            pc = 0
            nres = r.nresults
    except WasmTrap as t:
        if t.func < 0 and cur.offsets is not None:
            t.func, t.offset = cur.index, cur.offsets[pc - 1]
        raise


# -- traced runs --------------------------------------------------------------------------------
def prepare_traced(fn, clock, tracer):
    if fn.traced is None:
        if fn.zeros is None:
            prepare(fn, clock)
        code, offsets, types = predecode(fn, clock, tracer)
        fn.traced = (code, offsets, types, tuple(local_types(fn)))
    return fn.traced


def observed(types, values) -> tuple:
    """((type, bits), ...) as a Step shows them: references as None, or 0 when null."""
    return tuple((t, (0 if v is None else None) if t in REF_TYPES else v)
                 for t, v in zip(types, values))


def call_traced(fn, args: list, clock, tracer, on_step, limit: int) -> list:
    """`call`, calling `on_step(Step)` before each instruction (callees included) and
    raising OutOfBudget after `limit` steps."""
    from winch.debuginfo import Step

    if fn.host is not None:
        return call_host(fn, args)
    frames = []
    code, offsets, types, ltypes = prepare_traced(fn, clock, tracer)
    s = list(args) + fn.zeros
    pc = 0
    nres = fn.nresults
    cur = fn
    used = fn.cost
    steps = 0
    try:
        while True:
            if steps >= limit:
                raise OutOfBudget(f"step limit of {limit} reached")
            steps += 1
            nl = len(ltypes)
            st = types[pc]
            if len(s) - nl != len(st):  # pragma: no cover - a pre-decoder bug
                raise AssertionError(f"interp: stack height {len(s) - nl} at {offsets[pc]:#x}"
                                     f" but {len(st)} types")
            on_step(Step(cur.index, offsets[pc], observed(st, s[nl:]), observed(ltypes, s[:nl])))
            h, imm = code[pc]
            pc += 1
            r = h(s, imm)
            if r is None:
                continue
            if r.__class__ is int:
                if r >= 0:
                    pc = r
                    continue
                res = s[len(s) - nres:] if nres else []
                if not frames:
                    return res
                used -= cur.cost
                code, offsets, types, ltypes, pc, s, nres, cur = frames.pop()
                s += res
                continue
            n = r.nparams
            if n:
                a = s[len(s) - n:]
                del s[len(s) - n:]
            else:
                a = []
            if r.host is not None:
                s += call_host(r, a)
                continue
            traced = prepare_traced(r, clock, tracer)
            used += r.cost
            if len(frames) >= MAX_DEPTH or used > MAX_SLOTS:
                raise WasmTrap(TrapKind.call_stack_exhausted)
            clock.n -= 1
            if clock.n < 0:
                clock.check()
            frames.append((code, offsets, types, ltypes, pc, s, nres, cur))
            cur = r
            code, offsets, types, ltypes = traced
            s = a + r.zeros
            pc = 0
            nres = r.nresults
    except WasmTrap as t:
        if t.func < 0:
            t.func, t.offset = cur.index, offsets[pc - 1]
        raise
