"""x64 byte templates equal what the assembler encodes.

Two levels of templates make x64 code fast to emit (issue 16): the assembler's `_emit` keeps
an instruction's bytes without its immediate and with its displacement as a width class
(`winch/isa/x64/asm.py`), and the macro-assembler replays recorded operation sequences, the
memory offset or immediate patched in (`winch/isa/x64/templates.py`).  Here every template
is compared with a fresh encoding, over operands at and around every encoding-class boundary.
"""

from __future__ import annotations

import random

import pytest

from winch.codegen.compile import compile_module
from winch.isa.x64 import asm as A
from winch.isa.x64 import masm as M
from winch.masm.buffer import CodeBuffer, clear_memo_caches
from winch.wasm.types import F32, F64, I32, I64

EDGES = sorted({0, 1, 2, 0x7E, 0x7F, 0x80, 0x81, 0xFF, 0x100, 0x7FFF_FFFF, 0x8000_0000,
                0x8000_0001, 0xFFFF_FF7F, 0xFFFF_FF80, 0xFFFF_FF81, 0xFFFF_FFFE, 0xFFFF_FFFF,
                0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000,
                0xFFFF_FFFF_7FFF_FFFF, 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_FFFF_FF7F,
                0xFFFF_FFFF_FFFF_FF80, 0xFFFF_FFFF_FFFF_FFFF})
GPRS = M.X64Masm.GPRS


def _fresh(buf=None):
    return M.X64Masm(buf or CodeBuffer(), env=None)


def _plain(method, *args):
    """What the assembler emits for `method(*args)`, without any memo or template."""
    m = _fresh()
    getattr(M.X64Masm, method).__wrapped__(m, *args)
    return bytes(m.buf.data), tuple(m.buf._traps)


def _templated(m, method, *args):
    start, ntraps = len(m.buf.data), len(m.buf._traps)
    getattr(m, method)(*args)
    return (bytes(m.buf.data[start:]),
            tuple((at - start, kind) for at, kind in m.buf._traps[ntraps:]))


@pytest.fixture(autouse=True)
def _cold():
    clear_memo_caches()
    yield
    clear_memo_caches()


def _values(size, rng):
    mask = (1 << (8 * size)) - 1
    vals = {v & mask for v in EDGES}
    vals |= {rng.getrandbits(8 * size) for _ in range(20)}
    vals |= {rng.randrange(-200, 200) & mask for _ in range(20)}
    return sorted(vals)


def test_immediate_templates_equal_the_assembler():
    rng = random.Random(16)
    m = _fresh()  # one masm for all: its templates are built once and then patched
    n = 0
    for size in (4, 8):
        for v in _values(size, rng):
            for r in (GPRS[0], GPRS[5], 0):  # rbx, r12 (SIB), rax (accumulator form)
                for op in ("add", "sub", "and", "mul"):
                    if m.alu_imm_ok(op, size, v):
                        assert _templated(m, "alu_ri", op, size, r, v) == \
                            _plain("alu_ri", op, size, r, v), (op, size, r, hex(v))
                        n += 1
                for cond in ("eq", "ne", "lt_s", "ge_u"):
                    if m.cmp_imm_ok(size, v):
                        assert _templated(m, "cmp_ri_set", cond, size, r, r, v) == \
                            _plain("cmp_ri_set", cond, size, r, r, v), (cond, size, hex(v))
                        n += 1
                assert _templated(m, "mov_ri", size, r, v) == _plain("mov_ri", size, r, v)
            for t in ((I32, F32) if size == 4 else (I64, F64)):
                for base, off in ((M.RBP, -24), (M.RSP, 8), (M.RBP, -4096)):
                    assert _templated(m, "_store_imm", t, base, off, v) == \
                        _plain("_store_imm", t, base, off, v), (t, base, off, hex(v))
                    n += 1
    assert n > 1000


@pytest.mark.parametrize("name", sorted(M.LOAD_KINDS) + sorted(M.STORE_KINDS))
def test_memory_access_templates_equal_the_assembler(name):
    rng = random.Random(name)
    m = _fresh()
    offsets = sorted({0, 1, 2, 0x70, 0x77, 0x78, 0x7F, 0x80, 0x81, 0xFFFF, 0x7FFF_FFF0,
                      0x7FFF_FFF7, 0x7FFF_FFF8, 0x8000_0000, 0xFFFF_FFFF}
                     | {rng.randrange(0, 1 << 32) for _ in range(10)}
                     | {rng.randrange(0, 300) for _ in range(10)})
    is_load = name in M.LOAD_KINDS
    is_float = name[0] == "f"
    for addr in (GPRS[0], GPRS[6], GPRS[7], 0):  # rbx, r12 (SIB), r13 (rbp-like), rax
        other = M.XMM0 + 3 if is_float else GPRS[1]
        for off in offsets:
            args = (name, other, addr, off) if is_load else (name, addr, off, other)
            method = "wasm_load" if is_load else "wasm_store"
            assert _templated(m, method, *args) == _plain(method, *args), (args,)


