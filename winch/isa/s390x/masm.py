"""The s390x MacroAssembler: Wasm-level operations lowered to z13 instruction sequences.

Registers (codegen numbering: r0..r15 as 0..15, f0..f15 as 16 + n):
    r15 sp, r11 fp, r14 return address (BRASL/BASR link)
    r13          pinned: the VM context (restored from [fp-8] after calls)
    r0, r1       scratch (VAL, VAL2), private to this file; the DSGR/DLGR/FLOGR even/odd pair
    r12          scratch (ADDR) usable as a base register (r0 means "no register" there)
    r2..r10      allocatable; r2 returns a value
    f15, f14     FP scratch;  f0..f13 allocatable, f0 returns a value
Big-endian: frame slots, globals and the VM context hold native (big-endian) values; Wasm
linear memory is little-endian, so every memory access is byte-reversed (LRV/STRV family).
An i32 in a register is its low 32 bits; the high half is undefined, so 32-bit operations
are used for i32 and addresses/indices are zero-extended (LLGFR) before use.
A float32 lives in the left (high) half of its FPR.  Traps are the 0x00NN halfword.

Scratch registers.  Displacements reach +-512 KiB (20 bits), so frames and VM-context fields
almost never need an address built; constants and memory offsets often do.  The scratch
registers have disjoint owners, as on aarch64 (issue 15: an address built in the register
holding the value to store stored the address):

    VAL  = r0    carries a value between the instructions of one masm operation (a constant
                 or slot being stored or copied, float bits on their way to memory).  It
                 cannot serve as a base register, and no helper writes it.
    VAL2 = r1    a second value (a loaded pointer, a shift count, a dividend); also the base
                 register of the operand `_access` leaves, its explicit destination.
    ADDR = r12   the helpers' own register: `_far` (under `_rx`) builds a far address in it
                 and `_access` its end-of-access address, for the instruction emitted next.

    Invariant: `_far`/`_rx` write only ADDR; `_access` and `_access_at` (any memory: its
    base and size read from the VM context, memory64's carry-checked bound) write only VAL2
    (their result) and ADDR.
    So a value in VAL survives any helper call, and a value in VAL2 survives `_rx`.  A masm
    operation may use ADDR as a plain temporary (divisor, jump-table base) only where no
    helper is called between writing it and its last read.
"""

from __future__ import annotations

import struct

from winch.isa.field_templates import seal
from winch.isa.s390x import templates as _t
from winch.isa.s390x.asm import Cond, Mem, S390xAssembler
from winch.masm.base import MacroAssembler
from winch.masm.buffer import CodeBuffer, emit_jump_table
from winch.masm.replay import Recordings
from winch.masm.wasm_semantics import trunc_bounds
from winch.traps import TrapKind
from winch.vmctx import FUEL, MEM0_BASE, MEM0_SIZE, STACK_LIMIT
from winch.wasm.types import F32, I32

SP, FP, LR, VM = 15, 11, 14, 13
R0, R1, R12 = 0, 1, 12
VAL, VAL2, ADDR = R0, R1, R12  # the scratch registers and their owners (module docstring)
F0 = 16
FS, FS2 = 15, 14  # FP scratch (assembler numbering)

INT_COND = {"eq": ("E", False), "ne": ("NE", False), "lt_s": ("L", True), "lt_u": ("L", False),
            "gt_s": ("H", True), "gt_u": ("H", False), "le_s": ("LE", True),
            "le_u": ("LE", False), "ge_s": ("HE", True), "ge_u": ("HE", False)}
MASK = {"E": 8, "NE": 7, "L": 4, "H": 2, "LE": 12, "HE": 10}
NO_CARRY = 0b1100  # after a logical add (ALGR, ALGFI): CC 0 or 1, no carry out of bit 63
F_MASK = {"eq": 8, "ne": 7, "lt": 4, "gt": 2, "le": 12, "ge": 10}
ROUND = {"floor": 7, "ceil": 6, "trunc": 5, "nearest": 4}


# (size, float?) -> (RX mnemonic, RXY mnemonic) of the native loads and stores (`_rx`)
_LOADS = {(4, False): ("L", "LY"), (8, False): ("LG", "LG"),
          (4, True): ("LE", "LEY"), (8, True): ("LD", "LDY")}
_STORES = {(4, False): ("ST", "STY"), (8, False): ("STG", "STG"),
           (4, True): ("STE", "STEY"), (8, True): ("STD", "STDY")}


#: The recorded operations (`_memo`, winch/masm/replay.py), at most 50,000 operand tuples per
#: method: a long fuzzing run sees ever new immediates.  Operands that differ only in
#: registers, displacements and immediates of the same class share a field template
#: (`_memo(template=...)`: templates.py, winch/isa/field_templates.py).
_RECORDINGS = Recordings(50_000)
_memo = _RECORDINGS.memo


def clear_caches() -> None:
    """Forget every memoized sequence of this file (the assembler keeps its own)."""
    _RECORDINGS.clear()


def _label_code(emit):
    """(bytes, offset of the label use, label use) of `emit(assembler, label)`: a sequence
    whose one label use refers to `label`, as the assembler encodes it (displacement 0,
    patched at `finish`)."""
    buf = CodeBuffer()
    label = buf.new_label()
    emit(S390xAssembler(buf), label)
    buf.bind_label(label)
    code, (_, _, ((at, _, _, use),)) = buf.recorded((0, 0, 0, 0, 0))
    return code, at, use


