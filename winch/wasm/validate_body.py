"""Validating a function body in one pass over its bytes, with an optional visitor.

Problem: decode and validate every instruction of a body once, fast enough that a Python
compiler can afford it per instruction, and let the compiler's visitor run inside the same
loop ("validate, then visit").

Algorithm: the spec's validation algorithm (appendix "Validation Algorithm"): an operand
stack of value types and a control stack of frames `[kind, label_types, end_types, height,
unreachable, start_types]`.  `BOT` is the unknown type popped from the polymorphic stack of
unreachable code.  The loop dispatches on a per-byte kind (most frequent first) and inlines
the one-byte LEB case (two-byte too for local, call and i32.const immediates); rare operators
go through `instrs.read_imm`.

Invariants:
- `height` and `unreach` always mirror `ctrl[-1][3]` and `ctrl[-1][4]`.
- `len(stack) >= height` at every instruction boundary.
- After each instruction, `visit(op, imm)` is called (if given) with the row and the decoded
  immediate, reachable or not: the visitor tracks its own reachability.
- With a function compiler (`lower`), the same loop lowers: after an instruction is
  validated, its handler is taken from `lower.by_byte` by the opcode byte and called directly
  while the code is reachable; everything else (unreachable code, prefixed operators, the
  final `end`) goes through `lower.visit`.  `validate()` alone runs the same loop without it.
"""

from __future__ import annotations

import struct

from winch.errors import DecodeError, Unsupported, ValidationError, WinchError
from winch.wasm import opcodes as K
from winch.wasm.instrs import read_imm, read_op
from winch.wasm.leb import read_s32, read_s33, read_s64, read_u32
from winch.wasm.types import (
    BOT, EXTERNREF, F32, F64, FOREIGN_VALUE_TYPES, FUNCREF, I32, I64, NUM_TYPES, V128,
    VALUE_TYPES, type_name, types_str,
)

# -- per-byte dispatch kinds, derived from the opcode table ------------------------------------
# Numbered by how often they occur in real code (sql.js): the hot loop tests them in this
# order with literal constants, since each failed test costs about 20 ns in CPython.
(X_LGET, X_I32C, X_NUM, X_MEM, X_LSET, X_END, X_CALL, X_BRIF, X_BLOCK, X_BR, X_GLOBAL, X_DROP,
 X_SELECT, X_I64C, X_STOP, X_ELSE, X_BRTABLE, X_FCONST, X_CALLI, X_NOP, X_OTHER,
 X_FOREIGN, X_ILLEGAL) = range(23)

_BY_NAME = {
    "local.get": X_LGET, "local.set": X_LSET, "local.tee": X_LSET, "global.get": X_GLOBAL,
    "global.set": X_GLOBAL, "i32.const": X_I32C, "i64.const": X_I64C, "f32.const": X_FCONST,
    "f64.const": X_FCONST, "block": X_BLOCK, "loop": X_BLOCK, "if": X_BLOCK, "else": X_ELSE,
    "end": X_END, "br": X_BR, "br_if": X_BRIF, "br_table": X_BRTABLE, "return": X_STOP,
    "call": X_CALL, "call_indirect": X_CALLI, "drop": X_DROP, "select": X_SELECT,
    "unreachable": X_STOP, "nop": X_NOP,
}
KIND = [X_ILLEGAL] * 256
NUM = [None] * 256  # (param0, param1 or 0 for unary, result)
for _op in K.SINGLE:
    if _op is None:
        continue
    b = _op.code
    if _op.imm is K.FOREIGN:
        KIND[b] = X_FOREIGN
    elif _op.name in _BY_NAME:
        KIND[b] = _BY_NAME[_op.name]
    elif _op.family in ("load", "store"):
        KIND[b] = X_MEM
    elif (_op.has_sig and _op.imm is K.NONE and len(_op.params) in (1, 2)
          and len(_op.results) == 1):
        KIND[b] = X_NUM
        NUM[b] = (_op.params[0], _op.params[1] if len(_op.params) == 2 else 0, _op.results[0])
    else:
        KIND[b] = X_OTHER
for _p in K.PREFIXED:
    KIND[_p] = X_OTHER
