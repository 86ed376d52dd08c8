"""Several memories, 64-bit memories: the memory actions of the `multi_memory` and `memory64`
families.

Problem: with one 32-bit memory (most modules) the body builder's own memory actions
(`oracle.gen.body`) address memory 0 with i32 operands.  With `multi_memory` a module has 2-3
memories, with `memory64` some of them (memory 0 too) take i64 addresses, offsets up to
2^64-1 and i64 sizes, lengths and `memory.grow` results; every memory operator names its
memory.  Those modules take the actions of `MemActions` instead, each picking a memory first
(memory 0 of type i32 goes back to the plain actions, so the compiler's fast path keeps its
rich boundary mix).

What is favoured (bounds-check bugs of 64-bit and per-memory code):
- accesses at each memory's own end (`Mem.size`, its initial size): ending exactly there,
  one byte past it; on a 64-bit memory, addresses with bit 32 set whose low 32 bits are in
  bounds (a check done in 32 bits passes them), offsets >= 2^32 (valid there), and an
  address near 2^64 plus an offset carrying past 2^64 whose wrapped sum is in bounds (a
  missing carry check passes it), and offsets so big that the access always traps;
  half of them through a local, so the address is not a constant the compiler could fold;
- data of its own in every memory of a module (an active segment drawn apart, XOR-ed with
  another pattern): a load from the wrong memory reads other bytes;
- `memory.grow` on a memory with room, then an access only in bounds after the grow;
- now and then a memory after 0 with a page size of one byte (custom-page-sizes): its
  sizes, growth and bounds in bytes;
- `memory.copy` across memories of different index types (its length is an i64 only if
  both are 64-bit), `memory.fill`/`memory.init` on each memory.

Invariants: each memory has a maximum or is small; every memory is exported (`mem`, `mem1`,
`mem2`), so the oracle compares each after every call; operands of a memory operator have
that memory's index type.
"""

from __future__ import annotations

from winch.wasm.types import I32, I64

from oracle.gen.body import (LOAD_OPS, MASK32, PAGE, READ_BACK, SMALL_OFFSETS, STORE_OPS, _U1,
                             const_bytes, local_get, local_set, opb, uleb)
from oracle.gen.source import NUM

MASK64 = (1 << 64) - 1
TOP = 1 << 64
MEMORY_SIZE, MEMORY_GROW, MEMORY_FILL, MEMORY_COPY, MEMORY_INIT = (opb(n) for n in (
    "memory.size", "memory.grow", "memory.fill", "memory.copy", "memory.init"))
EXTEND_U = opb("i64.extend_i32_u")
I32_AND = opb("i32.and")
# a second data pattern for memories >= 1 (memory 0 has oracle.gen.module.DATA_PATTERN): an
# access that reaches the wrong memory reads other bytes
DATA_PATTERN_2 = bytes((0x7E, 0x81, 0xF0, 0x3C, 0x99, 0x01, 0xEF, 0x80)) * 4
# sizes of the extra memories, in pages, and how many more pages their maximum allows.
# Always a maximum, and at most 14 pages: the oracle reads and compares every memory after
# every call, and a memory without one, grown a page at a time in a loop, reached tens of
# MiB (a second per module, a libFuzzer timeout now and then).  Memories without a maximum
# are the 1-byte-page ones (BYTE_ROOM), which grow by bytes.
EXTRA_PAGES = (1, 1, 2, 1, 0, 1, 2, 1, 1, 1, 2, 1, 1, 1, 2, 1)
EXTRA_ROOM = (1, 0, 2, 3, 12, 1)
# ... and of one with a page size of 1 byte (one extra memory in `BYTE_PAGES_ONE_IN`)
BYTE_PAGES = (100, 1000, 64, 65536, 70000, 0, 4096, 65537)
BYTE_ROOM = (16, 0, 1000, None, 65536, 8)
BYTE_PAGES_ONE_IN = 6

# accesses at a memory's end, as functions of (size, width) -> (address, offset): in bounds
# (ending exactly at the end) ...
END_IN = ((lambda s, w: s - w, lambda s, w: 0), (lambda s, w: s - w - 16, lambda s, w: 16),
          (lambda s, w: 0, lambda s, w: s - w), (lambda s, w: s - 2 * w, lambda s, w: w))
