"""The AArch64 (A64) assembler: one method per mnemonic and operand form, encodings as data.

Problem
-------
The aarch64 macro-assembler needs every A64 instruction that the scalar WebAssembly 2.0
lowering uses, encoded exactly as the Arm ARM says, with operands validated up front so
that a bad operand is an `EncodingError` rather than a wrong instruction.

Layout
------
A64 is regular: each instruction class ("format") is a fixed bit layout whose opcode bits
are constant per mnemonic.  formats.py has, for every format, a *table* (a dict) from
mnemonic to the constant bits of that format and one small *encoder function*
`enc_<format>(base, ...)` that validates and places the operand fields and returns the
32-bit word; also the templates of the fast paths (below) and the label uses.  This module
re-exports them (tests, fuzz targets and the reference assemblers import them from here).

`A64Assembler` methods are thin: pick the table row, call the encoder, append the word
little-endian to the `CodeBuffer`.  Label references record a fixup with one of the
`LabelUse` kinds of formats.py (`IMM26`, `IMM19`, `IMM14`, `ADR21`); `CodeBuffer.finish()`
patches them.

Conventions
-----------
- Registers are ints 0..31.  Register 31 is the zero register (xzr/wzr) or the stack
  pointer (sp/wsp) *depending on the operand*; each method's docstring says which, using
  the notation `rd(sp)` / `rn(zr)`.
- `size` is the operand size in BYTES: 4 selects w registers, 8 selects x registers.  In
  FP methods 4 selects s registers and 8 selects d registers (16 selects q where noted).
- Memory access `width` is the number of bytes moved (1, 2, 4, 8).
- Offsets are in bytes, as written in assembly; scaled forms check alignment and divide.

Invariants
----------
- Every emitted word is a defined (non-UNPREDICTABLE) A64 encoding for ARMv8.0 (no LSE,
  no fp16), or `EncodingError` is raised and nothing is emitted.
- A method emits exactly one word, except `mov_imm` (1 to 4 words).
- A fixup patch only touches the displacement bits of its instruction.

Fast paths (issue 16)
---------------------
The forms the macro-assembler emits most (loads/stores with an immediate or register offset,
add/sub immediates and registers, compares, moves, b.cond/cbz/b/bl, brk, csinc, mov_imm)
first try a *template*: the form's word with every operand field zero, built once at import
by the general encoder (`enc_*`, the one source of truth), then the operands ORed in at their
field shifts after inline comparisons.  `type(x) is int` lets only plain ints through (bools,
floats and enums take the general path), and any operand that fails a check goes to the
general encoder, which raises the `EncodingError`.  `mov_imm` also memoizes each constant's
sequence in `_MOV_TEMPLATES` with rd = 0.  tests/test_aarch64_templates.py proves every
template and fast path equals the general encoder.
"""

from __future__ import annotations

from winch.errors import EncodingError
from winch.isa.aarch64 import imms as _imms  # noqa: F401  (tests reach it as asm._imms)
# the formats (encoders, tables, templates, label uses) are part of this module's API
from winch.isa.aarch64.formats import (  # noqa: F401
    ADDSUB_EXTENDED, ADDSUB_IMM, ADDSUB_SHIFTED, ADR, ADR21, BITFIELD, BRANCH_IMM, BRANCH_REG,
    B_COND, CB, CCMP, CSEL, Cond, DP1, DP2, DP3, EXCEPTION, EXTRACT, Extend, FCMP, FCSEL, FCVT,
    FMOV_IMM, FP, FP1, FP2, FP_INT, IMM14, IMM19, IMM26, Index, LDR_LITERAL, LOGICAL_IMM,
    LOGICAL_SHIFTED, LR, LS_POST, LS_PRE, LS_UNSCALED, MEM_OPS, MOVE_WIDE, MemOp, NOP,
    PcRelUse, SIMD_8B, SP, Shift, TB, T_ADDSUB_IMM, T_ADDSUB_RR, T_CB, T_CSEL, T_DP2,
    T_LOGICAL_RR, T_LS_REGISTER, T_LS_UNSCALED, T_LS_UNSIGNED, T_MOVE_WIDE, T_MUL, UDF, ZR,
    _BRK0, _B_COND_8, _EXT_LSL, _INVERT, _LSL, _cond, _ftype, _int, _memop, _reg, _sf, _uimm,
    enc_addsub_extended, enc_addsub_imm, enc_addsub_shifted, enc_bitfield, enc_ccmp, enc_csel,
    enc_dp1, enc_dp2, enc_dp3, enc_extract, enc_fcmp, enc_fp1, enc_fp2, enc_fp_int,
    enc_logical_imm, enc_logical_shifted, enc_ls_imm9, enc_ls_pair, enc_ls_register,
    enc_ls_unsigned, enc_move_wide, mov_imm_words,
)
from winch.masm.buffer import CodeBuffer, memo_cache

__all__ = [
    "A64Assembler",
    "ADR21",
    "Cond",
    "Extend",
    "FP",
    "IMM14",
    "IMM19",
    "IMM26",
    "Index",
    "LR",
    "PcRelUse",
    "SP",
    "Shift",
    "ZR",
    "clear_caches",
    "mov_imm_words",
]

#: mov_imm's memo: (size, value) -> the words of its sequence with rd = 0 (rd is bits 4:0 of
#: every word of a move-wide or `orr rd, zr, #imm` sequence).  Cleared when it grows past
#: `_MOV_TEMPLATES_MAX` so that a long fuzzing run cannot grow it without bound.
_MOV_TEMPLATES: dict = memo_cache()
_MOV_TEMPLATES_MAX = 1 << 16


def clear_caches() -> None:
    """Empty this module's memo (benchmarks call it so a run gets no help from an earlier one)."""
    _MOV_TEMPLATES.clear()


# ---------------------------------------------------------------------------------------------
# The assembler
# ---------------------------------------------------------------------------------------------


