"""Fuel and epoch interruption as wasmtime has them: compile options of `compile_module`.

Problem
-------
Wasmtime bounds guest work two ways: *fuel* (`Config.consume_fuel`: every Wasm operator costs
fuel, a store's fuel is set and read by the host, code that runs out traps `OutOfFuel`) and
*epoch interruption* (`Config.epoch_interruption`: an engine-wide counter the host increments,
a per-store deadline; code that finds `epoch >= deadline` traps `Interrupt`).  The remaining
fuel after a call is observable (`Store.get_fuel`), so ours must match wasmtime's exactly,
not approximately: the same costs, charged and saved at the same points.

Wasmtime 50's accounting (its Cranelift translator; checked operator by operator against
wasmtime-py 50.0.1, tests/test_fuel.py):
- The store keeps fuel *consumed* (negative: fuel left).  A function keeps its own copy, the
  *fuel variable*: loaded from the store on entry and after every call, stored back to the
  store (*saved*) before `call`, `call_indirect`, `return`, `unreachable` and on exit.  A trap
  elsewhere leaves the store at its last saved value: the callee's work since its entry, or
  the caller's since its last save, is not counted.
- Every reachable operator adds its cost to a compile-time *pending* count: 0 for nop, drop,
  block, loop, unreachable, return, else and end; 1 for everything else.  Entering a function
  costs 1 more.  Pending is added to the fuel variable (*flushed*) at loop, if, br, br_if,
  br_table, end, else, and before a save.
- Checks (trap if the fuel variable >= 0, i.e. no fuel left): on function entry (after the
  entry's 1 is flushed) and at every loop header.  Nothing else checks: a function can
  overspend between checks, and the store then reads as 0 fuel left.
- Operators whose work depends on an operand also charge that operand: memory.fill/copy/init
  and table.fill/copy/init their length, memory.grow/table.grow their delta.  An operand that
  is a constant (`Consts`) of at most 128 (SMALL_BULK_OP_COST) is charged up front, no check,
  whatever the outcome.  Any other (a larger constant, or computed) is charged after the
  operation, then checked: a bulk operation that succeeded adds its length and checks, a grow
  that succeeded its delta and checks (a failed grow neither adds nor checks).
- A load or store that can never be in bounds, whatever the address (`never_in_bounds`), is
  translated by wasmtime as an unconditional trap that first saves, like `unreachable` (its
  own cost included).
Out of fuel, wasmtime's store reads 0 left: the host makes it so (winch/host/store.py).
Instantiation: entering a start function costs 2 more (the host charges it).  Constant
expressions that wasmtime 50 evaluates with fuel (a `global.get` or arithmetic initializer)
are not charged here: a known difference, at instantiation only (`oracle diff --fuel` gives
every engine its fuel after instantiation).

What is a constant is what Cranelift's SSA translation sees as one (measured, tests/
test_fuel.py; `Consts`): an `i32.const`/`i64.const`; an immutable global with a constant
initializer; a declared local never assigned since the function's entry, or assigned a
constant, until a loop header (every local is a block parameter there) or a merge where the
incoming values are not the same SSA value (an `if`'s arms, branches to a block from points
with different assignments; two `i32.const 5` are two values); a block's result when every
edge into its end carries the same one; any of these carried on the value stack across
blocks.  Not: arithmetic on constants, `select`, mutable globals, parameters, call results.

Epoch interruption: on function entry and at every loop header (after the fuel check),
compare the engine's epoch with the store's deadline; `epoch >= deadline` traps `interrupt`.

Algorithm
---------
Both options compile with `FuelCodegen`, a `FuncCodegen` whose handler table wraps every
handler: before it, add the operator's cost to `pending`, flush and save as above; after it,
reload after calls, charge variable costs, and check at loop headers.  The prologue adds the
entry's load, charge and checks; the macro-assembler's epilogue is wrapped to save.  The
validator's fast paths for local.get and i32.const (which skip handlers) are turned off.
The fields (winch/vmctx.py) are below the VM context: the fuel variable per instance, a
pointer to the store's limits block (the saved fuel), a pointer to the engine's epoch and
the store's deadline (the host writes it into every instance of the store).  Each ISA's
macro-assembler provides fuel_add, fuel_add_reg, fuel_add_if_grown, fuel_check_store,
fuel_save, fuel_load and epoch_check, writing only its scratch registers.

Invariants
----------
- Off (the default), nothing changes: `configure` returns without touching the Env, the
  code is byte for byte what it was (tests/test_fuel.py).
- In unreachable code nothing is charged (pending is 0 whenever the compiler marks code
  unreachable: every operator that does so flushes first).
- A flush is emitted before the handler's own code, so it lies on the fall-through edge
  (before `end` binds its label, before `loop` binds its header).
"""

