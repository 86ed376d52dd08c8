"""Running a call instruction by instruction: the Wasm-level trace of debug code.

Problem
-------
`oracle locate` and `winch run --trace` need, for one call, the state before every executed
Wasm instruction (`winch.debuginfo.Step`) and every write to a linear memory (`Write`), in
execution order, from code compiled with `compile_module(..., debug=True)`.

Algorithm
---------
A Unicorn code hook over the instance's code looks each executed address up in the debug
table (`CompiledModule.debug`); at a boundary address it reads the frame's values through
the frame-pointer register (one read of the frame's span, decoded per slot) and calls
`on_step`, once per boundary at that address (instructions that emit no code share their
successor's address; their values are the same ones).  A memory-write hook over each of the
instance's linear memories notes (memory, address, size); the written bytes are read back
just before the next step or host write (the hook runs before the store: reading them later
gives the bytes as stored, whatever the ISA's byte order).  Writes the host makes (the bulk
builtins memory.fill/copy/init, host functions) go through `Store.mu.mem_write`: during the
call the store's engine is wrapped so those are reported too, one `Write` per call of the
builtin (BULK_WRITE_PER_BYTE).  After `limit` steps the run stops: `Exhausted`.

Invariants
----------
- Only the called instance's functions are traced (a callee in another instance runs
  untraced); the instance must have been compiled with debug=True (ValueError otherwise), or
  with debug="observe": normal code, whose boundaries may name a register or a constant for
  a value (read with `mu.reg_read`: an FPR's low bits, a float32 in the left half on s390x).
- The hooks are removed (and translated code flushed) when the call ends, whatever the
  outcome: the store runs untraced afterwards exactly as before.
"""

from __future__ import annotations

import unicorn as uc

from winch.debuginfo import Step, Write
from winch.host.store import MEM_SPACING, Exhausted
from winch.wasm.types import EXTERNREF, F32, FUNCREF, I32

#: a bulk (host-made) write of n bytes is one Write of size n (True: n one-byte Writes), as
#: the reference interpreter reports memory.fill/copy/init
BULK_WRITE_PER_BYTE = False

_FP_CONST = {
    "rbp": ("x86_const", "UC_X86_REG_RBP"),
    "x29": ("arm64_const", "UC_ARM64_REG_X29"),
    "r11": ("s390x_const", "UC_S390X_REG_R11"),
}


#: the prefix of a register's constant in its Unicorn module, by the ISA's frame pointer
_UC_PREFIX = {"rbp": "UC_X86_REG_", "x29": "UC_ARM64_REG_", "r11": "UC_S390X_REG_"}


def _fp_register(name: str) -> int:
    mod, const = _FP_CONST[name]
    return getattr(getattr(uc, mod), const)


class _StepLimit(Exception):
    pass


class _MuProxy:
    """The store's Unicorn engine, reporting the host's writes into linear memory."""

    def __init__(self, mu, tracer):
        self._mu = mu
        self._tracer = tracer

    def mem_write(self, addr, data):
        self._tracer.host_write(addr, bytes(data))
        return self._mu.mem_write(addr, data)

    def __getattr__(self, name):
        return getattr(self._mu, name)