# Memory operators: (log2 natural alignment, loaded type or 0, stored type or 0).
MEMINFO = [(_op.align, _op.results[0] if _op.family == "load" else 0,
            _op.params[0] if _op.family == "store" else 0)
           if _op is not None and _op.family in ("load", "store") else None for _op in K.SINGLE]
SINGLE = K.SINGLE
_unpack_f32 = struct.Struct("<I").unpack_from
_unpack_f64 = struct.Struct("<Q").unpack_from

F_FUNC, F_BLOCK, F_LOOP, F_IF, F_ELSE = range(5)
MAX_LOCALS = 50000


def _mismatch(expect, got, at) -> ValidationError:
    want = "[]" if expect is None else f"[{type_name(expect)}]"
    have = "[]" if got is None else f"[{type_name(got)}]"
    return ValidationError(f"type mismatch: instruction requires {want} but stack has {have}", at)


def _pop(stack, height, unreach, expect, at):
    """Pop one operand, which must match `expect` (0: any type)."""
    if len(stack) == height:
        if unreach:
            return BOT
        raise _mismatch(expect or None, None, at)
    got = stack.pop()
    if expect and got != expect and got != BOT:
        raise _mismatch(expect, got, at)
    return got


def _pop_all(stack, height, unreach, types, at):
    for t in reversed(types):
        _pop(stack, height, unreach, t, at)


def _check_top(stack, height, unreach, types, at):
    """Check the top of the stack against `types` without popping (br_if-style peeking)."""
    n = len(types)
    avail = len(stack) - height
    for i in range(n):
        if i >= avail:
            if unreach:
                return
            raise ValidationError(
                f"type mismatch: instruction requires {types_str(types)} but stack has "
                f"{types_str(stack[height:])}", at)
        got = stack[-1 - i]
        want = types[n - 1 - i]
        if got != want and got != BOT:
            raise ValidationError(
                f"type mismatch: instruction requires {types_str(types)} but stack has "
                f"{types_str(stack[max(height, len(stack) - n):])}", at)


class BodyContext:
    """What a body may refer to: the module's index spaces, as the module validator built them."""

    __slots__ = ("types", "funcs", "tables", "mems", "globals", "elems", "data_count", "refs")

    def __init__(self, types, funcs, tables, mems, globals_, elems, data_count, refs):
        self.types = types  # FuncType per type index
        self.funcs = funcs  # FuncType per function index
        self.tables = tables  # TableType per table index
        self.mems = mems  # MemoryType per memory index
        self.globals = globals_  # GlobalType per global index
        self.elems = elems  # reference type per element segment
        self.data_count = data_count  # None if there is no data count section
        self.refs = refs  # function indices declared outside function bodies


def block_type(ctx: BodyContext, bt: int, at: int):
    """(params, results) of a raw s33 block type."""
    if bt == -64:
        return (), ()
    if bt < 0:
        t = bt + 128
        if t in VALUE_TYPES:
            return (), (t,)
        if t in FOREIGN_VALUE_TYPES:
            raise Unsupported(FOREIGN_VALUE_TYPES[t], f"block type {t:#04x}", at)
        raise DecodeError("malformed value type", at)
    if bt >= len(ctx.types):
        raise ValidationError(f"unknown type {bt}", at)
    ft = ctx.types[bt]
    return ft.params, ft.results


def local_types(func, params) -> list:
    locs = list(params)
    total = 0
    for n, t in func.locals:
        total += n
        if total > 0xFFFFFFFF:
            raise DecodeError("too many locals", func.offset)
        if total > MAX_LOCALS:
            raise Unsupported("implementation-limit", f"more than {MAX_LOCALS} locals", func.offset)
        locs.extend([t] * n)
    return locs


def _addr(ctx, mem, at):
    if mem >= len(ctx.mems):
        raise ValidationError(f"unknown memory {mem}", at)
    return I64 if ctx.mems[mem].limits.is64 else I32


def _memarg_check(ctx, align, offset, mem, natural, at):
    at_t = _addr(ctx, mem, at)
    if align > natural:
        raise ValidationError("alignment must not be larger than natural", at)
    if at_t == I32 and offset > 0xFFFFFFFF:
        raise ValidationError("offset out of range", at)
    return at_t


def _table(ctx, t, at):
    if t >= len(ctx.tables):
        raise ValidationError(f"unknown table {t}", at)
    tt = ctx.tables[t]
    return (I64 if tt.limits.is64 else I32), tt.elem


