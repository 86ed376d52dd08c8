"""Template test cases shared by the aarch64 and s390x template tests: the operations whose
values are registers only, over the given register lists; and the direct emission (no memo,
no template) they are checked against."""

from __future__ import annotations

_CONVERSIONS = {  # name -> (dst is FP, src is FP)
    "i32.wrap_i64": (0, 0), "i64.extend_i32_u": (0, 0), "i64.extend_i32_s": (0, 0),
    "f32.demote_f64": (1, 1), "f64.promote_f32": (1, 1), "i32.reinterpret_f32": (0, 1),
    "i64.reinterpret_f64": (0, 1), "f32.reinterpret_i32": (1, 0), "f64.reinterpret_i64": (1, 0),
    "f32.convert_i32_s": (1, 0), "f64.convert_i64_u": (1, 0), "i32.trunc_f32_s": (0, 1),
    "i64.trunc_f64_u": (0, 1), "i32.trunc_sat_f64_u": (0, 1), "i64.trunc_sat_f32_s": (0, 1),
}


def register_cases(gprs, fprs, with_convert):
    """Cases of the operations whose values are registers only (and fconst's constant)."""
    from winch.wasm.types import F32, F64

    cases = {}
    cases["shift_rr"] = [(op, s, d, c) for op in ("shl", "shr_s", "shr_u", "rotl", "rotr")
                         for s in (4, 8) for d in gprs for c in gprs[::2]]
    cases["shift_ri"] = [(op, s, d, n) for op in ("shl", "shr_s", "shr_u", "rotl", "rotr")
                         for s in (4, 8) for d in gprs for n in (0, 1, 5, 8 * s - 1)]
    cases["divrem"] = [(op, s, r, a, b) for op in ("div_s", "div_u", "rem_s", "rem_u")
                       for s in (4, 8) for r, a, b in ((gprs[0], gprs[1], gprs[2]),
                                                       (gprs[-1], gprs[-1], gprs[0]),
                                                       (gprs[1], gprs[2], gprs[2]))]
    cases["unop"] = [(op, s, d, r) for op in ("clz", "ctz", "popcnt", "extend8_s", "extend16_s")
                     for s in (4, 8) for d in gprs[::2] for r in gprs[::2]] + \
        [("extend32_s", 8, d, r) for d in gprs for r in gprs]
    cases["fcmp_set"] = [(c, t, d, a, b) for c in ("eq", "ne", "lt", "le", "gt", "ge")
                         for t in (F32, F64) for d in gprs[::2] for a, b in
                         ((fprs[0], fprs[1]), (fprs[-1], fprs[-1]))]
    cases["fbin"] = [(op, t, d, r) for op in ("add", "sub", "mul", "div", "min", "max",
                                              "copysign") for t in (F32, F64)
                     for d in fprs for r in fprs]
    cases["fun"] = [(op, t, d, r) for op in ("abs", "neg", "sqrt", "ceil", "floor", "trunc",
                                             "nearest") for t in (F32, F64)
                    for d in fprs for r in fprs]
    if with_convert:
        cases["convert"] = [(n, d, r) for n, (df, sf) in _CONVERSIONS.items()
                            for d in (fprs if df else gprs) for r in (fprs if sf else gprs)]
    return cases


def direct_masm_class(cls):
    """`cls` (a macro-assembler class) with every recorded operation replaced by its plain
    function (no memo, no template): what the assembler alone emits."""
    plain = {name: fn.__wrapped__ for name, fn in vars(cls).items()
             if hasattr(fn, "__wrapped__")}
    return type("Direct" + cls.__name__, (cls,), plain)


def emit_each(cls, name, cases):
    """The recording (`CodeBuffer.recorded`) of each `cls(...).<name>(*args)`, one fresh
    buffer per case."""
    from winch.masm.buffer import CodeBuffer

    out = []
    for args in cases:
        buf = CodeBuffer()
        getattr(cls(buf, None), name)(*args)
        out.append(buf.recorded((0, 0, 0, 0, 0)))
    return out
