import pytest

from winch.errors import DecodeError, Unsupported
from winch.wasm import opcodes as K
from winch.wasm.instrs import read_op
from winch.wasm.leb import encode_unsigned


def encode_opcode(op):
    return (bytes([op.prefix]) + encode_unsigned(op.code)) if op.prefix else bytes([op.code])


def test_rows_are_unique():
    assert len({(o.prefix, o.code) for o in K.OPS}) == len(K.OPS)
    assert len({o.name for o in K.OPS}) == len(K.OPS)


def test_table_covers_the_proposals():
    features = {o.feature for o in K.OPS}
    for f in (K.MVP, K.SIMD, K.RELAXED_SIMD, K.TAIL_CALL, K.EXCEPTIONS, K.GC, K.THREADS,
              K.FUNC_REFS, K.BULK, K.REFTYPES, K.SAT_TRUNC, K.SIGN_EXT):
        assert f in features
    # core MVP numeric range is dense from i32.eqz to i64.extend32_s
    assert all(K.SINGLE[b] is not None for b in range(0x45, 0xC5))
    assert len([o for o in K.OPS if o.prefix == 0xFD and o.feature == K.SIMD]) == 236


@pytest.mark.parametrize("op", K.OPS, ids=lambda o: o.name)
def test_every_row_reads_back(op):
    raw = encode_opcode(op)
    if op.imm == K.FOREIGN:
        with pytest.raises(Unsupported) as info:
            read_op(raw, 0, len(raw))
        assert info.value.feature == op.feature
        assert op.name in str(info.value)
    else:
        assert read_op(raw, 0, len(raw)) == (op, len(raw))


@pytest.mark.parametrize("raw", [b"\x27", b"\xc5", b"\xff", b"\xfc\x40", b"\xfd\x80\x04"])
def test_unknown_opcodes_are_malformed(raw):
    with pytest.raises(DecodeError, match="illegal opcode"):
        read_op(raw, 0, len(raw))
