"""Deliberate compiler bugs ("mutants"), to prove the oracle, the generator and the reducer
find them.

Each mutant patches our compiler in-process (a handler of `winch.codegen.func.HANDLERS`, a
macro-assembler method of one ISA, or the register allocator), modelled on a class of real
baseline-compiler bugs.  `apply(name)` plants one for the rest of the process; `oracle diff`,
`oracle replay` and `oracle campaign` take `--mutant NAME`, fuzz targets apply the one named by
`$ORACLE_MUTANT`.  `python scripts/mutants.py` lists, finds, hunts and reduces them.

A bug in what a compile option adds (NaN canonicalization, fuel, epoch interruption) is
invisible without the option: its `options` name the `run_diff` keywords it needs (`env`: the
differential target's variables for them), which the hunt, `find`, `table` and a campaign's
workers use, and which its findings' crash files record.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    bug_class: str  # the class of real baseline-compiler bug it models
    description: str
    isa: str  # the ISA it breaks ("" = all)
    patch: object  # installs the bug; returns the function that undoes it
    # what the oracle must run with to see the bug: `run_diff` keywords, as (name, value)
    # pairs: canonicalize_nans=True, fuel=N, epoch_deadline=N (compile options that are off
    # by default; a bug in what they add is invisible without them)
    options: tuple = ()

    @property
    def engine(self) -> str:
        return f"winch-{self.isa or 'x64'}"

    @property
    def diff_options(self) -> dict:
        """The `run_diff` keywords (and crash-file fields) this bug needs."""
        return dict(self.options)

    @property
    def env(self) -> dict:
        """The same for the differential fuzz target: its environment variables."""
        return {ENV_OF[k]: str(int(v)) for k, v in self.options}


#: the differential target's environment variable for each `run_diff` option
ENV_OF = {"canonicalize_nans": "ORACLE_CANONICALIZE_NANS", "fuel": "ORACLE_FUEL",
          "epoch_deadline": "ORACLE_EPOCH_DEADLINE"}


# -- how a bug is planted ------------------------------------------------------------------------
def _handler(op, make):
    """Replace the lowering of `op`: make(handlers, op) -> the new handler."""
    def patch():
        from winch.codegen import func as F

        saved = F.HANDLERS[op]
        F.HANDLERS[op] = make(dict(F.HANDLERS), op)
        return lambda: F.HANDLERS.__setitem__(op, saved)
    return patch


def _method(module, cls, meth, make):
    """Replace a method: make(original) -> the new function."""
    def patch():
        import importlib

        C = getattr(importlib.import_module(module), cls)
        saved = C.__dict__[meth]
        setattr(C, meth, make(saved))
        return lambda: setattr(C, meth, saved)
    return patch


def _intercept(module, cls, meth, attr, callee, rewrite):
    """While `cls.meth` runs, calls of `self[.attr].callee(*args)` go through
    `rewrite(args)`, which returns the arguments to use, or None to drop the call.  (The
    callee is swapped on its class: assemblers have __slots__.)"""
    def make(orig):
        def method(self, *a, **k):
            C = type(getattr(self, attr) if attr else self)
            own = C.__dict__.get(callee)
            real = getattr(C, callee)

            def fake(obj, *args):
                args = rewrite(args)
                return None if args is None else real(obj, *args)
            setattr(C, callee, fake)
            try:
                return orig(self, *a, **k)
            finally:
                if own is None:
                    delattr(C, callee)
                else:
                    setattr(C, callee, own)
        return method
    return _method(module, cls, meth, make)


def _function(module, name, make):
    """Replace a module-level function: make(original) -> the new function (callers that
    look it up in the module at call time get the new one)."""
    def patch():
        import importlib

        mod = importlib.import_module(module)
        saved = getattr(mod, name)
        setattr(mod, name, make(saved))
        return lambda: setattr(mod, name, saved)
    return patch


def _item(module, table, key, value):
    """Change one entry of a module-level table."""
    def patch():
        import importlib

        d = getattr(importlib.import_module(module), table)
        saved = d[key]
        d[key] = value
        return lambda: d.__setitem__(key, saved)
    return patch


# -- the bugs --------------------------------------------------------------------------------------
def _as(other, only_on: str | None = None):
    """Lower the operator as `other` (its handler gets `other`'s opcode row too: the memory
    handlers read the access width from it); `only_on`: a macro-assembler class name, the
    other ISAs keep the right lowering."""
    def make(H, op):
        from winch.wasm.opcodes import BY_NAME as OPS

        right, wrong, row = H[op], H[other], OPS[other]

        def handler(g, o, imm):
            if only_on is None or type(g.masm).__name__ == only_on:
                return wrong(g, row, imm)
            return right(g, o, imm)
        return handler
    return make


def _twice(H, op):
    return lambda g, o, imm: (H[op](g, o, imm), H[op](g, o, imm))


def _swapped_sub(H, op):
    def handler(g, o, imm):
        from winch.codegen.stack import CONST, REG

        st = g.stack
        if st.items[-1][0] == CONST:  # the immediate form has no operands to swap
            return H[op](g, o, imm)
        _, rhs = st.pop_reg()
        t, lhs = st.pop_reg()
        g.masm.alu_rr("sub", 8, rhs, lhs)  # rhs - lhs
        st.free(lhs)
        st.push((REG, t, rhs))
    return handler


def _without_spill(H, op):
    """`call` that leaves live values in the (caller-saved) registers."""
    def handler(g, o, imm):
        g.stack.spill_regs = lambda: None
        try:
            H[op](g, o, imm)
        finally:
            del g.stack.spill_regs
    return handler


def _br_if_no_moves(H, op):
    """`br_if` that jumps without storing the values its target expects."""
    def handler(g, o, imm):
        st = g.stack
        _, cond = st.pop_reg()
        g.masm.branch_nonzero(4, cond, g.ctl[-1 - imm].label)
        st.free(cond)
    return handler


def _drop_trap(kind_name):
    def rewrite(args):
        return None if args[1].name == kind_name else args
    return rewrite


def _s390x_extend_u_as_move(orig):
    def convert(self, name, dst, src):
        if name == "i64.extend_i32_u":
            return self.a.emit("LGR", dst, src)  # keeps the high half of the register
        return orig(self, name, dst, src)
    return convert


def _x64_wrap_as_nothing(orig):
    def convert(self, name, dst, src):
        if name == "i32.wrap_i64":
            return None if dst == src else self.a.mov_rr(8, dst, src)
        return orig(self, name, dst, src)
    return convert


def _a64_far_offset_in_val(orig):
    """aarch64 builds a far address's offset in VAL, where a value to store may sit (the
    bug of issue 15: `mov x16, #1; mov x16, #-0x1128; add x17, x29, x16; str x16, [x17]`)."""
    def add_const(self, rd, rn, value):
        from winch.isa.aarch64.masm import ADDR, SP, VAL

        if rd == ADDR and rn != VAL and not -4096 < value < 4096:
            self.a.mov_imm(8, VAL, value & 0xFFFF_FFFF_FFFF_FFFF)
            return (self.a.add_ext if rn == SP else self.a.add_rr)(8, rd, rn, VAL)
        return orig(self, rd, rn, value)
    return add_const


def _x64_cond(key, name):
    """x64 sets `key` with condition code `name`."""
    def patch():
        from winch.isa.x64.asm import Cond

        return _item("winch.isa.x64.masm", "INT_COND", key, Cond[name])()
    return patch


def _x64_jae_as_ja(args):
    from winch.isa.x64.asm import Cond

    return (Cond.A,) + tuple(args[1:]) if args[0] == Cond.AE else args


def _a64_table_bound_ls(args):
    """call_indirect's table bound taken as `index <= length` (b.ls), not `<` (b.lo)."""
    cond, kind = args
    if kind.name == "table_out_of_bounds" and cond == type(cond).LO:
        return (type(cond).LS, kind)
    return args


