"""Pre-decoding a function body, once per function instance, into flat code for the loop.

Problem: interpreting Wasm straight from its bytes would decode immediates and search for
matching `end`s on every execution.  Instead each body becomes a list of `(handler, imm)`
(ops.py, numeric.py) in which every branch target is a code index, every label's stack
height is a constant, and every immediate is bound to the object it names (the memory's
bytearray, the Global, the callee `Func`, the Table...).

Algorithm: one pass over the validated instructions with the validator's bookkeeping (the
spec's validation algorithm, appendix 7.3): a stack of operand types `ts` and a stack of
control frames.  Since the module is valid, the operand stack height at every reachable
instruction is static: a label's height is known when its block opens, and a branch knows
how many values to keep (the label's arity) and where to put them.  Forward branches are
resolved when their label's `end` is reached (`Label.pc`); loops' labels are the loop's
start.  Code after `br`, `br_table`, `return` or `unreachable` up to the end of its block
is never executed and produces nothing.

Frame layout at run time (machine.py): one list per call, `locals` first (params then
declared locals, indices 0..nlocals-1), then the operand stack.  So `local.get i` is
`s.append(s[i])`, and a label's height counts the locals.

Two flavours (`trace`):
- plain: instructions without run-time effect (block, loop, nop, end of a block, the
  reinterprets, i64.extend_i32_u) produce no code;
- traced: every executed instruction has an entry (a no-op for those), the operand types
  before each entry are recorded (`types`) for `Step`s, and stores and bulk memory writes
  report a `Write` through the store's `tracer`.

Invariants: `offsets[i]` is the byte offset (in the module file) of the instruction of
`code[i]`; after pre-decoding no `Label` remains in the code.
"""

from __future__ import annotations

from oracle.interp import numeric, ops
from oracle.interp.errors import WasmTrap
from winch.errors import Unsupported
from winch.wasm.instrs import decode_instrs
from winch.wasm.types import FUNCREF, I32, I64

M32, M64 = 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF
BLOCK, LOOP, IF, FUNC = range(4)


class Label:
    __slots__ = ("pc",)

    def __init__(self, pc=None):
        self.pc = pc


class Ctl:
    __slots__ = ("kind", "h", "params", "results", "label", "else_label", "unreachable")

    def __init__(self, kind, h, params, results, label):
        self.kind = kind
        self.h = h  # height of the frame list at the label, locals included
        self.params = params
        self.results = results
        self.label = label
        self.else_label = None  # an `if`'s: where its else branch starts
        self.unreachable = False

    @property
    def arity(self) -> int:
        return len(self.params) if self.kind == LOOP else len(self.results)


def block_sig(types, bt: int):
    if bt == -64:
        return (), ()
    if bt < 0:
        return (), (bt + 128,)
    ft = types[bt]
    return tuple(ft.params), tuple(ft.results)


def local_types(fn) -> list:
    out = list(fn.type.params)
    for n, t in fn.defn.locals:
        out.extend([t] * n)
    return out


class Tracer:
    """Where traced code reports memory writes (the store has one; `on_write` is set for the
    length of a traced call)."""

    def __init__(self):
        self.on_write = None

    def write(self, mem: int, addr: int, size: int, value: int) -> None:
        if self.on_write is not None:
            from winch.debuginfo import Write

            self.on_write(Write(mem, addr, size, value))


def predecode(fn, clock, tracer=None):
    """(code, offsets, types) of function instance `fn`; `types` is None unless `tracer`
    (the traced flavour) is given."""
    return _Predecoder(fn, clock, tracer).run()


