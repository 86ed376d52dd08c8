"""x64 byte templates for recorded macro-assembler sequences (compile speed).

The recordings themselves are ISA-independent (winch/masm/replay.py: a method decorated
with `memo` runs through the assembler the first time it sees its operands, and is replayed
after).  Here, x64 operations also share one *template* between operands that differ only
in values: a memory access's offset and its two registers (`access_template`: one template
per operation and displacement widths, the fields found by winch/isa/field_templates.py from
a probe), and an immediate (`imm_template`); the values are patched into the template.  The
template of a key is built from the first operands' own recording (assembled in place, as
they must be anyway) and one probe's.

Invariants:
- A template is kept only if patching it reproduces what the assembler emits for the values
  it was made from and for the probe's (else no template: each operand tuple is assembled).
  A class is one encoding form: the class functions below mirror the assembler's choice of
  form; tests/test_x64_templates.py checks every template against the assembler over values
  at and around every class boundary, and every pair of registers.
- Templates live in the recordings' `memo_cache()` dicts: planting a deliberate bug
  (oracle/mutants.py) empties them, and none is made while a method of X64Masm is patched
  (`field_templates.seal` / `unpatched`): a bug that shows for some values of a class only
  would else be hidden, or carried to other values, by a template.
"""

from __future__ import annotations

from winch.isa.field_templates import fill_code, locate, unpatched
from winch.masm.replay import Recordings
from winch.wasm.types import F32, I32

RSP = 4
XMM0 = 16  # X64Masm numbers XMM n as 16 + n
#: the x64 macro-assembler's recordings (winch/masm/replay.py), at most LIMIT per method
LIMIT = 50_000  # a long fuzzing run sees ever new immediates
RECORDINGS = Recordings(LIMIT)
CACHES = RECORDINGS.caches
clear = RECORDINGS.clear
memo = RECORDINGS.memo


def record_alone(masm, fn, args):
    """What `fn(masm', *args)` emits into a fresh buffer (`CodeBuffer.recorded`), or None."""
    buf = type(masm.buf)()
    fn(type(masm)(buf, masm.env), *args)
    return buf.recorded((0, 0, 0, 0, 0))


# -- memory accesses: the offset and the two registers ---------------------------------------------
def disp_widths(offset: int, size: int):
    """The widths of a memory access's two offset fields, `lea r11, [addr + offset + size]`
    first and `[r11 + addr + offset]` last (1 or 4 bytes, as ModRM.mod has them, 0: no
    displacement; see X64Masm._bounds), or None for accesses without a template
    (offset + size >= 2**31: another sequence)."""
    end = offset + size
    if end >= (1 << 31):
        return None
    return (1 if end < 128 else 4), (0 if offset == 0 else 1 if offset < 128 else 4)


_PROBE_OFFSETS = (1, 2, 127, 126, 125, 124, 123, 122, 121, 120, 0x1000, 0x2000)
#: XOR masks tried on a register for the probe: a register of the same class (x64 register
#: numbers; an XMM register as the assembler numbers it) whose REX bit and low three bits
#: both differ
_PROBE_REG_MASKS = (9, 15, 11, 13)


def _access_fields(offset, size, addr, reg, widths):
    """The value fields of an access sequence, in code order (lowest bit first, the code read
    as one little-endian integer): `lea r11, [addr + end]` has REX.B and ModRM.rm of the
    address register, then its displacement; the access has REX.X (address) and REX.R (data
    register), ModRM.reg (data), SIB.index (address), then its displacement."""
    w1, w2 = widths
    if not w2:  # offset 0: both displacements are constants of the template
        return ((1, addr >> 3), (3, addr & 7),
                (1, addr >> 3), (1, reg >> 3), (3, reg & 7), (3, addr & 7))
    return ((1, addr >> 3), (3, addr & 7), (8 * w1, offset + size),
            (1, addr >> 3), (1, reg >> 3), (3, reg & 7), (3, addr & 7), (8 * w2, offset))


def access_template(pos: int, addr_pos: int, reg_pos: int, kinds: dict):
    """The `template` of `memo` for wasm_load / wasm_store: operands `args`, the offset at
    `args[pos]`, the address register at `args[addr_pos]`, the loaded or stored register at
    `args[reg_pos]`, the access size in `kinds[args[0]][1]`.  One template per operation
    name and displacement widths: the offset and both registers are patched into their
    fields (winch/isa/field_templates.py finds where they are, from a probe).  An address
    register whose low three bits are 4 (r12) needs a SIB byte in the `lea`: none."""
    def key_of(args):
        widths = disp_widths(args[pos], kinds[args[0]][1])
        if widths is None or (args[addr_pos] & 7) == 4:
            return None
        return args[0], widths

    def fields(args, widths):
        reg = args[reg_pos]
        return _access_fields(args[pos], kinds[args[0]][1], args[addr_pos],
                              reg - XMM0 if reg >= XMM0 else reg, widths)

    def probe(args, widths):
        """Operands of the same key whose every field differs, or None."""
        offset, size = args[pos], kinds[args[0]][1]
        other = list(args)
        if widths[1]:
            other[pos] = next((o for o in _PROBE_OFFSETS
                               if o != offset and disp_widths(o, size) == widths), None)
            if other[pos] is None:
                return None
        addr = args[addr_pos]
        other[addr_pos] = next(addr ^ m for m in _PROBE_REG_MASKS if (addr ^ m) & 7 != 4)
        reg = args[reg_pos]
        other[reg_pos] = reg ^ 9
        return tuple(other)

    def build(masm, fn, args, first):
        if not unpatched(type(masm)):
            return False  # a deliberate bug is planted: exact recordings only
        widths = disp_widths(args[pos], kinds[args[0]][1])
        other = probe(args, widths)
        if other is None or first is None:
            return False
        second = record_alone(masm, fn, other)
        if second is None or first[1] != second[1]:
            return False
        f1, f2 = fields(args, widths), fields(other, widths)
        if any(a == b for a, b in zip(f1, f2)):
            return False
        found = locate(first[0], second[0], f1, f2, "little")
        if found is None:
            return False
        t = found + (len(first[0]), first[1], widths)
        if fill(t, args) != first or fill(t, other) != second:
            return False
        return t

    def fill(t, args):
        base, shifts, n, more, widths = t
        return fill_code(base, shifts, fields(args, widths), n, "little"), more
    return key_of, build, fill, True


