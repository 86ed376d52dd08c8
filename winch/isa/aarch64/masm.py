"""The aarch64 MacroAssembler: Wasm-level operations lowered to A64 sequences.

Registers (codegen numbering: x0..x30 as 0..30, v0..v31 as 32 + n):
    x29 fp, x30 lr, sp        frame pointer, link register, stack pointer (16-byte aligned)
    x28                       pinned: the VM context (restored from [fp-8] after calls)
    x16 VAL, x17 ADDR         scratch (IP0/IP1), private to this file: see "Scratch registers"
    x18                       platform register: never used
    v31                       FP scratch
    x0..x15, x19..x27         allocatable GPRs;  v0..v30 allocatable FP registers
Traps are `brk #0` reached by a conditional branch over it (ISA-NOTES.md: brk is the only
reliable trap).  Integer division checks its operands explicitly (sdiv by zero returns 0 here).

Scratch registers.  Loads and stores reach only [base + 0..4095*width] (scaled) or
[base - 256..255], and most immediates do not fit an instruction, so many operations need a
register to build an address, offset or constant in.  Two registers are never allocated, and
their owners are disjoint (issue 15: a far slot's offset was once built in the register that
held the value being stored there, and the slot received its own offset):

    VAL  = x16   carries a *value* between the instructions of one masm operation: the
                 constant or slot contents being stored or copied, a loaded pointer (global
                 cell, callee address, memory base), an intermediate result.
    ADDR = x17   the helpers' own register: `_addr`, `_add_const` and `_imm` build an
                 out-of-range address, offset or immediate in it, for the instruction their
                 caller emits next.

    Invariant: a helper writes only its explicit destination and ADDR, never VAL (unless
    VAL is that destination), so a value in VAL survives any helper call.  Nothing keeps a
    value in ADDR across a helper call; a masm operation may use ADDR as a plain temporary
    only where no helper is called between writing it and its last read.

Memoized operations (issue 16).  An operation marked `@_memo` emits code that depends only
on its operands: the first call with given operands emits through the assembler and records
the bytes, trap records and own labels (`CodeBuffer.recorded`); later calls with the same
operands append the recording.  A trap check is `b.cond . + 8` over its `brk` (no label), so
bounds-checked loads and stores replay too.  Operands that differ only in registers, offsets
and immediates of the same class share a field template (`_memo(template=...)`: templates.py,
winch/isa/field_templates.py): new operands of a known shape are filled in, not assembled.
`clear_caches()` (and oracle/mutants.py, through `winch.masm.buffer.clear_memo_caches`)
forgets them all.
"""

from __future__ import annotations

import struct

from winch.errors import EncodingError
from winch.isa.aarch64 import templates as _t
from winch.isa.aarch64.asm import A64Assembler, Cond, Extend
from winch.isa.aarch64.imms import encode_logical_imm
from winch.isa.field_templates import seal
from winch.masm.base import MacroAssembler
from winch.masm.buffer import CodeBuffer, emit_jump_table, memo_cache
from winch.masm.replay import Recordings
from winch.masm.wasm_semantics import trunc_bounds
from winch.traps import TrapKind
from winch.vmctx import FUEL, MEM0_BASE, MEM0_SIZE, STACK_LIMIT
from winch.wasm.types import F32, F64, I32, I64

FP, LR, SP, ZR = 29, 30, 31, 31
VM = 28
VAL, ADDR = 16, 17  # x16, x17: the scratch registers and their owners (module docstring)
V0 = 32
VS = 31  # FP scratch (assembler numbering)

INT_COND = {"eq": Cond.EQ, "ne": Cond.NE, "lt_s": Cond.LT, "lt_u": Cond.LO, "gt_s": Cond.GT,
            "gt_u": Cond.HI, "le_s": Cond.LE, "le_u": Cond.LS, "ge_s": Cond.GE, "ge_u": Cond.HS}
F_COND = {"eq": Cond.EQ, "ne": Cond.NE, "lt": Cond.MI, "le": Cond.LS, "gt": Cond.GT,
          "ge": Cond.GE}
LOADS = {
    "i32.load": ("u", 4, 4), "i64.load": ("u", 8, 8), "f32.load": ("f", 4, 4),
    "f64.load": ("f", 8, 8), "i32.load8_s": ("s", 1, 4), "i32.load8_u": ("u", 1, 4),
    "i32.load16_s": ("s", 2, 4), "i32.load16_u": ("u", 2, 4), "i64.load8_s": ("s", 1, 8),
    "i64.load8_u": ("u", 1, 8), "i64.load16_s": ("s", 2, 8), "i64.load16_u": ("u", 2, 8),
    "i64.load32_s": ("s", 4, 8), "i64.load32_u": ("u", 4, 4),
}
STORES = {
    "i32.store": ("i", 4), "i64.store": ("i", 8), "f32.store": ("f", 4), "f64.store": ("f", 8),
    "i32.store8": ("i", 1), "i32.store16": ("i", 2), "i64.store8": ("i", 1),
    "i64.store16": ("i", 2), "i64.store32": ("i", 4),
}
ROUND = {"ceil": "frintp", "floor": "frintm", "trunc": "frintz", "nearest": "frintn"}


