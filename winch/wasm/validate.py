"""Module-level validation: index spaces, limits, constant expressions, segments, exports.

`validate(data)` is the front end's entry point: decode every section (malformed modules are
reported as such even if they are also invalid), check the module-level rules, then run the
one-pass body validator over every function.  If a body is invalid, the bodies from there on
are still decoded, so that a malformation later in the code wins over the invalidity, as in
the spec's reference interpreter (which decodes everything before validating).
"""

from __future__ import annotations

from winch.errors import DecodeError, Unsupported, ValidationError
from winch.wasm.instrs import decode_instrs
from winch.wasm.module import EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, EXT_TABLE, ConstExpr, Module
from winch.wasm.reader import decode_module
from winch.wasm.types import FUNCREF, I32, I64, type_name
from winch.wasm.validate_body import BodyContext, validate_body

CONST_OPS = frozenset((
    "i32.const", "i64.const", "f32.const", "f64.const", "v128.const", "ref.null", "ref.func",
    "global.get",
    # extended-const
    "i32.add", "i32.sub", "i32.mul", "i64.add", "i64.sub", "i64.mul",
))


def _const_expr(expr: ConstExpr, expect: int, globals_, nfuncs: int, refs: set) -> None:
    """Check that `expr` is constant and produces exactly one `expect`."""
    stack = []
    for ins in expr.instrs:
        op = ins.op
        if op.name not in CONST_OPS:
            raise ValidationError("constant expression required", ins.offset)
        if op.name == "global.get":
            if ins.imm >= len(globals_):
                raise ValidationError(f"unknown global {ins.imm}", ins.offset)
            g = globals_[ins.imm]
            if g.mutable:
                raise ValidationError("constant expression required: global.get of a mutable "
                                      "global", ins.offset)
            stack.append(g.valtype)
        elif op.name == "ref.func":
            if ins.imm >= nfuncs:
                raise ValidationError(f"unknown function {ins.imm}", ins.offset)
            refs.add(ins.imm)
            stack.append(FUNCREF)
        elif op.name == "ref.null":
            stack.append(ins.imm)
        else:
            for t in reversed(op.params):
                if not stack or stack.pop() != t:
                    raise ValidationError("type mismatch", ins.offset)
            stack.extend(op.results)
    if stack != [expect]:
        raise ValidationError(
            f"type mismatch: constant expression must produce [{type_name(expect)}]", expr.offset)


def _limits(limits, bound: int, what: str, at: int) -> None:
    if limits.min > bound:
        raise ValidationError(f"{what} size must be at most {bound}", at)
    if limits.max is not None:
        if limits.max > bound:
            raise ValidationError(f"{what} size must be at most {bound}", at)
        if limits.min > limits.max:
            raise ValidationError("size minimum must not be greater than maximum", at)


def _memory_limits(mt, at):
    log2 = mt.limits.page_log2
    if log2 not in (0, 16):  # custom-page-sizes allows 1 and 65536 bytes
        raise ValidationError("invalid custom page size", at)
    # at most 2^32 (memory32) or 2^64 (memory64) bytes in pages of this size (a u64 limit
    # can say at most 2^64 - 1)
    bound = min(1 << ((64 if mt.limits.is64 else 32) - log2), (1 << 64) - 1)
    _limits(mt.limits, bound, "memory", at)


def _table_limits(tt, at):
    _limits(tt.limits, (1 << 64) - 1 if tt.limits.is64 else (1 << 32) - 1, "table", at)


