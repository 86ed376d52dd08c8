"""The reference interpreter (oracle/interp) as an engine of the oracle: `interp`.

It runs what our compiler compiles, from the spec's semantics, and maps its outcomes into
the common vocabulary: traps by kind (the compiler's names), a call past its time budget or
step limit as `Exhausted`, missing or mistyped imports as `LinkError`, a memory or table
beyond the winch host's limits as `ResourceLimited`.  NaN results are always the canonical
NaN (oracle/interp/numeric.py), so `canonicalize_nans` changes nothing; wasmtime's fuel is
not modelled (such a session rejects every module as unsupported); its epoch interruption is,
as the oracle runs it (the epoch never advances: `InterpSession.epoch_deadline`).

`InterpSession.invoke_traced` runs a call with a `Step` before every instruction of every
frame and a `Write` per memory store (one per store instruction; memory.fill / copy / init:
one for the whole written range, none when empty), for `oracle locate`.
"""

from __future__ import annotations

from oracle.engines.base import (Engine, InstantiationTrapped, LinkError, NotRun, Rejected,
                                 ResourceLimited, Session)
from oracle.interp import machine
from oracle.interp.errors import LinkFailure, OutOfBudget, ResourceExceeded, WasmTrap
from oracle.interp.predecode import Tracer
from oracle.interp.runtime import Func, Global, Memory, Store, Table
from oracle.interp.scope import load
from oracle.outcomes import Exhausted, HostError, Trap, TrapKind, Values
from oracle.values import GcRef, Value
from winch.errors import DecodeError, Unsupported, ValidationError
from winch.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, FuncType

TYPE_NAMES = {I32: "i32", I64: "i64", F32: "f32", F64: "f64", FUNCREF: "funcref",
              EXTERNREF: "externref"}
TYPE_CODES = {v: k for k, v in TYPE_NAMES.items()}
DEFAULT_BUDGET = 60.0  # seconds per top-level call when the engine is given none


class InterpEngine(Engine):
    name = "interp"

    def __init__(self, budget: float | None = None, *, canonicalize_nans: bool = False,
                 fuel: int | None = None, epoch_deadline: int | None = None):
        self.budget = budget or DEFAULT_BUDGET
        self.canonicalize_nans = canonicalize_nans  # the interpreter's NaNs are canonical
        self.unmodelled = "fuel" if fuel is not None else None
        self.epoch_deadline = epoch_deadline

    def session(self) -> "InterpSession":
        s = InterpSession(self.budget)
        s.unmodelled = self.unmodelled
        s.epoch_deadline = self.epoch_deadline
        return s


class Compiled:
    """A loaded module (decoded, validated, in scope)."""

    def __init__(self, module):
        self.module = module


