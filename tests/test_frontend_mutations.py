"""Bad input: mutated suite modules make the front end raise only its typed errors, quickly."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.suite_modules import suite_modules
from winch.errors import DecodeError, Unsupported, ValidationError
from winch.wasm import validate

_SEEDS = None


def seeds():
    global _SEEDS
    if _SEEDS is None:
        mods = [m.wasm for m in suite_modules() if 8 < len(m.wasm) < 4000]
        _SEEDS = mods[::5]
    return _SEEDS


def _oversized_leb(draw_int):
    """An over-long or out-of-range LEB128: continuation bytes past 5 or 10 bytes."""
    n = draw_int % 12 + 5
    return bytes([0xFF] * n + [0x0F])


@st.composite
def mutated(draw):
    pool = seeds()
    data = bytearray(pool[draw(st.integers(0, len(pool) - 1))])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "byte", "insert", "delete", "truncate", "splice",
                                     "leb"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = bytes([draw(st.integers(0, 255))])
        elif kind == "delete" and data:
            del data[pos]
        elif kind == "truncate":
            del data[pos:]
        elif kind == "splice":
            other = pool[draw(st.integers(0, len(pool) - 1))]
            a = draw(st.integers(0, len(other)))
            data[pos:] = other[a:]
        elif kind == "leb":
            # section sizes, counts and indices all sit right after an id/opcode byte
            data[pos + 1:pos + 1] = _oversized_leb(draw(st.integers(0, 1000)))
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_raise_only_typed_errors(data):
    t = time.perf_counter()
    try:
        validate(data)
    except (DecodeError, ValidationError, Unsupported) as e:
        assert e.offset is None or e.offset >= -1
    assert time.perf_counter() - t < 2.0, "the front end took too long on a small module"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_after_the_header(tail):
    try:
        validate(b"\0asm\x01\0\0\0" + tail)
    except (DecodeError, ValidationError, Unsupported):
        pass