#: The masm's branches to labels, as the assembler encodes them: the hottest plain (not
#: recorded) emissions of a body.  BRCL by mask, BRASL r14; and the tests of branch_zero /
#: branch_nonzero by (size, register): LT(G)R reg, reg then BRCL.
_BRCL = tuple(_label_code(lambda a, lab: a.ins_label("BRCL", m, lab))[::2] for m in range(16))
_BRASL = _label_code(lambda a, lab: a.ins_label("BRASL", LR, lab))[::2]  # (the use at 0)


def _test_branch(mask):
    def emit(size, reg):
        return _label_code(lambda a, lab: (a.ins("LTR" if size == 4 else "LTGR", reg, reg),
                                           a.ins_label("BRCL", mask, lab)))
    return {(size, reg): emit(size, reg) for size in (4, 8) for reg in range(16)}


_BRANCH_ZERO = _test_branch(MASK["E"])
_BRANCH_NONZERO = _test_branch(MASK["NE"])


def _width(name: str) -> int:
    """The bytes a Wasm load or store `name` ("i64.load16_s", "f32.store") accesses."""
    ty, _, kind = name.partition(".")
    for n in ("8", "16", "32"):
        if kind.endswith(n) or kind.startswith(f"load{n}_"):
            return int(n) // 8
    return 4 if ty in ("i32", "f32") else 8


def _fsize(t) -> int:
    return 4 if t == F32 else 8


def _fbits(size: int, value: float) -> bytes:
    return struct.pack(">f" if size == 4 else ">d", value)


