"""Compiling one function: the visitor the validator calls after every instruction.

The validator has already checked the instruction when `visit(op, imm, offset)` runs, so
the visitor only lowers: it keeps the lazy value stack (stack.py), a control stack of
frames, and calls the ISA's MacroAssembler.  Nothing here knows an instruction encoding.

Control flow (see stack.py for why): entering `block`/`loop`/`if` spills the whole value
stack to its slots; a branch stores the values its target expects into the slots of the
target's positions (or, for the function frame, into the return locations) and jumps;
after `end` the results are spilled entries at their positions.  Code after an
unconditional branch is validated but not lowered until the enclosing frame ends.
"""

from __future__ import annotations

from winch.codegen.frame import VMCTX_SLOT, Frame
from winch.codegen.stack import CONST, FLOAT_TYPES, LOCAL, MEM, REG, ValueStack
from winch.errors import Unsupported, WinchError
from winch.traps import TrapKind
from winch.wasm.opcodes import BY_NAME as _OPS_BY_NAME
from winch.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, V128

SCALAR_FEATURES = frozenset(("mvp", "sign-extension", "nontrapping-float-to-int", "bulk-memory",
                             "reference-types"))
MASK32 = 0xFFFF_FFFF
MASK64 = 0xFFFF_FFFF_FFFF_FFFF

K_BLOCK, K_LOOP, K_IF, K_FUNC = range(4)


class CompilerBug(RuntimeError):
    """An internal error of the compiler (not a problem of the input module)."""


class Ctl:
    __slots__ = ("kind", "label", "else_label", "height", "params", "results", "snapshot",
                 "else_seen")

    def __init__(self, kind, label, height, params, results):
        self.kind = kind
        self.label = label
        self.height = height
        self.params = params
        self.results = results
        self.else_label = None
        self.snapshot = None
        self.else_seen = False

    @property
    def branch_types(self):
        return self.params if self.kind == K_LOOP else self.results


def _size(t) -> int:
    return 4 if t in (I32, F32) else 8