class _Predecoder:
    def __init__(self, fn, clock, tracer):
        self.fn = fn
        self.inst = fn.instance
        self.m = self.inst.module
        self.clock = clock
        self.tracer = tracer
        self.trace = tracer is not None
        self.ltypes = local_types(fn)
        self.nl = len(self.ltypes)
        self.code: list = []
        self.offsets: list = []
        self.types: list | None = [] if self.trace else None
        self.pending: list = []  # (code index, builder() -> (handler, imm)) for labels
        self.ts: list = []
        self.snap = ()

    # -- emission ----------------------------------------------------------------------------
    def emit(self, h, imm, ins):
        self.code.append((h, imm))
        self.offsets.append(ins.offset)
        if self.trace:
            self.types.append(self.snap)

    def emit_later(self, builder, ins):
        self.pending.append((len(self.code), builder))
        self.emit(None, None, ins)

    def mark(self, ins):
        """An instruction without run-time effect: an entry only when tracing."""
        if self.trace:
            self.emit(ops.op_nop, None, ins)

    def height(self) -> int:
        return self.nl + len(self.ts)

    def branch(self, c: Ctl, ins, cond: bool):
        """br / br_if (`cond`) to frame `c`, from the current height."""
        H = self.height()
        n, h, lab = c.arity, c.h, c.label
        if c.kind == LOOP:
            h_, clock = h, self.clock
            self.emit_later(lambda: (ops.op_back_if if cond else ops.op_back,
                                     (h_, n, lab.pc, clock)), ins)
        elif H - n == h or c.kind == FUNC:  # nothing to move (a return takes the top values)
            self.emit_later(lambda: (ops.op_br_if_jump if cond else ops.op_jump, lab.pc), ins)
        elif n == 0:
            self.emit_later(lambda: (ops.op_br_if_drop if cond else ops.op_br_drop,
                                     (h, lab.pc)), ins)
        else:
            self.emit_later(lambda: (ops.op_br_if_move if cond else ops.op_br_move,
                                     (h, n, lab.pc)), ins)

    def set_unreachable(self, c: Ctl):
        c.unreachable = True
        del self.ts[c.h - self.nl:]

    # -- the pass ----------------------------------------------------------------------------
    def run(self):
        fn, m = self.fn, self.m
        f = fn.defn
        instrs = f.instrs if f.instrs is not None else decode_instrs(m.raw, f.body[0],
                                                                     f.body[1])
        results = tuple(fn.type.results)
        ctrl = [Ctl(FUNC, self.nl, (), results, Label(ops.RETURN))]
        dead = 0  # blocks opened inside unreachable code
        for ins in instrs:
            name = ins.op.name
            c = ctrl[-1]
            if c.unreachable:
                if name in ("block", "loop", "if"):
                    dead += 1
                    continue
                if name == "end" and dead:
                    dead -= 1
                    continue
                if name not in ("end", "else") or dead:
                    continue
            if self.trace:
                self.snap = tuple(self.ts)
            if name == "end":
                ctrl.pop()
                self.end(c, ins)
                if not ctrl:
                    break
            else:
                self.one(ins, name, ctrl)
        for i, builder in self.pending:
            self.code[i] = builder()
        return self.code, self.offsets, self.types

    def end(self, c: Ctl, ins):
        ts = self.ts
        del ts[c.h - self.nl:]
        ts.extend(c.results)
        if c.kind == IF and c.else_label.pc is None:  # no else: a false condition comes here
            c.else_label.pc = len(self.code)
        if c.kind == FUNC:
            if self.trace:
                self.snap = tuple(ts)
            self.emit(ops.op_return, None, ins)
            return
        if self.trace:
            self.snap = tuple(ts)
            self.emit(ops.op_nop, None, ins)
        if c.kind != LOOP:
            c.label.pc = len(self.code)

    def one(self, ins, name, ctrl):
        ts = self.ts
        imm = ins.imm
        inst, m = self.inst, self.m
        c = ctrl[-1]
        op = ins.op
        if name == "local.get":
            ts.append(self.ltypes[imm])
            self.emit(ops.op_local_get, imm, ins)
        elif name == "local.set":
            ts.pop()
            self.emit(ops.op_local_set, imm, ins)
        elif name == "local.tee":
            self.emit(ops.op_local_tee, imm, ins)
        elif name == "i32.const":
            ts.append(I32)
            self.emit(ops.op_const, imm & M32, ins)
        elif name == "i64.const":
            ts.append(I64)
            self.emit(ops.op_const, imm & M64, ins)
        elif name in ("f32.const", "f64.const"):
            ts.append(op.results[0])
            self.emit(ops.op_const, imm, ins)
        elif name in ops.LOADS or name in ops.STORES:
            self.memory_access(ins, name, imm)
        elif op.has_sig and op.imm == "none" and name in numeric.HANDLERS:
            del ts[len(ts) - len(op.params):]
            ts.extend(op.results)
            if name in numeric.NO_EFFECT:
                self.mark(ins)
            else:
                self.emit(numeric.HANDLERS[name], None, ins)
        elif name in ("block", "loop", "if"):
            params, results = block_sig(m.types, imm)
            if name == "if":
                ts.pop()
            h = self.height() - len(params)
            kind = {"block": BLOCK, "loop": LOOP, "if": IF}[name]
            nc = Ctl(kind, h, params, results, Label())
            if kind == LOOP:
                nc.label.pc = len(self.code)  # a branch re-enters the loop instruction
            ctrl.append(nc)
            if kind == IF:
                nc.else_label = el = Label()
                self.emit_later(lambda: (ops.op_if, el.pc), ins)
            else:
                self.mark(ins)
        elif name == "else":
            if not c.unreachable:  # the then branch ends: to the end of the if
                lab = c.label
                self.emit_later(lambda: (ops.op_jump, lab.pc), ins)
            c.else_label.pc = len(self.code)
            del ts[c.h - self.nl:]
            ts.extend(c.params)
            c.unreachable = False
        elif name == "br":
            self.branch(ctrl[-1 - imm], ins, False)
            self.set_unreachable(c)
        elif name == "br_if":
            ts.pop()
            self.branch(ctrl[-1 - imm], ins, True)
        elif name == "br_table":
            ts.pop()
            labels, default = imm
            frames = [ctrl[-1 - d] for d in labels + (default,)]
            clock = self.clock
            self.emit_later(lambda: (ops.op_br_table, (tuple(
                (f.h, f.arity, f.label.pc) for f in frames), clock)), ins)
            self.set_unreachable(c)
        elif name == "return":
            self.emit(ops.op_return, None, ins)
            self.set_unreachable(c)
        elif name == "unreachable":
            self.emit(ops.op_unreachable, None, ins)
            self.set_unreachable(c)
        elif name == "nop":
            self.mark(ins)
        elif name == "drop":
            ts.pop()
            self.emit(ops.op_drop, None, ins)
        elif name in ("select", "select_t"):
            ts.pop()
            ts.pop()
            self.emit(ops.op_select, None, ins)
        elif name == "call":
            callee = inst.funcs[imm]
            self.call_types(callee.type)
            self.emit(ops.op_call, callee, ins)
        elif name == "call_indirect":
            ti, tab = imm
            ts.pop()
            ft = m.types[ti]
            self.call_types(ft)
            self.emit(ops.op_call_indirect, (inst.tables[tab], ft), ins)
        elif name == "global.get":
            g = inst.globals[imm]
            ts.append(g.valtype)
            self.emit(ops.op_global_get, g, ins)
        elif name == "global.set":
            ts.pop()
            self.emit(ops.op_global_set, inst.globals[imm], ins)
        elif name == "ref.null":
            ts.append(imm)
            self.emit(ops.op_const, None, ins)
        elif name == "ref.is_null":
            ts[-1] = I32
            self.emit(ops.op_ref_is_null, None, ins)
        elif name == "ref.func":
            ts.append(FUNCREF)
            self.emit(ops.op_const, inst.funcs[imm], ins)
        elif op.family == "memory":
            self.memory_op(ins, name, imm)
        elif op.family == "table":
            self.table_op(ins, name, imm)
        else:  # not in what the interpreter (and the compiler) supports
            raise Unsupported(op.feature, name, ins.offset)

    def call_types(self, ft):
        ts = self.ts
        del ts[len(ts) - len(ft.params):]
        ts.extend(ft.results)

    def addr_type(self, mem):
        return I64 if self.inst.mems[mem].is64 else I32

    def memory_access(self, ins, name, imm):
        _align, offset, memidx = imm
        mem = self.inst.mems[memidx]
        ts = self.ts
        if name in ops.LOADS:
            h, size = ops.LOADS[name]
            ts[-1] = ins.op.results[0]
            self.emit(h, (mem.data, offset), ins)
            return
        h, size = ops.STORES[name]
        del ts[-2:]
        if self.trace:
            h = _traced_store(h, size, memidx, self.tracer)
        self.emit(h, (mem.data, offset), ins)

    def memory_op(self, ins, name, imm):
        ts, inst = self.ts, self.inst
        if name == "memory.size":
            mem = inst.mems[imm]
            ts.append(self.addr_type(imm))
            self.emit(ops.op_memory_size, mem, ins)
        elif name == "memory.grow":
            self.emit(ops.op_memory_grow, inst.mems[imm], ins)
        elif name == "memory.fill":
            del ts[-3:]
            h, data = ops.op_memory_fill, inst.mems[imm].data
            if self.trace:
                h = _traced_bulk(h, imm, data, self.tracer)
            self.emit(h, data, ins)
        elif name == "memory.copy":
            dst, src = imm
            del ts[-3:]
            h, data = ops.op_memory_copy, inst.mems[dst].data
            if self.trace:
                h = _traced_bulk(h, dst, data, self.tracer)
            self.emit(h, (data, inst.mems[src].data), ins)
        elif name == "memory.init":
            seg, memidx = imm
            del ts[-3:]
            h, data = ops.op_memory_init, inst.mems[memidx].data
            if self.trace:
                h = _traced_bulk(h, memidx, data, self.tracer)
            self.emit(h, (inst, seg, data), ins)
        elif name == "data.drop":
            self.emit(ops.op_data_drop, (inst, imm), ins)
        else:
            raise Unsupported(ins.op.feature, name, ins.offset)

    def table_op(self, ins, name, imm):
        ts, inst = self.ts, self.inst
        if name == "table.get":
            t = inst.tables[imm]
            ts[-1] = t.elem
            self.emit(ops.op_table_get, t, ins)
        elif name == "table.set":
            del ts[-2:]
            self.emit(ops.op_table_set, inst.tables[imm], ins)
        elif name == "table.size":
            t = inst.tables[imm]
            ts.append(I64 if t.is64 else I32)
            self.emit(ops.op_table_size, t, ins)
        elif name == "table.grow":
            t = inst.tables[imm]
            del ts[-2:]
            ts.append(I64 if t.is64 else I32)
            self.emit(ops.op_table_grow, t, ins)
        elif name == "table.fill":
            del ts[-3:]
            self.emit(ops.op_table_fill, inst.tables[imm], ins)
        elif name == "table.copy":
            dst, src = imm
            del ts[-3:]
            self.emit(ops.op_table_copy, (inst.tables[dst], inst.tables[src]), ins)
        elif name == "table.init":
            seg, tab = imm
            del ts[-3:]
            self.emit(ops.op_table_init, (inst, seg, inst.tables[tab]), ins)
        elif name == "elem.drop":
            self.emit(ops.op_elem_drop, (inst, imm), ins)
        else:
            raise Unsupported(ins.op.feature, name, ins.offset)


# -- traced flavours of the handlers that write memory ---------------------------------------
def _traced_store(h, size, memidx, tracer):
    mask = (1 << (8 * size)) - 1

    def traced(s, imm):
        addr = s[-2] + imm[1]
        value = s[-1] & mask
        h(s, imm)  # a trap reports no write
        tracer.write(memidx, addr, size, value)
    return traced


def _traced_bulk(h, memidx, data, tracer):
    """memory.fill / copy / init: one Write for the whole destination range (none if empty)."""
    def traced(s, imm):
        dst, n = s[-3], s[-1]
        h(s, imm)
        if n:
            tracer.write(memidx, dst, n, int.from_bytes(data[dst:dst + n], "little"))
    return traced


__all__ = ["predecode", "Tracer", "WasmTrap", "local_types"]
