"""NaN canonicalization: rewrite a module so that every float operation whose NaN result the
spec leaves nondeterministic (sign and payload) yields the one canonical NaN instead.

The spec lets `f32.add` & co. return any arithmetic NaN, so two correct engines may store
different bits into memory or globals (x86 makes the negative default NaN, aarch64 and
s390x the positive one).  After each such operation the rewrite inserts

    local.tee $t  f32.const nan  local.get $t  local.get $t  f32.eq  select

which keeps a non-NaN value and replaces a NaN by `0x7fc00000` (`0x7ff8000000000000` for
f64).  Bit operations (abs, neg, copysign, reinterpret) and loads are deterministic and are
left alone.  Each rewritten function gets two extra locals, one f32 and one f64.

Used by the oracle to tell a real wrong value from spec-allowed NaN nondeterminism, and by
the generator's `canonicalize_nans` option.
"""

from __future__ import annotations

import dataclasses

from winch.codegen.nan_canon import NAN_OPERATORS
from winch.wasm.encoder import encode_module, func_instrs
from winch.wasm.module import Instr, Module
from winch.wasm.opcodes import BY_NAME
from winch.wasm.reader import decode_module
from winch.wasm.types import F32, F64

CANONICAL = {F32: 0x7FC0_0000, F64: 0x7FF8_0000_0000_0000}

# operations whose NaN results are nondeterministic, by result type: the operators the
# compiler's own option canonicalizes (as wasmtime's cranelift_nan_canonicalization)
_NONDET = {name: F32 if name.startswith("f32") else F64 for name in NAN_OPERATORS}

_TEE, _GET = BY_NAME["local.tee"], BY_NAME["local.get"]
_CONST = {F32: BY_NAME["f32.const"], F64: BY_NAME["f64.const"]}
_EQ = {F32: BY_NAME["f32.eq"], F64: BY_NAME["f64.eq"]}
_SELECT = BY_NAME["select"]


def has_nondeterministic_nans(m: Module) -> bool:
    """Whether any function body of `m` contains an operation of `_NONDET`."""
    return any(i.op.name in _NONDET for f in m.funcs for i in func_instrs(m, f))


def _canon_sequence(t: int, local: int) -> list:
    return [Instr(_TEE, local), Instr(_CONST[t], CANONICAL[t]), Instr(_GET, local),
            Instr(_GET, local), Instr(_EQ[t]), Instr(_SELECT)]


def canonicalize_module(m: Module) -> Module:
    """`m` with every nondeterministic NaN made canonical (functions without such operations
    are kept byte for byte)."""
    n_params = [len(m.types[f.type_index].params) for f in m.funcs]
    funcs = []
    for f, np in zip(m.funcs, n_params):
        instrs = func_instrs(m, f)
        if not any(i.op.name in _NONDET for i in instrs):
            funcs.append(f)
            continue
        base = np + sum(c for c, _ in f.locals)
        tmp = {F32: base, F64: base + 1}
        out = []
        for ins in instrs:
            out.append(ins)
            t = _NONDET.get(ins.op.name)
            if t is not None:
                out.extend(_canon_sequence(t, tmp[t]))
        funcs.append(dataclasses.replace(f, locals=tuple(f.locals) + ((1, F32), (1, F64)),
                                         instrs=tuple(out)))
    return dataclasses.replace(m, funcs=tuple(funcs))


def canonicalize_nans(wasm: bytes) -> bytes:
    """The binary form of `canonicalize_module`."""
    return encode_module(canonicalize_module(decode_module(wasm)))