class FuncCodegen:
    """Lowers one function body; construct, pass it to the validator's loop
    (`validate_body(..., lower=g)`, or `visit` as a callback), then `finish()`."""

    handlers: dict  # name -> handler for `visit`: HANDLERS (winch/codegen/fuel.py wraps them)

    def __init__(self, env, masm, func_index: int, ftype, local_types, srclocs=None):
        self.env = env  # module-level facts: types, func types, vm offsets, ...
        self.masm = masm
        self.func_index = func_index
        self.ftype = ftype
        if not COMPILED_TYPES.issuperset(local_types):  # params, results: once per module
            for t in dict.fromkeys(local_types):  # the first unsupported one, in order
                _check_type(t)
        self.frame = Frame(ftype.params, local_types)
        self.stack = ValueStack(masm, self.frame)
        self.max_out = 0
        self.dead_depth = 0  # nesting depth of blocks opened in unreachable code
        self.unreachable = False
        # per lowered instruction, one int (no tuple): code offset << 32 | wasm offset (both
        # below 2**32); `srclocs`: a list to append them to (the module's), else a new one
        self.srclocs: list = [] if srclocs is None else srclocs
        self.ret_label = masm.new_label()
        self.ctl = [Ctl(K_FUNC, self.ret_label, 0, (), tuple(ftype.results))]
        self.local_types = self.frame.local_types
        self.by_byte = env.by_byte
        # the validator's loop pushes these itself while the stock handlers are in place
        # (a deliberate bug replaces one by name: then its handler is called)
        self.local_entry_kind = LOCAL if BY_BYTE[0x20] is _local_get else None
        self.i32_const_entry = (CONST, I32) if BY_BYTE[0x41] is _i32_const else None
        self.prologue_patch = masm.prologue(self.frame)
        masm.fuel_check()  # and so does every call (runaway recursion with big frames)

    # -- the visitor -------------------------------------------------------------------------
    def visit(self, op, imm, offset) -> None:
        if self.unreachable:
            name = op.name
            if name in ("block", "loop", "if"):
                self.dead_depth += 1
                return
            if name == "end" or name == "else":
                if self.dead_depth:
                    if name == "end":
                        self.dead_depth -= 1
                    return
            else:
                return
        self.srclocs.append(len(self.masm.buf.data) << 32 | offset)
        handler = self.handlers.get(op.name)
        if handler is None:
            feature = op.feature if op.feature not in SCALAR_FEATURES else op.name
            raise Unsupported(feature, op.name, offset)
        try:
            handler(self, op, imm)
        except WinchError:
            raise
        except Exception as e:  # a compiler bug: say where, never pass for a decoding error
            raise self.bug(op, offset, e) from e

    def bug(self, op, offset, e) -> CompilerBug:
        return CompilerBug(f"compiling function {self.func_index}, {op.name} at wasm offset "
                           f"{offset:#x}: {type(e).__name__}: {e}")

    def finish(self) -> None:
        self.masm.finish_frame(self.prologue_patch,
                               self.frame.size(self.stack.max_depth, self.max_out))

    # -- helpers -----------------------------------------------------------------------------
    def block_sig(self, bt):
        if bt == -64:
            return (), ()
        if bt < 0:
            t = bt + 128
            _check_type(t)
            return (), (t,)
        ft = self.env.types[bt]  # its value types: checked once per module (check_module_scope)
        return tuple(ft.params), tuple(ft.results)

    def needs_moves(self, ctl: Ctl) -> bool:
        n = len(ctl.branch_types)
        if ctl.kind == K_FUNC:
            return n > 0
        items = self.stack.items
        base = len(items) - n
        if base == ctl.height:
            for k in range(n):
                if items[base + k][0] != MEM:
                    return True
            return False
        return n > 0

    def branch_moves(self, ctl: Ctl, types=None) -> None:
        """Put the values `ctl` expects where it expects them; the stack is left unchanged.

        `types`: what is moved; by default what a branch to `ctl` carries (a loop's
        parameters), at `end` the frame's results."""
        st = self.stack
        items = st.items
        if types is None:
            types = ctl.branch_types
        n = len(types)
        base = len(items) - n
        if ctl.kind == K_FUNC:
            for k in range(1, n):
                st.store_entry_to_slot(items[base + k], self.frame.result_slot(k))
            if n:
                e = items[base]
                reg = self.masm.RET_FPR if e[1] in FLOAT_TYPES else self.masm.RET_GPR
                self.load_into(e, reg)
            return
        frame = self.frame
        for k in range(n):
            e = items[base + k]
            if e[0] == MEM and base + k == ctl.height + k:
                continue
            st.store_entry_to_slot(e, frame.slot(ctl.height + k))

    def load_into(self, e, reg) -> None:
        kind, t, x = e
        m = self.masm
        is_float = t in FLOAT_TYPES
        if kind == REG:
            if x != reg:
                m.fmov_rr(reg, x) if is_float else m.mov_rr(8, reg, x)
        elif kind == CONST:
            m.fconst(t, reg, x) if is_float else m.mov_ri(_size(t), reg, x)
        elif kind == LOCAL:
            m.load_slot(t, reg, self.stack.local_off[x])
        else:
            m.load_slot(t, reg, self.frame.slot(x))

    def enter(self, kind, bt) -> Ctl:
        params, results = self.block_sig(bt)
        self.stack.spill_all()
        label = self.masm.new_label()
        ctl = Ctl(kind, label, len(self.stack.items) - len(params), params, results)
        self.ctl.append(ctl)
        return ctl

    def reset_to_results(self, ctl: Ctl) -> None:
        st = self.stack
        st.truncate(ctl.height)
        for k, t in enumerate(ctl.results):
            st.push((MEM, t, ctl.height + k))

    def push_const(self, t, bits) -> None:
        self.stack.push((CONST, t, bits))

    def out_args(self, entries_types, consts=()) -> int:
        """Store call arguments into the outgoing area; returns how many slots were used."""
        st = self.stack
        m = self.masm
        k = 0
        for t, v in consts:
            m.store_out_imm(t, k, v)
            k += 1
        n = len(entries_types)
        items = st.items
        base = len(items) - n
        for i in range(n):
            kind, t, x = items[base + i]
            if kind == REG:
                m.store_out(t, k, x)
            elif kind == CONST:
                m.store_out_imm(t, k, x)
            elif kind == LOCAL:
                m.copy_to_out(t, k, st.local_off[x])
            else:
                m.copy_to_out(t, k, self.frame.slot(x))
            k += 1
        st.truncate(base)
        return k

    def push_call_results(self, nargs: int, results) -> None:
        st = self.stack
        m = self.masm
        for k, t in enumerate(results):
            is_float = t in FLOAT_TYPES
            if k == 0:
                reg = m.RET_FPR if is_float else m.RET_GPR
                st.take(reg)
            else:
                reg = st.alloc(is_float)
                m.load_out(t, reg, nargs + k - 1)
            st.push((REG, t, reg))

    def builtin(self, name, nstack, consts=(), result=None) -> None:
        st = self.stack
        items = st.items
        types = [e[1] for e in items[len(items) - nstack:]]
        nout = self.out_args(types, consts)
        st.spill_regs()
        self.max_out = max(self.max_out, nout, 1)
        self.masm.call_builtin(self.env.vm.builtin(name))
        if result is not None:
            st.take(self.masm.RET_GPR)
            st.push((REG, result, self.masm.RET_GPR))

    # -- binary and unary operators ----------------------------------------------------------
    # Each is the handler of its operators (g, op, imm), its parameters in NUMERIC[op.name].
    # These pop at least as many entries as they push, so `max_depth` cannot grow: the result
    # goes straight onto `items` (ValueStack.push without its depth test).  Integer operands
    # are popped by `pop_reg` inlined (an integer lives in a GPR): the most frequent case, a
    # register or a local, without a call.
    def int_binop(self, op, imm) -> None:
        aop, size = NUMERIC[op.name]
        st = self.stack
        items = st.items
        free = st.free_gpr
        m = self.masm
        top = items[-1]
        if top[0] == CONST and m.alu_imm_ok(aop, size, top[2]):
            del items[-1]
        else:
            e = items.pop()  # rhs
            if e[0] == REG:
                rhs = e[2]
            elif e[0] == LOCAL and free:
                rhs = free.pop(0)
                m.load_slot(e[1], rhs, st.local_off[e[2]])
            else:
                rhs = st.load(e, len(items))
            top = None
        e = items.pop()  # lhs
        t = e[1]
        if e[0] == REG:
            lhs = e[2]
        elif e[0] == LOCAL and free:
            lhs = free.pop(0)
            m.load_slot(t, lhs, st.local_off[e[2]])
        else:
            lhs = st.load(e, len(items))
        if top is not None:
            m.alu_ri(aop, size, lhs, top[2])
        else:
            m.alu_rr(aop, size, lhs, rhs)
            free.append(rhs)
        items.append((REG, t, lhs))

    def shift(self, op, imm) -> None:
        sop, size = NUMERIC[op.name]
        st = self.stack
        m = self.masm
        top = st.items[-1]
        if top[0] == CONST:
            st.pop()
            t, lhs = st.pop_reg()
            m.shift_ri(sop, size, lhs, top[2] & (size * 8 - 1))
            st.push((REG, t, lhs))
            return
        fixed = m.SHIFT_COUNT_REG
        if fixed is not None:
            st.take(fixed)
            st.pop_into(fixed)
            t, lhs = st.pop_reg(avoid=(fixed,))
            m.shift_rr(sop, size, lhs, fixed)
            st.free(fixed)
        else:
            _, rhs = st.pop_reg()
            t, lhs = st.pop_reg()
            m.shift_rr(sop, size, lhs, rhs)
            st.free(rhs)
        st.push((REG, t, lhs))

    def divrem(self, op, imm) -> None:
        dop, size = NUMERIC[op.name]
        st = self.stack
        m = self.masm
        fixed = m.divrem_regs(dop)
        if fixed is None:
            _, rhs = st.pop_reg()
            t, lhs = st.pop_reg()
            m.divrem(dop, size, lhs, lhs, rhs)
            st.free(rhs)
            st.push((REG, t, lhs))
            return
        lhs_reg, result_reg, clobbers = fixed
        for r in clobbers:
            st.take(r)
        _, rhs = st.pop_reg(avoid=clobbers)
        t = st.pop_into(lhs_reg)
        m.divrem(dop, size, result_reg, lhs_reg, rhs)
        st.free(rhs)
        for r in clobbers:
            if r != result_reg:
                st.free(r)
        st.push((REG, t, result_reg))

    def compare(self, op, imm) -> None:
        cond, size = NUMERIC[op.name]
        st = self.stack
        items = st.items
        free = st.free_gpr
        m = self.masm
        top = items[-1]
        if top[0] == CONST and m.cmp_imm_ok(size, top[2]):
            del items[-1]
        else:
            e = items.pop()  # rhs
            if e[0] == REG:
                rhs = e[2]
            elif e[0] == LOCAL and free:
                rhs = free.pop(0)
                m.load_slot(e[1], rhs, st.local_off[e[2]])
            else:
                rhs = st.load(e, len(items))
            top = None
        e = items.pop()  # lhs
        if e[0] == REG:
            lhs = e[2]
        elif e[0] == LOCAL and free:
            lhs = free.pop(0)
            m.load_slot(e[1], lhs, st.local_off[e[2]])
        else:
            lhs = st.load(e, len(items))
        if top is not None:
            m.cmp_ri_set(cond, size, lhs, lhs, top[2])
        else:
            m.cmp_rr_set(cond, size, lhs, lhs, rhs)
            free.append(rhs)
        items.append((REG, I32, lhs))

    def eqz(self, op, imm) -> None:
        size = NUMERIC[op.name]
        st = self.stack
        _, r = st.pop_reg()
        self.masm.cmp_ri_set("eq", size, r, r, 0)
        st.items.append((REG, I32, r))

    def fcompare(self, op, imm) -> None:
        cond, t = NUMERIC[op.name]
        st = self.stack
        _, rhs = st.pop_reg()
        _, lhs = st.pop_reg()
        dst = st.alloc(False)
        self.masm.fcmp_set(cond, t, dst, lhs, rhs)
        free = st.free_fpr  # ValueStack.free, inlined: both are float registers
        free.append(rhs)
        free.append(lhs)
        st.items.append((REG, I32, dst))  # two popped, one pushed: max_depth holds

    def fbinop(self, op, imm) -> None:
        fop, t = NUMERIC[op.name]
        st = self.stack
        _, rhs = st.pop_reg()
        _, lhs = st.pop_reg()
        self.masm.fbin(fop, t, lhs, rhs)
        st.free_fpr.append(rhs)  # ValueStack.free, inlined: a float register
        st.items.append((REG, t, lhs))

    def unop(self, op, imm) -> None:
        uop, size = NUMERIC[op.name]
        st = self.stack
        t, r = st.pop_reg()
        if t in FLOAT_TYPES:
            self.masm.fun(uop, t, r, r)
        else:
            self.masm.unop(uop, size, r, r)
        st.items.append((REG, t, r))

    def convert(self, op, imm) -> None:
        name = op.name
        src_t, dst_t = NUMERIC[name]
        st = self.stack
        _, src = st.pop_reg()
        same = (src_t in FLOAT_TYPES) == (dst_t in FLOAT_TYPES)
        dst = src if same else st.alloc(dst_t in FLOAT_TYPES)
        self.masm.convert(name, dst, src)
        if not same:  # ValueStack.free, inlined: src is in a register of src_t's class
            (st.free_fpr if src_t in FLOAT_TYPES else st.free_gpr).append(src)
        st.items.append((REG, dst_t, dst))