def validate_body(ctx: BodyContext, func_index: int, func, data, visit=None,
                  lower=None) -> None:
    """Validate the body of function `func_index`; raise DecodeError / ValidationError / Unsupported.

    `visit(op, imm, offset)` is called after each instruction is validated, with the byte
    offset of the instruction in the module.  `lower`: a function compiler (see
    `winch.codegen.func.FuncCodegen`) lowered inside this loop instead, without a callback
    per instruction: its `by_byte` handler list (opcode byte -> handler(g, op, imm)) is
    called directly while the code is reachable, `srclocs` gets the code offset and the
    wasm offset of each lowered instruction (one int, `code << 32 | wasm`), and `visit` takes the
    rare cases (unreachable code, prefixed operators, no handler, the final `end`).
    `local.get` and `i32.const` emit no code: unless `lower.local_entry_kind` (the kind of
    the value-stack entry `(kind, type, index)` of a local) or `lower.i32_const_entry` (an
    entry without its value) is None, the loop pushes their entries onto
    `lower.stack.items` itself (no handler call).
    """
    start, end = func.body
    # The loop reads a private copy of the body, so that no read can run into the next one:
    # an immediate cut off by the end of the body raises IndexError, turned into DecodeError.
    code = data[start:end]
    ft = ctx.funcs[func_index]
    locs = local_types(func, ft.params)
    try:
        _validate(ctx, ft, locs, code, start, visit, lower)
    except WinchError as e:
        if e.offset is not None:
            e.offset += start
        raise
    except IndexError:
        raise DecodeError("unexpected end of section or function", end) from None


def _memarg_slow(ctx, data, pos, end, natural, at):
    """A memarg that is not the common `align < 64, offset < 128, memory 0` form."""
    imm, pos = read_imm(K.MEMARG, data, pos, end)
    return imm, _memarg_check(ctx, imm[0], imm[1], imm[2], natural, at), pos