def _both(*patches):
    """Several patches as one."""
    def patch():
        undos = [p() for p in patches]
        return lambda: [u() for u in reversed(undos)]
    return patch


def _far15(self, base, off):
    """A frame offset 32 KiB or more below fp with only 15 bits of its magnitude kept."""
    return -(-off & 0x7FFF) if base == self.FP and off <= -0x8000 else off


def _a64_far_typed_ld(orig):
    """aarch64: a load from the frame (a local, a spill slot) keeps only 15 bits of its
    offset's magnitude (a field one bit too narrow for the frame): a slot 32 KiB or more
    below fp is read from one a multiple of 32 KiB nearer.  (Patched above the recorded
    operations, whose templates would otherwise replay the right code.)"""
    def _typed_ld(self, t, reg, base, off):
        return orig(self, t, reg, base, _far15(self, base, off))
    return _typed_ld


def _a64_far_copy(orig):
    """... and so does the load of a slot-to-slot copy."""
    def _copy(self, t, dbase, doff, sbase, soff):
        return orig(self, t, dbase, doff, sbase, _far15(self, sbase, soff))
    return _copy


def _x64_shift64_count_mask31(orig):
    """x64: a 64-bit shift by a register first masks cl with 31 (the 32-bit mask)."""
    def shift_rr(self, op, size, dst, count):
        if size == 8 and op in ("shl", "shr_s", "shr_u"):
            self.a.alu_ri("and", 4, count, 31)
        return orig(self, op, size, dst, count)
    return shift_rr


