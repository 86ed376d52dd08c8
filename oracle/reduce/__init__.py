"""`oracle reduce`: shrink a finding to a module a person can read.

    result = reduce_module(wasm, plan, predicate, max_seconds=60)

A fixpoint over the passes of `oracle.reduce.passes` (each a small `Reducer` class), all
sharing one cached predicate.  Deterministic for a given input and predicate, unless the
time budget cuts it short; the best candidate so far is returned then.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass

from oracle.plan import Plan
from oracle.reduce.passes import DEFAULT_PASSES, State, instruction_count
from oracle.reduce.predicate import Cached
from winch.wasm.encoder import encode_module
from winch.wasm.reader import decode_module

__all__ = ["ReduceResult", "reduce_module", "NotInteresting"]


class NotInteresting(Exception):
    """The input does not satisfy the predicate (or an empty module does)."""


class _OutOfTime(Exception):
    pass


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

    def summary(self) -> str:
        return (f"instructions {self.instrs_before} -> {self.instrs_after}, bytes "
                f"{self.bytes_before} -> {self.bytes_after}, {self.predicate_calls} predicate "
                f"calls, {self.seconds:.1f}s" + (" (time budget reached)" if self.timed_out
                                                  else ""))


def _plain(m):
    """The module without its crash-file section (the plan travels separately) and without
    the memory of which sections it had: the encoder then writes no empty sections."""
    return dataclasses.replace(m, customs=tuple(c for c in m.customs if c.name != "oracle.plan"),
                               section_order=())


def reduce_module(wasm: bytes, plan: Plan, predicate, *, max_seconds: float = 60.0,
                  passes=DEFAULT_PASSES, progress=None) -> ReduceResult:
    """Reduce (`wasm`, `plan`) while `predicate(wasm, plan)` holds.  `progress`: a callable
    taking a status line (e.g. a terminal progress bar), or None."""
    t0 = time.monotonic()
    deadline = t0 + max_seconds
    pred = predicate if isinstance(predicate, Cached) else Cached(predicate)
    start = State(_plain(decode_module(wasm)), plan)
    start_bytes = encode_module(start.module)
    if not pred(start_bytes, plan):
        raise NotInteresting("the input is not interesting: the predicate does not hold for it")
    from winch.wasm.module import Module

    if pred(encode_module(Module()), Plan()):
        raise NotInteresting("an empty module is interesting too: the predicate does not "
                             "depend on the module")
    best = {"state": start, "size": (instruction_count(start.module), len(start_bytes))}
    current_pass = {"name": "start"}

    def test(state: State) -> bool:
        if time.monotonic() > deadline:
            raise _OutOfTime
        data = encode_module(state.module)
        ok = pred(data, state.plan)
        if ok:
            size = (instruction_count(state.module), len(data))
            if size < best["size"]:
                best["state"], best["size"] = state, size
        if progress is not None:
            progress(f"{current_pass['name']:<18} {best['size'][0]:>5} instrs "
                     f"{best['size'][1]:>6} bytes  {pred.calls:>5} tests "
                     f"{time.monotonic() - t0:6.1f}s")
        return ok

    timed_out = False
    state = start
    try:
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
    except _OutOfTime:
        timed_out = True
        state = best["state"]
    final = encode_module(state.module)
    return ReduceResult(final, state.plan, instruction_count(start.module),
                        instruction_count(state.module), len(start_bytes), len(final),
                        pred.calls, time.monotonic() - t0, timed_out)


def terminal_progress():
    """A progress callable that redraws one line on stderr (at most 10 times a second)."""
    last = [0.0]

    def show(line: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.1:
            last[0] = now
            sys.stderr.write("\r[reduce] " + line)
            sys.stderr.flush()

    return show
