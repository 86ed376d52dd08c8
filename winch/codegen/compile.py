"""Compiling a module: one code buffer, one pass per function, inside the validator's loop."""

from __future__ import annotations

import bisect
import gc
from dataclasses import dataclass, field

from winch.codegen import func, parallel
from winch.codegen import nan_canon
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
    canonicalize_nans: bool = False  # compiled with NaN canonicalization (compile_module)
    fuel: bool = False  # compiled with fuel accounting (winch/codegen/fuel.py)
    epoch: bool = False  # compiled with epoch-interruption checks (winch/codegen/fuel.py)
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

    codegen = FuncCodegen  # the function compiler (fuel.configure may change it)

    def __init__(self, module, vm: VMOffsets, canonicalize_nans: bool = False):
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
        # per memory: (VM-context field of its base, of its size in bytes, 64-bit?, page log2)
        self.mems = tuple((vm.mem_base(i), vm.mem_size(i), int(mt.limits.is64), mt.limits.page_log2)
                          for i, mt in enumerate(self.mem_types))
        # NaN canonicalization (winch/codegen/nan_canon.py): a handler table of its own
        self.canonicalize_nans = canonicalize_nans
        self.by_byte = nan_canon.handlers(_handlers_for(self.mems), canonicalize_nans)


def _handlers_for(mems) -> list:
    """The function compiler's opcode-byte -> handler list for a module with these memories:
    the stock one, unless memory 0 is 64-bit (then every load and store takes the general
    path, `func._load_at` / `_store_at`; a handler replaced by name stays replaced)."""
    if not mems or not mems[0][2]:
        return func.BY_BYTE
    swap = {func._load: func._load_at, func._store: func._store_at}
    return [swap.get(h, h) for h in func.BY_BYTE]


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
    """Reject, by feature name, module-level constructs outside what we compile (core 2.0
    scalar, memory64, table64, multi-memory).  The value types of every function type and
    global are checked here, once: the function compiler relies on it (calls, block types,
    globals)."""
    for mt in env.mem_types:
        if mt.limits.shared:
            raise Unsupported("threads", "shared memory")
    for tt in env.table_types:
        if tt.elem not in (FUNCREF, EXTERNREF):
            raise Unsupported("function-references", "table element type")
    for t in dict.fromkeys(env.global_valtypes):  # each type once, in order of first use
        _check_type(t)
    for t in dict.fromkeys(t for ft in env.types for t in ft.params + ft.results):
        _check_type(t)
    for imp in m.imports:
        if imp.kind not in (0, EXT_TABLE, EXT_MEMORY, EXT_GLOBAL):
            raise Unsupported("exceptions", "tag import")


def compile_module(wasm: bytes, isa: str = "x64", decoded: Module | None = None,
                   jobs: int | None = None, *,
                   canonicalize_nans: bool = False, fuel: bool = False,
                   epoch: bool = False) -> CompiledModule:
    """Decode, validate and compile in one pass per function (one loop per body: the
    validator's, lowering each instruction as it is validated).

    Raises DecodeError, ValidationError or Unsupported; invalidity anywhere wins over an
    unsupported feature (the module is validated to the end before Unsupported is raised).
    `decoded`: `decode_module(wasm)` when the caller has it already (a module compiled for
    several ISAs is decoded once).  `jobs`: how many processes compile function bodies (the
    code is byte for byte the same for any value, see `winch.codegen.parallel`); None: the
    machine's cores for a module with more than `parallel.AUTO_MIN_BYTES` of code, else one.
    `canonicalize_nans`: every float operator that can make a NaN makes the canonical one, as
    wasmtime's `cranelift_nan_canonicalization` (winch/codegen/nan_canon.py).
    `fuel`, `epoch`: wasmtime's fuel accounting and epoch-interruption checks, as its
    `consume_fuel` and `epoch_interruption` (winch/codegen/fuel.py; one process).
    """
    # The compiler makes many small tuples and no reference cycles worth collecting while it
    # runs: the cyclic GC's passes over them cost about a sixth of the time (sql.js, x64).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if fuel or epoch:
            return _compile_module(wasm, isa, decoded, 1, canonicalize_nans, fuel, epoch)
        return _compile_module(wasm, isa, decoded, jobs, canonicalize_nans)
    finally:
        if gc_was_enabled:
            gc.enable()


def _compile_module(wasm: bytes, isa: str, decoded: Module | None, jobs,
                    canonicalize_nans: bool = False, fuel: bool = False,
                    epoch: bool = False) -> CompiledModule:
    from winch.masm.buffer import CodeBuffer

    m = decoded if decoded is not None else decode_module(wasm)
    jobs = parallel.jobs_for(m, jobs)
    vm = VMOffsets.for_module(m)
    env = Env(m, vm, canonicalize_nans)
    buf = CodeBuffer()
    masm = make_masm(isa, buf, env)
    if fuel or epoch:
        from winch.codegen import fuel as fuel_mod

        fuel_mod.configure(env, masm, fuel, epoch, m)
    env.func_labels = buf.new_labels(len(env.func_types))
    starts: list = []
    srclocs: list = []  # shared by the functions: code offset << 32 | wasm offset, ...

    try:
        check_module_scope(m, env)
        ctx = module_context(m)
        if jobs > 1:
            if not parallel.compile_parallel(m, env, masm, ctx, jobs, starts, srclocs):
                # some part failed: the one-process compile reports exactly its error
                return _compile_module(wasm, isa, m, 1, canonicalize_nans)
        else:
            compile_functions(m, env, masm, ctx, 0, len(m.funcs), starts, srclocs)
    except Unsupported as unsupported:
        # the module may still be malformed or invalid further on: that verdict wins
        validate_module(m)
        raise unsupported from None
    starts_end = starts[1:] + [buf.offset()]
    fin = buf.finish()
    return CompiledModule(isa, m, fin.code, tuple(starts), fin.traps,
                          srclocs, tuple(zip(starts, starts_end)), vm,
                          canonicalize_nans=canonicalize_nans, fuel=fuel, epoch=epoch)


def compile_functions(m, env: Env, masm, ctx, lo: int, hi: int, starts: list,
                      srclocs: list) -> None:
    """Compile defined functions lo..hi-1 into `masm`'s buffer, appending each one's start
    to `starts` and its source locations to `srclocs`."""
    buf = masm.buf
    first = env.num_imported_funcs
    data = m.raw
    for i in range(lo, hi):
        f = m.funcs[i]
        func_index = first + i
        masm.align_function()
        starts.append(buf.offset())
        buf.bind_label(env.func_labels[func_index])
        local_types = []
        for count, t in f.locals:
            local_types.extend([t] * count)
        g = env.codegen(env, masm, func_index, m.types[f.type_index], local_types, srclocs)
        try:
            validate_body(ctx, func_index, f, data, lower=g)
        except ValidationError:
            # a malformation anywhere in the code section wins over this invalidity
            for later in m.funcs[i:]:
                decode_instrs(data, later.body[0], later.body[1])
            raise
        g.finish()
