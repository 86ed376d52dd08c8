"""`oracle reduce`: shrink a finding to a module a person can read.

    result = reduce_module(wasm, plan, predicate, max_seconds=60)

First the plan: the call that shows the finding alone (the crash file's exact signature names
it), else the plan without the calls that run out of their work bound (real programs given
edge-value arguments loop 2^63 times: each such call costs seconds on every engine).  Then a
fixpoint over the passes of `oracle.reduce.passes` (each a small `Reducer` class), all sharing
one cached predicate.  Deterministic for a given input and predicate, unless the time budget
cuts it short; the best candidate so far is returned then.  `max_seconds` bounds the whole
reduction: it is checked before every predicate call and handed to the predicate (its
`deadline`), which stops inside a long call (see `oracle.reduce.predicate`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from oracle.plan import Plan
from oracle.reduce.base import State, instruction_count
from oracle.reduce.passes import DEFAULT_PASSES
from oracle.reduce.predicate import Cached, OutOfTime
from winch.wasm.encoder import encode_module
from winch.wasm.reader import decode_module

__all__ = ["ReduceResult", "reduce_module", "NotInteresting"]


class NotInteresting(Exception):
    """The input does not satisfy the predicate (or an empty module does)."""


@dataclass
class ReduceResult:
    wasm: bytes
    plan: Plan
    instrs_before: int
    instrs_after: int
    bytes_before: int
    bytes_after: int
    predicate_calls: int
    seconds: float
    timed_out: bool
    calls_before: int = 0
    calls_after: int = 0
    confirmed: bool = True  # False: the time ran out before the input was shown interesting

    @property
    def reduced(self) -> bool:
        """Whether the result is smaller than the input: fewer instructions, or as many and
        fewer bytes, or the same module with fewer calls in its plan."""
        return (self.instrs_after, self.bytes_after, self.calls_after) < (
            self.instrs_before, self.bytes_before, self.calls_before)

    def summary(self) -> str:
        return (f"instructions {self.instrs_before} -> {self.instrs_after}, bytes "
                f"{self.bytes_before} -> {self.bytes_after}, calls {self.calls_before} -> "
                f"{self.calls_after}, {self.predicate_calls} predicate calls, "
                f"{self.seconds:.1f}s" + (" (time budget reached)" if self.timed_out else ""))

    def why_not(self, max_seconds: float) -> str:
        """Why nothing was removed, for a result that is not `reduced`."""
        calls = f"{self.predicate_calls} predicate call" + "s" * (self.predicate_calls != 1)
        if not self.confirmed:
            return (f"the time bound ({max_seconds:g} s) was reached before the input was "
                    f"shown to reproduce the finding ({calls})")
        if self.timed_out:
            return f"the time bound ({max_seconds:g} s) was reached before any progress ({calls})"
        return f"no candidate smaller than the input reproduces the finding ({calls})"


def _plain(m):
    """The module without its crash-file section (the plan travels separately) and without
    the memory of which sections it had: the encoder then writes no empty sections."""
    return dataclasses.replace(m, customs=tuple(c for c in m.customs if c.name != "oracle.plan"),
                               section_order=())


def focus_plan(start: State, test, predicate) -> State:
    """The first of these plans that keeps the finding: the call the predicate says shows it
    (`predicate.finding_call(plan)`), alone; the calls up to it (all calls if unknown)
    without those that run out of budget (`predicate.out_of_budget(wasm, plan)`, asked only
    if the first fails); the calls up to it; the whole plan.  Raises NotInteresting if none
    does."""
    calls = list(start.plan.calls)
    finding_call = getattr(predicate, "finding_call", None)
    i = finding_call(start.plan) if finding_call else None
    upto = calls if i is None else calls[:i + 1]

    def plans():
        if i is not None:
            yield [calls[i]]
        probe = getattr(predicate, "out_of_budget", None)
        if probe is not None and len(upto) > 1:
            slow = set(probe(encode_module(start.module), Plan(upto)))
            yield [c for n, c in enumerate(upto) if n not in slow]
        yield upto
        yield calls

    tried = []
    for cs in plans():
        if cs in tried or not cs and calls:
            continue
        tried.append(cs)
        state = State(start.module, Plan(cs))
        if test(state):
            return _drop_slow_calls(state, test, predicate)
    raise NotInteresting("the input is not interesting: the predicate does not hold for it")


def _drop_slow_calls(state: State, test, predicate) -> State:
    """Drop the calls that the predicate's last (successful) run saw run out of budget on
    some engine (the probe asked only the reference engine)."""
    last = getattr(predicate, "last", None)
    slow = set(getattr(last, "out_of_budget", ()))
    keep = [c for n, c in enumerate(state.plan.calls) if n not in slow]
    if slow and keep and len(keep) < len(state.plan.calls):
        cand = State(state.module, Plan(keep))
        if test(cand):
            return cand
    return state


def reduce_module(wasm: bytes, plan: Plan, predicate, *, max_seconds: float = 60.0,
                  passes=DEFAULT_PASSES, progress=None) -> ReduceResult:
    """Reduce (`wasm`, `plan`) while `predicate(wasm, plan)` holds.  `progress`: a callable
    taking a status line (e.g. a terminal progress bar), or None.  Raises NotInteresting if
    the input does not satisfy the predicate; a result whose `confirmed` is False if the
    time ran out before that was known."""
    t0 = time.monotonic()
    deadline = t0 + max_seconds
    pred = predicate if isinstance(predicate, Cached) else Cached(predicate)
    inner = pred.predicate
    if hasattr(inner, "deadline"):
        inner.deadline = deadline
    start = State(_plain(decode_module(wasm)), plan)
    start_bytes = encode_module(start.module)
    best = {"state": start, "size": (instruction_count(start.module), len(start_bytes),
                                     len(plan.calls))}
    current_pass = {"name": "focus calls"}

    def test(state: State) -> bool:
        if time.monotonic() > deadline:
            raise OutOfTime
        data = encode_module(state.module)
        ok = pred(data, state.plan)
        if ok:
            size = (instruction_count(state.module), len(data), len(state.plan.calls))
            if size < best["size"]:
                best["state"], best["size"] = state, size
        if progress is not None:
            progress(f"{current_pass['name']:<18} {best['size'][0]:>5} instrs "
                     f"{best['size'][1]:>6} bytes  {pred.calls:>5} tests "
                     f"{time.monotonic() - t0:6.1f}s")
        return ok

    timed_out, confirmed = False, False
    state = start
    try:
        state = focus_plan(start, test, inner)
        confirmed = True
        from winch.wasm.module import Module

        if pred(encode_module(Module()), Plan()):
            raise NotInteresting("an empty module is interesting too: the predicate does not "
                                 "depend on the module")
        while True:
            before = (instruction_count(state.module), len(encode_module(state.module)),
                      len(state.plan.calls))
            for p in passes:
                current_pass["name"] = p.name
                state = p.run(state, test)
            after = (instruction_count(state.module), len(encode_module(state.module)),
                     len(state.plan.calls))
            if after >= before:
                break
    except OutOfTime:
        timed_out = True
    state = best["state"]  # the smallest that passed (the last pass may end on a bigger one)
    final = encode_module(state.module)
    return ReduceResult(final, state.plan, instruction_count(start.module),
                        instruction_count(state.module), len(start_bytes), len(final),
                        pred.calls, time.monotonic() - t0, timed_out, len(plan.calls),
                        len(state.plan.calls), confirmed)
