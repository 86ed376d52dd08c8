"""s390x field templates for recorded macro-assembler operations (compile speed, issue 16).

The recordings are ISA-independent (winch/masm/replay.py) and so is the way a template is
made and filled (winch/isa/field_templates.py, code read as one big-endian integer).  This
file says, per operation, which operands are *values* (registers, displacements,
immediates) and their classes: each class function below mirrors the choice of forms that
S390xMasm (masm.py) makes for the value, and returns `(tag, fields)`: the class, and the
instruction fields that hold the value, as `(width, field value)` (where they sit, once or
more, is found by probing).  None: no template for that value (a far displacement, an offset of 2 GiB or more,
a 64-bit constant of two instructions).

Invariants:
- Each class function is a copy of a choice in masm.py (`_rx`, `_add_imm`, `_access`,
  `alu_ri`, `cmp_ri_set`) or asm.py (`_const_sequence`, for `load_const`: its one-
  instruction forms, from the assembler's own `_LOADS64` table; a 64-bit constant that
  needs two instructions has no template, as its search would cost more than it saves).
  tests/test_s390x_templates.py fills every template over values at and around each class
  boundary and compares with the assembler.
- A class fixes every instruction emitted: only the listed fields vary within it.
"""

from __future__ import annotations

from winch.isa.field_templates import field_template, probe_masks
from winch.isa.s390x.asm import _LOADS64, INSNS
from winch.wasm.types import F32, I32

F0 = 16
_M32 = 0xFFFF_FFFF

#: An allocatable register (masm.py: S390xMasm.GPRS, FPRS) -> its class and 4-bit field.
reg = {r: ("g", ((4, r),)) for r in range(2, 11)}
reg.update({r: ("f", ((4, r - F0),)) for r in range(F0, F0 + 14)})


def rx(off: int):
    """`S390xMasm._rx`: the short (RX) form or an RXY form with DH 0 for 0..4095, else RXY
    (DL, DH); None for a far displacement (an address built in ADDR)."""
    if 0 <= off < 4096:
        return "s", ((12, off),)
    if -(1 << 19) <= off < (1 << 19):
        return "l", ((12, off & 0xFFF), (8, (off >> 12) & 0xFF))
    return None


def const(value: int, bits: int):
    """`S390xAssembler.load_const(r, value, bits)`: the one instruction `_const_sequence`
    chooses, and its immediate in the instruction's field (16 bits in RI, 32 in RIL); None
    (no template) for a 64-bit value that needs two instructions (its search is slow)."""
    if bits == 32:  # _const_sequence's two 32-bit forms
        v = value & _M32
        s = v - (1 << 32) if v >> 31 else v
        if -0x8000 <= s <= 0x7FFF:
            return "LHI", ((16, s & 0xFFFF),)
        return "IILF", ((32, v),)
    v = value & _M64
    best, best_size = None, 1 << 30
    for mnemonic, fn in _LOADS64:  # _search64's first pass (LGHI first: _const_sequence's)
        imm = fn(v)
        if imm is not None and _SIZE[mnemonic] < best_size:
            best, best_size = (mnemonic, imm), _SIZE[mnemonic]
    if best is None:
        return None
    width = 16 if best_size == 4 else 32
    return best[0], ((width, best[1] & ((1 << width) - 1)),)


_M64 = (1 << 64) - 1
_SIZE = {mnemonic: INSNS[mnemonic].size for mnemonic, _ in _LOADS64}


def _size_tf(t) -> int:
    return 4 if t in (I32, F32) else 8


def v_rx(args, off):  # _typed_ld / _typed_st (t, reg, base, off), _copy's offsets
    return rx(off)


def v_store_imm_bits(args, bits):  # _store_imm(t, base, off, bits): load_const(VAL, ...)
    return const(bits, 32 if _size_tf(args[0]) == 4 else 64)


def v_mov_ri(args, imm):  # mov_ri(size, dst, imm)
    size = args[0]
    return const(imm & _M32 if size == 4 else imm, 32 if size == 4 else 64)


def _s(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def v_alu_ri(args, imm):  # alu_ri(op, size, dst, imm)
    op, size = args[0], args[1]
    imm &= (1 << (8 * size)) - 1
    simm = _s(imm, 8 * size)
    if op in ("add", "mul") and -(1 << 31) <= simm < (1 << 31):
        return "i", ((32, simm & _M32),)
    if op == "sub" and -(1 << 31) < simm <= (1 << 31):
        return "i", ((32, -simm & _M32),)
    if op in ("and", "or", "xor") and size == 4:
        return "i", ((32, imm),)
    c = const(imm, 8 * size)  # into R0, then the register form
    return None if c is None else (("r", c[0]), c[1])


def v_cmp_ri(args, imm):  # cmp_ri_set(cond, size, dst, lhs, imm)
    signed = args[0].endswith("_s")
    if args[1] == 4:
        imm &= _M32
        return "i", ((32, imm),)  # CFI (signed, the same bits) or CLFI
    imm &= (1 << 64) - 1
    simm = _s(imm, 64)
    if signed and -(1 << 31) <= simm < (1 << 31):
        return "i", ((32, simm & _M32),)
    if not signed and imm < (1 << 32):
        return "i", ((32, imm),)
    c = const(imm, 64)
    return None if c is None else (("r", c[0]), c[1])


def _access(width: int, offset: int):
    """`S390xMasm._access`: AGFI ADDR, offset + width; then the displacement: the offset
    itself (RXY, or RX for STC, below 4096) below 2**19, else AGFI VAL2, offset and 0."""
    end = offset + width
    if offset < 0 or end >= (1 << 31):
        return None
    head = ((32, end),)
    if offset < 4096:
        return "s", head + ((12, offset),)
    if offset < (1 << 19):
        return "l", head + ((12, offset & 0xFFF), (8, offset >> 12))
    return "f", head + ((32, offset),)


def access(widths):
    """The value class of wasm_load / wasm_store's offset, the access width in
    `widths[args[0]]`."""
    def v(args, offset):
        return _access(widths[args[0]], offset)
    return v


LOAD_WIDTHS = {
    "i32.load": 4, "i64.load": 8, "f32.load": 4, "f64.load": 8, "i32.load8_s": 1,
    "i32.load8_u": 1, "i32.load16_s": 2, "i32.load16_u": 2, "i64.load8_s": 1,
    "i64.load8_u": 1, "i64.load16_s": 2, "i64.load16_u": 2, "i64.load32_s": 4,
    "i64.load32_u": 4,
}
STORE_WIDTHS = {
    "i32.store": 4, "i64.store": 8, "f32.store": 4, "f64.store": 8, "i32.store8": 1,
    "i32.store16": 2, "i64.store8": 1, "i64.store16": 2, "i64.store32": 4,
}


# XOR masks tried for a probe (`probe_masks`): registers' low bits, displacements (bits
# 0..11 and 12..19), immediates' low bits.
_MASKS = (0x1, 0x2, 0x3, 0x4, 0x5, 0x8, 0x18, 0x38, 0x78, 0xF8, 0x1F8, 0x3F8, 0x7F8, 0xFF8,
          0x1008, 0x3018, 0x5558, 0x2AA8, 0x1000, 0x3000, 0x11008, 0x7, 0xF, 0xFF, 0xFFF,
          0x555, 0xAAA, 0x1001, 0x5555, 0x2AAA, 0x10_1008, 0x55_5558, 0x2A_AAA8)


def masks(value: int):
    return probe_masks(value, _MASKS)


def template(*values):
    return field_template(values, masks, "big")
