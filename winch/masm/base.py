"""The ISA-independent MacroAssembler interface the compiler (winch/codegen) calls.

Registers are ints in a per-ISA numbering; `FPR_SET` tells which are float registers.  Types
are Wasm value-type codes (winch.wasm.types).  Operation kinds are the strings below, the
same names the opcode table uses, so the compiler passes them through without translation.
Frame offsets are relative to the frame pointer (see winch/codegen/frame.py); the outgoing
argument area is addressed by slot index from the stack pointer.

An ISA supplies the register lists, `_typed_ld`/`_typed_st`/`_store_imm`/`_copy` (native
loads and stores by type), and every method that raises NotImplementedError here.

Scratch registers are never allocated; each ISA's module docstring names them and their
owners: a value scratch that no addressing helper writes, so `_store_imm` and `_copy` may hold
the value there while the helper builds an out-of-range slot address in the address scratch
(DESIGN.md §3; issue 15 was the two being the same register on aarch64).
"""

from __future__ import annotations

# -- operation kinds -----------------------------------------------------------------------------
ALU_OPS = frozenset(("add", "sub", "mul", "and", "or", "xor"))
SHIFT_OPS = frozenset(("shl", "shr_s", "shr_u", "rotl", "rotr"))
DIVREM_OPS = frozenset(("div_s", "div_u", "rem_s", "rem_u"))
INT_UNOPS = frozenset(("clz", "ctz", "popcnt", "extend8_s", "extend16_s", "extend32_s"))
INT_CONDS = frozenset(("eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s",
                       "ge_u"))
FLOAT_BINOPS = frozenset(("add", "sub", "mul", "div", "min", "max", "copysign"))
FLOAT_UNOPS = frozenset(("abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"))
FLOAT_CONDS = frozenset(("eq", "ne", "lt", "gt", "le", "ge"))

# the methods every ISA implements (checked by tests/test_masm_interface.py)
REQUIRED = (
    "prologue", "finish_frame", "epilogue", "fuel_check", "trap",
    "mov_rr", "fmov_rr", "mov_ri", "fconst", "load_vmctx",
    "alu_imm_ok", "cmp_imm_ok", "alu_rr", "alu_ri", "shift_rr", "shift_ri", "divrem_regs",
    "divrem", "unop", "cmp_rr_set", "cmp_ri_set", "select",
    "fcmp_set", "fbin", "fun", "convert",
    "jump", "branch_zero", "branch_nonzero", "br_table",
    "global_get", "global_set", "memory_size", "wasm_load", "wasm_store",
    "call_func", "call_import", "call_indirect", "call_builtin",
    "_typed_ld", "_typed_st", "_store_imm", "_copy",
    "canonicalize_nan",  # (t, reg): a NaN in reg becomes the canonical one (codegen/nan_canon)
    # fuel and epoch interruption (codegen/fuel.py): the fields below the VM context
    "fuel_add", "fuel_add_reg", "fuel_add_if_grown", "fuel_check_store", "fuel_save",
    "fuel_load", "epoch_check",
)


class MacroAssembler:
    GPRS: tuple = ()  # allocatable, in allocation order
    FPRS: tuple = ()
    FPR_SET: frozenset = frozenset()
    RET_GPR: int = 0
    RET_FPR: int = 0
    SHIFT_COUNT_REG = None  # a fixed register for variable shift counts (x64: rcx)
    FP: int = 0  # frame pointer and stack pointer, in the ISA's numbering
    SP: int = 0

    def __init__(self, buf, env):
        self.buf = buf
        self.env = env

    # -- the code buffer -------------------------------------------------------------------------
    def new_label(self) -> int:
        return self.buf.new_label()

    def bind(self, label: int) -> None:
        self.buf.bind_label(label)

    def offset(self) -> int:
        return self.buf.offset()

    def align_function(self) -> None:
        """No padding by default: code size matters more than fetch alignment here."""

    # -- frame slots and the outgoing area, through the ISA's typed loads and stores ------------
    def load_slot(self, t, reg, off) -> None:
        self._typed_ld(t, reg, self.FP, off)

    def store_slot(self, t, off, reg) -> None:
        self._typed_st(t, reg, self.FP, off)

    def store_slot_imm(self, t, off, bits) -> None:
        self._store_imm(t, self.FP, off, bits)

    def copy_slot(self, t, dst_off, src_off) -> None:
        self._copy(t, self.FP, dst_off, self.FP, src_off)

    def store_out(self, t, k, reg) -> None:
        self._typed_st(t, reg, self.SP, 8 * k)

    def store_out_imm(self, t, k, bits) -> None:
        self._store_imm(t, self.SP, 8 * k, bits)

    def copy_to_out(self, t, k, src_off) -> None:
        self._copy(t, self.SP, 8 * k, self.FP, src_off)

    def load_out(self, t, reg, k) -> None:
        self._typed_ld(t, reg, self.SP, 8 * k)
