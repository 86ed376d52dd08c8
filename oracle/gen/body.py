"""One function body, built instruction by instruction and encoded as it goes.

Problem: any sequence of choices must give a valid body, cheaply (generation is most of a
fuzz execution's cost when it is slow).

Algorithm: the builder keeps a *type stack* (operand types) and a *control stack* (open
frames: kind, params, results, the stack height at entry, whether the rest is unreachable).
An operator is offered only when its operands can be on the stack, a branch only with its
label's values in place, and every block is closed by making the stack match its results
(values in the way are folded into sink globals, missing ones pushed as operands).  Each
step asks the choice source for an action among those the state allows; the list of
actions is computed once per (configuration, state shape) and cached.  Instructions are
written straight to a bytearray (opcode bytes and LEB128 immediates precomputed), never as
`Instr` objects.

Invariants: the stack never holds a reference (reference operations consume what they
make in the same step); a function calls only imports and functions defined after it (no
recursion); every function entry and loop header runs the fuel check.
"""

from __future__ import annotations

from winch.wasm.leb import encode_signed, encode_unsigned
from winch.wasm.opcodes import BY_NAME
from winch.wasm.types import F32, F64, I32, I64

from oracle.gen.source import NUM

PAGE = 65536
MASK32 = 0xFFFF_FFFF
_W = {I32: 32, I64: 64, F32: 32, F64: 64}


def uleb(v: int) -> bytes:
    """LEB128 of an unsigned value: one byte from a table, else winch's encoder."""
    return _U1[v] if v < 0x80 else encode_unsigned(v)


def sleb(v: int) -> bytes:
    """LEB128 of a signed value: one byte from a table, else winch's encoder."""
    return _U1[v & 0x7F] if -64 <= v < 64 else encode_signed(v)


_U1 = [bytes((i,)) for i in range(128)]


def opb(name: str) -> bytes:
    """The opcode bytes of operator `name`."""
    o = BY_NAME[name]
    return bytes((o.code,)) if o.prefix == 0 else bytes((o.prefix,)) + uleb(o.code)


def _imm_table(name: str, n: int) -> list:
    head = opb(name)
    return [head + uleb(i) for i in range(n)]


_IDX = 2048  # indices up to this have their instruction precomputed
LOCAL_GET, LOCAL_SET, LOCAL_TEE = (_imm_table(n, _IDX) for n in ("local.get", "local.set",
                                                                  "local.tee"))
GLOBAL_GET, GLOBAL_SET = (_imm_table(n, 64) for n in ("global.get", "global.set"))
CONST_OP = {I32: opb("i32.const"), I64: opb("i64.const"), F32: opb("f32.const"),
            F64: opb("f64.const")}
I32_CONST = opb("i32.const")
END, ELSE, NOP, DROP, SELECT, UNREACHABLE, RETURN = (opb(n) for n in (
    "end", "else", "nop", "drop", "select", "unreachable", "return"))
BLOCK, LOOP, IF, BR, BR_IF, BR_TABLE, CALL, CALL_INDIRECT = (opb(n) for n in (
    "block", "loop", "if", "br", "br_if", "br_table", "call", "call_indirect"))
WRAP = opb("i32.wrap_i64")
EMPTY_BT = b"\x40"


def local_get(i: int) -> bytes:
    return LOCAL_GET[i] if i < _IDX else LOCAL_GET[0][:1] + uleb(i)


def local_set(i: int) -> bytes:
    return LOCAL_SET[i] if i < _IDX else LOCAL_SET[0][:1] + uleb(i)


def local_tee(i: int) -> bytes:
    return LOCAL_TEE[i] if i < _IDX else LOCAL_TEE[0][:1] + uleb(i)


def const_bytes(t: int, bits: int) -> bytes:
    """`t.const` of the bit pattern `bits` (integers: read as two's complement)."""
    if t == I32:
        return I32_CONST + sleb(bits - (1 << 32) if bits >> 31 else bits)
    if t == I64:
        return CONST_OP[I64] + sleb(bits - (1 << 64) if bits >> 63 else bits)
    return CONST_OP[t] + bits.to_bytes(4 if t == F32 else 8, "little")


