"""The VM context: the per-instance block compiled code reaches through the pinned register.

Layout (all fields 8 bytes, offsets from the start of the block):

    STACK_LIMIT        lowest address the machine stack may reach; prologues trap below it
    MEM0_BASE          address of linear memory 0
    MEM0_SIZE          its current size in bytes (pages << the memory's page-size log2)
    FUEL               work left: prologues and loop headers trap `out_of_fuel` at 0, else
                       take one (the host refills it before every call from outside)
    BUILTINS + 8*k     address of host stub k (memory.grow, bulk memory, table operations)
    globals            address of each global's 8-byte cell (imported ones point elsewhere)
    imports            (code address, callee vmctx) of each imported function, 16 bytes each
    tables             (element array address, current length) of each table, 16 bytes each
    sigs               canonical signature id of each type index in this module
    funcrefs           address of the funcref record of each function (for ref.func)
    memories           (base, size in bytes) of each memory after memory 0, 16 bytes each
                       (memory 0 keeps MEM0_BASE/MEM0_SIZE, so that no other offset moves)

A *funcref record* is 24 bytes: (code address, signature id, vmctx); a table element or a
funcref value is the record's address, 0 for null.  An externref is a host handle, 0 null.

Wasm-to-Wasm calls: the caller stores argument i at [sp + 8*i] and reserves 8 bytes more
per extra result; the callee sees argument i at [fp + 16 + 8*i], returns result 0 in the
return register of its class and result k >= 1 at [fp + 16 + 8*(nparams + k - 1)].  Only
the pinned registers (vmctx and the frame/stack pointers) survive a call.
"""

from __future__ import annotations

from dataclasses import dataclass

STACK_LIMIT = 0
MEM0_BASE = 8
MEM0_SIZE = 16
FUEL = 24
BUILTINS = 32

# Below the VM context (negative offsets, so that no field above moves): what code compiled
# with `fuel=True` or `epoch=True` uses (see winch/codegen/fuel.py).  The host allocates
# VMCTX_PREFIX bytes before the vmctx of every instance of such a module.
FUEL_VAR = -8         # this instance's running fuel count ("consumed": negative = fuel left)
LIMITS_PTR = -16      # address of the store's limits block (LIMITS_FUEL)
EPOCH_PTR = -24       # address of the engine's epoch counter (u64, native byte order)
EPOCH_DEADLINE = -32  # the store's epoch deadline (u64; the host writes it into every vmctx)
VMCTX_PREFIX = 32
LIMITS_FUEL = 0  # in the store's limits block: fuel consumed (i64), saved at calls and exits

# builtin functions the host implements; the index is the stub number
BUILTIN_NAMES = (
    "memory.grow", "memory.fill", "memory.copy", "memory.init", "data.drop",
    "table.get", "table.set", "table.grow", "table.fill", "table.copy", "table.init",
    "elem.drop", "table.size",
)
BUILTIN = {name: i for i, name in enumerate(BUILTIN_NAMES)}

FUNCREF_CODE, FUNCREF_SIG, FUNCREF_VMCTX = 0, 8, 16
FUNCREF_SIZE = 24
PARAM_BASE = 16  # offset of the first argument from the callee's frame pointer


@dataclass(frozen=True)
class VMOffsets:
    nglobals: int
    nimports: int
    ntables: int
    ntypes: int
    nfuncs: int
    nmems: int = 1

    @classmethod
    def for_module(cls, module) -> "VMOffsets":
        return cls(len(module.global_types), module.num_imported_funcs, len(module.table_types),
                   len(module.types), len(module.func_types), len(module.mem_types))

    @property
    def globals(self) -> int:
        return BUILTINS + 8 * len(BUILTIN_NAMES)

    def global_ptr(self, i: int) -> int:
        return self.globals + 8 * i

    @property
    def imports(self) -> int:
        return self.globals + 8 * self.nglobals

    def import_code(self, i: int) -> int:
        return self.imports + 16 * i

    def import_vmctx(self, i: int) -> int:
        return self.imports + 16 * i + 8

    @property
    def tables(self) -> int:
        return self.imports + 16 * self.nimports

    def table_base(self, i: int) -> int:
        return self.tables + 16 * i

    def table_len(self, i: int) -> int:
        return self.tables + 16 * i + 8

    @property
    def sigs(self) -> int:
        return self.tables + 16 * self.ntables

    def sig(self, typeidx: int) -> int:
        return self.sigs + 8 * typeidx

    @property
    def funcrefs(self) -> int:
        return self.sigs + 8 * self.ntypes

    def funcref(self, f: int) -> int:
        return self.funcrefs + 8 * f

    @property
    def memories(self) -> int:
        return self.funcrefs + 8 * self.nfuncs

    def mem_base(self, i: int) -> int:
        """Where memory i's base address is (Wasm index space: imported memories first)."""
        return MEM0_BASE if i == 0 else self.memories + 16 * (i - 1)

    def mem_size(self, i: int) -> int:
        """Where memory i's current size in bytes is."""
        return MEM0_SIZE if i == 0 else self.memories + 16 * (i - 1) + 8

    @property
    def size(self) -> int:
        return self.memories + 16 * max(self.nmems - 1, 0)

    def builtin(self, name: str) -> int:
        return BUILTINS + 8 * BUILTIN[name]
