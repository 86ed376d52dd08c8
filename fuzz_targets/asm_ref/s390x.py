"""What Capstone prints for each row of the s390x assembler's table (winch/isa/s390x/asm.py,
`INSNS`), and how GNU as spells it: the reference shared by tests/test_s390x_asm.py and the
`assemble` fuzz target.

`check_capstone(mnemonic, values)` encodes one row with the flattened operand values and
checks Capstone's decoding operand by operand (conditional forms print as aliases, the "A"
conversions with M4 = 0 as their older form); `gnu_text` is the GNU as line for the same
operands; `edge_values` draws one operand at the low or high edge of its range, or at a
random point.
"""

from __future__ import annotations

import random

import capstone
from capstone import sysz_const as SZ

from winch.isa.s390x.asm import COND_SUFFIX, INSNS, Kind, Rel, S390xAssembler


# --------------------------------------------------------------------------------------
# Operand ranges and encoding
# --------------------------------------------------------------------------------------
RANGES = {
    Kind.MASK: (0, 15), Kind.U8: (0, 255), Kind.S8: (-128, 127), Kind.U16: (0, 0xFFFF),
    Kind.S16: (-0x8000, 0x7FFF), Kind.U32: (0, 0xFFFF_FFFF), Kind.S32: (-2**31, 2**31 - 1),
    Kind.REL16: (-0x8000, 0x7FFF), Kind.REL32: (-2**31, 2**31 - 1),
}
D12 = (0, 4095)
D20 = (-2**19, 2**19 - 1)


def encode(mnemonic: str, values) -> bytes:
    a = S390xAssembler()
    a.emit(mnemonic, *values)
    return bytes(a.buf.data)


# --------------------------------------------------------------------------------------
# Capstone's reading
# --------------------------------------------------------------------------------------
MD = capstone.Cs(capstone.CS_ARCH_SYSZ, capstone.CS_MODE_BIG_ENDIAN)
MD.detail = True
_SUFFIX_TO_MASK = {v: k for k, v in COND_SUFFIX.items()}
# Capstone prints conditional forms as aliases: prefix + condition suffix + postfix, with
# the mask operand dropped (je / jge / ber / locgrh / cgrjle / lochino ...); mask 15 of
# a branch prints without suffix (j, jg, br).
_ALIAS = {"BRC": ("j", ""), "BRCL": ("jg", ""), "BCR": ("b", "r")}
ADDR = 0x100000


def _cs_gpr(insn, reg_id: int) -> int:
    return 0 if reg_id == 0 else int(insn.reg_name(reg_id))


def capstone_operands(insn) -> list[tuple]:
    out = []
    for o in insn.operands:
        if o.type == SZ.SYSZ_OP_REG:
            name = insn.reg_name(o.reg)
            out.append(("f", int(name[1:])) if name.startswith("f") else ("r", int(name)))
        elif o.type == SZ.SYSZ_OP_IMM:
            out.append(("i", o.imm))
        elif o.type == SZ.SYSZ_OP_MEM:
            m = o.mem
            out.append(_mem(m.disp, _cs_gpr(insn, m.index), _cs_gpr(insn, m.base), m.length))
        else:
            raise AssertionError(f"unexpected operand type {o.type}")
    return out


def _mem(d: int, x: int, b: int, length: int) -> tuple:
    # Capstone shows D(0,0) as a plain immediate.
    return ("i", d) if x == 0 and b == 0 and length == 0 else ("m", d, x, b, length)


def expected_operands(mnemonic: str, values, addr: int) -> list[tuple]:
    it = iter(values)
    out = []
    for o in INSNS[mnemonic].operands:
        k = o.kind
        if k in (Kind.GPR, Kind.GPR_EVEN):
            out.append(("r", next(it)))
        elif k is Kind.FPR:
            out.append(("f", next(it)))
        elif k in (Kind.REL16, Kind.REL32):
            out.append(("i", addr + 2 * next(it).halfwords))
        elif k in RANGES:
            out.append(("i", next(it)))
        elif k in (Kind.MEM_RX, Kind.MEM_RXY):
            d, x, b = next(it), next(it), next(it)
            out.append(_mem(d, x, b, 0))
        elif k in (Kind.MEM_RS, Kind.MEM_RSY):
            d, b = next(it), next(it)
            out.append(_mem(d, 0, b, 0))
        else:
            d, length, b = next(it), next(it), next(it)
            out.append(("m", d, 0, b, length))
    return out


