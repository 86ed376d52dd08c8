"""NaN canonicalization, a compile option (`compile_module(..., canonicalize_nans=True)`).

Problem
-------
The spec lets a float operator return any NaN when its result is NaN (sign and payload are
nondeterministic within the "arithmetic NaN" rules), and the ISAs differ: x64 makes the NaN
of 0/0 negative (0xFFC00000), aarch64 and s390x positive, and each propagates an input NaN's
payload its own way.  Wasmtime's `cranelift_nan_canonicalization` makes every such result the
one canonical NaN, so floating point is deterministic across ISAs; this option does the same.

Which operators (matched to wasmtime 50, Cranelift and Winch alike, tests/
test_nan_canonicalization.py): the result of every scalar operator that computes a float, i.e.
add, sub, mul, div, min, max, sqrt, ceil, floor, trunc, nearest (f32 and f64), and
f32.demote_f64 / f64.promote_f32.  Not: neg, abs, copysign (sign-bit operations), reinterpret,
load, store, const, select, locals and globals (they move bits), int->float conversions (never
NaN), and not call results (wasmtime 50 does not canonicalize a callee's returned NaN).

Algorithm
---------
After such an operator, its result (a register) goes through the macro-assembler's
`canonicalize_nan(t, reg)`: "if reg is a NaN, reg = canonical NaN" (f32 0x7FC00000, f64
0x7FF8000000000000), a compare of the register with itself and a conditional replacement.

Invariants
----------
- Off (the default), nothing changes: the function compiler's handler table is the stock one
  (`handlers`), so no instruction pays a test and the code is byte for byte what it was.
- On, the table is a copy in which exactly the operators of `NAN_OPERATORS` are wrapped; a
  handler replaced by name (a deliberate bug, oracle/mutants.py) before the table is made is
  the one wrapped.
"""

from __future__ import annotations

from winch.codegen.stack import REG
from winch.wasm.opcodes import BY_NAME

#: the operators whose NaN results are made canonical (module docstring)
NAN_OPERATORS = tuple(
    [f"{p}.{n}" for p in ("f32", "f64")
     for n in ("add", "sub", "mul", "div", "min", "max", "sqrt", "ceil", "floor", "trunc",
               "nearest")]
    + ["f32.demote_f64", "f64.promote_f32"])

CANONICAL_F32 = 0x7FC0_0000
CANONICAL_F64 = 0x7FF8_0000_0000_0000


def canonicalizing(handler):
    """`handler` followed by making its result's NaN canonical."""

    def canon(g, op, imm):
        handler(g, op, imm)
        st = g.stack
        t, r = st.pop_reg()  # the result: in a register after every operator of the list
        g.masm.canonicalize_nan(t, r)
        st.items.append((REG, t, r))

    canon.__name__ = f"canonicalizing_{getattr(handler, '__name__', 'handler')}"
    return canon


def handlers(by_byte: list, on: bool) -> list:
    """The opcode-byte -> handler list to compile with: `by_byte` itself when off, else a copy
    with the operators of `NAN_OPERATORS` wrapped by `canonicalizing`."""
    if not on:
        return by_byte
    out = list(by_byte)
    for name in NAN_OPERATORS:
        op = BY_NAME[name]
        if op.prefix != 0:  # every one is a single-byte operator (the loop's fast path)
            raise AssertionError(f"{name} is not a single-byte operator")
        h = out[op.code]
        if h is not None:
            out[op.code] = canonicalizing(h)
    return out