#: the value types the function compiler handles (`_check_type` rejects the others by name)
COMPILED_TYPES = frozenset((I32, I64, F32, F64, FUNCREF, EXTERNREF))


def _check_type(t) -> None:
    if t == V128:
        raise Unsupported("simd", "v128 value")
    if t not in COMPILED_TYPES:
        raise Unsupported("function-references", f"value type 0x{t:02x}")


# -- handlers, one per opcode name --------------------------------------------------------------
class _Handlers(dict):
    """Opcode name -> handler(g, op, imm).  The validator's loop dispatches on the opcode byte
    through `BY_BYTE` (a list indexed by the byte of a single-byte operator), which every
    assignment here keeps equal to this dict: deliberate bugs (oracle/mutants.py) replace a
    handler by name and the loop sees it."""

    def __setitem__(self, name, handler) -> None:
        super().__setitem__(name, handler)
        op = _OPS_BY_NAME.get(name)
        if op is not None and op.prefix == 0:
            BY_BYTE[op.code] = handler

    def __delitem__(self, name) -> None:
        super().__delitem__(name)
        op = _OPS_BY_NAME.get(name)
        if op is not None and op.prefix == 0:
            BY_BYTE[op.code] = None


BY_BYTE: list = [None] * 256
HANDLERS: dict = _Handlers()
FuncCodegen.handlers = HANDLERS


