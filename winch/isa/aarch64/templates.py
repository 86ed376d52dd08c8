"""aarch64 field templates for recorded macro-assembler operations (compile speed, issue 16).

The recordings are ISA-independent (winch/masm/replay.py) and so is the way a template is
made and filled (winch/isa/field_templates.py).  This file says, per operation, which
operands are *values* (registers, memory and slot offsets, immediates) and their classes:
each class function below mirrors the choice of forms that A64Masm (masm.py) and its helpers
make for the value, and returns `(tag, fields)`: the class, and the instruction fields that hold the
value, as `(width, field value)` (where they sit, once or more, is found by probing).  None:
no template for that value (a form whose fields are not the value's bits, such as a far
offset built by a long constant).  Registers are values too (`reg`): their 5-bit fields.

Invariants:
- Each class function is a copy of a choice in masm.py (`_add_const`, `_ldst`, `_mov_imm`,
  `alu_ri`, `_cmp_imm`, `_bounds`); tests/test_aarch64_templates.py fills every template
  over values at and around each class boundary and compares with the assembler.
- A class fixes every instruction emitted: only the listed fields vary within it.
"""

from __future__ import annotations

from winch.isa.aarch64.imms import encode_logical_imm
from winch.isa.field_templates import field_template, probe_masks
from winch.masm.buffer import memo_cache
from winch.wasm.types import F32, I32

V0 = 32


def add_const(value: int):
    """`A64Masm._add_const(rd, rn, value)`: one add, one or two add/sub (hi << 12, lo), or
    (None) a constant in a register."""
    if 0 <= value <= 0xFFF:
        return "a", ((12, value),)
    mag = -value if value < 0 else value
    if mag < (1 << 24):
        hi, lo = mag >> 12, mag & 0xFFF
        if hi and lo:
            return ("-hl" if value < 0 else "+hl"), ((12, hi), (12, lo))
        if hi:
            return ("-h" if value < 0 else "+h"), ((12, hi),)
        return ("-l" if value < 0 else "+l"), ((12, lo),)
    return None