# ... one byte past it, and 32-bit carries (valid for either index type) ...
END_OUT = ((lambda s, w: s - w + 1, lambda s, w: 0), (lambda s, w: s - w - 15, lambda s, w: 16),
           (lambda s, w: s, lambda s, w: 0), (lambda s, w: MASK32, lambda s, w: 1),
           (lambda s, w: 8, lambda s, w: MASK32))
# ... and, on a 64-bit memory only: an address with bit 32 (or 63, or all of the high half)
# set and the low half in bounds (a check done in 32 bits passes it) ...
HIGH_OUT = (
    (lambda s, w: 1 << 32 | (s - w), lambda s, w: 0), (lambda s, w: (1 << 32) + 8, lambda s, w: 0),
    (lambda s, w: 1 << 32, lambda s, w: 16), (lambda s, w: 1 << 63 | 8, lambda s, w: 0),
    (lambda s, w: MASK64 & -(1 << 32), lambda s, w: 0))
# ... offsets >= 2^32 (valid there), and offsets so big the access always traps (offset +
# width >= 2^64) ...
OFFSET_OUT = (
    (lambda s, w: 8, lambda s, w: 1 << 32), (lambda s, w: 0, lambda s, w: (1 << 32) | 8),
    (lambda s, w: 0, lambda s, w: MASK64), (lambda s, w: 0, lambda s, w: TOP - w),
    (lambda s, w: MASK64, lambda s, w: MASK64))
# ... and an address near 2^64 whose sum with the offset carries out of 64 bits to a value
# in bounds (0, 8, s - w, ...): a missing carry check accesses it
CARRY_OUT = (
    (lambda s, w: TOP - 16, lambda s, w: 24), (lambda s, w: TOP - w, lambda s, w: w),
    (lambda s, w: MASK64, lambda s, w: 1), (lambda s, w: TOP - 8, lambda s, w: s),
    (lambda s, w: 8, lambda s, w: TOP - 8))
# the end-of-memory cases of a 64-bit memory, in these proportions
EDGE64 = (END_IN, END_IN, END_IN, END_OUT, HIGH_OUT, HIGH_OUT, OFFSET_OUT, CARRY_OUT, CARRY_OUT)


class Mem:
    """One memory of a generated module: its index, index type (`at`: I32 or I64), page size
    (`page`, bytes: 64 KiB or 1), initial size in pages and bytes, maximum (None: none), and
    the window of its active data segment (offset, length; None: no data)."""

    __slots__ = ("index", "is64", "at", "pages", "max", "size", "mask", "plain", "imm", "window",
                 "page_log2", "page")

    def __init__(self, index: int, is64: bool, pages: int, maximum, page_log2: int = 16):
        self.index, self.is64, self.pages, self.max = index, is64, pages, maximum
        self.page_log2, self.page = page_log2, 1 << page_log2
        self.at = I64 if is64 else I32
        self.size = pages << page_log2
        self.mask = MASK64 if is64 else MASK32
        self.plain = index == 0 and not is64  # what oracle.gen.body's own actions address
        self.imm = uleb(index)
        self.window = None

    def limits(self) -> bytes:
        """The memory type as the memory section writes it."""
        flags = (self.max is not None) | (4 if self.is64 else 0) | (8 if self.page == 1 else 0)
        return (bytes((flags,)) + uleb(self.pages) + (b"" if self.max is None else uleb(self.max))
                + (b"\x00" if self.page == 1 else b""))

    @property
    def export_name(self) -> str:
        return "mem" if self.index == 0 else f"mem{self.index}"


def draw_memories(src, cfg) -> list:
    """The memories of a module with the memory family on: memory 0 (one page, at most two,
    as ever; 64-bit with `memory64`, half the time when there are several), and with
    `multi_memory` one or two more of drawn sizes, index types and page sizes."""
    m64, multi = cfg.has("memory64"), cfg.has("multi_memory")
    n = src.int(2, 3) if multi else 1
    mems = [Mem(0, m64 and (not multi or src.bool()), 1, 2)]
    for i in range(1, n):
        byte_pages = src.chance(BYTE_PAGES_ONE_IN)
        pages = src.pick(BYTE_PAGES if byte_pages else EXTRA_PAGES)
        room = src.pick(BYTE_ROOM if byte_pages else EXTRA_ROOM)
        mems.append(Mem(i, m64 and src.bool(), pages, None if room is None else pages + room,
                        0 if byte_pages else 16))
    return mems