class _Tracer:
    def __init__(self, store, inst, on_step, on_write, limit: int):
        info = inst.compiled.debug
        if info is None:
            raise ValueError("the instance was not compiled with debug=True")
        self.store = store
        self.inst = inst
        self.on_step = on_step
        self.on_write = on_write
        self.limit = limit
        self.steps = 0
        self.stopped = False
        self.error: BaseException | None = None
        self.bo = store.bo
        self.fp = _fp_register(info.fp_reg)
        base = inst.code_base
        # address -> [(func, offset, lo, span, stack plan, locals plan)]
        at: dict = {}
        unicorn_module = getattr(uc, _FP_CONST[info.fp_reg][0])
        self.f32_high = info.fp_reg == "r11"  # s390x: a float32 is an FPR's left half
        for b in info.boundaries:
            offs = [o for _, o in b.stack if type(o) is int] + [o for _, o in b.locals]
            lo = min(offs) if offs else 0
            hi = max(offs) + 8 if offs else 0
            splan = []
            for t, o in b.stack:
                if type(o) is int:
                    splan.append((t, o - lo))
                elif o[0] == "reg":  # observed normal code: a register (its Unicorn id)
                    splan.append((t, ("reg", getattr(unicorn_module,
                                                     _UC_PREFIX[info.fp_reg] + o[1].upper()))))
                else:
                    splan.append((t, o))
            at.setdefault(base + b.code_offset, []).append(
                (b.func, b.offset, lo, hi - lo,
                 tuple(splan), tuple((t, o - lo) for t, o in b.locals)))
        self.at = at
        self.mems = [(m.base, m.base + MEM_SPACING) for m in inst.memories]
        self.pending: list = []  # (mem, addr, size) written by compiled code, not yet read

    # -- values -----------------------------------------------------------------------------
    def _values(self, raw, plan, mu=None) -> tuple:
        bo = self.bo
        out = []
        for t, o in plan:
            if type(o) is not int:  # observed normal code: in a register, or a constant
                out.append(self._located(t, o, mu))
            elif t == I32 or t == F32:
                out.append((t, int.from_bytes(raw[o:o + 4], bo)))
            else:
                v = int.from_bytes(raw[o:o + 8], bo)
                if t == FUNCREF or t == EXTERNREF:
                    v = 0 if v == 0 else None
                out.append((t, v))
        return tuple(out)

    def _located(self, t, where, mu) -> tuple:
        kind, x = where
        if kind == "const":
            v = x
        else:
            v = mu.reg_read(x)
            if t == F32 and self.f32_high:
                v >>= 32
        if t == I32 or t == F32:
            return (t, v & 0xFFFF_FFFF)
        v &= 0xFFFF_FFFF_FFFF_FFFF
        if t == FUNCREF or t == EXTERNREF:
            v = 0 if v == 0 else None
        return (t, v)

    # -- hooks ------------------------------------------------------------------------------
    def on_code(self, mu, address, size, user_data) -> None:
        entries = self.at.get(address)
        if entries is None:
            return
        try:
            self.flush()
            fp = mu.reg_read(self.fp)
            for func, offset, lo, span, splan, lplan in entries:
                if self.steps >= self.limit:
                    raise _StepLimit()
                self.steps += 1
                raw = bytes(mu.mem_read(fp + lo, span)) if span else b""
                self.on_step(Step(func, offset, self._values(raw, splan, mu),
                                  self._values(raw, lplan)))
        except _StepLimit:
            self.stopped = True
            mu.emu_stop()
        except BaseException as e:  # the callback's error: raised again after the call
            self.error = e
            mu.emu_stop()

    def on_mem_write(self, mu, access, address, size, value, user_data) -> None:
        for k, (lo, hi) in enumerate(self.mems):
            if lo <= address < hi:
                self.pending.append((k, address - lo, size))
                return

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        if self.on_write is None:
            return
        mu = self.store.mu
        for k, addr, size in pending:
            try:
                raw = bytes(mu.mem_read(self.mems[k][0] + addr, size))
            except uc.UcError:  # past the mapped memory: the store faulted, wrote nothing
                continue
            self.on_write(Write(k, addr, size, int.from_bytes(raw, "little")))

    def host_write(self, address: int, data: bytes) -> None:
        self.flush()
        if self.on_write is None or not data:
            return
        for k, (lo, hi) in enumerate(self.mems):
            if lo <= address < hi:
                addr = address - lo
                if BULK_WRITE_PER_BYTE:
                    for i, byte in enumerate(data):
                        self.on_write(Write(k, addr + i, 1, byte))
                else:
                    self.on_write(Write(k, addr, len(data), int.from_bytes(data, "little")))
                return


def run_traced(store, instance, func, args: list, on_step, on_write=None,
               limit: int = 1_000_000):
    """Call `func` (an export name of `instance` or a FuncRef of it) with raw argument bits,
    calling `on_step(Step)` before every executed Wasm instruction of the instance's
    functions and `on_write(Write)` for every write to its linear memories.  Returns what
    `winch.host.instance.call` returns (Returned / Trapped / Exhausted / SandboxViolation);
    `Exhausted` once `limit` steps have been reported and another would follow.  An exception
    raised by `on_step` or `on_write` stops the run and propagates (after the hooks are
    removed): a caller that has seen enough may stop it so."""
    from winch.host import instance as winst

    ref = instance.exports[func] if isinstance(func, str) else func
    tracer = _Tracer(store, instance, on_step, on_write, limit)
    mu = store.mu
    code_lo = instance.code_base
    code_hi = code_lo + max(len(instance.compiled.code), 1) - 1
    hooks = [mu.hook_add(uc.UC_HOOK_CODE, tracer.on_code, begin=code_lo, end=code_hi)]
    for lo, hi in tracer.mems:
        hooks.append(mu.hook_add(uc.UC_HOOK_MEM_WRITE, tracer.on_mem_write, begin=lo,
                                 end=hi - 1))
    mu.ctl_flush_tb()  # code translated before the hooks existed would not call them
    store.mu = _MuProxy(mu, tracer)
    try:
        res = winst.call(store, ref, args)
        tracer.flush()
    finally:
        store.mu = mu
        for h in hooks:
            mu.hook_del(h)
        mu.ctl_flush_tb()
    if tracer.error is not None:
        raise tracer.error
    if tracer.stopped:
        return Exhausted(f"step limit reached ({limit} Wasm instructions)")
    return res


