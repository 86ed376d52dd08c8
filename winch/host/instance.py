"""Instantiation: linking imports, laying out the VM context, initialising segments."""

from __future__ import annotations

import struct

from winch.codegen.compile import CompiledModule
from winch.host.store import (STACK_BASE, STACK_RED_ZONE, FuncRef, Global, HostFunc, HostTrap,
                              Instance, LinkError, Memory, Returned, Store, Table)
from winch.traps import TrapKind
from winch.vmctx import BUILTIN_NAMES, FUNCREF_SIZE, STACK_LIMIT, VMCTX_PREFIX
from winch.wasm.module import EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, EXT_NAMES, EXT_TABLE
from winch.wasm.types import EXTERNREF, FUNCREF, I32, I64

M32, M64 = 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF


class InstantiationTrap(Exception):
    def __init__(self, outcome):
        super().__init__(str(outcome))
        self.outcome = outcome


def _limits_ok(have_min, have_max, want) -> bool:
    if have_min < want.min:
        return False
    if want.max is not None and (have_max is None or have_max > want.max):
        return False
    return True


def page_log2(limits) -> int:
    """A memory's page size as a power of two (16 unless custom-page-sizes says 0)."""
    return getattr(limits, "page_log2", 16)


def memory_matches(mem: Memory, want) -> bool:
    """Does `mem` satisfy an import of memory type limits `want` (index type, page size,
    current size and maximum)?"""
    return (mem.is64 == bool(want.is64) and mem.page_log2 == page_log2(want)
            and _limits_ok(mem.pages, mem.max, want))


def table_matches(t: Table, want) -> bool:
    return (t.elem == want.elem and t.is64 == bool(want.limits.is64)
            and _limits_ok(t.size, t.max, want.limits))


def func_type_of(store: Store, ext):
    if isinstance(ext, HostFunc):
        return ext.params, ext.results
    if isinstance(ext, FuncRef) and isinstance(ext.instance, HostFunc):
        return ext.instance.params, ext.instance.results
    if isinstance(ext, FuncRef):
        m = ext.instance.compiled.module
        ft = m.func_type(ext.index)
        return tuple(ft.params), tuple(ft.results)
    return None


