"""Compiling a module: one code buffer, one pass per function, inside the validator's loop."""

from __future__ import annotations

import array
import bisect
import gc
from dataclasses import dataclass, field

from winch.codegen import func, parallel
from winch.codegen import nan_canon
from winch.codegen.func import FuncCodegen, _check_type
from winch.errors import Unsupported, ValidationError
from winch.masm.buffer import CodeBuffer, merge_traps
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
    #: ((code offset, TrapKind), ...), sorted (`traps`); None until `traps` merges _trap_parts
    _traps: tuple | None
    #: per lowered instruction, `code offset << 32 | wasm offset` (sorted; `srcloc_packed`)
    _srcloc_packed: list = field(repr=False, default_factory=list)
    func_ranges: tuple = ()  # (start, end) code range of each defined function
    vm: VMOffsets = None
    _trap_map: dict = field(default_factory=dict, repr=False)
    canonicalize_nans: bool = False  # compiled with NaN canonicalization (compile_module)
    fuel: bool = False  # compiled with fuel accounting (winch/codegen/fuel.py)
    epoch: bool = False  # compiled with epoch-interruption checks (winch/codegen/fuel.py)
    #: debug code's table, a winch.debuginfo.DebugInfo (winch/codegen/debug.py); else None
    debug: object = None
    _srclocs: tuple = field(default=None, repr=False)
    #: what parallel compilation's workers sent, merged on first use (most compiles never
    #: trap nor explain): `merge_traps`'s arguments, and (code offset shift, "Q" array bytes)
    #: per part for the source locations after `_srcloc_packed`'s
    _trap_parts: tuple = field(default=(), repr=False)
    _srcloc_parts: tuple = field(default=(), repr=False)

    @property
    def traps(self) -> tuple:
        if self._traps is None:
            self._traps = merge_traps(*self._trap_parts)
        return self._traps

    @property
    def srcloc_packed(self) -> list:
        if self._srcloc_parts:
            packed = self._srcloc_packed
            for shift, raw in self._srcloc_parts:
                packed.extend([x + shift for x in array.array("Q", raw)])
            self._srcloc_parts = ()
        return self._srcloc_packed

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

    def __init__(self, module, vm: VMOffsets, canonicalize_nans: bool = False,
                 spaces: tuple | None = None):
        self.types = module.types
        # `spaces`: `index_spaces(module)` when the caller has it already
        (self.func_types, self.table_types, self.mem_types, self.global_types,
         self.num_imported_funcs) = spaces or index_spaces(module)
        self.vm = vm
        self.func_labels: list = []
        # per global, once per module: its value type and the VM-context field of its cell
        self.global_valtypes = tuple([gt.valtype for gt in self.global_types])
        first = vm.global_ptr(0)  # global i's cell: global_ptr(i) = global_ptr(0) + 8 * i
        self.global_ptrs = tuple(range(first, first + 8 * len(self.global_types), 8))
        # per memory: (VM-context field of its base, of its size in bytes, 64-bit?, page log2)
        self.mems = tuple((vm.mem_base(i), vm.mem_size(i), int(mt.limits.is64), mt.limits.page_log2)
                          for i, mt in enumerate(self.mem_types))
        # NaN canonicalization (winch/codegen/nan_canon.py): a handler table of its own
        self.canonicalize_nans = canonicalize_nans
        self.by_byte = nan_canon.handlers(_handlers_for(self.mems), canonicalize_nans)


def index_spaces(m) -> tuple:
    """(func_types, table_types, mem_types, global_types, num_imported_funcs) of module `m`,
    as its properties give them, each computed once (a module without imports, as most
    generated ones, needs no pass over the imports)."""
    if not m.imports:
        return (tuple([f.type_index for f in m.funcs]), tuple(m.tables), tuple(m.mems),
                tuple([g.type for g in m.globals]), 0)
    return m.func_types, m.table_types, m.mem_types, m.global_types, m.num_imported_funcs


def _handlers_for(mems) -> list:
    """The function compiler's opcode-byte -> handler list for a module with these memories:
    the stock one, unless memory 0 is 64-bit (then every load and store takes the general
    path, `func._load_at` / `_store_at`; a handler replaced by name stays replaced)."""
    if not mems or not mems[0][2]:
        return func.BY_BYTE
    swap = {func._load: func._load_at, func._store: func._store_at}
    return [swap.get(h, h) for h in func.BY_BYTE]