def _x64_fne_no_parity(orig):
    """x64: f32/f64.ne from ZF alone (`ucomis; setne`): an unordered compare (a NaN
    operand) sets ZF, so NaN != x comes out 0."""
    def fcmp_set(self, cond, t, dst, lhs, rhs):
        if cond != "ne":
            return orig(self, cond, t, dst, lhs, rhs)
        from winch.isa.x64.asm import Cond
        from winch.isa.x64.masm import XMM0
        from winch.wasm.types import F32

        self.a.ucomis(4 if t == F32 else 8, lhs - XMM0, rhs - XMM0)
        self.a.setcc(Cond.NE, dst)
        self.a.movzx(1, dst, dst)
    return fcmp_set


def _x64_u64_to_f32_via_f64(orig):
    """x64: f32.convert_i64_u converts to f64, then rounds that to f32: two roundings."""
    def int_to_float(self, name, x, src):
        if name != "f32.convert_i64_u":
            return orig(self, name, x, src)
        orig(self, "f64.convert_i64_u", x, src)
        self.a.cvt_f2f(4, x, x)
    return int_to_float


X64, A64, S390X = ("winch.isa.x64.masm", "X64Masm"), ("winch.isa.aarch64.masm", "A64Masm"), \
    ("winch.isa.s390x.masm", "S390xMasm")


# -- issue 20: memory64, multi-memory, table64 ------------------------------------------------
def _to_memory0(arg_base: int):
    """wasm_load_at / wasm_store_at address memory 0 whatever memory they name: the VM
    context fields of memory 0 in place of the named memory's (the index type is kept).
    `arg_base`: the position of base_off among the method's arguments after self."""
    def make(orig):
        def method(self, *args):
            from winch.vmctx import MEM0_BASE, MEM0_SIZE

            args = list(args)
            args[arg_base:arg_base + 2] = [MEM0_BASE, MEM0_SIZE]
            return orig(self, *args)
        return method
    return make


def _every_isa_at(meth: str, arg_base: int):
    return _both(*(_method(*isa, meth, _to_memory0(arg_base)) for isa in (X64, A64, S390X)))


def _grow_first_of_its_type(H, op):
    """memory.grow of memory i >= 1 grows the first memory of the same index type."""
    def handler(g, o, imm):
        mems = g.env.mems
        same = [i for i in range(imm) if mems[i][2] == mems[imm][2]]
        return H[op](g, o, same[0] if same else imm)
    return handler


def _x64_cmp_in_32_bits(args):
    """The bound compare of a 64-bit access (`cmp r11, [r14 + size]`) with 4-byte operands."""
    return ("cmp", 4) + tuple(args[2:]) if args[0] == "cmp" and args[1] == 8 else args


def _x64_no_carry_trap(args):
    from winch.isa.x64.asm import Cond

    return None if args[0] == Cond.AE else args