from __future__ import annotations

from winch.codegen.func import HANDLERS, K_IF, FuncCodegen
from winch.codegen.stack import CONST, LOCAL, MEM, REG
from winch.wasm.opcodes import BY_NAME
from winch.wasm.types import I32, I64

#: cost 0 (wasmtime's default operator cost table); every other operator costs 1
FREE = frozenset(("nop", "drop", "block", "loop", "unreachable", "return", "else", "end"))
#: pending is flushed into the fuel variable before these
FLUSH = frozenset(("loop", "if", "br", "br_if", "br_table", "end", "else"))
#: flushed and saved to the store before these
SAVE = frozenset(("unreachable", "return", "call", "call_indirect"))
#: the fuel variable is reloaded from the store after these
RELOAD = frozenset(("call", "call_indirect"))
#: operators charging an operand (the last one), and its outgoing-argument slot in the
#: builtin call (winch/codegen/func.py: the index constants come first)
BULK = {"memory.fill": 3, "memory.copy": 4, "memory.init": 4, "table.fill": 3,
        "table.copy": 4, "table.init": 4}
GROW = {"memory.grow": 1, "table.grow": 2}
#: a constant length or delta up to this is charged up front, unchecked (wasmtime 50)
SMALL_BULK_OP_COST = 128
#: bytes accessed by each load and store (the others are not memory accesses)
ACCESS_WIDTH = {o.name: (1 if "8" in o.name.split(".")[1] else 2 if "16" in o.name.split(".")[1]
                         else 4 if "32" in o.name.split(".")[1] or o.name[:3] in ("i32", "f32")
                         else 8)
                for o in BY_NAME.values()
                if o.prefix == 0 and o.name[:3] in ("i32", "i64", "f32", "f64")
                and (".load" in o.name or ".store" in o.name)}


def never_in_bounds(env, name: str, imm) -> bool:
    """Whether wasmtime 50 compiles the load or store `name` with memarg `imm` as an
    unconditional trap: an offset below 2**32 whose offset + width exceeds the memory's
    largest possible size in bytes (its maximum, else 2**32 or 2**64 by index type).
    (Measured with wasmtime-py: offsets of 2**32 and more on a memory64 are bounds-checked
    at run time instead; tests/test_fuel.py.)"""
    mem = imm[2]
    limits = env.mem_types[mem].limits
    if limits.max is not None:
        most = limits.max << limits.page_log2
    else:
        most = 1 << (64 if limits.is64 else 32)
    return imm[1] <= 0xFFFF_FFFF and imm[1] + ACCESS_WIDTH[name] > most


class FuelCodegen(FuncCodegen):
    """A function compiled with fuel and/or epoch checks (module docstring)."""

    def __init__(self, env, masm, func_index, ftype, local_types, srclocs=None):
        super().__init__(env, masm, func_index, ftype, local_types, srclocs)
        self.handlers = env.fuel_handlers
        # every local.get and i32.const goes through its (wrapped) handler
        self.local_entry_kind = None
        self.i32_const_entry = None
        self.fuel_pending = 0
        if env.fuel:
            self.fuel_k = Consts(self, env.fuel_module, len(ftype.params))
            masm.fuel_load()
            masm.fuel_add(1)  # entering a function costs 1, before the entry check
            masm.fuel_check_store()
        if env.epoch:
            masm.epoch_check()

    def fuel_flush(self) -> None:
        if self.fuel_pending:
            self.masm.fuel_add(self.fuel_pending)
            self.fuel_pending = 0