class Op:
    """A numeric operator as the body builder uses it."""

    __slots__ = ("name", "code", "params", "results", "nondet", "guard", "pair", "bound",
                 "special")

    def __init__(self, o):
        self.name = o.name
        self.code = opb(o.name)
        self.params = tuple(o.params)
        self.results = tuple(o.results)
        self.nondet = NONDET_NAN.get(o.name, 0)
        p = o.name[:3]
        # mostly a divisor made non-zero (x | 1)
        self.guard = opb(p + ".const") + b"\x01" + opb(p + ".or") if o.name in DIVISIONS \
            else None
        self.pair = TRAP_OPERANDS.get(o.name)
        # boundary operands: "shift" (a non-constant count at the width's edges), "float"
        # (NaN, -0, +0, infinities on either side), "values" (this operator's own list)
        kind = o.name.split(".")[1]
        self.special = BOUNDARY_VALUES.get(o.name)
        self.bound = ("shift" if kind in SHIFTS else
                      "float" if kind in FLOAT_SPECIAL_OPS and o.params[0] in (F32, F64)
                      and len(o.params) == 2 else "values" if self.special else None)


# operations whose NaN result's bits the spec leaves open (see oracle.nan_canon)
NONDET_NAN = {f"{p}.{n}": t for t, p in ((F32, "f32"), (F64, "f64"))
              for n in ("add", "sub", "mul", "div", "min", "max", "sqrt", "ceil", "floor",
                        "trunc", "nearest")}
NONDET_NAN.update({"f32.demote_f64": F32, "f64.promote_f32": F64})
CANON_NAN = {F32: 0x7FC0_0000, F64: 0x7FF8_0000_0000_0000}
DIVISIONS = frozenset(f"{t}.{op}" for t in ("i32", "i64")
                      for op in ("div_s", "div_u", "rem_s", "rem_u"))
# operand pairs that take an operator's one special path (INT_MIN / -1 traps, INT_MIN % -1
# is 0): two edge values at once are too rare to be drawn apart, so drawn now and then
TRAP_OPERANDS = {
    "i32.div_s": (0x8000_0000, MASK32), "i32.rem_s": (0x8000_0000, MASK32),
    "i64.div_s": (1 << 63, (1 << 64) - 1), "i64.rem_s": (1 << 63, (1 << 64) - 1),
}
SHIFTS = frozenset(("shl", "shr_s", "shr_u", "rotl", "rotr"))
# shift and rotate counts: 0, 1, width-1, width, width+1, 32..63 (drawn apart), and counts
# with junk above the bits the operator uses (they must be masked off)
SHIFT_COUNTS = {I32: (0, 1, 31, 32, 33, 16, 0xFFFF_FFE1, 0x8000_0001),
                I64: (0, 1, 63, 64, 65, 32, 33, 0xFFFF_FFFF_FFFF_FFC1, (1 << 32) | 3)}
FLOAT_SPECIAL_OPS = frozenset(("eq", "ne", "lt", "gt", "le", "ge", "min", "max", "copysign"))
FLOAT_SPECIALS = {F32: (0x7FC0_0000, 0xFFC0_0000, 0x7FA0_0000, 0, 0x8000_0000, 0x7F80_0000,
                        0xFF80_0000, 0x3F80_0000),
                  F64: (0x7FF8 << 48, 0xFFF8 << 48, 0x7FF4 << 48, 0, 1 << 63, 0x7FF0 << 48,
                        0xFFF0 << 48, 0x3FF0 << 48)}
# int -> float rounding ties (and their neighbours), float -> int conversion edges
_T32 = (0x4EFF_FFFF, 0x4F00_0000, 0xCF00_0000, 0xCF00_0001, 0x4F80_0000, 0x4F7F_FFFF,
        0xBF7F_FFFF, 0x5F00_0000, 0xDF00_0000, 0x5F80_0000, 0x7FC0_0000)
_T64 = (0x41DF_FFFF_FFC0_0000, 0x41E0 << 48, 0xC1E0_0000_0020_0000, 0xC1E0 << 48,
        0x41EF_FFFF_FFE0_0000, 0x41F0 << 48, 0x43E0 << 48, 0xC3E0 << 48, 0x43F0 << 48,
        0xBFEF_FFFF_FFFF_FFFF, 0x43DF_FFFF_FFFF_FFFF, 0x7FF8 << 48)
