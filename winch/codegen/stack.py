"""The lazy value stack and the on-demand register allocator.

Entries are tuples `(kind, type, x)`:

    (CONST, t, bits)    a constant, no code emitted yet
    (REG,   t, reg)     the value is in a register this entry owns
    (LOCAL, t, index)   the current value of a local, not yet read
    (MEM,   t, pos)     spilled to the slot of stack position `pos` (always its own position)

Every stack position has a fixed frame slot, so a spilled value never moves and control-flow
merges agree on where values live: at block entry everything is spilled (MEM), branch
targets expect their values in the slots of their positions.
"""

from __future__ import annotations

from winch.wasm.types import F32, F64

CONST, REG, LOCAL, MEM = 0, 1, 2, 3

FLOAT_TYPES = (F32, F64)


class ValueStack:
    """Value stack + register allocator.  `masm` does the moves, `frame` knows the slots."""

    def __init__(self, masm, frame):
        self.masm = masm
        self.frame = frame
        self.items: list = []
        self.free_gpr = list(masm.GPRS)  # allocation order
        self.free_fpr = list(masm.FPRS)
        self.fpr_set = masm.FPR_SET
        self.local_off = frame.local_offsets  # frame offset of each local, by index
        self.max_depth = 0

    # -- registers -------------------------------------------------------------------------
    def alloc(self, is_float: bool, avoid=()) -> int:
        free = self.free_fpr if is_float else self.free_gpr
        if not avoid and free:
            return free.pop(0)  # the first free register in allocation order
        for r in free:
            if r not in avoid:
                free.remove(r)
                return r
        self.spill_oldest(is_float, avoid)
        return self.alloc(is_float, avoid)

    def free(self, reg: int) -> None:
        if reg in self.fpr_set:
            self.free_fpr.append(reg)
        else:
            self.free_gpr.append(reg)

    def take(self, reg: int) -> None:
        """Make `reg` free (moving whatever holds it) and allocate it."""
        is_float = reg in self.masm.FPR_SET
        free = self.free_fpr if is_float else self.free_gpr
        if reg not in free:
            items = self.items
            for i, e in enumerate(items):
                if e[0] == REG and e[2] == reg:
                    other = None
                    for r in free:
                        other = r
                        break
                    if other is not None:
                        free.remove(other)
                        self.masm.mov_rr(8, other, reg) if not is_float else \
                            self.masm.fmov_rr(other, reg)
                        items[i] = (REG, e[1], other)
                    else:
                        self._spill_at(i)
                        free.remove(reg)  # _spill_at freed it
                    break
            else:
                raise AssertionError(f"register {reg} neither free nor on the stack")
            if reg in free:
                free.remove(reg)
            return
        free.remove(reg)

    def spill_oldest(self, is_float: bool, avoid=()) -> None:
        fset = self.masm.FPR_SET
        for i, e in enumerate(self.items):
            if e[0] == REG and (e[2] in fset) == is_float and e[2] not in avoid:
                self._spill_at(i)
                return
        raise AssertionError("no register to spill")

    def _spill_at(self, i: int) -> None:
        kind, t, x = self.items[i]
        off = self.frame.slot(i)
        if kind == REG:
            self.masm.store_slot(t, off, x)
            self.free(x)
        elif kind == CONST:
            self.masm.store_slot_imm(t, off, x)
        elif kind == LOCAL:
            self.masm.copy_slot(t, off, self.local_off[x])
        self.items[i] = (MEM, t, i)

    # -- pushing and popping ----------------------------------------------------------------
    def push(self, e) -> None:
        items = self.items
        items.append(e)
        if len(items) > self.max_depth:
            self.max_depth = len(items)

    def pop(self):
        return self.items.pop()

    def pop_reg(self, avoid=()) -> tuple:
        """Pop the top value into a register the caller now owns: (type, reg)."""
        e = self.items.pop()
        kind, t, x = e
        if kind == REG and x not in avoid:
            return t, x
        if kind == LOCAL and not avoid:  # the most frequent operand: load() inlined
            free = self.free_fpr if t in FLOAT_TYPES else self.free_gpr
            if free:
                r = free.pop(0)  # alloc(): the first free register in allocation order
                self.masm.load_slot(t, r, self.local_off[x])
                return t, r
        return t, self.load(e, len(self.items), avoid)

    def load(self, e, pos: int, avoid=()) -> int:
        """Materialize entry `e` (which was at stack position `pos`) into a new register."""
        kind, t, x = e
        is_float = t in FLOAT_TYPES
        r = self.alloc(is_float, avoid)
        m = self.masm
        if kind == CONST:
            if is_float:
                m.fconst(t, r, x)
            else:
                m.mov_ri(8 if t != 0x7F else 4, r, x)
        elif kind == LOCAL:
            m.load_slot(t, r, self.local_off[x])
        elif kind == MEM:
            m.load_slot(t, r, self.frame.slot(x))
        else:  # REG in `avoid`
            if is_float:
                m.fmov_rr(r, x)
            else:
                m.mov_rr(8, r, x)
            self.free(x)
        return r

    def pop_into(self, reg: int) -> int:
        """Pop the top value into the specific register `reg` (which must already be taken)."""
        e = self.items.pop()
        kind, t, x = e
        m = self.masm
        if kind == REG:
            if x != reg:
                m.fmov_rr(reg, x) if t in FLOAT_TYPES else m.mov_rr(8, reg, x)
                self.free(x)
        elif kind == CONST:
            m.fconst(t, reg, x) if t in FLOAT_TYPES else m.mov_ri(4 if t == 0x7F else 8, reg, x)
        elif kind == LOCAL:
            m.load_slot(t, reg, self.local_off[x])
        else:
            m.load_slot(t, reg, self.frame.slot(x))
        return t

    # -- bulk operations -------------------------------------------------------------------------
    def spill_all(self) -> None:
        """Every entry to its slot (control-flow merge points)."""
        items = self.items
        for i, e in enumerate(items):
            if e[0] != MEM:
                self._spill_at(i)

    def spill_regs(self) -> None:
        """Every register entry to its slot (calls clobber all allocatable registers)."""
        items = self.items
        for i, e in enumerate(items):
            if e[0] == REG:
                self._spill_at(i)

    def materialize_local(self, index: int) -> None:
        """Before `local.set index`: entries still reading the local take its current value."""
        items = self.items
        if (LOCAL, self.frame.local_types[index], index) not in items:  # a C-level scan first
            return
        for i, e in enumerate(items):
            if e[0] == LOCAL and e[2] == index:
                self._spill_at(i)

    def truncate(self, height: int) -> None:
        items = self.items
        while len(items) > height:
            e = items.pop()
            if e[0] == REG:
                self.free(e[2])

    def store_entry_to_slot(self, e, off: int) -> None:
        """Emit a store of entry `e` into the frame slot at `off` without changing the stack."""
        kind, t, x = e
        m = self.masm
        if kind == REG:
            m.store_slot(t, off, x)
        elif kind == CONST:
            m.store_slot_imm(t, off, x)
        elif kind == LOCAL:
            m.copy_slot(t, off, self.local_off[x])
        else:
            src = self.frame.slot(x)
            if src != off:
                m.copy_slot(t, off, src)