def extra_data(src, mem: Mem):
    """An active data segment for memory `mem` (>= 1), or None for an empty memory; sets
    `mem.window`."""
    if mem.size < 64:
        return None
    init = bytes(a ^ b for a, b in zip(src.data(8, 32), DATA_PATTERN_2))
    off = src.pick((0, 8, mem.size - len(init), 24))
    mem.window = (off, len(init))
    return (b"\x02" + mem.imm + const_bytes(mem.at, off) + b"\x0b" + uleb(len(init)) + init)


class MemActions:
    """Body actions for modules with several or 64-bit memories (mixed into the body
    builder, `oracle.gen.module.Body`).  Each picks a memory, and memory 0 of type i32
    takes the body builder's own action."""

    def _pick_mem(self) -> Mem:
        return self.src.pick(self.mod.mems)

    def _pick_access_mem(self) -> Mem:
        """A memory to load from or store to: an empty one (every access traps) only one
        time in 8."""
        mem = self.src.pick(self.mod.mems)
        if not mem.size and not self.src.chance(8):
            return self.mod.mems[0]
        return mem

    def _addr(self, mem: Mem, v: int) -> None:
        self.out += const_bytes(mem.at, v & mem.mask)
        self.stack.append(mem.at)

    def _memarg(self, mem: Mem, align: int, offset: int) -> bytes:
        a = self.src.int(0, align)
        if not mem.index:
            return _U1[a] + uleb(offset)
        return _U1[a | 0x40] + mem.imm + uleb(offset)

    def _via_local(self, mem: Mem, v: int, avoid: int) -> bool:
        """Push address `v` through a scratch local of the memory's index type (not a
        constant the compiler sees), unless the only one is `avoid`."""
        locs = [x for x in self.scratch[mem.at] if x != avoid]
        if not locs:
            return False
        loc = locs[-1]
        self.out += const_bytes(mem.at, v & mem.mask) + local_set(loc) + local_get(loc)
        self.stack.append(mem.at)
        return True

    def mem_address(self, mem: Mem, width: int, avoid: int = -1) -> int:
        """Push an address into `mem` for an access of `width` bytes; return the offset.
        One access in 12 is at the memory's end (half of those in bounds, the rest past it),
        one in 7 on a 64-bit memory (`EDGE64`: 3 in 9 of those in bounds, one past the end,
        the rest past 2^32 or carrying past 2^64), half of them through a local; otherwise
        in bounds: a small constant, one inside the memory's data, or an i32 local masked
        into the memory (zero-extended for a 64-bit one)."""
        src, size = self.src, mem.size
        if src.chance(7 if mem.is64 else 12):
            if mem.is64:
                addr, offset = src.pick(src.pick(EDGE64))
            else:
                addr, offset = src.pick(END_IN if src.int(0, 7) < 4 else END_OUT)
            a, o = addr(size, width) & mem.mask, offset(size, width) & mem.mask
            if not (src.bool() and self._via_local(mem, a, avoid)):
                self._addr(mem, a)
            return o
        form = src.int(0, 3)
        if form == 0 and mem.window is not None:
            off, n = mem.window
            self._addr(mem, off + src.int(0, max(0, n - width)))
        elif form == 1 and size >= 128:
            self.out += local_get(src.pick(self.locs[I32])) + \
                const_bytes(I32, src.pick((63, (size - 64) & -8))) + I32_AND
            if mem.is64:
                self.out += EXTEND_U
            self.stack.append(mem.at)
        else:
            self._addr(mem, src.pick((0, 1, 8, 16, 33, 64)) if src.bool() else
                       src.int(0, max(0, size - 64)))
        return src.pick(SMALL_OFFSETS)

    def m_load(self):
        mem = self._pick_access_mem()
        if mem.plain:
            return self.a_load()
        src = self.src
        t = src.pick(NUM)
        code, align, _ = src.pick(LOAD_OPS[t])
        if mem.window is not None and src.bool():
            # half the time inside the memory's data, as for memory 0 (oracle.gen.body)
            off, n = mem.window
            if src.chance(8):
                return self.mem_read_back(mem, off, n)
            self._addr(mem, off + src.int(0, max(0, n - (1 << align))))
            self.out += code + self._memarg(mem, align, 0)
            self.stack[-1] = t
            return
        offset = self.mem_address(mem, 1 << align)
        self.out += code + self._memarg(mem, align, offset)
        self.stack[-1] = t

    def mem_read_back(self, mem: Mem, off: int, n: int) -> None:
        """`Body.read_back` on memory `mem`: the same 8 data bytes read by every width."""
        src = self.src
        base = off + src.int(0, n - 8)
        last = len(READ_BACK) - 1
        for k, choices in enumerate(READ_BACK):
            code, align, t = src.pick(choices)
            self._addr(mem, base + src.int(0, 8 - (1 << align)))
            self.out += code + self._memarg(mem, align, 0)
            self.stack[-1] = t
            if k != last:
                self.sink()

    def m_store(self):
        mem = self._pick_access_mem()
        if mem.plain:
            return self.a_store()
        t = self.stack[-1]
        code, align = self.src.pick(STORE_OPS[t])
        loc = self.scratch[t][0]
        self.out += local_set(loc)
        self.stack.pop()
        offset = self.mem_address(mem, 1 << align, avoid=loc)
        self.out += local_get(loc) + code + self._memarg(mem, align, offset)
        self.stack.pop()

    def m_memory_size(self):
        mem = self._pick_mem()
        self.out += MEMORY_SIZE + mem.imm
        self.stack.append(mem.at)

    def m_memory_grow(self):
        mem = self._pick_mem()
        self._addr(mem, self.src.pick((0, 1, 2, -1)))
        self.out += MEMORY_GROW + mem.imm
        # (the delta's type is the result's)

    def m_grow_access(self):
        """`memory.grow` by one page (8 of a 1-byte page size), the result folded into a
        sink, then a load that is in bounds only if the memory has grown (from its initial
        size): at the old end, or ending exactly at the new one.  Mostly a memory other
        than 0."""
        src = self.src
        mems = [m for m in self.mod.mems
                if m.max is None or m.max >= m.pages + (1 if m.page == PAGE else 8)]
        if not mems:
            return self.m_memory_grow()
        others = [m for m in mems if m.index]
        mem = src.pick(others if others and src.int(0, 3) else mems)
        delta = 1 if mem.page == PAGE else 8  # (grown >= 8 bytes: the widest access)
        grown = delta * mem.page
        self._addr(mem, delta)
        self.out += MEMORY_GROW + mem.imm
        self.sink()
        t = src.pick(NUM)
        code, align, _ = src.pick(LOAD_OPS[t])
        w = 1 << align
        addr, offset = src.pick(((mem.size, 0), (mem.size + grown - w, 0),
                                 (mem.size, grown - w), (mem.size - w, w),
                                 (mem.size + grown - 8, 0)))
        if not (src.bool() and self._via_local(mem, addr, -1)):
            self._addr(mem, addr)
        self.out += code + self._memarg(mem, align, offset)
        self.stack[-1] = t

    def _wide(self, mem: Mem, v: int) -> int:
        """A bulk operand of a 64-bit memory, now and then with bit 32 set (out of bounds,
        its low half in bounds)."""
        return v | 1 << 32 if mem.is64 and self.src.chance(64) else v

    def m_memory_fill(self):
        mem = self._pick_mem()
        d, _, n = self.bulk_args(mem.size, mem.size)
        self._addr(mem, self._wide(mem, d))
        self.out += const_bytes(I32, self.src.int(0, 255))
        self._addr(mem, n)
        self.out += MEMORY_FILL + mem.imm
        del self.stack[-2:]

    def m_memory_copy(self):
        """A copy between two memories (the same one now and then), at the index types the
        spec gives: the destination's, the source's, and i64 for the length only if both
        are 64-bit."""
        dm, sm = self._pick_mem(), self._pick_mem()
        d, s, n = self.bulk_args(dm.size, sm.size)
        self._addr(dm, self._wide(dm, d))
        self._addr(sm, self._wide(sm, s))
        nt = I64 if dm.is64 and sm.is64 else I32
        self.out += const_bytes(nt, n & (MASK64 if nt == I64 else MASK32))
        self.out += MEMORY_COPY + dm.imm + sm.imm
        del self.stack[-2:]

    def m_memory_init(self):
        mem = self._pick_mem()
        if mem.plain:
            return self.a_memory_init()
        seg, n = self.src.pick(self.mod.data_segs)
        d, s, k = self.bulk_args(mem.size, n)
        self._addr(mem, self._wide(mem, d))
        self.out += (const_bytes(I32, s & MASK32) + const_bytes(I32, k & MASK32) + MEMORY_INIT
                     + uleb(seg) + mem.imm)
        self.stack.pop()