def handles(*names):
    def deco(fn):
        for n in names:
            HANDLERS[n] = fn
        return fn
    return deco


@handles("nop")
def _nop(g, op, imm):
    pass


@handles("unreachable")
def _unreachable(g, op, imm):
    g.masm.trap(TrapKind.unreachable)
    g.unreachable = True


@handles("block")
def _block(g, op, imm):
    g.enter(K_BLOCK, imm)


@handles("loop")
def _loop(g, op, imm):
    ctl = g.enter(K_LOOP, imm)
    g.masm.bind(ctl.label)
    g.masm.fuel_check()  # every iteration costs fuel: runaway loops end as out_of_fuel


@handles("if")
def _if(g, op, imm):
    st = g.stack
    _, cond = st.pop_reg()
    params, results = g.block_sig(imm)
    st.spill_all()
    label = g.masm.new_label()
    ctl = Ctl(K_IF, label, len(st.items) - len(params), params, results)
    ctl.else_label = g.masm.new_label()
    g.masm.branch_zero(4, cond, ctl.else_label)
    st.free(cond)
    ctl.snapshot = list(st.items[ctl.height:])
    g.ctl.append(ctl)


@handles("else")
def _else(g, op, imm):
    ctl = g.ctl[-1]
    m = g.masm
    if not g.unreachable:
        g.branch_moves(ctl, ctl.results)
        m.jump(ctl.label)
    m.bind(ctl.else_label)
    ctl.else_seen = True
    g.stack.truncate(ctl.height)
    for e in ctl.snapshot:
        g.stack.push(e)
    g.unreachable = False