# -- immediates: one template per encoding class -----------------------------------------------
# Each class function mirrors the assembler's choice of form for the immediate, the last
# operand of the method it serves: (class, the immediate's bytes in that form), one class
# per form; None: no template (a form without the value, e.g. `xor` for 0).
def _signed(bits: int, size: int) -> int:
    if size == 8:
        return bits - (1 << 64) if bits >> 63 else bits
    return bits - (1 << 32) if bits >> 31 else bits


def _s8_s32(size: int, imm: int):
    """`X64Assembler.alu_ri` / `imul_rri`: imm8 if the signed value fits, else imm32."""
    v = _signed(imm, size)
    if -128 <= v < 128:
        return "s8", v.to_bytes(1, "little", signed=True)
    if -(1 << 31) <= v < (1 << 31):
        return "s32", v.to_bytes(4, "little", signed=True)
    return None


def _mov(size: int, imm: int):
    """`X64Assembler.mov_ri`: B8+r imm32 (zero-extended), C7 imm32 (sign-extended), movabs."""
    if size == 4 or (size == 8 and 0 <= imm < (1 << 32)):
        return "u32", (imm & 0xFFFF_FFFF).to_bytes(4, "little")
    v = _signed(imm, 8)
    if -(1 << 31) <= v < (1 << 31):
        return "s32", v.to_bytes(4, "little", signed=True)
    return "i64", v.to_bytes(8, "little", signed=True)


def class_alu_ri(args):  # X64Masm.alu_ri(op, size, dst, imm)
    return _s8_s32(args[1], args[3])


def class_cmp_ri_set(args):  # X64Masm.cmp_ri_set(cond, size, dst, lhs, imm)
    cond, size, _, _, imm = args
    if imm == 0 and cond in ("eq", "ne"):
        return None  # test lhs, lhs
    return _s8_s32(size, imm)


def class_mov_ri(args):  # X64Masm.mov_ri(size, dst, imm)
    size, _, imm = args
    return None if imm == 0 else _mov(size, imm)  # 0: xor


def class_store_imm(args):  # X64Masm._store_imm(t, base, off, bits)
    t, _, _, bits = args
    if t in (I32, F32):
        return "u32", (bits & 0xFFFF_FFFF).to_bytes(4, "little")
    v = _signed(bits, 8)
    if -(1 << 31) <= v < (1 << 31):
        return "s32", v.to_bytes(4, "little", signed=True)
    cls, raw = _mov(8, bits)  # mov r11, imm; mov [m], r11
    return "mov " + cls, raw


_PROBE_IMMS = (1, 2, 0x7E, 0x100, 0x1234_5678, 0x7654_3210, 0x8000_0001, 0xFFFF_FF00,
               0xFFFF_FFFE, 0xFFFF_FFFF_FFFF_FFFE, 0xFFFF_FFFF_FFFF_FF00,
               0xFFFF_FFFF_8765_4321, 0xFFFF_FFFF_7654_3210, 0x1_0000_0001, 0x1234_5678_9ABC_DEF0)


def imm_template(classify):
    """The `template` of `memo` for a method whose last operand is an immediate of the class
    `classify(args)`: the sequence of one value, the field of the value's bytes found by
    comparing it with the sequence of a second value of the class (they must differ in that
    field only, and each hold its value's bytes there, at exactly one place)."""
    last = [None, None]  # the operands key_of classified last, and their class (for fill)

    def key_of(args):
        cls = classify(args)
        if cls is None:
            return None
        last[0], last[1] = args, cls
        return (cls[0],) + args[:-1]

    def build(masm, fn, args, first):
        if not unpatched(type(masm)):
            return False  # a deliberate bug is planted: exact recordings only
        cls = classify(args)
        for probe in _PROBE_IMMS:
            other = classify(args[:-1] + (probe,)) if probe != args[-1] else None
            if other is not None and other[0] == cls[0]:
                break
        else:
            return False
        second = record_alone(masm, fn, args[:-1] + (probe,))
        if first is None or second is None or first[1] is not None or second[1] is not None:
            return False
        a, b, fa, fb = first[0], second[0], cls[1], other[1]
        w = len(fa)
        if len(a) != len(b):
            return False
        at = [p for p in range(len(a) - w + 1) if a[p:p + w] == fa and b[p:p + w] == fb
              and a[:p] == b[:p] and a[p + w:] == b[p + w:]]
        if len(at) != 1:
            return False
        return a, at[0], w

    def fill(t, args):
        code, at, w = t
        cls = last[1] if last[0] is args else classify(args)
        return code[:at] + cls[1] + code[at + w:], None
    return key_of, build, fill, True
