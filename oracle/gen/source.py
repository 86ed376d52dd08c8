"""Choice sources: where every decision of the generator comes from.

The module and body builders (`oracle.gen.module`, `oracle.gen.body`) never pick anything
themselves; they ask a *source* through a small interface:

    int(lo, hi)      an integer in lo..hi (both included; hi <= lo gives lo)
    pick(seq)        one element of a non-empty sequence
    bool()           True or False
    chance(n)        True about once in n, False by default (bytes run out, shrinking)
    bits(t)          a constant's bit pattern for value type t (edge values first)
    types(hi, lo=0)  a list of lo..hi numeric value types
    subset(seq)      a subset of seq (a frozenset)
    data(lo, hi)     lo..hi raw bytes

Two implementations, one generator:
- `ByteSource(data)` reads the bytes of a libFuzzer input, like wasm-smith's `Unstructured`:
  a choice of a range that fits in a byte takes one byte (`lo + byte % span`), a wider range
  two, four or eight bytes, little-endian.  Past the end every read is zero, so a short input
  gives the smallest choices (`lo`, the first element, False): a small, simple module, never
  an error.  Deterministic: the same bytes give the same choices.
- `HypothesisSource(draw)` asks hypothesis (inside `@st.composite`), so the strategies of
  `oracle.strategies` keep shrinking: integers toward `lo`, picks toward the first element,
  `chance` toward False, constants toward the edge values.

Both map "zero" to the simplest choice, so the bytes of a small module are mostly zeros and
hypothesis's shrinker and libFuzzer's mutations move between neighbouring modules.
"""

from __future__ import annotations

import struct

from winch.wasm.types import F32, F64, I32, I64

NUM = (I32, I64, F32, F64)
_WIDTH = {I32: 32, I64: 64, F32: 32, F64: 64}

# edge values per type, as bit patterns; drawn first, so constants shrink toward them
# (the sign bits of 8, 16, 32 and 64 bits among them: what sign extensions are about)
EDGE_BITS = {
    I32: (0, 1, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 2, 31, 32, 0xFFFF, 0x10000, 0x80,
          0xFF, 0x8000, 0x7F, 0xFFFF_FF80, 0xFFFF_8000),
    I64: (0, 1, (1 << 64) - 1, 1 << 63, (1 << 63) - 1, 63, 64, 0xFFFF_FFFF, 1 << 32,
          0x8000_0000, 0x80, 0x8000, 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_FFFF_FF80,
          0x7FFF_FFFF),
    F32: (0, 0x8000_0000, 0x3F80_0000, 0xBF80_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000,
          0x7FA0_0000, 0x7F7F_FFFF, 1, 0x4F00_0000, 0xCF00_0000, 0x3F00_0000),
    F64: (0, 1 << 63, 0x3FF0 << 48, 0xBFF0 << 48, 0x7FF0 << 48, 0xFFF0 << 48, 0x7FF8 << 48,
          0x7FF4 << 48, 0x7FEF_FFFF_FFFF_FFFF, 1, 0x41E0 << 48, 0xC3E0 << 48, 0x3FE0 << 48),
}