@handles("end")
def _end(g, op, imm):
    ctl = g.ctl.pop()
    m = g.masm
    if ctl.kind == K_FUNC:
        if not g.unreachable:
            g.branch_moves(ctl)
        m.bind(ctl.label)
        m.epilogue()
        g.unreachable = True
        return
    if not g.unreachable:
        g.branch_moves(ctl, ctl.results)
    if ctl.kind == K_IF and not ctl.else_seen:
        m.bind(ctl.else_label)  # the else path: parameters already are the results, in place
    if ctl.kind != K_LOOP:
        m.bind(ctl.label)
    g.reset_to_results(ctl)
    g.unreachable = False


@handles("br")
def _br(g, op, imm):
    ctl = g.ctl[-1 - imm]
    g.branch_moves(ctl)
    g.masm.jump(ctl.label)
    g.unreachable = True


@handles("return")
def _return(g, op, imm):
    ctl = g.ctl[0]
    g.branch_moves(ctl)
    g.masm.jump(ctl.label)
    g.unreachable = True


@handles("br_if")
def _br_if(g, op, imm):
    st = g.stack
    m = g.masm
    _, cond = st.pop_reg()
    ctl = g.ctl[-1 - imm]
    if not g.needs_moves(ctl):
        m.branch_nonzero(4, cond, ctl.label)
        st.free(cond)
        return
    skip = m.new_label()
    m.branch_zero(4, cond, skip)
    st.free(cond)
    g.branch_moves(ctl)
    m.jump(ctl.label)
    m.bind(skip)


@handles("br_table")
def _br_table(g, op, imm):
    st = g.stack
    m = g.masm
    targets, default = imm
    _, index = st.pop_reg()
    labels = []
    pads = []
    cache = {}
    for depth in tuple(targets) + (default,):
        if depth in cache:
            labels.append(cache[depth])
            continue
        ctl = g.ctl[-1 - depth]
        if g.needs_moves(ctl):
            pad = m.new_label()
            pads.append((pad, ctl))
            lab = pad
        else:
            lab = ctl.label
        cache[depth] = lab
        labels.append(lab)
    m.br_table(index, labels[:-1], labels[-1])
    st.free(index)
    for pad, ctl in pads:
        m.bind(pad)
        g.branch_moves(ctl)
        m.jump(ctl.label)
    g.unreachable = True


@handles("drop")
def _drop(g, op, imm):
    e = g.stack.items.pop()
    if e[0] == REG:
        g.stack.free(e[2])


@handles("select", "select_t")
def _select(g, op, imm):
    st = g.stack
    _, cond = st.pop_reg()
    _, b = st.pop_reg()
    t, a = st.pop_reg()
    g.masm.select(t, a, b, cond)
    # ValueStack.free and push inlined (b: t's class, cond: a GPR; 3 popped, 1 pushed)
    (st.free_fpr if t in FLOAT_TYPES else st.free_gpr).append(b)
    st.free_gpr.append(cond)
    st.items.append((REG, t, a))