@seal  # no field template while a method is patched (a planted bug)
class S390xMasm(MacroAssembler):
    FP, SP = FP, SP
    GPRS = (2, 3, 4, 5, 6, 7, 8, 9, 10)
    FPRS = tuple(F0 + i for i in range(14))
    FPR_SET = frozenset(FPRS)
    RET_GPR = 2
    RET_FPR = F0
    SHIFT_COUNT_REG = None

    def __init__(self, buf, env):
        super().__init__(buf, env)
        self.a = S390xAssembler(buf)

    @_memo
    def trap(self, kind: TrapKind) -> None:
        self.a.trap(kind)

    def _trap_unless(self, mask: int, kind: TrapKind) -> None:
        self.a.skip_trap(mask, kind)  # BRC mask over the trap (no label needed)

    def _brc(self, mask, label) -> None:
        code, use = _BRCL[mask]  # long form: bodies may exceed BRC's 64 KiB
        buf = self.buf
        buf.use_label(label, use)
        buf.data += code

    # -- memory operand helpers (native, big-endian) --------------------------------------------
    # Storage operands are given to `S390xAssembler.ins` flat: ``r, disp, index, base``.
    def _far(self, base, off) -> int:
        """ADDR = base + off, for an offset beyond the 20-bit displacements; returns ADDR."""
        if base != ADDR:
            self.a.ins("LGR", ADDR, base)
        self._add_imm(ADDR, off)
        return ADDR

    def _rx(self, short, long, r, base, off) -> None:
        """`short` (RX, 12-bit displacement) or `long` (RXY, 20-bit) on [base + off]; a far
        address is built in ADDR (and only there).  For an RXY-only row short == long."""
        if 0 <= off < 4096:
            self.a.ins(short, r, off, 0, base)
        elif -(1 << 19) <= off < (1 << 19):
            self.a.ins(long, r, off, 0, base)
        else:
            self.a.ins(short, r, 0, 0, self._far(base, off))

    def _add_imm(self, r, value) -> None:
        """r += value for any 0 <= |value| < 2**32, in AGFI steps: no other register."""
        while value:
            step = max(-(1 << 31), min(value, (1 << 31) - 1))
            self.a.ins_imm("AGFI", r, step)
            value -= step

    def _ld(self, size, r, base, off, fp=False) -> None:
        self._rx(*_LOADS[size, fp], r, base, off)

    def _st(self, size, r, base, off, fp=False) -> None:
        self._rx(*_STORES[size, fp], r, base, off)

    @_memo(template=_t.template((1, _t.reg), (3, _t.v_rx)))
    def _typed_ld(self, t, reg, base, off) -> None:
        if reg >= F0:
            self._rx(*_LOADS[_fsize(t), True], reg - F0, base, off)
        else:
            self._rx(*_LOADS[4 if t == I32 else 8, False], reg, base, off)

    @_memo(template=_t.template((1, _t.reg), (3, _t.v_rx)))
    def _typed_st(self, t, reg, base, off) -> None:
        if reg >= F0:
            self._rx(*_STORES[_fsize(t), True], reg - F0, base, off)
        else:
            self._rx(*_STORES[4 if t == I32 else 8, False], reg, base, off)

    # -- frame ---------------------------------------------------------------------------------
    def prologue(self, frame) -> int:
        self._frame_enter()
        patch = self.buf.offset()
        self._frame_setup()
        if frame.nlocals:
            self._zero_locals(tuple(frame.local(frame.nparams + j)
                                    for j in range(frame.nlocals)))
        return patch

    @_memo
    def _frame_enter(self) -> None:
        """The prologue up to the frame-size AGFI, the same in every function."""
        e = self.a.ins
        e("AGHI", SP, -16)
        e("STG", LR, 8, 0, SP)
        e("STG", FP, 0, 0, SP)
        e("LGR", FP, SP)

    @_memo
    def _frame_setup(self) -> None:
        """The prologue from the frame-size AGFI (its offset is `prologue`'s patch) to the
        locals, the same in every function."""
        e = self.a.ins
        e("AGFI", SP, 0)  # -frame size, patched by finish_frame
        e("CLG", SP, STACK_LIMIT, 0, VM)
        self._trap_unless(MASK["HE"], TrapKind.call_stack_exhausted)
        e("STG", VM, -8, 0, FP)

    @_memo
    def _zero_locals(self, offsets) -> None:
        """0 into the frame slot of each local (offsets from fp)."""
        self.a.ins("LGHI", R0, 0)
        for off in offsets:
            self._rx("STG", "STG", R0, FP, off)

    @_memo
    def fuel_check(self) -> None:
        """Trap out_of_fuel if the fuel is 0, else take one unit."""
        e = self.a.ins
        e("LG", R1, FUEL, 0, VM)
        e("LTGR", R1, R1)
        self._trap_unless(MASK["NE"], TrapKind.out_of_fuel)
        e("AGHI", R1, -1)
        e("STG", R1, FUEL, 0, VM)

    def finish_frame(self, patch: int, size: int) -> None:
        size = (size + 15) & ~15
        struct.pack_into(">i", self.buf.data, patch + 2, -size)

    @_memo
    def epilogue(self) -> None:
        e = self.a.ins
        e("LGR", SP, FP)
        e("LG", LR, 8, 0, SP)
        e("LG", FP, 0, 0, SP)
        e("AGHI", SP, 16)
        self.a.br(LR)

    # -- moves -----------------------------------------------------------------------------------
    @_memo
    def mov_rr(self, size, dst, src) -> None:
        if dst != src:
            self.a.ins("LGR", dst, src)

    @_memo
    def fmov_rr(self, dst, src) -> None:
        if dst != src:
            self.a.ins("LDR", dst - F0, src - F0)

    @_memo(template=_t.template((1, _t.reg), (2, _t.v_mov_ri)))
    def mov_ri(self, size, dst, imm) -> None:
        self.a.load_const(dst, imm & ((1 << (8 * size)) - 1) if size == 4 else imm,
                          32 if size == 4 else 64)

    @_memo
    def fconst(self, t, dst, bits) -> None:
        size = _fsize(t)
        self.a.load_fp_const(dst - F0, bits.to_bytes(size, "big"), R1)

    @_memo(template=_t.template((3, _t.v_store_imm_bits), (2, _t.v_rx)))
    def _store_imm(self, t, base, off, bits) -> None:
        size = 4 if t in (I32, F32) else 8
        self.a.load_const(VAL, bits, 32 if size == 4 else 64)
        self._st(size, VAL, base, off)

    @_memo(template=_t.template((4, _t.v_rx), (2, _t.v_rx)))
    def _copy(self, t, dbase, doff, sbase, soff) -> None:
        size = 4 if t in (I32, F32) else 8
        self._ld(size, VAL, sbase, soff)
        self._st(size, VAL, dbase, doff)

    @_memo
    def load_vmctx(self, size, dst, off) -> None:
        self._ld(size, dst, VM, off)

    # -- integer operators -----------------------------------------------------------------------
    def alu_imm_ok(self, op, size, bits) -> bool:
        return True

    def cmp_imm_ok(self, size, bits) -> bool:
        return True

    _RR = {("add", 4): "AR", ("add", 8): "AGR", ("sub", 4): "SR", ("sub", 8): "SGR",
           ("and", 4): "NR", ("and", 8): "NGR", ("or", 4): "OR", ("or", 8): "OGR",
           ("xor", 4): "XR", ("xor", 8): "XGR", ("mul", 4): "MSR", ("mul", 8): "MSGR"}

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def alu_rr(self, op, size, dst, src) -> None:
        self.a.ins(self._RR[op, size], dst, src)

    @_memo(template=_t.template((2, _t.reg), (3, _t.v_alu_ri)))
    def alu_ri(self, op, size, dst, imm) -> None:
        imm &= (1 << (8 * size)) - 1
        simm = imm - (1 << (8 * size)) if imm >> (8 * size - 1) else imm
        e = self.a.ins_imm
        if op == "add" and -(1 << 31) <= simm < (1 << 31):
            e("AFI" if size == 4 else "AGFI", dst, simm)
        elif op == "sub" and -(1 << 31) < simm <= (1 << 31):
            e("AFI" if size == 4 else "AGFI", dst, -simm)
        elif op == "mul" and -(1 << 31) <= simm < (1 << 31):
            e("MSFI" if size == 4 else "MSGFI", dst, simm)
        elif op in ("and", "or", "xor") and size == 4:
            e({"and": "NILF", "or": "OILF", "xor": "XILF"}[op], dst, imm)
        else:
            self.a.load_const(R0, imm, 8 * size)
            self.alu_rr(op, size, dst, R0)

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def shift_rr(self, op, size, dst, count) -> None:
        e = self.a.emit
        if size == 4:
            if op in ("rotl", "rotr"):
                if op == "rotr":
                    e("LCR", R1, count)
                    e("RLL", dst, dst, Mem(R1, 0))
                else:
                    e("RLL", dst, dst, Mem(count, 0))
                return
            e("LR", R1, count)
            e("NILL", R1, 31)  # 32-bit shifts use 6 bits of the count; Wasm wants 5
            e({"shl": "SLL", "shr_s": "SRA", "shr_u": "SRL"}[op], dst, Mem(R1, 0))
            return
        if op == "rotr":
            e("LCGR", R1, count)
            e("RLLG", dst, dst, Mem(R1, 0))
            return
        e({"shl": "SLLG", "shr_s": "SRAG", "shr_u": "SRLG", "rotl": "RLLG"}[op], dst, dst,
          Mem(count, 0))

    @_memo(template=_t.template((2, _t.reg)))
    def shift_ri(self, op, size, dst, imm) -> None:
        e = self.a.ins  # shift amounts as D(B) = imm(0): RS "SLL r1, d, b", RSY "SLLG r1, r3, d, b"
        bits = 8 * size
        if imm == 0:
            return
        if op == "rotr":
            op, imm = "rotl", (bits - imm) % bits
        if size == 4:
            if op == "rotl":
                e("RLL", dst, dst, imm, 0)
            else:
                e({"shl": "SLL", "shr_s": "SRA", "shr_u": "SRL"}[op], dst, imm, 0)
        else:
            e({"shl": "SLLG", "shr_s": "SRAG", "shr_u": "SRLG", "rotl": "RLLG"}[op], dst, dst,
              imm, 0)

    def divrem_regs(self, op):
        return None

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg), (4, _t.reg)))
    def divrem(self, op, size, result, lhs, rhs) -> None:
        e = self.a.ins
        # operands widened to 64 bits in r1 (dividend) and r12 (divisor)
        signed = op.endswith("_s")
        if size == 4:
            e("LGFR" if signed else "LLGFR", R12, rhs)
            e("LGFR" if signed else "LLGFR", R1, lhs)
        else:
            e("LGR", R12, rhs)
            e("LGR", R1, lhs)
        e("LTGR", R12, R12)
        self._trap_unless(MASK["NE"], TrapKind.integer_divide_by_zero)
        if signed:
            other = self.new_label()
            done = self.new_label()
            e("CGHI", R12, -1)
            self._brc(MASK["NE"], other)
            if op == "div_s":
                self.a.load_const(R0, -(1 << (8 * size - 1)), 64)
                e("CGR", R1, R0)
                self._trap_unless(MASK["NE"], TrapKind.integer_overflow)
                e("LCGR", R1, R1)  # x / -1 = -x (no overflow left)
                e("LGR", result, R1)
            else:
                e("LGHI", result, 0)  # x % -1 = 0, also for INT_MIN
            self._brc(15, done)
            self.bind(other)
            e("DSGR", R0, R12)  # r0 = remainder, r1 = quotient
            e("LGR", result, R1 if op == "div_s" else R0)
            self.bind(done)
        else:
            e("LGHI", R0, 0)
            e("DLGR", R0, R12)
            e("LGR", result, R1 if op == "div_u" else R0)

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def unop(self, op, size, dst, src) -> None:
        e = self.a.ins
        if op == "clz":
            e("LLGFR" if size == 4 else "LGR", R1, src)
            e("FLOGR", R0, R1)
            if size == 4:
                e("AGHI", R0, -32)
            e("LGR", dst, R0)
        elif op == "ctz":
            # ctz(x) = 64 - clz(~x & (x - 1)); for i32, bit 32 set caps the answer at 32
            e("LLGFR" if size == 4 else "LGR", R1, src)
            if size == 4:
                e("OIHL", R1, 1)
            e("LCGR", R12, R1)
            e("AGHI", R12, -1)   # ~x
            e("AGHI", R1, -1)    # x - 1
            e("NGR", R1, R12)
            e("FLOGR", R0, R1)
            e("LGHI", R1, 64)
            e("SGR", R1, R0)
            e("LGR", dst, R1)
        elif op == "popcnt":
            e("LLGFR" if size == 4 else "LGR", R1, src)
            e("POPCNT", R1, R1)  # per-byte counts (z196 form)
            self.a.load_const(R0, 0x0101010101010101, 64)
            e("MSGR", R1, R0)
            e("SRLG", dst, R1, 56, 0)
        elif op == "extend8_s":
            e("LGBR" if size == 8 else "LBR", dst, src)
        elif op == "extend16_s":
            e("LGHR" if size == 8 else "LHR", dst, src)
        elif op == "extend32_s":
            e("LGFR", dst, src)
        else:
            raise NotImplementedError(op)

    def _set(self, mask, dst) -> None:
        self.a.ins("LGHI", dst, 0)
        self.a.ins("LOCGHI", dst, 1, mask)

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg), (4, _t.reg)))
    def cmp_rr_set(self, cond, size, dst, lhs, rhs) -> None:
        name, signed = INT_COND[cond]
        if size == 4:
            self.a.ins("CR" if signed else "CLR", lhs, rhs)
        else:
            self.a.ins("CGR" if signed else "CLGR", lhs, rhs)
        self._set(MASK[name], dst)

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg), (4, _t.v_cmp_ri)))
    def cmp_ri_set(self, cond, size, dst, lhs, imm) -> None:
        name, signed = INT_COND[cond]
        e = self.a.ins_imm
        if size == 4:
            imm &= 0xFFFF_FFFF
            if signed:
                e("CFI", lhs, imm - (1 << 32) if imm >> 31 else imm)
            else:
                e("CLFI", lhs, imm)
        else:
            imm &= (1 << 64) - 1
            simm = imm - (1 << 64) if imm >> 63 else imm
            if signed and -(1 << 31) <= simm < (1 << 31):
                e("CGFI", lhs, simm)
            elif not signed and imm < (1 << 32):
                e("CLGFI", lhs, imm)
            else:
                self.a.load_const(R0, imm, 64)
                self.a.ins("CGR" if signed else "CLGR", lhs, R0)
        self._set(MASK[name], dst)

    @_memo(template=_t.template((1, _t.reg), (2, _t.reg), (3, _t.reg)))
    def select(self, t, a_reg, b_reg, cond) -> None:
        e = self.a.ins
        e("LTR", cond, cond)
        if a_reg >= F0:
            skip = self.new_label()
            self.a.brc(MASK["NE"], skip)
            e("LDR", a_reg - F0, b_reg - F0)
            self.bind(skip)
        else:
            e("LOCGR", a_reg, b_reg, MASK["E"])

    # -- float operators ---------------------------------------------------------------------------
    @_memo(template=_t.template((2, _t.reg), (3, _t.reg), (4, _t.reg)))
    def fcmp_set(self, cond, t, dst, lhs, rhs) -> None:
        self.a.ins("CEBR" if t == F32 else "CDBR", lhs - F0, rhs - F0)
        self._set(F_MASK[cond], dst)

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def fbin(self, op, t, dst, src) -> None:
        e = self.a.ins
        s = t == F32
        x, y = dst - F0, src - F0
        if op in ("add", "sub", "mul", "div"):
            e({"add": "AEBR", "sub": "SEBR", "mul": "MEEBR", "div": "DEBR"}[op] if s else
              {"add": "ADBR", "sub": "SDBR", "mul": "MDBR", "div": "DDBR"}[op], x, y)
        elif op in ("min", "max"):
            nan, eq, done = self.new_label(), self.new_label(), self.new_label()
            e("CEBR" if s else "CDBR", x, y)
            self.a.brc(Cond.UNORDERED, nan)
            self.a.brc(Cond.EQ, eq)
            self.a.brc(Cond.LT if op == "min" else Cond.GT, done)
            e("LDR", x, y)
            self.a.j(done)
            self.bind(nan)
            e("AEBR" if s else "ADBR", x, y)  # a quiet NaN from the NaN operand(s)
            self.a.j(done)
            self.bind(eq)  # equal: only the signs of zeros can differ
            e("LGDR", R0, x)
            e("LGDR", R1, y)
            e("OGR" if op == "min" else "NGR", R0, R1)
            e("LDGR", x, R0)
            self.bind(done)
        elif op == "copysign":
            e("CPSDR", x, y, x)
        else:
            raise NotImplementedError(op)

    @_memo(template=_t.template((2, _t.reg), (3, _t.reg)))
    def fun(self, op, t, dst, src) -> None:
        e = self.a.ins
        s = t == F32
        x, y = dst - F0, src - F0
        if op == "neg":
            e("LCDFR", x, y)
        elif op == "abs":
            e("LPDFR", x, y)
        elif op == "sqrt":
            e("SQEBR" if s else "SQDBR", x, y)
        elif op in ROUND:
            e("FIEBRA" if s else "FIDBRA", x, ROUND[op], y, 4)
        else:
            raise NotImplementedError(op)

    # -- conversions -----------------------------------------------------------------------------
    @_memo
    def convert(self, name, dst, src) -> None:
        e = self.a.ins
        rest = name.split(".", 1)[1]
        if name == "i32.wrap_i64":
            if dst != src:
                e("LR", dst, src)
        elif name == "i64.extend_i32_u":
            e("LLGFR", dst, src)
        elif name == "i64.extend_i32_s":
            e("LGFR", dst, src)
        elif name == "f32.demote_f64":
            e("LEDBR", dst - F0, src - F0)
        elif name == "f64.promote_f32":
            e("LDEBR", dst - F0, src - F0)
        elif rest.startswith("reinterpret"):
            wide = name[1:3] == "64"
            if dst >= F0:  # int -> float
                if wide:
                    e("LDGR", dst - F0, src)
                else:
                    e("SLLG", R0, src, 32, 0)
                    e("LDGR", dst - F0, R0)
            else:
                e("LGDR", dst, src - F0)
                if not wide:
                    e("SRLG", dst, dst, 32, 0)
        elif rest.startswith("convert"):
            f = "E" if name.startswith("f32") else "D"
            i = "G" if "i64" in name else "F"
            x = dst - F0
            if name.endswith("_s"):
                e(f"C{f}{i}BR", x, src)
            else:
                e(f"C{f}L{i}BR", x, 0, src, 0)
        elif rest.startswith("trunc_sat"):
            self._trunc_sat(name, dst, src - F0)
        elif rest.startswith("trunc"):
            self._trunc(name, dst, src - F0)
        else:
            raise NotImplementedError(name)

    def _fcmp_const(self, fsize, x, value: float) -> None:
        self.a.load_fp_const(FS, _fbits(fsize, value), R1)
        self.a.ins("CEBR" if fsize == 4 else "CDBR", x, FS)

    def _cvt(self, isize, fsize, signed, dst, x) -> None:
        """The conversion itself, truncating (m3 = 5); the input is known to be in range."""
        f = "E" if fsize == 4 else "D"
        i = "G" if isize == 8 else "F"
        if signed:
            self.a.ins(f"C{i}{f}BR", dst, 5, x)
        else:
            self.a.ins(f"CL{i}{f}BR", dst, 5, x, 0)

    def _trunc(self, name, dst, x) -> None:
        isize = 8 if name.startswith("i64") else 4
        fsize = 4 if "f32" in name else 8
        signed = name.endswith("_s")
        e = self.a.ins
        e("CEBR" if fsize == 4 else "CDBR", x, x)
        self._trap_unless(Cond.ORDERED, TrapKind.invalid_conversion_to_integer)
        lo, incl, hi = trunc_bounds(isize, fsize, signed)
        self._fcmp_const(fsize, x, lo)
        self._trap_unless(MASK["HE"] if incl else MASK["H"], TrapKind.integer_overflow)
        self._fcmp_const(fsize, x, hi)
        self._trap_unless(MASK["L"], TrapKind.integer_overflow)
        self._cvt(isize, fsize, signed, dst, x)

    def _trunc_sat(self, name, dst, x) -> None:
        isize = 8 if name.startswith("i64") else 4
        fsize = 4 if "f32" in name else 8
        signed = name.endswith("_s")
        bits = 8 * isize
        e = self.a.ins
        zero, low, high, done = (self.new_label() for _ in range(4))
        e("CEBR" if fsize == 4 else "CDBR", x, x)
        self._brc(Cond.UNORDERED, zero)
        lo, incl, hi = trunc_bounds(isize, fsize, signed)
        self._fcmp_const(fsize, x, lo)
        self._brc(MASK["L"] if incl else MASK["LE"], low)
        self._fcmp_const(fsize, x, hi)
        self._brc(MASK["HE"], high)
        self._cvt(isize, fsize, signed, dst, x)
        self._brc(15, done)
        self.bind(low)
        self.a.load_const(dst, -(1 << (bits - 1)) if signed else 0, 64)
        self._brc(15, done)
        self.bind(high)
        self.a.load_const(dst, (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1, 64)
        self._brc(15, done)
        self.bind(zero)
        e("LGHI", dst, 0)
        self.bind(done)

    # -- control flow ----------------------------------------------------------------------------
    def jump(self, label) -> None:
        self._brc(15, label)

    def branch_zero(self, size, reg, label) -> None:
        code, at, use = _BRANCH_ZERO[size, reg]  # LT(G)R reg, reg; BRCL E, label
        buf = self.buf
        buf.use_label(label, use, len(buf.data) + at)
        buf.data += code

    def branch_nonzero(self, size, reg, label) -> None:
        code, at, use = _BRANCH_NONZERO[size, reg]  # LT(G)R reg, reg; BRCL NE, label
        buf = self.buf
        buf.use_label(label, use, len(buf.data) + at)
        buf.data += code

    def br_table(self, index, labels, default) -> None:
        e = self.a.ins
        n = len(labels)
        if n == 0:
            self._brc(15, default)
            return
        e("LLGFR", R1, index)
        e("CLGFI", R1, n)
        self._brc(MASK["HE"], default)
        table = self.new_label()
        e("SLLG", R1, R1, 2, 0)
        self.a.ins_label("LARL", R12, table)
        e("LGF", R1, 0, R1, R12)
        e("AGR", R12, R1)
        self.a.br(R12)
        self.bind(table)
        emit_jump_table(self.buf, labels, "big")

    # -- globals, memory -------------------------------------------------------------------------
    @_memo
    def global_get(self, t, dst, ptr_off) -> None:
        self._ld(8, R1, VM, ptr_off)
        self._typed_ld(t, dst, R1, 0)

    @_memo
    def global_set(self, t, ptr_off, src) -> None:
        self._ld(8, R1, VM, ptr_off)
        self._typed_st(t, src, R1, 0)

    @_memo
    def memory_size(self, dst) -> None:
        self._ld(8, dst, VM, MEM0_SIZE)
        self.a.ins("SRLG", dst, dst, 16, 0)

    def _access(self, addr, offset, size) -> int:
        """Bounds-check [memory base + addr + offset]; returns the displacement d of the
        operand d(VAL2) that addresses it (VAL2 holds the base plus the address)."""
        e = self.a.ins
        # writes VAL2 and ADDR only (the scratch-register invariant): VAL may hold the value
        e("LLGFR", VAL2, addr)
        e("LGR", ADDR, VAL2)
        self._add_imm(ADDR, offset + size)
        e("CLG", ADDR, MEM0_SIZE, 0, VM)
        self._trap_unless(MASK["LE"], TrapKind.memory_out_of_bounds)
        e("AG", VAL2, MEM0_BASE, 0, VM)
        if offset < (1 << 19):
            return offset
        self._add_imm(VAL2, offset)
        return 0

    @_memo(template=_t.template((2, _t.reg), (3, _t.access(_t.LOAD_WIDTHS)), (1, _t.reg)))
    def wasm_load(self, name, dst, addr, offset) -> None:
        self._load(name, dst, lambda width: self._access(addr, offset, width))

    @_memo(template=_t.template((1, _t.reg), (2, _t.access(_t.STORE_WIDTHS)), (3, _t.reg)))
    def wasm_store(self, name, addr, offset, val) -> None:
        self._store(name, val, lambda width: self._access(addr, offset, width))

    def _load(self, name, dst, access) -> None:
        """The load `name` into dst from d(VAL2), d = access(width) (`_access`, `_access_at`)."""
        e = self.a.ins
        ty, _, kind = name.partition(".")
        if kind.startswith("load8"):
            d = access(1)
            e("LGB" if kind.endswith("_s") else "LLGC", dst, d, 0, VAL2)
        elif kind.startswith("load16"):
            d = access(2)
            e("LRVH", dst, d, 0, VAL2)
            e("LGHR" if kind.endswith("_s") else "LLGHR", dst, dst)
        elif kind == "load32_s" or kind == "load32_u":
            d = access(4)
            e("LRV", dst, d, 0, VAL2)
            e("LGFR" if kind.endswith("_s") else "LLGFR", dst, dst)
        elif ty == "i32":
            e("LRV", dst, access(4), 0, VAL2)
        elif ty == "i64":
            e("LRVG", dst, access(8), 0, VAL2)
        elif ty == "f32":
            e("LRV", R0, access(4), 0, VAL2)
            e("SLLG", R0, R0, 32, 0)
            e("LDGR", dst - F0, R0)
        else:
            e("LRVG", R0, access(8), 0, VAL2)
            e("LDGR", dst - F0, R0)

    def _store(self, name, val, access) -> None:
        """The store `name` of val to d(VAL2), d = access(width) (`_access`, `_access_at`)."""
        e = self.a.ins
        ty, _, kind = name.partition(".")
        if kind == "store8":
            d = access(1)
            e("STC" if 0 <= d < 4096 else "STCY", val, d, 0, VAL2)
        elif kind == "store16":
            e("STRVH", val, access(2), 0, VAL2)
        elif kind == "store32" or ty == "i32":
            e("STRV", val, access(4), 0, VAL2)
        elif ty == "i64":
            e("STRVG", val, access(8), 0, VAL2)
        elif ty == "f32":
            d = access(4)
            e("LGDR", R0, val - F0)
            e("SRLG", R0, R0, 32, 0)
            e("STRV", R0, d, 0, VAL2)
        else:
            d = access(8)
            e("LGDR", R0, val - F0)
            e("STRVG", R0, d, 0, VAL2)

    # -- any memory: an index above 0 or a 64-bit index type (issue 20) --------------------------
    def _vm_field(self, op, r, off) -> None:
        """`op` (an RXY row: CLG, LG, AG) of r and the u64 at [vmctx + off].  Writes no
        scratch register but r itself, except that a far field's address is built in VAL2
        (so r must not be VAL2 then, and `_access_at` calls this only where VAL2 is free)."""
        if -(1 << 19) <= off < (1 << 19):
            self.a.ins(op, r, off, 0, VM)
        else:
            self.a.ins("LGR", VAL2, VM)
            self._add_imm(VAL2, off)
            self.a.ins(op, r, 0, 0, VAL2)

    def _access_at(self, addr, offset, width, base_off, size_off, is64) -> int:
        """`_access` for the memory whose base and byte size are the u64s at [vmctx +
        base_off] and [vmctx + size_off]; returns d of the operand d(VAL2).  The end of the
        access, addr + offset + width, is built in ADDR with a logical add: for a 64-bit
        index its carry out of bit 63 traps (never a wrap), for a 32-bit one (addr < 2**32,
        offset < 2**32) there is none.  Then end <= size, and VAL2 = base + end, d = -width.
        Writes VAL2 and ADDR only (the scratch-register invariant)."""
        e = self.a.ins
        end = offset + width  # < 2**64: the caller traps unconditionally otherwise
        if end < (1 << 32):
            e("LGR" if is64 else "LLGFR", ADDR, addr)
            self.a.ins_imm("ALGFI", ADDR, end)
        else:
            self.a.load_const(ADDR, end, 64)
            e("ALGR" if is64 else "ALGFR", ADDR, addr)
        if is64:
            self._trap_unless(NO_CARRY, TrapKind.memory_out_of_bounds)
        self._vm_field("CLG", ADDR, size_off)
        self._trap_unless(MASK["LE"], TrapKind.memory_out_of_bounds)
        self._vm_field("LG", VAL2, base_off)  # (a far field: VAL2 is its address, then loaded)
        e("AGR", VAL2, ADDR)
        return -width

    @_memo
    def wasm_load_at(self, name, dst, addr, offset, base_off, size_off, is64) -> None:
        width = _width(name)
        if offset + width >= (1 << 64):
            self.a.trap(TrapKind.memory_out_of_bounds)  # out of bounds whatever addr is
            return
        self._load(name, dst, lambda w: self._access_at(addr, offset, w, base_off, size_off,
                                                        is64))

    @_memo
    def wasm_store_at(self, name, addr, offset, val, base_off, size_off, is64) -> None:
        width = _width(name)
        if offset + width >= (1 << 64):
            self.a.trap(TrapKind.memory_out_of_bounds)
            return
        self._store(name, val, lambda w: self._access_at(addr, offset, w, base_off, size_off,
                                                         is64))

    @_memo
    def memory_size_at(self, dst, size_off, page_log2) -> None:
        self._ld(8, dst, VM, size_off)
        if page_log2:
            self.a.ins("SRLG", dst, dst, page_log2, 0)

    # -- calls -----------------------------------------------------------------------------------
    def call_func(self, func_index) -> None:
        buf = self.buf
        buf.use_label(self.env.func_labels[func_index], _BRASL[1])
        buf.data += _BRASL[0]

    @_memo
    def call_import(self, code_off, vmctx_off, vmctx_slot) -> None:
        self._ld(8, R1, VM, code_off)
        self._ld(8, VM, VM, vmctx_off)
        self.a.ins("BASR", LR, R1)
        self._ld(8, VM, FP, vmctx_slot)

    @_memo
    def call_indirect(self, index, base_off, len_off, sig_off, vmctx_slot) -> None:
        self._call_indirect("LLGFR", index, base_off, len_off, sig_off, vmctx_slot)

    @_memo
    def call_indirect64(self, index, base_off, len_off, sig_off, vmctx_slot) -> None:
        """`call_indirect` on a table64: the whole i64 index, compared unsigned."""
        self._call_indirect("LGR", index, base_off, len_off, sig_off, vmctx_slot)

    def _call_indirect(self, extend, index, base_off, len_off, sig_off, vmctx_slot) -> None:
        """R1 = the index (`extend`: LLGFR for an i32, LGR for an i64), bounds-checked against
        the table's u64 length, then the funcref's null and signature checks and the call."""
        e = self.a.ins
        e(extend, R1, index)
        self._rx("CLG", "CLG", R1, VM, len_off)
        self._trap_unless(MASK["L"], TrapKind.table_out_of_bounds)
        e("SLLG", R1, R1, 3, 0)
        self._rx("AG", "AG", R1, VM, base_off)
        e("LG", R1, 0, 0, R1)
        e("LTGR", R1, R1)
        self._trap_unless(MASK["NE"], TrapKind.indirect_call_null)
        self._ld(8, R0, VM, sig_off)
        e("CG", R0, 8, 0, R1)
        self._trap_unless(MASK["E"], TrapKind.indirect_call_type_mismatch)
        e("LG", VM, 16, 0, R1)
        e("LG", R1, 0, 0, R1)
        e("BASR", LR, R1)
        self._ld(8, VM, FP, vmctx_slot)

    @_memo
    def call_builtin(self, off) -> None:
        self._ld(8, R1, VM, off)
        self.a.ins("BASR", LR, R1)

    # -- NaN canonicalization (compile option, winch/codegen/nan_canon.py) ------------------------
    @_memo
    def canonicalize_nan(self, t, reg) -> None:
        """If `reg` (holding a `t`) is a NaN, make it the canonical NaN (0x7FC00000 /
        0x7FF8000000000000), else leave it: `cebr/cdbr x, x` (CC3 only when unordered), a
        branch over `llihh r0, top; ldgr x, r0` when ordered (an f32 is the FPR's left half,
        so both constants are one 16-bit field at the top of the register)."""
        e = self.a.ins
        x = reg - F0
        skip = self.new_label()
        e("CEBR" if t == F32 else "CDBR", x, x)
        self.a.brc(Cond.ORDERED, skip)
        e("LLIHH", VAL, 0x7FC0 if t == F32 else 0x7FF8)
        e("LDGR", x, VAL)
        self.bind(skip)

    # -- fuel and epoch interruption (compile options, winch/codegen/fuel.py) ---------------------
    # The fields are below the VM context (winch/vmctx.py: FUEL_VAR, LIMITS_PTR, EPOCH_PTR,
    # EPOCH_DEADLINE), in reach of the 20-bit signed displacements.  Only VAL2 (r1) and ADDR
    # (r12) are written; not memoized.
    def fuel_add(self, k: int) -> None:
        """The instance's fuel variable += k (k >= 0)."""
        from winch.vmctx import FUEL_VAR

        e = self.a.ins
        e("LG", R1, FUEL_VAR, 0, VM)
        while k > 0:
            step = min(k, 0x7FFF_FFFF)
            e("AGFI", R1, step)
            k -= step
        e("STG", R1, FUEL_VAR, 0, VM)

    def fuel_add_reg(self, reg: int, size: int) -> None:
        """The fuel variable += `reg` zero-extended from `size` (4 or 8) bytes."""
        from winch.vmctx import FUEL_VAR

        e = self.a.ins
        e("LLGFR" if size == 4 else "LGR", R1, reg)
        e("AG", R1, FUEL_VAR, 0, VM)
        e("STG", R1, FUEL_VAR, 0, VM)

    def fuel_add_if_grown(self, result: int, delta: int, size: int, check: bool) -> None:
        """Unless `result` (a grow's answer, `size` bytes) is -1: fuel variable += delta,
        then (`check`) `fuel_check_store`."""
        skip = self.new_label()
        self.a.ins("CHI" if size == 4 else "CGHI", result, -1)
        self._brc(MASK["E"], skip)
        self.fuel_add_reg(delta, size)
        if check:
            self.fuel_check_store()
        self.bind(skip)

    def fuel_check_store(self) -> None:
        """Trap `fuel` unless the fuel variable is negative (fuel left)."""
        from winch.vmctx import FUEL_VAR

        e = self.a.ins
        e("LG", R1, FUEL_VAR, 0, VM)
        e("LTGR", R1, R1)
        self._trap_unless(MASK["L"], TrapKind.fuel)

    def fuel_save(self) -> None:
        """The store's fuel consumed := the fuel variable."""
        from winch.vmctx import FUEL_VAR, LIMITS_FUEL, LIMITS_PTR

        e = self.a.ins
        e("LG", R12, LIMITS_PTR, 0, VM)
        e("LG", R1, FUEL_VAR, 0, VM)
        e("STG", R1, LIMITS_FUEL, 0, R12)

    def fuel_load(self) -> None:
        """The fuel variable := the store's fuel consumed."""
        from winch.vmctx import FUEL_VAR, LIMITS_FUEL, LIMITS_PTR

        e = self.a.ins
        e("LG", R12, LIMITS_PTR, 0, VM)
        e("LG", R1, LIMITS_FUEL, 0, R12)
        e("STG", R1, FUEL_VAR, 0, VM)

    def epoch_check(self) -> None:
        """Trap `interrupt` unless the engine's epoch is below the store's deadline."""
        from winch.vmctx import EPOCH_DEADLINE, EPOCH_PTR

        e = self.a.ins
        e("LG", R12, EPOCH_PTR, 0, VM)
        e("LG", R1, 0, 0, R12)
        e("CLG", R1, EPOCH_DEADLINE, 0, VM)
        self._trap_unless(MASK["L"], TrapKind.interrupt)  # CC 1: first operand low
