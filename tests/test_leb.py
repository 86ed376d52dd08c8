import pytest
from hypothesis import given, strategies as st

from winch.errors import DecodeError
from winch.wasm.leb import (
    encode_signed, encode_unsigned, read_s32, read_s33, read_s64, read_u32, read_u64,
)


@given(st.integers(0, 2**32 - 1))
def test_u32_round_trip(v):
    raw = encode_unsigned(v)
    assert read_u32(raw, 0, len(raw)) == (v, len(raw))


@given(st.integers(0, 2**64 - 1))
def test_u64_round_trip(v):
    raw = encode_unsigned(v)
    assert read_u64(raw, 0, len(raw)) == (v, len(raw))


@given(st.integers(-2**31, 2**31 - 1))
def test_s32_round_trip(v):
    raw = encode_signed(v)
    assert read_s32(raw, 0, len(raw)) == (v, len(raw))


@given(st.integers(-2**63, 2**63 - 1))
def test_s64_round_trip(v):
    raw = encode_signed(v)
    assert read_s64(raw, 0, len(raw)) == (v, len(raw))


@given(st.integers(-2**32, 2**32 - 1))
def test_s33_round_trip(v):
    raw = encode_signed(v)
    assert read_s33(raw, 0, len(raw)) == (v, len(raw))


@pytest.mark.parametrize("raw, value", [
    (b"\x80\x00", 0),                      # non-canonical but legal padding
    (b"\xff\xff\xff\xff\x0f", 2**32 - 1),  # the largest u32
])
def test_u32_legal_edges(raw, value):
    assert read_u32(raw, 0, len(raw))[0] == value


@pytest.mark.parametrize("reader, raw, message", [
    (read_u32, b"\x80\x80\x80\x80\x80\x00", "integer representation too long"),
    (read_u32, b"\xff\xff\xff\xff\x1f", "integer too large"),       # bit 32 set
    (read_u64, b"\xff" * 9 + b"\x02", "integer too large"),         # bit 64 set
    (read_s32, b"\xff\xff\xff\xff\x4f", "integer too large"),       # padding disagrees with sign
    (read_s32, b"\x80\x80\x80\x80\x70", "integer too large"),
    (read_s64, b"\xff" * 9 + b"\x7e", "integer too large"),
    (read_s64, b"\x80" * 10 + b"\x00", "integer representation too long"),
    (read_u32, b"\x80\x80", "unexpected end"),
])
def test_leb_errors(reader, raw, message):
    with pytest.raises(DecodeError, match=message) as info:
        reader(raw, 0, len(raw))
    assert info.value.offset is not None


def test_signed_last_byte_accepts_sign_padding():
    # -1 as a 5-byte s32 with correct sign padding, and the minimum s32
    assert read_s32(b"\xff\xff\xff\xff\x7f", 0, 5)[0] == -1
    assert read_s32(b"\x80\x80\x80\x80\x78", 0, 5)[0] == -2**31