@handles("local.get")
def _local_get(g, op, imm):
    st = g.stack  # ValueStack.push, inlined: a quarter of all instructions
    items = st.items
    items.append((LOCAL, g.local_types[imm], imm))
    if len(items) > st.max_depth:
        st.max_depth = len(items)


def _set_local(g, index, e):
    st = g.stack
    off = st.local_off[index]
    kind, t, x = e
    if kind == REG:
        g.masm.store_slot(t, off, x)
    elif kind == CONST:
        g.masm.store_slot_imm(t, off, x)
    elif kind == LOCAL:
        if x != index:
            g.masm.copy_slot(t, off, st.local_off[x])
    else:
        g.masm.copy_slot(t, off, st.frame.slot(x))


@handles("local.set")
def _local_set(g, op, imm):
    st = g.stack
    items = st.items
    if (LOCAL, g.local_types[imm], imm) in items:  # ValueStack.materialize_local's test
        st.materialize_local(imm)
    e = items.pop()
    if e[0] == REG:  # _set_local's most frequent case, inlined
        g.masm.store_slot(e[1], st.local_off[imm], e[2])
        st.free(e[2])
    else:
        _set_local(g, imm, e)


@handles("local.tee")
def _local_tee(g, op, imm):
    st = g.stack
    if (LOCAL, g.local_types[imm], imm) in st.items:  # ValueStack.materialize_local's test
        st.materialize_local(imm)
    e = st.items[-1]
    if e[0] != REG and e[0] != CONST:
        # keep the value in a register rather than re-reading the local later
        t, r = st.pop_reg()
        e = (REG, t, r)
        st.push(e)
    _set_local(g, imm, e)


@handles("global.get")
def _global_get(g, op, imm):
    t = g.env.global_valtypes[imm]  # checked once per module
    st = g.stack
    free = st.free_fpr if t in FLOAT_TYPES else st.free_gpr
    r = free.pop(0) if free else st.alloc(t in FLOAT_TYPES)  # alloc(), its usual case inlined
    g.masm.global_get(t, r, g.env.global_ptrs[imm])
    items = st.items  # ValueStack.push, inlined
    items.append((REG, t, r))
    if len(items) > st.max_depth:
        st.max_depth = len(items)


@handles("global.set")
def _global_set(g, op, imm):
    t = g.env.global_valtypes[imm]
    st = g.stack
    _, r = st.pop_reg()
    g.masm.global_set(t, g.env.global_ptrs[imm], r)
    (st.free_fpr if t in FLOAT_TYPES else st.free_gpr).append(r)  # ValueStack.free, inlined


@handles("i32.const")
def _i32_const(g, op, imm):
    st = g.stack  # ValueStack.push, inlined
    items = st.items
    items.append((CONST, I32, imm & MASK32))
    if len(items) > st.max_depth:
        st.max_depth = len(items)


@handles("i64.const")
def _i64_const(g, op, imm):
    st = g.stack  # ValueStack.push, inlined
    items = st.items
    items.append((CONST, I64, imm & MASK64))
    if len(items) > st.max_depth:
        st.max_depth = len(items)


@handles("f32.const")
def _f32_const(g, op, imm):
    st = g.stack  # ValueStack.push, inlined
    items = st.items
    items.append((CONST, F32, imm))
    if len(items) > st.max_depth:
        st.max_depth = len(items)


@handles("f64.const")
def _f64_const(g, op, imm):
    st = g.stack  # ValueStack.push, inlined
    items = st.items
    items.append((CONST, F64, imm))
    if len(items) > st.max_depth:
        st.max_depth = len(items)


# -- calls ----------------------------------------------------------------------------------------
@handles("call")
def _call(g, op, imm):
    env = g.env
    ft = env.types[env.func_types[imm]]  # value types checked once per module
    st = g.stack
    nargs = g.out_args(ft.params)
    st.spill_regs()
    g.max_out = max(g.max_out, nargs + max(len(ft.results) - 1, 0))
    if imm < env.num_imported_funcs:
        g.masm.call_import(env.vm.import_code(imm), env.vm.import_vmctx(imm), VMCTX_SLOT)
    else:
        g.masm.call_func(imm)
    g.push_call_results(nargs, ft.results)