BOUNDARY_VALUES = {
    "f32.convert_i64_u": (0x8000_0080_0000_0001, 0x8000_0080_0000_0000, 0x8000_0180_0000_0000,
                          0xFFFF_FF7F_FFFF_FFFF, 0x100_0001),
    "f32.convert_i64_s": (0x100_0001, 0x100_0003, 0xFFFF_FFFF_FEFF_FFFF, 0x4000_0040_0000_0001,
                          0x8000_0080_0000_0001),
    "f64.convert_i64_u": (0x8000_0000_0000_0401, 0x8000_0000_0000_0400, 0x20_0000_0000_0001,
                          0xFFFF_FFFF_FFFF_FC01, 0x8000_0000_0000_0C00),
    "f64.convert_i64_s": (0x20_0000_0000_0001, 0x20_0000_0000_0003, 0xFFDF_FFFF_FFFF_FFFF,
                          0x4000_0000_0000_0201),
    "f32.convert_i32_u": (0x100_0001, 0x8000_0081, 0xFFFF_FF81, 0x8000_0080),
    "f32.convert_i32_s": (0x100_0001, 0x7FFF_FFC1, 0x8000_0081, 0xFEFF_FFFF),
}
for _n in ("trunc", "trunc_sat"):
    for _r in ("i32", "i64"):
        for _s in ("s", "u"):
            BOUNDARY_VALUES[f"{_r}.{_n}_f32_{_s}"] = _T32
            BOUNDARY_VALUES[f"{_r}.{_n}_f64_{_s}"] = _T64

LOADS = {I32: ("i32.load", "i32.load8_s", "i32.load8_u", "i32.load16_s", "i32.load16_u"),
         I64: ("i64.load", "i64.load8_s", "i64.load8_u", "i64.load16_s", "i64.load16_u",
               "i64.load32_s", "i64.load32_u"),
         F32: ("f32.load",), F64: ("f64.load",)}
STORES = {I32: ("i32.store", "i32.store8", "i32.store16"),
          I64: ("i64.store", "i64.store8", "i64.store16", "i64.store32"),
          F32: ("f32.store",), F64: ("f64.store",)}
# (opcode bytes, natural alignment) per load/store
# (opcode bytes, natural alignment, sign-extending) per load
LOAD_OPS = {t: tuple((opb(n), BY_NAME[n].align, n.endswith("_s")) for n in names)
            for t, names in LOADS.items()}
# the integer loads by width (8, 16, 32, 64 bits): (opcode bytes, alignment, result type)
READ_BACK = tuple(tuple((opb(n), a, t) for t in (I32, I64) for n in LOADS[t]
                        if BY_NAME[n].align == a) for a in range(4))
STORE_OPS = {t: tuple((opb(n), BY_NAME[n].align) for n in names)
             for t, names in STORES.items()}
SMALL_OFFSETS = (0, 1, 4, 7, 8, 16, 3)
# accesses at the end of a one-page memory, as (address, offset) of the access width: ending
# exactly at the end (four ways, in bounds: `EDGE_IN` of them) ...
EDGE_ACCESSES = (
    (lambda w: PAGE - w, lambda w: 0), (lambda w: PAGE - w - 16, lambda w: 16),
    (lambda w: 0, lambda w: PAGE - w), (lambda w: PAGE - 2 * w, lambda w: w))
EDGE_IN = len(EDGE_ACCESSES)
# ... then one byte past it (three ways), and address + offset carrying past 2**32 (the sum
# must not wrap), all trapping
EDGE_ACCESSES += (
    (lambda w: PAGE - w + 1, lambda w: 0),
    (lambda w: PAGE - 8, lambda w: 8 - w + 1), (lambda w: PAGE - w - 15, lambda w: 16),
    (lambda w: -1, lambda w: 1), (lambda w: -16, lambda w: 0x20),
    (lambda w: 8, lambda w: 0xFFFF_FFFF))

# frame kinds
FUNC, BLK, LOOPK, IFK, ELSEK = range(5)


class Frame:
    __slots__ = ("kind", "params", "results", "height", "unreachable")

    def __init__(self, kind, params, results, height):
        self.kind, self.params, self.results, self.height = kind, params, results, height
        self.unreachable = False

    @property
    def label_types(self) -> tuple:
        return self.params if self.kind == LOOPK else self.results


