"""Compiling a module: one code buffer, one pass per function, inside the validator's loop."""

from __future__ import annotations

import bisect
import gc
from dataclasses import dataclass, field

from winch.codegen.func import FuncCodegen, _check_type
from winch.errors import Unsupported, ValidationError
from winch.vmctx import VMOffsets
from winch.wasm.module import EXT_GLOBAL, EXT_MEMORY, EXT_TABLE, Module
from winch.wasm.reader import decode_module
from winch.wasm.instrs import decode_instrs
from winch.wasm.validate import module_context, validate_module
from winch.wasm.validate_body import validate_body
from winch.wasm.types import EXTERNREF, FUNCREF

ISAS = ("x64", "aarch64", "s390x")


@dataclass
class CompiledModule:
    """What the host needs to run a module, per ISA (see README "winch compile")."""

    isa: str
    module: object  # the decoded winch.wasm.module.Module
    code: bytes
    func_offsets: tuple  # code offset of each *defined* function
    traps: tuple  # ((code offset, TrapKind), ...), sorted
    #: per lowered instruction, `code offset << 32 | wasm offset` (sorted); `srclocs` splits them
    srcloc_packed: list = field(repr=False, default_factory=list)
    func_ranges: tuple = ()  # (start, end) code range of each defined function
    vm: VMOffsets = None
    _trap_map: dict = field(default_factory=dict, repr=False)
    _srclocs: tuple = field(default=None, repr=False)

    @property
    def srclocs(self) -> tuple:
        """((code offset, wasm offset), ...) per lowered instruction, sorted; made on first use
        (most compiles never ask: fuzzing reads them only to explain a finding)."""
        if self._srclocs is None:
            self._srclocs = tuple([(x >> 32, x & 0xFFFF_FFFF) for x in self.srcloc_packed])
        return self._srclocs

    def trap_at(self, code_offset: int):
        if not self._trap_map:
            self._trap_map = dict(self.traps)
        return self._trap_map.get(code_offset)

    def wasm_location(self, code_offset: int):
        """(defined function index, wasm byte offset) of the instruction at `code_offset`."""
        i = bisect.bisect_right(self.srclocs, (code_offset, 1 << 62)) - 1
        wasm_off = self.srclocs[i][1] if i >= 0 else -1
        f = bisect.bisect_right(self.func_offsets, code_offset) - 1
        return f, wasm_off


class Env:
    """Module-level facts the function compiler consults."""

    def __init__(self, module, vm: VMOffsets):
        self.types = module.types
        self.func_types = module.func_types
        self.num_imported_funcs = module.num_imported_funcs
        self.global_types = module.global_types
        self.table_types = module.table_types
        self.mem_types = module.mem_types
        self.vm = vm
        self.func_labels: list = []
        # per global, once per module: its value type and the VM-context field of its cell
        self.global_valtypes = tuple(gt.valtype for gt in self.global_types)
        self.global_ptrs = tuple(vm.global_ptr(i) for i in range(len(self.global_types)))


def make_masm(isa: str, buf, env):
    if isa == "x64":
        from winch.isa.x64.masm import X64Masm

        return X64Masm(buf, env)
    if isa == "aarch64":
        from winch.isa.aarch64.masm import A64Masm

        return A64Masm(buf, env)
    if isa == "s390x":
        from winch.isa.s390x.masm import S390xMasm

        return S390xMasm(buf, env)
    raise ValueError(f"unknown target {isa!r} (one of: {', '.join(ISAS)})")


def check_module_scope(m, env: Env) -> None:
    """Reject, by feature name, module-level constructs outside core-2.0 scalar.  The value
    types of every function type and global are checked here, once: the function compiler
    relies on it (calls, block types, globals)."""
    mems = env.mem_types
    if len(mems) > 1:
        raise Unsupported("multi-memory", f"{len(mems)} memories")
    for mt in mems:
        if mt.limits.is64:
            raise Unsupported("memory64", "64-bit memory")
        if mt.limits.shared:
            raise Unsupported("threads", "shared memory")
    for tt in env.table_types:
        if tt.limits.is64:
            raise Unsupported("memory64", "64-bit table")
        if tt.elem not in (FUNCREF, EXTERNREF):
            raise Unsupported("function-references", "table element type")
    for t in dict.fromkeys(env.global_valtypes):  # each type once, in order of first use
        _check_type(t)
    for t in dict.fromkeys(t for ft in env.types for t in ft.params + ft.results):
        _check_type(t)
    for imp in m.imports:
        if imp.kind not in (0, EXT_TABLE, EXT_MEMORY, EXT_GLOBAL):
            raise Unsupported("exceptions", "tag import")


def compile_module(wasm: bytes, isa: str = "x64",
                   decoded: Module | None = None) -> CompiledModule:
    """Decode, validate and compile in one pass per function (one loop per body: the
    validator's, lowering each instruction as it is validated).

    Raises DecodeError, ValidationError or Unsupported; invalidity anywhere wins over an
    unsupported feature (the module is validated to the end before Unsupported is raised).
    `decoded`: `decode_module(wasm)` when the caller has it already (a module compiled for
    several ISAs is decoded once).
    """
    # The compiler makes many small tuples and no reference cycles worth collecting while it
    # runs: the cyclic GC's passes over them cost about a sixth of the time (sql.js, x64).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile_module(wasm, isa, decoded)
    finally:
        if gc_was_enabled:
            gc.enable()


def _compile_module(wasm: bytes, isa: str, decoded: Module | None) -> CompiledModule:
    from winch.masm.buffer import CodeBuffer

    m = decoded if decoded is not None else decode_module(wasm)
    vm = VMOffsets.for_module(m)
    env = Env(m, vm)
    buf = CodeBuffer()
    masm = make_masm(isa, buf, env)
    env.func_labels = buf.new_labels(len(env.func_types))
    first = env.num_imported_funcs
    starts: list = []
    srclocs: list = []  # shared by the functions: code offset << 32 | wasm offset, ...

    try:
        check_module_scope(m, env)
        ctx = module_context(m)
        data = m.raw
        for i, f in enumerate(m.funcs):
            func_index = first + i
            masm.align_function()
            starts.append(buf.offset())
            buf.bind_label(env.func_labels[func_index])
            local_types = []
            for count, t in f.locals:
                local_types.extend([t] * count)
            g = FuncCodegen(env, masm, func_index, m.types[f.type_index], local_types,
                            srclocs)
            try:
                validate_body(ctx, func_index, f, data, lower=g)
            except ValidationError:
                # a malformation anywhere in the code section wins over this invalidity
                for later in m.funcs[i:]:
                    decode_instrs(data, later.body[0], later.body[1])
                raise
            g.finish()
    except Unsupported as unsupported:
        # the module may still be malformed or invalid further on: that verdict wins
        validate_module(m)
        raise unsupported from None
    starts_end = starts[1:] + [buf.offset()]
    fin = buf.finish()
    return CompiledModule(isa, m, fin.code, tuple(starts), tuple(sorted(fin.traps)),
                          srclocs, tuple(zip(starts, starts_end)), vm)