@handles("call_indirect")
def _call_indirect(g, op, imm):
    typeidx, table = imm
    env = g.env
    ft = env.types[typeidx]  # value types checked once per module
    st = g.stack
    _, index = st.pop_reg()
    nargs = g.out_args(ft.params)
    st.spill_regs()
    g.max_out = max(g.max_out, nargs + max(len(ft.results) - 1, 0))
    vm = env.vm
    call = g.masm.call_indirect64 if env.table_types[table].limits.is64 else g.masm.call_indirect
    call(index, vm.table_base(table), vm.table_len(table), vm.sig(typeidx), VMCTX_SLOT)
    st.free(index)
    g.push_call_results(nargs, ft.results)


# -- memory ---------------------------------------------------------------------------------------
def _load_at(g, op, imm):
    """A load from memory imm[2] >= 1, or from a 64-bit memory: the memory's base and size
    through its VM-context fields, the bounds check in 64 bits (no template fast path)."""
    _, offset, mem = imm
    base_off, size_off, is64, _ = g.env.mems[mem]
    st = g.stack
    _, addr = st.pop_reg()
    t = op.results[0]
    if t in FLOAT_TYPES:
        dst = st.alloc(True)
        g.masm.wasm_load_at(op.name, dst, addr, offset, base_off, size_off, is64)
        st.free(addr)
    else:
        dst = addr
        g.masm.wasm_load_at(op.name, dst, addr, offset, base_off, size_off, is64)
    st.push((REG, t, dst))


def _store_at(g, op, imm):
    _, offset, mem = imm
    base_off, size_off, is64, _ = g.env.mems[mem]
    st = g.stack
    _, val = st.pop_reg()
    _, addr = st.pop_reg()
    g.masm.wasm_store_at(op.name, addr, offset, val, base_off, size_off, is64)
    st.free(val)
    st.free(addr)


def _load(g, op, imm):
    """A load from memory 0 of 32-bit addresses (a module whose memory 0 is 64-bit lowers
    every load with `_load_at`: `Env.by_byte`)."""
    if imm[2]:
        return _load_at(g, op, imm)
    st = g.stack
    items = st.items
    m = g.masm
    t = op.results[0]
    e = items.pop()  # the address: pop_reg inlined (an i32 lives in a GPR)
    if e[0] == REG:
        addr = e[2]
    elif e[0] == LOCAL and st.free_gpr:
        addr = st.free_gpr.pop(0)
        m.load_slot(e[1], addr, st.local_off[e[2]])
    else:
        addr = st.load(e, len(items))
    if t in FLOAT_TYPES:
        dst = st.alloc(True)
        m.wasm_load(op.name, dst, addr, imm[1])
        st.free_gpr.append(addr)
    else:
        dst = addr
        m.wasm_load(op.name, dst, addr, imm[1])
    items.append((REG, t, dst))


def _store(g, op, imm):
    if imm[2]:
        return _store_at(g, op, imm)
    st = g.stack
    items = st.items
    m = g.masm
    _, val = st.pop_reg()
    e = items.pop()  # the address: pop_reg inlined (an i32 lives in a GPR)
    if e[0] == REG:
        addr = e[2]
    elif e[0] == LOCAL and st.free_gpr:
        addr = st.free_gpr.pop(0)
        m.load_slot(e[1], addr, st.local_off[e[2]])
    else:
        addr = st.load(e, len(items))
    m.wasm_store(op.name, addr, imm[1], val)
    st.free(val)
    st.free_gpr.append(addr)


@handles("memory.size")
def _memory_size(g, op, imm):
    _, size_off, is64, page_log2 = g.env.mems[imm]
    r = g.stack.alloc(False)
    if imm or is64 or page_log2 != 16:
        g.masm.memory_size_at(r, size_off, page_log2)
    else:
        g.masm.memory_size(r)
    g.stack.push((REG, I64 if is64 else I32, r))


# The builtins take the memory index (two for memory.copy) before the operands; the host
# reads each operand as an i32 or an i64 by the memory's address type.
@handles("memory.grow")
def _memory_grow(g, op, imm):
    g.builtin("memory.grow", 1, consts=((I32, imm),), result=I64 if g.env.mems[imm][2] else I32)


@handles("memory.fill")
def _memory_fill(g, op, imm):
    g.builtin("memory.fill", 3, consts=((I32, imm),))


@handles("memory.copy")
def _memory_copy(g, op, imm):
    dst, src = imm
    g.builtin("memory.copy", 3, consts=((I32, dst), (I32, src)))


