"""Hypothesis strategies for valid WebAssembly modules.

    from oracle.strategies import wasm_modules, configs, single_instruction_modules

Every module is built instruction by instruction against a *type stack* (the operand types)
and a *control stack* (open blocks and what their labels expect), so any choice sequence
hypothesis makes gives a valid module: an operator is offered only when its operands are on
the stack, a branch only with its label's values in place, and every block is closed by
making the stack match its results (values in the way are folded into sink globals, missing
ones pushed as constants).

What the generated code guarantees:
- termination: a fuel global (`fuel`, exported) is decremented at every function entry and
  loop header and traps (`unreachable`) when spent, so loops end (functions call only
  functions defined after them: no recursion);
- observability: values that would be dropped are XOR-ed into exported sink globals, every
  mutable global and the memory are exported, and the oracle compares them after each call;
- imports are host functions (`"host" "hN"`) that the oracle defines deterministically;
- optional NaN canonicalization (`Config.canonicalize_nans`) after every float operation
  whose NaN bits the spec leaves open, so results compare bit for bit.

The corners baseline compilers get wrong are favoured: more live values than registers
(spills), nested and multi-value blocks, `br_table` carrying values, code after `br` /
`return` / `unreachable` that still merges, calls with many arguments and results, memory
accesses at the edges of the memory and constants at the edges of their types; and, in one
swarm configuration in 16, big frames (hundreds of locals, long bodies) whose locals and spill
slots lie beyond the reach of a load/store immediate.

Shrinking: modules shrink toward fewer functions, shorter bodies, the first operators of the
opcode table, and constants toward 0.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field, replace

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from winch.wasm.encoder import encode_module
from winch.wasm.module import (EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, ConstExpr, Data, Elem, Export,
                               Func, Global, Import, Instr, Module)
from winch.wasm.opcodes import BY_NAME, OPS
from winch.wasm.types import (F32, F64, FUNCREF, I32, I64, FuncType, GlobalType, Limits,
                              MemoryType, TableType)

__all__ = ["Config", "FAMILIES", "configs", "wasm_modules", "single_instruction_modules",
           "SINGLE_INSTRUCTION_OPS"]

NUM = (I32, I64, F32, F64)
_SIZE = {I32: 32, I64: 64, F32: 32, F64: 64}

# instruction families a configuration switches on or off (swarm testing)
FAMILIES = ("int", "float", "compare", "convert", "locals", "globals", "select", "memory",
            "bulk_memory", "blocks", "branches", "br_table", "calls", "call_indirect",
            "host_calls", "unreachable_code", "sign_extension", "saturating")

# edge values per type, as bit patterns; drawn first, so constants shrink toward them
EDGE_BITS = {
    I32: (0, 1, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 2, 31, 32, 0xFFFF, 0x10000),
    I64: (0, 1, (1 << 64) - 1, 1 << 63, (1 << 63) - 1, 63, 64, 0xFFFF_FFFF, 1 << 32,
          0x8000_0000),
    F32: (0, 0x8000_0000, 0x3F80_0000, 0xBF80_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000,
          0x7FA0_0000, 0x7F7F_FFFF, 1, 0x4F00_0000, 0xCF00_0000, 0x3F00_0000),
    F64: (0, 1 << 63, 0x3FF0 << 48, 0xBFF0 << 48, 0x7FF0 << 48, 0xFFF0 << 48, 0x7FF8 << 48,
          0x7FF4 << 48, 0x7FEF_FFFF_FFFF_FFFF, 1, 0x41E0 << 48, 0xC3E0 << 48, 0x3FE0 << 48),
}
PAGE = 65536
MASK32 = 0xFFFF_FFFF


def _bits_strategy(t: int) -> st.SearchStrategy:
    """Constants: edge values first; then small magnitudes of either sign (hypothesis draws
    small integers more often, so "near the top" is drawn apart: small negative numbers);
    for floats also ordinary finite values of either sign."""
    n = _SIZE[t]
    top = (1 << n) - 1
    small = st.integers(0, top)
    parts = [st.sampled_from(EDGE_BITS[t]), small]
    if t in (I32, I64):
        parts.append(small.map(lambda v: top - v))
    else:
        fmt = "<f" if t == F32 else "<d"
        ifmt = "<I" if t == F32 else "<Q"
        parts.append(st.floats(width=n, allow_nan=False, allow_infinity=False).map(
            lambda x: struct.unpack(ifmt, struct.pack(fmt, x))[0]))
    return st.one_of(*parts)


_CONST_BITS = {t: _bits_strategy(t) for t in (I32, I64, F32, F64)}

# operand pairs that take an operator's one special path (INT_MIN / -1 traps, INT_MIN % -1
# is 0): two edge values at once are too rare to be drawn apart, so drawn now and then
_DIVISIONS = frozenset(f"{t}.{op}" for t in ("i32", "i64")
                       for op in ("div_s", "div_u", "rem_s", "rem_u"))
TRAP_OPERANDS = {
    "i32.div_s": (0x8000_0000, MASK32), "i32.rem_s": (0x8000_0000, MASK32),
    "i64.div_s": (1 << 63, (1 << 64) - 1), "i64.rem_s": (1 << 63, (1 << 64) - 1),
}


@dataclass(frozen=True)
class Config:
    """What a generated module may contain.  `families` is a subset of `FAMILIES`."""

    families: frozenset = frozenset(FAMILIES)
    max_funcs: int = 4
    max_instrs: int = 60  # per function body, before blocks are closed
    max_params: int = 5
    max_results: int = 3
    max_locals: int = 4
    max_depth: int = 4
    max_imports: int = 2
    multi_value: bool = True
    canonicalize_nans: bool = False
    fuel: int = 5000
    ops: frozenset | None = None  # numeric operators by name (None: every one of `families`)
    # a big frame: this many more locals in every function, of a short repeating pattern of
    # types (drawn cheaply, not one by one), so that slots lie beyond 4 KiB of the frame
    # pointer, where aarch64 needs a register to address them (issue 15)
    many_locals: int = 0

    def __post_init__(self):
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            raise InvalidArgument(f"unknown instruction families {sorted(unknown)}; "
                                  f"known: {', '.join(FAMILIES)}")
        for name in ("max_funcs", "max_instrs", "max_params", "max_results", "max_locals",
                     "max_depth", "max_imports", "fuel", "many_locals"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise InvalidArgument(f"Config.{name} must be an int >= 0, not {v!r}")
        if self.max_funcs < 1:
            raise InvalidArgument("Config.max_funcs must be at least 1")
        if not 1 <= self.fuel < 2 ** 31:
            raise InvalidArgument("Config.fuel must be in 1 .. 2**31-1")
        if self.ops is not None:
            unknown = set(self.ops) - set(NUMERIC_OPS)
            if unknown or not self.ops:
                raise InvalidArgument(f"Config.ops must be a non-empty set of numeric "
                                      f"operators; unknown: {sorted(unknown)}")

    def has(self, family: str) -> bool:
        return family in self.families


# big-frame configurations (`configs(big_frames=N)`): extra locals and body length
BIG_FRAME_LOCALS = (500, 1200)
BIG_FRAME_INSTRS = (150, 300)
BIG_FRAME_FUNCS = 2


def _big_frame(cfg: Config) -> st.SearchStrategy:
    return st.builds(
        lambda n, k: replace(cfg, many_locals=n, max_instrs=k,
                             max_funcs=min(cfg.max_funcs, BIG_FRAME_FUNCS)),
        st.integers(*BIG_FRAME_LOCALS), st.integers(*BIG_FRAME_INSTRS))


def configs(*, max_funcs: int = 6, max_instrs: int = 120,
            big_frames: int = 16) -> st.SearchStrategy:
    """Swarm configurations: each family on or off, size limits drawn per test, and half the
    time a handful of numeric operators only (swarm testing over operators: each chosen one
    is then used many times, with many operands, in one module).  One configuration in
    `big_frames` (0: none) is a big frame: 500 to 1200 more locals of mixed types in at most
    two functions with long bodies (`BIG_FRAME_*`, beyond `max_instrs`), so that locals and
    spill slots lie far from the frame pointer.

    Shrinks toward no optional family (only constants, locals and arithmetic survive
    shrinking if the bug needs them), toward every operator of the families, toward the
    smallest sizes, and toward an ordinary frame."""
    if max_funcs < 1 or max_instrs < 0:
        raise InvalidArgument("configs() needs max_funcs >= 1 and max_instrs >= 0")
    if not isinstance(big_frames, int) or big_frames < 0:
        raise InvalidArgument("configs() needs big_frames >= 0 (one in N; 0: never)")
    base = _swarm_configs(max_funcs, max_instrs)
    if not big_frames:
        return base
    # one draw in `big_frames` is True.  Hypothesis favours the bounds of a range and the
    # first element of a sample (measured: 14% and 1.5% for one in 16), so test a middle
    # residue of a byte; it shrinks toward 0, an ordinary frame
    pick = st.integers(0, 255).map(lambda k: k % big_frames == big_frames // 2)
    return st.tuples(base, pick).flatmap(
        lambda cb: _big_frame(cb[0]) if cb[1] else st.just(cb[0]))


def _swarm_configs(max_funcs: int, max_instrs: int) -> st.SearchStrategy:
    return st.builds(
        Config,
        families=st.frozensets(st.sampled_from(FAMILIES)),
        max_funcs=st.integers(1, max_funcs),
        max_instrs=st.integers(0, max_instrs),
        max_params=st.integers(0, 8),
        max_results=st.integers(0, 4),
        max_locals=st.integers(0, 6),
        max_depth=st.integers(0, 5),
        max_imports=st.integers(0, 2),
        multi_value=st.booleans(),
        canonicalize_nans=st.booleans(),
        ops=st.one_of(st.none(), st.frozensets(st.sampled_from(NUMERIC_OPS), min_size=1,
                                               max_size=8)),
    )


def _op(name):
    return BY_NAME[name]


def _family(o) -> str | None:
    """The `FAMILIES` entry a numeric operator belongs to (None: not a numeric operator)."""
    if not o.has_sig or o.family in ("const", "load", "store"):
        return None
    if any(t not in NUM for t in o.params + o.results):
        return None
    if o.feature == "sign-extension":
        return "sign_extension"
    if o.feature == "nontrapping-float-to-int":
        return "saturating"
    fam = {"cmp": "compare", "test": "compare", "conv": "convert"}.get(o.family)
    if fam:
        return fam
    return "float" if any(t in (F32, F64) for t in o.params + o.results) else "int"


NUMERIC_OPS = tuple(o.name for o in OPS if _family(o))


@functools.lru_cache(maxsize=256)
def _numeric_ops(cfg: Config) -> tuple:
    """The numeric operators `cfg` enables (once per configuration, not per body): those of
    its families, narrowed to `cfg.ops` unless that leaves none."""
    out = []
    for o in OPS:
        fam = _family(o)
        if fam is None:
            continue
        floaty = any(t in (F32, F64) for t in o.params + o.results)
        # float comparisons come with "compare" alone: their NaN cases (unordered flags)
        # are a classic lowering bug, and needing "float" too made them rare
        if cfg.has(fam) and (not floaty or cfg.has("float") or fam in ("convert",
                                                                          "saturating",
                                                                          "compare")):
            out.append(o)
    chosen = tuple(o for o in out if cfg.ops is None or o.name in cfg.ops)
    return chosen or tuple(out)


@dataclass
class _Frame:
    kind: str  # func | block | loop | if | else
    params: tuple
    results: tuple
    height: int
    unreachable: bool = False

    @property
    def label_types(self) -> tuple:
        return self.params if self.kind == "loop" else self.results


@dataclass
class _ModuleState:
    cfg: Config
    types: list = field(default_factory=list)
    func_types: list = field(default_factory=list)  # type index per function (imports first)
    n_imports: int = 0
    globals: list = field(default_factory=list)  # (valtype, mutable)
    sink: dict = field(default_factory=dict)  # I32/I64 -> global index
    fuel: int = 0
    has_memory: bool = False
    has_table: bool = False

    def type_index(self, ft: FuncType) -> int:
        if ft not in self.types:
            self.types.append(ft)
        return self.types.index(ft)


class _Body:
    """Builds one function body; `draw` is hypothesis's."""

    def __init__(self, draw, ms: _ModuleState, func_index: int):
        self.draw, self.ms, self.cfg = draw, ms, ms.cfg
        # a function calls only functions defined after it (and imports): no recursion, so
        # no call runs out of stack (inconclusive) or burns the fuel every later call needs
        self.callees = list(range(max(func_index + 1, ms.n_imports), len(ms.func_types)))
        ft = ms.types[ms.func_types[func_index]]
        self.ft = ft
        extra = draw(st.lists(st.sampled_from(NUM), max_size=self.cfg.max_locals))
        if self.cfg.many_locals:
            pattern = draw(st.lists(st.sampled_from(NUM), min_size=1, max_size=4))
            extra += [pattern[i % len(pattern)] for i in range(self.cfg.many_locals)]
        # scratch locals: values parked while a frame's results are lifted over junk
        self.scratch = {t: [] for t in NUM}
        locals_ = list(ft.params) + extra
        for t in NUM:
            for _ in range(max(1, self.cfg.max_results)):
                self.scratch[t].append(len(locals_))
                locals_.append(t)
        self.local_types = locals_
        self.decl = tuple((1, t) for t in locals_[len(ft.params):])
        self.out: list = []
        self.stack: list = []
        self.ctrl = [_Frame("func", (), ft.results, 0)]
        self.ops = _numeric_ops(self.cfg)
        self.unary = {t: [o for o in self.ops if tuple(o.params) == (t,)] for t in NUM}
        self.dead_left = 0

    # -- emission helpers ------------------------------------------------------------------
    def emit(self, name: str, imm=None) -> None:
        self.out.append(Instr(_op(name), imm))

    def const(self, t: int, bits: int | None = None) -> None:
        """Push a constant of type `t`: `bits`, or drawn (edge values first)."""
        if bits is None:
            bits = self.draw(_CONST_BITS[t])
        if t in (I32, I64):
            n = _SIZE[t]
            bits = bits - (1 << n) if bits >> (n - 1) else bits
        self.emit({I32: "i32.const", I64: "i64.const", F32: "f32.const", F64: "f64.const"}[t],
                  bits)
        self.stack.append(t)

    def fuel_check(self) -> None:
        g = self.ms.fuel
        self.emit("global.get", g)
        self.emit("i32.eqz")
        self.emit("if", -64)
        self.emit("unreachable")
        self.emit("end")
        self.emit("global.get", g)
        self.emit("i32.const", 1)
        self.emit("i32.sub")
        self.emit("global.set", g)

    def sink(self) -> None:
        """Fold the top value into its sink global (so dropping it stays observable)."""
        t = self.stack.pop()
        if t == F32:
            self.emit("i32.reinterpret_f32")
            t = I32
        elif t == F64:
            self.emit("i64.reinterpret_f64")
            t = I64
        g = self.ms.sink[t]
        self.emit("global.get", g)
        self.emit("i32.xor" if t == I32 else "i64.xor")
        self.emit("global.set", g)

    @property
    def frame(self) -> _Frame:
        return self.ctrl[-1]

    def avail(self) -> list:
        return self.stack[self.frame.height:]

    def top_is(self, types) -> bool:
        n = len(types)
        a = self.avail()
        return len(a) >= n and tuple(a[len(a) - n:]) == tuple(types)

    def ensure(self, types) -> None:
        """Make the top of the stack hold `types`: reuse it if it does, else push operands,
        each a constant or a local of its type (locals carry the plan's edge-value
        arguments, and are not folded at compile time as two constants may be)."""
        if not self.top_is(types):
            for t in types:
                self.operand(t)

    def operand(self, t: int) -> None:
        locs = [i for i, lt in enumerate(self.local_types) if lt == t]
        fixed = [i for i, (gt, m) in enumerate(self.ms.globals) if gt == t and not m]
        choice = self.draw(st.integers(0, 3))
        if choice in (1, 2) and locs:
            self.emit("local.get", self.draw(st.sampled_from(locs)))
            self.stack.append(t)
        elif choice == 3 and fixed:
            self.emit("global.get", self.draw(st.sampled_from(fixed)))
            self.stack.append(t)
        else:
            self.const(t)

    def fix_to(self, types) -> None:
        """Make the frame's stack exactly `types` (for `end`, `else`, fallthrough)."""
        types = tuple(types)
        a = self.avail()
        if tuple(a) == types:
            return
        n = len(types)
        if n and self.top_is(types):
            parked = []
            for t in reversed(types):
                loc = self.scratch[t][sum(1 for p in parked if p[0] == t)]
                self.emit("local.set", loc)
                self.stack.pop()
                parked.append((t, loc))
            while len(self.stack) > self.frame.height:
                self.sink()
            for t, loc in reversed(parked):
                self.emit("local.get", loc)
                self.stack.append(t)
            return
        while len(self.stack) > self.frame.height:
            self.sink()
        for t in types:
            self.const(t)

    def block_type(self, params, results):
        if not params and not results:
            return -64
        if not params and len(results) == 1:
            return results[0] - 128
        return self.ms.type_index(FuncType(tuple(params), tuple(results)))

    def draw_results(self) -> tuple:
        k = self.draw(st.integers(0, self.cfg.max_results if self.cfg.multi_value
                                  else min(1, self.cfg.max_results)))
        return tuple(self.draw(st.lists(st.sampled_from(NUM), min_size=k, max_size=k)))

    def draw_params(self, below: int = 0) -> tuple:
        if not self.cfg.multi_value:
            return ()
        a = self.avail()
        usable = len(a) - below
        k = self.draw(st.integers(0, max(0, min(usable, 3))))
        return tuple(a[usable - k:usable]) if k else ()

    def int_operand(self) -> None:
        """An i32 for a condition, index or address: a local, a global or a constant."""
        i32_locals = [i for i, t in enumerate(self.local_types) if t == I32]
        choice = self.draw(st.integers(0, 2))
        if choice == 1 and i32_locals:
            self.emit("local.get", self.draw(st.sampled_from(i32_locals)))
        elif choice == 2:
            gs = [i for i, (t, _) in enumerate(self.ms.globals) if t == I32]
            self.emit("global.get", self.draw(st.sampled_from(gs)))
        else:
            self.emit("i32.const", self.draw(st.sampled_from((0, 1, 2, 3, -1, 7))))
        self.stack.append(I32)

    def branch_condition(self) -> None:
        """A `br_if` condition: usually 0 (fall through, so the code after it runs),
        sometimes data-dependent."""
        if self.draw(st.integers(0, 3)):
            self.emit("i32.const", 0)
            self.stack.append(I32)
        else:
            self.int_operand()

    def address(self, width: int) -> bool:
        """Push an address: in bounds but for one access in sixteen, at the memory's edge
        (a trap ends the call: whatever it would have computed after is never observed).
        In bounds, a constant or computed: an i64 with junk in its high half, wrapped (the
        address register's high half must not leak in), or a local masked into the data.
        Returns whether it is an edge access (`memarg` then draws large offsets too)."""
        edge = self.draw(st.integers(0, 15)) == 0
        form = self.draw(st.integers(0, 7))
        i32_locals = [i for i, t in enumerate(self.local_types) if t == I32]
        if edge:
            addr = self.draw(st.sampled_from((PAGE - width - 16, PAGE - width,
                                              PAGE - width + 1, PAGE - 1, PAGE, -1)))
            self.emit("i32.const", addr)
        elif form == 0:
            lo = self.draw(st.one_of(st.integers(0, 63), st.integers(0, PAGE - 64)))
            self.const(I64, self.draw(st.integers(1, MASK32)) << 32 | lo)
            self.emit("i32.wrap_i64")
            self.stack.pop()
        elif form == 1 and i32_locals:
            self.emit("local.get", self.draw(st.sampled_from(i32_locals)))
            self.emit("i32.const", self.draw(st.sampled_from((63, (PAGE - 64) & -8))))
            self.emit("i32.and")
        else:
            self.emit("i32.const", self.draw(st.one_of(
                st.sampled_from((0, 1, 8, 16, 33, 64)), st.integers(0, 63),
                st.integers(0, PAGE - 64))))
        self.stack.append(I32)
        return edge

    # -- actions ---------------------------------------------------------------------------
    def actions(self) -> list:
        cfg, a = self.cfg, self.avail()
        acts = ["const"]
        if cfg.has("locals"):
            acts.append("local.get")
            if a and any(t == a[-1] for t in self.local_types):
                acts += ["local.set", "local.tee"]
        if self.ops:
            acts += ["op"] * 8  # operators are what most bugs are about: weight them up
            if a and self.unary.get(a[-1]):
                acts += ["chain"] * 2
        if a:
            # fold values into the sinks soon: a value still on the stack when the call
            # traps is never observed
            acts += ["drop"] * (3 if len(a) >= 2 else 1)
        if cfg.has("globals"):
            acts.append("global.get")
            if a and self._settable(a[-1]):
                acts.append("global.set")
        if cfg.has("select"):
            acts.append("select")
        if self.ms.has_memory:
            acts += ["load", "store"] if a and a[-1] in NUM else ["load"]
            acts += ["memory.size", "memory.grow"]
            if cfg.has("bulk_memory"):
                acts += ["memory.fill", "memory.copy"]
        depth = len(self.ctrl) - 1
        if cfg.has("blocks") and depth < cfg.max_depth:
            acts += ["block", "loop", "if"]
        if depth:
            acts.append("end")
            if self.frame.kind == "if":
                acts.append("else")
        if cfg.has("branches"):
            acts += ["br_if", "br"] if depth else ["br_if"]
        if cfg.has("br_table") and depth:
            acts += ["br_table"] * 2
        if cfg.has("calls") and self.callees:
            acts.append("call")
        if cfg.has("host_calls") and self.ms.n_imports:
            acts.append("call_host")
        if cfg.has("call_indirect") and self.ms.has_table and (self.callees or
                                                               self.ms.n_imports):
            acts.append("call_indirect")
        if cfg.has("unreachable_code") and depth:
            acts += ["return", "return", "unreachable"]
        return acts

    def step(self) -> None:
        f = self.frame
        if f.unreachable and len(self.ctrl) > 1:
            # a little dead code, then the merge: most code after a branch should run
            if self.dead_left <= 0:
                self.a_end()
                return
            self.dead_left -= 1
        act = self.draw(st.sampled_from(self.actions()))
        getattr(self, "a_" + act.replace(".", "_"))()

    def a_const(self):
        self.const(self.draw(st.sampled_from(NUM)))

    def a_local_get(self):
        i = self.draw(st.integers(0, len(self.local_types) - 1))
        self.emit("local.get", i)
        self.stack.append(self.local_types[i])

    def _local_of_top(self):
        return self.draw(st.sampled_from([i for i, t in enumerate(self.local_types)
                                          if t == self.stack[-1]]))

    def a_local_set(self):
        self.emit("local.set", self._local_of_top())
        self.stack.pop()

    def a_local_tee(self):
        self.emit("local.tee", self._local_of_top())

    def a_op(self):
        # half the time an operator that takes what is on the stack (deep data flow),
        # otherwise any enabled operator, its operands made if need be (every operator
        # equally often)
        fitting = [o for o in self.ops if self.top_is(o.params)]
        special = False
        if fitting and self.draw(st.booleans()):
            o = self.draw(st.sampled_from(fitting))
        else:
            o = self.draw(st.sampled_from(self.ops))
            pair = TRAP_OPERANDS.get(o.name)
            pick = self.draw(st.integers(0, 7))
            special = bool(pair) and pick == 0
            if special:
                for t, bits in zip(o.params, pair):
                    self.const(t, bits)
            elif pick == 1 and tuple(o.params) in ((I32, I32), (I64, I64)):
                # a small negative number and a small positive one: they tell signed from
                # unsigned (shifts, divisions, comparisons) where drawn values rarely do
                t = o.params[0]
                self.const(t, (1 << _SIZE[t]) - self.draw(st.integers(1, 256)))
                self.const(t, self.draw(st.integers(1, 7)))
            elif pick == 2 and tuple(o.params) == (I32,):
                # an i32 wrapped from an i64 with junk in its high half: where a 64-bit
                # register holds an i32 (s390x, aarch64, x64 alike), an extension,
                # conversion or bit count must not see the high half
                self.const(I64, self.draw(st.integers(1, MASK32)) << 32
                           | self.draw(st.integers(0, MASK32)))
                self.emit("i32.wrap_i64")
                self.stack[-1] = I32
            else:
                self.ensure(o.params)
        if o.name in _DIVISIONS and not special and self.draw(st.integers(0, 7)):
            # mostly a divisor made non-zero (x | 1): a trap ends the call, and the code
            # after it is never observed; one division in eight may still divide by zero
            self.emit(o.name[:3] + ".const", 1)
            self.emit(o.name[:3] + ".or")
        self.emit(o.name)
        del self.stack[len(self.stack) - len(o.params):]
        self.stack.extend(o.results)

    def a_chain(self):
        # the top value through 2-4 unary operators or conversions in a row: extension and
        # truncation bugs live in such chains (i64 -> i32 -> i64 and the like)
        if self.stack[-1] == I64 and self.draw(st.integers(0, 2)) == 0:
            # mostly the round trip itself: wrap, then extend back (the high half of the
            # register must be cut off, and then zeroed or sign-filled)
            have = {o.name for o in self.unary[I32]}
            ext = [n for n in ("i64.extend_i32_u", "i64.extend_i32_s") if n in have]
            if ext and any(o.name == "i32.wrap_i64" for o in self.unary[I64]):
                self.emit("i32.wrap_i64")
                self.emit(self.draw(st.sampled_from(ext)))
                return
        for _ in range(self.draw(st.integers(2, 4))):
            fitting = self.unary.get(self.stack[-1])
            if not fitting:
                return
            o = self.draw(st.sampled_from(fitting))
            self.emit(o.name)
            self.stack[-1] = o.results[0]

    def a_drop(self):
        # mostly folded into a sink (observable); a plain drop (or a nop) now and then, so
        # those instructions are generated too
        n = self.draw(st.integers(0, 15))
        if n == 0:
            self.emit("drop")
            self.stack.pop()
            return
        if n == 1:
            self.emit("nop")
        self.sink()

    def a_global_get(self):
        i = self.draw(st.integers(0, len(self.ms.globals) - 1))
        self.emit("global.get", i)
        self.stack.append(self.ms.globals[i][0])

    def _settable(self, t) -> list:
        """Mutable globals of type `t` the code may write: never the fuel counter."""
        return [i for i, (gt, m) in enumerate(self.ms.globals)
                if m and gt == t and i != self.ms.fuel]

    def a_global_set(self):
        i = self.draw(st.sampled_from(self._settable(self.stack[-1])))
        self.emit("global.set", i)
        self.stack.pop()

    def a_select(self):
        a = self.avail()
        if not (len(a) >= 3 and a[-1] == I32 and a[-2] == a[-3] and self.draw(st.booleans())):
            t = self.draw(st.sampled_from(NUM))
            self.operand(t)
            self.operand(t)
            self.int_operand()
        self.emit("select")
        self.stack.pop()
        self.stack.pop()

    _LOADS = {I32: ("i32.load", "i32.load8_s", "i32.load8_u", "i32.load16_s", "i32.load16_u"),
              I64: ("i64.load", "i64.load8_s", "i64.load8_u", "i64.load16_s", "i64.load16_u",
                    "i64.load32_s", "i64.load32_u"),
              F32: ("f32.load",), F64: ("f64.load",)}
    _STORES = {I32: ("i32.store", "i32.store8", "i32.store16"),
               I64: ("i64.store", "i64.store8", "i64.store16", "i64.store32"),
               F32: ("f32.store",), F64: ("f64.store",)}

    def memarg(self, o, edge: bool = False):
        align = self.draw(st.integers(0, o.align))
        small = st.sampled_from((0, 1, 4, 7, 8, 16, 3))
        offset = self.draw(st.one_of(small, st.sampled_from((PAGE - 8, PAGE, 0xFFFF_FFFF)))
                           if edge else small)
        return (align, offset, 0)

    def a_load(self):
        t = self.draw(st.sampled_from(NUM))
        o = _op(self.draw(st.sampled_from(self._LOADS[t])))
        edge = self.address(1 << o.align)
        self.emit(o.name, self.memarg(o, edge))
        self.stack[-1] = t

    def a_store(self):
        t = self.stack[-1]
        o = _op(self.draw(st.sampled_from(self._STORES[t])))
        loc = self.scratch[t][0]
        self.emit("local.set", loc)
        self.stack.pop()
        edge = self.address(1 << o.align)
        self.emit("local.get", loc)
        self.emit(o.name, self.memarg(o, edge))
        self.stack.pop()

    def a_memory_size(self):
        self.emit("memory.size", 0)
        self.stack.append(I32)

    def a_memory_grow(self):
        self.emit("i32.const", self.draw(st.sampled_from((0, 1, 2, -1))))
        self.emit("memory.grow", 0)
        self.stack.append(I32)

    def a_memory_fill(self):
        for v in (self.draw(st.sampled_from((0, 1, PAGE - 4, PAGE))),
                  self.draw(st.integers(0, 255)), self.draw(st.sampled_from((0, 1, 4, 17)))):
            self.emit("i32.const", v)
        self.emit("memory.fill", 0)

    def a_memory_copy(self):
        for v in (self.draw(st.sampled_from((0, 1, 3, PAGE - 4))),
                  self.draw(st.sampled_from((0, 2, 5, PAGE - 2))),
                  self.draw(st.sampled_from((0, 1, 4, 9)))):
            self.emit("i32.const", v)
        self.emit("memory.copy", (0, 0))

    def _open(self, kind: str, cond: bool) -> None:
        params = self.draw_params()  # the condition is pushed after them
        results = self.draw_results()
        if cond:
            self.int_operand()
        bt = self.block_type(params, results)
        self.emit(kind, bt)
        if cond:
            self.stack.pop()
        h = len(self.stack) - len(params)
        self.ctrl.append(_Frame(kind, params, results, h))
        if kind == "loop":
            self.fuel_check()

    def a_block(self):
        self._open("block", False)

    def a_loop(self):
        self._open("loop", False)

    def a_if(self):
        self._open("if", True)

    def a_else(self):
        f = self.frame
        self.fix_to(f.results)
        self.emit("else")
        del self.stack[f.height:]
        self.stack.extend(f.params)
        f.kind, f.unreachable = "else", False

    def a_end(self):
        f = self.frame
        if f.kind == "if" and f.params != f.results:
            self.a_else()  # an `if` without `else` must pass its params through unchanged
        self.fix_to(f.results)
        self.emit("end")
        self.ctrl.pop()
        del self.stack[f.height:]
        self.stack.extend(f.results)

    def _label(self) -> int:
        return self.draw(st.integers(0, len(self.ctrl) - 1))

    def _forward_label(self) -> int:
        """A label that is not a loop: an unconditional jump back would spin until the fuel
        runs out, and the fuel is shared by every call of the plan."""
        fwd = [i for i in range(len(self.ctrl)) if self.ctrl[-1 - i].kind != "loop"]
        return self.draw(st.sampled_from(fwd))

    def _transfer(self) -> None:
        """After an unconditional branch the rest of the block is unreachable code."""
        del self.stack[self.frame.height:]
        self.frame.unreachable = True
        self.dead_left = self.draw(st.integers(0, 3))

    def a_br(self):
        lab = self._forward_label()
        self.ensure(self.ctrl[-1 - lab].label_types)
        self.emit("br", lab)
        self._transfer()

    def a_br_if(self):
        lab = self._label()
        types = self.ctrl[-1 - lab].label_types
        self.ensure(types)
        self.branch_condition()
        self.emit("br_if", lab)
        self.stack.pop()

    def a_br_table(self):
        default = self._forward_label()
        types = self.ctrl[-1 - default].label_types
        same = [i for i in range(len(self.ctrl)) if self.ctrl[-1 - i].label_types == types
                and self.ctrl[-1 - i].kind != "loop"]
        targets = tuple(self.draw(st.lists(st.sampled_from(same), max_size=5)))
        self.ensure(types)
        if self.draw(st.integers(0, 3)) == 0:
            # the table's bounds: its last entry, or the first index that takes the default
            self.emit("i32.const", len(targets) - self.draw(st.integers(0, 1)))
            self.stack.append(I32)
        else:
            self.int_operand()
        self.emit("br_table", (targets, default))
        self._transfer()

    def _call(self, fidx: int) -> None:
        ft = self.ms.types[self.ms.func_types[fidx]]
        self.ensure(ft.params)
        self.emit("call", fidx)
        del self.stack[len(self.stack) - len(ft.params):]
        self.stack.extend(ft.results)

    def a_call(self):
        self._call(self.draw(st.sampled_from(self.callees)))

    def a_call_host(self):
        self._call(self.draw(st.integers(0, self.ms.n_imports - 1)))

    def a_call_indirect(self):
        ms = self.ms
        reachable = list(range(ms.n_imports)) + self.callees
        n = len(ms.func_types)
        target = self.draw(st.sampled_from(reachable))
        ti = ms.func_types[target]
        ft = ms.types[ti]
        self.ensure(ft.params)
        # mostly the right slot; one in eight another reachable one (a signature mismatch if
        # its type differs) or one out of range
        slot = target
        if self.draw(st.integers(0, 7)) == 0:
            slot = self.draw(st.sampled_from(reachable + [n, n + 1]))
        self.emit("i32.const", slot)
        self.emit("call_indirect", (ti, 0))
        del self.stack[len(self.stack) - len(ft.params):]
        self.stack.extend(ft.results)

    def a_return(self):
        self.ensure(self.ft.results)
        self.emit("return")
        self._transfer()

    def a_unreachable(self):
        self.emit("unreachable")
        self._transfer()

    def build(self) -> tuple:
        self.fuel_check()
        n = self.draw(st.integers(self.cfg.max_instrs // 2, self.cfg.max_instrs))
        for _ in range(n):
            self.step()
        while len(self.ctrl) > 1:
            self.a_end()
        self.fix_to(self.ft.results)
        self.emit("end")
        return tuple(self.out)


def _functype(draw, cfg: Config) -> FuncType:
    params = draw(st.lists(st.sampled_from(NUM), max_size=cfg.max_params))
    k = cfg.max_results if cfg.multi_value else min(1, cfg.max_results)
    results = draw(st.lists(st.sampled_from(NUM), max_size=k))
    return FuncType(tuple(params), tuple(results))


@st.composite
def _modules(draw, config: Config | None):
    cfg = config if config is not None else draw(configs())
    ms = _ModuleState(cfg)
    imports = []
    if cfg.has("host_calls"):
        for i in range(draw(st.integers(0, cfg.max_imports))):
            ti = ms.type_index(_functype(draw, cfg))
            imports.append(Import("host", f"h{i}", EXT_FUNC, ti))
            ms.func_types.append(ti)
    ms.n_imports = len(imports)
    n_funcs = draw(st.integers(1, cfg.max_funcs))
    for _ in range(n_funcs):
        ms.func_types.append(ms.type_index(_functype(draw, cfg)))
    # globals: user globals, two sinks and the fuel counter
    inits = []
    for t in draw(st.lists(st.sampled_from(NUM), max_size=3 if cfg.has("globals") else 0)):
        ms.globals.append((t, True))
        inits.append((t, draw(st.sampled_from(EDGE_BITS[t]))))
    # immutable ones: edge values the compiler cannot fold as it may fold constants
    for t in draw(st.lists(st.sampled_from(NUM), max_size=4 if cfg.has("globals") else 0)):
        ms.globals.append((t, False))
        inits.append((t, draw(st.sampled_from(EDGE_BITS[t]))))
    for t in (I32, I64):
        ms.sink[t] = len(ms.globals)
        ms.globals.append((t, True))
        inits.append((t, 0))
    ms.fuel = len(ms.globals)
    ms.globals.append((I32, True))
    inits.append((I32, cfg.fuel))
    ms.has_memory = cfg.has("memory") or cfg.has("bulk_memory")
    ms.has_table = cfg.has("call_indirect")
    funcs = []
    for k in range(n_funcs):
        body = _Body(draw, ms, ms.n_imports + k)
        instrs = body.build()
        funcs.append(Func(ms.func_types[ms.n_imports + k], body.decl, instrs=instrs))
    globals_ = []
    for (t, bits), (_, mutable) in zip(inits, ms.globals):
        if t in (I32, I64):
            n = _SIZE[t]
            bits = bits - (1 << n) if bits >> (n - 1) else bits
        name = {I32: "i32.const", I64: "i64.const", F32: "f32.const", F64: "f64.const"}[t]
        globals_.append(Global(GlobalType(t, mutable), ConstExpr((Instr(_op(name), bits),))))
    exports = [Export(f"f{k}", EXT_FUNC, ms.n_imports + k) for k in range(n_funcs)]
    exports += [Export("fuel" if i == ms.fuel else f"g{i}", EXT_GLOBAL, i)
                for i in range(len(ms.globals))]
    mems, datas, tables, elems = (), (), (), ()
    if ms.has_memory:
        mems = (MemoryType(Limits(1, 2)),)
        exports.append(Export("mem", EXT_MEMORY, 0))
        # bytes with the sign bit set are what sign-extending loads are about
        init = bytes(draw(st.lists(st.one_of(st.sampled_from((0x80, 0xFF, 0x7F, 0x01, 0xFE)),
                                             st.integers(0, 255)), min_size=1, max_size=64)))
        if init:
            off = draw(st.sampled_from((0, 8, PAGE - len(init))))
            datas = (Data(0, "active", init, 0,
                          ConstExpr((Instr(_op("i32.const"), off),))),)
    if ms.has_table:
        n = len(ms.func_types)
        tables = (TableType(FUNCREF, Limits(n, n)),)
        elems = (Elem(0, "active", FUNCREF, 0, ConstExpr((Instr(_op("i32.const"), 0),)),
                      funcs=tuple(range(n))),)
    m = Module(types=tuple(ms.types), imports=tuple(imports), funcs=tuple(funcs),
               tables=tables, mems=mems, globals=tuple(globals_), exports=tuple(exports),
               elems=elems, datas=datas)
    if cfg.canonicalize_nans:
        from oracle.nan_canon import canonicalize_module

        m = canonicalize_module(m)
    return encode_module(m)


def wasm_modules(config: Config | None = None) -> st.SearchStrategy:
    """Valid modules (as `bytes`) under `config`, or under a swarm configuration drawn by
    `configs()` when `config` is None.

    Shrinks toward one function with an empty body, no imports, no user globals and no
    data; within bodies toward fewer instructions, constants, and the first operators."""
    if config is not None and not isinstance(config, Config):
        raise InvalidArgument(f"wasm_modules(config=...) takes a Config or None, "
                              f"not {type(config).__name__}")
    return _modules(config)


# -- one operator per module ---------------------------------------------------------------------
def _single_ops() -> list:
    out = []
    for o in OPS:
        if o.feature not in ("mvp", "sign-extension", "nontrapping-float-to-int"):
            continue
        if o.has_sig and o.family not in ("const",) and all(
                t in NUM for t in o.params + o.results):
            out.append(o)
    return out


SINGLE_INSTRUCTION_OPS = tuple(o.name for o in _single_ops())


@st.composite
def _single(draw, ops):
    name = draw(st.sampled_from(ops))
    o = _op(name)
    body = []
    params = o.params
    if o.family == "load":
        addr = draw(st.sampled_from((0, 1, PAGE - (1 << o.align), PAGE - 1, PAGE, -1)))
        offset = draw(st.sampled_from((0, 1, PAGE)))
        body = [Instr(_op("i32.const"), addr), Instr(o, (o.align, offset, 0))]
    else:
        if o.family == "store":
            addr = draw(st.sampled_from((0, PAGE - (1 << o.align), PAGE - 1, PAGE)))
            body.append(Instr(_op("i32.const"), addr))  # the table's sig omits the address
        for t in params:
            bits = draw(st.one_of(st.sampled_from(EDGE_BITS[t]),
                                  st.integers(0, (1 << _SIZE[t]) - 1)))
            if t in (I32, I64):
                n = _SIZE[t]
                bits = bits - (1 << n) if bits >> (n - 1) else bits
            cname = {I32: "i32.const", I64: "i64.const", F32: "f32.const",
                     F64: "f64.const"}[t]
            body.append(Instr(_op(cname), bits))
        body.append(Instr(o, (o.align, 0, 0) if o.family == "store" else None))
    body.append(Instr(_op("end")))
    ft = FuncType((), tuple(o.results))
    mem = o.family in ("load", "store")
    m = Module(types=(ft,), funcs=(Func(0, (), instrs=tuple(body)),),
               mems=(MemoryType(Limits(1, 1)),) if mem else (),
               datas=(Data(0, "active", bytes(range(1, 17)), 0,
                           ConstExpr((Instr(_op("i32.const"), PAGE - 16),))),) if mem else (),
               exports=(Export("run", EXT_FUNC, 0),)
               + ((Export("mem", EXT_MEMORY, 0),) if mem else ()))
    return encode_module(m)


def single_instruction_modules(ops=None) -> st.SearchStrategy:
    """Modules whose one exported function `run` executes exactly one operator on constant
    operands drawn from the edge values of their types (memory operators: at the edges of a
    one-page memory).  `ops`: operator names to draw from (default: every numeric and
    memory operator in scope, `SINGLE_INSTRUCTION_OPS`).

    Shrinks toward the first operator of the opcode table and operands toward 0."""
    if ops is None:
        ops = SINGLE_INSTRUCTION_OPS
    ops = tuple(ops)
    bad = [n for n in ops if n not in SINGLE_INSTRUCTION_OPS]
    if bad or not ops:
        raise InvalidArgument(f"single_instruction_modules: not in scope: {bad or 'no ops'}")
    return _single(ops)