#: the macro-assembler class of each target, imported on first use (`make_masm`)
_MASM_CLASSES: dict = {}


def make_masm(isa: str, buf, env):
    cls = _MASM_CLASSES.get(isa)
    if cls is None:
        cls = _MASM_CLASSES[isa] = _masm_class(isa)
    return cls(buf, env)


def _masm_class(isa: str):
    if isa == "x64":
        from winch.isa.x64.masm import X64Masm

        return X64Masm
    if isa == "aarch64":
        from winch.isa.aarch64.masm import A64Masm

        return A64Masm
    if isa == "s390x":
        from winch.isa.s390x.masm import S390xMasm

        return S390xMasm
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
    ok = func.COMPILED_TYPES.issuperset
    if not ok(env.global_valtypes):
        for t in dict.fromkeys(env.global_valtypes):  # each type once, in order of first use
            _check_type(t)
    for ft in env.types:
        if not (ok(ft.params) and ok(ft.results)):  # the first unsupported one, in order
            for t in dict.fromkeys(t for ft in env.types for t in ft.params + ft.results):
                _check_type(t)
    for imp in m.imports:
        if imp.kind not in (0, EXT_TABLE, EXT_MEMORY, EXT_GLOBAL):
            raise Unsupported("exceptions", "tag import")


def compile_module(wasm: bytes, isa: str = "x64", decoded: Module | None = None,
                   jobs: int | None = None, *,
                   canonicalize_nans: bool = False, fuel: bool = False,
                   epoch: bool = False, debug: bool | str = False) -> CompiledModule:
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
    `debug`: debug code, every value in its frame slot at every instruction boundary, and
    `CompiledModule.debug` its table (winch/codegen/debug.py; one process); `debug="observe"`:
    normal code, byte for byte, and a table of where each value is at each boundary.
    """
    # The compiler makes many small tuples and no reference cycles worth collecting while it
    # runs: the cyclic GC's passes over them cost about a sixth of the time (sql.js, x64).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if debug:
            return _compile_module(wasm, isa, decoded, 1, canonicalize_nans, fuel, epoch,
                                   debug=debug)
        if fuel or epoch:
            return _compile_module(wasm, isa, decoded, 1, canonicalize_nans, fuel, epoch)
        return _compile_module(wasm, isa, decoded, jobs, canonicalize_nans)
    finally:
        if gc_was_enabled:
            gc.enable()


def _compile_module(wasm: bytes, isa: str, decoded: Module | None, jobs,
                    canonicalize_nans: bool = False, fuel: bool = False,
                    epoch: bool = False, debug: bool | str = False) -> CompiledModule:
    m = decoded if decoded is not None else decode_module(wasm)
    jobs = parallel.jobs_for(m, jobs)
    spaces = index_spaces(m)
    func_types, table_types, mem_types, global_types, num_imported_funcs = spaces
    # VMOffsets.for_module(m), from the index spaces computed once
    vm = VMOffsets(nglobals=len(global_types), nimports=num_imported_funcs,
                   ntables=len(table_types), ntypes=len(m.types), nfuncs=len(func_types),
                   nmems=len(mem_types))
    env = Env(m, vm, canonicalize_nans, spaces)
    buf = CodeBuffer()
    masm = make_masm(isa, buf, env)
    if fuel or epoch:
        from winch.codegen import fuel as fuel_mod

        fuel_mod.configure(env, masm, fuel, epoch, m)
    if debug:
        from winch.codegen import debug as debug_mod

        debug_mod.configure(env, masm, isa, observe=debug == "observe")
    env.func_labels = buf.new_labels(len(env.func_types))
    starts: list = []
    srclocs: list = []  # shared by the functions: code offset << 32 | wasm offset, ...
    srcloc_parts: list = []  # parallel workers' srclocs: (code offset shift, "Q" array bytes)

    try:
        check_module_scope(m, env)
        ctx = module_context(m)
        if jobs > 1:
            if not parallel.compile_parallel(m, env, masm, ctx, jobs, starts, srclocs,
                                              srcloc_parts):
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
                          canonicalize_nans=canonicalize_nans, fuel=fuel, epoch=epoch,
                          debug=debug_mod.debug_info(env, isa, debug == "observe")
                          if debug else None,
                          _trap_parts=fin.trap_parts, _srcloc_parts=tuple(srcloc_parts))


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
