"""What the interpreter runs: exactly what our compiler compiles (core 2.0 scalar, memory64,
table64, multi-memory, custom page sizes); the rest is `Unsupported(feature)`, by the same
rules as `winch.codegen` (its `check_module_scope` and function visitor), so that both
engines skip the same spec commands.

- module level: shared memories (threads), table element types other than funcref and
  externref, v128 (simd) or typed references (function-references) in function types and
  globals, tag imports (exceptions);
- per function: v128 or typed-reference locals;
- per reachable instruction: an operator outside the scalar features, or a v128 block type.
  Code after `br`/`br_table`/`return`/`unreachable` up to its block's end is not looked at
  (the compiler emits nothing for it, and it never runs).

Validity wins: the module is validated to the end before an Unsupported is raised.
"""

from __future__ import annotations

from winch.errors import Unsupported
from winch.wasm.module import EXT_FUNC, EXT_GLOBAL, EXT_MEMORY, EXT_TABLE, Module
from winch.wasm.reader import decode_module
from winch.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, V128
from winch.wasm.validate import validate_module

SCALAR_FEATURES = frozenset(("mvp", "sign-extension", "nontrapping-float-to-int",
                             "bulk-memory", "reference-types"))
SCALAR_TYPES = frozenset((I32, I64, F32, F64, FUNCREF, EXTERNREF))
_ENDS_REACH = frozenset(("br", "br_table", "return", "unreachable"))


def check_type(t: int) -> None:
    if t == V128:
        raise Unsupported("simd", "v128 value")
    if t not in SCALAR_TYPES:
        raise Unsupported("function-references", f"value type 0x{t:02x}")


class _Visitor:
    """Reachability as the compiler tracks it; the first unsupported thing is kept."""

    def __init__(self, found: list, local_decls):
        self.found = found
        self.unreachable = False
        self.dead = 0
        for _n, t in local_decls:
            self._try(check_type, t)

    def _try(self, fn, *args):
        if not self.found:
            try:
                fn(*args)
            except Unsupported as e:
                self.found.append(e)

    def __call__(self, op, imm, offset) -> None:
        name = op.name
        if self.unreachable:
            if name in ("block", "loop", "if"):
                self.dead += 1
            elif name in ("end", "else"):
                if self.dead:
                    if name == "end":
                        self.dead -= 1
                else:
                    self.unreachable = False
            return
        if op.feature not in SCALAR_FEATURES and not self.found:
            self.found.append(Unsupported(op.feature, op.name, offset))
        if name in ("block", "loop", "if") and -64 < imm < 0:
            self._try(check_type, imm + 128)
        if name in _ENDS_REACH:
            self.unreachable = True


def check_scope(m: Module) -> None:
    """Module-level scope (raises Unsupported)."""
    for mt in m.mem_types:
        if mt.limits.shared:
            raise Unsupported("threads", "shared memory")
    for tt in m.table_types:
        if tt.elem not in (FUNCREF, EXTERNREF):
            raise Unsupported("function-references", "table element type")
    for t in dict.fromkeys(gt.valtype for gt in m.global_types):
        check_type(t)
    for t in dict.fromkeys(t for ft in m.types for t in ft.params + ft.results):
        check_type(t)
    for imp in m.imports:
        if imp.kind not in (EXT_FUNC, EXT_TABLE, EXT_MEMORY, EXT_GLOBAL):
            raise Unsupported("exceptions", "tag import")


def load(wasm: bytes) -> Module:
    """Decode, validate and check the scope of a binary module.  Raises DecodeError,
    ValidationError or Unsupported."""
    m = decode_module(wasm)
    found: list = []
    first = m.num_imported_funcs

    def factory(func_index):
        return _Visitor(found, m.funcs[func_index - first].locals)

    validate_module(m, factory)
    check_scope(m)
    if found:
        raise found[0]
    return m