def _x64_call_indirect64_in_32_bits(orig):
    """call_indirect64 compares the index with the table length in 32 bits."""
    def call_indirect64(self, index, base_off, len_off, sig_off, vmctx_slot):
        return self._call_indirect(4, index, base_off, len_off, sig_off, vmctx_slot)
    return call_indirect64

# -- issue 21: NaN canonicalization, fuel, epoch interruption (compile options) --------------
def _canon_skipped(op_name: str, masm_cls: str):
    """NaN canonicalization (winch/codegen/nan_canon.py) leaves the result of `op_name`
    alone when compiling for one ISA: its handler is not wrapped there."""
    def make(orig):
        def canonicalizing(handler):
            canon = orig(handler)

            def handler_or_canon(g, op, imm):
                if op.name == op_name and type(g.masm).__name__ == masm_cls:
                    return handler(g, op, imm)
                return canon(g, op, imm)
            return handler_or_canon
        return canonicalizing
    return make


def _x64_negative_nan(args):
    """x64's canonical NaN built with the sign bit set (x86's "default NaN", 0xFFC00000)."""
    size, bits = args
    return (size, bits | 1 << (8 * size - 1))


def _fuel_loop_one_short(orig):
    """winch/codegen/fuel.py: the pending cost flushed at a `loop` is one unit short (the
    operator just before the loop is not charged)."""
    def _wrap(name, h, fuel, epoch):
        w = orig(name, h, fuel, epoch)
        if name != "loop" or not fuel:
            return w

        def loop(g, op, imm):
            if not g.unreachable and g.fuel_pending > 0:
                g.fuel_pending -= 1
            return w(g, op, imm)
        return loop
    return _wrap


def _fuel_call_unsaved(masm_cls: str):
    """On one ISA, `call` flushes the pending cost into the function's fuel variable but does
    not store the variable to the store first: the callee loads a stale count, and so does
    the caller after the call, so the caller's charges since its last save are lost."""
    def make(orig):
        def _wrap(name, h, fuel, epoch):
            right = orig(name, h, fuel, epoch)
            if name != "call" or not fuel:
                return right
            import winch.codegen.fuel as F

            save, flush = F.SAVE, F.FLUSH
            F.SAVE, F.FLUSH = save - {"call"}, flush | {"call"}  # read by _wrap
            try:
                wrong = orig(name, h, fuel, epoch)
            finally:
                F.SAVE, F.FLUSH = save, flush

            def call(g, op, imm):
                return (wrong if type(g.masm).__name__ == masm_cls else right)(g, op, imm)
            return call
        return _wrap
    return make


def _x64_entry_check_before_charge(orig):
    """x64: a function's entry checks the fuel before adding the entry's cost (not after),
    so a call entered with exactly one unit left runs on to the next check."""
    def __init__(self, env, masm, *args, **kwargs):
        if not getattr(env, "fuel", False) or type(masm).__name__ != "X64Masm":
            return orig(self, env, masm, *args, **kwargs)
        cls, held = type(masm), []
        masm.fuel_add = held.append  # (instance attributes for the prologue only)

        def check():
            cls.fuel_check_store(masm)
            for k in held:
                cls.fuel_add(masm, k)
        masm.fuel_check_store = check
        try:
            return orig(self, env, masm, *args, **kwargs)
        finally:
            del masm.fuel_add, masm.fuel_check_store
    return __init__


def _a64_epoch_strict(args):
    """The epoch check continues while epoch <= deadline (b.ls), not epoch < deadline."""
    cond, kind = args
    if kind.name == "interrupt" and cond == type(cond).LO:
        return (type(cond).LS, kind)
    return args


def _s390x_no_entry_epoch_check(orig):
    """s390x: a function compiled with epoch checks omits the one at its entry (the loop
    headers keep theirs)."""
    def __init__(self, env, masm, *args, **kwargs):
        if not getattr(env, "epoch", False) or type(masm).__name__ != "S390xMasm":
            return orig(self, env, masm, *args, **kwargs)
        masm.epoch_check = lambda: None  # (an instance attribute: the class keeps its own)
        try:
            return orig(self, env, masm, *args, **kwargs)
        finally:
            del masm.epoch_check
    return __init__