@pytest.mark.parametrize("name", sorted(M.LOAD_KINDS) + sorted(M.STORE_KINDS))
def test_memory_access_templates_patch_every_register(name):
    """One template per operation and displacement widths, both registers patched in: every
    pair of allocatable registers (and the address register loaded into, as integer loads
    do) against the assembler, at each width class."""
    m = _fresh()
    is_load = name in M.LOAD_KINDS
    regs = M.X64Masm.FPRS if name[0] == "f" else GPRS
    method = "wasm_load" if is_load else "wasm_store"
    for off in (0, 1, 0x77, 0x80, 0x7FFF_FFF0):
        for addr in GPRS:
            for reg in regs:
                args = (name, reg, addr, off) if is_load else (name, addr, off, reg)
                assert _templated(m, method, *args) == _plain(method, *args), (args,)
    made = M.templates.CACHES[method + " templates"]
    assert len(made) == 3 and all(made.values())  # widths (1, 0), (1, 1), (4, 4)


def test_assembler_templates_equal_encode():
    """`_emit` (template + patched displacement and immediate) == `_encode` (from scratch)."""
    rng = random.Random(1)
    a = A.X64Assembler(CodeBuffer())
    for _ in range(3000):
        prefix = rng.choice((b"", b"\x66", b"\xf3", b"\x66\xf3"))
        rex_w = rng.random() < 0.5
        reg = rng.randrange(16)
        opcode = rng.choice((b"\x8b", b"\x89", b"\x0f\xaf", b"\x81"))
        disp = rng.choice((0, 1, -1, 127, -128, 128, -129, 0x7FFF_FFFF, -(1 << 31),
                           rng.randrange(-(1 << 31), 1 << 31)))
        base = rng.randrange(16)
        index = rng.choice((None, None, 0, 3, 5, 8, 13, 15))
        rm = rng.choice((rng.randrange(16), A.Amode(base, index, rng.choice((1, 2, 4, 8)), disp)))
        imm = rng.choice((b"", b"\x05", b"\x01\x02\x03\x04"))
        force = rng.random() < 0.1
        start = len(a.buf.data)
        a._emit(prefix, rex_w, reg, opcode, rm, imm, force)
        assert bytes(a.buf.data[start:]) == a._encode(prefix, rex_w, reg, opcode, rm, imm, force)


def _modules():
    import wasmtime

    return [wasmtime.wat2wasm(src) for src in (
        "(module (memory 1) (func (export \"f\") (param i32 i64) (result i64)"
        " (i64.store offset=200 (local.get 0) (i64.add (local.get 1) (i64.const 0x123456789)))"
        " (i64.load offset=4000 (local.get 0))))",
        "(module (memory 1) (func (export \"g\") (param i32) (result i32)"
        " (i32.store8 offset=127 (local.get 0) (i32.const -129))"
        " (i32.add (i32.load16_s offset=0x7fff0000 (local.get 0)) (i32.const 300))))",
        "(module (global (mut f64) (f64.const 1.5)) (func (export \"h\") (param f32) (result i32)"
        " (global.set 0 (f64.promote_f32 (local.get 0)))"
        " (i32.trunc_f64_u (global.get 0))))",
    )]


def test_cold_warm_and_other_orders_give_the_same_code():
    """Memos and templates filled by other modules change no byte (code, traps, srclocs)."""
    mods = _modules()
    cold = []
    for w in mods:
        clear_memo_caches()
        c = compile_module(w, "x64")
        cold.append((c.code, c.traps, c.srclocs))
    for w, want in zip(reversed(mods), reversed(cold)):  # warm, in another order
        c = compile_module(w, "x64")
        assert (c.code, c.traps, c.srclocs) == want


def test_no_template_while_a_method_is_patched(monkeypatch):
    """A planted bug may show for some values of a class only: while a method of X64Masm is
    replaced (as oracle/mutants.py does), no template is made, every operand tuple is
    assembled through the patched code."""
    bounds = M.X64Masm._bounds
    monkeypatch.setattr(M.X64Masm, "_bounds", lambda self, *a: bounds(self, *a))
    clear_memo_caches()
    c = compile_module(_modules()[0], "x64")
    made = [t for k, d in M.templates.CACHES.items() if k.endswith(" templates") for t in d.values()]
    assert made and not any(made)
    monkeypatch.undo()
    clear_memo_caches()
    assert compile_module(_modules()[0], "x64").code == c.code
    assert any(M.templates.CACHES["wasm_load templates"].values())
