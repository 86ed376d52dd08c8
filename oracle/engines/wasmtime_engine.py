"""wasmtime (Cranelift or wasmtime's own Winch) through wasmtime-py.

Values cross the C API as raw `wasmtime_val_t`s so float bit patterns (signalling NaNs
included) survive: f32/f64 are written and read through the union's integer members.
"""

from __future__ import annotations

import ctypes
from ctypes import byref, c_uint64

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._func import enter_wasm

from oracle.engines.base import (INSTANTIATION_EPOCH_TICKS, INSTANTIATION_FUEL, Engine,
                                 InstantiationTrapped, LinkError, NotRun, Rejected,
                                 ResourceLimited, Session)
from oracle.outcomes import Exhausted, HostError, Trap, TrapKind, Values
from oracle.values import GcRef, Value
from winch.host.store import MAX_MEMORY_BYTES, MAX_TABLE

# C API value kinds (wasmtime/val.h)
K_I32, K_I64, K_F32, K_F64, K_V128, K_FUNCREF, K_EXTERNREF, K_ANYREF, K_EXNREF = range(9)
KIND_OF_TYPE = {"i32": K_I32, "i64": K_I64, "f32": K_F32, "f64": K_F64, "v128": K_V128,
                "funcref": K_FUNCREF, "externref": K_EXTERNREF, "anyref": K_ANYREF,
                "exnref": K_EXNREF}

# wasmtime's trap codes -> our kinds: the one table for this engine
TRAP_KINDS = {
    wasmtime.TrapCode.STACK_OVERFLOW: TrapKind.call_stack_exhausted,
    wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS: TrapKind.memory_out_of_bounds,
    wasmtime.TrapCode.HEAP_MISALIGNED: TrapKind.unaligned_atomic,
    wasmtime.TrapCode.TABLE_OUT_OF_BOUNDS: TrapKind.table_out_of_bounds,
    wasmtime.TrapCode.INDIRECT_CALL_TO_NULL: TrapKind.indirect_call_null,
    wasmtime.TrapCode.BAD_SIGNATURE: TrapKind.indirect_call_type_mismatch,
    wasmtime.TrapCode.INTEGER_OVERFLOW: TrapKind.integer_overflow,
    wasmtime.TrapCode.INTEGER_DIVISION_BY_ZERO: TrapKind.integer_divide_by_zero,
    wasmtime.TrapCode.BAD_CONVERSION_TO_INTEGER: TrapKind.invalid_conversion_to_integer,
    wasmtime.TrapCode.UNREACHABLE: TrapKind.unreachable,
    wasmtime.TrapCode.INTERRUPT: TrapKind.interrupt,
    wasmtime.TrapCode.OUT_OF_FUEL: TrapKind.out_of_fuel,
    wasmtime.TrapCode.NULL_REFERENCE: TrapKind.null_reference,
    wasmtime.TrapCode.ARRAY_OUT_OF_BOUNDS: TrapKind.array_out_of_bounds,
    wasmtime.TrapCode.ALLOCATION_TOO_LARGE: TrapKind.allocation_too_large,
    wasmtime.TrapCode.CAST_FAILURE: TrapKind.cast_failure,
}

STRATEGY = {"cranelift": 1, "winch": 2}

# what our host provides, per memory and per table: the reference gets the same limits
HOST_MEMORY_BYTES = MAX_MEMORY_BYTES
HOST_TABLE_ELEMENTS = MAX_TABLE


