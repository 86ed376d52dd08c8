"""Our compiler on one ISA, run under Unicorn by `winch.host`."""

from __future__ import annotations

import functools
import struct

from oracle.engines.base import (INSTANTIATION_EPOCH_TICKS, INSTANTIATION_FUEL, Engine,
                                 InstantiationTrapped, LinkError, NotRun, Rejected,
                                 ResourceLimited, Session)
from oracle.outcomes import Exhausted, HostError, Trap, TrapKind, Values
from oracle.values import GcRef, Value
from winch.codegen.compile import compile_module
from winch.errors import DecodeError, Unsupported, ValidationError
from winch.host import instance as winst
from winch.host import store as wstore
from winch.wasm.reader import decode_module
from winch.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64

TYPE_NAMES = {I32: "i32", I64: "i64", F32: "f32", F64: "f64", FUNCREF: "funcref",
              EXTERNREF: "externref"}


@functools.lru_cache(maxsize=8)
def decoded(wasm: bytes):
    """`decode_module(wasm)`, remembered for the last few modules: the oracle runs one module
    on three ISAs (and compiles one of them twice); a `Module` is frozen, so they share it.
    A module that does not decode raises each time."""
    return decode_module(wasm)


def map_result(store, types, res):
    if isinstance(res, wstore.Returned):
        out = []
        for t, v in zip(types, res.values):
            name = TYPE_NAMES[t]
            if t == FUNCREF:
                out.append(Value(name, None if v == 0 else GcRef("func")))
            elif t == EXTERNREF:
                out.append(Value(name, store.extern_value(v)))
            else:
                out.append(Value(name, v))
        return Values(tuple(out))
    if isinstance(res, wstore.Trapped):
        where = f"func {res.func} @{res.wasm_offset:#x}" if res.func >= 0 else "host"
        return Trap(TrapKind[res.kind.name], res.message, where)
    if isinstance(res, wstore.Exhausted):
        return Exhausted(res.reason)
    if isinstance(res, wstore.SandboxViolation):
        return HostError(f"sandbox violation: {res.message}")
    return HostError(repr(res))


class WinchEngine(Engine):
    def __init__(self, isa: str, budget: float | None = None, *,
                 canonicalize_nans: bool = False, fuel: int | None = None,
                 epoch_deadline: int | None = None, debug: bool = False):
        self.isa = isa
        self.name = f"winch-{isa}-debug" if debug else f"winch-{isa}"
        self.debug = debug  # compile debug code (winch/codegen/debug.py)
        self.budget = budget
        self.canonicalize_nans = canonicalize_nans
        self.user_fuel = fuel  # compile with fuel; the store's fuel after instantiation
        self.epoch_deadline = epoch_deadline  # compile with epoch checks; the deadline
        self._free: list = []  # stores of closed sessions, reset for the next one

    def session(self) -> "WinchSession":
        store = None
        if self._free:
            store = self._free.pop()
            store.reset()
        session = WinchSession(self.isa, self.budget, store)
        session.engine = self
        session.canonicalize_nans = self.canonicalize_nans
        session.user_fuel = self.user_fuel
        session.epoch_deadline = self.epoch_deadline
        session.debug = self.debug
        if self.epoch_deadline is not None:
            session.store.set_epoch_deadline(self.epoch_deadline)
        return session