@handles("memory.init")
def _memory_init(g, op, imm):
    data, mem = imm
    g.builtin("memory.init", 3, consts=((I32, mem), (I32, data)))


@handles("data.drop")
def _data_drop(g, op, imm):
    g.builtin("data.drop", 0, consts=((I32, imm),))


# -- tables and references ------------------------------------------------------------------------
@handles("table.get")
def _table_get(g, op, imm):
    g.builtin("table.get", 1, consts=((I32, imm),), result=g.env.table_types[imm].elem)


@handles("table.set")
def _table_set(g, op, imm):
    g.builtin("table.set", 2, consts=((I32, imm),))


@handles("table.size")
def _table_size(g, op, imm):
    r = g.stack.alloc(False)
    g.masm.load_vmctx(8, r, g.env.vm.table_len(imm))  # a u64 field (big-endian on s390x)
    g.stack.push((REG, I64 if g.env.table_types[imm].limits.is64 else I32, r))


@handles("table.grow")
def _table_grow(g, op, imm):
    g.builtin("table.grow", 2, consts=((I32, imm),),
              result=I64 if g.env.table_types[imm].limits.is64 else I32)


@handles("table.fill")
def _table_fill(g, op, imm):
    g.builtin("table.fill", 3, consts=((I32, imm),))


@handles("table.copy")
def _table_copy(g, op, imm):
    dst, src = imm
    g.builtin("table.copy", 3, consts=((I32, dst), (I32, src)))


@handles("table.init")
def _table_init(g, op, imm):
    elem, table = imm
    g.builtin("table.init", 3, consts=((I32, table), (I32, elem)))


@handles("elem.drop")
def _elem_drop(g, op, imm):
    g.builtin("elem.drop", 0, consts=((I32, imm),))


@handles("ref.null")
def _ref_null(g, op, imm):
    g.stack.push((CONST, FUNCREF if imm == FUNCREF else EXTERNREF, 0))


@handles("ref.is_null")
def _ref_is_null(g, op, imm):
    st = g.stack
    _, r = st.pop_reg()
    g.masm.cmp_ri_set("eq", 8, r, r, 0)
    st.push((REG, I32, r))


@handles("ref.func")
def _ref_func(g, op, imm):
    r = g.stack.alloc(False)
    g.masm.load_vmctx(8, r, g.env.vm.funcref(imm))
    g.stack.push((REG, FUNCREF, r))


# -- numeric operators, registered from the opcode table's families --------------------------------
#: numeric operator name -> the parameters its handler (a FuncCodegen method) reads
NUMERIC: dict = {}


def _register_numeric():
    from winch.wasm.opcodes import OPS

    int_alu = {"add", "sub", "mul", "and", "or", "xor"}
    shifts = {"shl", "shr_s", "shr_u", "rotl", "rotr"}
    divs = ("div_s", "div_u", "rem_s", "rem_u")
    C = FuncCodegen
    for o in OPS:
        if o.feature not in SCALAR_FEATURES:
            continue
        name = o.name
        ty, _, rest = name.partition(".")
        size = 4 if ty in ("i32", "f32") else 8
        if o.family == "load":
            HANDLERS[name] = _load
        elif o.family == "store":
            HANDLERS[name] = _store
        elif o.family == "binop":
            t = {"i32": I32, "i64": I64, "f32": F32, "f64": F64}[ty]
            if ty[0] == "f":
                NUMERIC[name] = (rest, t)
                HANDLERS[name] = C.fbinop
            elif rest in int_alu:
                NUMERIC[name] = (rest, size)
                HANDLERS[name] = C.int_binop
            elif rest in shifts:
                NUMERIC[name] = (rest, size)
                HANDLERS[name] = C.shift
            elif rest in divs:
                NUMERIC[name] = (rest, size)
                HANDLERS[name] = C.divrem
        elif o.family == "cmp":
            if ty[0] == "f":
                NUMERIC[name] = (rest, F32 if ty == "f32" else F64)
                HANDLERS[name] = C.fcompare
            else:
                NUMERIC[name] = (rest, size)
                HANDLERS[name] = C.compare
        elif o.family == "test":
            NUMERIC[name] = size
            HANDLERS[name] = C.eqz
        elif o.family == "unop":
            NUMERIC[name] = (rest, size)
            HANDLERS[name] = C.unop
        elif o.family == "conv":
            NUMERIC[name] = (o.params[0], o.results[0])
            HANDLERS[name] = C.convert


_register_numeric()