def make_config(strategy: str = "cranelift", fuel: bool = False, *,
                canonicalize_nans: bool = False, epoch: bool = False) -> wasmtime.Config:
    config = wasmtime.Config()
    config.epoch_interruption = epoch
    # (wasmtime 50 canonicalizes with its Winch strategy too: tests/test_nan_canonicalization)
    config.cranelift_nan_canonicalization = canonicalize_nans
    ffi.wasmtime_config_strategy_set(config.ptr(), STRATEGY[strategy])
    config.parallel_compilation = False
    config.consume_fuel = fuel
    if strategy == "cranelift":
        # every proposal the suite exercises that wasmtime implements
        for prop in ("wasm_threads", "wasm_tail_call", "wasm_reference_types", "wasm_simd",
                     "wasm_bulk_memory", "wasm_multi_value", "wasm_multi_memory",
                     "wasm_relaxed_simd", "wasm_exceptions", "wasm_function_references",
                     "wasm_gc", "wasm_custom_page_sizes", "wasm_memory64", "wasm_wide_arithmetic"):
            # (write-only properties: `hasattr` is False for every one of them)
            if isinstance(getattr(type(config), prop, None), property):
                setattr(config, prop, True)
        ffi.wasmtime_config_wasm_memory64_set(config.ptr(), True)
        config.shared_memory = True
    else:
        ffi.wasmtime_config_wasm_memory64_set(config.ptr(), True)
        config.wasm_multi_memory = True
        config.wasm_tail_call = True
    return config


FUEL_PER_SECOND = 200_000_000  # budget seconds -> fuel units (about one per instruction)
# A host call runs Python: microseconds that fuel, counting wasm instructions, does not see.
# Charged per call, so a loop around an import runs out within the budget's order of time.
HOST_CALL_FUEL = 2_000


def _charge(caller) -> None:
    ctx = caller._context()
    left = c_uint64(0)
    if not ffi.wasmtime_context_get_fuel(ctx, byref(left)):
        ffi.wasmtime_context_set_fuel(ctx, max(0, left.value - HOST_CALL_FUEL))


class WasmtimeEngine(Engine):
    def __init__(self, strategy: str = "cranelift", budget: float | None = None, *,
                 canonicalize_nans: bool = False, fuel: int | None = None,
                 epoch_deadline: int | None = None):
        self.strategy = strategy
        self.name = "wasmtime" if strategy == "cranelift" else "wasmtime-winch"
        # `fuel`: the store's fuel, compared after every call (oracle diff --fuel); it then
        # bounds the work instead of the budget
        self.user_fuel = fuel
        self.epoch_deadline = epoch_deadline
        self.fuel = int(budget * FUEL_PER_SECOND) if budget and fuel is None else None
        self.canonicalize_nans = canonicalize_nans
        self.engine = wasmtime.Engine(make_config(
            strategy, fuel=self.fuel is not None or fuel is not None,
            canonicalize_nans=canonicalize_nans, epoch=epoch_deadline is not None))

    def session(self) -> "WasmtimeSession":
        s = WasmtimeSession(self.engine, self.fuel)
        s.user_fuel = self.user_fuel
        s.epoch_deadline = self.epoch_deadline
        if self.epoch_deadline is not None:
            s.store.set_epoch_deadline(self.epoch_deadline)
        if self.strategy == "winch":
            s.crashing_ops = WINCH_CRASHING_OPS
        return s


# Operators on which wasmtime's Winch (wasmtime 50.0.1) crashes the whole process (SIGSEGV)
# when values are live on its value stack: `(i64.const 0) (local.tee 1) (memory.size)
# (memory.size) (global.get 0) (i32.const 0) (i32.const 0) (i32.const 0) (table.copy 0 1)`
# while compiling; `table.init` alike (a generated module reduced to 12 instructions); and
# modules mixing `table.set`, `table.fill`, `table.grow`, `table.get` and `table.size` with
# deep stacks (a generated module reduced to 112 instructions, no call needed).  In-process,
# that kills a fuzz target or a test worker: a module using any table instruction is not
# given to wasmtime-winch.  It is a third opinion: the reference and our engines still
# compare such modules.
WINCH_CRASHING_OPS = {name: name for name in (
    "table.get", "table.set", "table.size", "table.grow", "table.fill", "table.copy",
    "table.init", "elem.drop")}


def _crashing_op(wasm: bytes, names) -> str | None:
    """The first operator of `names` some function of `wasm` uses, or None (also when the
    module does not decode: the engine's own compile reports that)."""
    from winch.wasm.instrs import decode_instrs
    from winch.wasm.reader import decode_module

    try:
        m = decode_module(bytes(wasm))
        for f in m.funcs:
            for ins in decode_instrs(m.raw, f.body[0], f.body[1]):
                if ins.op.name in names:
                    return ins.op.name
    except Exception:  # noqa: BLE001 - malformed: wasmtime says why
        return None
    return None