def instantiate(store: Store, compiled: CompiledModule, imports: dict) -> Instance:
    """`imports` maps (module, name) to Memory / Table / Global / HostFunc / FuncRef."""
    m = compiled.module
    vm = compiled.vm
    if compiled.isa != store.isa_name:
        raise LinkError(f"module compiled for {compiled.isa}, store runs {store.isa_name}")
    funcs, tables, mems, globals_ = [], [], [], []
    for imp in m.imports:
        ext = imports.get((imp.module, imp.name))
        where = f"{imp.module}.{imp.name}"
        if ext is None:
            raise LinkError(f"unknown import {where}")
        if imp.kind == EXT_FUNC:
            sig = func_type_of(store, ext)
            want = m.types[imp.desc]
            if sig is None or sig != (tuple(want.params), tuple(want.results)):
                raise LinkError(f"incompatible import type for {where}")
            funcs.append(ext)
        elif imp.kind == EXT_TABLE:
            if not isinstance(ext, Table) or not table_matches(ext, imp.desc):
                raise LinkError(f"incompatible import type for {where}")
            tables.append(ext)
        elif imp.kind == EXT_MEMORY:
            if not isinstance(ext, Memory) or not memory_matches(ext, imp.desc.limits):
                raise LinkError(f"incompatible import type for {where}")
            mems.append(ext)
        elif imp.kind == EXT_GLOBAL:
            if not isinstance(ext, Global) or ext.valtype != imp.desc.valtype or \
                    ext.mutable != imp.desc.mutable:
                raise LinkError(f"incompatible import type for {where}")
            globals_.append(ext)
        else:
            raise LinkError(f"cannot import a {EXT_NAMES.get(imp.kind, imp.kind)}")

    mu = store.mu
    limited = compiled.fuel or compiled.epoch  # fields below the vmctx (winch/vmctx.py)
    vmctx = store._alloc(vm.size + VMCTX_PREFIX) + VMCTX_PREFIX if limited else \
        store._alloc(vm.size)
    # the code is mapped last (below): its size varies most between modules, and a store
    # reset for the next module reuses every region that lands where an equal one was
    inst = Instance(compiled, vmctx, 0, [], [], mems, tables, globals_, {})
    store.instances_by_vmctx[vmctx] = inst
    # the vmctx is built in Python and written in one piece once its fields are known (one
    # Unicorn write per field cost more than the rest of a small module's instantiation);
    # nothing reads or writes it in Unicorn memory before then
    image = bytearray(vm.size)
    u64 = struct.Struct("<Q" if store.bo == "little" else ">Q").pack_into

    def w(off, v):
        u64(image, off, v & M64)

    w(STACK_LIMIT, STACK_BASE + STACK_RED_ZONE)
    for name, stub in zip(BUILTIN_NAMES, store.builtin_stubs):
        w(vm.builtin(name), stub)

    # memories and tables (defined ones are created here)
    for mt in m.mems:
        lim = mt.limits
        mems.append(store.new_memory(lim.min, lim.max, bool(lim.is64), page_log2(lim)))
    for i, mem in enumerate(mems):  # Wasm index order: imported memories first
        mem.views.append(vmctx + vm.mem_size(i))
        w(vm.mem_base(i), mem.base)
        w(vm.mem_size(i), mem.byte_size)
    for tt in m.tables:
        tables.append(store.new_table(tt.elem, tt.limits.min, tt.limits.max,
                                      is64=bool(tt.limits.is64)))
    for i, t in enumerate(tables):
        t.views.append((vmctx, vm.table_base(i)))
        w(vm.table_base(i), t.base)
        w(vm.table_len(i), t.size)

    # signatures and functions
    for ti, ft in enumerate(m.types):
        w(vm.sig(ti), store.sig_id(ft))
    nimp = len(funcs)
    for i, ext in enumerate(funcs):
        if isinstance(ext, HostFunc):
            ref = FuncRef(ext.record, ext, -1)
        else:
            ref = ext
        inst.funcs.append(ref)
        w(vm.import_code(i), store.read_u64(ref.record))
        w(vm.import_vmctx(i), store.read_u64(ref.record + 16))
    ndef = len(m.funcs)
    records = store._alloc(FUNCREF_SIZE * ndef) if ndef else 0
    for j in range(ndef):
        ref = FuncRef(records + FUNCREF_SIZE * j, inst, nimp + j)
        store.records[ref.record] = (inst, nimp + j)
        inst.funcs.append(ref)
    for fi, ref in enumerate(inst.funcs):
        w(vm.funcref(fi), ref.record)

    # globals (initialisers may read imported and earlier globals)
    for gdef in m.globals:
        bits = eval_const(store, inst, gdef.init)
        globals_.append(store.new_global(gdef.type.valtype, gdef.type.mutable, bits))
    for i, g in enumerate(globals_):
        w(vm.global_ptr(i), g.cell)
    mu.mem_write(vmctx, bytes(image))
    if limited:
        store.vmctx_prefix(vmctx, compiled.epoch)

    # the code, then the records of its functions (each written in one piece)
    code_base = inst.code_base = store._alloc(len(compiled.code) or 1,
                                              prot=store.isa.code_prot)
    mu.mem_write(code_base, compiled.code)
    if ndef:
        blob = bytearray(FUNCREF_SIZE * ndef)
        for j, f in enumerate(m.funcs):
            off = FUNCREF_SIZE * j
            u64(blob, off, (code_base + compiled.func_offsets[j]) & M64)
            u64(blob, off + 8, store.sig_id(m.types[f.type_index]) & M64)
            u64(blob, off + 16, vmctx & M64)
        mu.mem_write(records, bytes(blob))

    # exports
    for e in m.exports:
        inst.exports[e.name] = {EXT_FUNC: inst.funcs, EXT_TABLE: tables, EXT_MEMORY: mems,
                                EXT_GLOBAL: globals_}[e.kind][e.index]

    # element segments, then data segments, in order; a trap keeps what was written
    inst.elem_values = []
    for seg in m.elems:
        if seg.funcs is not None:
            vals = [inst.funcs[f].record for f in seg.funcs]
        else:
            vals = [eval_const(store, inst, ex) for ex in seg.exprs]
        inst.elem_values.append(vals)
    for si, seg in enumerate(m.elems):
        if seg.mode == "active":
            t = tables[seg.table]
            off = eval_const(store, inst, seg.offset) & (M64 if t.is64 else M32)
            vals = inst.elem_values[si]
            if off + len(vals) > t.size:
                raise InstantiationTrap(_trap(TrapKind.table_out_of_bounds))
            store._table_write(t, off, vals)
            inst.dropped_elems.add(si)
        elif seg.mode == "declarative":
            inst.dropped_elems.add(si)
    for di, seg in enumerate(m.datas):
        if seg.mode == "active":
            mem = mems[seg.memory]
            off = eval_const(store, inst, seg.offset) & (M64 if mem.is64 else M32)
            if off + len(seg.init) > mem.byte_size:
                raise InstantiationTrap(_trap(TrapKind.memory_out_of_bounds))
            if seg.init:
                mu.mem_write(mem.base + off, seg.init)
            inst.dropped_data.add(di)

    if m.start is not None:
        if compiled.fuel:
            store.consume_fuel(2)  # what wasmtime 50 charges to enter a start function
        out = call(store, inst.funcs[m.start], [])
        if not isinstance(out, Returned):
            raise InstantiationTrap(out)
    return inst


