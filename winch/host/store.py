"""The host: one Unicorn instance per store, running compiled modules.

Address space (the same on every ISA; unmapped gaps between all regions):

    HOST_PAGE   stubs: one return instruction per host function and builtin; a code hook
                over the page runs the Python side before the return executes
    STACK       the machine stack, with an unmapped guard below it
    HEAP        vmctx blocks, global cells, funcref records, table arrays and code, each
                in its own mapping followed by an unmapped page
    MEMORY k    linear memory k at MEM_BASE + k * MEM_SPACING, mapped up to its current size
                (rounded up to a host page: a memory of page size 1 may end inside one)

Memories: an instance may have several (imported ones first, as Wasm numbers them), of
either index type (memory64: i64 addresses) and page size (65536 bytes or 1, `page_log2`).
The VM context of every instance that has a memory holds its base and byte size (the field
addresses are in `Memory.views`); growing a memory rewrites each of them.  A memory the
host cannot map (more than `MAX_MEMORY_BYTES`) is a `ResourceLimit` at instantiation, and
growing past it answers -1, as the spec allows.

Any access outside mapped memory is a sandbox violation (`SandboxViolation`), never a
wrong value: compiled code checks every memory and table bound itself first.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

import unicorn as uc

from winch.codegen.compile import CompiledModule
from winch.host.isa import host_isa
from winch.traps import TrapKind
from winch.vmctx import BUILTIN_NAMES, FUEL, FUNCREF_SIZE, STACK_LIMIT, VMOffsets
from winch.wasm.module import EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, EXT_TABLE
from winch.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64

PAGE = 0x1000
WASM_PAGE = 0x10000
HOST_PAGE = 0x1000_0000
STACK_BASE = 0x2000_0000
STACK_SIZE = 0x10_0000  # 1 MiB
STACK_RED_ZONE = 0x4000  # prologues trap this far above the bottom
HEAP_BASE = 0x4000_0000
LIMITS_ADDR = 0x3000_0000  # the store's limits block (fuel consumed), see set_fuel
MEM_BASE = 0x1_0000_0000
MEM_SPACING = 0x2_0000_0000  # 8 GiB of address space per memory
MAX_MEMORIES = ((1 << 48) - MEM_BASE) // MEM_SPACING  # per store: their slots stay below 2^48
MAX_MEMORY_BYTES = 0x4000_0000  # grow beyond 1 GiB fails (returns -1), as the spec allows
MAX_MEMORY_PAGES = MAX_MEMORY_BYTES // WASM_PAGE
MAX_TABLE = 10_000_000
DEFAULT_TIMEOUT = 10.0  # seconds of work per top-level invocation, as fuel (see below)
FUEL_PER_SECOND = 20_000_000  # fuel checks (loop iterations, calls) per emulated second
# A call to a host function runs Python (tens of microseconds) that the fuel checks do not
# see; each one takes this much, so a loop around an import stops within the budget's order
# of time too.
HOST_CALL_FUEL = 1_000
# ... and a builtin (memory.grow, table.get, ...: about 10-25 us of Python each) this much: a
# loop around one (a generated module growing a memory at its maximum 150,000 times) is
# bounded by the budget's time too, not only by its own instructions
BUILTIN_CALL_FUEL = 500
BUILTIN_CHARGE_EVERY = 16
# a region left by `Store.reset` is reused (zeroed) up to this size; a bigger one is unmapped
# and mapped again (measured in Unicorn: zeroing about 17 us per MiB, unmap and map about 35)
REUSE_MAX = 0x10_0000
_ZERO_STACK = bytes(STACK_SIZE)


class HostTrap(Exception):
    """Raised by host functions and builtins to trap the running Wasm code."""

    def __init__(self, kind: TrapKind, message: str = ""):
        super().__init__(message or kind.value)
        self.kind = kind


class LinkError(Exception):
    pass


class ResourceLimit(LinkError):
    """The host cannot provide what the module asks for (a memory or table too large)."""


# -- results of running code ------------------------------------------------------------------
@dataclass
class Returned:
    values: list  # [(type, bits or ref)]


@dataclass
class Trapped:
    kind: TrapKind
    func: int = -1  # function index (-1: host)
    wasm_offset: int = -1
    message: str = ""


@dataclass
class Exhausted:
    reason: str


@dataclass
class SandboxViolation:
    message: str
    pc: int = 0


# -- runtime objects ----------------------------------------------------------------------------
@dataclass(eq=False)
class Memory:
    index: int  # which MEM_BASE slot
    base: int
    pages: int  # current size in pages of 1 << page_log2 bytes
    max: int | None
    views: list = field(default_factory=list)  # addresses of vmctx size fields mirroring us
    is64: bool = False  # memory64: i64 addresses, sizes and memory.grow results
    page_log2: int = 16  # 16: pages of 64 KiB; 0: pages of one byte (custom-page-sizes)
    mapped: int = 0  # bytes mapped at base (byte_size rounded up to a host page)

    @property
    def byte_size(self) -> int:
        return self.pages << self.page_log2

    @property
    def spec_max(self) -> int:
        """The most pages the spec lets this memory have: its maximum, else the index
        type's address space (2^16 pages of 64 KiB for memory32, 2^48 for memory64)."""
        if self.max is not None:
            return self.max
        return (1 << (64 if self.is64 else 32)) >> self.page_log2


