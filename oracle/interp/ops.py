"""Handlers of the non-numeric instructions: control, variables, references, memories and
tables (spec 4.4 "Instructions").

Every handler is `h(s, imm)`: `s` is the current frame's value list (locals first, then the
operand stack, top last), `imm` what the pre-decoder (predecode.py) bound for this
instruction.  The return value tells the loop (machine.py) what comes next:
    None        the next instruction
    an int >= 0 jump to that code index
    RETURN      return from the function (its results are the top of `s`)
    a Func      call it (its arguments are the top of `s`)
Traps raise `WasmTrap`.  Bounds use exact integers: an address plus an offset never wraps
(memory64's "carry"), it is just out of bounds.
"""

from __future__ import annotations

import struct

from oracle.interp.errors import WasmTrap
from winch.traps import TrapKind

RETURN = -1
M32, M64 = 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF
_OOB = (struct.error, OverflowError, IndexError)  # past the end; beyond ssize_t


def _trap(kind):
    raise WasmTrap(kind)


# -- control ----------------------------------------------------------------------------------
def op_nop(s, _):
    pass


def op_unreachable(s, _):
    raise WasmTrap(TrapKind.unreachable)


def op_jump(s, t):
    """br to a label whose values are already in place."""
    return t


def op_br_drop(s, imm):
    """br to a label without values, discarding the operands above its height."""
    del s[imm[0]:]
    return imm[1]


def op_br_move(s, imm):
    """br to a label of arity n: its values move down to the label's height."""
    h, n, t = imm
    s[h:] = s[-n:]
    return t


def op_br_if_jump(s, t):
    if s.pop():
        return t


def op_br_if_drop(s, imm):
    if s.pop():
        del s[imm[0]:]
        return imm[1]


def op_br_if_move(s, imm):
    if s.pop():
        h, n, t = imm
        s[h:] = s[-n:]
        return t


# Backward branches (to a loop) also count against the time budget: only loops and calls
# can make a call run long.
def op_back(s, imm):
    h, n, t, clock = imm
    clock.n -= 1
    if clock.n < 0:
        clock.check()
    if n:
        s[h:] = s[-n:]
    else:
        del s[h:]
    return t


def op_back_if(s, imm):
    if s.pop():
        h, n, t, clock = imm
        clock.n -= 1
        if clock.n < 0:
            clock.check()
        if n:
            s[h:] = s[-n:]
        else:
            del s[h:]
        return t


def op_br_table(s, imm):
    targets, clock = imm
    i = s.pop()
    h, n, t = targets[i] if i < len(targets) else targets[-1]  # the last is the default
    clock.n -= 1
    if clock.n < 0:
        clock.check()
    if n:
        s[h:] = s[-n:]
    else:
        del s[h:]
    return t


def op_if(s, t):
    if not s.pop():
        return t


def op_return(s, _):
    return RETURN


def op_call(s, f):
    return f


def op_call_indirect(s, imm):
    table, ftype = imm
    i = s.pop()
    elems = table.elems
    if i >= len(elems):
        raise WasmTrap(TrapKind.table_out_of_bounds)
    f = elems[i]
    if f is None:
        raise WasmTrap(TrapKind.indirect_call_null)
    if f.type is not ftype and f.type != ftype:  # structural: no GC types here
        raise WasmTrap(TrapKind.indirect_call_type_mismatch)
    return f


def op_drop(s, _):
    s.pop()


def op_select(s, _):
    c = s.pop()
    b = s.pop()
    if not c:
        s[-1] = b


# -- variables, constants, references ---------------------------------------------------------
def op_local_get(s, i):
    s.append(s[i])


def op_local_set(s, i):
    s[i] = s.pop()


def op_local_tee(s, i):
    s[i] = s[-1]


def op_global_get(s, g):
    s.append(g.value)


def op_global_set(s, g):
    g.value = s.pop()


def op_const(s, v):
    s.append(v)


def op_ref_is_null(s, _):
    s[-1] = 1 if s[-1] is None else 0


# -- memories ---------------------------------------------------------------------------------
def _load(fmt: str, mask: int | None):
    unpack = struct.Struct("<" + fmt).unpack_from
    if mask is None:
        def h(s, imm):
            try:
                s[-1] = unpack(imm[0], s[-1] + imm[1])[0]
            except _OOB:
                raise WasmTrap(TrapKind.memory_out_of_bounds) from None
    else:  # sign-extending: a negative Python int, masked to the result's width
        def h(s, imm):
            try:
                s[-1] = unpack(imm[0], s[-1] + imm[1])[0] & mask
            except _OOB:
                raise WasmTrap(TrapKind.memory_out_of_bounds) from None
    return h


