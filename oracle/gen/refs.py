"""Reference types, tables and bulk data in generated bodies: the actions that use them.

Problem: the oracle compares call results, exported globals and memories, not tables, and a
reference cannot be folded into a sink.  So a reference never stays on the type stack: each
action makes the references it needs and consumes them in the same step, and what it learns
becomes an i32 in the ordinary data flow (`ref.is_null` of a `table.get`, of a typed
`select`, `table.size`, `table.grow`'s result), or a trap (indices and lengths drawn near the
table's and the segment's sizes, rarely past them: one index in 128 is out of bounds, one
bulk operation in 128 (`Body.bulk_args`), so most calls run to their end).  A segment's length
here is what `table.init`/`memory.init` see: 0 for active and declarative segments, which
instantiation drops.

Tables (`ModuleBuilder.mutable_tables`): a funcref table and, in half the modules, an
externref table (wasmtime's Winch counts externref as a GC type and declines the module),
never empty, with room to grow; the table `call_indirect` uses (index 0, when present) is
only read and copied from, so what an indirect call reaches stays a function defined after
the caller (no recursion).
Element segments: passive funcref and externref ones (for `table.init`), an active one into
the funcref table, and a declarative one naming every function, so `ref.func` of any
function is valid.  With bulk memory, a passive data segment for `memory.init`.
"""

from __future__ import annotations

from winch.wasm.types import EXTERNREF, FUNCREF, I32, I64

from oracle.gen.body import I32_CONST, PAGE, const_bytes, opb, sleb, uleb

REF_IS_NULL = opb("ref.is_null")
REF_NULL = {FUNCREF: opb("ref.null") + b"\x70", EXTERNREF: opb("ref.null") + b"\x6f"}
REF_FUNC = opb("ref.func")
TABLE_GET, TABLE_SET, TABLE_SIZE, TABLE_GROW, TABLE_FILL = (opb(n) for n in (
    "table.get", "table.set", "table.size", "table.grow", "table.fill"))
TABLE_COPY, TABLE_INIT, ELEM_DROP = opb("table.copy"), opb("table.init"), opb("elem.drop")
MEMORY_INIT, DATA_DROP = opb("memory.init"), opb("data.drop")
SELECT_T = opb("select_t")
EXTEND_U = opb("i64.extend_i32_u")