class Body:
    """Builds one function body from `src`; `mod` is the module being built (its types,
    globals, per-configuration tables), `func_index` the function's index."""

    def __init__(self, src, mod, func_index: int):
        self.src, self.mod = src, mod
        cfg = self.cfg = mod.cfg
        self.callees = list(range(max(func_index + 1, mod.n_imports), len(mod.func_types)))
        ft = mod.types[mod.func_types[func_index]]
        self.params, self.results = ft
        extra = src.types(cfg.max_locals)
        if cfg.many_locals:
            pattern = src.types(4, 1)
            extra += [pattern[i % len(pattern)] for i in range(cfg.many_locals)]
        locals_ = list(self.params) + extra
        # scratch locals: values parked while a frame's results are lifted over junk
        self.scratch = {}
        for t in NUM:
            self.scratch[t] = list(range(len(locals_), len(locals_) + max(1, cfg.max_results)))
            locals_ += [t] * max(1, cfg.max_results)
        self.canon = None
        if cfg.canonicalize_nans:  # local.tee tmp, canonical NaN, x == x ? tmp : NaN
            self.canon = {}
            for t, eq in ((F32, "f32.eq"), (F64, "f64.eq")):
                tmp = len(locals_)
                locals_.append(t)
                self.canon[t] = (local_tee(tmp) + const_bytes(t, CANON_NAN[t]) + local_get(tmp)
                                 + local_get(tmp) + opb(eq) + SELECT)
        self.local_types = locals_
        self.locs = {t: [i for i, lt in enumerate(locals_) if lt == t] for t in NUM}
        self.out = bytearray()
        self.stack: list = []
        self.ctrl = [Frame(FUNC, (), self.results, 0)]
        self.tables = mod.ct
        self.dead_left = 0

    # -- emission helpers ------------------------------------------------------------------
    def const(self, t: int, bits: int | None = None) -> None:
        """Push a constant of type `t`: `bits`, or drawn (edge values first)."""
        self.out += const_bytes(t, self.src.bits(t) if bits is None else bits)
        self.stack.append(t)

    def emit_op(self, o: Op) -> None:
        self.out += o.code
        if o.nondet and self.canon is not None:
            self.out += self.canon[o.nondet]

    def sink(self) -> None:
        """Fold the top value into its sink global (so dropping it stays observable)."""
        self.out += self.mod.sink_code[self.stack.pop()]

    def top_is(self, types) -> bool:
        n = len(types)
        s = self.stack
        return len(s) - self.ctrl[-1].height >= n and (not n or tuple(s[-n:]) == types)

    def ensure(self, types) -> None:
        """Make the top of the stack hold `types`: reuse it if it does, else push operands,
        each a constant, a local or an immutable global of its type (locals carry the plan's
        edge-value arguments, and are not folded at compile time as two constants may be)."""
        if not self.top_is(types):
            for t in types:
                self.operand(t)

    def operand(self, t: int) -> None:
        src = self.src
        choice = src.int(0, 3)
        if choice == 1 or choice == 2:
            self.out += local_get(src.pick(self.locs[t]))  # every type has scratch locals
            self.stack.append(t)
        elif choice == 3 and self.mod.fixed[t]:
            self.out += GLOBAL_GET[src.pick(self.mod.fixed[t])]
            self.stack.append(t)
        else:
            self.const(t)

    def fix_to(self, types) -> None:
        """Make the frame's stack exactly `types` (for `end`, `else`, fallthrough)."""
        s, h = self.stack, self.ctrl[-1].height
        if tuple(s[h:]) == types:
            return
        n = len(types)
        if n and self.top_is(types):
            parked = []
            used = {t: 0 for t in NUM}
            for t in reversed(types):
                loc = self.scratch[t][used[t]]
                used[t] += 1
                self.out += local_set(loc)
                s.pop()
                parked.append((t, loc))
            while len(s) > h:
                self.sink()
            for t, loc in reversed(parked):
                self.out += local_get(loc)
                s.append(t)
            return
        while len(s) > h:
            self.sink()
        for t in types:
            self.const(t)

    def block_type(self, params, results) -> bytes:
        if not params and not results:
            return EMPTY_BT
        if not params and len(results) == 1:
            return _U1[results[0]]
        return sleb(self.mod.type_index(params, results))

    def draw_results(self) -> tuple:
        cfg = self.cfg
        k = self.src.int(0, cfg.max_results if cfg.multi_value else min(1, cfg.max_results))
        return tuple(self.src.types(k, k)) if k else ()

    def draw_params(self) -> tuple:
        if not self.cfg.multi_value:
            return ()
        usable = len(self.stack) - self.ctrl[-1].height
        k = self.src.int(0, min(usable, 3))
        return tuple(self.stack[-k:]) if k else ()

    def int_operand(self) -> None:
        """An i32 for a condition, index or address: a local, a global or a constant."""
        src = self.src
        choice = src.int(0, 2)
        if choice == 1 and self.locs[I32]:
            self.out += local_get(src.pick(self.locs[I32]))
        elif choice == 2:
            self.out += GLOBAL_GET[src.pick(self.mod.globals_of[I32])]
        else:
            self.out += I32_CONST + sleb(src.pick((0, 1, 2, 3, -1, 7)))
        self.stack.append(I32)

    def branch_condition(self) -> None:
        """A `br_if` condition: usually 0 (fall through, so the code after it runs),
        sometimes data-dependent."""
        if self.src.int(0, 3):
            self.out += I32_CONST + b"\x00"
            self.stack.append(I32)
        else:
            self.int_operand()

    def address(self, width: int):
        """Push an address.  One access in 14 is at the memory's end, an (address, offset)
        pair of `EDGE_ACCESSES` whose offset is returned: one ending exactly at the end, or,
        5 times in 8, one past it (a trap ends the call, and whatever it would have
        computed after is never observed: a call runs many accesses, so traps stay rare).
        In bounds, a constant or computed: an i64 with junk in its high half, wrapped (the
        address register's high half must not leak in), a local masked into the data, or
        one inside the active data segment (its bytes are non-zero).
        Returns None then (`memarg` draws a small offset)."""
        src, out = self.src, self.out
        if src.chance(14):
            addr, offset = src.pick(EDGE_ACCESSES[EDGE_IN:] if src.int(0, 7) >= 3 else
                                    EDGE_ACCESSES[:EDGE_IN])
            out += I32_CONST + sleb(addr(width))
            self.stack.append(I32)
            return offset(width)
        form = src.int(0, 7)
        if form == 0:
            lo = src.int(0, 63) if src.bool() else src.int(0, PAGE - 64)
            out += const_bytes(I64, src.int(1, MASK32) << 32 | lo)
            out += WRAP
        elif form == 2:
            # inside the active data segment: non-zero bytes read back by every width
            off, n = self.mod.data_window
            out += I32_CONST + sleb(off + src.int(0, max(0, n - width)))
        elif form == 1 and self.locs[I32]:
            out += local_get(src.pick(self.locs[I32]))
            out += I32_CONST + sleb(src.pick((63, (PAGE - 64) & -8)))
            out += self.mod.i32_and
        else:
            k = src.int(0, 2)
            out += I32_CONST + sleb(src.pick((0, 1, 8, 16, 33, 64)) if k == 0 else
                                    src.int(0, 63) if k == 1 else src.int(0, PAGE - 64))
        self.stack.append(I32)
        return None

    def memarg(self, align: int, offset) -> bytes:
        a = self.src.int(0, align)
        return _U1[a] + uleb(self.src.pick(SMALL_OFFSETS) if offset is None else offset)

    # -- the step loop ---------------------------------------------------------------------
    def actions(self) -> tuple:
        s, f = self.stack, self.ctrl[-1]
        na = len(s) - f.height
        depth = len(self.ctrl) - 1
        key = (s[-1] if na else 0, na >= 2, depth > 0, depth < self.cfg.max_depth,
               f.kind == IFK, bool(self.callees))
        acts = self.mod.actions.get(key)
        if acts is None:
            acts = self.mod.actions[key] = self.mod.make_actions(key)
        return acts

    def step(self) -> None:
        f = self.ctrl[-1]
        if f.unreachable and len(self.ctrl) > 1:
            # a little dead code, then the merge: most code after a branch should run
            if self.dead_left <= 0:
                self.a_end()
                return
            self.dead_left -= 1
        self.src.pick(self.actions())(self)

    def build(self) -> bytes:
        self.out += self.mod.fuel_code
        cfg = self.cfg
        for _ in range(self.src.int(cfg.max_instrs // 2, cfg.max_instrs)):
            self.step()
        while len(self.ctrl) > 1:
            self.a_end()
        self.fix_to(self.results)
        self.out += END
        return bytes(self.out)

    # -- actions ---------------------------------------------------------------------------
    def a_const(self):
        self.const(self.src.pick(NUM))

    def a_local_get(self):
        i = self.src.int(0, len(self.local_types) - 1)
        self.out += local_get(i)
        self.stack.append(self.local_types[i])

    def a_local_set(self):
        self.out += local_set(self.src.pick(self.locs[self.stack.pop()]))

    def a_local_tee(self):
        self.out += local_tee(self.src.pick(self.locs[self.stack[-1]]))

    def a_op(self):
        # half the time an operator that takes what is on the stack (deep data flow),
        # otherwise any enabled operator, its operands made if need be (every operator
        # equally often)
        src, s, t = self.src, self.stack, self.tables
        na = len(s) - self.ctrl[-1].height
        fitting = t.fitting[(s[-2] if na >= 2 else 0, s[-1] if na else 0)]
        special = False
        if fitting and src.bool():
            o = src.pick(fitting)
        else:
            o = src.pick(t.ops)
            pick = src.int(0, 7)
            if o.bound is not None and (4 <= pick <= 5 or pick == 6 and o.bound == "shift"):
                pick = 3  # boundary operands three times as often (shifts: four)
            special = o.pair is not None and pick == 0
            if special:
                for ty, bits in zip(o.params, o.pair):
                    self.const(ty, bits)
            elif pick == 1 and o.params in ((I32, I32), (I64, I64)):
                # a small negative number and a small positive one: they tell signed from
                # unsigned (shifts, divisions, comparisons) where drawn values rarely do
                ty = o.params[0]
                self.const(ty, (1 << _W[ty]) - src.int(1, 256))
                self.const(ty, src.int(1, 7))
            elif pick == 3 and o.bound is not None:
                self.boundary_operands(o)
            elif pick == 2 and o.params == (I32,):
                # an i32 wrapped from an i64 with junk in its high half: where a 64-bit
                # register holds an i32 (s390x, aarch64, x64 alike), an extension,
                # conversion or bit count must not see the high half
                self.out += const_bytes(I64, src.int(1, MASK32) << 32 | src.int(0, MASK32))
                self.out += WRAP
                s.append(I32)
            else:
                self.ensure(o.params)
        if o.guard is not None and not special and src.int(0, 7):
            self.out += o.guard  # one division in eight may still divide by zero
        self.emit_op(o)
        n = len(o.params)
        if n:
            del s[-n:]
        s.extend(o.results)

    def boundary_operands(self, o: Op) -> None:
        """Operands at `o`'s boundaries (see `Op.bound`)."""
        src = self.src
        if o.bound == "shift":
            t = o.params[0]
            self.operand(t)
            count = src.pick(SHIFT_COUNTS[t]) if src.chance(4) else src.int(32, 63)
            if src.bool():
                self.const(t, count)  # a constant count (the compiler's immediate form)
                return
            # the count through a local: a compiler must not see it as a constant
            loc = self.scratch[t][0]
            self.out += const_bytes(t, count) + local_set(loc) + local_get(loc)
            self.stack.append(t)
        elif o.bound == "float":
            t = o.params[0]
            for _ in range(2):
                if src.bool():
                    self.const(t, src.pick(FLOAT_SPECIALS[t]))
                else:
                    self.operand(t)
        else:
            self.const(o.params[0], src.pick(o.special))

    def a_chain(self):
        # the top value through 2-4 unary operators or conversions in a row: extension and
        # truncation bugs live in such chains (i64 -> i32 -> i64 and the like)
        src, s, unary = self.src, self.stack, self.tables.unary
        if s[-1] == I64 and self.tables.roundtrip and src.int(0, 2) == 0:
            # mostly the round trip itself: wrap, then extend back (the high half of the
            # register must be cut off, and then zeroed or sign-filled)
            self.out += WRAP
            self.out += src.pick(self.tables.roundtrip)
            return
        for _ in range(src.int(2, 4)):
            fitting = unary[s[-1]]
            if not fitting:
                return
            o = src.pick(fitting)
            self.emit_op(o)
            s[-1] = o.results[0]

    def a_drop(self):
        # mostly folded into a sink (observable); a plain drop (or a nop) now and then, so
        # those instructions are generated too
        n = self.src.int(0, 15)
        if n == 0:
            self.out += DROP
            self.stack.pop()
            return
        if n == 1:
            self.out += NOP
        self.sink()

    def a_global_get(self):
        i = self.src.int(0, len(self.mod.globals) - 1)
        self.out += GLOBAL_GET[i]
        self.stack.append(self.mod.globals[i][0])

    def a_global_set(self):
        self.out += GLOBAL_SET[self.src.pick(self.mod.settable[self.stack.pop()])]

    def a_select(self):
        s = self.stack
        na = len(s) - self.ctrl[-1].height
        if not (na >= 3 and s[-1] == I32 and s[-2] == s[-3] and self.src.bool()):
            t = self.src.pick(NUM)
            self.operand(t)
            self.operand(t)
            self.int_operand()
        self.out += SELECT
        s.pop()
        s.pop()

    def a_load(self):
        src = self.src
        t = src.pick(NUM)
        code, align, signed = src.pick(LOAD_OPS[t])
        if src.bool():
            # half the time inside the data segment, whose bytes have their sign bits set
            # here and there (zeros would hide a missing sign extension)
            off, n = self.mod.data_window
            if src.chance(8):
                self.read_back(off, n)
                return
            self.out += (I32_CONST + sleb(off + src.int(0, max(0, n - (1 << align)))) + code
                         + self.memarg(align, 0))
            self.stack.append(t)
            return
        offset = self.address(1 << align)
        self.out += code + self.memarg(align, offset)
        self.stack[-1] = t

    def read_back(self, off: int, n: int) -> None:
        """The same data-segment bytes read back by every load width (8, 16, 32, 64 bits),
        each load's signedness and result type drawn, all within 8 bytes at `base`: a
        lowering that gets one width's extension or byte count wrong then shows on bytes
        the others read right.  The first three values are folded into the sinks, the last
        stays on the stack."""
        src, out = self.src, self.out
        base = off + src.int(0, n - 8)
        last = len(READ_BACK) - 1
        for k, choices in enumerate(READ_BACK):
            code, align, t = src.pick(choices)
            out += I32_CONST + sleb(base + src.int(0, 8 - (1 << align))) + code \
                + self.memarg(align, 0)
            self.stack.append(t)
            if k != last:
                self.sink()

    def a_store(self):
        t = self.stack[-1]
        code, align = self.src.pick(STORE_OPS[t])
        loc = self.scratch[t][0]
        self.out += local_set(loc)
        self.stack.pop()
        offset = self.address(1 << align)
        self.out += local_get(loc) + code + self.memarg(align, offset)
        self.stack.pop()

    def a_memory_size(self):
        self.out += self.mod.memory_size
        self.stack.append(I32)

    def a_memory_grow(self):
        self.out += I32_CONST + sleb(self.src.pick((0, 1, 2, -1))) + self.mod.memory_grow
        self.stack.append(I32)

    def bulk_args(self, dst_size: int, src_size: int) -> tuple:
        """(destination, source, length) of a bulk operation between things of these sizes:
        within both; one time in 8 ending exactly at their ends; one time in 128 past an end
        (a trap ends the call, and a call runs many of these)."""
        src = self.src
        if src.chance(128):
            n = src.pick((0, 1, 4))
            return (src.pick((dst_size - n + 1, dst_size + 1, dst_size, 0)),
                    src.pick((src_size - n + 1, src_size + 1, src_size, 0)), n)
        if src.chance(8):
            n = min(src.pick((0, 1, 4)), dst_size, src_size)
            return dst_size - n, src_size - n, n
        n = min(src.pick((0, 1, 2, 4, 7, 16)), dst_size, src_size)
        # near the start half the time: where loads and the data segment mostly are
        d = src.int(0, min(dst_size - n, 64) if src.bool() else dst_size - n)
        return d, src.int(0, src_size - n), n

    def a_memory_fill(self):
        d, _, n = self.bulk_args(PAGE, PAGE)
        self.out += (I32_CONST + sleb(d) + I32_CONST + sleb(self.src.int(0, 255)) + I32_CONST
                     + sleb(n) + self.mod.memory_fill)

    def a_memory_copy(self):
        d, s, n = self.bulk_args(PAGE, PAGE)
        self.out += (I32_CONST + sleb(d) + I32_CONST + sleb(s) + I32_CONST + sleb(n)
                     + self.mod.memory_copy)

    def _open(self, kind: int, code: bytes, cond: bool) -> None:
        params = self.draw_params()  # the condition is pushed after them
        results = self.draw_results()
        if cond:
            self.int_operand()
        self.out += code + self.block_type(params, results)
        if cond:
            self.stack.pop()
        self.ctrl.append(Frame(kind, params, results, len(self.stack) - len(params)))
        if kind == LOOPK:
            self.out += self.mod.fuel_code

    def a_block(self):
        self._open(BLK, BLOCK, False)

    def a_loop(self):
        self._open(LOOPK, LOOP, False)

    def a_if(self):
        self._open(IFK, IF, True)

    def a_else(self):
        f = self.ctrl[-1]
        self.fix_to(f.results)
        self.out += ELSE
        del self.stack[f.height:]
        self.stack.extend(f.params)
        f.kind, f.unreachable = ELSEK, False

    def a_end(self):
        f = self.ctrl[-1]
        if f.kind == IFK and f.params != f.results:
            self.a_else()  # an `if` without `else` must pass its params through unchanged
        self.fix_to(f.results)
        self.out += END
        self.ctrl.pop()
        del self.stack[f.height:]
        self.stack.extend(f.results)

    def _forward_label(self) -> int:
        """A label that is not a loop: an unconditional jump back would spin until the fuel
        runs out, and the fuel is shared by every call of the plan."""
        c = self.ctrl
        return self.src.pick([i for i in range(len(c)) if c[-1 - i].kind != LOOPK])

    def _transfer(self) -> None:
        """After an unconditional branch the rest of the block is unreachable code."""
        f = self.ctrl[-1]
        del self.stack[f.height:]
        f.unreachable = True
        self.dead_left = self.src.int(0, 3)

    def a_br(self):
        lab = self._forward_label()
        self.ensure(self.ctrl[-1 - lab].label_types)
        self.out += BR + uleb(lab)
        self._transfer()

    def a_br_if(self):
        lab = self.src.int(0, len(self.ctrl) - 1)
        self.ensure(self.ctrl[-1 - lab].label_types)
        self.branch_condition()
        self.out += BR_IF + uleb(lab)
        self.stack.pop()

    def a_br_table(self):
        src, c = self.src, self.ctrl
        forward = [i for i in range(len(c)) if c[-1 - i].kind != LOOPK]
        # mostly a default that shares its label types with another forward label, so that
        # the table's last entry can differ from the default (with every label typed apart
        # the table could only repeat the default)
        shared = [i for i in forward if any(j != i and c[-1 - j].label_types ==
                                            c[-1 - i].label_types for j in forward)]
        default = src.pick(shared if shared and src.int(0, 3) else forward)
        types = c[-1 - default].label_types
        same = [i for i in forward if c[-1 - i].label_types == types]
        n_targets = src.int(0, 5) or src.int(0, 5)
        others = [i for i in same if i != default]
        if n_targets and not others and len(c) <= self.cfg.max_depth and src.int(0, 3):
            # no other label takes these values: open a block that does, so that the table
            # can tell its entries (the new block's end) from its default (a label outside)
            self.out += BLOCK + self.block_type((), types)
            c.append(Frame(BLK, (), types, len(self.stack)))
            default += 1
            same = [0] + [i + 1 for i in same]
            others = [0]
        targets = [src.pick(same) for _ in range(n_targets)]
        if targets and others and src.int(0, 3):
            # the last entry differs from the default: an off-by-one in the bound check
            # then branches to the wrong label
            targets[-1] = src.pick(others)
        self.ensure(types)
        if src.int(0, 3):
            # the table's bounds: its last entry, the first index that takes the default, or
            # far past it (negative as i32)
            n = len(targets)
            self.out += I32_CONST + sleb(src.pick((n, n - 1, n, n + 1, -1)) if n else
                                         src.pick((0, 1, -1)))
            self.stack.append(I32)
        else:
            self.int_operand()
        self.out += BR_TABLE + uleb(len(targets)) + b"".join(map(uleb, targets)) + uleb(default)
        self._transfer()

    def _call(self, fidx: int) -> None:
        params, results = self.mod.types[self.mod.func_types[fidx]]
        self.ensure(params)
        self.out += CALL + uleb(fidx)
        if params:
            del self.stack[-len(params):]
        self.stack.extend(results)

    def a_call(self):
        self._call(self.src.pick(self.callees))

    def a_call_host(self):
        self._call(self.src.int(0, self.mod.n_imports - 1))

    def a_call_indirect(self):
        mod, src = self.mod, self.src
        reachable = list(range(mod.n_imports)) + self.callees
        n = len(mod.func_types)
        target = src.pick(reachable)
        ti = mod.func_types[target]
        params, results = mod.types[ti]
        self.ensure(params)
        # mostly the right slot; one in eight another reachable one (a signature mismatch if
        # its type differs) or one out of range
        slot = target
        if src.chance(8):
            slot = src.pick(reachable + [n, n + 1])
        if mod.table_at[0] == I32:
            self.out += I32_CONST + sleb(slot)
        else:  # a 64-bit table (table64): now and then a slot 2^32 (or more) too far
            if src.chance(10):
                slot = src.pick((slot | 1 << 32, slot | 1 << 32, (1 << 64) - 1, slot | 1 << 63))
            self.out += const_bytes(I64, slot)
        self.out += CALL_INDIRECT + uleb(ti) + b"\x00"
        if params:
            del self.stack[-len(params):]
        self.stack.extend(results)

    def a_return(self):
        self.ensure(self.results)
        self.out += RETURN
        self._transfer()

    def a_unreachable(self):
        self.out += UNREACHABLE
        self._transfer()