class Consts:
    """Which values Cranelift sees as constants (module docstring), for one function.  A
    constant is `(bits, token)`, the token naming the SSA value (the instruction that made
    it): two constants meet as one only if they are the same value.  Kept for the locals
    (`local[index]`) and the value stack by position (`stack[position]`: a `CONST` entry
    made by a constant instruction, or an entry spilled to its slot that was one; a `LOCAL`
    entry is its local's)."""

    def __init__(self, g, module, nparams: int):
        self.g = g
        self.module = module
        # every declared local starts as a constant 0 of its own (parameters are not)
        self.local = {i: (0, ("zero", i)) for i in range(nparams, len(g.local_types))
                      if g.local_types[i] in (I32, I64)}
        self.stack: dict = {}
        self.tokens = 0
        # id(Ctl) -> (Ctl, {"edges": [(locals, results)], "at_if": (locals, stack)})
        self.ctls: dict = {}

    def of(self, pos: int):
        """The constant at value-stack position `pos`, or None."""
        kind, _t, x = self.g.stack.items[pos]
        if kind == LOCAL:
            return self.local.get(x)
        if kind == CONST or kind == MEM:
            return self.stack.get(pos)
        return None

    def snapshot(self) -> list:
        return [self.of(i) for i in range(len(self.g.stack.items))]

    def sync(self, old_items, old_consts) -> None:
        """After a handler: an entry spilled to its slot keeps its constant; one replaced
        loses it."""
        new = self.g.stack.items
        st = self.stack
        for i in [i for i in st if i >= len(new)]:
            del st[i]
        for i in range(min(len(old_items), len(new))):
            o, n = old_items[i], new[i]
            if n == o:
                continue
            if n[0] == MEM and o[0] != MEM and old_consts[i] is not None:
                st[i] = old_consts[i]
            else:
                st.pop(i, None)

    def push_fresh(self, bits) -> None:
        """The top entry is a new constant (a constant instruction's)."""
        self.tokens += 1
        self.stack[len(self.g.stack.items) - 1] = (bits, self.tokens)

    def edge(self, ctl, n: int, below: int = 0) -> None:
        """Control reaches the end of `ctl` from here, carrying the top `n` values (under
        `below` more: a condition or an index)."""
        info = self._info(ctl)
        if info is None:
            return
        top = len(self.g.stack.items) - below
        info["edges"].append((dict(self.local), [self.of(i) for i in range(top - n, top)]))

    def _info(self, ctl):
        v = self.ctls.get(id(ctl))
        return v[1] if v is not None and v[0] is ctl else None

    def enter(self, ctl) -> None:
        self.ctls[id(ctl)] = (ctl, {"edges": [], "at_if": (
            dict(self.local), {i: c for i, c in self.stack.items() if i >= ctl.height})})

    def restart_else(self, ctl) -> None:
        at_locals, at_stack = self._info(ctl)["at_if"]
        self.local = dict(at_locals)
        self._reset_above(ctl.height)
        self.stack.update(at_stack)

    def merge_end(self, ctl) -> None:
        info = self._info(ctl)
        if info is None:  # a loop's end: reached by falling through only
            return
        del self.ctls[id(ctl)]
        edges = info["edges"]
        n = len(ctl.results)
        if ctl.kind == K_IF and not ctl.else_seen:  # the empty else: params are the results
            at_locals, at_stack = info["at_if"]
            edges.append((at_locals, [at_stack.get(ctl.height + j) for j in range(n)]))
        self.local = {i: c for i, c in edges[0][0].items()
                      if all(e[0].get(i) == c for e in edges[1:])} if edges else {}
        self._reset_above(ctl.height)
        for j in range(n):
            vals = {e[1][j] for e in edges}
            if len(vals) == 1 and None not in vals:
                self.stack[ctl.height + j] = vals.pop()

    def loop_header(self, ctl) -> None:
        self.local = {}  # every local is a parameter of the header block
        self._reset_above(ctl.height)

    def _reset_above(self, height: int) -> None:
        for i in [i for i in self.stack if i >= height]:
            del self.stack[i]

    def assign(self, index: int, c) -> None:
        if c is None or self.g.local_types[index] not in (I32, I64):
            self.local.pop(index, None)
        else:
            self.local[index] = c

    def global_constant(self, index: int):
        """The value of global `index` if it is immutable with a constant initializer."""
        m = self.module
        nimported = len(m.global_types) - len(m.globals)
        if index < nimported:
            return None
        gl = m.globals[index - nimported]
        ins = gl.init.instrs
        if gl.type.mutable or len(ins) != 1 or ins[0].op.name not in ("i32.const", "i64.const"):
            return None
        return ins[0].imm & (0xFFFF_FFFF if ins[0].op.name == "i32.const" else
                             0xFFFF_FFFF_FFFF_FFFF)


def _constant_on_top(g, bits) -> None:
    """Make the top entry (a value known to equal `bits`) the constant itself."""
    st = g.stack
    kind, t, x = st.items.pop()
    if kind == REG:
        st.free(x)
    st.items.append((CONST, t, bits))