class InterpSession(Session):
    unmodelled = None
    #: wasmtime's epoch interruption as the oracle runs it: the engine's epoch stays 0 and
    #: the store's deadline (given after instantiation, base.INSTANTIATION_EPOCH_TICKS) is
    #: this many ticks, so the check at the entry of the first Wasm function called (and at
    #: every loop header after it) interrupts exactly when the deadline is 0
    epoch_deadline = None

    def __init__(self, budget: float = DEFAULT_BUDGET):
        self.clock = machine.Clock(budget)
        self.store = Store(self.clock)
        self.tracer = Tracer()
        self.registered: dict = {}
        self._spectest_made = False

    def _spectest(self) -> None:
        """The spec suite's `spectest` module (made on first use)."""
        f32_666_6, f64_666_6 = 0x4426_A666, 0x4084_D4CC_CCCC_CCCD
        spectest = {
            "memory": Memory(1, 2, False, 16),
            "table": Table(FUNCREF, 10, 20, False),
            "table64": Table(FUNCREF, 10, 20, True),
            "global_i32": Global(I32, False, 666),
            "global_i64": Global(I64, False, 666),
            "global_f32": Global(F32, False, f32_666_6),
            "global_f64": Global(F64, False, f64_666_6),
        }
        self.store.memories += 1
        for name, params in (("print", ()), ("print_i32", (I32,)), ("print_i64", (I64,)),
                             ("print_f32", (F32,)), ("print_f64", (F64,)),
                             ("print_i32_f32", (I32, F32)), ("print_f64_f64", (F64, F64))):
            spectest[name] = Func(FuncType(params, ()), host=lambda *a: [])
        self._spectest_made = True
        defined = self.registered.setdefault("spectest", {})
        for name, ext in spectest.items():  # what the session defined itself wins
            defined.setdefault(name, ext)

    def compile(self, wasm: bytes) -> Compiled:
        try:
            m = load(bytes(wasm))
        except Unsupported as e:
            raise Rejected("unsupported", str(e), feature=e.feature, offset=e.offset) from None
        except DecodeError as e:
            raise Rejected("malformed", str(e), offset=e.offset) from None
        except ValidationError as e:
            raise Rejected("invalid", str(e), offset=e.offset) from None
        if self.unmodelled:
            raise Rejected("unsupported", f"interp does not model {self.unmodelled}",
                           feature=self.unmodelled)
        return Compiled(m)

    def instantiate(self, compiled: Compiled):
        m = compiled.module
        have = self.registered.get("spectest", {})
        if not self._spectest_made and any(imp.module == "spectest" and imp.name not in have
                                           for imp in m.imports):
            self._spectest()
        imports = {}
        for imp in m.imports:
            ext = self.registered.get(imp.module, {}).get(imp.name)
            if ext is not None:
                imports[(imp.module, imp.name)] = ext
        self.clock.start()
        try:
            return self.store.instantiate(m, imports, self._run_start)
        except ResourceExceeded as e:
            raise ResourceLimited(str(e)) from None
        except LinkFailure as e:
            raise LinkError(str(e)) from None
        except WasmTrap as t:
            raise InstantiationTrapped(_trap(t)) from None
        except OutOfBudget as e:
            raise InstantiationTrapped(Exhausted(str(e))) from None

    def _run_start(self, fn, args):
        return machine.call(fn, args, self.clock)

    def register(self, name, instance) -> None:
        self.registered[name] = dict(instance.exports)

    def define_host_func(self, module, name, params, results, fn) -> None:
        ft = FuncType(tuple(TYPE_CODES[t] for t in params), tuple(TYPE_CODES[t] for t in results))
        self.registered.setdefault(module, {})[name] = Func(ft, host=fn)

    # -- running --------------------------------------------------------------------------
    def _args(self, fn, args) -> list:
        out = []
        for v, t in zip(args, fn.type.params):
            if t == FUNCREF:
                if v.bits is not None:
                    raise NotRun("cannot pass a non-null funcref from the host")
                out.append(None)
            elif t == EXTERNREF:
                out.append(v.bits)  # None: null; any other host value is the reference
            else:
                out.append(v.bits)
        return out

    def _export_func(self, instance, export):
        fn = instance.exports.get(export)
        return fn if isinstance(fn, Func) else None

    def _interrupted(self, fn):
        """The epoch check at the entry of `fn` (see `epoch_deadline`), or None."""
        if self.epoch_deadline == 0 and fn.host is None:
            return Trap(TrapKind.interrupt, "epoch deadline reached", f"func {fn.index} entry")
        return None

    def _prepare(self, instance, export, args):
        """(function, its arguments, None) for a call of `export`, or (None, None, the
        outcome) when it ends before running: no such export, or interrupted at entry.  The
        call's clock is started."""
        fn = self._export_func(instance, export)
        if fn is None:
            return None, None, HostError(f"no exported function {export!r}")
        interrupted = self._interrupted(fn)
        if interrupted is not None:
            return None, None, interrupted
        a = self._args(fn, args)
        self.clock.start()
        return fn, a, None

    def invoke(self, instance, export, args):
        fn, a, ended = self._prepare(instance, export, args)
        if ended is not None:
            return ended
        return self._outcome(fn, lambda: machine.call(fn, a, self.clock))

    def invoke_traced(self, instance, export, args, on_step, on_write=None,
                      limit: int = 1_000_000):
        """`invoke` with `on_step(Step)` before each executed instruction of every frame and
        `on_write(Write)` for each memory write; `Exhausted` after `limit` steps."""
        fn, a, ended = self._prepare(instance, export, args)
        if ended is not None:
            return ended
        self.tracer.on_write = on_write
        try:
            return self._outcome(fn, lambda: machine.call_traced(fn, a, self.clock, self.tracer,
                                                                  on_step, limit))
        finally:
            self.tracer.on_write = None

    def _outcome(self, fn, run):
        try:
            res = run()
        except WasmTrap as t:
            return _trap(t)
        except OutOfBudget as e:
            return Exhausted(str(e))
        except RecursionError:  # pragma: no cover - the loop does not recurse
            return Exhausted("Python recursion limit")
        return Values(tuple(_value(t, v) for t, v in zip(fn.type.results, res)))

    def get(self, instance, export):
        g = instance.exports.get(export)
        if not isinstance(g, Global):
            return HostError(f"no exported global {export!r}")
        return Values((_value(g.valtype, g.value),))

    def memory_bytes(self, instance, export) -> bytes:
        mem = instance.exports.get(export)
        if not isinstance(mem, Memory):
            raise NotRun(f"no exported memory {export!r}")
        return bytes(mem.data)


def _value(t: int, v) -> Value:
    if t == FUNCREF:
        return Value("funcref", None if v is None else GcRef("func"))
    if t == EXTERNREF:
        return Value("externref", v)
    return Value(TYPE_NAMES[t], v)


def _trap(t: WasmTrap) -> Trap:
    where = f"func {t.func} @{t.offset:#x}" if t.func >= 0 else "host"
    return Trap(TrapKind[t.kind.name], t.message, where)