def _validate(ctx, ft, locs, data, base, visit, lower=None):
    nlocs = len(locs)
    globals_ = ctx.globals
    funcs = ctx.funcs
    nfuncs = len(funcs)
    # The address type of memory 0, or 0 if there is none (the common memarg's fast path).
    mem0 = (I64 if ctx.mems[0].limits.is64 else I32) if ctx.mems else 0
    stack: list = []
    push = stack.append
    pop = stack.pop
    results = list(ft.results)
    ctrl = [[F_FUNC, results, results, 0, False, []]]
    height = 0
    unreach = False
    pos = 0
    end = len(data)
    kind_of = KIND
    num = NUM
    single = SINGLE
    meminfo = MEMINFO
    lget_fast = min(nlocs, 0x80)
    lget_kind = i32c_entry = None
    if lower is not None:  # lowering in this loop (see validate_body)
        visit = lower.visit
        by_byte = lower.by_byte
        srcloc = lower.srclocs.append
        out = lower.masm.buf.data  # the code bytearray (grows in place)
        # local.get and i32.const (two fifths of all instructions) push an entry and emit
        # nothing: pushed here, without a call, unless their handlers were replaced
        vstack = lower.stack
        items = vstack.items
        lget_kind = lower.local_entry_kind  # None: call the handler
        i32c_entry = lower.i32_const_entry  # (kind, type) of the entry, or None
    # No bounds test per instruction: reading past the private copy of the body raises
    # IndexError, which the caller reports as "unexpected end".
    while True:
        at = pos
        b = data[pos]
        kind = kind_of[b]
        if kind == 0:  # X_LGET
            imm = data[pos + 1]
            if imm < lget_fast:  # a one-byte index of an existing local
                pos += 2
            else:
                if imm & 0x80 and pos + 2 < end and data[pos + 2] < 0x80:  # two bytes
                    imm = (imm & 0x7F) | data[pos + 2] << 7
                    pos += 3
                else:
                    imm, pos = read_u32(data, pos + 1, end)
                if imm >= nlocs:
                    raise ValidationError(f"unknown local {imm}", at)
            push(locs[imm])
            if lget_kind is not None and not lower.unreachable:
                srcloc(len(out) << 32 | base + at)
                items.append((lget_kind, locs[imm], imm))
                if len(items) > vstack.max_depth:
                    vstack.max_depth = len(items)
                continue
        elif kind == 1:  # X_I32C
            imm = data[pos + 1]
            if imm < 0x40:  # a one-byte non-negative constant
                pos += 2
            elif imm < 0x80:  # a one-byte negative constant
                imm -= 0x80
                pos += 2
            elif pos + 2 < end and data[pos + 2] < 0x80:  # two bytes
                imm = (imm & 0x7F) | data[pos + 2] << 7
                if imm & 0x2000:
                    imm -= 0x4000
                pos += 3
            else:
                imm, pos = read_s32(data, pos + 1, end)
            push(I32)
            if i32c_entry is not None and not lower.unreachable:
                srcloc(len(out) << 32 | base + at)
                items.append(i32c_entry + (imm & 0xFFFF_FFFF,))
                if len(items) > vstack.max_depth:
                    vstack.max_depth = len(items)
                continue
        elif kind == 2:  # X_NUM: fixed-signature numeric operator
            pos += 1
            imm = None
            p0, p1, r = num[b]
            if p1:
                if len(stack) - height >= 2 and stack[-1] == p1 and stack[-2] == p0:
                    pop()
                    stack[-1] = r
                else:
                    _pop(stack, height, unreach, p1, at)
                    _pop(stack, height, unreach, p0, at)
                    push(r)
            elif len(stack) > height and stack[-1] == p0:
                stack[-1] = r
            else:
                _pop(stack, height, unreach, p0, at)
                push(r)
        elif kind == 3:  # X_MEM: load or store
            natural, load_t, store_t = meminfo[b]
            align = data[pos + 1]
            offset = data[pos + 2]
            if align < 0x40 and offset < 0x80 and mem0:
                pos += 3
                if align > natural:
                    raise ValidationError("alignment must not be larger than natural", at)
                at_t = mem0
                imm = (align, offset, 0)
            else:
                imm, at_t, pos = _memarg_slow(ctx, data, pos + 1, end, natural, at)
            if load_t:
                if len(stack) > height and stack[-1] == at_t:
                    stack[-1] = load_t
                else:
                    _pop(stack, height, unreach, at_t, at)
                    push(load_t)
            elif len(stack) - height >= 2 and stack[-1] == store_t and stack[-2] == at_t:
                del stack[-2:]
            else:
                _pop(stack, height, unreach, store_t, at)
                _pop(stack, height, unreach, at_t, at)
        elif kind == 4:  # X_LSET: local.set, local.tee
            imm = data[pos + 1]
            pos += 2
            if imm & 0x80:
                if pos < end and data[pos] < 0x80:  # two bytes
                    imm = (imm & 0x7F) | data[pos] << 7
                    pos += 1
                else:
                    imm, pos = read_u32(data, pos - 1, end)
            if imm >= nlocs:
                raise ValidationError(f"unknown local {imm}", at)
            t = locs[imm]
            if len(stack) > height and stack[-1] == t:
                if b == 0x21:
                    pop()
            else:
                _pop(stack, height, unreach, t, at)
                if b == 0x22:
                    push(t)
        elif kind == 5:  # X_END
            pos += 1
            imm = None
            frame = ctrl[-1]
            results = frame[2]
            if stack[height:] != results:
                _pop_all(stack, height, unreach, results, at)
                if len(stack) != height:
                    raise ValidationError(
                        f"type mismatch: block requires {types_str(results)} but stack has "
                        f"{len(stack) - height} more value(s)", at)
                stack.extend(results)
            if frame[0] == F_IF and frame[5] != results:
                raise ValidationError("type mismatch: if without else must leave its parameters "
                                      "unchanged", at)
            ctrl.pop()
            if not ctrl:
                if pos != end:
                    raise DecodeError("section size mismatch", pos)
                if visit is not None:
                    visit(SINGLE[b], None, base + at)
                return
            top = ctrl[-1]
            height = top[3]
            unreach = top[4]
        elif kind == 6:  # X_CALL
            imm = data[pos + 1]
            pos += 2
            if imm & 0x80:
                if pos < end and data[pos] < 0x80:  # two bytes
                    imm = (imm & 0x7F) | data[pos] << 7
                    pos += 1
                else:
                    imm, pos = read_u32(data, pos - 1, end)
            if imm >= nfuncs:
                raise ValidationError(f"unknown function {imm}", at)
            callee = funcs[imm]
            params = callee.params
            if params:
                n = len(params)
                if len(stack) - height >= n and tuple(stack[-n:]) == params:
                    del stack[-n:]
                else:
                    _pop_all(stack, height, unreach, params, at)
            stack.extend(callee.results)
        elif kind == 7:  # X_BRIF
            imm = data[pos + 1]
            pos += 2
            if imm & 0x80:
                imm, pos = read_u32(data, pos - 1, end)
            if imm >= len(ctrl):
                raise ValidationError(f"unknown label {imm}", at)
            if len(stack) > height and stack[-1] == I32:
                pop()
            else:
                _pop(stack, height, unreach, I32, at)
            labels = ctrl[-1 - imm][1]
            if labels:
                _pop_all(stack, height, unreach, labels, at)
                stack.extend(labels)
        elif kind == 8:  # X_BLOCK: block, loop, if
            bt = data[pos + 1]
            if bt == 0x40:
                pos += 2
                imm = -64
                params = results = []
            else:
                if bt & 0x80:
                    bt, pos = read_s33(data, pos + 1, end)
                else:
                    pos += 2
                    if bt & 0x40:
                        bt -= 0x80
                imm = bt
                params, results = block_type(ctx, bt, at)
                params, results = list(params), list(results)
            if b == 0x04:  # if
                if len(stack) > height and stack[-1] == I32:
                    pop()
                else:
                    _pop(stack, height, unreach, I32, at)
            if params:
                _pop_all(stack, height, unreach, params, at)
            height = len(stack)
            unreach = False
            if b == 0x02:
                ctrl.append([F_BLOCK, results, results, height, False, params])
            elif b == 0x03:
                ctrl.append([F_LOOP, params, results, height, False, params])
            else:
                ctrl.append([F_IF, results, results, height, False, params])
            if params:
                stack.extend(params)
        elif kind == 9:  # X_BR
            imm = data[pos + 1]
            pos += 2
            if imm & 0x80:
                imm, pos = read_u32(data, pos - 1, end)
            if imm >= len(ctrl):
                raise ValidationError(f"unknown label {imm}", at)
            labels = ctrl[-1 - imm][1]
            if labels:
                _pop_all(stack, height, unreach, labels, at)
            del stack[height:]
            unreach = ctrl[-1][4] = True
        elif kind == 10:  # X_GLOBAL: global.get, global.set
            imm = data[pos + 1]
            pos += 2
            if imm & 0x80:
                imm, pos = read_u32(data, pos - 1, end)
            if imm >= len(globals_):
                raise ValidationError(f"unknown global {imm}", at)
            g = globals_[imm]
            if b == 0x23:
                push(g.valtype)
            else:
                if not g.mutable:
                    raise ValidationError(f"global is immutable: global {imm}", at)
                if len(stack) > height and stack[-1] == g.valtype:
                    pop()
                else:
                    _pop(stack, height, unreach, g.valtype, at)
        elif kind == 11:  # X_DROP
            pos += 1
            imm = None
            if len(stack) > height:
                pop()
            else:
                _pop(stack, height, unreach, 0, at)
        elif kind == 12:  # X_SELECT
            pos += 1
            imm = None
            if (len(stack) - height >= 3 and stack[-1] == I32 and stack[-2] == stack[-3]
                    and stack[-2] in NUM_TYPES):  # the common case: two equal numeric operands
                del stack[-2:]
            else:
                _select_slow(stack, height, unreach, at)
        elif kind == 13:  # X_I64C
            imm = data[pos + 1]
            if imm < 0x80:  # one byte
                if imm & 0x40:
                    imm -= 0x80
                pos += 2
            else:
                imm, pos = read_s64(data, pos + 1, end)
            push(I64)
        elif kind == 14:  # X_STOP: return, unreachable
            pos += 1
            imm = None
            if b == 0x0F:
                _pop_all(stack, height, unreach, ctrl[0][1], at)
            del stack[height:]
            unreach = ctrl[-1][4] = True
        elif kind == 15:  # X_ELSE
            pos += 1
            imm = None
            frame = ctrl[-1]
            if frame[0] != F_IF:
                raise DecodeError("else without matching if", at)
            _pop_all(stack, height, unreach, frame[2], at)
            if len(stack) != height:
                raise ValidationError(
                    f"type mismatch: block requires {types_str(frame[2])} but stack has more", at)
            frame[0] = F_ELSE
            frame[4] = unreach = False
            stack.extend(frame[5])
        elif kind == 16:  # X_BRTABLE
            imm, pos = read_imm(K.BR_TABLE, data, pos + 1, end)
            targets, default = imm
            _pop(stack, height, unreach, I32, at)
            if default >= len(ctrl):
                raise ValidationError(f"unknown label {default}", at)
            arity = len(ctrl[-1 - default][1])
            for t in targets:
                if t >= len(ctrl):
                    raise ValidationError(f"unknown label {t}", at)
                lt = ctrl[-1 - t][1]
                if len(lt) != arity:
                    raise ValidationError("type mismatch: br_table targets have different "
                                          "arities", at)
                _check_top(stack, height, unreach, lt, at)
            _pop_all(stack, height, unreach, ctrl[-1 - default][1], at)
            del stack[height:]
            unreach = ctrl[-1][4] = True
        elif kind == 17:  # X_FCONST: f32.const, f64.const
            if b == 0x43:
                if pos + 5 > end:
                    raise DecodeError("unexpected end of section or function", pos)
                imm = _unpack_f32(data, pos + 1)[0]
                pos += 5
                push(F32)
            else:
                if pos + 9 > end:
                    raise DecodeError("unexpected end of section or function", pos)
                imm = _unpack_f64(data, pos + 1)[0]
                pos += 9
                push(F64)
        elif kind == 18:  # X_CALLI
            imm, pos = read_imm(K.CALL_INDIRECT, data, pos + 1, end)
            ti, tab = imm
            at_t, elem = _table(ctx, tab, at)
            if elem != FUNCREF:
                raise ValidationError("type mismatch: call_indirect needs a funcref table", at)
            if ti >= len(ctx.types):
                raise ValidationError(f"unknown type {ti}", at)
            _pop(stack, height, unreach, at_t, at)
            callee = ctx.types[ti]
            _pop_all(stack, height, unreach, callee.params, at)
            stack.extend(callee.results)
        elif kind == 19:  # X_NOP
            pos += 1
            imm = None
        elif kind == 20:  # X_OTHER: the remaining single-byte and all prefixed operators
            row, pos = read_op(data, at, end)
            imm, pos = read_imm(row.imm, data, pos, end)
            _other(ctx, row, imm, stack, height, unreach, at)
            if visit is not None:
                visit(row, imm, base + at)
            continue
        elif kind == 21:  # X_FOREIGN
            read_op(data, at, end)  # raises Unsupported with the operator's name
        else:
            raise DecodeError(f"illegal opcode {b:02x}", at)
        if lower is not None:
            h = by_byte[b]
            if h is None or lower.unreachable:
                visit(single[b], imm, base + at)
            else:
                srcloc(len(out) << 32 | base + at)
                try:
                    h(lower, single[b], imm)
                except WinchError:
                    raise
                except Exception as e:  # a compiler bug: say where, never a decoding error
                    raise lower.bug(single[b], base + at, e) from e
        elif visit is not None:
            visit(single[b], imm, base + at)