MUTANTS = [
    Mutant("sub-is-add", "wrong operator", "i32.sub lowered as i32.add", "",
           _handler("i32.sub", _as("i32.add"))),
    Mutant("shr_u-is-shr_s", "signedness confusion", "i64.shr_u lowered as an arithmetic "
           "shift", "", _handler("i64.shr_u", _as("i64.shr_s"))),
    Mutant("lt_u-is-signed", "signedness confusion", "i32.lt_u compares signed", "",
           _handler("i32.lt_u", _as("i32.lt_s"))),
    Mutant("load8-zero-extends", "missing sign-extension", "i32.load8_s zero-extends", "",
           _handler("i32.load8_s", _as("i32.load8_u"))),
    Mutant("eqz-inverted", "inverted condition", "i32.eqz computes x != 0", "",
           _handler("i32.eqz", _twice)),
    Mutant("min-is-max", "wrong operator", "f64.min lowered as f64.max", "",
           _handler("f64.min", _as("f64.max"))),
    Mutant("neg-is-abs", "wrong operator", "f32.neg lowered as f32.abs", "",
           _handler("f32.neg", _as("f32.abs"))),
    Mutant("rotl-is-rotr", "wrong operator", "i64.rotl lowered as i64.rotr", "",
           _handler("i64.rotl", _as("i64.rotr"))),
    Mutant("aarch64-add-is-sub", "wrong operator", "i32.add lowered as i32.sub, on aarch64 "
           "only", "aarch64", _handler("i32.add", _as("i32.sub", only_on="A64Masm"))),
    Mutant("s390x-xor-is-or", "wrong operator", "i32.xor lowered as i32.or, on s390x only",
           "s390x", _handler("i32.xor", _as("i32.or", only_on="S390xMasm"))),
    Mutant("x64-ge_u-is-gt_u", "wrong condition code", "x64: i32/i64.ge_u set with the "
           "'above' condition (ja) instead of 'above or equal'", "x64",
           _x64_cond("ge_u", "A")),
    Mutant("sub-operands-swapped", "swapped operands", "i64.sub of two registers computes "
           "rhs - lhs", "", _handler("i64.sub", _swapped_sub)),
    Mutant("s390x-extend_u-no-zext", "missing zero-extension", "s390x: i64.extend_i32_u "
           "copies the whole register (LGR) instead of zero-extending (LLGFR)", "s390x",
           _method(*S390X, "convert", _s390x_extend_u_as_move)),
    Mutant("x64-wrap-no-zext", "missing zero-extension", "x64: i32.wrap_i64 leaves the high "
           "half in the register (an address from it is wrong)", "x64",
           _method(*X64, "convert", _x64_wrap_as_nothing)),
    Mutant("call-clobbers-regs", "register clobbered across a call", "call does not spill the "
           "live registers, which the callee clobbers", "", _handler("call", _without_spill)),
    Mutant("spill-wrong-slot", "wrong spill slot", "at a block entry (a merge point) values "
           "are spilled into the slot of the position above theirs", "",
           _intercept("winch.codegen.stack", "ValueStack", "spill_all", "frame", "slot",
                      lambda args: (args[0] + 1,))),  # the slot of the position above
    Mutant("br_if-no-moves", "stack not rebalanced on a branch", "br_if jumps without moving "
           "the values its target expects into place", "", _handler("br_if", _br_if_no_moves)),
    Mutant("x64-no-bounds-check", "missing bounds check", "x64: a memory access compares "
           "against the memory size but never traps", "x64",
           _intercept(*X64, "_bounds", "", "_trap_unless", _drop_trap("memory_out_of_bounds"))),
    Mutant("s390x-shift-unmasked", "shift count not masked", "s390x: 32-bit shifts by a "
           "register use 6 bits of the count (SLL/SRL/SRA), not 5", "s390x",
           _intercept(*S390X, "shift_rr", "a", "emit",
                      lambda args: None if args[0] == "NILL" else args)),
    Mutant("x64-div_s-no-overflow-check", "missing trap", "x64: i32/i64.div_s does not check "
           "INT_MIN / -1 (idiv faults as a division by zero)", "x64",
           _intercept(*X64, "divrem", "", "_trap_unless", _drop_trap("integer_overflow"))),
    Mutant("aarch64-div-by-zero-unchecked", "missing trap", "aarch64: division by zero is "
           "not checked (sdiv/udiv return 0)", "aarch64",
           _intercept(*A64, "divrem", "", "_brk", lambda args: None if args[0].name ==
                      "integer_divide_by_zero" else args)),
    Mutant("x64-br_table-off-by-one", "off-by-one bound", "x64: br_table's index check uses "
           "'above' (ja), so index == count reads past the jump table", "x64",
           _intercept(*X64, "br_table", "a", "jcc_label", _x64_jae_as_ja)),
    Mutant("aarch64-far-slot-scratch-clash", "scratch register clobbered", "aarch64: the "
           "offset of a frame slot 4 KiB or more from fp is built in the scratch register "
           "that holds the constant or copied value being stored there", "aarch64",
           _method(*A64, "_add_const", _a64_far_offset_in_val)),
    # issue 17: the classes the generator long could not reach
    Mutant("aarch64-table-bound-off-by-one", "off-by-one table bound", "aarch64: "
           "call_indirect checks the index with b.ls (<=), so index == table size reads the "
           "entry past the table", "aarch64",
           _intercept(*A64, "call_indirect", "", "_trap_unless", _a64_table_bound_ls)),
    Mutant("aarch64-far-load-15-bit-offset", "far frame offset truncated", "aarch64: a load "
           "from a local or slot 32 KiB or more below fp keeps 15 bits of the offset and reads "
           "a slot 32 KiB nearer (stores are right)", "aarch64",
           _both(_method(*A64, "_typed_ld", _a64_far_typed_ld),
                 _method(*A64, "_copy", _a64_far_copy))),
    Mutant("x64-shift64-count-5-bits", "shift count mask too narrow", "x64: i64.shl/"
           "shr_s/shr_u by a register count mask it with 31, so counts 32..63 shift by "
           "count - 32", "x64", _method(*X64, "shift_rr", _x64_shift64_count_mask31)),
    Mutant("aarch64-load16_s-to-32-bits", "wrong sign-extension width", "aarch64: i64.load16_s "
           "sign-extends into a W register (ldrsh w), so the high half is zero", "aarch64",
           _item("winch.isa.aarch64.masm", "LOADS", "i64.load16_s", ("s", 2, 4))),
    Mutant("x64-fne-ignores-parity", "unordered float compare", "x64: f32/f64.ne ignores the "
           "parity flag: with a NaN operand (unordered) x != y gives 0", "x64",
           _method(*X64, "fcmp_set", _x64_fne_no_parity)),
    Mutant("x64-u64-to-f32-double-round", "double rounding", "x64: f32.convert_i64_u "
           "goes through f64 (rounds twice): ties such as 0x8000008000000001 round the wrong "
           "way", "x64", _method(*X64, "_int_to_float", _x64_u64_to_f32_via_f64)),
    # issue 20: memory64, multi-memory, table64
    Mutant("memory-index-ignored", "wrong memory", "a load or store naming memory i >= 1 "
           "(or a 64-bit memory 0) accesses memory 0's base, bounded by memory 0's size",
           "", _both(_every_isa_at("wasm_load_at", 4), _every_isa_at("wasm_store_at", 4))),
    Mutant("x64-mem64-bound-in-32-bits", "64-bit bound checked in 32 bits", "x64: the "
           "bounds check of a 64-bit memory compares the access's end with the size in 32 "
           "bits (cmp r11d), so an address >= 2^32 whose low half is in bounds passes, and "
           "the access goes 4 GiB past the memory", "x64",
           _intercept(*X64, "_bounds64", "a", "alu_rm", _x64_cmp_in_32_bits)),
    Mutant("x64-mem64-carry-unchecked", "address + offset wraps", "x64: a 64-bit memory's "
           "address + offset + width may carry out of 64 bits unnoticed (no trap on the "
           "carry), so the wrapped sum is accessed", "x64",
           _intercept(*X64, "_bounds64", "", "_trap_unless", _x64_no_carry_trap)),
    Mutant("grow-wrong-memory", "wrong memory", "memory.grow of memory i >= 1 grows the "
           "first memory of the same index type", "",
           _handler("memory.grow", _grow_first_of_its_type)),
    Mutant("x64-table64-index-32-bits", "64-bit index checked in 32 bits", "x64: "
           "call_indirect through a 64-bit table compares the index with the table length in "
           "32 bits, so an index >= 2^32 whose low half is in bounds passes", "x64",
           _method(*X64, "call_indirect64", _x64_call_indirect64_in_32_bits)),
    # issue 21: NaN canonicalization, fuel and epoch interruption (found with the option on)
    Mutant("s390x-f64-min-nan-kept", "NaN canonicalization incomplete",
           "s390x: NaN canonicalization leaves f64.min's result alone, so a NaN operand's "
           "payload comes through (quieted) instead of the canonical NaN", "s390x",
           _function("winch.codegen.nan_canon", "canonicalizing",
                     _canon_skipped("f64.min", "S390xMasm")),
           (("canonicalize_nans", True),)),
    Mutant("x64-canonical-nan-negative", "wrong canonical NaN constant", "x64: NaN "
           "canonicalization replaces a NaN by 0xFFC00000 / 0xFFF8000000000000 (x86's default "
           "NaN, sign set) instead of the canonical 0x7FC00000 / 0x7FF8000000000000", "x64",
           _intercept(*X64, "canonicalize_nan", "", "_const", _x64_negative_nan),
           (("canonicalize_nans", True),)),
    Mutant("fuel-loop-charge-one-short", "off-by-one fuel charge", "the cost pending when a "
           "loop is entered is flushed one unit short (the operator before the loop is not "
           "charged): the fuel left is one more than wasmtime's per loop entered", "",
           _function("winch.codegen.fuel", "_wrap", _fuel_loop_one_short),
           (("fuel", 5000),)),
    Mutant("aarch64-fuel-unsaved-at-call", "fuel not saved before a call",
           "aarch64: a call flushes the fuel variable but does not store it to the store, so "
           "the callee (and the caller after it, reloading) counts from a stale value: the "
           "caller's charges since its last save are lost", "aarch64",
           _function("winch.codegen.fuel", "_wrap", _fuel_call_unsaved("A64Masm")),
           (("fuel", 5000),)),
    Mutant("x64-fuel-check-before-charge", "check before charge", "x64: a function's "
           "entry checks for fuel left before charging the entry's unit, so a call entered "
           "with one unit left runs on (to its next check, or to its end) instead of running "
           "out", "x64", _method("winch.codegen.fuel", "FuelCodegen", "__init__",
                                 _x64_entry_check_before_charge),
           (("fuel", 60),)),
    Mutant("aarch64-epoch-past-deadline", "off-by-one deadline compare", "aarch64: the "
           "epoch check traps only when the epoch is past the deadline (b.ls instead of "
           "b.lo), so a deadline equal to the epoch (0) interrupts nothing", "aarch64",
           _intercept(*A64, "epoch_check", "", "_trap_unless", _a64_epoch_strict),
           (("epoch_deadline", 0),)),
    Mutant("s390x-epoch-entry-unchecked", "missing interruption check", "s390x: no epoch "
           "check at function entry (only at loop headers), so a function without a loop "
           "runs to the end past its deadline", "s390x",
           _method("winch.codegen.fuel", "FuelCodegen", "__init__",
                   _s390x_no_entry_epoch_check),
           (("epoch_deadline", 0),)),
]
BY_NAME = {m.name: m for m in MUTANTS}