def _store(fmt: str, mask: int | None):
    pack = struct.Struct("<" + fmt).pack_into
    if mask is None:
        def h(s, imm):
            v = s.pop()
            try:
                pack(imm[0], s.pop() + imm[1], v)
            except _OOB:
                raise WasmTrap(TrapKind.memory_out_of_bounds) from None
    else:  # a narrow store keeps the low bytes
        def h(s, imm):
            v = s.pop() & mask
            try:
                pack(imm[0], s.pop() + imm[1], v)
            except _OOB:
                raise WasmTrap(TrapKind.memory_out_of_bounds) from None
    return h


LOADS = {  # name -> (handler, size)
    "i32.load": (_load("I", None), 4), "i64.load": (_load("Q", None), 8),
    "f32.load": (_load("I", None), 4), "f64.load": (_load("Q", None), 8),
    "i32.load8_s": (_load("b", M32), 1), "i32.load8_u": (_load("B", None), 1),
    "i32.load16_s": (_load("h", M32), 2), "i32.load16_u": (_load("H", None), 2),
    "i64.load8_s": (_load("b", M64), 1), "i64.load8_u": (_load("B", None), 1),
    "i64.load16_s": (_load("h", M64), 2), "i64.load16_u": (_load("H", None), 2),
    "i64.load32_s": (_load("i", M64), 4), "i64.load32_u": (_load("I", None), 4),
}
STORES = {
    "i32.store": (_store("I", None), 4), "i64.store": (_store("Q", None), 8),
    "f32.store": (_store("I", None), 4), "f64.store": (_store("Q", None), 8),
    "i32.store8": (_store("B", 0xFF), 1), "i32.store16": (_store("H", 0xFFFF), 2),
    "i64.store8": (_store("B", 0xFF), 1), "i64.store16": (_store("H", 0xFFFF), 2),
    "i64.store32": (_store("I", M32), 4),
}


def op_memory_size(s, mem):
    s.append(len(mem.data) >> mem.page_log2)


def op_memory_grow(s, mem):
    s[-1] = mem.grow(s[-1]) & (M64 if mem.is64 else M32)


def op_memory_fill(s, d):
    n = s.pop()
    v = s.pop()
    a = s.pop()
    if a + n > len(d):
        raise WasmTrap(TrapKind.memory_out_of_bounds)
    if n:
        d[a:a + n] = bytes((v & 0xFF,)) * n


def op_memory_copy(s, imm):
    dd, sd = imm
    n = s.pop()
    src = s.pop()
    dst = s.pop()
    if src + n > len(sd) or dst + n > len(dd):
        raise WasmTrap(TrapKind.memory_out_of_bounds)
    if n:
        dd[dst:dst + n] = sd[src:src + n]  # the source is read whole first: memmove


def op_memory_init(s, imm):
    inst, seg, d = imm
    n = s.pop()
    src = s.pop()
    dst = s.pop()
    data = inst.datas[seg]
    if src + n > len(data) or dst + n > len(d):
        raise WasmTrap(TrapKind.memory_out_of_bounds)
    if n:
        d[dst:dst + n] = data[src:src + n]


def op_data_drop(s, imm):
    inst, seg = imm
    inst.datas[seg] = b""


# -- tables -----------------------------------------------------------------------------------
def op_table_get(s, t):
    i = s[-1]
    e = t.elems
    if i >= len(e):
        raise WasmTrap(TrapKind.table_out_of_bounds)
    s[-1] = e[i]


def op_table_set(s, t):
    v = s.pop()
    i = s.pop()
    e = t.elems
    if i >= len(e):
        raise WasmTrap(TrapKind.table_out_of_bounds)
    e[i] = v


def op_table_size(s, t):
    s.append(len(t.elems))


def op_table_grow(s, t):
    n = s.pop()
    s[-1] = t.grow(n, s[-1]) & (M64 if t.is64 else M32)


def op_table_fill(s, t):
    n = s.pop()
    v = s.pop()
    i = s.pop()
    e = t.elems
    if i + n > len(e):
        raise WasmTrap(TrapKind.table_out_of_bounds)
    if n:
        e[i:i + n] = [v] * n


def op_table_copy(s, imm):
    dt, st = imm
    n = s.pop()
    src = s.pop()
    dst = s.pop()
    if src + n > len(st.elems) or dst + n > len(dt.elems):
        raise WasmTrap(TrapKind.table_out_of_bounds)
    if n:
        dt.elems[dst:dst + n] = st.elems[src:src + n]


def op_table_init(s, imm):
    inst, seg, t = imm
    n = s.pop()
    src = s.pop()
    dst = s.pop()
    vals = inst.elems[seg]
    if src + n > len(vals) or dst + n > len(t.elems):
        raise WasmTrap(TrapKind.table_out_of_bounds)
    if n:
        t.elems[dst:dst + n] = vals[src:src + n]


def op_elem_drop(s, imm):
    inst, seg = imm
    inst.elems[seg] = []