def _select_slow(stack, height, unreach, at):
    """`select` without a type, any stack (the loop inlines the common case)."""
    _pop(stack, height, unreach, I32, at)
    t1 = _pop(stack, height, unreach, 0, at)
    t2 = _pop(stack, height, unreach, 0, at)
    for t in (t1, t2):
        if t != BOT and t not in NUM_TYPES and t != V128:
            raise ValidationError("type mismatch: select without a type needs numeric "
                                  "or vector operands", at)
    if t1 != t2 and t1 != BOT and t2 != BOT:
        raise _mismatch(t1, t2, at)
    stack.append(t1 if t1 != BOT else t2)


def _other(ctx, op, imm, stack, height, unreach, at):
    """Operators outside the hot path: fixed signatures with immediates, tables, bulk, refs, SIMD."""
    name = op.name
    if op.has_sig:
        if op.imm is K.LANE:
            if imm >= op.lanes:
                raise ValidationError("invalid lane index", at)
        elif op.imm is K.SHUFFLE:
            if any(lane >= 32 for lane in imm):
                raise ValidationError("invalid lane index", at)
        elif op.imm is K.MEMARG or op.imm is K.MEMARG_LANE:
            at_t = _memarg_check(ctx, imm[0], imm[1], imm[2], op.align, at)
            if op.imm is K.MEMARG_LANE and imm[3] >= op.lanes:
                raise ValidationError("invalid lane index", at)
            _pop_all(stack, height, unreach, op.params, at)
            _pop(stack, height, unreach, at_t, at)
            stack.extend(op.results)
            return
        _pop_all(stack, height, unreach, op.params, at)
        stack.extend(op.results)
        return
    if name == "select_t":
        if len(imm) != 1:
            raise ValidationError("invalid result arity", at)
        t = imm[0]
        _pop_all(stack, height, unreach, (t, t, I32), at)
        stack.append(t)
    elif name == "memory.size":
        stack.append(_addr(ctx, imm, at))
    elif name == "memory.grow":
        at_t = _addr(ctx, imm, at)
        _pop(stack, height, unreach, at_t, at)
        stack.append(at_t)
    elif name == "memory.fill":
        at_t = _addr(ctx, imm, at)
        _pop_all(stack, height, unreach, (at_t, I32, at_t), at)
    elif name == "memory.copy":
        a = _addr(ctx, imm[0], at)
        b = _addr(ctx, imm[1], at)
        _pop_all(stack, height, unreach, (a, b, I32 if I32 in (a, b) else I64), at)
    elif name == "memory.init" or name == "data.drop":
        if ctx.data_count is None:
            raise DecodeError("data count section required", at)
        seg = imm[0] if name == "memory.init" else imm
        if name == "memory.init":
            at_t = _addr(ctx, imm[1], at)
        if seg >= ctx.data_count:
            raise ValidationError(f"unknown data segment {seg}", at)
        if name == "memory.init":
            _pop_all(stack, height, unreach, (at_t, I32, I32), at)
    elif name == "table.get" or name == "table.set":
        at_t, elem = _table(ctx, imm, at)
        if name == "table.get":
            _pop(stack, height, unreach, at_t, at)
            stack.append(elem)
        else:
            _pop_all(stack, height, unreach, (at_t, elem), at)
    elif name == "table.size":
        stack.append(_table(ctx, imm, at)[0])
    elif name == "table.grow":
        at_t, elem = _table(ctx, imm, at)
        _pop_all(stack, height, unreach, (elem, at_t), at)
        stack.append(at_t)
    elif name == "table.fill":
        at_t, elem = _table(ctx, imm, at)
        _pop_all(stack, height, unreach, (at_t, elem, at_t), at)
    elif name == "table.copy":
        a, ea = _table(ctx, imm[0], at)
        b, eb = _table(ctx, imm[1], at)
        if ea != eb:
            raise ValidationError("type mismatch: table.copy between tables of different types", at)
        _pop_all(stack, height, unreach, (a, b, I32 if I32 in (a, b) else I64), at)
    elif name == "table.init":
        seg, tab = imm
        at_t, elem = _table(ctx, tab, at)
        if seg >= len(ctx.elems):
            raise ValidationError(f"unknown elem segment {seg}", at)
        if ctx.elems[seg] != elem:
            raise ValidationError("type mismatch: element segment and table types differ", at)
        _pop_all(stack, height, unreach, (at_t, I32, I32), at)
    elif name == "elem.drop":
        if imm >= len(ctx.elems):
            raise ValidationError(f"unknown elem segment {imm}", at)
    elif name == "ref.null":
        stack.append(imm)
    elif name == "ref.is_null":
        t = _pop(stack, height, unreach, 0, at)
        if t not in (FUNCREF, EXTERNREF, BOT):
            raise ValidationError(f"type mismatch: ref.is_null needs a reference, got "
                                  f"{type_name(t)}", at)
        stack.append(I32)
    elif name == "ref.func":
        if imm >= len(ctx.funcs):
            raise ValidationError(f"unknown function {imm}", at)
        if imm not in ctx.refs:
            raise ValidationError(f"undeclared function reference {imm}", at)
        stack.append(FUNCREF)
    else:  # pragma: no cover - every row with imm kind handled above
        raise Unsupported(op.feature, op.name, at)
