"""The x64 MacroAssembler: Wasm-level operations lowered to x64 instruction sequences.

Registers (codegen numbering: GPRs 0..15 as in the assembler, XMM n as 16 + n):
    rsp, rbp     stack and frame pointer
    r14          pinned: the VM context (restored from [rbp-8] after calls that change it)
    r11, xmm15   scratch (SCRATCH, SCRATCH_X), private to this file (never allocated)
    r15          unused (reserved for a pinned memory base)
    everything else is allocatable and caller-saved.
Traps are `ud2` reached by a short conditional jump over it, recorded in the trap table.

Scratch registers.  Unlike aarch64 and s390x (see their masm docstrings), x64 needs no register
to build an address or an immediate operand: every frame slot, outgoing-argument slot and
VM-context field is [base + disp32] (frames and the VM context stay far below 2 GiB), a wide
constant is a `mov r64, imm64` into its destination or a RIP-relative pool entry, and a memory
offset >= 2**31 is added into the caller-owned address register (32-bit memories) or folded
into the end address the bounds check computes in r11 (64-bit memories: `mov r11, offset +
width; add r11, addr` sets the carry a wrap past 2**64 needs, then r11 += base, and the access
is [r11 - width], so addr is left unchanged).  So one scratch per class:

    SCRATCH   = r11    carries a value between the instructions of one masm operation (a
                       slot being copied, a constant too wide for a store-immediate, a global's
                       cell, the memory base or a 64-bit access's end address, a jump-table
                       base).
    SCRATCH_X = xmm15  the same for float values (sign masks, an adjusted truncation input).

    Invariant: no helper of this file writes SCRATCH or SCRATCH_X; an operation that loads a
    value into one reads it back before it writes that register again (tests/test_big_frames.py
    scans emitted x64 and aarch64 code for a scratch value overwritten before it was read).
"""

from __future__ import annotations

import struct

from winch.isa.x64.asm import (R11, R14, RAX, RBP, RCX, RDI, RDX, REL32, RSP, Amode, Cond,
                               LabelAmode, X64Assembler)
from winch.masm.base import MacroAssembler
from winch.isa.field_templates import seal
from winch.isa.x64 import templates
from winch.isa.x64.templates import (access_template, class_alu_ri, class_cmp_ri_set,
                                     class_mov_ri, class_store_imm, imm_template, memo)
from winch.masm.buffer import emit_jump_table, memo_cache
from winch.masm.wasm_semantics import trunc_bounds
from winch.traps import TrapKind
from winch.vmctx import FUEL, MEM0_BASE, MEM0_SIZE, STACK_LIMIT
from winch.wasm.types import F32, I32

XMM0 = 16
SCRATCH = R11  # the scratch registers and their use: see the module docstring
SCRATCH_X = 15  # xmm15, in assembler numbering

INT_COND = {"eq": Cond.E, "ne": Cond.NE, "lt_s": Cond.L, "lt_u": Cond.B, "gt_s": Cond.G,
            "gt_u": Cond.A, "le_s": Cond.LE, "le_u": Cond.BE, "ge_s": Cond.GE, "ge_u": Cond.AE}
ROUND_MODE = {"nearest": 8, "floor": 9, "ceil": 10, "trunc": 11}
LOAD_KINDS = {
    # name: (kind, size)  kind: i=plain int load, zx/sx = extend from size, f = float
    "i32.load": ("i", 4), "i64.load": ("i", 8), "f32.load": ("f", 4), "f64.load": ("f", 8),
    "i32.load8_s": ("sx4", 1), "i32.load8_u": ("zx", 1), "i32.load16_s": ("sx4", 2),
    "i32.load16_u": ("zx", 2), "i64.load8_s": ("sx8", 1), "i64.load8_u": ("zx", 1),
    "i64.load16_s": ("sx8", 2), "i64.load16_u": ("zx", 2), "i64.load32_s": ("sx8", 4),
    "i64.load32_u": ("i", 4),
}
STORE_KINDS = {
    "i32.store": ("i", 4), "i64.store": ("i", 8), "f32.store": ("f", 4), "f64.store": ("f", 8),
    "i32.store8": ("i", 1), "i32.store16": ("i", 2), "i64.store8": ("i", 1),
    "i64.store16": ("i", 2), "i64.store32": ("i", 4),
}


# frame-slot loads and stores are most of the code: their bytes, memoized per operands.
# Most other operations are `@memo`: recorded once per operands (or per template), see
# templates.py.
_SLOT_CODE: dict = memo_cache()
_PROLOGUES: dict = memo_cache()  # number of declared locals -> (recording, patch offset)
_BRANCHES: dict = memo_cache()  # jumps, calls, test-and-branch: see X64Masm._to_label


def clear_caches() -> None:
    """Forget every memoized sequence of this file (the assembler keeps its own)."""
    _SLOT_CODE.clear()
    _PROLOGUES.clear()
    _BRANCHES.clear()
    templates.clear()


def _fsize(t) -> int:
    return 4 if t == F32 else 8