def ldst(width: int, off: int):
    """`A64Masm._ldst`: scaled unsigned imm12, unscaled imm9, or far (`_add_const` into
    ADDR, then offset 0)."""
    if 0 <= off <= 4095 * width and off % width == 0:
        return "u", ((12, off // width),)
    if -256 <= off <= 255:
        return "n", ((9, off & 0x1FF),)
    c = add_const(off)
    return None if c is None else ("f" + c[0], c[1])


def mov_imm(size: int, value: int):
    """`A64Masm._mov_imm` (and `mov_imm_words`, imms.mov_imm_sequence): 0 is `mov rd, zr`;
    else movz or movn and movks on the halves that are not 0 (movn: not 0xFFFF); None for
    the `orr` of a bitmask immediate (chosen when it is shorter)."""
    value &= (1 << (8 * size)) - 1
    if value < 0x10000:  # the common case: one movz (or mov rd, zr)
        return ("0", ()) if value == 0 else (_MOVZ0, ((16, value),))
    c = _MOV_CLASSES.get((size, value), False)
    if c is False:
        c = _mov_class(size, value)
        if len(_MOV_CLASSES) >= 1 << 14:
            _MOV_CLASSES.clear()
        _MOV_CLASSES[size, value] = c
    return c


def _mov_class(size: int, value: int):
    halves = [(value >> s) & 0xFFFF for s in range(0, 8 * size, 16)]
    len_z = sum(h != 0 for h in halves) or 1
    len_n = sum(h != 0xFFFF for h in halves) or 1
    if min(len_z, len_n) > 1 and encode_logical_imm(value, size) is not None:
        return None
    inverted = len_z > len_n
    skip = 0xFFFF if inverted else 0
    present = tuple(i for i, h in enumerate(halves) if h != skip)
    if not present:
        return None  # movn #0: all ones, the only value of its class
    fields = ((16, halves[present[0]] ^ skip),) + tuple((16, halves[i]) for i in present[1:])
    return ("n" if inverted else "z", present), fields


_MOVZ0 = ("z", (0,))
#: (size, value) -> `mov_imm`'s class, for values of more than one half (whose class asks
#: `encode_logical_imm`): constants recur with other registers.  Bounded (2**14 entries).
_MOV_CLASSES: dict = memo_cache()
_GPRS = frozenset(range(0, 16)) | frozenset(range(19, 28))


#: An allocatable register (masm.py: A64Masm.GPRS, FPRS) -> its class and 5-bit field.
reg = {r: ("g", ((5, r),)) for r in _GPRS}
reg.update({r: ("v", ((5, r - V0),)) for r in range(V0, V0 + 31)})


def _ls_width(t, r) -> int:
    if r >= V0:
        return 4 if t == F32 else 8
    return 4 if t == I32 else 8


def _size_tf(t) -> int:
    return 4 if t in (I32, F32) else 8


def v_typed(args, off):  # _typed_ld / _typed_st (t, reg, base, off)
    return ldst(_ls_width(args[0], args[1]), off)


def v_copy(args, off):  # _copy(t, dbase, doff, sbase, soff)
    return ldst(_size_tf(args[0]), off)


def v_store_imm_bits(args, bits):  # _store_imm(t, base, off, bits): the constant
    if bits == 0:
        return "zr", ()
    return mov_imm(_size_tf(args[0]), bits)


def v_store_imm_off(args, off):  # _store_imm(t, base, off, bits): the slot
    return ldst(_size_tf(args[0]), off)


def v_mov_ri(args, imm):  # mov_ri(size, dst, imm)
    return mov_imm(4 if args[0] == 4 else 8, imm)


def v_fconst_bits(args, bits):  # fconst(t, dst, bits): fmov from xzr, or from ADDR
    if bits == 0:
        return "zr", ()
    return mov_imm(4 if args[0] == F32 else 8, bits)


def v_alu_ri(args, imm):  # alu_ri(op, size, dst, imm)
    op, size = args[0], args[1]
    mask = (1 << (8 * size)) - 1
    imm &= mask
    if op in ("add", "sub"):
        if imm < 4096:
            return "i", ((12, imm),)
        neg = (-imm) & mask
        if neg < 4096:
            return "n", ((12, neg),)
    elif op in ("and", "or", "xor"):
        f = encode_logical_imm(imm, size)
        if f is not None:
            n, immr, imms = f
            return "L", ((13, n << 12 | immr << 6 | imms),)
    c = mov_imm(size, imm)  # into ADDR, then the register form
    return None if c is None else (("r", c[0]), c[1])


def v_cmp_ri(args, imm):  # cmp_ri_set(cond, size, dst, lhs, imm): A64Masm._cmp_imm
    size = args[1]
    mask = (1 << (8 * size)) - 1
    imm &= mask
    if imm < 4096:
        return "i", ((12, imm),)
    neg = (-imm) & mask
    if neg < 4096:
        return "n", ((12, neg),)
    c = mov_imm(size, imm)
    return None if c is None else (("r", c[0]), c[1])


def _access(width: int, offset: int):
    """`A64Masm._bounds`: `_add_const(VAL, addr, offset + width)`, then, if offset,
    `_add_const(VAL, VAL, offset)` (offset 0: no template, one sequence anyway)."""
    end = add_const(offset + width)
    if end is None or not offset or (offset > 0xFFF and not offset & 0xFFF):
        return None  # offset 0, or a multiple of 4096: end's low field is the width
    rest = add_const(offset)
    if rest is None:
        return None
    if end[0] == rest[0] == "+hl" and (offset + width) >> 12 == offset >> 12:
        # one high part for both adds (no carry from the width): one field, read twice
        return (end[0], rest[0], "="), end[1] + rest[1][1:]
    return (end[0], rest[0]), end[1] + rest[1]


def access(widths):
    """The value class of wasm_load / wasm_store's offset, the access width in
    `widths[args[0]]`."""
    def v(args, offset):
        return _access(widths[args[0]], offset)
    return v


# XOR masks tried for a probe (`probe_masks`): registers' low bits, offsets keeping their
# alignment (multiples of 8), immediates' low bits.
_MASKS = (0x1, 0x2, 0x3, 0x4, 0x5, 0x8, 0x18, 0x38, 0x78, 0xF8, 0x1F8, 0x3F8, 0x7F8, 0xFF8,
          0x7FF8, 0x1008, 0x3018, 0x5558, 0x2AA8, 0x10_1008, 0x55_5558, 0x2A_AAA8, 0x33_3338,
          0x1000, 0x3000, 0x7, 0xF, 0xFF, 0xFFF, 0x555, 0xAAA, 0x1001, 0x5555, 0x2AAA)


def masks(value: int):
    # low field 0xFFF: an access's end carries into the high field
    return probe_masks(value, _MASKS, [((value & 0xFFF) ^ 0xFFF) | hi
                                       for hi in (0x1000, 0x2000, 0x3000)])


def template(*values):
    return field_template(values, masks, "little")