#: The recorded operations (`_memo`, winch/masm/replay.py).  A memo that reaches this many
#: entries starts again empty: constants and offsets from thousands of fuzzed modules must
#: not grow it without bound (sql.js fills at most 6,584).
_RECORDINGS = Recordings(1 << 14)
_memo = _RECORDINGS.memo
#: frame size -> finish_frame's `movz x16, #lo; movk x16, #hi, lsl #16`.
_FRAME_SIZE_CODE: dict = memo_cache()


def clear_caches() -> None:
    """Forget every memoized sequence of this file (the assembler keeps its own)."""
    _RECORDINGS.clear()
    _FRAME_SIZE_CODE.clear()
    _t._MOV_CLASSES.clear()


def _label_code(emit):
    """(bytes, label use) of `emit(assembler, label)`: one instruction that refers to a
    label, as the assembler encodes it (displacement 0, patched at `finish`)."""
    buf = CodeBuffer()
    label = buf.new_label()
    emit(A64Assembler(buf), label)
    buf.bind_label(label)
    code, (_, _, ((at, _, _, use),)) = buf.recorded((0, 0, 0, 0, 0))
    assert at == 0 and len(code) == 4
    return code, use


#: The masm's branches to labels (b, bl; cbz/cbnz by size and register), as the assembler
#: encodes them: the hottest plain (not recorded) emissions of a body.
_B = _label_code(lambda a, lab: a.b(lab))
_BL = _label_code(lambda a, lab: a.bl(lab))
_CBZ = {(size, r): _label_code(lambda a, lab: a.cbz(size, r, lab))
        for size in (4, 8) for r in range(31)}
_CBNZ = {(size, r): _label_code(lambda a, lab: a.cbnz(size, r, lab))
         for size in (4, 8) for r in range(31)}


def _fsize(t) -> int:
    return 4 if t == F32 else 8


def _isize(t) -> int:
    return 4 if t == I32 else 8


def _fbits(size: int, value: float) -> int:
    return struct.unpack("<I", struct.pack("<f", value))[0] if size == 4 else \
        struct.unpack("<Q", struct.pack("<d", value))[0]