def _field_values(row, values) -> dict:
    """Layout field -> operand value (only plain one-field operands are needed here)."""
    if values is None:
        return {f: None for o in row.operands for f in o.fields}
    it = iter(values)
    return {f: next(it) for o in row.operands for f in o.fields}


def check_capstone(mnemonic: str, values) -> None:
    raw = encode(mnemonic, values)
    row = INSNS[mnemonic]
    assert len(raw) == row.size
    decoded = list(MD.disasm(raw, ADDR))
    assert len(decoded) == 1, f"{mnemonic} {values}: {raw.hex()} decoded as {decoded}"
    insn = decoded[0]
    assert insn.size == len(raw)
    got = capstone_operands(insn)
    want = expected_operands(mnemonic, values, ADDR)
    base = mnemonic.lower()
    if insn.mnemonic != base and insn.mnemonic.upper() in INSNS:
        # The "A" conversions with M4 = 0 print as their older form (same opcode), e.g.
        # cfdbra %r1,5,%f2,0 -> cfdbr %r1,5,%f2 and cefbra %f1,0,%r2,0 -> cefbr %f1,%r2.
        other = INSNS[insn.mnemonic.upper()]
        fields = _field_values(row, values)
        assert all(v == 0 for f, v in fields.items() if f not in _field_values(other, None))
        other_values = [fields[f] for o in other.operands for f in o.fields]
        assert encode(other.mnemonic, other_values) == raw, (mnemonic, insn.mnemonic)
        want = expected_operands(other.mnemonic, other_values, ADDR)
    elif insn.mnemonic != base:
        prefix, postfix = _ALIAS.get(mnemonic, (base, ""))
        cs = insn.mnemonic
        assert cs.startswith(prefix) and cs.endswith(postfix), (mnemonic, cs, raw.hex())
        suffix = cs[len(prefix):len(cs) - len(postfix)]
        mask_at = [i for i, o in enumerate(row.operands) if o.kind is Kind.MASK]
        assert len(mask_at) == 1, (mnemonic, cs)
        mask = want.pop(mask_at[0])[1]
        assert (_SUFFIX_TO_MASK[suffix] if suffix else 15) == mask, (mnemonic, cs, mask)
    assert got == want, f"{mnemonic} {values}: {raw.hex()} -> {insn.mnemonic} {insn.op_str}"


# --------------------------------------------------------------------------------------
# GNU as spelling and edge operands
# --------------------------------------------------------------------------------------
def gnu_text(mnemonic: str, values) -> str:
    it = iter(values)
    parts = []
    for o in INSNS[mnemonic].operands:
        k = o.kind
        if k in (Kind.GPR, Kind.GPR_EVEN):
            parts.append(f"%r{next(it)}")
        elif k is Kind.FPR:
            parts.append(f"%f{next(it)}")
        elif k in (Kind.REL16, Kind.REL32):
            parts.append(f".{2 * next(it).halfwords:+d}")
        elif k in RANGES:
            parts.append(str(next(it)))
        elif k in (Kind.MEM_RX, Kind.MEM_RXY):
            d, x, b = next(it), next(it), next(it)
            parts.append(f"{d}(%r{x},%r{b})")
        elif k in (Kind.MEM_RS, Kind.MEM_RSY):
            d, b = next(it), next(it)
            parts.append(f"{d}(%r{b})")
        else:
            d, length, b = next(it), next(it), next(it)
            parts.append(f"{d}({length},%r{b})")
    return f"{mnemonic.lower()} {','.join(parts)}".rstrip()


def edge_values(kind: Kind, high: bool, rnd: random.Random | None) -> list:
    def pick(lo, hi):
        return rnd.randint(lo, hi) if rnd else (hi if high else lo)
    reg = pick(0, 15)
    if kind in (Kind.GPR, Kind.FPR):
        return [reg]
    if kind is Kind.GPR_EVEN:
        return [pick(0, 7) * 2]
    if kind in (Kind.REL16, Kind.REL32):
        return [Rel(pick(*RANGES[kind]))]
    if kind in RANGES:
        return [pick(*RANGES[kind])]
    if kind is Kind.MEM_RX:
        return [pick(*D12), pick(0, 15), pick(0, 15)]
    if kind is Kind.MEM_RXY:
        return [pick(*D20), pick(0, 15), pick(0, 15)]
    if kind is Kind.MEM_RS:
        return [pick(*D12), pick(0, 15)]
    if kind is Kind.MEM_RSY:
        return [pick(*D20), pick(0, 15)]
    return [pick(*D12), pick(1, 256), pick(0, 15)]