def module_context(m: Module) -> BodyContext:
    """Check the module-level rules and return what function bodies may refer to."""
    types = m.types
    nowhere = len(m.raw)
    func_types = []
    for imp in m.imports:
        if imp.kind == EXT_FUNC:
            if imp.desc >= len(types):
                raise ValidationError(f"unknown type {imp.desc}", nowhere)
            func_types.append(types[imp.desc])
        elif imp.kind == EXT_TABLE:
            _table_limits(imp.desc, nowhere)
        elif imp.kind == EXT_MEMORY:
            _memory_limits(imp.desc, nowhere)
    for f in m.funcs:
        if f.type_index >= len(types):
            raise ValidationError(f"unknown type {f.type_index}", f.offset)
        func_types.append(types[f.type_index])
    nfuncs = len(func_types)
    for t in m.tables:
        _table_limits(t, nowhere)
    for mt in m.mems:
        _memory_limits(mt, nowhere)
    tables = m.table_types
    mems = m.mem_types
    refs: set = set()
    imported_globals = [i.desc for i in m.imports if i.kind == EXT_GLOBAL]
    globals_ = list(imported_globals)
    for g in m.globals:
        # Wasm 3.0: an initializer may read any earlier immutable global.
        _const_expr(g.init, g.type.valtype, globals_, nfuncs, refs)
        globals_.append(g.type)
    elem_types = []
    for seg in m.elems:
        if seg.funcs is not None:
            for fi in seg.funcs:
                if fi >= nfuncs:
                    raise ValidationError(f"unknown function {fi}", nowhere)
                refs.add(fi)
        else:
            for e in seg.exprs:
                _const_expr(e, seg.reftype, globals_, nfuncs, refs)
        if seg.mode == "active":
            if seg.table >= len(tables):
                raise ValidationError(f"unknown table {seg.table}", seg.offset.offset)
            tt = tables[seg.table]
            _const_expr(seg.offset, I64 if tt.limits.is64 else I32, globals_, nfuncs, refs)
            if tt.elem != seg.reftype:
                raise ValidationError("type mismatch: element segment does not match its table",
                                      seg.offset.offset)
        elem_types.append(seg.reftype)
    for d in m.datas:
        if d.mode == "active":
            if d.memory >= len(mems):
                raise ValidationError(f"unknown memory {d.memory}", d.offset.offset)
            is64 = mems[d.memory].limits.is64
            _const_expr(d.offset, I64 if is64 else I32, globals_, nfuncs, refs)
    if m.start is not None:
        if m.start >= nfuncs:
            raise ValidationError(f"unknown function {m.start}", nowhere)
        st = func_types[m.start]
        if st.params or st.results:
            raise ValidationError("start function must have type [] -> []", nowhere)
    seen = set()
    spaces = {EXT_FUNC: (nfuncs, "function"), EXT_TABLE: (len(tables), "table"),
              EXT_MEMORY: (len(mems), "memory"), EXT_GLOBAL: (len(globals_), "global")}
    for e in m.exports:
        if e.name in seen:
            raise ValidationError(f"duplicate export name {e.name!r}", nowhere)
        seen.add(e.name)
        n, what = spaces[e.kind]
        if e.index >= n:
            raise ValidationError(f"unknown {what} {e.index}", nowhere)
        if e.kind == EXT_FUNC:
            refs.add(e.index)
    return BodyContext(types, func_types, tables, mems, globals_, elem_types, m.data_count,
                       frozenset(refs))


def validate_module(m: Module, visit_factory=None) -> BodyContext:
    """Validate a decoded module; `visit_factory(func_index)` may give a visitor per body."""
    ctx = module_context(m)
    first = m.num_imported_funcs
    data = m.raw
    for i, f in enumerate(m.funcs):
        visit = visit_factory(first + i) if visit_factory is not None else None
        try:
            validate_body(ctx, first + i, f, data, visit)
        except ValidationError:
            # A malformation anywhere in the code section wins over this invalidity.
            for g in m.funcs[i:]:
                decode_instrs(data, g.body[0], g.body[1])
            raise
    return ctx


def validate(data: bytes) -> Module:
    """Decode and validate a binary module; the front end's entry point.

    Raises `DecodeError` (malformed), `ValidationError` (invalid) or `Unsupported(feature)`.
    """
    m = decode_module(data)
    validate_module(m)
    return m


__all__ = ["validate", "validate_module", "module_context", "DecodeError", "ValidationError",
           "Unsupported"]
