"""Compiling a module: one code buffer, one pass per function, inside the validator's loop."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from winch.codegen.func import FuncCodegen, _check_type
from winch.errors import Unsupported
from winch.vmctx import VMOffsets
from winch.wasm.module import EXT_GLOBAL, EXT_MEMORY, EXT_TABLE, Module
from winch.wasm.reader import decode_module
from winch.wasm.validate import validate_module
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
    srclocs: tuple  # ((code offset, wasm offset), ...) per lowered instruction, sorted
    func_ranges: tuple = ()  # (start, end) code range of each defined function
    vm: VMOffsets = None
    _trap_map: dict = field(default_factory=dict, repr=False)

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


def check_module_scope(m) -> None:
    """Reject, by feature name, module-level constructs outside core-2.0 scalar."""
    mems = m.mem_types
    if len(mems) > 1:
        raise Unsupported("multi-memory", f"{len(mems)} memories")
    for mt in mems:
        if mt.limits.is64:
            raise Unsupported("memory64", "64-bit memory")
        if mt.limits.shared:
            raise Unsupported("threads", "shared memory")
    for tt in m.table_types:
        if tt.limits.is64:
            raise Unsupported("memory64", "64-bit table")
        if tt.elem not in (FUNCREF, EXTERNREF):
            raise Unsupported("function-references", "table element type")
    for gt in m.global_types:
        _check_type(gt.valtype)
    for ft in m.types:
        for t in ft.params + ft.results:
            _check_type(t)
    for imp in m.imports:
        if imp.kind not in (0, EXT_TABLE, EXT_MEMORY, EXT_GLOBAL):
            raise Unsupported("exceptions", "tag import")


def compile_module(wasm: bytes, isa: str = "x64",
                   decoded: Module | None = None) -> CompiledModule:
    """Decode, validate and compile in one pass per function.

    Raises DecodeError, ValidationError or Unsupported; invalidity anywhere wins over an
    unsupported feature (the module is validated to the end before Unsupported is raised).
    `decoded`: `decode_module(wasm)` when the caller has it already (a module compiled for
    several ISAs is decoded once).
    """
    from winch.masm.buffer import CodeBuffer

    m = decoded if decoded is not None else decode_module(wasm)
    vm = VMOffsets.for_module(m)
    env = Env(m, vm)
    buf = CodeBuffer()
    masm = make_masm(isa, buf, env)
    env.func_labels = [buf.new_label() for _ in range(len(m.func_types))]
    first = m.num_imported_funcs
    starts: list = []
    srclocs: list = []
    current: list = []

    def finish_current():
        if current:
            g = current.pop()
            g.finish()
            srclocs.extend(g.srclocs)

    def factory(func_index):
        finish_current()
        masm.align_function()
        starts.append(buf.offset())
        buf.bind_label(env.func_labels[func_index])
        f = m.funcs[func_index - first]
        local_types = []
        for count, t in f.locals:
            local_types.extend([t] * count)
        g = FuncCodegen(env, masm, func_index, m.types[f.type_index], local_types)
        current.append(g)
        return g.visit

    try:
        check_module_scope(m)
        validate_module(m, factory)
        finish_current()
    except Unsupported as unsupported:
        # the module may still be malformed or invalid further on: that verdict wins
        validate_module(m)
        raise unsupported from None
    starts_end = starts[1:] + [buf.offset()]
    fin = buf.finish()
    return CompiledModule(isa, m, fin.code, tuple(starts), tuple(sorted(fin.traps)),
                          tuple(srclocs), tuple(zip(starts, starts_end)), vm)