def _wrap(name: str, h, fuel: bool, epoch: bool):
    cost = 0 if name in FREE else 1
    flush = name in FLUSH
    save = name in SAVE
    reload = name in RELOAD
    bulk = BULK.get(name)
    grow = GROW.get(name)
    loop = name == "loop"
    access = name in ACCESS_WIDTH

    def charged(g, op, imm):
        if g.unreachable:  # else/end closing dead code: nothing is pending, nothing charged
            if fuel and (name == "else" or name == "end"):  # (no edge falls through)
                k = g.fuel_k
                ctl = g.ctl[-1]
                old_items = list(g.stack.items)
                old_consts = k.snapshot()
                h(g, op, imm)
                k.sync(old_items, old_consts)
                if name == "else":
                    k.restart_else(ctl)
                else:
                    k.merge_end(ctl)
                return
            h(g, op, imm)
            return
        later = None
        if fuel:
            k = g.fuel_k
            old_items = list(g.stack.items)
            old_consts = k.snapshot()
            ctl = g.ctl[-1]
            if name == "br":
                k.edge(g.ctl[-1 - imm], len(g.ctl[-1 - imm].branch_types))
            elif name == "br_if":
                k.edge(g.ctl[-1 - imm], len(g.ctl[-1 - imm].branch_types), 1)
            elif name == "br_table":
                for depth in set(imm[0]) | {imm[1]}:
                    k.edge(g.ctl[-1 - depth], len(g.ctl[-1 - depth].branch_types), 1)
            elif name in ("end", "else"):
                k.edge(ctl, len(ctl.results))  # falling through to the end
            g.fuel_pending += cost
            if access and never_in_bounds(g.env, name, imm):
                g.fuel_flush()  # wasmtime: an unconditional trap, saved like `unreachable`
                g.masm.fuel_save()
            if bulk is not None or grow is not None:
                t = g.stack.items[-1][1]
                x = None if old_consts[-1] is None else old_consts[-1][0]
                if x is not None and x <= SMALL_BULK_OP_COST:
                    g.fuel_pending += x  # a small constant: up front, no check
                else:
                    later = (8 if t == I64 else 4, x)
            if flush or save:
                g.fuel_flush()
            if save:
                g.masm.fuel_save()
        h(g, op, imm)
        if fuel:
            k.sync(old_items, old_consts)
            if name in ("block", "if"):
                k.enter(g.ctl[-1])
            elif name == "loop":
                k.loop_header(g.ctl[-1])
            elif name == "else":
                k.restart_else(ctl)
            elif name == "end":
                k.merge_end(ctl)
            elif name in ("local.set", "local.tee"):
                k.assign(imm, old_consts[-1])
                if name == "local.tee" and old_consts[-1] is not None:
                    _constant_on_top(g, old_consts[-1][0])  # (tee may have loaded it)
                    k.stack[len(g.stack.items) - 1] = old_consts[-1]  # the same value
            elif name in ("i32.const", "i64.const"):
                k.push_fresh(g.stack.items[-1][2])
            elif name == "global.get":
                c = k.global_constant(imm)
                if c is not None:  # as Cranelift sees it: a constant of its own
                    _constant_on_top(g, c)
                    k.push_fresh(c)
            if reload:
                g.masm.fuel_load()
            elif later is not None:  # charged after the operation, then checked
                size, const = later
                g.fuel_flush()
                m = g.masm
                if bulk is not None and const is not None:
                    m.fuel_add(const)
                    m.fuel_check_store()
                else:
                    st = g.stack
                    r = st.alloc(False)
                    m.load_out(I64 if size == 8 else I32, r, grow if bulk is None else bulk)
                    if bulk is not None:
                        m.fuel_add_reg(r, size)
                        m.fuel_check_store()
                    else:  # the result: -1 if the grow failed
                        m.fuel_add_if_grown(st.items[-1][2], r, size, check=True)
                    st.free(r)
        if loop:
            if fuel:
                g.masm.fuel_check_store()
            if epoch:
                g.masm.epoch_check()

    charged.__name__ = f"fuel_{getattr(h, '__name__', 'handler')}"
    return charged


def configure(env, masm, fuel: bool, epoch: bool, module=None) -> None:
    """Make `env` compile with fuel and/or epoch checks (nothing when both are off): a
    wrapped copy of the handler tables (`env.by_byte` as the other options left it, and
    every named handler for the visitor), `FuelCodegen`, and an epilogue that saves."""
    env.fuel, env.epoch = fuel, epoch
    if not (fuel or epoch):
        return
    by_byte = list(env.by_byte)
    wrapped = {}
    for name, h in HANDLERS.items():
        op = BY_NAME.get(name)
        if op is not None and op.prefix == 0 and by_byte[op.code] is not None:
            h = by_byte[op.code]  # what the other options (NaN canonicalization) made of it
        w = _wrap(name, h, fuel, epoch)
        wrapped[name] = w
        if op is not None and op.prefix == 0:
            by_byte[op.code] = w
    env.by_byte = by_byte
    env.fuel_handlers = wrapped
    env.fuel_module = module
    env.codegen = FuelCodegen
    if fuel:
        epilogue = masm.epilogue

        def saving_epilogue(*args, **kwargs):
            masm.fuel_save()  # every exit: fall-through, br to the function's label, return
            return epilogue(*args, **kwargs)

        masm.epilogue = saving_epilogue