class A64Assembler:
    """Appends A64 instructions to a `CodeBuffer` (`self.buf`); see the module docstring.

    Register notation in docstrings: `rd(sp)` means 31 is sp/wsp, `rd(zr)` means 31 is
    xzr/wzr.  Unmarked integer registers are (zr).
    """

    __slots__ = ("buf",)

    def __init__(self, buf: CodeBuffer | None = None) -> None:
        self.buf = buf if buf is not None else CodeBuffer()

    # -- plumbing ------------------------------------------------------------------------
    def emit(self, word: int) -> None:
        """Append one raw 32-bit instruction word."""
        if type(word) is not int or not 0 <= word <= 0xFFFFFFFF:
            word = _int(word, "instruction word")
            if not 0 <= word <= 0xFFFFFFFF:
                raise EncodingError(f"instruction word out of range: {word:#x}")
        self.buf.data += word.to_bytes(4, "little")

    def offset(self) -> int:
        return self.buf.offset()

    def _emit_label(self, word: int, label, use: PcRelUse) -> None:
        buf = self.buf
        if type(label) is int and label >= 0:
            try:
                buf.label_offset(label)
            except IndexError:
                raise EncodingError(f"unknown label {label}") from None
            buf.use_label(label, use)
            buf.data += word.to_bytes(4, "little")
            return
        label = _int(label, "label")
        try:
            if label < 0:
                raise IndexError
            self.buf.label_offset(label)
        except IndexError:
            raise EncodingError(f"unknown label {label}") from None
        self.buf.use_label(label, use)
        self.emit(word)

    # -- add / subtract --------------------------------------------------------------------
    def _addsub_imm(self, name, size, rd, rn, imm12, shift):
        base = T_ADDSUB_IMM[name].get(size)
        if (base is not None and type(imm12) is int and type(rn) is int and type(rd) is int
                and type(shift) is int and 0 <= imm12 <= 0xFFF and 0 <= rn <= 31
                and 0 <= rd <= 31 and (shift == 0 or shift == 12)):
            self.buf.data += (base | (shift and 1 << 22) | imm12 << 10 | rn << 5
                              | rd).to_bytes(4, "little")
            return
        self.emit(enc_addsub_imm(ADDSUB_IMM[name], size, rd, rn, imm12, shift))

    def add_imm(self, size, rd, rn, imm12, shift=0):
        """add rd(sp), rn(sp), #imm12{, lsl #12}."""
        self._addsub_imm("add", size, rd, rn, imm12, shift)

    def adds_imm(self, size, rd, rn, imm12, shift=0):
        """adds rd(zr), rn(sp), #imm12{, lsl #12}."""
        self._addsub_imm("adds", size, rd, rn, imm12, shift)

    def sub_imm(self, size, rd, rn, imm12, shift=0):
        """sub rd(sp), rn(sp), #imm12{, lsl #12}."""
        self._addsub_imm("sub", size, rd, rn, imm12, shift)

    def subs_imm(self, size, rd, rn, imm12, shift=0):
        """subs rd(zr), rn(sp), #imm12{, lsl #12}."""
        self._addsub_imm("subs", size, rd, rn, imm12, shift)

    def cmp_imm(self, size, rn, imm12, shift=0):
        """cmp rn(sp), #imm12{, lsl #12} (subs zr, rn, #imm)."""
        self._addsub_imm("subs", size, ZR, rn, imm12, shift)

    def cmn_imm(self, size, rn, imm12, shift=0):
        """cmn rn(sp), #imm12{, lsl #12} (adds zr, rn, #imm)."""
        self._addsub_imm("adds", size, ZR, rn, imm12, shift)

    def mov_sp(self, size, rd, rn):
        """mov rd(sp), rn(sp) (add rd, rn, #0): the register move that can read/write sp."""
        self._addsub_imm("add", size, rd, rn, 0, 0)

    def _rrr(self, templates, size, rd, rn, rm) -> bool:
        """The fast path of a three-register form with LSL #0: True if it emitted."""
        base = templates.get(size)
        if (base is not None and type(rd) is int and type(rn) is int and type(rm) is int
                and 0 <= rd <= 31 and 0 <= rn <= 31 and 0 <= rm <= 31):
            self.buf.data += (base | rm << 16 | rn << 5 | rd).to_bytes(4, "little")
            return True
        return False

    def _addsub_rr(self, name, size, rd, rn, rm, shift, amount):
        if (shift is _LSL and amount == 0 and type(amount) is int
                and self._rrr(T_ADDSUB_RR[name], size, rd, rn, rm)):
            return
        self.emit(enc_addsub_shifted(ADDSUB_SHIFTED[name], size, rd, rn, rm, shift, amount))

    def add_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """add rd(zr), rn(zr), rm(zr){, lsl|lsr|asr #amount}."""
        self._addsub_rr("add", size, rd, rn, rm, shift, amount)

    def adds_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """adds rd(zr), rn(zr), rm(zr){, lsl|lsr|asr #amount}."""
        self._addsub_rr("adds", size, rd, rn, rm, shift, amount)

    def sub_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """sub rd(zr), rn(zr), rm(zr){, lsl|lsr|asr #amount}."""
        self._addsub_rr("sub", size, rd, rn, rm, shift, amount)

    def subs_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """subs rd(zr), rn(zr), rm(zr){, lsl|lsr|asr #amount}."""
        self._addsub_rr("subs", size, rd, rn, rm, shift, amount)

    def cmp_rr(self, size, rn, rm, shift=Shift.LSL, amount=0):
        """cmp rn(zr), rm(zr){, shift #amount} (subs zr, rn, rm)."""
        self._addsub_rr("subs", size, ZR, rn, rm, shift, amount)

    def cmn_rr(self, size, rn, rm, shift=Shift.LSL, amount=0):
        """cmn rn(zr), rm(zr){, shift #amount} (adds zr, rn, rm)."""
        self.adds_rr(size, ZR, rn, rm, shift, amount)

    def neg(self, size, rd, rm, shift=Shift.LSL, amount=0):
        """neg rd(zr), rm(zr){, shift #amount} (sub rd, zr, rm)."""
        self.sub_rr(size, rd, ZR, rm, shift, amount)

    def negs(self, size, rd, rm, shift=Shift.LSL, amount=0):
        """negs rd(zr), rm(zr){, shift #amount} (subs rd, zr, rm)."""
        self.subs_rr(size, rd, ZR, rm, shift, amount)

    def add_ext(self, size, rd, rn, rm, extend=Extend.UXTX, amount=0):
        """add rd(sp), rn(sp), rm(zr), extend {#amount 0..4}; with size 8, rm is x only for
        UXTX/SXTX and w otherwise."""
        self.emit(enc_addsub_extended(ADDSUB_EXTENDED["add"], size, rd, rn, rm, extend, amount))

    def adds_ext(self, size, rd, rn, rm, extend=Extend.UXTX, amount=0):
        """adds rd(zr), rn(sp), rm(zr), extend {#amount}."""
        self.emit(enc_addsub_extended(ADDSUB_EXTENDED["adds"], size, rd, rn, rm, extend,
                                      amount))

    def sub_ext(self, size, rd, rn, rm, extend=Extend.UXTX, amount=0):
        """sub rd(sp), rn(sp), rm(zr), extend {#amount}."""
        self.emit(enc_addsub_extended(ADDSUB_EXTENDED["sub"], size, rd, rn, rm, extend, amount))

    def subs_ext(self, size, rd, rn, rm, extend=Extend.UXTX, amount=0):
        """subs rd(zr), rn(sp), rm(zr), extend {#amount}."""
        self.emit(enc_addsub_extended(ADDSUB_EXTENDED["subs"], size, rd, rn, rm, extend,
                                      amount))

    def cmp_ext(self, size, rn, rm, extend=Extend.UXTX, amount=0):
        """cmp rn(sp), rm(zr), extend {#amount} (subs zr, ...)."""
        self.subs_ext(size, ZR, rn, rm, extend, amount)

    def cmn_ext(self, size, rn, rm, extend=Extend.UXTX, amount=0):
        """cmn rn(sp), rm(zr), extend {#amount} (adds zr, ...)."""
        self.adds_ext(size, ZR, rn, rm, extend, amount)

    # -- logical ---------------------------------------------------------------------------
    def _logical_rr(self, name, size, rd, rn, rm, shift, amount):
        if (shift is _LSL and amount == 0 and type(amount) is int
                and self._rrr(T_LOGICAL_RR[name], size, rd, rn, rm)):
            return
        self.emit(enc_logical_shifted(LOGICAL_SHIFTED[name], size, rd, rn, rm, shift, amount))

    def and_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """and rd(zr), rn(zr), rm(zr){, lsl|lsr|asr|ror #amount}."""
        self._logical_rr("and", size, rd, rn, rm, shift, amount)

    def orr_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """orr rd(zr), rn(zr), rm(zr){, shift #amount}."""
        self._logical_rr("orr", size, rd, rn, rm, shift, amount)

    def eor_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """eor rd(zr), rn(zr), rm(zr){, shift #amount}."""
        self._logical_rr("eor", size, rd, rn, rm, shift, amount)

    def ands_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """ands rd(zr), rn(zr), rm(zr){, shift #amount}."""
        self._logical_rr("ands", size, rd, rn, rm, shift, amount)

    def bic_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """bic rd(zr), rn(zr), rm(zr){, shift #amount}: rn & ~(rm shifted)."""
        self._logical_rr("bic", size, rd, rn, rm, shift, amount)

    def bics_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """bics rd(zr), rn(zr), rm(zr){, shift #amount}."""
        self._logical_rr("bics", size, rd, rn, rm, shift, amount)

    def orn_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """orn rd(zr), rn(zr), rm(zr){, shift #amount}: rn | ~(rm shifted)."""
        self._logical_rr("orn", size, rd, rn, rm, shift, amount)

    def eon_rr(self, size, rd, rn, rm, shift=Shift.LSL, amount=0):
        """eon rd(zr), rn(zr), rm(zr){, shift #amount}: rn ^ ~(rm shifted)."""
        self._logical_rr("eon", size, rd, rn, rm, shift, amount)

    def tst_rr(self, size, rn, rm, shift=Shift.LSL, amount=0):
        """tst rn(zr), rm(zr){, shift #amount} (ands zr, rn, rm)."""
        self._logical_rr("ands", size, ZR, rn, rm, shift, amount)

    def mov_rr(self, size, rd, rm):
        """mov rd(zr), rm(zr) (orr rd, zr, rm).  Use `mov_sp` when sp is involved."""
        if not self._rrr(T_LOGICAL_RR["orr"], size, rd, ZR, rm):
            self.emit(enc_logical_shifted(LOGICAL_SHIFTED["orr"], size, rd, ZR, rm))

    def mvn(self, size, rd, rm, shift=Shift.LSL, amount=0):
        """mvn rd(zr), rm(zr){, shift #amount} (orn rd, zr, rm)."""
        self._logical_rr("orn", size, rd, ZR, rm, shift, amount)

    def and_imm(self, size, rd, rn, value):
        """and rd(sp), rn(zr), #bitmask; `value` is the mask itself (see imms)."""
        self.emit(enc_logical_imm(LOGICAL_IMM["and"], size, rd, rn, value))

    def orr_imm(self, size, rd, rn, value):
        """orr rd(sp), rn(zr), #bitmask."""
        self.emit(enc_logical_imm(LOGICAL_IMM["orr"], size, rd, rn, value))

    def eor_imm(self, size, rd, rn, value):
        """eor rd(sp), rn(zr), #bitmask."""
        self.emit(enc_logical_imm(LOGICAL_IMM["eor"], size, rd, rn, value))

    def ands_imm(self, size, rd, rn, value):
        """ands rd(zr), rn(zr), #bitmask."""
        self.emit(enc_logical_imm(LOGICAL_IMM["ands"], size, rd, rn, value))

    def tst_imm(self, size, rn, value):
        """tst rn(zr), #bitmask (ands zr, rn, #bitmask)."""
        self.ands_imm(size, ZR, rn, value)

    # -- moves of constants ----------------------------------------------------------------
    def _move_wide(self, name, size, rd, imm16, shift):
        base = T_MOVE_WIDE[name].get(size)
        if (base is not None and type(imm16) is int and type(rd) is int and type(shift) is int
                and 0 <= imm16 <= 0xFFFF and 0 <= rd <= 31
                and (shift == 0 or shift == 16 or (size == 8 and (shift == 32 or shift == 48)))):
            self.buf.data += (base | (shift >> 4) << 21 | imm16 << 5 | rd).to_bytes(4, "little")
            return
        self.emit(enc_move_wide(MOVE_WIDE[name], size, rd, imm16, shift))

    def movz(self, size, rd, imm16, shift=0):
        """movz rd(zr), #imm16{, lsl #shift}; shift in 0, 16 (and 32, 48 for size 8)."""
        self._move_wide("movz", size, rd, imm16, shift)

    def movn(self, size, rd, imm16, shift=0):
        """movn rd(zr), #imm16{, lsl #shift}: rd = ~(imm16 << shift)."""
        self._move_wide("movn", size, rd, imm16, shift)

    def movk(self, size, rd, imm16, shift=0):
        """movk rd(zr), #imm16{, lsl #shift}: replace one 16-bit half of rd."""
        self._move_wide("movk", size, rd, imm16, shift)

    def mov_imm(self, size, rd, value) -> int:
        """Put `value` (signed or unsigned, mod 2**(8*size)) into rd with a shortest
        movz/movn/orr(+movk) sequence; returns the instruction count (1..4).  rd != 31."""
        if type(value) is int and type(size) is int and type(rd) is int and 0 <= rd <= 30:
            words = _MOV_TEMPLATES.get((size, value))
            if words is None:
                words = mov_imm_words(size, value)  # validates size and value
                if len(_MOV_TEMPLATES) >= _MOV_TEMPLATES_MAX:
                    _MOV_TEMPLATES.clear()
                _MOV_TEMPLATES[(size, value)] = words
        else:
            if _reg(rd, "rd") == 31:
                raise EncodingError("mov_imm into register 31 is not supported")
            words = mov_imm_words(size, value)
        data = self.buf.data
        for word in words:
            data += (word | rd).to_bytes(4, "little")
        return len(words)

    # -- shifts and bitfields --------------------------------------------------------------
    def lslv(self, size, rd, rn, rm):
        """lsl rd, rn, rm (lslv; the count is rm mod 8*size)."""
        self.emit(enc_dp2(DP2["lslv"], size, rd, rn, rm))

    def lsrv(self, size, rd, rn, rm):
        """lsr rd, rn, rm (lsrv)."""
        self.emit(enc_dp2(DP2["lsrv"], size, rd, rn, rm))

    def asrv(self, size, rd, rn, rm):
        """asr rd, rn, rm (asrv)."""
        self.emit(enc_dp2(DP2["asrv"], size, rd, rn, rm))

    def rorv(self, size, rd, rn, rm):
        """ror rd, rn, rm (rorv)."""
        self.emit(enc_dp2(DP2["rorv"], size, rd, rn, rm))

    def ubfm(self, size, rd, rn, immr, imms):
        """ubfm rd, rn, #immr, #imms (immr, imms < 8*size)."""
        self.emit(enc_bitfield(BITFIELD["ubfm"], size, rd, rn, immr, imms))

    def sbfm(self, size, rd, rn, immr, imms):
        """sbfm rd, rn, #immr, #imms."""
        self.emit(enc_bitfield(BITFIELD["sbfm"], size, rd, rn, immr, imms))

    def bfm(self, size, rd, rn, immr, imms):
        """bfm rd, rn, #immr, #imms."""
        self.emit(enc_bitfield(BITFIELD["bfm"], size, rd, rn, immr, imms))

    def extr(self, size, rd, rn, rm, lsb):
        """extr rd, rn, rm, #lsb: bits lsb.. of the concatenation rn:rm."""
        self.emit(enc_extract(EXTRACT["extr"], size, rd, rn, rm, lsb))

    @staticmethod
    def _amount(size, amount, what) -> int:
        amount = _int(amount, what)
        if not 0 <= amount < 8 * size:
            raise EncodingError(f"{what} must be 0..{8 * size - 1}, not {amount}")
        return amount

    @staticmethod
    def _field(size, lsb, width) -> tuple[int, int]:
        bits = 8 * size
        lsb = _int(lsb, "bitfield lsb")
        width = _int(width, "bitfield width")
        if not 0 <= lsb < bits or not 1 <= width <= bits - lsb:
            raise EncodingError(f"bitfield lsb={lsb} width={width} does not fit in {bits} bits")
        return lsb, width

    def lsl_imm(self, size, rd, rn, amount):
        """lsl rd, rn, #amount (ubfm rd, rn, #(-amount mod w), #(w-1-amount))."""
        _sf(size)
        amount = self._amount(size, amount, "shift amount")
        bits = 8 * size
        self.ubfm(size, rd, rn, (-amount) % bits, bits - 1 - amount)

    def lsr_imm(self, size, rd, rn, amount):
        """lsr rd, rn, #amount (ubfm rd, rn, #amount, #(w-1))."""
        _sf(size)
        amount = self._amount(size, amount, "shift amount")
        self.ubfm(size, rd, rn, amount, 8 * size - 1)

    def asr_imm(self, size, rd, rn, amount):
        """asr rd, rn, #amount (sbfm rd, rn, #amount, #(w-1))."""
        _sf(size)
        amount = self._amount(size, amount, "shift amount")
        self.sbfm(size, rd, rn, amount, 8 * size - 1)

    def ror_imm(self, size, rd, rn, amount):
        """ror rd, rn, #amount (extr rd, rn, rn, #amount)."""
        self.extr(size, rd, rn, rn, amount)

    def ubfx(self, size, rd, rn, lsb, width):
        """ubfx rd, rn, #lsb, #width: zero-extended bits lsb..lsb+width-1."""
        _sf(size)
        lsb, width = self._field(size, lsb, width)
        self.ubfm(size, rd, rn, lsb, lsb + width - 1)

    def sbfx(self, size, rd, rn, lsb, width):
        """sbfx rd, rn, #lsb, #width: sign-extended bits lsb..lsb+width-1."""
        _sf(size)
        lsb, width = self._field(size, lsb, width)
        self.sbfm(size, rd, rn, lsb, lsb + width - 1)

    def ubfiz(self, size, rd, rn, lsb, width):
        """ubfiz rd, rn, #lsb, #width: low `width` bits of rn moved to bit lsb, zeros around."""
        _sf(size)
        lsb, width = self._field(size, lsb, width)
        self.ubfm(size, rd, rn, (-lsb) % (8 * size), width - 1)

    def sbfiz(self, size, rd, rn, lsb, width):
        """sbfiz rd, rn, #lsb, #width."""
        _sf(size)
        lsb, width = self._field(size, lsb, width)
        self.sbfm(size, rd, rn, (-lsb) % (8 * size), width - 1)

    def bfi(self, size, rd, rn, lsb, width):
        """bfi rd, rn, #lsb, #width: insert the low `width` bits of rn at bit lsb of rd."""
        _sf(size)
        lsb, width = self._field(size, lsb, width)
        self.bfm(size, rd, rn, (-lsb) % (8 * size), width - 1)

    def bfxil(self, size, rd, rn, lsb, width):
        """bfxil rd, rn, #lsb, #width: bits lsb.. of rn into the low bits of rd."""
        _sf(size)
        lsb, width = self._field(size, lsb, width)
        self.bfm(size, rd, rn, lsb, lsb + width - 1)

    def sxtb(self, size, rd, rn):
        """sxtb rd, wn (sbfm rd, rn, #0, #7): sign-extend a byte to 4 or 8 bytes."""
        self.sbfm(size, rd, rn, 0, 7)

    def sxth(self, size, rd, rn):
        """sxth rd, wn (sbfm rd, rn, #0, #15)."""
        self.sbfm(size, rd, rn, 0, 15)

    def sxtw(self, rd, rn):
        """sxtw xd, wn (sbfm xd, xn, #0, #31)."""
        self.sbfm(8, rd, rn, 0, 31)

    def uxtb(self, rd, rn):
        """uxtb wd, wn (ubfm wd, wn, #0, #7); writing wd zeroes bits 63:32 as well."""
        self.ubfm(4, rd, rn, 0, 7)

    def uxth(self, rd, rn):
        """uxth wd, wn (ubfm wd, wn, #0, #15)."""
        self.ubfm(4, rd, rn, 0, 15)

    def uxtw(self, rd, rn):
        """Zero-extend wn into xd: mov wd, wn (orr wd, wzr, wn)."""
        self.mov_rr(4, rd, rn)

    # -- multiply and divide ---------------------------------------------------------------
    def madd(self, size, rd, rn, rm, ra):
        """madd rd, rn, rm, ra: rd = ra + rn*rm."""
        self.emit(enc_dp3(DP3["madd"], size, rd, rn, rm, ra))

    def msub(self, size, rd, rn, rm, ra):
        """msub rd, rn, rm, ra: rd = ra - rn*rm."""
        self.emit(enc_dp3(DP3["msub"], size, rd, rn, rm, ra))

    def mul(self, size, rd, rn, rm):
        """mul rd, rn, rm (madd rd, rn, rm, zr)."""
        if not self._rrr(T_MUL, size, rd, rn, rm):
            self.madd(size, rd, rn, rm, ZR)

    def mneg(self, size, rd, rn, rm):
        """mneg rd, rn, rm (msub rd, rn, rm, zr)."""
        self.msub(size, rd, rn, rm, ZR)

    def smulh(self, rd, rn, rm):
        """smulh xd, xn, xm: high 64 bits of the signed 128-bit product."""
        self.emit(enc_dp3(DP3["smulh"], 8, rd, rn, rm, ZR))

    def umulh(self, rd, rn, rm):
        """umulh xd, xn, xm: high 64 bits of the unsigned 128-bit product."""
        self.emit(enc_dp3(DP3["umulh"], 8, rd, rn, rm, ZR))

    def smaddl(self, rd, rn, rm, ra):
        """smaddl xd, wn, wm, xa."""
        self.emit(enc_dp3(DP3["smaddl"], 8, rd, rn, rm, ra))

    def umaddl(self, rd, rn, rm, ra):
        """umaddl xd, wn, wm, xa."""
        self.emit(enc_dp3(DP3["umaddl"], 8, rd, rn, rm, ra))

    def smull(self, rd, rn, rm):
        """smull xd, wn, wm (smaddl xd, wn, wm, xzr)."""
        self.smaddl(rd, rn, rm, ZR)

    def umull(self, rd, rn, rm):
        """umull xd, wn, wm (umaddl xd, wn, wm, xzr)."""
        self.umaddl(rd, rn, rm, ZR)

    def sdiv(self, size, rd, rn, rm):
        """sdiv rd, rn, rm (rm == 0 gives 0; INT_MIN/-1 gives INT_MIN; no trap)."""
        if not self._rrr(T_DP2["sdiv"], size, rd, rn, rm):
            self.emit(enc_dp2(DP2["sdiv"], size, rd, rn, rm))

    def udiv(self, size, rd, rn, rm):
        """udiv rd, rn, rm (rm == 0 gives 0; no trap)."""
        if not self._rrr(T_DP2["udiv"], size, rd, rn, rm):
            self.emit(enc_dp2(DP2["udiv"], size, rd, rn, rm))

    # -- bit operations --------------------------------------------------------------------
    def clz(self, size, rd, rn):
        """clz rd, rn."""
        self.emit(enc_dp1(DP1["clz"], size, rd, rn))

    def cls(self, size, rd, rn):
        """cls rd, rn."""
        self.emit(enc_dp1(DP1["cls"], size, rd, rn))

    def rbit(self, size, rd, rn):
        """rbit rd, rn."""
        self.emit(enc_dp1(DP1["rbit"], size, rd, rn))

    def rev(self, size, rd, rn):
        """rev rd, rn: reverse all bytes of the 4- or 8-byte register."""
        self.emit(enc_dp1(DP1["rev_x" if size == 8 else "rev_w"], size, rd, rn))

    def rev16(self, size, rd, rn):
        """rev16 rd, rn: reverse bytes in each halfword."""
        self.emit(enc_dp1(DP1["rev16"], size, rd, rn))

    def rev32(self, rd, rn):
        """rev32 xd, xn: reverse bytes in each word."""
        self.emit(enc_dp1(DP1["rev32"], 8, rd, rn))

    # -- conditional select and compare ----------------------------------------------------
    def _csel(self, name, size, rd, rn, rm, cond):
        base = T_CSEL[name].get(size)
        if (base is not None and type(cond) is Cond and type(rd) is int and type(rn) is int
                and type(rm) is int and 0 <= rd <= 31 and 0 <= rn <= 31 and 0 <= rm <= 31):
            self.buf.data += (base | rm << 16 | cond << 12 | rn << 5 | rd).to_bytes(4, "little")
            return
        self.emit(enc_csel(CSEL[name], size, rd, rn, rm, cond))

    def csel(self, size, rd, rn, rm, cond):
        """csel rd, rn, rm, cond: rd = cond ? rn : rm."""
        self._csel("csel", size, rd, rn, rm, cond)

    def csinc(self, size, rd, rn, rm, cond):
        """csinc rd, rn, rm, cond: rd = cond ? rn : rm + 1."""
        self._csel("csinc", size, rd, rn, rm, cond)

    def csinv(self, size, rd, rn, rm, cond):
        """csinv rd, rn, rm, cond: rd = cond ? rn : ~rm."""
        self.emit(enc_csel(CSEL["csinv"], size, rd, rn, rm, cond))

    def csneg(self, size, rd, rn, rm, cond):
        """csneg rd, rn, rm, cond: rd = cond ? rn : -rm."""
        self.emit(enc_csel(CSEL["csneg"], size, rd, rn, rm, cond))

    @staticmethod
    def _invertible(cond) -> Cond:
        return Cond(_cond(cond)).invert()

    def cset(self, size, rd, cond):
        """cset rd, cond: rd = cond ? 1 : 0 (csinc rd, zr, zr, !cond); cond not AL/NV."""
        if type(cond) is Cond and cond < 14:  # Cond.AL and NV have no inverse
            self._csel("csinc", size, rd, ZR, ZR, _INVERT[cond])
        else:
            self._csel("csinc", size, rd, ZR, ZR, self._invertible(cond))

    def csetm(self, size, rd, cond):
        """csetm rd, cond: rd = cond ? -1 : 0 (csinv rd, zr, zr, !cond)."""
        self.csinv(size, rd, ZR, ZR, self._invertible(cond))

    def cinc(self, size, rd, rn, cond):
        """cinc rd, rn, cond: rd = cond ? rn + 1 : rn (csinc rd, rn, rn, !cond)."""
        self.csinc(size, rd, rn, rn, self._invertible(cond))

    def cinv(self, size, rd, rn, cond):
        """cinv rd, rn, cond (csinv rd, rn, rn, !cond)."""
        self.csinv(size, rd, rn, rn, self._invertible(cond))

    def cneg(self, size, rd, rn, cond):
        """cneg rd, rn, cond (csneg rd, rn, rn, !cond)."""
        self.csneg(size, rd, rn, rn, self._invertible(cond))

    def ccmp_rr(self, size, rn, rm, nzcv, cond):
        """ccmp rn, rm, #nzcv, cond: flags = cond ? cmp(rn, rm) : nzcv."""
        self.emit(enc_ccmp(CCMP["ccmp_rr"], size, rn, rm, nzcv, cond, False))

    def ccmp_imm(self, size, rn, imm5, nzcv, cond):
        """ccmp rn, #imm5, #nzcv, cond (imm5 0..31)."""
        self.emit(enc_ccmp(CCMP["ccmp_imm"], size, rn, imm5, nzcv, cond, True))

    def ccmn_rr(self, size, rn, rm, nzcv, cond):
        """ccmn rn, rm, #nzcv, cond."""
        self.emit(enc_ccmp(CCMP["ccmn_rr"], size, rn, rm, nzcv, cond, False))

    def ccmn_imm(self, size, rn, imm5, nzcv, cond):
        """ccmn rn, #imm5, #nzcv, cond."""
        self.emit(enc_ccmp(CCMP["ccmn_imm"], size, rn, imm5, nzcv, cond, True))

    # -- loads and stores ------------------------------------------------------------------
    # rt is (zr) for integer forms, rn is (sp), rm (register offset) is (zr).
    @staticmethod
    def _writeback_check(op: MemOp, rt, rn):
        if op.v == 0 and _reg(rn, "rn") != 31 and _reg(rn, "rn") == _reg(rt, "rt"):
            raise EncodingError("load/store writeback with rn == rt is unpredictable")

    def ls_unsigned(self, op, width, rt, rn, offset):
        """`op` ("ldr", "str", "ldrf" or "strf") rt, [rn(sp), #offset] with an unsigned
        offset scaled by width: ldr_imm, str_imm, ldr_fp_imm or str_fp_imm by name."""
        form = T_LS_UNSIGNED[op].get(width)
        if (form is not None and type(offset) is int and type(rt) is int and type(rn) is int
                and 0 <= rt <= 31 and 0 <= rn <= 31):
            base, scale = form
            if 0 <= offset < 4096 << scale and not offset & ((1 << scale) - 1):
                self.buf.data += (base | (offset >> scale) << 10 | rn << 5
                                  | rt).to_bytes(4, "little")
                return
        self.emit(enc_ls_unsigned(_memop(op, width), rt, rn, offset))

    def ls_unscaled(self, op, width, rt, rn, offset):
        """`op` ("ldr", "str", "ldrf" or "strf") rt, [rn(sp), #offset] with a signed 9-bit
        unscaled offset: ldur, stur, ldur_fp or stur_fp by name."""
        base = T_LS_UNSCALED[op].get(width)
        if (base is not None and type(offset) is int and type(rt) is int and type(rn) is int
                and -256 <= offset <= 255 and 0 <= rt <= 31 and 0 <= rn <= 31):
            self.buf.data += (base | (offset & 0x1FF) << 12 | rn << 5 | rt).to_bytes(4, "little")
            return
        self.emit(enc_ls_imm9(LS_UNSCALED, _memop(op, width), rt, rn, offset))

    def _ls_register(self, op, width, rt, rn, rm, extend, shift):
        """ldr/str (integer or FP) [rn, rm{, extend {#s}}]: template for LSL unscaled."""
        base = T_LS_REGISTER[op].get(width)
        if (base is not None and extend is _EXT_LSL and shift is False and type(rt) is int
                and type(rn) is int and type(rm) is int and 0 <= rt <= 31 and 0 <= rn <= 31
                and 0 <= rm <= 31):
            self.buf.data += (base | rm << 16 | rn << 5 | rt).to_bytes(4, "little")
            return
        self.emit(enc_ls_register(_memop(op, width), rt, rn, rm, extend, shift))

    def ldr_imm(self, width, rt, rn, offset=0):
        """ldr{b,h} rt(zr), [rn(sp), #offset]: zero-extending load of 1/2/4/8 bytes into
        wt (xt for 8); offset is a multiple of width in 0..4095*width."""
        self.ls_unsigned("ldr", width, rt, rn, offset)

    def str_imm(self, width, rt, rn, offset=0):
        """str{b,h} rt(zr), [rn(sp), #offset]: store the low 1/2/4/8 bytes."""
        self.ls_unsigned("str", width, rt, rn, offset)

    def ldrs_imm(self, width, size, rt, rn, offset=0):
        """ldrsb/ldrsh/ldrsw rt(zr), [rn(sp), #offset]: sign-extend `width` bytes to `size`."""
        self.emit(enc_ls_unsigned(_memop("ldrs", width, size), rt, rn, offset))

    def ldur(self, width, rt, rn, offset):
        """ldur{b,h} rt(zr), [rn(sp), #offset] with offset -256..255 (unscaled)."""
        self.ls_unscaled("ldr", width, rt, rn, offset)

    def stur(self, width, rt, rn, offset):
        """stur{b,h} rt(zr), [rn(sp), #offset] with offset -256..255."""
        self.ls_unscaled("str", width, rt, rn, offset)

    def ldurs(self, width, size, rt, rn, offset):
        """ldursb/ldursh/ldursw rt(zr), [rn(sp), #offset], offset -256..255."""
        self.emit(enc_ls_imm9(LS_UNSCALED, _memop("ldrs", width, size), rt, rn, offset))

    def _indexed(self, base, op, rt, rn, offset):
        self._writeback_check(op, rt, rn)
        self.emit(enc_ls_imm9(base, op, rt, rn, offset))

    def ldr_pre(self, width, rt, rn, offset):
        """ldr{b,h} rt(zr), [rn(sp), #offset]! (offset -256..255; rn != rt)."""
        self._indexed(LS_PRE, _memop("ldr", width), rt, rn, offset)

    def ldr_post(self, width, rt, rn, offset):
        """ldr{b,h} rt(zr), [rn(sp)], #offset (offset -256..255; rn != rt)."""
        self._indexed(LS_POST, _memop("ldr", width), rt, rn, offset)

    def str_pre(self, width, rt, rn, offset):
        """str{b,h} rt(zr), [rn(sp), #offset]! (offset -256..255; rn != rt)."""
        self._indexed(LS_PRE, _memop("str", width), rt, rn, offset)

    def str_post(self, width, rt, rn, offset):
        """str{b,h} rt(zr), [rn(sp)], #offset (offset -256..255; rn != rt)."""
        self._indexed(LS_POST, _memop("str", width), rt, rn, offset)

    def ldr_reg(self, width, rt, rn, rm, extend=Extend.LSL, shift=False):
        """ldr{b,h} rt(zr), [rn(sp), rm(zr){, extend {#log2(width)}}]; extend is LSL/SXTX
        (rm is x) or UXTW/SXTW (rm is w); `shift` (a bool) scales rm by width."""
        self._ls_register("ldr", width, rt, rn, rm, extend, shift)

    def str_reg(self, width, rt, rn, rm, extend=Extend.LSL, shift=False):
        """str{b,h} rt(zr), [rn(sp), rm(zr){, extend {#log2(width)}}]."""
        self._ls_register("str", width, rt, rn, rm, extend, shift)

    def ldrs_reg(self, width, size, rt, rn, rm, extend=Extend.LSL, shift=False):
        """ldrs{b,h,w} rt(zr), [rn(sp), rm(zr){, extend {#amount}}]."""
        self.emit(enc_ls_register(_memop("ldrs", width, size), rt, rn, rm, extend, shift))

    # FP/SIMD loads and stores: rt is an s (4), d (8) or q (16) register.
    def ldr_fp_imm(self, size, rt, rn, offset=0):
        """ldr st/dt/qt, [rn(sp), #offset] (unsigned, scaled by size)."""
        self.ls_unsigned("ldrf", size, rt, rn, offset)

    def str_fp_imm(self, size, rt, rn, offset=0):
        """str st/dt/qt, [rn(sp), #offset]."""
        self.ls_unsigned("strf", size, rt, rn, offset)

    def ldur_fp(self, size, rt, rn, offset):
        """ldur st/dt/qt, [rn(sp), #offset] (-256..255)."""
        self.ls_unscaled("ldrf", size, rt, rn, offset)

    def stur_fp(self, size, rt, rn, offset):
        """stur st/dt/qt, [rn(sp), #offset] (-256..255)."""
        self.ls_unscaled("strf", size, rt, rn, offset)

    def ldr_fp_pre(self, size, rt, rn, offset):
        """ldr st/dt/qt, [rn(sp), #offset]!."""
        self._indexed(LS_PRE, _memop("ldrf", size), rt, rn, offset)

    def ldr_fp_post(self, size, rt, rn, offset):
        """ldr st/dt/qt, [rn(sp)], #offset."""
        self._indexed(LS_POST, _memop("ldrf", size), rt, rn, offset)

    def str_fp_pre(self, size, rt, rn, offset):
        """str st/dt/qt, [rn(sp), #offset]!."""
        self._indexed(LS_PRE, _memop("strf", size), rt, rn, offset)

    def str_fp_post(self, size, rt, rn, offset):
        """str st/dt/qt, [rn(sp)], #offset."""
        self._indexed(LS_POST, _memop("strf", size), rt, rn, offset)

    def ldr_fp_reg(self, size, rt, rn, rm, extend=Extend.LSL, shift=False):
        """ldr st/dt/qt, [rn(sp), rm(zr){, extend {#log2(size)}}]."""
        self._ls_register("ldrf", size, rt, rn, rm, extend, shift)

    def str_fp_reg(self, size, rt, rn, rm, extend=Extend.LSL, shift=False):
        """str st/dt/qt, [rn(sp), rm(zr){, extend {#log2(size)}}]."""
        self._ls_register("strf", size, rt, rn, rm, extend, shift)

    def ldp(self, size, rt, rt2, rn, offset=0, index=Index.OFFSET):
        """ldp rt(zr), rt2(zr), [rn(sp), #offset] / [..]! / [..], #offset; offset is a
        multiple of size in -64*size..63*size, rt != rt2, writeback rn (unless sp) != rt/rt2."""
        self.emit(enc_ls_pair("gpr", size, True, rt, rt2, rn, offset, index))

    def stp(self, size, rt, rt2, rn, offset=0, index=Index.OFFSET):
        """stp rt(zr), rt2(zr), [rn(sp), #offset] / [..]! / [..], #offset."""
        self.emit(enc_ls_pair("gpr", size, False, rt, rt2, rn, offset, index))

    def ldp_fp(self, size, rt, rt2, rn, offset=0, index=Index.OFFSET):
        """ldp s/d/q pair, [rn(sp), #offset] (size 4, 8 or 16); rt != rt2."""
        self.emit(enc_ls_pair("fp", size, True, rt, rt2, rn, offset, index))

    def stp_fp(self, size, rt, rt2, rn, offset=0, index=Index.OFFSET):
        """stp s/d/q pair, [rn(sp), #offset] (size 4, 8 or 16)."""
        self.emit(enc_ls_pair("fp", size, False, rt, rt2, rn, offset, index))

    def ldr_lit(self, size, rt, label):
        """ldr wt/xt(zr), label: a PC-relative load (+-1 MiB), e.g. from the constant pool."""
        _sf(size)
        self._emit_label(LDR_LITERAL[("gpr", size)] | _reg(rt, "rt"), label, IMM19)

    def ldrsw_lit(self, rt, label):
        """ldrsw xt(zr), label."""
        self._emit_label(LDR_LITERAL[("ldrsw", 8)] | _reg(rt, "rt"), label, IMM19)

    def ldr_fp_lit(self, size, rt, label):
        """ldr st/dt/qt, label (size 4, 8 or 16)."""
        base = LDR_LITERAL.get(("fp", size))
        if base is None or isinstance(size, bool):
            raise EncodingError(f"no literal load of {size!r}-byte FP registers")
        self._emit_label(base | _reg(rt, "rt"), label, IMM19)

    def adr(self, rd, label):
        """adr xd(zr), label (+-1 MiB)."""
        self._emit_label(ADR | _reg(rd, "rd"), label, ADR21)

    # -- branches --------------------------------------------------------------------------
    def b(self, label):
        """b label (+-128 MiB)."""
        self._emit_label(BRANCH_IMM["b"], label, IMM26)

    def bl(self, label):
        """bl label (+-128 MiB); writes x30."""
        self._emit_label(BRANCH_IMM["bl"], label, IMM26)

    def bl_reloc(self, kind: str, target: int):
        """bl with a zero displacement and a relocation (`kind`, `target`) at its offset;
        the host patches imm26 (bits 25:0) with (destination - site) / 4."""
        if not isinstance(kind, str):
            raise EncodingError(f"relocation kind must be a str, not {kind!r}")
        target = _int(target, "relocation target")
        self.buf.add_reloc(kind, target)
        self.emit(BRANCH_IMM["bl"])

    def b_cond(self, cond, label):
        """b.cond label (+-1 MiB)."""
        self._emit_label(B_COND | (cond if type(cond) is Cond else _cond(cond)), label, IMM19)

    def b_cond_rel(self, cond, offset):
        """b.cond . + offset: a branch whose target is already known, `offset` bytes from
        this instruction (a multiple of 4 within +-1 MiB); no label, no fixup."""
        if type(cond) is not Cond:
            cond = _cond(cond)
        if offset == 8 and type(offset) is int:  # over one instruction: the masm's traps
            self.buf.data += _B_COND_8[cond]
            return
        self.emit(IMM19.encode(B_COND | cond, _int(offset, "branch offset")))

    def cbz(self, size, rt, label):
        """cbz wt/xt(zr), label (+-1 MiB)."""
        base = T_CB["cbz"].get(size)
        if base is not None and type(rt) is int and 0 <= rt <= 31:
            self._emit_label(base | rt, label, IMM19)
        else:
            self._emit_label(CB["cbz"] | _sf(size) << 31 | _reg(rt, "rt"), label, IMM19)

    def cbnz(self, size, rt, label):
        """cbnz wt/xt(zr), label (+-1 MiB)."""
        base = T_CB["cbnz"].get(size)
        if base is not None and type(rt) is int and 0 <= rt <= 31:
            self._emit_label(base | rt, label, IMM19)
        else:
            self._emit_label(CB["cbnz"] | _sf(size) << 31 | _reg(rt, "rt"), label, IMM19)

    def _tb(self, name, rt, bit, label):
        bit = _uimm(bit, 6, "test bit")
        word = TB[name] | (bit >> 5) << 31 | (bit & 31) << 19 | _reg(rt, "rt")
        self._emit_label(word, label, IMM14)

    def tbz(self, rt, bit, label):
        """tbz rt(zr), #bit, label: branch if bit (0..63) is zero (+-32 KiB)."""
        self._tb("tbz", rt, bit, label)

    def tbnz(self, rt, bit, label):
        """tbnz rt(zr), #bit, label (+-32 KiB)."""
        self._tb("tbnz", rt, bit, label)

    def br(self, rn):
        """br xn(zr)."""
        self.emit(BRANCH_REG["br"] | _reg(rn, "rn") << 5)

    def blr(self, rn):
        """blr xn(zr)."""
        self.emit(BRANCH_REG["blr"] | _reg(rn, "rn") << 5)

    def ret(self, rn=LR):
        """ret {xn(zr)} (default x30)."""
        self.emit(BRANCH_REG["ret"] | _reg(rn, "rn") << 5)

    # -- traps and no-ops ------------------------------------------------------------------
    def brk(self, imm16):
        """brk #imm16: the trap instruction (Unicorn intno 7, PC = the brk)."""
        if imm16 == 0 and type(imm16) is int:
            self.buf.data += _BRK0
            return
        self.emit(EXCEPTION["brk"] | _uimm(imm16, 16, "brk immediate") << 5)

    def udf(self, imm16=0):
        """udf #imm16: permanently undefined (Unicorn intno 1, also used for other UDEFs)."""
        self.emit(UDF | _uimm(imm16, 16, "udf immediate"))

    def nop(self):
        """nop."""
        self.emit(NOP)

    # -- floating point --------------------------------------------------------------------
    def fmov_rr(self, size, rd, rn):
        """fmov sd/dd, sn/dn."""
        self.emit(enc_fp1(FP1["fmov"], size, rd, rn))

    def fmov_to_gpr(self, size, rd, rn):
        """fmov wd, sn (size 4) / fmov xd, dn (size 8): raw bits FP -> GPR; rd is (zr)."""
        self.emit(enc_fp_int(FP_INT["fmov_to_gpr"], size, size, rd, rn))

    def fmov_from_gpr(self, size, rd, rn):
        """fmov sd, wn (size 4) / fmov dd, xn (size 8): raw bits GPR -> FP; rn is (zr)."""
        self.emit(enc_fp_int(FP_INT["fmov_from_gpr"], size, size, rd, rn))

    def fmov_imm(self, size, rd, value):
        """fmov sd/dd, #value for +-(16..31)/16 * 2**(-3..4); other values raise."""
        ftype = _ftype(size)
        imm8 = _imms.encode_fp_imm8(value)
        if imm8 is None:
            raise EncodingError(f"{value!r} is not an FMOV immediate")
        self.emit(FMOV_IMM | ftype << 22 | imm8 << 13 | _reg(rd, "rd"))

    def _fp1(self, name, size, rd, rn):
        self.emit(enc_fp1(FP1[name], size, rd, rn))

    def fabs(self, size, rd, rn):
        """fabs sd/dd, sn/dn."""
        self._fp1("fabs", size, rd, rn)

    def fneg(self, size, rd, rn):
        """fneg sd/dd, sn/dn."""
        self._fp1("fneg", size, rd, rn)

    def fsqrt(self, size, rd, rn):
        """fsqrt sd/dd, sn/dn."""
        self._fp1("fsqrt", size, rd, rn)

    def frintn(self, size, rd, rn):
        """frintn: round to nearest, ties to even (Wasm nearest)."""
        self._fp1("frintn", size, rd, rn)

    def frintm(self, size, rd, rn):
        """frintm: round toward -inf (Wasm floor)."""
        self._fp1("frintm", size, rd, rn)

    def frintp(self, size, rd, rn):
        """frintp: round toward +inf (Wasm ceil)."""
        self._fp1("frintp", size, rd, rn)

    def frintz(self, size, rd, rn):
        """frintz: round toward zero (Wasm trunc)."""
        self._fp1("frintz", size, rd, rn)

    def frinta(self, size, rd, rn):
        """frinta: round to nearest, ties away from zero."""
        self._fp1("frinta", size, rd, rn)

    def frinti(self, size, rd, rn):
        """frinti: round with the FPCR rounding mode."""
        self._fp1("frinti", size, rd, rn)

    def frintx(self, size, rd, rn):
        """frintx: round with the FPCR mode, signalling inexact."""
        self._fp1("frintx", size, rd, rn)

    def _fp2(self, name, size, rd, rn, rm):
        self.emit(enc_fp2(FP2[name], size, rd, rn, rm))

    def fadd(self, size, rd, rn, rm):
        """fadd sd/dd, sn/dn, sm/dm."""
        self._fp2("fadd", size, rd, rn, rm)

    def fsub(self, size, rd, rn, rm):
        """fsub."""
        self._fp2("fsub", size, rd, rn, rm)

    def fmul(self, size, rd, rn, rm):
        """fmul."""
        self._fp2("fmul", size, rd, rn, rm)

    def fdiv(self, size, rd, rn, rm):
        """fdiv."""
        self._fp2("fdiv", size, rd, rn, rm)

    def fmin(self, size, rd, rn, rm):
        """fmin (NaN-propagating, -0 < +0: Wasm min)."""
        self._fp2("fmin", size, rd, rn, rm)

    def fmax(self, size, rd, rn, rm):
        """fmax (NaN-propagating, -0 < +0: Wasm max)."""
        self._fp2("fmax", size, rd, rn, rm)

    def fminnm(self, size, rd, rn, rm):
        """fminnm (a quiet NaN operand is ignored: not Wasm min)."""
        self._fp2("fminnm", size, rd, rn, rm)

    def fmaxnm(self, size, rd, rn, rm):
        """fmaxnm (not Wasm max)."""
        self._fp2("fmaxnm", size, rd, rn, rm)

    def fnmul(self, size, rd, rn, rm):
        """fnmul: -(rn * rm)."""
        self._fp2("fnmul", size, rd, rn, rm)

    def fcmp(self, size, rn, rm):
        """fcmp sn/dn, sm/dm (lt: N, eq: ZC, gt: C, unordered: CV)."""
        self.emit(enc_fcmp(FCMP["fcmp"], size, rn, rm))

    def fcmp_zero(self, size, rn):
        """fcmp sn/dn, #0.0."""
        self.emit(enc_fcmp(FCMP["fcmp_zero"], size, rn, 0))

    def fcmpe(self, size, rn, rm):
        """fcmpe sn/dn, sm/dm (signals invalid on quiet NaN too)."""
        self.emit(enc_fcmp(FCMP["fcmpe"], size, rn, rm))

    def fcmpe_zero(self, size, rn):
        """fcmpe sn/dn, #0.0."""
        self.emit(enc_fcmp(FCMP["fcmpe_zero"], size, rn, 0))

    def fcsel(self, size, rd, rn, rm, cond):
        """fcsel sd/dd, sn/dn, sm/dm, cond."""
        self.emit(FCSEL | _ftype(size) << 22 | _reg(rm, "rm") << 16 | _cond(cond) << 12
                  | _reg(rn, "rn") << 5 | _reg(rd, "rd"))

    def fcvt(self, dst_size, src_size, rd, rn):
        """fcvt dd, sn (dst 8, src 4) or fcvt sd, dn (dst 4, src 8)."""
        base = FCVT.get((dst_size, src_size))
        if base is None or isinstance(dst_size, bool) or isinstance(src_size, bool):
            raise EncodingError(f"fcvt supports s->d and d->s only, not {src_size!r}->"
                                f"{dst_size!r} bytes")
        self.emit(base | _reg(rn, "rn") << 5 | _reg(rd, "rd"))

    def scvtf(self, fp_size, int_size, rd, rn):
        """scvtf sd/dd, wn/xn(zr): signed integer to FP."""
        self.emit(enc_fp_int(FP_INT["scvtf"], int_size, fp_size, rd, rn))

    def ucvtf(self, fp_size, int_size, rd, rn):
        """ucvtf sd/dd, wn/xn(zr): unsigned integer to FP."""
        self.emit(enc_fp_int(FP_INT["ucvtf"], int_size, fp_size, rd, rn))

    def fcvtzs(self, int_size, fp_size, rd, rn):
        """fcvtzs wd/xd(zr), sn/dn: FP to signed integer, toward zero, saturating."""
        self.emit(enc_fp_int(FP_INT["fcvtzs"], int_size, fp_size, rd, rn))

    def fcvtzu(self, int_size, fp_size, rd, rn):
        """fcvtzu wd/xd(zr), sn/dn: FP to unsigned integer, toward zero, saturating."""
        self.emit(enc_fp_int(FP_INT["fcvtzu"], int_size, fp_size, rd, rn))

    # -- Advanced SIMD, just enough for popcnt ---------------------------------------------
    def cnt_8b(self, vd, vn):
        """cnt vd.8b, vn.8b: population count per byte."""
        self.emit(SIMD_8B["cnt"] | _reg(vn, "vn") << 5 | _reg(vd, "vd"))

    def addv_8b(self, vd, vn):
        """addv bd, vn.8b: sum of the 8 bytes (mod 256)."""
        self.emit(SIMD_8B["addv"] | _reg(vn, "vn") << 5 | _reg(vd, "vd"))

    def uaddlv_8b(self, vd, vn):
        """uaddlv hd, vn.8b: widening sum of the 8 bytes."""
        self.emit(SIMD_8B["uaddlv"] | _reg(vn, "vn") << 5 | _reg(vd, "vd"))
