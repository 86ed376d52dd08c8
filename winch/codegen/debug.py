"""Debug code: every value of the frame in its slot at every Wasm instruction boundary.

Problem
-------
To watch compiled code instruction by instruction (winch/host/trace.py, `oracle locate`),
the state of the Wasm frame must be readable at the start of each instruction's lowering:
the whole value stack and every local.  The lazy value stack (stack.py) keeps values in
registers, as constants or as unread locals for as long as it can, so normally it is not.
Liftoff has the same problem for its debugger and answers it with *debug code*: spill
everything at every instruction; we do the same, and also make it a differential variant of
its own (debug and normal code must agree, scripts/debug_agree.py).

Algorithm
---------
`compile_module(..., debug=True)` calls `configure`, which wraps every handler (the opcode-
byte table `env.by_byte` as the other options left it, and every named handler for the
visitor) as winch/codegen/fuel.py does.  Before a reachable instruction's handler runs, the
wrapper spills the value stack (`ValueStack.spill_all`: every CONST, REG and LOCAL entry to
the slot of its position), moves the instruction's source location past that spill code (the
spill stores the previous instruction's results) and records a `Boundary` (function, wasm
offset, code offset, the slot of each value and of each local).  `DebugCodegen` turns off the
validator's fast paths for local.get and i32.const (they would skip the wrapper).

Which executions reach a boundary is the reference interpreter's rule (oracle/interp): a
branch lands on the instruction after its target block's `end` (the `end` is not executed),
a branch to a loop re-executes the `loop`, the false path of an `if` without `else` executes
its `end`.  Labels are placed to match: `end` is followed by a no-op, so its label (where
branches land) is past its boundary; an `if` without `else` binds its else-label at its
`end`'s boundary; a loop's header is its boundary.  An instruction that emits nothing shares
its address with the next one's boundary (the trace reports both there): before a boundary
a label is bound at, a no-op keeps it apart from the previous instruction's.

With fuel or epoch checks (winch/codegen/fuel.py, configured first), the debug wrapper goes
around the fuel wrapper, except for `loop` and `end`: there the fuel wrapper goes outside,
so that its flush of the pending cost is emitted before the label bound at the boundary
(on the fall-through path only, as in normal code).  The debug wrapper's spills are shown to
the fuel's constant analysis (`fuel.Consts.sync`), so both charge the same.

Locals live in their slots always (frame.py): parameters in the caller's outgoing area,
declared locals below the saved VM context.  A value of type i32/f32 is 4 bytes at its
offset, i64/f64 and references 8, in the ISA's byte order (s390x: big-endian).

Invariants
----------
- Off (the default), nothing changes: `configure` is not called, the code is byte for byte
  what it was (tests/test_debug_mode.py).
- Instructions lowered in unreachable code (an `end` or `else` closing dead code) get no
  boundary: their code cannot be reached by falling into them.
- One process: `compile_module` compiles debug code with jobs=1 (the boundaries are made in
  the order the functions are compiled).
- With fuel, the fuel left after every call is normal code's (scripts/debug_agree.py --fuel).
"""

from __future__ import annotations

from winch.codegen.func import HANDLERS, K_IF, FuncCodegen
from winch.codegen.stack import LOCAL, MEM, REG
from winch.debuginfo import Boundary, DebugInfo
from winch.wasm.opcodes import BY_NAME

#: the frame-pointer register of each ISA (Unicorn's name) and its no-op instruction
FP_REG = {"x64": "rbp", "aarch64": "x29", "s390x": "r11"}
NOP = {"x64": b"\x90", "aarch64": bytes.fromhex("1f2003d5"), "s390x": b"\x07\x00"}


class DebugCodegen(FuncCodegen):
    """A function compiled with debug code (module docstring)."""

    def __init__(self, env, masm, func_index, ftype, local_types, srclocs=None):
        super().__init__(env, masm, func_index, ftype, local_types, srclocs)
        self.handlers = env.debug_handlers
        # every local.get and i32.const goes through its (wrapped) handler
        self.local_entry_kind = None
        self.i32_const_entry = None
        fr = self.frame
        self.debug_locals = tuple(zip(fr.local_types, fr.local_offsets))


def _wrap(h, name: str, nop: bytes):
    end = name == "end"
    loop = name == "loop"

    def debug(g, op, imm):
        st = g.stack
        slot = g.frame.slot
        if end and g.ctl[-1].kind == K_IF and not g.ctl[-1].else_seen:
            # the `end` of an `if` without `else`: the false path executes it too, so its
            # boundary is where that path lands (`else_label`, bound here, not by `_end`)
            ctl = g.ctl[-1]
            if g.unreachable:  # only the false path: its values (the parameters) in place
                values = [(e[1], slot(i)) for i, e in enumerate(st.items[:ctl.height])]
                values += [(t, slot(ctl.height + k)) for k, t in enumerate(ctl.params)]
            else:  # (spilled, the then-arm's results are where the parameters were)
                _spill(g)
                values = [(e[1], slot(i)) for i, e in enumerate(st.items)]
            _own_address(g, nop)
            g.masm.bind(ctl.else_label)
            ctl.else_label = g.masm.new_label()  # what `_end` binds now: nothing jumps there
            _boundary(g, values)
            g.masm.buf.put(nop)
            h(g, op, imm)
            return
        if g.unreachable:  # an `end`/`else` closing dead code: nothing falls into it
            h(g, op, imm)
            return
        _spill(g)
        if loop:  # its header label is bound here: a branch back must not land on others
            _own_address(g, nop)
        _boundary(g, [(e[1], slot(i)) for i, e in enumerate(st.items)])
        if end:
            g.masm.buf.put(nop)
        h(g, op, imm)

    debug.__name__ = f"debug_{getattr(h, '__name__', 'handler')}"
    return debug