class RefActions:
    """Body actions for the `reference_types` and `bulk_tables` families and `memory.init`
    / `data.drop` (mixed into the body builder: `oracle.gen.module.Body`)."""

    def _i32(self, v: int) -> None:
        self.out += I32_CONST + sleb(v)

    def _num(self, at: int, v: int) -> None:
        """An index or length of type `at` (I32, or I64 for a 64-bit table): `v`, wrapped."""
        if at == I32:
            self.out += I32_CONST + sleb(v)
        else:
            self.out += const_bytes(I64, v & 0xFFFF_FFFF_FFFF_FFFF)

    def _index(self, size: int, at: int = I32) -> None:
        """An index into something of `size` entries, of type `at`: in bounds near its ends,
        out of bounds (just past the end, or negative; for a 64-bit table also 2^32 more
        than an index in bounds) one time in 128 (a trap ends the call, and a call runs
        many of these), or a local now and then."""
        src = self.src
        if src.chance(32) and self.locs[I32]:
            self.int_operand()
            self.stack.pop()
            if at == I64:
                self.out += EXTEND_U
            return
        if src.chance(128) or not size:
            self._num(at, src.pick((size, size + 1, -1, 1 << 32)) if at == I64 else
                      src.pick((size, size + 1, -1)))
        else:
            self._num(at, src.pick((0, size - 1, 1 % size, max(0, size - 2))))

    def _ref(self, elem: int) -> None:
        """Push (on the wasm stack only) a reference of type `elem`."""
        src, mod = self.src, self.mod
        k = src.int(0, 3)
        if elem == FUNCREF and k >= 2:
            self.out += REF_FUNC + uleb(src.int(0, len(mod.func_types) - 1))
        elif k == 1:
            tables = mod.tables_of[elem]
            t, size = src.pick(tables)
            self._index(size, self.mod.table_at[t])
            self.out += TABLE_GET + uleb(t)
        else:
            self.out += REF_NULL[elem]

    def a_ref_is_null(self):
        self._ref(self.src.pick(self.mod.ref_types))
        self.out += REF_IS_NULL
        self.stack.append(I32)

    def a_select_t(self):
        """A typed `select`: of two references (then `ref.is_null`), or of two numbers."""
        src = self.src
        if src.bool():
            elem = src.pick(self.mod.ref_types)
            self._ref(elem)
            self._ref(elem)
            self.int_operand()
            self.stack.pop()
            self.out += SELECT_T + b"\x01" + bytes((elem,)) + REF_IS_NULL
            self.stack.append(I32)
            return
        t = src.pick((0x7F, 0x7E, 0x7D, 0x7C))
        self.operand(t)
        self.operand(t)
        self.int_operand()
        self.out += SELECT_T + b"\x01" + bytes((t,))
        del self.stack[-2:]

    def _mutable_table(self):
        return self.src.pick(self.mod.mutable_tables)  # (index, elem type, initial size)

    def a_table_set(self):
        t, elem, size = self._mutable_table()
        self._index(size, self.mod.table_at[t])
        self._ref(elem)
        self.out += TABLE_SET + uleb(t)

    def a_table_size(self):
        t = self.src.pick(self.mod.all_tables)[0]
        self.out += TABLE_SIZE + uleb(t)
        self.stack.append(self.mod.table_at[t])

    def a_table_grow(self):
        t, elem, _ = self._mutable_table()
        at = self.mod.table_at[t]
        self._ref(elem)
        self._num(at, self.src.pick((0, 1, 2, 3, 5, -1)))
        self.out += TABLE_GROW + uleb(t)
        self.stack.append(at)

    def _wide_index(self, at: int, v: int) -> int:
        """A bulk start of a 64-bit table, now and then 2^32 past `v` (out of bounds, its low
        half in bounds)."""
        return v | 1 << 32 if at == I64 and self.src.chance(48) else v

    def a_table_fill(self):
        t, elem, size = self._mutable_table()
        at = self.mod.table_at[t]
        d, _, n = self.bulk_args(size, size)
        self._num(at, self._wide_index(at, d))
        self._ref(elem)
        self._num(at, n)
        self.out += TABLE_FILL + uleb(t)

    def a_table_copy(self):
        # the index types: the destination's, the source's, and for the length i64 only if
        # both tables are 64-bit
        src, mod = self.src, self.mod
        dst, elem, dsize = self._mutable_table()
        s, ssize = src.pick(mod.tables_of[elem])
        da, sa = mod.table_at[dst], mod.table_at[s]
        d, sv, n = self.bulk_args(dsize, ssize)
        self._num(da, self._wide_index(da, d))
        self._num(sa, self._wide_index(sa, sv))
        self._num(I64 if da == sa == I64 else I32, n)
        self.out += TABLE_COPY + uleb(dst) + uleb(s)

    def a_table_init(self):
        src, mod = self.src, self.mod
        t, elem, size = self._mutable_table()
        e, n = src.pick(mod.elems_of[elem])  # (segment index, its length)
        d, s, k = self.bulk_args(size, n)
        at = mod.table_at[t]
        self._num(at, self._wide_index(at, d))
        self._i32(s)
        self._i32(k)
        self.out += TABLE_INIT + uleb(e) + uleb(t)

    def a_elem_drop(self):
        # a drop lasts for the rest of the plan (every later init of the segment traps), so
        # mostly a segment instantiation already dropped (a no-op), a passive one rarely
        src, mod = self.src, self.mod
        dropped = [e for e, n in mod.elems_of[FUNCREF] if not n]
        e = src.pick(dropped) if dropped and not src.chance(8) else src.int(0, mod.n_elems - 1)
        self.out += ELEM_DROP + uleb(e)

    def a_memory_init(self):
        src = self.src
        d, n = src.pick(self.mod.data_segs)  # (segment index, its length)
        for v in self.bulk_args(PAGE, n):
            self._i32(v)
        self.out += MEMORY_INIT + uleb(d) + b"\x00"

    def a_data_drop(self):
        # as for elem.drop: mostly the active segment (already dropped), the passive rarely
        src = self.src
        self.out += DATA_DROP + uleb(src.pick(self.mod.data_segs)[0] if src.chance(8) else 0)