class WasmtimeSession(Session):
    user_fuel = None  # the store's fuel (`WasmtimeEngine`), set after each instantiation
    epoch_deadline = None  # the store's epoch deadline (`WasmtimeEngine`)

    def __init__(self, engine: wasmtime.Engine, fuel: int | None = None):
        self.engine = engine
        self.store = wasmtime.Store(engine)
        # the limits of our Unicorn host, per memory and per table: beyond them both refuse
        # to instantiate (a resource limit: inconclusive) and memory.grow / table.grow
        # answer -1 (as the spec allows), where an unlimited wasmtime would succeed
        self.store.set_limits(memory_size=HOST_MEMORY_BYTES, table_elements=HOST_TABLE_ELEMENTS)
        self.fuel = fuel
        self.linker = wasmtime.Linker(engine)
        self.linker.allow_shadowing = True
        self._spectest_defined = False
        self._host_funcs: set = set()  # (module, name) given by define_host_func
        # (id(instance), export) -> (instance, Func, number of results): the plan calls each
        # export several times, and a function's type costs several C calls to read
        self._funcs: dict = {}

    # -- the spectest host module -------------------------------------------------------
    def _define_spectest(self) -> None:
        """Defined on first use: most modules never import `spectest`."""
        self._spectest_defined = True
        s, L = self.store, self.linker
        i32, i64, f32, f64 = (wasmtime.ValType.i32(), wasmtime.ValType.i64(),
                              wasmtime.ValType.f32(), wasmtime.ValType.f64())
        prints = {"print": [], "print_i32": [i32], "print_i64": [i64], "print_f32": [f32],
                  "print_f64": [f64], "print_i32_f32": [i32, f32], "print_f64_f64": [f64, f64]}
        own = {n for m, n in self._host_funcs if m == "spectest"}  # the session's win
        for name, params in prints.items():
            if name not in own:
                L.define_func("spectest", name, wasmtime.FuncType(params, []), lambda *a: None)
        for name, ty, val in (("global_i32", i32, 666), ("global_i64", i64, 666),
                              ("global_f32", f32, 666.6), ("global_f64", f64, 666.6)):
            if name not in own:
                L.define(s, "spectest", name,
                         wasmtime.Global(s, wasmtime.GlobalType(ty, False), val))
        if "table" not in own:
            L.define(s, "spectest", "table",
                     wasmtime.Table(s, wasmtime.TableType(wasmtime.ValType.funcref(),
                                                          wasmtime.Limits(10, 20)), None))
        if "memory" not in own:
            L.define(s, "spectest", "memory",
                     wasmtime.Memory(s, wasmtime.MemoryType(wasmtime.Limits(1, 2))))
        # `table64` (an i64-indexed table) cannot be built through wasmtime-py's TableType;
        # modules importing it fail to link and the runner reports that as a skip.

    # -- modules ------------------------------------------------------------------------
    crashing_ops: dict = {}  # operator names: modules using one are not compiled here

    def compile(self, wasm: bytes) -> wasmtime.Module:
        name = _crashing_op(wasm, self.crashing_ops) if self.crashing_ops else None
        if name is not None:
            raise Rejected("unsupported", f"{name}: wasmtime-winch crashes the process on table "
                           f"instructions (known wasmtime 50.0.1 bug), not run", feature=name)
        try:
            return wasmtime.Module(self.engine, bytes(wasm))
        except wasmtime.WasmtimeError as e:
            msg = str(e)
            cause = _cause(msg)
            low = msg.lower()
            kind = "unsupported" if any(w in low for w in _UNSUPPORTED_WORDS) else "rejected"
            raise Rejected(kind, cause, feature=cause if kind == "unsupported" else None) \
                from None

    def instantiate(self, compiled: wasmtime.Module) -> wasmtime.Instance:
        if self.fuel is not None:
            self.store.set_fuel(self.fuel)
        if self.user_fuel is not None:  # instantiation's own work is not compared
            self.store.set_fuel(INSTANTIATION_FUEL)
        if self.epoch_deadline is not None:  # (nor interrupted: base.py)
            self.store.set_epoch_deadline(INSTANTIATION_EPOCH_TICKS)
        if not self._spectest_defined and any(
                imp.module == "spectest" for imp in compiled.imports):
            self._define_spectest()
        try:
            inst = self.linker.instantiate(self.store, compiled)
            if self.user_fuel is not None:
                self.store.set_fuel(self.user_fuel)
            if self.epoch_deadline is not None:
                self.store.set_epoch_deadline(self.epoch_deadline)
            return inst
        except wasmtime.Trap as t:
            raise InstantiationTrapped(_trap_outcome(t)) from None
        except wasmtime.WasmtimeError as e:
            msg = str(e)
            if "stack overflow" in msg.lower():
                raise InstantiationTrapped(Trap(TrapKind.call_stack_exhausted, msg)) from None
            if _looks_like_trap(msg):
                raise InstantiationTrapped(Trap(TrapKind.other, msg)) from None
            if "out of memory" in msg or "failed to allocate" in msg or \
                    "exceeds memory limits" in msg or "exceeds table limits" in msg or \
                    "mmap failed" in msg:
                raise ResourceLimited(msg.splitlines()[0]) from None
            raise LinkError(msg) from None

    def define_host_func(self, module, name, params, results, fn) -> None:
        vt = {"i32": wasmtime.ValType.i32(), "i64": wasmtime.ValType.i64(),
              "f32": wasmtime.ValType.f32(), "f64": wasmtime.ValType.f64(),
              "externref": wasmtime.ValType.externref(), "funcref": wasmtime.ValType.funcref()}
        ft = wasmtime.FuncType([vt[t] for t in params], [vt[t] for t in results])

        fuel = self.fuel is not None

        def call(caller, *args):
            if fuel:
                _charge(caller)
            bits = [_py_to_bits(t, a) for t, a in zip(params, args)]
            out = [_bits_to_py(t, b) for t, b in zip(results, fn(*bits))]
            return None if not out else out[0] if len(out) == 1 else out

        self.linker.define_func(module, name, ft, call, access_caller=True)
        self._host_funcs.add((module, name))

    def memory_bytes(self, instance, export) -> bytes:
        mem = instance.exports(self.store).get(export)
        if not isinstance(mem, wasmtime.Memory):
            raise NotRun(f"no exported memory {export!r}")
        n = mem.data_len(self.store)
        return ctypes.string_at(mem.data_ptr(self.store), n) if n else b""

    def register(self, name: str, instance: wasmtime.Instance) -> None:
        if name == "spectest":
            self._spectest_defined = True
        self.linker.define_instance(self.store, name, instance)

    # -- running ------------------------------------------------------------------------
    def invoke(self, instance: wasmtime.Instance, export: str, args: list):
        key = (id(instance), export)
        known = self._funcs.get(key)
        if known is None or known[0] is not instance:
            func = instance.exports(self.store).get(export)
            if not isinstance(func, wasmtime.Func):
                return HostError(f"no exported function {export!r}")
            known = self._funcs[key] = (instance, func, len(func.type(self.store).results))
        _, func, nresults = known
        params = (ffi.wasmtime_val_t * max(len(args), 1))()
        for i, v in enumerate(args):
            params[i] = self._to_raw(v)
        results = (ffi.wasmtime_val_t * max(nresults, 1))()
        if self.fuel is not None:
            self.store.set_fuel(self.fuel)
        try:
            with enter_wasm(self.store) as trap:
                error = ffi.wasmtime_func_call(self.store._context(), byref(func._func), params,
                                               len(args), results, nresults, trap)
                if error:
                    raise wasmtime.WasmtimeError._from_ptr(error)
        except wasmtime.Trap as t:
            out = _trap_outcome(t)
            if isinstance(out, Exhausted) and (
                    out.reason == "out_of_fuel" and self.user_fuel is not None
                    or out.reason == "interrupt" and self.epoch_deadline is not None):
                return Trap(TrapKind[out.reason], "")  # the limit asked for: compared
            return out
        except wasmtime.WasmtimeError as e:
            msg = str(e)
            if "exception" in msg.lower():
                return Trap(TrapKind.uncaught_exception, msg.splitlines()[0])
            if "stack overflow" in msg.lower():
                return Trap(TrapKind.call_stack_exhausted, msg.splitlines()[0])
            return HostError(msg.splitlines()[0] if msg else "error")
        return Values(tuple(self._from_raw(results[i]) for i in range(nresults)))

    def fuel_left(self) -> int | None:
        """The store's fuel left after the last call (None: not compared)."""
        return self.store.get_fuel() if self.user_fuel is not None else None

    def get(self, instance: wasmtime.Instance, export: str):
        g = instance.exports(self.store).get(export)
        if not isinstance(g, wasmtime.Global):
            return HostError(f"no exported global {export!r}")
        raw = ffi.wasmtime_val_t()
        ffi.wasmtime_global_get(self.store._context(), byref(g._global), byref(raw))
        return Values((self._from_raw(raw),))

    def state(self, instance: wasmtime.Instance, exports) -> dict:
        """`Session.state` with the exports looked up once (what `get` and `memory_bytes`
        read, without their per-export overhead)."""
        cls = type(self)
        if cls.get is not WasmtimeSession.get or \
                cls.memory_bytes is not WasmtimeSession.memory_bytes:
            return super().state(instance, exports)
        ext = instance.exports(self.store)
        ctx = self.store._context()
        out = {}
        for name, is_memory in exports:
            x = ext.get(name)
            if is_memory and isinstance(x, wasmtime.Memory):
                n = x.data_len(self.store)
                out[name] = ctypes.string_at(x.data_ptr(self.store), n) if n else b""
            elif not is_memory and isinstance(x, wasmtime.Global):
                raw = ffi.wasmtime_val_t()  # (a reference read into it is owned by it)
                ffi.wasmtime_global_get(ctx, byref(x._global), byref(raw))
                out[name] = self._from_raw(raw)
            else:  # what get / memory_bytes say about it
                out.update(super().state(instance, ((name, is_memory),)))
        return out

    # -- raw values -----------------------------------------------------------------------
    def _to_raw(self, v: Value):
        kind = KIND_OF_TYPE[v.type]
        raw = ffi.wasmtime_val_t(kind=kind)
        if kind in (K_I32, K_F32):
            raw.of.i32 = v.bits - (1 << 32) if v.bits >> 31 else v.bits
        elif kind in (K_I64, K_F64):
            raw.of.i64 = v.bits - (1 << 64) if v.bits >> 63 else v.bits
        elif kind == K_V128:
            raw.of.v128 = (ctypes.c_uint8 * 16)(*v.bits.to_bytes(16, "little"))
        elif kind == K_EXTERNREF:
            return wasmtime.Val.externref(v.bits)._new_raw(self.store)
        elif kind == K_FUNCREF:
            if v.bits is not None:
                raise NotRun("wasmtime-py cannot pass a non-null funcref argument")
            return wasmtime.Val.funcref(None)._new_raw(self.store)
        elif kind in (K_ANYREF, K_EXNREF):
            if v.bits is not None:
                raise NotRun(f"wasmtime-py cannot pass a non-null {v.type} argument")
            raw.of.anyref.store_id = 0
        return raw

    def _from_raw(self, raw) -> Value:
        kind = raw.kind
        if kind == K_I32:
            return Value("i32", raw.of.i32 & 0xFFFF_FFFF)
        if kind == K_I64:
            return Value("i64", raw.of.i64 & 0xFFFF_FFFF_FFFF_FFFF)
        if kind == K_F32:
            return Value("f32", raw.of.i32 & 0xFFFF_FFFF)
        if kind == K_F64:
            return Value("f64", raw.of.i64 & 0xFFFF_FFFF_FFFF_FFFF)
        if kind == K_V128:
            return Value("v128", int.from_bytes(bytes(raw.of.v128), "little"))
        if kind == K_EXTERNREF:
            if raw.of.externref.store_id == 0:
                return Value("externref", None)
            val = wasmtime.Val._from_raw(self.store, raw).value
            # an externalized GC reference carries no host value
            return Value("externref", GcRef("extern") if val is None else val)
        if kind == K_FUNCREF:
            val = wasmtime.Val._from_raw(self.store, raw).value
            return Value("funcref", None if val is None else GcRef("func"))
        if kind == K_ANYREF:
            ref = raw.of.anyref
            if ref.store_id == 0:
                return Value("anyref", None)
            ctx = self.store._context()
            out = ctypes.c_uint32()
            # (`wasmtime_anyref_is_i31` answers True for structs in wasmtime 50; the getter's
            # status is reliable, so ask for structs and arrays first and i31 last.)
            if ffi.wasmtime_anyref_is_struct(ctx, byref(ref)):
                gc = GcRef("struct")
            elif ffi.wasmtime_anyref_is_array(ctx, byref(ref)):
                gc = GcRef("array")
            elif ffi.wasmtime_anyref_i31_get_u(ctx, byref(ref), byref(out)):
                gc = GcRef("i31", out.value)
            else:
                gc = GcRef("any")
            ffi.wasmtime_anyref_unroot(byref(ref))
            return Value("anyref", gc)
        if kind == K_EXNREF:
            return Value("exnref", None if raw.of.exnref.store_id == 0 else GcRef("exn"))
        raise NotRun(f"wasmtime value kind {kind} not understood")