def _observe_wrap(h, name: str):
    """Observing normal code: record where each value is right now (no spill, no code)."""

    def observe(g, op, imm):
        if not g.unreachable:
            st = g.stack
            slot = g.frame.slot
            local_off = st.local_off
            reg_name = g.env.debug_reg_name
            values = []
            for i, (kind, t, x) in enumerate(st.items):
                if kind == MEM:
                    values.append((t, slot(x)))
                elif kind == LOCAL:
                    values.append((t, local_off[x]))
                elif kind == REG:
                    values.append((t, ("reg", reg_name(x))))
                else:
                    values.append((t, ("const", x)))
            g.env.debug_boundaries.append(Boundary(g.func_index, g.srclocs[-1] & 0xFFFF_FFFF,
                                                   len(g.masm.buf.data), tuple(values),
                                                   g.debug_locals))
        h(g, op, imm)

    observe.__name__ = f"observe_{getattr(h, '__name__', name)}"
    return observe


#: Unicorn's name of a macro-assembler register number, per ISA (the masm numbers FP
#: registers from 16 on x64 and s390x, from 32 on aarch64)
_X64_GPRS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi") + tuple(
    f"r{i}" for i in range(8, 16))
REG_NAME = {
    "x64": lambda r: _X64_GPRS[r] if r < 16 else f"xmm{r - 16}",
    "aarch64": lambda r: f"x{r}" if r < 32 else f"d{r - 32}",
    "s390x": lambda r: f"r{r}" if r < 16 else f"f{r - 16}",
}


def _spill(g) -> None:
    """Every value to its slot; with fuel, its constant analysis sees the spill (a spilled
    constant stays one, as after any spill: fuel.Consts.sync)."""
    k = getattr(g, "fuel_k", None)
    if k is None:
        g.stack.spill_all()
        return
    old_items, old_consts = list(g.stack.items), k.snapshot()
    g.stack.spill_all()
    k.sync(old_items, old_consts)


def _own_address(g, nop: bytes) -> None:
    """Before a boundary a label will be bound at: a no-op if the previous instruction's
    boundary is here (it emitted nothing), so that a branch to the label steps only this
    instruction."""
    bs = g.env.debug_boundaries
    if bs and bs[-1].code_offset == len(g.masm.buf.data):
        g.masm.buf.put(nop)


def _boundary(g, values) -> None:
    """Record the boundary of the instruction being lowered, here; its source location moves
    here too (the spill code before it stores the previous instruction's results)."""
    here = len(g.masm.buf.data)
    srclocs = g.srclocs
    wasm_off = srclocs[-1] & 0xFFFF_FFFF
    srclocs[-1] = here << 32 | wasm_off
    g.env.debug_boundaries.append(Boundary(g.func_index, wasm_off, here, tuple(values),
                                           g.debug_locals))


def configure(env, masm, isa: str, observe: bool = False) -> None:
    """Make `env` compile debug code: wrapped copies of the handler tables, `DebugCodegen`,
    and an empty boundary list (`env.debug_boundaries`, filled as functions compile).  After
    fuel.configure, the handlers it wrapped are wrapped again (debug code outermost: the
    boundary comes before the fuel accounting's code; but for `loop` and `end`, see below)
    and the function compiler is both.  `observe`: normal code, unchanged, observed: each
    boundary says where each value is at that point (a frame offset, `("reg", name)` or
    `("const", bits)`); a branch may land past a structural instruction's boundary (a loop
    header, after a block's `end`), so only the other instructions' steps are exact."""
    by_byte = list(env.by_byte)
    wrapped = {}
    named = getattr(env, "fuel_handlers", None) or HANDLERS
    env.debug_reg_name = REG_NAME[isa]
    for name, h in named.items():
        op = BY_NAME.get(name)
        if op is not None and op.prefix == 0 and by_byte[op.code] is not None:
            h = by_byte[op.code]  # what the other options (NaN canonicalization) made of it
        if observe:
            w = _observe_wrap(h, name)
        elif named is not HANDLERS and name in ("loop", "end"):
            # they bind labels at their boundaries: the fuel wrapper goes outside (its flush
            # lies on the fall-through path only, before the label)
            from winch.codegen import fuel as fuel_mod

            w = fuel_mod._wrap(name, _wrap(HANDLERS[name], name, NOP[isa]), env.fuel,
                               env.epoch)
        else:
            w = _wrap(h, name, NOP[isa])
        wrapped[name] = w
        if op is not None and op.prefix == 0:
            by_byte[op.code] = w
    env.by_byte = by_byte
    env.debug_handlers = wrapped
    env.debug_boundaries = []
    env.codegen = DebugCodegen if env.codegen is FuncCodegen else type(
        "Debug" + env.codegen.__name__, (DebugCodegen, env.codegen), {})


def debug_info(env, isa: str, observe: bool = False) -> DebugInfo:
    """The module's table, once every function is compiled."""
    return DebugInfo(FP_REG[isa], tuple(sorted(env.debug_boundaries, key=lambda b: b[2])),
                     "observe" if observe else "debug")