@seal  # no template is made while a method is patched (a planted bug): see templates.py
class X64Masm(MacroAssembler):
    FP, SP = RBP, RSP
    GPRS = (3, 6, 7, 8, 9, 10, 12, 13, 0, 1, 2)  # rbx rsi rdi r8 r9 r10 r12 r13 rax rcx rdx
    FPRS = tuple(XMM0 + i for i in range(15))
    FPR_SET = frozenset(FPRS)
    RET_GPR = RAX
    RET_FPR = XMM0
    SHIFT_COUNT_REG = RCX

    def __init__(self, buf, env):
        super().__init__(buf, env)
        self.a = X64Assembler(buf)

    def _trap_here(self, kind: TrapKind) -> None:
        self.buf.add_trap(kind, self.buf.offset())
        self.a.ud2()

    @memo
    def trap(self, kind: TrapKind) -> None:
        self._trap_here(kind)

    def _trap_unless(self, cond: Cond, kind: TrapKind) -> None:
        """Trap when `cond` is false: `j<cond> +2; ud2`."""
        self.a.jcc_short(cond, 2)
        self._trap_here(kind)

    def _const(self, size: int, bits: int) -> LabelAmode:
        raw = bits.to_bytes(size, "little")
        return LabelAmode(self.buf.constant(raw, size))

    # -- frame ---------------------------------------------------------------------------------
    def prologue(self, frame) -> int:
        """The prologue; returns where finish_frame patches the frame size.  Its code depends
        on the number of declared locals only: recorded once per number (`_PROLOGUES`)."""
        buf = self.buf
        start = len(buf.data)
        hit = _PROLOGUES.get(frame.nlocals)
        if hit is not None:
            buf.put_recorded(hit[0])
            return start + hit[1]
        mark = buf.mark()
        patch = self._prologue(frame)
        rec = buf.recorded(mark)
        if rec is not None:
            _PROLOGUES[frame.nlocals] = (rec, patch - start)
        return patch

    def _prologue(self, frame) -> int:
        a = self.a
        a.push(RBP)
        a.mov_rr(8, RBP, RSP)
        self.buf.put(b"\x48\x81\xec\0\0\0\0")  # sub rsp, imm32 (patched by finish_frame)
        patch = self.buf.offset() - 4
        a.alu_rm("cmp", 8, RSP, Amode(R14, disp=STACK_LIMIT))
        self._trap_unless(Cond.AE, TrapKind.call_stack_exhausted)
        a.store(8, Amode(RBP, disp=-8), R14)
        n = frame.nlocals
        if n:
            if n <= 6:
                a.xor_zero(SCRATCH)
                for j in range(n):
                    a.store(8, Amode(RBP, disp=frame.local(frame.nparams + j)), SCRATCH)
            else:
                a.lea(RDI, Amode(RBP, disp=frame.local(frame.nparams + n - 1)))
                a.mov_ri(4, RCX, n)
                a.xor_zero(RAX)
                a.rep_stosq()
        return patch

    @memo
    def fuel_check(self) -> None:
        """Trap out_of_fuel if the fuel is 0, else take one unit."""
        self.a.alu_ri("sub", 8, Amode(R14, None, 1, FUEL), 1)
        self._trap_unless(Cond.AE, TrapKind.out_of_fuel)  # a borrow: it was 0

    def finish_frame(self, patch: int, size: int) -> None:
        struct.pack_into("<i", self.buf.data, patch, size)

    @memo
    def epilogue(self) -> None:
        self.a.leave()
        self.a.ret()

    # -- moves -----------------------------------------------------------------------------------
    @memo
    def mov_rr(self, size, dst, src) -> None:
        self.a.mov_rr(8 if size == 8 else 4, dst, src)

    @memo
    def fmov_rr(self, dst, src) -> None:
        self.a.movaps(dst - XMM0, src - XMM0)

    @memo(template=imm_template(class_mov_ri))
    def mov_ri(self, size, dst, imm) -> None:
        if imm == 0:
            self.a.xor_zero(dst)
        else:
            self.a.mov_ri(size, dst, imm)

    @memo
    def fconst(self, t, dst, bits) -> None:
        x = dst - XMM0
        if bits == 0:
            self.a.sse_logic("xor", 4, x, x)
        else:
            size = _fsize(t)
            self.a.movs_load(size, x, self._const(size, bits))

    def _slot_load(self, t, reg, m) -> None:
        if reg >= XMM0:
            self.a.movs_load(_fsize(t), reg - XMM0, m)
        else:
            self.a.load(4 if t == I32 else 8, reg, m)

    def _slot_store(self, t, m, reg) -> None:
        if reg >= XMM0:
            self.a.movs_store(_fsize(t), m, reg - XMM0)
        else:
            self.a.store(4 if t == I32 else 8, m, reg)

    @memo
    def _typed_ld(self, t, reg, base, off) -> None:
        self._slot_load(t, reg, Amode(base, None, 1, off))

    @memo
    def _typed_st(self, t, reg, base, off) -> None:
        self._slot_store(t, Amode(base, None, 1, off), reg)

    @memo(template=imm_template(class_store_imm))
    def _store_imm(self, t, base, off, bits) -> None:
        m = Amode(base, None, 1, off)
        size = 4 if t in (I32, F32) else 8
        v = bits - (1 << 64) if size == 8 and bits >> 63 else bits
        if size == 4 or -(1 << 31) <= v < (1 << 31):
            self.a.store_imm(size, m, bits)
        else:
            self.a.mov_ri(8, SCRATCH, bits)
            self.a.store(8, m, SCRATCH)

    @memo
    def _copy(self, t, dbase, doff, sbase, soff) -> None:
        size = 4 if t in (I32, F32) else 8
        self.a.load(size, SCRATCH, Amode(sbase, None, 1, soff))
        self.a.store(size, Amode(dbase, None, 1, doff), SCRATCH)

    def load_slot(self, t, reg, off) -> None:
        key = (0, t, reg, off)
        code = _SLOT_CODE.get(key)
        if code is None:
            start = len(self.buf.data)
            self._slot_load(t, reg, Amode(RBP, None, 1, off))
            if len(_SLOT_CODE) >= templates.LIMIT:  # big frames: many offsets
                _SLOT_CODE.clear()
            code = _SLOT_CODE[key] = bytes(self.buf.data[start:])
        else:
            self.buf.data += code

    def store_slot(self, t, off, reg) -> None:
        key = (1, t, reg, off)
        code = _SLOT_CODE.get(key)
        if code is None:
            start = len(self.buf.data)
            self._slot_store(t, Amode(RBP, None, 1, off), reg)
            if len(_SLOT_CODE) >= templates.LIMIT:  # big frames: many offsets
                _SLOT_CODE.clear()
            code = _SLOT_CODE[key] = bytes(self.buf.data[start:])
        else:
            self.buf.data += code

    # The frame and outgoing-area forms of MacroAssembler (masm/base.py), one call less: the
    # bytes of `_copy` / `_store_imm` / `_typed_st` for these operands, kept in _SLOT_CODE.
    def _keep(self, key, fn, *args) -> None:
        """Emit `fn(*args)`; keep its bytes under `key` if it made plain bytes."""
        buf = self.buf
        mark = buf.mark()
        fn(*args)
        rec = buf.recorded(mark)
        if rec is not None and rec[1] is None:
            if len(_SLOT_CODE) >= templates.LIMIT:
                _SLOT_CODE.clear()
            _SLOT_CODE[key] = rec[0]

    def copy_slot(self, t, dst_off, src_off) -> None:
        code = _SLOT_CODE.get((2, t, dst_off, src_off))
        if code is None:
            self._keep((2, t, dst_off, src_off), self._copy, t, RBP, dst_off, RBP, src_off)
        else:
            self.buf.data += code

    def copy_to_out(self, t, k, src_off) -> None:
        code = _SLOT_CODE.get((3, t, k, src_off))
        if code is None:
            self._keep((3, t, k, src_off), self._copy, t, RSP, 8 * k, RBP, src_off)
        else:
            self.buf.data += code

    def store_slot_imm(self, t, off, bits) -> None:
        code = _SLOT_CODE.get((4, t, off, bits))
        if code is None:
            self._keep((4, t, off, bits), self._store_imm, t, RBP, off, bits)
        else:
            self.buf.data += code

    def store_out_imm(self, t, k, bits) -> None:
        code = _SLOT_CODE.get((5, t, k, bits))
        if code is None:
            self._keep((5, t, k, bits), self._store_imm, t, RSP, 8 * k, bits)
        else:
            self.buf.data += code

    def store_out(self, t, k, reg) -> None:
        code = _SLOT_CODE.get((6, t, k, reg))
        if code is None:
            self._keep((6, t, k, reg), self._typed_st, t, reg, RSP, 8 * k)
        else:
            self.buf.data += code

    @memo
    def load_vmctx(self, size, dst, off) -> None:
        self.a.load(size, dst, Amode(R14, disp=off))

    # -- integer operators -----------------------------------------------------------------------
    def alu_imm_ok(self, op, size, bits) -> bool:
        v = bits - (1 << 64) if size == 8 and bits >> 63 else bits
        return size == 4 or -(1 << 31) <= v < (1 << 31)

    cmp_imm_ok = lambda self, size, bits: self.alu_imm_ok("cmp", size, bits)  # noqa: E731

    @memo
    def alu_rr(self, op, size, dst, src) -> None:
        if op == "mul":
            self.a.imul_rr(size, dst, src)
        else:
            self.a.alu_rr(op, size, dst, src)

    @memo(template=imm_template(class_alu_ri))
    def alu_ri(self, op, size, dst, imm) -> None:
        if op == "mul":
            self.a.imul_rri(size, dst, dst, imm)
        else:
            self.a.alu_ri(op, size, dst, imm)

    _SHIFTS = {"shl": "shl", "shr_s": "sar", "shr_u": "shr", "rotl": "rol", "rotr": "ror"}

    @memo
    def shift_rr(self, op, size, dst, count) -> None:
        assert count == RCX
        self.a.shift_cl(self._SHIFTS[op], size, dst)

    @memo
    def shift_ri(self, op, size, dst, imm) -> None:
        if imm:
            self.a.shift_ri(self._SHIFTS[op], size, dst, imm)

    def divrem_regs(self, op):
        return (RAX, RDX if op.startswith("rem") else RAX, (RAX, RDX))

    @memo
    def divrem(self, op, size, result, lhs, rhs) -> None:
        a = self.a
        a.test_rr(size, rhs, rhs)
        self._trap_unless(Cond.NE, TrapKind.integer_divide_by_zero)
        if op == "div_s":
            a.alu_ri("cmp", size, rhs, (1 << (8 * size)) - 1)  # -1
            a.jcc_short(Cond.NE, 0)
            at = self.buf.offset()
            if size == 4:
                a.alu_ri("cmp", 4, RAX, 0x8000_0000)
            else:
                a.mov_ri(8, SCRATCH, 1 << 63)
                a.alu_rr("cmp", 8, RAX, SCRATCH)
            self._trap_unless(Cond.NE, TrapKind.integer_overflow)
            self.buf.data[at - 1] = self.buf.offset() - at
            a.cdq(size)
            a.group3("idiv", size, rhs)
        elif op == "rem_s":
            done = self.new_label()
            a.alu_ri("cmp", size, rhs, (1 << (8 * size)) - 1)
            a.jcc_short(Cond.NE, 0)
            at = self.buf.offset()
            a.xor_zero(RDX)
            a.jmp_label(done)
            self.buf.data[at - 1] = self.buf.offset() - at
            a.cdq(size)
            a.group3("idiv", size, rhs)
            self.bind(done)
        else:
            a.xor_zero(RDX)
            a.group3("div", size, rhs)

    @memo
    def unop(self, op, size, dst, src) -> None:
        a = self.a
        if op in ("clz", "ctz", "popcnt"):
            a.bitcount({"clz": "lzcnt", "ctz": "tzcnt", "popcnt": "popcnt"}[op], size, dst, src)
        elif op == "extend8_s":
            a.movsx(1, size, dst, src)
        elif op == "extend16_s":
            a.movsx(2, size, dst, src)
        elif op == "extend32_s":
            a.movsx(4, 8, dst, src)
        else:
            raise NotImplementedError(op)

    def _setcc(self, cond, dst) -> None:
        self.a.setcc(cond, dst)
        self.a.movzx(1, dst, dst)

    @memo
    def cmp_rr_set(self, cond, size, dst, lhs, rhs) -> None:
        self.a.alu_rr("cmp", size, lhs, rhs)
        self._setcc(INT_COND[cond], dst)

    @memo(template=imm_template(class_cmp_ri_set))
    def cmp_ri_set(self, cond, size, dst, lhs, imm) -> None:
        if imm == 0 and cond in ("eq", "ne"):
            self.a.test_rr(size, lhs, lhs)
        else:
            self.a.alu_ri("cmp", size, lhs, imm)
        self._setcc(INT_COND[cond], dst)

    @memo
    def select(self, t, a_reg, b_reg, cond) -> None:
        a = self.a
        a.test_rr(4, cond, cond)
        if a_reg >= XMM0:
            a.jcc_short(Cond.NE, 0)
            at = self.buf.offset()
            a.movaps(a_reg - XMM0, b_reg - XMM0)
            self.buf.data[at - 1] = self.buf.offset() - at
        else:
            a.cmov(Cond.E, 8, a_reg, b_reg)

    # -- float operators ---------------------------------------------------------------------------
    @memo
    def fcmp_set(self, cond, t, dst, lhs, rhs) -> None:
        a = self.a
        size = _fsize(t)
        x, y = lhs - XMM0, rhs - XMM0
        if cond in ("eq", "ne"):
            a.ucomis(size, x, y)
            if cond == "eq":
                a.setcc(Cond.E, dst)
                a.setcc(Cond.NP, SCRATCH)
                a.alu_rr("and", 4, dst, SCRATCH)
            else:
                a.setcc(Cond.NE, dst)
                a.setcc(Cond.P, SCRATCH)
                a.alu_rr("or", 4, dst, SCRATCH)
            a.movzx(1, dst, dst)
            return
        if cond in ("lt", "le"):
            a.ucomis(size, y, x)
        else:
            a.ucomis(size, x, y)
        self._setcc(Cond.A if cond in ("lt", "gt") else Cond.AE, dst)

    @memo
    def fbin(self, op, t, dst, src) -> None:
        a = self.a
        size = _fsize(t)
        x, y = dst - XMM0, src - XMM0
        if op in ("add", "sub", "mul", "div"):
            a.sse_arith(op, size, x, y)
        elif op in ("min", "max"):
            nan, normal, done = self.new_label(), self.new_label(), self.new_label()
            a.ucomis(size, x, y)
            a.jcc_label(Cond.P, nan)
            a.jcc_label(Cond.NE, normal)
            a.sse_logic("or" if op == "min" else "and", size, x, y)
            a.jmp_label(done)
            self.bind(nan)
            a.sse_arith("add", size, x, y)
            a.jmp_label(done)
            self.bind(normal)
            a.sse_arith(op, size, x, y)
            self.bind(done)
        elif op == "copysign":
            sign = 1 << (8 * size - 1)
            a.movs_load(size, SCRATCH_X, self._const(size, sign))
            a.sse_logic("and", size, y, SCRATCH_X)
            a.sse_logic("andn", size, SCRATCH_X, x)
            a.sse_logic("or", size, SCRATCH_X, y)
            a.movaps(x, SCRATCH_X)
        else:
            raise NotImplementedError(op)

    @memo
    def fun(self, op, t, dst, src) -> None:
        a = self.a
        size = _fsize(t)
        x, y = dst - XMM0, src - XMM0
        sign = 1 << (8 * size - 1)
        if op == "neg":
            a.movs_load(size, SCRATCH_X, self._const(size, sign))
            a.sse_logic("xor", size, x, SCRATCH_X)
        elif op == "abs":
            a.movs_load(size, SCRATCH_X, self._const(size, sign - 1))
            a.sse_logic("and", size, x, SCRATCH_X)
        elif op == "sqrt":
            a.sse_arith("sqrt", size, x, y)
        elif op in ROUND_MODE:
            a.rounds(size, x, y, ROUND_MODE[op])
        else:
            raise NotImplementedError(op)

    # -- conversions -----------------------------------------------------------------------------
    @memo
    def convert(self, name, dst, src) -> None:
        a = self.a
        rest = name.split(".", 1)[1]
        if name == "i32.wrap_i64" or name == "i64.extend_i32_u":
            a.mov_rr(4, dst, src)
        elif name == "i64.extend_i32_s":
            a.movsx(4, 8, dst, src)
        elif name == "f32.demote_f64":
            a.cvt_f2f(4, dst - XMM0, src - XMM0)
        elif name == "f64.promote_f32":
            a.cvt_f2f(8, dst - XMM0, src - XMM0)
        elif rest.startswith("reinterpret"):
            size = 8 if name[1:3] == "64" else 4
            if dst >= XMM0:
                a.movd_to_x(size, dst - XMM0, src)
            else:
                a.movd_from_x(size, dst, src - XMM0)
        elif rest.startswith("convert"):
            self._int_to_float(name, dst - XMM0, src)
        elif rest.startswith("trunc_sat"):
            self._trunc_sat(name, dst, src - XMM0)
        elif rest.startswith("trunc"):
            self._trunc(name, dst, src - XMM0)
        else:
            raise NotImplementedError(name)

    def _int_to_float(self, name, x, src) -> None:
        a = self.a
        fsize = 4 if name.startswith("f32") else 8
        isize = 8 if "i64" in name else 4
        signed = name.endswith("_s")
        if signed:
            a.cvtsi2s(fsize, isize, x, src)
        elif isize == 4:
            a.mov_rr(4, SCRATCH, src)
            a.cvtsi2s(fsize, 8, x, SCRATCH)
        else:
            big, done = self.new_label(), self.new_label()
            a.test_rr(8, src, src)
            a.jcc_label(Cond.S, big)
            a.cvtsi2s(fsize, 8, x, src)
            a.jmp_label(done)
            self.bind(big)
            # r11 = (src >> 1) | (src & 1) keeps the rounding bit; src is ours to clobber
            a.mov_rr(8, SCRATCH, src)
            a.shift_ri("shr", 8, SCRATCH, 1)
            a.alu_ri("and", 4, src, 1)
            a.alu_rr("or", 8, SCRATCH, src)
            a.cvtsi2s(fsize, 8, x, SCRATCH)
            a.sse_arith("add", fsize, x, x)
            self.bind(done)

    def _fconst_cmp(self, fsize, x, value: float) -> None:
        bits = struct.unpack("<I", struct.pack("<f", value))[0] if fsize == 4 else \
            struct.unpack("<Q", struct.pack("<d", value))[0]
        self.a.ucomis(fsize, x, self._const(fsize, bits))

    def _trunc(self, name, dst, x) -> None:
        """Trapping float -> int truncation with explicit NaN and range checks."""
        a = self.a
        isize = 8 if name.startswith("i64") else 4
        fsize = 4 if "f32" in name else 8
        signed = name.endswith("_s")
        a.ucomis(fsize, x, x)
        self._trap_unless(Cond.NP, TrapKind.invalid_conversion_to_integer)
        lo, inclusive, hi = trunc_bounds(isize, fsize, signed)
        self._fconst_cmp(fsize, x, lo)
        self._trap_unless(Cond.AE if inclusive else Cond.A, TrapKind.integer_overflow)
        self._fconst_cmp(fsize, x, hi)
        self._trap_unless(Cond.B, TrapKind.integer_overflow)
        if signed:
            a.cvtts2si(isize, fsize, dst, x)
        elif isize == 4:
            a.cvtts2si(8, fsize, dst, x)
            a.mov_rr(4, dst, dst)
        else:
            self._u64_trunc(fsize, dst, x)

    def _u64_trunc(self, fsize, dst, x) -> None:
        """dst = trunc(x) for 0 <= x < 2**64 (checked by the caller)."""
        a = self.a
        big, done = self.new_label(), self.new_label()
        self._fconst_cmp(fsize, x, float(1 << 63))
        a.jcc_label(Cond.AE, big)
        a.cvtts2si(8, fsize, dst, x)
        a.jmp_label(done)
        self.bind(big)
        a.movaps(SCRATCH_X, x)
        bits = struct.unpack("<I", struct.pack("<f", float(1 << 63)))[0] if fsize == 4 else \
            struct.unpack("<Q", struct.pack("<d", float(1 << 63)))[0]
        a.sse_arith("sub", fsize, SCRATCH_X, self._const(fsize, bits))
        a.cvtts2si(8, fsize, dst, SCRATCH_X)
        a.mov_ri(8, SCRATCH, 1 << 63)
        a.alu_rr("xor", 8, dst, SCRATCH)
        self.bind(done)

    def _trunc_sat(self, name, dst, x) -> None:
        a = self.a
        isize = 8 if name.startswith("i64") else 4
        fsize = 4 if "f32" in name else 8
        signed = name.endswith("_s")
        bits = 8 * isize
        zero, high, done = self.new_label(), self.new_label(), self.new_label()
        a.ucomis(fsize, x, x)
        a.jcc_label(Cond.P, zero)
        if signed:
            self._fconst_cmp(fsize, x, float(1 << (bits - 1)))
            a.jcc_label(Cond.AE, high)
            a.cvtts2si(isize, fsize, dst, x)  # below the range: INT_MIN, as wanted
            a.jmp_label(done)
            self.bind(high)
            a.mov_ri(isize, dst, (1 << (bits - 1)) - 1)
        else:
            self._fconst_cmp(fsize, x, 0.0)
            a.jcc_label(Cond.BE, zero)
            self._fconst_cmp(fsize, x, float(1 << bits))
            a.jcc_label(Cond.AE, high)
            if isize == 4:
                a.cvtts2si(8, fsize, dst, x)
                a.mov_rr(4, dst, dst)
            else:
                self._u64_trunc(fsize, dst, x)
            a.jmp_label(done)
            self.bind(high)
            a.mov_ri(isize, dst, (1 << bits) - 1)
        a.jmp_label(done)
        self.bind(zero)
        a.xor_zero(dst)
        self.bind(done)

    # -- control flow ----------------------------------------------------------------------------
    # A jump, a call or a test-and-branch ends with its rel32 field, whose label use is the
    # assembler's `REL32`: assembled once per operands (`_BRANCHES`), then its bytes are
    # appended and the label use recorded at the last four bytes.
    def _to_label(self, key, label, emit, *args) -> None:
        """`emit(*args, label)` (assembler calls ending with a rel32 use of `label`), or its
        recorded bytes for `key`."""
        buf = self.buf
        data = buf.data
        code = _BRANCHES.get(key)
        if code is not None:
            data += code
            buf.use_label(label, REL32, len(data) - 4)
            return
        start = len(data)
        nfix = len(buf._fixups)
        emit(*args, label)
        if buf._fixups[nfix:] == [(len(data) - 4, label, REL32)]:  # as the replay does it
            _BRANCHES[key] = bytes(data[start:])

    def _test_jcc(self, size, reg, cond, label) -> None:
        self.a.test_rr(size, reg, reg)
        self.a.jcc_label(cond, label)

    def jump(self, label) -> None:
        self._to_label("jmp", label, self.a.jmp_label)

    def branch_zero(self, size, reg, label) -> None:
        self._to_label((size, reg, Cond.E), label, self._test_jcc, size, reg, Cond.E)

    def branch_nonzero(self, size, reg, label) -> None:
        self._to_label((size, reg, Cond.NE), label, self._test_jcc, size, reg, Cond.NE)

    def br_table(self, index, labels, default) -> None:
        a = self.a
        n = len(labels)
        if n == 0:
            a.jmp_label(default)
            return
        a.alu_ri("cmp", 4, index, n)
        a.jcc_label(Cond.AE, default)
        table = self.new_label()
        a.lea_label(SCRATCH, table)
        a.movsx(4, 8, index, Amode(SCRATCH, index, 4))
        a.alu_rr("add", 8, SCRATCH, index)
        a.jmp_r(SCRATCH)
        self.bind(table)
        emit_jump_table(self.buf, labels)

    # -- globals, memory -------------------------------------------------------------------------
    @memo
    def global_get(self, t, dst, ptr_off) -> None:
        self.a.load(8, SCRATCH, Amode(R14, disp=ptr_off))
        self._slot_load(t, dst, Amode(SCRATCH))

    @memo
    def global_set(self, t, ptr_off, src) -> None:
        self.a.load(8, SCRATCH, Amode(R14, disp=ptr_off))
        self._slot_store(t, Amode(SCRATCH), src)

    @memo
    def memory_size(self, dst) -> None:
        self.a.load(8, dst, Amode(R14, disp=MEM0_SIZE))
        self.a.shift_ri("shr", 8, dst, 16)

    def _bounds(self, addr, offset, size, base_off=MEM0_BASE, size_off=MEM0_SIZE) -> int:
        """Bounds-check [addr + offset, + size) of a 32-bit memory (addr zero-extended,
        offset < 2**32: the sum cannot carry) and leave the memory base in r11; returns the
        displacement to use with [r11 + addr].  A large offset is added into addr."""
        a = self.a
        if offset + size >= (1 << 31):
            a.mov_ri(8, SCRATCH, offset)
            a.alu_rr("add", 8, addr, SCRATCH)
            offset = 0
        a.lea(SCRATCH, Amode(addr, disp=offset + size))
        a.alu_rm("cmp", 8, SCRATCH, Amode(R14, disp=size_off))
        self._trap_unless(Cond.BE, TrapKind.memory_out_of_bounds)
        a.load(8, SCRATCH, Amode(R14, disp=base_off))
        return offset

    def _bounds64(self, addr, offset, size, base_off, size_off):
        """Bounds-check [addr + offset, + size) of a 64-bit memory: addr is any u64, offset
        any u64, and the end addr + offset + size must neither carry out of 64 bits (a carry
        is a trap, never a wrap) nor pass the memory's byte size.  Leaves the access's end
        address, base + addr + offset + size, in r11 (addr is left unchanged) and returns
        the displacement to use with [r11], -size; or None when the access always traps
        (offset + size >= 2**64: the trap is emitted here, and no access follows)."""
        end = offset + size
        if end >> 64:
            self._trap_here(TrapKind.memory_out_of_bounds)
            return None
        a = self.a
        a.mov_ri(8, SCRATCH, end)
        a.alu_rr("add", 8, SCRATCH, addr)
        self._trap_unless(Cond.AE, TrapKind.memory_out_of_bounds)  # carry: past 2**64
        a.alu_rm("cmp", 8, SCRATCH, Amode(R14, disp=size_off))
        self._trap_unless(Cond.BE, TrapKind.memory_out_of_bounds)
        a.alu_rm("add", 8, SCRATCH, Amode(R14, disp=base_off))
        return -size

    def _access_at(self, name, addr, offset, base_off, size_off, is64, kinds):
        """The bounds check of wasm_load_at / wasm_store_at; the access's Amode, or None
        when the access always traps."""
        size = kinds[name][1]
        if is64:
            disp = self._bounds64(addr, offset, size, base_off, size_off)
            return None if disp is None else Amode(SCRATCH, disp=disp)
        disp = self._bounds(addr, offset, size, base_off, size_off)
        return Amode(SCRATCH, addr, 1, disp)

    def _load_kind(self, kind, size, dst, m) -> None:
        a = self.a
        if kind == "i":
            a.load(size, dst, m)
        elif kind == "f":
            a.movs_load(size, dst - XMM0, m)
        elif kind == "zx":
            a.movzx(size, dst, m)
        else:
            a.movsx(size, 8 if kind == "sx8" else 4, dst, m)

    @memo(template=access_template(3, 2, 1, LOAD_KINDS))
    def wasm_load(self, name, dst, addr, offset) -> None:
        kind, size = LOAD_KINDS[name]
        disp = self._bounds(addr, offset, size)
        self._load_kind(kind, size, dst, Amode(SCRATCH, addr, 1, disp))

    @memo(template=access_template(2, 1, 3, STORE_KINDS))
    def wasm_store(self, name, addr, offset, val) -> None:
        kind, size = STORE_KINDS[name]
        disp = self._bounds(addr, offset, size)
        m = Amode(SCRATCH, addr, 1, disp)
        if kind == "f":
            self.a.movs_store(size, m, val - XMM0)
        else:
            self.a.store(size, m, val)

    @memo
    def wasm_load_at(self, name, dst, addr, offset, base_off, size_off, is64) -> None:
        """wasm_load from any memory: its base and byte size are the u64s at [vmctx +
        base_off] and [vmctx + size_off]; is64: addr a full i64 and offset any u64."""
        m = self._access_at(name, addr, offset, base_off, size_off, is64, LOAD_KINDS)
        if m is not None:
            self._load_kind(*LOAD_KINDS[name], dst, m)

    @memo
    def wasm_store_at(self, name, addr, offset, val, base_off, size_off, is64) -> None:
        """wasm_store to any memory (see wasm_load_at)."""
        m = self._access_at(name, addr, offset, base_off, size_off, is64, STORE_KINDS)
        if m is None:
            return
        kind, size = STORE_KINDS[name]
        if kind == "f":
            self.a.movs_store(size, m, val - XMM0)
        else:
            self.a.store(size, m, val)

    @memo
    def memory_size_at(self, dst, size_off, page_log2) -> None:
        self.a.load(8, dst, Amode(R14, disp=size_off))
        if page_log2:
            self.a.shift_ri("shr", 8, dst, page_log2)

    # -- calls -----------------------------------------------------------------------------------
    def call_func(self, func_index) -> None:
        self._to_label("call", self.env.func_labels[func_index], self.a.call_label)

    @memo
    def call_import(self, code_off, vmctx_off, vmctx_slot) -> None:
        a = self.a
        a.load(8, SCRATCH, Amode(R14, disp=code_off))
        a.load(8, R14, Amode(R14, disp=vmctx_off))
        a.call_r(SCRATCH)
        a.load(8, R14, Amode(RBP, disp=vmctx_slot))

    @memo
    def call_indirect(self, index, base_off, len_off, sig_off, vmctx_slot) -> None:
        self._call_indirect(4, index, base_off, len_off, sig_off, vmctx_slot)

    def _call_indirect(self, isize, index, base_off, len_off, sig_off, vmctx_slot) -> None:
        a = self.a
        a.alu_rm("cmp", isize, index, Amode(R14, disp=len_off))
        self._trap_unless(Cond.B, TrapKind.table_out_of_bounds)
        a.load(8, SCRATCH, Amode(R14, disp=base_off))
        a.load(8, SCRATCH, Amode(SCRATCH, index, 8))
        a.test_rr(8, SCRATCH, SCRATCH)
        self._trap_unless(Cond.NE, TrapKind.indirect_call_null)
        a.load(8, index, Amode(R14, disp=sig_off))
        a.alu_rm("cmp", 8, index, Amode(SCRATCH, disp=8))
        self._trap_unless(Cond.E, TrapKind.indirect_call_type_mismatch)
        a.load(8, R14, Amode(SCRATCH, disp=16))
        a.call_m(Amode(SCRATCH))
        a.load(8, R14, Amode(RBP, disp=vmctx_slot))

    @memo
    def call_indirect64(self, index, base_off, len_off, sig_off, vmctx_slot) -> None:
        """call_indirect through a table64: `index` is a full i64, compared unsigned with
        the table's u64 length (an index >= 2**32 traps, it does not wrap)."""
        self._call_indirect(8, index, base_off, len_off, sig_off, vmctx_slot)

    @memo
    def call_builtin(self, off) -> None:
        self.a.call_m(Amode(R14, disp=off))

    # -- NaN canonicalization (compile option, winch/codegen/nan_canon.py) ------------------------
    @memo
    def canonicalize_nan(self, t, reg) -> None:
        """If `reg` (an XMM register holding a `t`) is a NaN, make it the canonical NaN
        (0x7FC00000 / 0x7FF8000000000000), else leave it: `ucomis x, x` sets PF only when
        unordered; `jnp` skips the load of the constant."""
        a = self.a
        size = _fsize(t)
        x = reg - XMM0
        a.ucomis(size, x, x)
        a.jcc_short(Cond.NP, 0)
        at = self.buf.offset()
        a.movs_load(size, x, self._const(size, 0x7FC0_0000 if size == 4 else 0x7FF8 << 48))
        self.buf.data[at - 1] = self.buf.offset() - at

    # -- fuel and epoch interruption (compile options, winch/codegen/fuel.py) ---------------------
    # The fields are below the VM context (winch/vmctx.py: FUEL_VAR, LIMITS_PTR, EPOCH_PTR,
    # EPOCH_DEADLINE).  Only SCRATCH and SCRATCH_X are written; never memoized (fuel-mode only).
    def fuel_add(self, k: int) -> None:
        """The instance's fuel variable += k (k >= 0)."""
        while k > 0:
            step = min(k, 0x7FFF_FFFF)
            self.a.alu_ri("add", 8, Amode(R14, disp=_V.FUEL_VAR), step)
            k -= step

    def fuel_add_reg(self, reg: int, size: int) -> None:
        """The fuel variable += `reg` zero-extended from `size` (4 or 8) bytes."""
        a = self.a
        a.mov_rr(size, SCRATCH, reg)  # a 4-byte mov zero-extends
        a.alu_rm("add", 8, SCRATCH, Amode(R14, disp=_V.FUEL_VAR))
        a.store(8, Amode(R14, disp=_V.FUEL_VAR), SCRATCH)

    def fuel_add_if_grown(self, result: int, delta: int, size: int, check: bool) -> None:
        """Unless `result` (a grow's answer, `size` bytes) is -1: fuel variable += delta,
        then (`check`) `fuel_check_store`."""
        a = self.a
        a.alu_ri("cmp", size, result, -1)
        a.jcc_short(Cond.E, 0)
        at = self.buf.offset()
        self.fuel_add_reg(delta, size)
        if check:
            self.fuel_check_store()
        self.buf.data[at - 1] = self.buf.offset() - at

    def fuel_check_store(self) -> None:
        """Trap `fuel` unless the fuel variable is negative (fuel left)."""
        self.a.alu_ri("cmp", 8, Amode(R14, disp=_V.FUEL_VAR), 0)
        self._trap_unless(Cond.L, TrapKind.fuel)

    def fuel_save(self) -> None:
        """The store's fuel consumed := the fuel variable."""
        a = self.a
        a.load(8, SCRATCH, Amode(R14, disp=_V.LIMITS_PTR))
        a.movs_load(8, SCRATCH_X, Amode(R14, disp=_V.FUEL_VAR))
        a.movs_store(8, Amode(SCRATCH, disp=_V.LIMITS_FUEL), SCRATCH_X)

    def fuel_load(self) -> None:
        """The fuel variable := the store's fuel consumed."""
        a = self.a
        a.load(8, SCRATCH, Amode(R14, disp=_V.LIMITS_PTR))
        a.movs_load(8, SCRATCH_X, Amode(SCRATCH, disp=_V.LIMITS_FUEL))
        a.movs_store(8, Amode(R14, disp=_V.FUEL_VAR), SCRATCH_X)

    def epoch_check(self) -> None:
        """Trap `interrupt` unless the engine's epoch is below the store's deadline."""
        a = self.a
        a.load(8, SCRATCH, Amode(R14, disp=_V.EPOCH_PTR))
        a.load(8, SCRATCH, Amode(SCRATCH))
        a.alu_rm("cmp", 8, SCRATCH, Amode(R14, disp=_V.EPOCH_DEADLINE))
        self._trap_unless(Cond.B, TrapKind.interrupt)


import winch.vmctx as _V  # noqa: E402 - the fuel and epoch fields (methods above)