class ByteSource:
    """Choices read from `data`; zeros past its end.  `pos` is how many bytes were read."""

    __slots__ = ("buf", "pos", "end")

    def __init__(self, data: bytes):
        self.buf = bytes(data)
        self.pos = 0
        self.end = len(self.buf)

    def _raw(self, n: int) -> int:
        p = self.pos
        self.pos = p + n
        return int.from_bytes(self.buf[p:p + n], "little")  # short or empty past the end

    def int(self, lo: int, hi: int) -> int:
        span = hi - lo + 1
        if span <= 1:
            return lo
        p = self.pos
        if span <= 256:
            self.pos = p + 1
            return lo + self.buf[p] % span if p < self.end else lo
        n = 2 if span <= 0x10000 else 4 if span <= 0x1_0000_0000 else 8
        return lo + self._raw(n) % span

    def pick(self, seq):
        p = self.pos
        self.pos = p + 1
        if p >= self.end:
            return seq[0]
        return seq[self.buf[p] % len(seq)] if len(seq) <= 256 else \
            seq[(self.buf[p] | self._raw(1) << 8) % len(seq)]

    def bool(self) -> bool:
        p = self.pos
        self.pos = p + 1
        return p < self.end and bool(self.buf[p] & 1)

    def chance(self, n: int) -> bool:
        """True for one byte value in n (n <= 256): the last residue, so zero is False."""
        p = self.pos
        self.pos = p + 1
        return p < self.end and self.buf[p] % n == n - 1

    def bits(self, t: int) -> int:
        p = self.pos
        self.pos = p + 1
        k = self.buf[p] if p < self.end else 0
        kind = k & 3
        if kind == 0:  # an edge value
            edges = EDGE_BITS[t]
            return edges[(k >> 2) % len(edges)]
        w = _WIDTH[t]
        if kind == 1:  # a small magnitude
            return self._raw(1) if k & 4 else self._raw(2)
        if kind == 2:  # just below the top: a small negative number
            return (1 << w) - 1 - (self._raw(1) if k & 4 else self._raw(2))
        if t in (I32, I64):
            return self._raw(w // 8)
        # an ordinary finite float of either sign: random bits with the exponent kept finite
        if t == F32:
            v = self._raw(4)
            return v ^ 0x4000_0000 if (v >> 23) & 0xFF == 0xFF else v
        v = self._raw(8)
        return v ^ (0x400 << 52) if (v >> 52) & 0x7FF == 0x7FF else v

    def types(self, hi: int, lo: int = 0) -> list:
        k = self.int(lo, hi)
        if not k:
            return []
        p = self.pos
        self.pos = p + k
        chunk = self.buf[p:p + k]
        return [NUM[b & 3] for b in chunk] + [I32] * (k - len(chunk))

    def data(self, lo: int, hi: int) -> bytes:
        k = self.int(lo, hi)
        p = self.pos
        self.pos = p + k
        chunk = self.buf[p:p + k]
        return chunk + bytes(k - len(chunk))

    def subset(self, seq) -> frozenset:
        n = len(seq)
        mask = self._raw((n + 7) // 8)
        return frozenset(x for i, x in enumerate(seq) if mask >> i & 1)


class HypothesisSource:
    """Choices drawn by hypothesis's `draw`; strategies are made once per range and cached."""

    def __init__(self, draw):
        self.draw = draw
        self._ints: dict = {}

    def int(self, lo: int, hi: int) -> int:
        if hi <= lo:
            return lo
        s = self._ints.get((lo, hi))
        if s is None:
            s = self._ints[(lo, hi)] = _st().integers(lo, hi)
        return self.draw(s)

    def pick(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def bool(self) -> bool:
        return bool(self.int(0, 1))

    def chance(self, n: int) -> bool:
        # hypothesis favours the bounds of a range (measured: a bound of 0..15 comes 14% of
        # the time, not 6%), so test a middle residue of a byte; shrinks toward a miss
        return self.int(0, 255) % n == n // 2 if n > 1 else True

    def bits(self, t: int) -> int:
        return self.draw(_const_strategy(t))

    def types(self, hi: int, lo: int = 0) -> list:
        return self.draw(_st().lists(_st().sampled_from(NUM), min_size=lo, max_size=hi))

    def data(self, lo: int, hi: int) -> bytes:
        # bytes with the sign bit set drawn apart: hypothesis favours small numbers
        st = _st()
        return bytes(self.draw(st.lists(st.one_of(st.sampled_from((0x80, 0xFF, 0x7F, 0x01, 0xFE)),
                                                  st.integers(0, 255)),
                                        min_size=lo, max_size=hi)))

    def subset(self, seq) -> frozenset:
        return self.draw(_st().frozensets(_st().sampled_from(tuple(seq))))


def _st():
    from hypothesis import strategies

    return strategies


_CONST_STRATEGIES: dict = {}


def _const_strategy(t: int):
    """Constants: edge values first; then small magnitudes of either sign (hypothesis draws
    small integers more often, so "near the top" is drawn apart: small negative numbers);
    for floats also ordinary finite values of either sign."""
    s = _CONST_STRATEGIES.get(t)
    if s is not None:
        return s
    st = _st()
    n = _WIDTH[t]
    top = (1 << n) - 1
    small = st.integers(0, top)
    parts = [st.sampled_from(EDGE_BITS[t]), small]
    if t in (I32, I64):
        parts.append(small.map(lambda v: top - v))
    else:
        fmt, ifmt = ("<f", "<I") if t == F32 else ("<d", "<Q")
        parts.append(st.floats(width=n, allow_nan=False, allow_infinity=False).map(
            lambda x: struct.unpack(ifmt, struct.pack(fmt, x))[0]))
    s = _CONST_STRATEGIES[t] = st.one_of(*parts)
    return s
