"""Where a function's locals and spilled values live, relative to the frame pointer.

    fp + 16 + 8*i                  argument i (in the caller's outgoing area)
    fp + 16 + 8*(nparams + k - 1)  result k >= 1, written before returning
    fp + 8, fp + 0                 return address and saved frame pointer (per ISA)
    fp - 8                         this function's vmctx, saved (restored after imported calls)
    fp - 8 - 8*(j + 1)             declared (non-parameter) local j, zeroed in the prologue
    below                          one slot per value-stack position
    sp + 8*k                       outgoing argument / result area of calls
"""

from __future__ import annotations

from winch.vmctx import PARAM_BASE

VMCTX_SLOT = -8


class Frame:
    __slots__ = ("nparams", "nlocals", "_slot_base", "local_types", "local_offsets")

    def __init__(self, param_types, local_types):
        self.nparams = len(param_types)
        self.local_types = tuple(param_types) + tuple(local_types)
        self.nlocals = len(local_types)
        self._slot_base = -8 - 8 * self.nlocals
        # local(i) for every local, computed once: arguments, then declared locals
        self.local_offsets = (tuple(range(PARAM_BASE, PARAM_BASE + 8 * self.nparams, 8))
                              + tuple(range(-16, -16 - 8 * self.nlocals, -8)))

    def local(self, i: int) -> int:
        if i < self.nparams:
            return PARAM_BASE + 8 * i
        return -8 - 8 * (i - self.nparams + 1)

    def slot(self, pos: int) -> int:
        return self._slot_base - 8 * (pos + 1)

    def result_slot(self, k: int) -> int:
        """Where result k >= 1 is returned (in the caller's outgoing area)."""
        return PARAM_BASE + 8 * (self.nparams + k - 1)

    def size(self, max_depth: int, max_out: int) -> int:
        raw = 8 + 8 * self.nlocals + 8 * max_depth + 8 * max_out
        return (raw + 15) & ~15