@seal  # no field template while a method is patched (a planted bug)
class A64Masm(MacroAssembler):
    FP, SP = FP, SP
    GPRS = tuple(range(0, 16)) + tuple(range(19, 28))
    FPRS = tuple(V0 + i for i in range(31))
    FPR_SET = frozenset(FPRS)
    RET_GPR = 0
    RET_FPR = V0
    SHIFT_COUNT_REG = None

    def __init__(self, buf, env):
        super().__init__(buf, env)
        self.a = A64Assembler(buf)

    def _brk(self, kind: TrapKind) -> None:
        self.buf.add_trap(kind)  # at the current offset: the brk's
        self.a.brk(0)

    @_memo
    def trap(self, kind: TrapKind) -> None:
        self._brk(kind)

    def _trap_unless(self, cond: Cond, kind: TrapKind) -> None:
        """b.cond over the brk that follows it (known distance 8: no label, no fixup)."""
        self.a.b_cond_rel(cond, 8)
        self._brk(kind)

    # -- addressing helpers ------------------------------------------------------------------
    def _addr(self, base: int, off: int, width: int):
        """(rn, offset, form) for [base + off]: 'u' scaled unsigned, 'n' unscaled, or the
        address built in ADDR.  Writes ADDR only."""
        if 0 <= off <= 4095 * width and off % width == 0:
            return base, off, "u"
        if -256 <= off <= 255:
            return base, off, "n"
        self._add_const(ADDR, base, off)
        return ADDR, 0, "u"

    def _add_const(self, rd, rn, value) -> None:
        """rd = rn + value (64-bit), rn may be sp.  Writes rd, and ADDR only when rd is rn
        (or sp) and |value| >= 2**24: never another register (the scratch invariant)."""
        a = self.a
        if 0 <= value <= 0xFFF:  # the common case: one add
            a.add_imm(8, rd, rn, value)
            return
        mag = -value if value < 0 else value
        if mag < (1 << 24):  # one or two add/sub immediates, through rd alone
            op = a.sub_imm if value < 0 else a.add_imm
            hi, lo = mag >> 12, mag & 0xFFF
            if hi:
                op(8, rd, rn, hi, 12)
                rn = rd
            if lo or not hi:
                op(8, rd, rn, lo)
            return
        tmp = rd if rd not in (rn, SP) else ADDR
        if tmp == rn:
            raise EncodingError(f"_add_const: x{rn} + {value:#x} into itself needs a register")
        a.mov_imm(8, tmp, value & 0xFFFF_FFFF_FFFF_FFFF)
        a.add_ext(8, rd, rn, tmp) if rn == SP else a.add_rr(8, rd, rn, tmp)

    def _imm(self, size, value) -> int:
        """An immediate operand that no instruction form takes, in ADDR; returns ADDR."""
        self._mov_imm(size, ADDR, value)
        return ADDR

    def _ldst(self, op, width, rt, base, off) -> None:
        """`op` ("ldr", "str", "ldrf", "strf") rt, [base + off]: the forms of `_addr`, inline
        (the hottest path of this file).  Writes ADDR only for a far offset."""
        if 0 <= off <= 4095 * width and off % width == 0:
            self.a.ls_unsigned(op, width, rt, base, off)
        elif -256 <= off <= 255:
            self.a.ls_unscaled(op, width, rt, base, off)
        else:
            self._add_const(ADDR, base, off)
            self.a.ls_unsigned(op, width, rt, ADDR, 0)

    def _ld(self, width, rt, base, off, fp=False, signed_size=0) -> None:
        if signed_size:
            rn, o, form = self._addr(base, off, width)
            if form == "u":
                self.a.ldrs_imm(width, signed_size, rt, rn, o)
            else:
                self.a.ldurs(width, signed_size, rt, rn, o)
        else:
            self._ldst("ldrf" if fp else "ldr", width, rt, base, off)

    def _st(self, width, rt, base, off, fp=False) -> None:
        self._ldst("strf" if fp else "str", width, rt, base, off)

    @_memo(template=_t.template((1, _t.reg), (3, _t.v_typed)))
    def _typed_ld(self, t, reg, base, off) -> None:
        if reg >= V0:
            self._ldst("ldrf", _fsize(t), reg - V0, base, off)
        else:
            self._ldst("ldr", _isize(t), reg, base, off)

    @_memo(template=_t.template((1, _t.reg), (3, _t.v_typed)))
    def _typed_st(self, t, reg, base, off) -> None:
        if reg >= V0:
            self._ldst("strf", _fsize(t), reg - V0, base, off)
        else:
            self._ldst("str", _isize(t), reg, base, off)

    def _mov_imm(self, size, rd, value) -> None:
        value &= (1 << (8 * size)) - 1
        if value == 0:
            self.a.mov_rr(size, rd, ZR)
        else:
            self.a.mov_imm(size, rd, value)

    # -- frame ---------------------------------------------------------------------------------
    def prologue(self, frame) -> int:
        patch = self.buf.offset() + 8  # the movz after stp and mov
        self._frame_setup()
        if frame.nlocals:
            self._zero_locals(tuple(frame.local(frame.nparams + j)
                                    for j in range(frame.nlocals)))
        return patch

    @_memo
    def _zero_locals(self, offsets) -> None:
        """str xzr to the frame slot of each local (offsets from fp)."""
        for off in offsets:
            self._store_imm(I64, FP, off, 0)

    @_memo
    def _frame_setup(self) -> None:
        """The prologue up to the locals, the same in every function (so memoized)."""
        a = self.a
        a.stp(8, FP, LR, SP, -16, index=_pre())
        a.mov_sp(8, FP, SP)
        a.movz(8, VAL, 0)  # frame size, patched by finish_frame (movz + movk)
        a.movk(8, VAL, 0, 16)
        a.sub_ext(8, SP, SP, VAL)
        a.ldr_imm(8, ADDR, VM, STACK_LIMIT)
        a.cmp_ext(8, SP, ADDR)
        self._trap_unless(Cond.HS, TrapKind.call_stack_exhausted)
        a.stur(8, VM, FP, -8)

    @_memo
    def fuel_check(self) -> None:
        """Trap out_of_fuel if the fuel is 0, else take one unit."""
        a = self.a
        a.ldr_imm(8, VAL, VM, FUEL)
        a.subs_imm(8, VAL, VAL, 1)
        a.str_imm(8, VAL, VM, FUEL)
        self._trap_unless(Cond.HS, TrapKind.out_of_fuel)  # no borrow: it was >= 1

    def finish_frame(self, patch: int, size: int) -> None:
        size = (size + 15) & ~15
        code = _FRAME_SIZE_CODE.get(size)
        if code is None:
            tmp = A64Assembler(CodeBuffer())
            tmp.movz(8, VAL, size & 0xFFFF)
            tmp.movk(8, VAL, (size >> 16) & 0xFFFF, 16)
            code = _FRAME_SIZE_CODE[size] = bytes(tmp.buf.data)
        self.buf.data[patch:patch + 8] = code

    @_memo
    def epilogue(self) -> None:
        a = self.a
        a.mov_sp(8, SP, FP)
        a.ldp(8, FP, LR, SP, 16, index=_post())
        a.ret()

    # -- moves -----------------------------------------------------------------------------------
    @_memo
    def mov_rr(self, size, dst, src) -> None:
        self.a.mov_rr(8, dst, src)

    @_memo
    def fmov_rr(self, dst, src) -> None:
        self.a.fmov_rr(8, dst - V0, src - V0)

    @_memo(template=_t.template((1, _t.reg), (2, _t.v_mov_ri)))
    def mov_ri(self, size, dst, imm) -> None:
        self._mov_imm(4 if size == 4 else 8, dst, imm)

    @_memo(template=_t.template((1, _t.reg), (2, _t.v_fconst_bits)))
    def fconst(self, t, dst, bits) -> None:
        # through a GPR, not a literal pool: ldr-literal reaches only +-1 MiB, and the pool
        # sits after all the code of the module
        size = _fsize(t)
        self.a.fmov_from_gpr(size, dst - V0, ZR if bits == 0 else self._imm(size, bits))

    @_memo(template=_t.template((3, _t.v_store_imm_bits), (2, _t.v_store_imm_off)))
    def _store_imm(self, t, base, off, bits) -> None:
        size = 4 if t in (I32, F32) else 8
        if bits == 0:
            self._st(size, ZR, base, off)
        else:
            self._mov_imm(size, VAL, bits)  # the value in VAL: the address may need ADDR
            self._st(size, VAL, base, off)

    @_memo(template=_t.template((4, _t.v_copy), (2, _t.v_copy)))
    def _copy(self, t, dbase, doff, sbase, soff) -> None:
        size = 4 if t in (I32, F32) else 8
        self._ld(size, VAL, sbase, soff)
        self._st(size, VAL, dbase, doff)

    @_memo
    def load_vmctx(self, size, dst, off) -> None:
        self._ld(size, dst, VM, off)

    # -- integer operators -----------------------------------------------------------------------
    def alu_imm_ok(self, op, size, bits) -> bool:
        return True  # anything not encodable goes through ADDR

    def cmp_imm_ok(self, size, bits) -> bool:
        return True

    _RR = {"add": "add_rr", "sub": "sub_rr", "and": "and_rr", "or": "orr_rr", "xor": "eor_rr",
           "mul": "mul"}

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def alu_rr(self, op, size, dst, src) -> None:
        getattr(self.a, self._RR[op])(size, dst, dst, src)

    @_memo(template=_t.template((2, _t.reg), (3, _t.v_alu_ri)))
    def alu_ri(self, op, size, dst, imm) -> None:
        a = self.a
        imm &= (1 << (8 * size)) - 1
        if op in ("add", "sub"):
            neg = (-imm) & ((1 << (8 * size)) - 1)
            if imm < 4096:
                (a.add_imm if op == "add" else a.sub_imm)(size, dst, dst, imm)
                return
            if neg < 4096:
                (a.sub_imm if op == "add" else a.add_imm)(size, dst, dst, neg)
                return
        elif op in ("and", "or", "xor") and encode_logical_imm(imm, size) is not None:
            {"and": a.and_imm, "or": a.orr_imm, "xor": a.eor_imm}[op](size, dst, dst, imm)
            return
        self.alu_rr(op, size, dst, self._imm(size, imm))

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def shift_rr(self, op, size, dst, count) -> None:
        a = self.a
        if op == "rotl":
            a.neg(size, VAL, count)
            a.rorv(size, dst, dst, VAL)
        else:
            {"shl": a.lslv, "shr_s": a.asrv, "shr_u": a.lsrv, "rotr": a.rorv}[op](
                size, dst, dst, count)

    @_memo(template=_t.template((2, _t.reg)))
    def shift_ri(self, op, size, dst, imm) -> None:
        a = self.a
        bits = 8 * size
        if imm == 0:
            return
        if op == "shl":
            a.lsl_imm(size, dst, dst, imm)
        elif op == "shr_s":
            a.asr_imm(size, dst, dst, imm)
        elif op == "shr_u":
            a.lsr_imm(size, dst, dst, imm)
        elif op == "rotr":
            a.ror_imm(size, dst, dst, imm)
        else:
            a.ror_imm(size, dst, dst, (bits - imm) % bits)

    def divrem_regs(self, op):
        return None

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg), (4, _t.reg)))
    def divrem(self, op, size, result, lhs, rhs) -> None:
        a = self.a
        ok = self.new_label()
        a.cbnz(size, rhs, ok)
        self._brk(TrapKind.integer_divide_by_zero)
        self.bind(ok)
        if op == "div_s":
            ok2 = self.new_label()
            a.cmn_imm(size, rhs, 1)
            a.b_cond(Cond.NE, ok2)
            a.cmp_rr(size, lhs, self._imm(size, 1 << (8 * size - 1)))
            a.b_cond(Cond.NE, ok2)
            self._brk(TrapKind.integer_overflow)
            self.bind(ok2)
            a.sdiv(size, result, lhs, rhs)
        elif op == "div_u":
            a.udiv(size, result, lhs, rhs)
        else:
            (a.sdiv if op == "rem_s" else a.udiv)(size, VAL, lhs, rhs)
            a.msub(size, result, VAL, rhs, lhs)

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def unop(self, op, size, dst, src) -> None:
        a = self.a
        if op == "clz":
            a.clz(size, dst, src)
        elif op == "ctz":
            a.rbit(size, VAL, src)
            a.clz(size, dst, VAL)
        elif op == "popcnt":
            a.fmov_from_gpr(size, VS, src)
            a.cnt_8b(VS, VS)
            a.addv_8b(VS, VS)
            a.fmov_to_gpr(4, dst, VS)
        elif op == "extend8_s":
            a.sxtb(size, dst, src)
        elif op == "extend16_s":
            a.sxth(size, dst, src)
        elif op == "extend32_s":
            a.sxtw(dst, src)
        else:
            raise NotImplementedError(op)

    def _cmp_imm(self, size, lhs, imm) -> None:
        a = self.a
        imm &= (1 << (8 * size)) - 1
        neg = (-imm) & ((1 << (8 * size)) - 1)
        if imm < 4096:
            a.cmp_imm(size, lhs, imm)
        elif neg < 4096:
            a.cmn_imm(size, lhs, neg)
        else:
            a.cmp_rr(size, lhs, self._imm(size, imm))

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg), (4, _t.reg)))
    def cmp_rr_set(self, cond, size, dst, lhs, rhs) -> None:
        self.a.cmp_rr(size, lhs, rhs)
        self.a.cset(4, dst, INT_COND[cond])

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg), (4, _t.v_cmp_ri)))
    def cmp_ri_set(self, cond, size, dst, lhs, imm) -> None:
        self._cmp_imm(size, lhs, imm)
        self.a.cset(4, dst, INT_COND[cond])

    @_memo(template=_t.template((1, _t.reg), (2, _t.reg), (3, _t.reg)))
    def select(self, t, a_reg, b_reg, cond) -> None:
        a = self.a
        a.cmp_imm(4, cond, 0)
        if a_reg >= V0:
            a.fcsel(_fsize(t), a_reg - V0, a_reg - V0, b_reg - V0, Cond.NE)
        else:
            a.csel(8, a_reg, a_reg, b_reg, Cond.NE)

    # -- float operators ---------------------------------------------------------------------------
    @_memo(template=_t.template((2, _t.reg), (3, _t.reg), (4, _t.reg)))
    def fcmp_set(self, cond, t, dst, lhs, rhs) -> None:
        self.a.fcmp(_fsize(t), lhs - V0, rhs - V0)
        self.a.cset(4, dst, F_COND[cond])

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def fbin(self, op, t, dst, src) -> None:
        a = self.a
        size = _fsize(t)
        x, y = dst - V0, src - V0
        if op in ("add", "sub", "mul", "div", "min", "max"):
            getattr(a, "f" + op)(size, x, x, y)
        elif op == "copysign":
            sign = 1 << (8 * size - 1)
            # two values, no helper call in between: ADDR may serve as a plain temporary
            a.fmov_to_gpr(size, VAL, x)
            a.fmov_to_gpr(size, ADDR, y)
            a.and_imm(size, VAL, VAL, sign - 1)
            a.and_imm(size, ADDR, ADDR, sign)
            a.orr_rr(size, VAL, VAL, ADDR)
            a.fmov_from_gpr(size, x, VAL)
        else:
            raise NotImplementedError(op)

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def fun(self, op, t, dst, src) -> None:
        a = self.a
        size = _fsize(t)
        x, y = dst - V0, src - V0
        if op in ("abs", "neg", "sqrt"):
            getattr(a, "f" + op)(size, x, y)
        elif op in ROUND:
            getattr(a, ROUND[op])(size, x, y)
        else:
            raise NotImplementedError(op)

    # -- conversions -----------------------------------------------------------------------------
    @_memo(template=_t.template((1, _t.reg), (2, _t.reg)))
    def convert(self, name, dst, src) -> None:
        a = self.a
        rest = name.split(".", 1)[1]
        if name in ("i32.wrap_i64", "i64.extend_i32_u"):
            a.mov_rr(4, dst, src)
        elif name == "i64.extend_i32_s":
            a.sxtw(dst, src)
        elif name == "f32.demote_f64":
            a.fcvt(4, 8, dst - V0, src - V0)
        elif name == "f64.promote_f32":
            a.fcvt(8, 4, dst - V0, src - V0)
        elif rest.startswith("reinterpret"):
            size = 8 if name[1:3] == "64" else 4
            if dst >= V0:
                a.fmov_from_gpr(size, dst - V0, src)
            else:
                a.fmov_to_gpr(size, dst, src - V0)
        elif rest.startswith("convert"):
            fsize = 4 if name.startswith("f32") else 8
            isize = 8 if "i64" in name else 4
            (a.scvtf if name.endswith("_s") else a.ucvtf)(fsize, isize, dst - V0, src)
        elif rest.startswith("trunc"):
            isize = 8 if name.startswith("i64") else 4
            fsize = 4 if "f32" in name else 8
            signed = name.endswith("_s")
            x = src - V0
            if not rest.startswith("trunc_sat"):
                self._trunc_checks(isize, fsize, signed, x)
            (a.fcvtzs if signed else a.fcvtzu)(isize, fsize, dst, x)
        else:
            raise NotImplementedError(name)

    def _fcmp_const(self, fsize, x, value: float) -> None:
        self.fconst(F32 if fsize == 4 else F64, V0 + VS, _fbits(fsize, value))
        self.a.fcmp(fsize, x, VS)

    def _trunc_checks(self, isize, fsize, signed, x) -> None:
        """Trap on NaN (invalid conversion) and on values whose truncation does not fit."""
        a = self.a
        a.fcmp(fsize, x, x)
        self._trap_unless(Cond.VC, TrapKind.invalid_conversion_to_integer)
        lo, inclusive, hi = trunc_bounds(isize, fsize, signed)
        self._fcmp_const(fsize, x, lo)
        self._trap_unless(Cond.GE if inclusive else Cond.GT, TrapKind.integer_overflow)
        self._fcmp_const(fsize, x, hi)
        self._trap_unless(Cond.LT, TrapKind.integer_overflow)

    # -- control flow ----------------------------------------------------------------------------
    # branches to labels: the assembler's words (`_B`, `_CBZ`, ...), appended here directly
    def jump(self, label) -> None:
        buf = self.buf
        buf.use_label(label, _B[1])
        buf.data += _B[0]

    def branch_zero(self, size, reg, label) -> None:
        code, use = _CBZ[size, reg]
        buf = self.buf
        buf.use_label(label, use)
        buf.data += code

    def branch_nonzero(self, size, reg, label) -> None:
        code, use = _CBNZ[size, reg]
        buf = self.buf
        buf.use_label(label, use)
        buf.data += code

    def br_table(self, index, labels, default) -> None:
        a = self.a
        n = len(labels)
        if n == 0:
            a.b(default)
            return
        self._cmp_imm(4, index, n)
        a.b_cond(Cond.HS, default)
        table = self.new_label()
        a.adr(VAL, table)
        a.ldrs_reg(4, 8, ADDR, VAL, index, Extend.UXTW, True)  # no helper call until read
        a.add_rr(8, VAL, VAL, ADDR)
        a.br(VAL)
        self.bind(table)
        emit_jump_table(self.buf, labels)

    # -- globals, memory -------------------------------------------------------------------------
    @_memo
    def global_get(self, t, dst, ptr_off) -> None:
        self._ld(8, VAL, VM, ptr_off)  # the global's cell
        self._typed_ld(t, dst, VAL, 0)

    @_memo
    def global_set(self, t, ptr_off, src) -> None:
        self._ld(8, VAL, VM, ptr_off)
        self._typed_st(t, src, VAL, 0)

    @_memo
    def memory_size(self, dst) -> None:
        self._ld(8, dst, VM, MEM0_SIZE)
        self.a.lsr_imm(8, dst, dst, 16)

    def _bounds(self, addr, offset, size) -> None:
        """Trap unless addr + offset + size <= memory size; leaves base + offset in VAL."""
        a = self.a
        self._add_const(VAL, addr, offset + size)
        self._ld(8, ADDR, VM, MEM0_SIZE)  # read by the next instruction
        a.cmp_rr(8, VAL, ADDR)
        self._trap_unless(Cond.LS, TrapKind.memory_out_of_bounds)
        self._ld(8, VAL, VM, MEM0_BASE)
        if offset:
            self._add_const(VAL, VAL, offset)

    @_memo(template=_t.template((2, _t.reg), (3, _t.access({k: v[1] for k, v in LOADS.items()})),
                                (1, _t.reg)))
    def wasm_load(self, name, dst, addr, offset) -> None:
        self._bounds(addr, offset, LOADS[name][1])
        self._load_at_val(name, dst, addr)

    def _load_at_val(self, name, dst, addr) -> None:
        """The load `name` from [VAL + addr] (VAL: base + offset, left by a bounds check)."""
        kind, width, size = LOADS[name]
        a = self.a
        if kind == "f":
            a.ldr_fp_reg(width, dst - V0, VAL, addr)
        elif kind == "s":
            a.ldrs_reg(width, size, dst, VAL, addr)
        else:
            a.ldr_reg(width, dst, VAL, addr)

    @_memo(template=_t.template((1, _t.reg), (2, _t.access({k: v[1] for k, v in STORES.items()})),
                                (3, _t.reg)))
    def wasm_store(self, name, addr, offset, val) -> None:
        self._bounds(addr, offset, STORES[name][1])
        self._store_at_val(name, addr, val)

    def _store_at_val(self, name, addr, val) -> None:
        """The store `name` of val to [VAL + addr] (VAL as for `_load_at_val`)."""
        kind, width = STORES[name]
        if kind == "f":
            self.a.str_fp_reg(width, val - V0, VAL, addr)
        else:
            self.a.str_reg(width, val, VAL, addr)

    # -- any memory: an index > 0 or a 64-bit index (issue 20) ------------------------------------
    # Rarer than memory 0 of 32-bit type, so recorded (`_memo`) but not templated.  The
    # memory's base is the u64 at [vmctx + base_off], its size in bytes the u64 at
    # [vmctx + size_off] (winch/vmctx.py `mem_base`/`mem_size`; far offsets go through ADDR).
    @_memo
    def memory_size_at(self, dst, size_off, page_log2) -> None:
        self._ld(8, dst, VM, size_off)
        if page_log2:
            self.a.lsr_imm(8, dst, dst, page_log2)

    def _bounds_at(self, addr, offset, width, base_off, size_off, is64) -> bool:
        """`_bounds` for any memory: trap unless addr + offset + width <= [vmctx + size_off]
        and leave base + offset in VAL; False (after an unconditional trap) if no access can
        be in bounds.  A 32-bit address and offset sum to less than 2^34: a plain add.  A
        64-bit one is added with ADDS and a carry out of 64 bits traps (never wraps); an
        offset + width of 2^64 or more is out of bounds whatever the address."""
        a = self.a
        end = offset + width
        if is64:
            if end >> 64:
                self._brk(TrapKind.memory_out_of_bounds)
                return False
            if end <= 0xFFF:
                a.adds_imm(8, VAL, addr, end)
            else:
                self._mov_imm(8, VAL, end)
                a.adds_rr(8, VAL, addr, VAL)
            self._trap_unless(Cond.LO, TrapKind.memory_out_of_bounds)  # carry clear
        else:
            self._add_const(VAL, addr, end)
        self._ld(8, ADDR, VM, size_off)  # read by the next instruction
        a.cmp_rr(8, VAL, ADDR)
        self._trap_unless(Cond.LS, TrapKind.memory_out_of_bounds)
        self._ld(8, VAL, VM, base_off)
        if offset:
            self._add_const(VAL, VAL, offset)  # any u64: through ADDR when far
        return True

    @_memo
    def wasm_load_at(self, name, dst, addr, offset, base_off, size_off, is64) -> None:
        if self._bounds_at(addr, offset, LOADS[name][1], base_off, size_off, is64):
            self._load_at_val(name, dst, addr)

    @_memo
    def wasm_store_at(self, name, addr, offset, val, base_off, size_off, is64) -> None:
        if self._bounds_at(addr, offset, STORES[name][1], base_off, size_off, is64):
            self._store_at_val(name, addr, val)

    # -- calls -----------------------------------------------------------------------------------
    def call_func(self, func_index) -> None:
        buf = self.buf
        buf.use_label(self.env.func_labels[func_index], _BL[1])
        buf.data += _BL[0]

    @_memo
    def call_import(self, code_off, vmctx_off, vmctx_slot) -> None:
        self._ld(8, VAL, VM, code_off)  # the callee's address: kept across a helper call
        self._ld(8, VM, VM, vmctx_off)
        self.a.blr(VAL)
        self._ld(8, VM, FP, vmctx_slot)

    @_memo
    def call_indirect(self, index, base_off, len_off, sig_off, vmctx_slot) -> None:
        a = self.a
        self._ld(4, VAL, VM, len_off)
        a.cmp_rr(4, index, VAL)
        self._trap_unless(Cond.LO, TrapKind.table_out_of_bounds)
        self._ld(8, VAL, VM, base_off)
        a.ldr_reg(8, VAL, VAL, index, Extend.UXTW, True)  # the funcref record, in VAL from here
        self._call_record(index, sig_off, vmctx_slot)

    @_memo
    def call_indirect64(self, index, base_off, len_off, sig_off, vmctx_slot) -> None:
        """`call_indirect` through a table64: `index` is a full i64, compared unsigned with
        the u64 length (an index of 2^32 or more traps, it does not wrap)."""
        a = self.a
        self._ld(8, VAL, VM, len_off)
        a.cmp_rr(8, index, VAL)
        self._trap_unless(Cond.LO, TrapKind.table_out_of_bounds)
        self._ld(8, VAL, VM, base_off)
        a.ldr_reg(8, VAL, VAL, index, Extend.LSL, True)  # the funcref record, in VAL from here
        self._call_record(index, sig_off, vmctx_slot)

    def _call_record(self, tmp, sig_off, vmctx_slot) -> None:
        """The rest of `call_indirect`: null and signature checks of the funcref record in
        VAL (`tmp` is a register free to clobber), then the call."""
        a = self.a
        ok = self.new_label()
        a.cbnz(8, VAL, ok)
        self._brk(TrapKind.indirect_call_null)
        self.bind(ok)
        self._ld(8, tmp, VAL, 8)
        self._ld(8, ADDR, VM, sig_off)  # read by the next instruction
        a.cmp_rr(8, tmp, ADDR)
        self._trap_unless(Cond.EQ, TrapKind.indirect_call_type_mismatch)
        self._ld(8, VM, VAL, 16)
        self._ld(8, VAL, VAL, 0)
        a.blr(VAL)
        self._ld(8, VM, FP, vmctx_slot)

    @_memo
    def call_builtin(self, off) -> None:
        self._ld(8, VAL, VM, off)
        self.a.blr(VAL)

    # -- NaN canonicalization (compile option, winch/codegen/nan_canon.py) ------------------------
    @_memo
    def canonicalize_nan(self, t, reg) -> None:
        """If `reg` (holding a `t`) is a NaN, make it the canonical NaN (0x7FC00000 /
        0x7FF8000000000000), else leave it: the constant into the FP scratch (through ADDR),
        `fcmp x, x` (V set only when unordered), `fcsel x, scratch, x, vs`."""
        a = self.a
        size = _fsize(t)
        x = reg - V0
        a.fmov_from_gpr(size, VS, self._imm(size, 0x7FC0_0000 if size == 4 else 0x7FF8 << 48))
        a.fcmp(size, x, x)
        a.fcsel(size, x, VS, x, Cond.VS)

    # -- fuel and epoch interruption (compile options, winch/codegen/fuel.py) ---------------------
    # The fields are below the VM context (winch/vmctx.py: FUEL_VAR, LIMITS_PTR, EPOCH_PTR,
    # EPOCH_DEADLINE), reached with ldur/stur.  Only VAL and ADDR are written; not memoized.
    def fuel_add(self, k: int) -> None:
        """The instance's fuel variable += k (k >= 0)."""
        from winch.vmctx import FUEL_VAR

        a = self.a
        a.ldur(8, VAL, VM, FUEL_VAR)
        if k < 4096:
            a.add_imm(8, VAL, VAL, k)
        else:
            a.mov_imm(8, ADDR, k)
            a.add_rr(8, VAL, VAL, ADDR)
        a.stur(8, VAL, VM, FUEL_VAR)

    def fuel_add_reg(self, reg: int, size: int) -> None:
        """The fuel variable += `reg` zero-extended from `size` (4 or 8) bytes."""
        from winch.vmctx import FUEL_VAR

        a = self.a
        a.ldur(8, VAL, VM, FUEL_VAR)
        a.add_ext(8, VAL, VAL, reg, Extend.UXTW if size == 4 else Extend.UXTX)
        a.stur(8, VAL, VM, FUEL_VAR)

    def fuel_add_if_grown(self, result: int, delta: int, size: int, check: bool) -> None:
        """Unless `result` (a grow's answer, `size` bytes) is -1: fuel variable += delta,
        then (`check`) `fuel_check_store`."""
        a = self.a
        a.cmn_imm(size, result, 1)
        # over fuel_add_reg (3 instructions) and fuel_check_store (4)
        a.b_cond_rel(Cond.EQ, 4 + 12 + (16 if check else 0))
        start = self.buf.offset()
        self.fuel_add_reg(delta, size)
        if check:
            self.fuel_check_store()
        assert self.buf.offset() - start == 12 + (16 if check else 0)

    def fuel_check_store(self) -> None:
        """Trap `fuel` unless the fuel variable is negative (fuel left)."""
        from winch.vmctx import FUEL_VAR

        a = self.a
        a.ldur(8, VAL, VM, FUEL_VAR)
        a.cmp_imm(8, VAL, 0)
        self._trap_unless(Cond.LT, TrapKind.fuel)

    def fuel_save(self) -> None:
        """The store's fuel consumed := the fuel variable."""
        from winch.vmctx import FUEL_VAR, LIMITS_FUEL, LIMITS_PTR

        a = self.a
        a.ldur(8, ADDR, VM, LIMITS_PTR)
        a.ldur(8, VAL, VM, FUEL_VAR)
        a.str_imm(8, VAL, ADDR, LIMITS_FUEL)

    def fuel_load(self) -> None:
        """The fuel variable := the store's fuel consumed."""
        from winch.vmctx import FUEL_VAR, LIMITS_FUEL, LIMITS_PTR

        a = self.a
        a.ldur(8, ADDR, VM, LIMITS_PTR)
        a.ldr_imm(8, VAL, ADDR, LIMITS_FUEL)
        a.stur(8, VAL, VM, FUEL_VAR)

    def epoch_check(self) -> None:
        """Trap `interrupt` unless the engine's epoch is below the store's deadline."""
        from winch.vmctx import EPOCH_DEADLINE, EPOCH_PTR

        a = self.a
        a.ldur(8, VAL, VM, EPOCH_PTR)
        a.ldr_imm(8, VAL, VAL, 0)
        a.ldur(8, ADDR, VM, EPOCH_DEADLINE)
        a.cmp_rr(8, VAL, ADDR)
        self._trap_unless(Cond.LO, TrapKind.interrupt)


def _pre():
    from winch.isa.aarch64.asm import Index

    return Index.PRE


def _post():
    from winch.isa.aarch64.asm import Index

    return Index.POST