# How wasmtime words "this configuration lacks a feature" (as opposed to "invalid").
_UNSUPPORTED_WORDS = ("not supported", "unsupported", "must be enabled", "to be enabled",
                      "not enabled", "disallowed", "required for", "without the",
                      "proposal",
                      # an implementation limit of wasmparser (e.g. "memories count exceeds
                      # limit of 100"), not a rule of the spec: the module is not invalid
                      "exceeds limit",
                      # Wasm 3.0 lets constant expressions read defined globals; wasmtime
                      # gates that on the gc feature, which its Winch strategy lacks
                      "global.get of locally defined global")


def _cause(msg: str) -> str:
    """The innermost line of a wasmtime error ("Caused by: ..."), else its first line."""
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    if "Caused by:" in lines:
        rest = lines[lines.index("Caused by:") + 1:]
        if rest:
            return rest[-1]
    return lines[0] if lines else "rejected"


def _py_to_bits(t: str, v):
    import struct

    if t == "i32":
        return v & 0xFFFF_FFFF
    if t == "i64":
        return v & 0xFFFF_FFFF_FFFF_FFFF
    if t == "f32":
        return struct.unpack("<I", struct.pack("<f", v))[0]
    if t == "f64":
        return struct.unpack("<Q", struct.pack("<d", v))[0]
    return v


def _bits_to_py(t: str, b):
    import struct

    if t == "i32":
        return b - (1 << 32) if b >> 31 else b
    if t == "i64":
        return b - (1 << 64) if b >> 63 else b
    if t == "f32":
        return struct.unpack("<f", struct.pack("<I", b))[0]
    if t == "f64":
        return struct.unpack("<d", struct.pack("<Q", b))[0]
    return b


def _trap_outcome(t: wasmtime.Trap):
    code = t.trap_code
    text = t.message or ""  # (each read of `message` asks the C API again)
    msg = text.splitlines()[0] if text else ""
    if code is None:
        if "exception" in text.lower():
            return Trap(TrapKind.uncaught_exception, msg)
        return Trap(TrapKind.other, msg)
    kind = TRAP_KINDS.get(code, TrapKind.other)
    if kind in (TrapKind.out_of_fuel, TrapKind.interrupt):
        return Exhausted(kind.value)
    return Trap(kind, msg)


def _looks_like_trap(msg: str) -> bool:
    low = msg.lower()
    return "out of bounds" in low or "wasm trap" in low or "unreachable" in low