def _f32(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def _f64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


class WinchSession(Session):
    user_fuel = None  # the store's fuel (`WinchEngine`), set after each instantiation
    epoch_deadline = None  # the store's epoch deadline (`WinchEngine`)
    debug = False  # compile debug code (`WinchEngine`)

    def __init__(self, isa: str, budget: float | None = None, store=None):
        self.isa = isa
        self.store = store or wstore.Store(isa, timeout=budget or wstore.DEFAULT_TIMEOUT)
        self.registered = {}
        self._spectest_made = False
        self.engine = None
        self._state_plans: dict = {}  # id(instance) -> (instance, exports, plan) for `state`
        self.canonicalize_nans = False  # compile with NaN canonicalization (set by the engine)

    def close(self) -> None:
        """The store goes back to the engine, which resets it for its next session; this
        session must not be used again."""
        if self.engine is not None and self.store is not None:
            self.engine._free.append(self.store)
        self.store = None

    def _spectest(self) -> None:
        """The spec suite's `spectest` module, made on first use (most modules never
        import it, and each object costs the store a mapping)."""
        s = self.store
        spectest = {
            "memory": s.new_memory(1, 2),
            "table": s.new_table(FUNCREF, 10, 20),
            "table64": s.new_table(FUNCREF, 10, 20, is64=True),
            "global_i32": s.new_global(I32, False, 666),
            "global_i64": s.new_global(I64, False, 666),
            "global_f32": s.new_global(F32, False, _f32(666.6)),
            "global_f64": s.new_global(F64, False, _f64(666.6)),
        }
        for name, params in (("print", ()), ("print_i32", (I32,)), ("print_i64", (I64,)),
                             ("print_f32", (F32,)), ("print_f64", (F64,)),
                             ("print_i32_f32", (I32, F32)), ("print_f64_f64", (F64, F64))):
            spectest[name] = s.host_func(params, (), lambda *a: [])
        self._spectest_made = True
        defined = self.registered.setdefault("spectest", {})
        for name, ext in spectest.items():  # what the session defined itself wins
            defined.setdefault(name, ext)

    def compile(self, wasm: bytes):
        try:
            wasm = bytes(wasm)
            return compile_module(wasm, self.isa, decoded=decoded(wasm),
                                  canonicalize_nans=self.canonicalize_nans,
                                  fuel=self.user_fuel is not None,
                                  epoch=self.epoch_deadline is not None,
                                  **({"debug": True} if self.debug else {}))
        except Unsupported as e:
            raise Rejected("unsupported", str(e), feature=e.feature, offset=e.offset) from None
        except DecodeError as e:
            raise Rejected("malformed", str(e), offset=e.offset) from None
        except ValidationError as e:
            raise Rejected("invalid", str(e), offset=e.offset) from None

    def instantiate(self, compiled):
        imports = {}
        have = self.registered.get("spectest", {})
        if not self._spectest_made and any(imp.module == "spectest" and imp.name not in have
                                           for imp in compiled.module.imports):
            self._spectest()
        for imp in compiled.module.imports:
            ext = self.registered.get(imp.module, {}).get(imp.name)
            if ext is not None:
                imports[(imp.module, imp.name)] = ext
        if self.user_fuel is not None:  # instantiation's own work is not compared
            self.store.set_fuel(INSTANTIATION_FUEL)
        if self.epoch_deadline is not None:  # (nor interrupted: base.py)
            self.store.set_epoch_deadline(INSTANTIATION_EPOCH_TICKS)
        try:
            inst = winst.instantiate(self.store, compiled, imports)
            if self.user_fuel is not None:
                self.store.set_fuel(self.user_fuel)
            if self.epoch_deadline is not None:
                self.store.set_epoch_deadline(self.epoch_deadline)
            return inst
        except wstore.ResourceLimit as e:
            raise ResourceLimited(str(e)) from None
        except wstore.LinkError as e:
            raise LinkError(str(e)) from None
        except winst.InstantiationTrap as t:
            raise InstantiationTrapped(map_result(self.store, (), t.outcome)) from None

    def define_host_func(self, module, name, params, results, fn) -> None:
        codes = {v: k for k, v in TYPE_NAMES.items()}
        hf = self.store.host_func([codes[t] for t in params], [codes[t] for t in results], fn)
        self.registered.setdefault(module, {})[name] = hf

    def memory_bytes(self, instance, export) -> bytes:
        mem = instance.exports.get(export)
        if not isinstance(mem, wstore.Memory):
            raise NotRun(f"no exported memory {export!r}")
        n = mem.byte_size
        return bytes(self.store.mu.mem_read(mem.base, n)) if n else b""

    def state(self, instance, exports) -> dict:
        """`Session.state` in few reads: the exported globals' cells in one Unicorn read per
        mapping they lie in (usually one), each memory in one.  A subclass that overrides
        `get` or `memory_bytes` (a test double) gets the one-by-one default."""
        cls = type(self)
        if cls.get is not WinchSession.get or cls.memory_bytes is not WinchSession.memory_bytes:
            return super().state(instance, exports)
        plan = self._state_plans.get(id(instance))
        if plan is None or plan[0] is not instance or plan[1] != exports:
            plan = self._state_plans[id(instance)] = (instance, exports,
                                                      self._state_plan(instance, exports))
        store = self.store
        mu, bo = store.mu, store.bo
        out = {}
        for kind, name, x in plan[2]:
            if kind == "cells":  # x: (start, length, [(name, offset, valtype)])
                start, length, cells = x
                raw = bytes(mu.mem_read(start, length))
                for cname, off, t in cells:
                    v = int.from_bytes(raw[off:off + (4 if t in (I32, F32) else 8)], bo)
                    out[cname] = _global_value(store, t, v)
            elif kind == "memory":
                n = x.byte_size
                out[name] = bytes(mu.mem_read(x.base, n)) if n else b""
            else:  # not a global or memory of ours: what get / memory_bytes say
                out.update(super().state(instance, ((name, x),)))
        if list(out) != [n for n, _ in exports if n in out]:  # export order, as the default
            out = {n: out[n] for n, _ in exports if n in out}
        return out

    def _state_plan(self, instance, exports) -> list:
        """[(kind, name, data)] for `state`: runs of global cells that one read covers
        (within one mapping of the store), memories, and the rest."""
        regions = sorted(self.store._mapped.items())
        groups: dict = {}  # mapping start -> [(cell, name, valtype)]
        plan = []
        for name, is_memory in exports:
            ext = instance.exports.get(name)
            if is_memory and isinstance(ext, wstore.Memory):
                plan.append(("memory", name, ext))
                continue
            if not is_memory and isinstance(ext, wstore.Global) and ext.valtype in TYPE_NAMES:
                home = next((a for a, (n, _p) in regions if a <= ext.cell < a + n), None)
                if home is not None:
                    if home not in groups:
                        groups[home] = []
                        plan.append(("cells", name, home))
                    groups[home].append((ext.cell, name, ext.valtype))
                    continue
            plan.append(("other", name, is_memory))
        out = []
        for kind, name, x in plan:
            if kind == "cells":
                cells = groups[x]
                lo = min(c for c, _n, _t in cells)
                hi = max(c for c, _n, _t in cells) + 8
                x = (lo, hi - lo, [(n, c - lo, t) for c, n, t in cells])
            out.append((kind, name, x))
        return out

    def register(self, name, instance):
        self.registered[name] = dict(instance.exports)

    def _to_bits(self, v: Value) -> int:
        if v.type in ("externref",):
            return self.store.extern_handle(v.bits)
        if v.type == "funcref":
            if v.bits is not None:
                raise NotRun("cannot pass a non-null funcref from the host")
            return 0
        if v.type not in ("i32", "i64", "f32", "f64"):
            raise NotRun(f"winch cannot take a {v.type} argument")
        return v.bits

    def invoke(self, instance, export, args):
        ref = instance.exports.get(export)
        if not isinstance(ref, (wstore.FuncRef, wstore.HostFunc)):
            return HostError(f"no exported function {export!r}")
        if isinstance(ref, wstore.HostFunc) or isinstance(ref.instance, wstore.HostFunc):
            hf = ref if isinstance(ref, wstore.HostFunc) else ref.instance
            results = hf.results
        else:
            results = ref.instance.compiled.module.func_type(ref.index).results
        bits = [self._to_bits(a) for a in args]
        return map_result(self.store, results, winst.call(self.store, ref, bits))

    def fuel_left(self) -> int | None:
        """The store's fuel left after the last call (None: not compared)."""
        return self.store.get_fuel() if self.user_fuel is not None else None

    def get(self, instance, export):
        g = instance.exports.get(export)
        if not isinstance(g, wstore.Global):
            return HostError(f"no exported global {export!r}")
        return Values((_global_value(self.store, g.valtype, self.store.global_value(g)),))


def _global_value(store, t: int, v: int) -> Value:
    """A global's bits `v` of type `t` as the oracle's value."""
    if t == EXTERNREF:
        return Value("externref", store.extern_value(v))
    if t == FUNCREF:
        return Value("funcref", None if v == 0 else GcRef("func"))
    return Value(TYPE_NAMES[t], v)
