"""x86-64 assembler: one method per instruction form; it only encodes.

Registers are ints: GPRs 0..15 (rax=0 ... r15=15), XMM registers 0..15 in the methods
whose names say `x`.  `size` is the operand size in bytes (1, 2, 4 or 8).  No VEX
encodings (Unicorn miscomputes them, ISA-NOTES.md): SSE up to 4.1, POPCNT, LZCNT/TZCNT.

Encoding recap: [66] [F2/F3] [REX 0100WRXB] opcode ModRM [SIB] [disp] [imm].  ModRM.reg
holds `reg` (REX.R its 4th bit), ModRM.rm the register or memory base (REX.B); rsp/r12 as
a base need a SIB byte, rbp/r13 as a base with mod=00 mean RIP/disp32, so they take disp8.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import NamedTuple

from winch.errors import EncodingError
from winch.masm.buffer import memo_cache

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)
GPR_NAMES = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


class Cond(enum.IntEnum):
    O = 0
    NO = 1
    B = 2
    AE = 3
    E = 4
    NE = 5
    BE = 6
    A = 7
    S = 8
    NS = 9
    P = 10
    NP = 11
    L = 12
    GE = 13
    LE = 14
    G = 15

    def invert(self) -> "Cond":
        return Cond(self ^ 1)


class Amode(NamedTuple):
    """[base + index*scale + disp] (a tuple: cheap to build and to hash, see _ENCODED)."""

    base: int
    index: int | None = None
    scale: int = 1
    disp: int = 0


@dataclass(frozen=True, slots=True)
class LabelAmode:
    """[rip + label]: a RIP-relative reference patched by `Rel32`."""

    label: int


class Rel32:
    """A 32-bit displacement relative to the end of the instruction (`tail` bytes after it)."""

    __slots__ = ("tail",)

    def __init__(self, tail: int = 0):
        self.tail = tail

    def patch(self, code: bytearray, at: int, target: int) -> None:
        disp = target - (at + 4 + self.tail)
        if not -(1 << 31) <= disp < (1 << 31):
            raise EncodingError(f"rel32 displacement {disp} out of range")
        struct.pack_into("<i", code, at, disp)


REL32 = Rel32()
_REL32_TAIL = {n: Rel32(n) for n in range(1, 5)}


def _check_reg(r: int) -> None:
    if not (isinstance(r, int) and 0 <= r < 16):
        raise EncodingError(f"bad register {r!r}")


def _s32(v: int) -> bool:
    return -(1 << 31) <= v < (1 << 31)


def _s8(v: int) -> bool:
    return -128 <= v < 128


# Encodings are pure functions of their operands: templates of them, see `_emit` (compile
# speed).  Keyed by small values only (no immediate, no displacement value): bounded.
_ENCODED: dict = memo_cache()


def clear_caches() -> None:
    _ENCODED.clear()


class X64Assembler:
    def __init__(self, buf):
        self.buf = buf

    # -- core encoders ------------------------------------------------------------------------
    def _emit(self, prefix: bytes, rex_w: bool, reg: int, opcode: bytes, rm, imm: bytes = b"",
              force_rex: bool = False) -> None:
        """Emit an instruction with ModRM; `rm` is a register int, an Amode or a LabelAmode.

        Encodings are cached as templates: the bytes `_encode` gives without the immediate,
        keyed by every operand but the immediate and the displacement's value (only its
        width: 0, 1 or 4 bytes, which fixes ModRM.mod).  `_encode` ends an instruction with
        the displacement (the end of `_mem`'s bytes) and then the immediate, so the value is
        patched in as the template's last `width` bytes and the immediate appended."""
        cls = rm.__class__
        if cls is int:
            key = (prefix, rex_w, reg, opcode, rm, force_rex)
            head = _ENCODED.get(key)
            if head is None:
                head = _ENCODED[key] = self._encode(prefix, rex_w, reg, opcode, rm, b"",
                                                    force_rex)
            data = self.buf.data
            data += head
        elif cls is Amode:
            base, index, scale, disp = rm
            if disp == 0:
                width, rep = 0, 0
            elif -128 <= disp < 128:
                width, rep = 1, 1
            elif _s32(disp):
                width, rep = 4, 0x100
            else:
                self._encode(prefix, rex_w, reg, opcode, rm, imm, force_rex)  # raises
                return
            key = (prefix, rex_w, reg, opcode, base, index, scale, width, force_rex)
            head = _ENCODED.get(key)
            if head is None:
                head = _ENCODED[key] = self._encode(prefix, rex_w, reg, opcode,
                                                    Amode(base, index, scale, rep), b"",
                                                    force_rex)
            data = self.buf.data
            if width:
                data += head[:-width]
                data += disp.to_bytes(width, "little", signed=True)
            else:  # no displacement, or a zero disp8 (rbp/r13 base): the template as it is
                data += head
        else:
            self._encode(prefix, rex_w, reg, opcode, rm, imm, force_rex)
            return
        if imm:
            data += imm

    def _encode(self, prefix, rex_w, reg, opcode, rm, imm, force_rex):
        """The bytes of one ModRM instruction; a LabelAmode operand is emitted directly."""
        _check_reg(reg)
        rex = 0x40 | (8 if rex_w else 0) | (4 if reg & 8 else 0)
        if isinstance(rm, int):
            _check_reg(rm)
            rex |= 1 if rm & 8 else 0
            modrm = bytes((0xC0 | (reg & 7) << 3 | (rm & 7),))
            label = None
        elif isinstance(rm, Amode):
            modrm, xb = _mem(reg, rm)
            rex |= xb
            label = None
        elif isinstance(rm, LabelAmode):
            modrm = bytes(((reg & 7) << 3 | 5,)) + b"\0\0\0\0"
            label = rm.label
        else:
            raise EncodingError(f"bad operand {rm!r}")
        out = bytearray(prefix[:1] if prefix[:1] == b"\x66" else b"")
        if prefix and prefix[-1:] in (b"\xf2", b"\xf3"):
            out += prefix[-1:]
        if rex != 0x40 or force_rex:
            out.append(rex)
        out += opcode
        start = self.buf.offset()
        out += modrm
        if label is not None:
            at = start + len(out) - 4
            self.buf.put(bytes(out) + imm)
            self.buf.use_label(label, _REL32_TAIL.get(len(imm), REL32) if imm else REL32, at)
            return None
        out += imm
        return bytes(out)

    def _alu_size(self, size: int) -> tuple[bytes, bool]:
        if size == 8:
            return b"", True
        if size == 4:
            return b"", False
        if size == 2:
            return b"\x66", False
        raise EncodingError(f"bad operand size {size}")

    # -- moves -----------------------------------------------------------------------------------
    def mov_rr(self, size: int, dst: int, src: int) -> None:
        p, w = self._alu_size(size)
        self._emit(p, w, src, b"\x89", dst)

    def mov_ri(self, size: int, dst: int, imm: int) -> None:
        """dst = imm, in the shortest correct encoding (imm is a bit pattern or signed)."""
        _check_reg(dst)
        if size == 4 or (size == 8 and 0 <= imm < (1 << 32)):
            imm &= 0xFFFF_FFFF
            rex = b"\x41" if dst & 8 else b""
            self.buf.put(rex + bytes((0xB8 | (dst & 7),)) + struct.pack("<I", imm))
        elif size == 8:
            v = imm - (1 << 64) if imm >= (1 << 63) else imm
            if _s32(v):
                self._emit(b"", True, 0, b"\xc7", dst, struct.pack("<i", v))
            else:
                if not -(1 << 63) <= v < (1 << 63):
                    raise EncodingError(f"immediate {imm:#x} does not fit 64 bits")
                self.buf.put(bytes((0x48 | (1 if dst & 8 else 0), 0xB8 | (dst & 7)))
                             + struct.pack("<q", v))
        else:
            raise EncodingError(f"bad operand size {size}")

    def xor_zero(self, dst: int) -> None:
        self._emit(b"", False, dst, b"\x31", dst)

    def load(self, size: int, dst: int, m) -> None:
        """mov dst, [m] (4 or 8 bytes; a 4-byte load zero-extends)."""
        p, w = self._alu_size(size)
        self._emit(p, w, dst, b"\x8b", m)

    def store(self, size: int, m, src: int) -> None:
        """mov [m], src for 1, 2, 4 or 8 bytes."""
        if size == 1:
            self._emit(b"", False, src, b"\x88", m, force_rex=src in (RSP, RBP, RSI, RDI))
            return
        p, w = self._alu_size(size)
        self._emit(p, w, src, b"\x89", m)

    def store_imm(self, size: int, m, imm: int) -> None:
        """mov [m], imm32 (size 4, or 8 with the immediate sign-extended)."""
        if size == 4:
            self._emit(b"", False, 0, b"\xc7", m, struct.pack("<I", imm & 0xFFFF_FFFF))
        elif size == 8:
            v = imm - (1 << 64) if imm >= (1 << 63) else imm
            if not _s32(v):
                raise EncodingError(f"imm {imm:#x} does not fit a sign-extended imm32")
            self._emit(b"", True, 0, b"\xc7", m, struct.pack("<i", v))
        else:
            raise EncodingError(f"bad store size {size}")

    def movzx(self, src_size: int, dst: int, rm) -> None:
        """dst32 = zero-extended 1- or 2-byte rm (register or memory)."""
        op = {1: b"\x0f\xb6", 2: b"\x0f\xb7"}[src_size]
        self._emit(b"", False, dst, op, rm,
                   force_rex=isinstance(rm, int) and src_size == 1 and rm in (4, 5, 6, 7))

    def movsx(self, src_size: int, dst_size: int, dst: int, rm) -> None:
        """dst = sign-extended 1-, 2- or 4-byte rm."""
        if src_size == 4:
            self._emit(b"", True, dst, b"\x63", rm)
            return
        op = {1: b"\x0f\xbe", 2: b"\x0f\xbf"}[src_size]
        self._emit(b"", dst_size == 8, dst, op, rm,
                   force_rex=isinstance(rm, int) and src_size == 1 and rm in (4, 5, 6, 7))

    def lea(self, dst: int, m) -> None:
        self._emit(b"", True, dst, b"\x8d", m)

    # -- integer arithmetic ---------------------------------------------------------------------
    _ALU = {"add": 0, "or": 1, "adc": 2, "sbb": 3, "and": 4, "sub": 5, "xor": 6, "cmp": 7}

    def alu_rr(self, op: str, size: int, dst: int, src: int) -> None:
        """dst = dst op src (op: add or adc sbb and sub xor cmp)."""
        p, w = self._alu_size(size)
        self._emit(p, w, src, bytes((self._ALU[op] << 3 | 1,)), dst)

    def alu_rm(self, op: str, size: int, dst: int, m) -> None:
        p, w = self._alu_size(size)
        self._emit(p, w, dst, bytes((self._ALU[op] << 3 | 3,)), m)

    def alu_ri(self, op: str, size: int, dst, imm: int) -> None:
        """dst op= imm (dst a register or an Amode); imm sign-extended from 8 or 32 bits."""
        p, w = self._alu_size(size)
        v = imm
        if size == 8 and v >= (1 << 63):
            v -= 1 << 64
        elif size == 4 and v >= (1 << 31):
            v -= 1 << 32
        if size == 2:
            v = _imm16(v)
        if _s8(v):
            self._emit(p, w, self._ALU[op], b"\x83", dst, struct.pack("<b", v))
        elif size == 2:  # the operand-size prefix makes the wide immediate 16 bits
            self._emit(p, w, self._ALU[op], b"\x81", dst, struct.pack("<h", v))
        elif dst.__class__ is int and dst == RAX and size in (4, 8) and _s32(v):  # the short accumulator form
            self.buf.data += (b"\x48" if w else b"") + bytes((self._ALU[op] << 3 | 5,)) + \
                struct.pack("<i", v)
        elif _s32(v):
            self._emit(p, w, self._ALU[op], b"\x81", dst, struct.pack("<i", v))
        else:
            raise EncodingError(f"immediate {imm:#x} does not fit 32 bits")

    def test_rr(self, size: int, a: int, b: int) -> None:
        p, w = self._alu_size(size)
        self._emit(p, w, b, b"\x85", a)

    def imul_rr(self, size: int, dst: int, src: int) -> None:
        p, w = self._alu_size(size)
        self._emit(p, w, dst, b"\x0f\xaf", src)

    def imul_rri(self, size: int, dst: int, src: int, imm: int) -> None:
        p, w = self._alu_size(size)
        v = imm
        if size == 8 and v >= (1 << 63):
            v -= 1 << 64
        elif size == 4 and v >= (1 << 31):
            v -= 1 << 32
        if size == 2:
            v = _imm16(v)
        if _s8(v):
            self._emit(p, w, dst, b"\x6b", src, struct.pack("<b", v))
        elif size == 2:
            self._emit(p, w, dst, b"\x69", src, struct.pack("<h", v))
        elif _s32(v):
            self._emit(p, w, dst, b"\x69", src, struct.pack("<i", v))
        else:
            raise EncodingError(f"immediate {imm:#x} does not fit 32 bits")

    _GROUP3 = {"not": 2, "neg": 3, "mul": 4, "imul1": 5, "div": 6, "idiv": 7}

    def group3(self, op: str, size: int, r: int) -> None:
        """not / neg / mul / imul1 / div / idiv on one register."""
        p, w = self._alu_size(size)
        self._emit(p, w, self._GROUP3[op], b"\xf7", r)

    def cdq(self, size: int) -> None:
        self.buf.put(b"\x48\x99" if size == 8 else b"\x99")

    _SHIFT = {"rol": 0, "ror": 1, "shl": 4, "shr": 5, "sar": 7}

    def shift_cl(self, op: str, size: int, r: int) -> None:
        p, w = self._alu_size(size)
        self._emit(p, w, self._SHIFT[op], b"\xd3", r)

    def shift_ri(self, op: str, size: int, r: int, imm: int) -> None:
        if not 0 <= imm < 64:
            raise EncodingError(f"shift count {imm} out of range")
        p, w = self._alu_size(size)
        self._emit(p, w, self._SHIFT[op], b"\xc1", r, bytes((imm,)))

    def bitcount(self, op: str, size: int, dst: int, src: int) -> None:
        """lzcnt / tzcnt / popcnt dst, src."""
        code = {"lzcnt": b"\x0f\xbd", "tzcnt": b"\x0f\xbc", "popcnt": b"\x0f\xb8"}[op]
        p, w = self._alu_size(size)
        self._emit(p + b"\xf3", w, dst, code, src)

    def setcc(self, cond: Cond, r: int) -> None:
        self._emit(b"", False, 0, bytes((0x0F, 0x90 | cond)), r, force_rex=r in (4, 5, 6, 7))

    def cmov(self, cond: Cond, size: int, dst: int, src: int) -> None:
        p, w = self._alu_size(size)
        self._emit(p, w, dst, bytes((0x0F, 0x40 | cond)), src)

    def push(self, r: int) -> None:
        _check_reg(r)
        self.buf.put((b"\x41" if r & 8 else b"") + bytes((0x50 | (r & 7),)))

    def pop(self, r: int) -> None:
        _check_reg(r)
        self.buf.put((b"\x41" if r & 8 else b"") + bytes((0x58 | (r & 7),)))

    def rep_stosq(self) -> None:
        self.buf.put(b"\xf3\x48\xab")

    # -- control flow ------------------------------------------------------------------------------
    def ret(self) -> None:
        self.buf.put(b"\xc3")

    def leave(self) -> None:
        self.buf.put(b"\xc9")

    def ud2(self) -> None:
        self.buf.put(b"\x0f\x0b")

    def jmp_label(self, label: int) -> None:
        self.buf.put(b"\xe9\0\0\0\0")
        self.buf.use_label(label, REL32, self.buf.offset() - 4)

    def jcc_label(self, cond: Cond, label: int) -> None:
        self.buf.put(bytes((0x0F, 0x80 | cond)) + b"\0\0\0\0")
        self.buf.use_label(label, REL32, self.buf.offset() - 4)

    def jcc_short(self, cond: Cond, disp: int) -> None:
        """jcc rel8 with a known displacement (e.g. over a 2-byte ud2)."""
        if not _s8(disp):
            raise EncodingError(f"rel8 displacement {disp} out of range")
        self.buf.put(bytes((0x70 | cond, disp & 0xFF)))

    def call_label(self, label: int) -> None:
        self.buf.put(b"\xe8\0\0\0\0")
        self.buf.use_label(label, REL32, self.buf.offset() - 4)

    def call_r(self, r: int) -> None:
        self._emit(b"", False, 2, b"\xff", r)

    def call_m(self, m) -> None:
        self._emit(b"", False, 2, b"\xff", m)

    def jmp_r(self, r: int) -> None:
        self._emit(b"", False, 4, b"\xff", r)

    def lea_label(self, dst: int, label: int) -> None:
        self._emit(b"", True, dst, b"\x8d", LabelAmode(label))

    # -- SSE scalar --------------------------------------------------------------------------------
    def _sse(self, prefix: bytes, op: int, dst: int, src, w: bool = False, imm=b"") -> None:
        self._emit(prefix, w, dst, bytes((0x0F, op)), src, imm)

    def movs_load(self, size: int, dst: int, m) -> None:
        """movss / movsd xmm, [m]."""
        self._sse(b"\xf3" if size == 4 else b"\xf2", 0x10, dst, m)

    def movs_store(self, size: int, m, src: int) -> None:
        self._sse(b"\xf3" if size == 4 else b"\xf2", 0x11, src, m)

    def movaps(self, dst: int, src: int) -> None:
        self._sse(b"", 0x28, dst, src)

    def movd_to_x(self, size: int, dst: int, src: int) -> None:
        """movd/movq xmm, gpr."""
        self._sse(b"\x66", 0x6E, dst, src, w=size == 8)

    def movd_from_x(self, size: int, dst: int, src: int) -> None:
        """movd/movq gpr, xmm."""
        self._sse(b"\x66", 0x7E, src, dst, w=size == 8)

    _ARITH = {"add": 0x58, "mul": 0x59, "sub": 0x5C, "min": 0x5D, "div": 0x5E, "max": 0x5F,
              "sqrt": 0x51}

    def sse_arith(self, op: str, size: int, dst: int, src) -> None:
        """addss/sd subss/sd mulss/sd divss/sd minss/sd maxss/sd sqrtss/sd."""
        self._sse(b"\xf3" if size == 4 else b"\xf2", self._ARITH[op], dst, src)

    _LOGIC = {"and": 0x54, "andn": 0x55, "or": 0x56, "xor": 0x57}

    def sse_logic(self, op: str, size: int, dst: int, src: int) -> None:
        """andps/andpd andnps/andnpd orps/orpd xorps/xorpd (size 4: ps, 8: pd)."""
        self._sse(b"\x66" if size == 8 else b"", self._LOGIC[op], dst, src)

    def ucomis(self, size: int, a: int, b) -> None:
        self._sse(b"\x66" if size == 8 else b"", 0x2E, a, b)

    def cvtsi2s(self, fsize: int, isize: int, dst: int, src: int) -> None:
        self._sse(b"\xf3" if fsize == 4 else b"\xf2", 0x2A, dst, src, w=isize == 8)

    def cvtts2si(self, isize: int, fsize: int, dst: int, src: int) -> None:
        self._sse(b"\xf3" if fsize == 4 else b"\xf2", 0x2C, dst, src, w=isize == 8)

    def cvt_f2f(self, dst_size: int, dst: int, src: int) -> None:
        """cvtss2sd (dst_size 8) / cvtsd2ss (dst_size 4)."""
        self._sse(b"\xf3" if dst_size == 8 else b"\xf2", 0x5A, dst, src)

    def rounds(self, size: int, dst: int, src: int, mode: int) -> None:
        """roundss / roundsd (SSE4.1) with an imm8 rounding mode."""
        if not 0 <= mode <= 0xFF:
            raise EncodingError(f"rounding mode {mode} does not fit 8 bits")
        self._emit(b"\x66", False, dst, b"\x0f\x3a" + bytes((0x0A if size == 4 else 0x0B,)),
                   src, bytes((mode,)))


def _imm16(v: int) -> int:
    """A 16-bit operation's immediate as a signed value (0x8000..0xFFFF wrap)."""
    if 0x8000 <= v <= 0xFFFF:
        v -= 0x10000
    if not -0x8000 <= v <= 0x7FFF:
        raise EncodingError(f"immediate {v:#x} does not fit 16 bits")
    return v


def _mem(reg: int, m: Amode) -> tuple[bytes, int]:
    """ModRM [+SIB] [+disp] for a memory operand, and the REX.X/B bits it needs."""
    base, index, disp = m.base, m.index, m.disp
    if not _s32(disp):
        raise EncodingError(f"displacement {disp} does not fit 32 bits")
    _check_reg(base)
    rex = 1 if base & 8 else 0
    if disp == 0 and (base & 7) != RBP:
        mod, dbytes = 0, b""
    elif _s8(disp):
        mod, dbytes = 1, struct.pack("<b", disp)
    else:
        mod, dbytes = 2, struct.pack("<i", disp)
    r = (reg & 7) << 3
    if index is None:
        if (base & 7) == RSP:
            return bytes((mod << 6 | r | 4, 0x24)) + dbytes, rex
        return bytes((mod << 6 | r | (base & 7),)) + dbytes, rex
    _check_reg(index)
    if index == RSP:
        raise EncodingError("rsp cannot be an index register")
    ss = {1: 0, 2: 1, 4: 2, 8: 3}[m.scale]
    rex |= 2 if index & 8 else 0
    return bytes((mod << 6 | r | 4, ss << 6 | (index & 7) << 3 | (base & 7))) + dbytes, rex
