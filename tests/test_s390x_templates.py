"""The s390x assembler's fast paths produce exactly what `S390xAssembler.emit` encodes.

`emit` is the checked, general encoder (its rows round-trip through Capstone and GNU as in
tests/test_s390x_asm.py).  The macro-assembler's hot paths use cached forms instead:

- `ins(mnemonic, *flat ints)`: encodings memoized by that tuple (`asm._MEMO`);
- `ins_imm(mnemonic, r1, imm)`: the RI-a/RIL-a rows, the first two bytes from a template
  (`asm._IMM`), the immediate patched in;
- `ins_label(mnemonic, first, label)` (and `brc`/`brcl`/`j`/`jg`): a template with a zero
  displacement (`asm._LABELED`) plus the same fixup `emit` records;
- `skip_trap(mask, kind)`: ``BRC mask, *+6`` and a trap (`asm._SKIP_TRAP`), for what
  was a branch to a label bound right after the trap;
- `load_const`'s shortcut for 16-bit signed values;
- the macro-assembler's `@_memo` operations (`masm._RECORDINGS`): recorded sequences replayed.

Every row is checked at its edges and at random points, each form twice (a cache miss
and a hit), from a cold cache and from a cache filled in another order.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import oracle.corpus as oracle_corpus
from winch.codegen.compile import compile_module

from winch.errors import EncodingError
from winch.isa.s390x import asm as asm_mod
from winch.isa.s390x import masm as masm_mod
from winch.isa.s390x.asm import INSNS, Kind, Rel, S390xAssembler

from fuzz_targets.asm_ref.s390x import edge_values
from tests.template_cases import direct_masm_class, emit_each, register_cases

LABEL_FREE = sorted(m for m, row in asm_mod._BY_NAME.items() if row.label < 0)
IMM_ROWS = sorted(m for m, row in INSNS.items() if row.fmt in asm_mod._IMM_FORMATS)
LABEL_ROWS = sorted(m for m, row in asm_mod._BY_NAME.items()
                    if row.label == 1 and len(row.slots) == 2)


@pytest.fixture(autouse=True)
def cold_caches():
    asm_mod.clear_caches()
    masm_mod.clear_caches()
    yield
    asm_mod.clear_caches()
    masm_mod.clear_caches()


def _flat_cases(mnemonic: str, n_random: int = 6) -> list[list[int]]:
    """Flattened operand lists of `mnemonic`: its low and high edges and random points."""
    rnd = random.Random(mnemonic)
    ops = INSNS[mnemonic].operands
    cases = []
    for high, r in [(False, None), (True, None)] + [(False, rnd)] * n_random:
        cases.append([v for o in ops for v in edge_values(o.kind, high, r)])
    return cases


def _emitted(mnemonic: str, *operands) -> bytes:
    a = S390xAssembler()
    a.emit(mnemonic, *operands)
    return bytes(a.buf.data)


@pytest.mark.parametrize("mnemonic", LABEL_FREE)
def test_ins_equals_emit(mnemonic):
    for flat in _flat_cases(mnemonic):
        want = _emitted(mnemonic, *flat)
        a = S390xAssembler()
        a.ins(mnemonic, *flat)       # a miss: encoded and remembered
        a.ins(mnemonic, *flat)       # a hit
        assert bytes(a.buf.data) == want * 2, (mnemonic, flat)
        assert asm_mod._MEMO[(mnemonic, *flat)] == want


def test_every_cached_form_of_real_code_equals_emit():
    """Compile the seed corpus for s390x from cold caches; then every memoized encoding,
    immediate template and label template is what `emit` encodes for it."""
    corpus = sorted(Path(oracle_corpus.__file__).parent.glob("*.wasm"))
    assert corpus
    for path in corpus:
        compile_module(path.read_bytes(), "s390x")
    assert asm_mod._MEMO and asm_mod._IMM and asm_mod._LABELED
    for key, raw in asm_mod._MEMO.items():
        assert raw == _emitted(*key), key
    for (m, r1), (head, lo, hi, mask, n) in asm_mod._IMM.items():
        for imm in (lo, 0, hi):
            assert head + (imm & mask).to_bytes(n, "big") == _emitted(m, r1, imm), (m, r1)
    for (m, first), (raw, use) in asm_mod._LABELED.items():
        assert raw == _emitted(m, first, Rel(0)), (m, first)
        assert use is asm_mod._BY_NAME[m].use
    for mask, raw in enumerate(asm_mod._SKIP_TRAP):
        assert raw == _emitted("BRC", mask, Rel(3)) + b"\x00\x00"


@pytest.mark.parametrize("mnemonic", IMM_ROWS)
def test_ins_imm_equals_emit(mnemonic):
    lo, hi = asm_mod._SLOTS[INSNS[mnemonic].operands[1].kind][0][1:]
    rnd = random.Random(mnemonic)
    imms = sorted({lo, lo + 1, hi - 1, hi, 0, 1} | {rnd.randint(lo, hi) for _ in range(20)})
    imms = [v for v in imms if lo <= v <= hi]
    for r1 in (0, 1, 7, 15):
        for imm in imms:
            a = S390xAssembler()
            a.ins_imm(mnemonic, r1, imm)
            a.ins_imm(mnemonic, r1, imm)
            assert bytes(a.buf.data) == _emitted(mnemonic, r1, imm) * 2, (mnemonic, r1, imm)
    for bad in (lo - 1, hi + 1):
        a = S390xAssembler()
        with pytest.raises(EncodingError, match="out of range"):
            a.ins_imm(mnemonic, 1, bad)
        assert a.buf.offset() == 0
    with pytest.raises(EncodingError, match="must be an int"):
        S390xAssembler().ins_imm(mnemonic, 1, True)
    with pytest.raises(EncodingError, match="out of range"):
        S390xAssembler().ins_imm(mnemonic, 16, 0)


@pytest.mark.parametrize("mnemonic", LABEL_ROWS)
def test_ins_label_equals_emit(mnemonic):
    kind = INSNS[mnemonic].operands[0].kind
    firsts = range(16) if kind in (Kind.MASK, Kind.GPR) else [0]
    for first in firsts:
        code = []
        for how in ("emit", "ins_label", "ins_label"):
            a = S390xAssembler()
            a.nop()
            lab = a.buf.new_label()
            back = a.buf.new_label()
            a.buf.bind_label(back)
            at1 = getattr(a, how)(mnemonic, first, lab)
            at2 = getattr(a, how)(mnemonic, first, back)
            a.nop()
            a.buf.align_to(8)
            a.buf.bind_label(lab)
            assert (at1, at2) == (2, 2 + INSNS[mnemonic].size)
            code.append(a.buf.finish().code)
        assert code[0] == code[1] == code[2], (mnemonic, first)
    # a Rel, or an operand that is no label, still takes emit's path and errors
    a = S390xAssembler()
    a.ins_label(mnemonic, firsts[-1], Rel(4))
    assert bytes(a.buf.data) == _emitted(mnemonic, firsts[-1], Rel(4))
    with pytest.raises(EncodingError, match="label"):
        a.ins_label(mnemonic, firsts[-1], 99)
    with pytest.raises(EncodingError, match="out of range"):
        a.ins_label(mnemonic, 16, Rel(0))


def test_branch_helpers_equal_emit():
    for mask in range(16):
        ours, ref = S390xAssembler(), S390xAssembler()
        for a in (ours, ref):
            a.buf.bind_label(a.buf.new_label())
        ours.brc(mask, 0)
        ours.brcl(mask, 0)
        ref.emit("BRC", mask, 0)
        ref.emit("BRCL", mask, 0)
        assert ours.buf.finish().code == ref.buf.finish().code
    ours, ref = S390xAssembler(), S390xAssembler()
    for a in (ours, ref):
        a.buf.bind_label(a.buf.new_label())
    ours.j(0)
    ours.jg(0)
    ref.emit("BRC", 15, 0)
    ref.emit("BRCL", 15, 0)
    assert ours.buf.finish().code == ref.buf.finish().code


def test_skip_trap_equals_branch_over_a_trap():
    for mask in range(16):
        ours, ref = S390xAssembler(), S390xAssembler()
        ours.nop()
        ref.nop()
        assert ours.skip_trap(mask, "kind") == 2
        ok = ref.buf.new_label()
        ref.brc(mask, ok)
        ref.trap("kind")
        ref.buf.bind_label(ok)
        a, b = ours.buf.finish(), ref.buf.finish()
        assert a.code == b.code and a.traps == b.traps == ((6, "kind"),)
    with pytest.raises(EncodingError, match="mask"):
        S390xAssembler().skip_trap(16, "kind")


def test_ins_errors_are_encoding_errors_and_not_cached():
    a = S390xAssembler()
    for key, match in [(("LG", 1, 2**19, 0, 2), "displacement"),
                       (("LGR", 16, 0), "out of range"),
                       (("LGR", 1.0, 0), "must be an int"),
                       (("DLGR", 3, 4), "even register"),
                       (("LGR", 1), "takes the operands"),
                       (("lgr", 1, 2), "not a label-free"),
                       (("BRC", 15, 0), "not a label-free"),
                       (("NOPE", 1), "not a label-free")]:
        with pytest.raises(EncodingError, match=match):
            a.ins(*key)
        assert key not in asm_mod._MEMO
    assert a.buf.offset() == 0
    with pytest.raises(EncodingError, match="RI-a or RIL-a"):
        a.ins_imm("LGR", 1, 2)


def test_load_const_shortcut_is_what_the_search_finds():
    rnd = random.Random(7)
    values = {-0x8000, -0x7FFF, -1, 0, 1, 0x7FFE, 0x7FFF} | {
        rnd.randint(-0x8000, 0x7FFF) for _ in range(200)}
    for value in sorted(values):
        assert asm_mod._const_sequence(value, 64) == [("LGHI", value)]
        assert asm_mod._search64(value & asm_mod._M64) == [("LGHI", value)], value
    for value in (0x8000, -0x8001, 2**32, 2**63, -2**63, 0x1234_5678_9ABC_DEF0):
        assert asm_mod._const_sequence(value, 64) == asm_mod._search64(value & asm_mod._M64)
        a = S390xAssembler()
        n = a.load_const(3, value, 64)
        ref = S390xAssembler()
        for m, imm in asm_mod._search64(value & asm_mod._M64):
            ref.emit(m, 3, imm)
        assert bytes(a.buf.data) == bytes(ref.buf.data) and n == len(ref.buf.data)


@pytest.mark.parametrize("size", [4, 8, 32, 64])
def test_load_const_emits_its_sequence(size):
    bits = 32 if size in (4, 32) else 64
    rnd = random.Random(size)
    values = {-0x8001, -0x8000, -1, 0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 2**31 - 1,
              2**31, 2**32 - 1, -2**31} | {rnd.randint(-2**(bits - 1), 2**bits - 1)
                                            for _ in range(50)}
    if bits == 64:
        values |= {2**32, 2**63, -2**63, 2**64 - 1}
    for value in sorted(values):
        for r in (0, 1, 15):
            a = S390xAssembler()
            n = a.load_const(r, value, size)
            ref = S390xAssembler()
            for m, imm in asm_mod._const_sequence(value, bits):
                ref.emit(m, r, imm)
            assert bytes(a.buf.data) == bytes(ref.buf.data), (value, r)
            assert n == len(ref.buf.data)
    for bad in [(16, 0, size), (1, 0, 16), (1, 0, 4.0), (1, 2**bits, size), (True, 0, size)]:
        with pytest.raises(EncodingError):
            S390xAssembler().load_const(*bad)


def test_memoized_masm_sequences_replay_what_they_recorded():
    """The macro-assembler's `@_memo` recordings (`masm._RECORDINGS`): compiling the seed
    corpus with warm caches gives what a cold compile gives, module by module."""
    from winch.masm.buffer import clear_memo_caches

    mods = [p.read_bytes() for p in sorted(Path(oracle_corpus.__file__).parent.glob("*.wasm"))]

    def finished(c):
        return bytes(c.code), c.traps, c.func_offsets

    cold = []
    for m in mods:
        clear_memo_caches()
        cold.append(finished(compile_module(m, "s390x")))
    for m in mods:  # every module once more, in the caches all of them filled
        compile_module(m, "s390x")
    assert {"wasm_load", "wasm_store", "_typed_ld", "_typed_st", "_copy"} <= {
        name for name, cache in masm_mod._RECORDINGS.caches.items() if cache}
    assert [finished(compile_module(m, "s390x")) for m in mods] == cold


# ---------------------------------------------------------------------------------------------
# Field templates (winch/isa/s390x/templates.py): every class boundary, against direct code
# ---------------------------------------------------------------------------------------------


def _direct_masm_class():
    from winch.isa.s390x.masm import S390xMasm

    return direct_masm_class(S390xMasm)


def _around(points):
    return sorted({v for p in points for v in (p - 1, p, p + 1, -p - 1, -p, -p + 1)})


_DISPS = _around([0, 1, 8, 0xFF8, 0xFFF, 0x1000, 0x1008, 0x7FFF8, 0x7FFFF, 0x80000, 0x12345])
_IMMS = _around([0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFF_FFFF, 0x8000_0000,
                 0xFFFF_FFFF, 1 << 32, 0xFFFF_0000, 0xFFFF_0000_0000, 0xFFFF << 48, 1 << 63,
                 0x1234_5678_9ABC_DEF0, 0xFFFF_FFFF_FFFF_0000, 0x0000_FFFF_0000_1234])


def _template_cases(rng):
    """(method, [args, ...]) for each templated operation: boundary and random values,
    several registers of each class."""
    from winch.isa.s390x.masm import F0
    from winch.isa.s390x.templates import LOAD_WIDTHS, STORE_WIDTHS
    from winch.wasm.types import F32, F64, I32, I64

    gprs, fprs = (2, 3, 6, 10), (F0, F0 + 1, F0 + 13)
    rand = [rng.getrandbits(rng.choice((8, 16, 20, 32, 48, 64))) for _ in range(40)]
    imms = [v for v in _IMMS + rand + [-v for v in rand[:10]]  # what a 64-bit register holds
            if -(1 << 63) <= v < (1 << 64)]
    disps = _DISPS + [rng.randrange(-(1 << 20), 1 << 20) for _ in range(40)]
    wasm_offs = [v for v in _around([0, 1, 0xFF8, 0xFFF, 0x1000, 0x7FFFF, 0x80000,
                                     0x7FFF_FFF0, 0x8000_0000, 0xFFFF_FFFF]) if v >= 0] + \
        [rng.getrandbits(rng.choice((8, 12, 16, 20, 24, 31, 32))) for _ in range(30)]

    def regs(name):
        return fprs if name[0] == "f" else gprs

    cases = {}
    cases["wasm_load"] = [(n, d, a, o) for n in LOAD_WIDTHS for o in wasm_offs
                          for d, a in ((regs(n)[1], 7), (regs(n)[-1], 2))]
    cases["wasm_store"] = [(n, a, o, v) for n in STORE_WIDTHS for o in wasm_offs
                           for a, v in ((7, regs(n)[1]), (2, regs(n)[-1]))]
    typed = [(t, r, base, o) for t in (I32, I64, F32, F64) for base in (11, 1)
             for r in (regs("f" if t in (F32, F64) else "i")[0],
                       regs("f" if t in (F32, F64) else "i")[-1]) for o in disps]
    cases["_typed_ld"] = cases["_typed_st"] = typed
    cases["_copy"] = [(t, 11, d, 11, s) for t in (I32, I64) for d, s in
                      zip(disps, reversed(disps))]
    cases["_store_imm"] = [(t, 11, o, b & (0xFFFF_FFFF if t in (I32, F32) else (1 << 64) - 1))
                           for t in (I32, I64, F32, F64) for o, b in zip(disps, imms + imms)]
    cases["mov_ri"] = [(s, r, v) for s in (4, 8) for r in gprs[::2] for v in imms]
    cases["alu_ri"] = [(op, s, r, v) for op in ("add", "sub", "and", "or", "xor", "mul")
                       for s in (4, 8) for r in gprs[::3] for v in imms]
    cases["cmp_ri_set"] = [(c, s, d, lhs, v) for c in ("eq", "lt_s", "lt_u") for s in (4, 8)
                           for d, lhs in ((2, 7), (9, 9)) for v in imms]
    cases["alu_rr"] = [(op, s, d, r) for op in ("add", "xor", "mul") for s in (4, 8)
                       for d in gprs for r in gprs]
    cases["cmp_rr_set"] = [("ge_s", s, d, a, b) for s in (4, 8) for d in gprs
                           for a, b in ((3, 4), (10, 2), (5, 5))]
    cases["select"] = [(t, a, b, c) for t, rs in ((I32, gprs), (F64, fprs), (F32, fprs))
                       for a in rs for b in rs for c in (2, 10)]
    cases.update(register_cases(gprs, fprs, False))  # convert: LGR unless dst == src
    return cases


def test_field_templates_equal_direct_emission():
    direct_cls = _direct_masm_class()
    rng = random.Random(16)
    cases = _template_cases(rng)
    used = {}
    for name, args_list in cases.items():
        want = dict(zip(args_list, emit_each(direct_cls, name, args_list)))
        # templates built and filled as the cases come: in their order, then shuffled (each
        # order builds a key's template from other operands: equal registers, other values)
        for order in range(3):
            if order:
                args_list = rng.sample(args_list, len(args_list))
            masm_mod.clear_caches()
            got = emit_each(masm_mod.S390xMasm, name, args_list)
            for args, g in zip(args_list, got):
                assert g == want[args], f"{name}{args}: template gives {g}, assembler {want[args]}"
        used[name] = sum(1 for t in masm_mod._RECORDINGS.caches[name + " templates"].values()
                         if t)
    assert all(used.values()), used  # every operation had templates
    assert used["wasm_load"] >= 8 and used["_typed_ld"] >= 4 and used["alu_ri"] >= 8, used


def test_field_template_classes_split_where_the_masm_chooses_another_form():
    from winch.isa.s390x import templates as t
    from winch.isa.s390x.asm import _const_sequence

    assert t.rx(4095)[0] != t.rx(4096)[0] and t.rx(-1)[0] == "l"
    assert t.rx(1 << 19) is None and t.rx(-(1 << 19) - 1) is None
    assert t.const(0x7FFF, 32)[0] != t.const(0x8000, 32)[0]
    assert t.const(0x1234_5678_9ABC_DEF0, 64) is None  # two instructions: no template
    for v in _IMMS:  # the one-instruction classes are the assembler's choice
        for bits in (32, 64):
            if bits == 32 and not -(1 << 31) <= v < (1 << 32):
                continue
            c, seq = t.const(v, bits), _const_sequence(v, bits)
            assert (c is None) == (len(seq) > 1)
            if c is not None:
                assert c[0] == seq[0][0]
    assert t.reg.get(0) is None and t.reg.get(1) is None and t.reg.get(12) is None
    assert t.reg.get(11) is None and t.reg.get(16 + 14) is None


def test_masm_branches_are_the_assemblers():
    """S390xMasm appends its branches to labels from tables (masm.py `_BRCL`,
    `_BRANCH_ZERO`, ...) made by the assembler: the same code as `ins` + `ins_label`."""
    from winch.masm.buffer import CodeBuffer

    class Env:
        func_labels = []

    def finished(emit_masm, emit_asm):
        out = []
        for emit in (emit_masm, emit_asm):
            buf = CodeBuffer()
            Env.func_labels = [buf.new_label()]
            back = buf.new_label()
            buf.bind_label(back)
            buf.data += b"\x07\x00" * 3  # nops
            fwd = buf.new_label()
            emit(masm_mod.S390xMasm(buf, Env), S390xAssembler(buf), back, fwd)
            buf.bind_label(fwd)
            buf.bind_label(Env.func_labels[0])
            out.append(buf.finish().code)
        return out

    for size in (4, 8):
        for reg in range(16):
            m, a = finished(
                lambda ms, _, b, f: (ms.branch_zero(size, reg, b), ms.branch_nonzero(size, reg, f)),
                lambda _, asm_, b, f: (asm_.ins("LTR" if size == 4 else "LTGR", reg, reg),
                                       asm_.ins_label("BRCL", 8, b),
                                       asm_.ins("LTR" if size == 4 else "LTGR", reg, reg),
                                       asm_.ins_label("BRCL", 7, f)))
            assert m == a, (size, reg)
    m, a = finished(lambda ms, _, b, f: (ms.jump(b), ms.jump(f), ms.call_func(0)),
                    lambda _, asm_, b, f: (asm_.ins_label("BRCL", 15, b),
                                           asm_.ins_label("BRCL", 15, f),
                                           asm_.ins_label("BRASL", 14, Env.func_labels[0])))
    assert m == a