def apply(name: str):
    """Plant a mutant for the rest of the process; returns the function that removes it.

    The compiler's memoized code (`winch.masm.buffer.MEMO_CACHES`) is forgotten when a
    mutant is planted and when it is removed: it was made by the code the mutant patches."""
    from winch.masm.buffer import clear_memo_caches

    undo = BY_NAME[name].patch()
    clear_memo_caches()

    def remove():
        undo()
        clear_memo_caches()
    return remove


@contextlib.contextmanager
def applied(name: str):
    undo = apply(name)
    try:
        yield BY_NAME[name]
    finally:
        undo()


#: Where each deliberate bug is, for `scripts/mutants.py locate`: the operators (fnmatch
#: patterns) an `oracle locate` answer may name for the bug to count as located.  "*": the
#: bug is in frame or register handling rather than in one operator, and any instruction
#: `oracle locate` names is where the wrong value first appears (which it checks: both
#: traces agree up to that instruction).
LOCATED_IN = {
    "sub-is-add": ("i32.sub",),
    "shr_u-is-shr_s": ("i64.shr_u",),
    "lt_u-is-signed": ("i32.lt_u",),
    "load8-zero-extends": ("i32.load8_s",),
    "eqz-inverted": ("i32.eqz",),
    "min-is-max": ("f64.min",),
    "neg-is-abs": ("f32.neg",),
    "rotl-is-rotr": ("i64.rotl",),
    "aarch64-add-is-sub": ("i32.add",),
    "s390x-xor-is-or": ("i32.xor",),
    "x64-ge_u-is-gt_u": ("i32.ge_u", "i64.ge_u"),
    "sub-operands-swapped": ("i64.sub",),
    "s390x-extend_u-no-zext": ("i64.extend_i32_u",),
    "x64-wrap-no-zext": ("i32.wrap_i64", "*.load*", "*.store*"),
    "call-clobbers-regs": ("call", "call_indirect"),
    "spill-wrong-slot": ("*",),
    "br_if-no-moves": ("br_if",),
    "x64-no-bounds-check": ("*.load*", "*.store*"),
    "s390x-shift-unmasked": ("i32.shl", "i32.shr_s", "i32.shr_u"),
    "x64-div_s-no-overflow-check": ("i32.div_s", "i64.div_s"),
    "aarch64-div-by-zero-unchecked": ("i32.div_*", "i64.div_*", "i32.rem_*", "i64.rem_*"),
    "x64-br_table-off-by-one": ("br_table",),
    "aarch64-far-slot-scratch-clash": ("*",),
    "aarch64-table-bound-off-by-one": ("call_indirect",),
    "aarch64-far-load-15-bit-offset": ("*",),
    "x64-shift64-count-5-bits": ("i64.shl", "i64.shr_s", "i64.shr_u"),
    "aarch64-load16_s-to-32-bits": ("i64.load16_s",),
    "x64-fne-ignores-parity": ("f32.ne", "f64.ne"),
    "x64-u64-to-f32-double-round": ("f32.convert_i64_u",),
    "memory-index-ignored": ("*.load*", "*.store*"),
    "x64-mem64-bound-in-32-bits": ("*.load*", "*.store*"),
    "x64-mem64-carry-unchecked": ("*.load*", "*.store*"),
    # the grow returns the right old size: the first wrong value is a later memory.size
    "grow-wrong-memory": ("memory.grow", "memory.size"),
    "x64-table64-index-32-bits": ("call_indirect",),
    "s390x-f64-min-nan-kept": ("f64.min",),
    "x64-canonical-nan-negative": ("f32.*", "f64.*"),
    # the check at function entry or at a loop header
    "aarch64-epoch-past-deadline": ("<entry>", "loop"),
    "s390x-epoch-entry-unchecked": ("<entry>",),
}
# Not listed: the fuel bugs.  The reference interpreter does not model wasmtime's fuel, so
# `oracle locate` cannot compare fuel instruction by instruction (it says so).


def located(name: str, op: str, what: str) -> bool:
    """Whether an `oracle locate` answer (the instruction's operator name, and its `what`:
    "entry" for a function's entry) names where mutant `name` is (`LOCATED_IN`)."""
    import fnmatch

    for pattern in LOCATED_IN.get(name, ()):
        if pattern == "*":
            return True
        if pattern == "<entry>":
            if what == "entry":
                return True
        elif fnmatch.fnmatchcase(op, pattern) and what != "entry":
            return True
    return False