def _trap(kind):
    from winch.host.store import Trapped

    return Trapped(kind)


def eval_const(store: Store, inst: Instance, expr) -> int:
    stack = []
    for ins in expr.instrs:
        n = ins.op.name
        if n in ("i32.const",):
            stack.append(ins.imm & M32)
        elif n == "i64.const":
            stack.append(ins.imm & M64)
        elif n in ("f32.const", "f64.const"):
            stack.append(ins.imm)
        elif n == "ref.null":
            stack.append(0)
        elif n == "ref.func":
            stack.append(inst.funcs[ins.imm].record)
        elif n == "global.get":
            stack.append(store.global_value(inst.globals[ins.imm]))
        elif n in ("i32.add", "i32.sub", "i32.mul", "i64.add", "i64.sub", "i64.mul"):
            b = stack.pop()
            a = stack.pop()
            r = a + b if n.endswith("add") else a - b if n.endswith("sub") else a * b
            stack.append(r & (M32 if n[1] == "3" else M64))
        else:
            raise LinkError(f"unsupported constant expression {n}")
    return stack[-1]


def call(store: Store, ref, args: list):
    """Call a function value (FuncRef or HostFunc) with raw argument bits."""
    if isinstance(ref, HostFunc) or (isinstance(ref, FuncRef) and isinstance(ref.instance,
                                                                              HostFunc)):
        hf = ref if isinstance(ref, HostFunc) else ref.instance
        try:
            conv = [store.extern_value(a) if t == EXTERNREF else a
                    for a, t in zip(args, hf.params)]
            res = hf.fn(*conv) or []
        except HostTrap as t:
            from winch.host.store import Trapped

            return Trapped(t.kind, message=str(t))
        return Returned([store.extern_handle(v) if t == EXTERNREF else v
                         for v, t in zip(res, hf.results)])
    inst = ref.instance
    ft = inst.compiled.module.func_type(ref.index)
    code = store.read_u64(ref.record)
    return store.call_address(code, inst.vmctx, ft.params, ft.results, args)