# -- printing a trace (`winch run --trace N`) ---------------------------------------------------
#: (operands, results) of the operators typed by a rule rather than a fixed signature; the
#: ones missing here (control flow) print no operands
_EFFECT = {"local.get": (0, 1), "global.get": (0, 1), "local.set": (1, 0), "global.set": (1, 0),
           "local.tee": (1, 1), "drop": (1, 0), "select": (3, 1), "select_t": (3, 1),
           "memory.size": (0, 1), "memory.grow": (1, 1), "memory.fill": (3, 0),
           "memory.copy": (3, 0), "memory.init": (3, 0), "data.drop": (0, 0),
           "table.get": (1, 1), "table.set": (2, 0), "table.size": (0, 1), "table.grow": (2, 1),
           "table.fill": (3, 0), "table.copy": (3, 0), "table.init": (3, 0), "elem.drop": (0, 0),
           "ref.null": (0, 1), "ref.is_null": (1, 1), "ref.func": (0, 1), "if": (1, 0),
           "br_if": (1, 0), "br_table": (1, 0)}


def stack_effect(module, op, imm):
    """(values popped, values pushed) by one instruction, or None (structural: block, loop,
    else, end, br, return, nop, unreachable)."""
    name = op.name
    if op.imm == "memarg":  # (the opcode table's signature leaves the address out)
        return (2, 0) if ".store" in name else (1, 1)
    if op.params is not None:
        return len(op.params), len(op.results)
    if name == "call":
        ft = module.func_type(imm)
        return len(ft.params), len(ft.results)
    if name == "call_indirect":
        ft = module.types[imm[0]]
        return len(ft.params) + 1, len(ft.results)
    return _EFFECT.get(name)


class TracePrinter:
    """Formats Steps as lines `func F @offset name imm  operands -> results`: a step is
    printed when the next one arrives (its results are on the next step's stack when that
    one is in the same function and the instruction is not a call), followed by the memory
    writes made before the next step (`write`)."""

    def __init__(self, module, out):
        self.module = module
        self.out = out  # callable(line)
        self.prev = None
        self.writes: list = []  # memory writes of the previous step's instruction
        self._ins: dict = {}

    def _instr(self, offset):
        ins = self._ins.get(offset)
        if ins is None:
            from winch.wasm.instrs import read_instr

            raw = self.module.raw
            ins = self._ins[offset] = read_instr(raw, offset, len(raw))[0]
        return ins

    def step(self, s) -> None:
        if self.prev is not None:
            self._print(self.prev, s)
        self.prev = s

    def write(self, w) -> None:
        self.writes.append(w)

    def finish(self) -> None:
        if self.prev is not None:
            self._print(self.prev, None)
            self.prev = None

    def _print_writes(self) -> None:
        for w in self.writes:
            self.out(f"    write memory {w.mem} [{w.addr:#x}] {w.size} byte(s): "
                     f"{w.value:#0{2 + 2 * w.size}x}")
        self.writes = []

    def _print(self, s, nxt) -> None:
        from winch.cli import format_value

        def fmt(values):
            return " ".join("?" if v is None else format_value(t, v) for t, v in values)

        ins = self._instr(s.offset)
        imm = ins.imm
        text = ins.op.name + ("" if imm is None else " " + (
            " ".join(str(x) for x in imm) if isinstance(imm, tuple) else str(imm)))
        line = f"func {s.func} @{s.offset:06x} {text}"
        eff = stack_effect(self.module, ins.op, imm)
        if eff is not None:
            npop, npush = eff
            ops = s.stack[len(s.stack) - npop:] if npop else ()
            line += f"  {fmt(ops)}" if ops else ""
            if (npush and nxt is not None and nxt.func == s.func
                    and ins.op.name not in ("call", "call_indirect")):
                base = len(s.stack) - npop
                line += f" -> {fmt(nxt.stack[base:base + npush])}"
        self.out(line)
        self._print_writes()
