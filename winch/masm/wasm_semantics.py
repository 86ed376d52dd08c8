"""Facts of Wasm semantics every macro-assembler needs, computed in one place."""

from __future__ import annotations


def trunc_bounds(isize: int, fsize: int, signed: bool) -> tuple[float, bool, float]:
    """(low, low_inclusive, high) such that a float x truncates into the integer type iff
    `low <= x` (or `low < x` when not inclusive) and `x < high`.

    The low bound is INT_MIN itself when every float in (INT_MIN - 1, INT_MIN) is absent
    from the float format (f32 near 2**31, both formats near 2**63), else INT_MIN - 1
    exclusive (f64 -> i32: -2147483648.5 truncates to INT_MIN and is fine).
    """
    bits = 8 * isize
    if not signed:
        return -1.0, False, float(1 << bits)
    lo = -float(1 << (bits - 1))
    if isize == 4 and fsize == 8:
        return lo - 1.0, False, float(1 << (bits - 1))
    return lo, True, float(1 << (bits - 1))