@dataclass(eq=False)
class Table:
    elem: int
    size: int
    max: int | None
    base: int = 0  # address of the element array
    capacity: int = 0
    views: list = field(default_factory=list)  # (vmctx address, base field offset)
    is64: bool = False  # table64: i64 indices, sizes and table.grow results


@dataclass(eq=False)
class Global:
    valtype: int
    mutable: bool
    cell: int  # address of the 8-byte cell


@dataclass(eq=False)
class HostFunc:
    params: tuple
    results: tuple
    fn: object  # callable(*args) -> list of values (ints/bits, refs)
    stub: int = 0
    record: int = 0


@dataclass(eq=False)
class FuncRef:
    """A function as a value: a record address the code uses, and who it belongs to."""

    record: int
    instance: object
    index: int


@dataclass(eq=False)
class Instance:
    compiled: CompiledModule
    vmctx: int
    code_base: int
    funcs: list  # per function index: FuncRef (with record) of every function
    func_sigs: list  # per function index: canonical signature id
    memories: list
    tables: list
    globals: list
    exports: dict
    dropped_data: set = field(default_factory=set)
    dropped_elems: set = field(default_factory=set)
    elem_values: list = field(default_factory=list)  # evaluated element segments


class Store:
    """A set of instances sharing one Unicorn engine (one ISA)."""

    def __init__(self, isa: str = "x64", timeout: float = DEFAULT_TIMEOUT, epoch=None):
        self.isa_name = isa
        self.isa = host_isa(isa)
        self.mu = self.isa.make_engine()
        self.timeout = timeout
        self.bo = self.isa.byteorder
        self._heap = HEAP_BASE
        self._mem_slots = 0
        self._arena, self._arena_left = 0, 0
        self.sig_ids: dict = {}  # FuncType -> canonical id
        self.records: dict = {}  # funcref record address -> (instance or HostFunc, index)
        self.externs: list = []  # host values behind externref handles (handle = index + 1)
        self.instances_by_vmctx: dict = {}
        self.host_stubs: dict = {}  # stub address -> callable(args_base) handling the call
        self.pending_trap: HostTrap | None = None
        self.pending_error: BaseException | None = None
        # heap and linear-memory mappings: made since the last reset, and left by it (each
        # reused in place if the next module maps the same region, else unmapped before
        # code runs); address -> (size, protection)
        self._mapped: dict = {}
        self._stale: dict = {}
        mu = self.mu
        mu.mem_map(HOST_PAGE, 16 * PAGE, self.isa.code_prot)
        self._next_stub = HOST_PAGE
        self.done_addr = self._new_stub(None)
        mu.mem_map(STACK_BASE, STACK_SIZE, uc.UC_PROT_READ | uc.UC_PROT_WRITE)
        self.stack_top = STACK_BASE + STACK_SIZE - 256
        mu.hook_add(uc.UC_HOOK_CODE, self._on_stub, begin=HOST_PAGE,
                    end=HOST_PAGE + 16 * PAGE - 1)
        mu.hook_add(uc.UC_HOOK_INTR, self._on_intr)
        self.intr = None  # (intno, pc) of the interrupt that stopped the code
        self.clean_ctx = mu.context_save()
        self._builtin_calls = 0  # builtin calls not charged yet (see _charged)
        self.builtin_stubs = [self._new_stub(self._charged(getattr(self, "_b_"
                                                                   + n.replace(".", "_"))))
                              for n in BUILTIN_NAMES]
        self._first_free_stub = self._next_stub
        self.depth = 0
        self._init_limits(epoch)

    def reset(self) -> None:
        """Make this store as `__init__` left it, keeping its Unicorn engine: every instance,
        memory, table, global and host function goes, the stack is zeroed again and the
        translated code flushed.  Creating and first mapping an engine costs about 1 ms,
        most of what a small module's run costs, so the oracle reuses stores."""
        mu = self.mu
        # instance regions, arenas, tables, linear memories: kept mapped for now, so the next
        # module's identical regions cost a zeroing write instead of an unmap and a map
        # (tens of microseconds each in Unicorn); see `_map` and `_drop_stale`
        self._stale.update(self._mapped)
        self._mapped = {}
        mu.mem_write(STACK_BASE, _ZERO_STACK)
        if self._next_stub > self._first_free_stub:  # host-function stubs: zeros again
            mu.mem_write(self._first_free_stub, bytes(self._next_stub - self._first_free_stub))
            for addr in range(self._first_free_stub, self._next_stub, 16):
                del self.host_stubs[addr]
            self._next_stub = self._first_free_stub
        mu.ctl_flush_tb()
        mu.context_restore(self.clean_ctx)
        self._heap = HEAP_BASE
        self._mem_slots = 0
        self._arena, self._arena_left = 0, 0
        self.sig_ids = {}
        self.records = {}
        self.externs = []
        self.instances_by_vmctx = {}
        self.pending_trap = None
        self.pending_error = None
        self.intr = None
        self.depth = 0
        self._reset_limits()

    # -- allocation ----------------------------------------------------------------------------
    def _alloc(self, size: int, prot=uc.UC_PROT_READ | uc.UC_PROT_WRITE) -> int:
        size = max(PAGE, (size + PAGE - 1) & ~(PAGE - 1))
        addr = self._heap
        self._map(addr, size, prot)
        self._heap += size + PAGE  # an unmapped guard page after each region
        return addr

    def _map(self, addr: int, size: int, prot: int) -> None:
        """Map [addr, addr + size) for this store's current objects, zero-filled, with the
        page after it unmapped.  A region the last reset left at the same address with the
        same size and protection is reused, zeroed; stale regions in the way are unmapped."""
        stale = self._stale
        if stale:
            old = stale.pop(addr, None)
            if old is not None:
                if old == (size, prot) and size <= REUSE_MAX:
                    self.mu.mem_write(addr, bytes(size))
                    self._mapped[addr] = old
                    return
                self.mu.mem_unmap(addr, old[0])
            end = addr + size + PAGE
            for a in [a for a, (n, _p) in stale.items() if a < end and addr < a + n]:
                self.mu.mem_unmap(a, stale.pop(a)[0])
        self.mu.mem_map(addr, size, prot)
        self._mapped[addr] = (size, prot)

    def _drop_stale(self) -> None:
        """Unmap what the last reset left and nothing reused: before code runs, every
        address outside the current objects must fault (the sandbox)."""
        for a, (n, _p) in self._stale.items():
            self.mu.mem_unmap(a, n)
        self._stale = {}

    def _small(self, size: int) -> int:
        """Room for a small host object (a global's cell, a function record) that Wasm code
        reaches only through pointers the host wrote: packed into shared arena pages
        instead of a page and a guard page each (mapping is most of a store's set-up)."""
        size = (size + 15) & ~15
        if self._arena_left < size:
            self._arena = self._alloc(4 * PAGE)
            self._arena_left = 4 * PAGE
        addr = self._arena
        self._arena += size
        self._arena_left -= size
        return addr

    def _new_stub(self, handler) -> int:
        addr = self._next_stub
        self._next_stub += 16
        if self._next_stub > HOST_PAGE + 16 * PAGE:
            raise RuntimeError("out of host stubs")
        self.mu.mem_write(addr, self.isa.stub)
        self.host_stubs[addr] = handler
        return addr

    def sig_id(self, ft) -> int:
        key = (tuple(ft.params), tuple(ft.results))
        if key not in self.sig_ids:
            self.sig_ids[key] = len(self.sig_ids) + 1
        return self.sig_ids[key]

    # -- raw access -------------------------------------------------------------------------------
    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.mu.mem_read(addr, 8), self.bo)

    def write_u64(self, addr: int, v: int) -> None:
        self.mu.mem_write(addr, (v & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, self.bo))

    def read_value(self, t: int, addr: int):
        if t in (I32, F32):
            return int.from_bytes(self.mu.mem_read(addr, 4), self.bo)
        return self.read_u64(addr)

    def write_value(self, t: int, addr: int, v: int) -> None:
        if t in (I32, F32):
            self.mu.mem_write(addr, (v & 0xFFFF_FFFF).to_bytes(4, self.bo))
        else:
            self.write_u64(addr, v)

    # -- memories, tables, globals -----------------------------------------------------------------
    def new_memory(self, pages: int, maximum: int | None, is64: bool = False,
                   page_log2: int = 16) -> Memory:
        if pages << page_log2 > MAX_MEMORY_BYTES:
            unit = "pages" if page_log2 == 16 else f"pages of {1 << page_log2} bytes"
            raise ResourceLimit(f"memory of {pages} {unit} is more than this host provides "
                                f"({MAX_MEMORY_BYTES} bytes)")
        idx = self._mem_slots
        if idx >= MAX_MEMORIES:
            raise ResourceLimit(f"more than {MAX_MEMORIES} memories in one store")
        self._mem_slots += 1
        mem = Memory(idx, MEM_BASE + idx * MEM_SPACING, 0, maximum, is64=is64,
                     page_log2=page_log2)
        self._grow_memory(mem, pages)
        return mem

    def _grow_memory(self, mem: Memory, delta: int) -> int:
        """Grow by `delta` pages: the old size in pages, or -1 (past the memory's maximum,
        the index type's range or what this host maps)."""
        old = mem.pages
        new = old + delta
        if new > mem.spec_max or new << mem.page_log2 > MAX_MEMORY_BYTES:
            return -1
        want = (new << mem.page_log2) + PAGE - 1 & ~(PAGE - 1)
        if want > mem.mapped:
            self._map(mem.base + mem.mapped, want - mem.mapped,
                      uc.UC_PROT_READ | uc.UC_PROT_WRITE)
            mem.mapped = want
        mem.pages = new
        if delta:
            for field_addr in mem.views:
                self.write_u64(field_addr, new << mem.page_log2)
        return old

    def new_table(self, elem: int, size: int, maximum: int | None, init: int = 0,
                  is64: bool = False) -> Table:
        if size > MAX_TABLE:
            raise ResourceLimit(f"table of {size} elements is more than this host provides "
                                f"({MAX_TABLE})")
        t = Table(elem, 0, maximum, is64=is64)
        self._table_reserve(t, size)
        t.size = size
        if init:
            self._table_write(t, 0, [init] * size)
        return t

    def _table_reserve(self, t: Table, size: int) -> None:
        if size <= t.capacity:
            return
        cap = max(size, 2 * t.capacity, 16)
        if t.max is not None:
            cap = min(max(cap, size), max(t.max, size))
        base = self._alloc(8 * cap)
        if t.size:
            self.mu.mem_write(base, bytes(self.mu.mem_read(t.base, 8 * t.size)))
        t.base, t.capacity = base, cap
        for vm, off in t.views:
            self.write_u64(vm + off, base)

    def _table_set_len(self, t: Table) -> None:
        for vm, off in t.views:
            self.write_u64(vm + off + 8, t.size)

    def _table_write(self, t: Table, start: int, values: list) -> None:
        if values:
            self.mu.mem_write(t.base + 8 * start,
                              b"".join(v.to_bytes(8, self.bo) for v in values))

    def table_read(self, t: Table, i: int) -> int:
        return self.read_u64(t.base + 8 * i)

    def new_global(self, valtype: int, mutable: bool, bits: int) -> Global:
        g = Global(valtype, mutable, self._small(8))
        self.write_value(valtype, g.cell, bits)
        return g

    def global_value(self, g: Global) -> int:
        return self.read_value(g.valtype, g.cell)

    # -- references -------------------------------------------------------------------------------
    def extern_handle(self, value) -> int:
        if value is None:
            return 0
        self.externs.append(value)
        return len(self.externs)

    def extern_value(self, handle: int):
        return None if handle == 0 else self.externs[handle - 1]

    def host_func(self, params, results, fn) -> HostFunc:
        hf = HostFunc(tuple(params), tuple(results), fn)
        hf.stub = self._new_stub(lambda base, hf=hf: self._call_host(hf, base))
        hf.record = self._small(FUNCREF_SIZE)
        self.write_u64(hf.record, hf.stub)
        self.write_u64(hf.record + 8, self.sig_id(_FT(hf.params, hf.results)))
        self.write_u64(hf.record + 16, 0)
        self.records[hf.record] = (hf, -1)
        return hf

    def _on_intr(self, mu, intno, user_data) -> None:
        """Traps (aarch64 brk, s390x illegal opcodes) and anything unexpected: stop, record."""
        self.intr = (intno, mu.reg_read(self.isa.PC))
        mu.emu_stop()

    # -- the stub hook ------------------------------------------------------------------------------
    def _on_stub(self, mu, address, size, user_data) -> None:
        handler = self.host_stubs.get(address)
        if handler is None:
            return  # the "done" address: emu_start stops here
        try:
            handler(self.isa.host_args_base(mu))
        except HostTrap as t:
            self.pending_trap = t
            mu.emu_stop()
        except BaseException as e:  # a bug in a host function: report, don't crash the engine
            self.pending_error = e
            mu.emu_stop()

    def _args(self, base: int, types) -> list:
        out = []
        for i, t in enumerate(types):
            out.append(self.read_value(t, base + 8 * i))
        return out

    def _charge(self, units: int) -> None:
        """Take `units` of the runaway-code fuel of every instance (see HOST_CALL_FUEL)."""
        for vmctx in self.instances_by_vmctx:
            left = self.read_u64(vmctx + FUEL)
            self.write_u64(vmctx + FUEL, max(0, left - units))

    def _charged(self, builtin):
        """`builtin`, taking BUILTIN_CALL_FUEL of the runaway-code fuel per call: every
        BUILTIN_CHARGE_EVERY calls, all at once (two Unicorn accesses per instance cost
        about a tenth of a builtin; a loop is stopped a few calls later at most)."""
        def charged(base):
            self._builtin_calls += 1
            if self._builtin_calls >= BUILTIN_CHARGE_EVERY:
                self._builtin_calls = 0
                self._charge(BUILTIN_CHARGE_EVERY * BUILTIN_CALL_FUEL)
            builtin(base)
        charged.__name__ = builtin.__name__
        return charged

    def _call_host(self, hf: HostFunc, base: int) -> None:
        self._charge(HOST_CALL_FUEL)
        args = self._args(base, hf.params)
        args = [self.extern_value(a) if t == EXTERNREF else a for a, t in zip(args, hf.params)]
        results = hf.fn(*args) or []
        self._write_results(hf.results, results, base + 8 * len(hf.params))

    def _write_results(self, types, values, extra_base) -> None:
        mu = self.mu
        for k, (t, v) in enumerate(zip(types, values)):
            if t == EXTERNREF:
                v = self.extern_handle(v)
            if k == 0:
                if t in (F32, F64):
                    self.isa.write_fpr(mu, v, t == F32)
                else:
                    mu.reg_write(self.isa.RET_GPR, v)
            else:
                self.write_value(t, extra_base + 8 * (k - 1), v)

    # -- builtins: args (u64 each) at base; see codegen/func.py for their order ----------------
    def _vm_instance(self) -> Instance:
        insts = self.instances_by_vmctx
        if len(insts) == 1:  # the running code's, necessarily (a register read costs more)
            for inst in insts.values():
                return inst
        return insts[self.mu.reg_read(self.isa.VMCTX)]

    def _u32(self, base, i):
        """Argument i of a builtin as an i32 (stored as 4 native bytes at its slot)."""
        return self.read_value(I32, base + 8 * i)

    def _argv(self, base, kinds: str) -> list:
        """A builtin's arguments in one read: one letter per slot, "i" an i32 (as `_u32`),
        "l" a u64.  (Generated modules call table and bulk-memory builtins dozens of times
        per module: a Unicorn read per argument was most of their cost.)"""
        return self._decode(self.mu.mem_read(base, 8 * len(kinds)), kinds)

    def _decode(self, raw, kinds: str) -> list:
        bo = self.bo
        return [int.from_bytes(raw[8 * k:8 * k + (4 if c == "i" else 8)], bo)
                for k, c in enumerate(kinds)]

    def _ret(self, v: int) -> None:
        self.mu.reg_write(self.isa.RET_GPR, v & 0xFFFF_FFFF_FFFF_FFFF)

    # Memory and table operands: slots of the index type of the memory or table they
    # address ("l" for memory64 and table64), read once the leading index slots say which.
    def _mems(self, base, count: int, nslots: int):
        """(instance, the `count` memories named by the leading index slots, the raw bytes
        of all `nslots` slots for `_decode`): one Unicorn read."""
        inst = self._vm_instance()
        raw = self.mu.mem_read(base, 8 * nslots)
        return inst, [inst.memories[i] for i in self._decode(raw, "i" * count)], raw

    def _b_memory_grow(self, base):
        _inst, (mem,), raw = self._mems(base, 1, 2)
        _m, delta = self._decode(raw, "il" if mem.is64 else "ii")
        r = self._grow_memory(mem, delta)
        self._ret(r & (0xFFFF_FFFF_FFFF_FFFF if mem.is64 else 0xFFFF_FFFF))

    def _check_mem(self, mem, addr, n):
        if addr + n > mem.pages << mem.page_log2:
            raise HostTrap(TrapKind.memory_out_of_bounds)

    def _b_memory_fill(self, base):
        _inst, (mem,), raw = self._mems(base, 1, 4)
        k = _kind(mem.is64)
        _m, d, val, n = self._decode(raw, "i" + k + "i" + k)
        self._check_mem(mem, d, n)
        if n:
            self.mu.mem_write(mem.base + d, bytes([val & 0xFF]) * n)

    def _b_memory_copy(self, base):
        _inst, (dm, sm), raw = self._mems(base, 2, 5)
        _d, _s, d, s, n = self._decode(raw, "ii" + _kind(dm.is64) + _kind(sm.is64) +
                                     _kind(dm.is64 and sm.is64))
        self._check_mem(dm, d, n)
        self._check_mem(sm, s, n)
        if n:
            self.mu.mem_write(dm.base + d, bytes(self.mu.mem_read(sm.base + s, n)))

    def _b_memory_init(self, base):
        inst, (mem,), raw = self._mems(base, 1, 5)
        _m, seg, d, s, n = self._decode(raw, "ii" + _kind(mem.is64) + "ii")
        data = b"" if seg in inst.dropped_data else inst.compiled.module.datas[seg].init
        if s + n > len(data):
            raise HostTrap(TrapKind.memory_out_of_bounds)
        self._check_mem(mem, d, n)
        if n:
            self.mu.mem_write(mem.base + d, data[s:s + n])

    def _b_data_drop(self, base):
        self._vm_instance().dropped_data.add(self._u32(base, 0))

    def _tabs(self, base, count: int, nslots: int):
        """As `_mems`, for tables."""
        inst = self._vm_instance()
        raw = self.mu.mem_read(base, 8 * nslots)
        return inst, [inst.tables[i] for i in self._decode(raw, "i" * count)], raw

    def _b_table_get(self, base):
        _inst, (t,), raw = self._tabs(base, 1, 2)
        _t, i = self._decode(raw, "i" + _kind(t.is64))
        if i >= t.size:
            raise HostTrap(TrapKind.table_out_of_bounds)
        self._ret(self.table_read(t, i))

    def _b_table_set(self, base):
        _inst, (t,), raw = self._tabs(base, 1, 3)
        _t, i, v = self._decode(raw, "i" + _kind(t.is64) + "l")
        if i >= t.size:
            raise HostTrap(TrapKind.table_out_of_bounds)
        self._table_write(t, i, [v])

    def _b_table_size(self, base):
        _inst, (t,), _raw = self._tabs(base, 1, 1)
        self._ret(t.size)

    def _b_table_grow(self, base):
        _inst, (t,), raw = self._tabs(base, 1, 3)
        _t, init, delta = self._decode(raw, "il" + _kind(t.is64))
        self._ret(self.table_grow(t, delta, init) & (0xFFFF_FFFF_FFFF_FFFF if t.is64
                                                     else 0xFFFF_FFFF))

    def table_grow(self, t: Table, delta: int, init: int) -> int:
        old = t.size
        new = old + delta
        limit = t.max if t.max is not None else (0xFFFF_FFFF_FFFF_FFFF if t.is64
                                                 else 0xFFFF_FFFF)
        if new > limit or new > MAX_TABLE:
            return -1
        self._table_reserve(t, new)
        self._table_write(t, old, [init] * delta)
        t.size = new
        self._table_set_len(t)
        return old

    def _b_table_fill(self, base):
        _inst, (t,), raw = self._tabs(base, 1, 4)
        k = _kind(t.is64)
        _t, i, v, n = self._decode(raw, "i" + k + "l" + k)
        if i + n > t.size:
            raise HostTrap(TrapKind.table_out_of_bounds)
        self._table_write(t, i, [v] * n)

    def _b_table_copy(self, base):
        _inst, (dt, stt), raw = self._tabs(base, 2, 5)
        _d, _s, d, s, n = self._decode(raw, "ii" + _kind(dt.is64) + _kind(stt.is64) +
                                     _kind(dt.is64 and stt.is64))
        if s + n > stt.size or d + n > dt.size:
            raise HostTrap(TrapKind.table_out_of_bounds)
        if n:  # read whole before written: overlapping ranges copy as memmove does
            self.mu.mem_write(dt.base + 8 * d, bytes(self.mu.mem_read(stt.base + 8 * s, 8 * n)))

    def _b_table_init(self, base):
        inst, (t,), raw = self._tabs(base, 1, 5)
        _t, seg, d, s, n = self._decode(raw, "ii" + _kind(t.is64) + "ii")
        vals = [] if seg in inst.dropped_elems else inst.elem_values[seg]
        if s + n > len(vals) or d + n > t.size:
            raise HostTrap(TrapKind.table_out_of_bounds)
        self._table_write(t, d, vals[s:s + n])

    def _b_elem_drop(self, base):
        self._vm_instance().dropped_elems.add(self._u32(base, 0))

    # -- fuel and epoch interruption (code compiled with fuel=True / epoch=True) -------------------
    # Wasmtime's model (winch/codegen/fuel.py): the store's fuel, kept as "consumed" (negative:
    # fuel left) in its limits block, which compiled code saves to and loads from; the engine's
    # epoch (winch/host/epoch.py, mapped at EPOCH_ADDR) and the store's deadline, which the
    # host writes into the VM context of every instance compiled with epoch checks.
    def _init_limits(self, epoch) -> None:
        from winch.host.epoch import DEFAULT, EPOCH_ADDR, PAGE as EPAGE

        self.epoch = epoch if epoch is not None else DEFAULT
        self.mu.mem_map(LIMITS_ADDR, PAGE, uc.UC_PROT_READ | uc.UC_PROT_WRITE)
        self.mu.mem_map_ptr(EPOCH_ADDR, EPAGE, uc.UC_PROT_READ, self.epoch.host_address)
        self._reset_limits()

    def _reset_limits(self) -> None:
        self.fuel_reserve = 0  # fuel beyond what an i64 counter holds (wasmtime's reserve)
        self.epoch_deadline = 0
        self._epoch_vmctxs: list = []  # VM contexts holding a copy of the deadline
        self.write_u64(LIMITS_ADDR, 0)

    def vmctx_prefix(self, vmctx: int, epoch: bool) -> None:
        """Fill the fields below a new instance's VM context (winch/vmctx.py)."""
        from winch.vmctx import EPOCH_DEADLINE, EPOCH_PTR, FUEL_VAR, LIMITS_PTR

        self.write_u64(vmctx + FUEL_VAR, 0)
        self.write_u64(vmctx + LIMITS_PTR, LIMITS_ADDR)
        self.write_u64(vmctx + EPOCH_PTR, self.epoch.cell(self.bo))
        self.write_u64(vmctx + EPOCH_DEADLINE, self.epoch_deadline)
        if epoch:
            self._epoch_vmctxs.append(vmctx)

    def set_fuel(self, fuel: int) -> None:
        """The store's fuel left (wasmtime's `Store::set_fuel`)."""
        if not 0 <= fuel < 1 << 64:
            raise ValueError("fuel must be in 0 .. 2**64-1")
        injected = min(fuel, (1 << 63) - 1)
        self.fuel_reserve = fuel - injected
        self.write_u64(LIMITS_ADDR, -injected & 0xFFFF_FFFF_FFFF_FFFF)

    def get_fuel(self) -> int:
        """The store's fuel left (wasmtime's `Store::get_fuel`): 0 once overspent."""
        consumed = self.read_u64(LIMITS_ADDR)
        if consumed >> 63:
            consumed -= 1 << 64
        return max(0, self.fuel_reserve - consumed)

    def consume_fuel(self, n: int) -> None:
        """Spend n of the store's fuel (no check: the next one in compiled code sees it)."""
        consumed = self.read_u64(LIMITS_ADDR) + n
        self.write_u64(LIMITS_ADDR, consumed & 0xFFFF_FFFF_FFFF_FFFF)

    def set_epoch_deadline(self, ticks: int) -> None:
        """Interrupt once the engine's epoch reaches its current value + `ticks` (wasmtime's
        `Store::set_epoch_deadline`)."""
        self.epoch_deadline = min(self.epoch.value + ticks, 0xFFFF_FFFF_FFFF_FFFF)
        from winch.vmctx import EPOCH_DEADLINE

        for vmctx in self._epoch_vmctxs:
            self.write_u64(vmctx + EPOCH_DEADLINE, self.epoch_deadline)

    def _trap_result(self, t: Trapped):
        """A trap of compiled code as the caller sees it: the work bound's `out_of_fuel` is
        exhaustion; the store's fuel running out is `out_of_fuel`, after which the store has
        no fuel left (as wasmtime's)."""
        if t.kind == TrapKind.fuel:
            self.fuel_reserve = 0
            self.write_u64(LIMITS_ADDR, 0)
            return Trapped(TrapKind.out_of_fuel, t.func, t.wasm_offset, "all fuel consumed")
        return _fuel_to_exhausted(t)

    # -- running --------------------------------------------------------------------------------------
    def call_address(self, func_addr: int, vmctx: int, params, results, args):
        """Run one function from the host; returns Returned / Trapped / Exhausted / Sandbox."""
        mu = self.mu
        isa = self.isa
        nout = len(params) + max(len(results) - 1, 0)
        if self.depth:
            raise RuntimeError("re-entrant call into Wasm from a host function")
        if self._stale:
            self._drop_stale()
        mu.context_restore(self.clean_ctx)
        sp = (self.stack_top - 8 * nout) & ~15
        for i, (t, a) in enumerate(zip(params, args)):
            self.write_value(t, sp + 8 * i, a)
        isa.enter(mu, func_addr, vmctx, sp, self.done_addr)
        fuel = max(1, int(self.timeout * FUEL_PER_SECOND))
        for inst_vmctx in self.instances_by_vmctx:  # calls may cross instances
            self.write_u64(inst_vmctx + FUEL, fuel)
        self.pending_trap = None
        self.pending_error = None
        self.intr = None
        self.depth += 1
        start = time.monotonic()
        try:
            # no emu_start timeout: its timer thread costs ~0.1 ms a call; fuel checks in
            # loop headers and prologues guarantee that compiled code stops.  One emu_start
            # per call: its own cost is ~3 us once the code is translated (measured, Unicorn
            # 2.1.4), and a trap ends it anyway; what a module's first calls cost is QEMU
            # translating the new code (~3 us a block), which no call order avoids
            mu.emu_start(func_addr, self.done_addr)
        except uc.UcError as e:
            return self._fault(e)
        finally:
            self.depth -= 1
        if self.pending_error is not None:
            raise self.pending_error
        if self.pending_trap is not None:
            return Trapped(self.pending_trap.kind, message=str(self.pending_trap))
        if self.intr is not None and self.intr[1] != self.done_addr:
            # (Unicorn's s390x reports an addressing exception on reaching the `until`
            # address instead of stopping quietly; arriving there is the normal return.)
            intno, pc = self.intr
            found = self._trap_for_pc(pc)
            if found is not None:
                return self._trap_result(found)
            return SandboxViolation(f"unexpected interrupt {intno} at {pc:#x}", pc)
        pc = mu.reg_read(isa.PC)
        if pc != self.done_addr:
            elapsed = time.monotonic() - start
            return Exhausted(f"stopped after {elapsed:.1f}s (wall-clock bound)")
        out = []
        for k, t in enumerate(results):
            if k == 0:
                v = isa.read_fpr(mu, t == F32) if t in (F32, F64) else mu.reg_read(isa.RET_GPR)
                v &= 0xFFFF_FFFF if t in (I32, F32) else 0xFFFF_FFFF_FFFF_FFFF
            else:
                v = self.read_value(t, sp + 8 * (len(params) + k - 1))
            out.append(v)
        return Returned(out)

    def _fault(self, e: uc.UcError):
        mu = self.mu
        pc = mu.reg_read(self.isa.PC)
        if e.errno == uc.UC_ERR_INSN_INVALID:
            found = self._trap_for_pc(pc)
            if found is not None:
                return self._trap_result(found)
            return SandboxViolation(f"invalid instruction at {pc:#x} outside any trap site", pc)
        names = {uc.UC_ERR_READ_UNMAPPED: "read of unmapped memory",
                 uc.UC_ERR_WRITE_UNMAPPED: "write to unmapped memory",
                 uc.UC_ERR_FETCH_UNMAPPED: "jump to unmapped memory",
                 uc.UC_ERR_WRITE_PROT: "write to protected memory",
                 uc.UC_ERR_READ_PROT: "read of protected memory",
                 uc.UC_ERR_FETCH_PROT: "execution of non-code memory"}
        what = names.get(e.errno, f"emulator error: {e}")
        return SandboxViolation(f"{what} (pc {pc:#x})", pc)

    def _trap_for_pc(self, pc: int):
        for inst in self.instances_by_vmctx.values():
            c = inst.compiled
            off = pc - inst.code_base
            if 0 <= off < len(c.code):
                kind = c.trap_at(off)
                if kind is None:
                    return None
                f, wasm_off = c.wasm_location(off)
                return Trapped(kind, f + c.module.num_imported_funcs, wasm_off)
        return None


def _kind(is64: bool) -> str:
    """The builtin slot kind of an address, index or length of that index type."""
    return "l" if is64 else "i"


def _fuel_to_exhausted(t: Trapped):
    if t.kind == TrapKind.out_of_fuel:
        return Exhausted("out of fuel (the per-call work bound)")
    return t


class _FT:
    def __init__(self, params, results):
        self.params = params
        self.results = results
