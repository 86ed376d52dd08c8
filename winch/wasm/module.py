"""The structured module: what the reader produces, the validator checks and the encoder writes.

Everything here is frozen: a tool that changes a module (the reducer, the generator) builds
a new one with `dataclasses.replace`.  Function bodies are kept as byte ranges of the
original binary (`Func.body`) so the compiler can run its one pass straight over the bytes;
`Func.instrs` holds an instruction list instead when a tool built or rewrote the body.

Immediates (`Instr.imm`) by the opcode row's `imm` kind:
  blocktype        the raw s33: -64 empty, -1..-17 a value type (`bt + 128`), >= 0 a type index
  label/func/...   an int index
  br_table         (targets tuple, default)
  call_indirect    (typeidx, tableidx)
  memarg           (align, offset, memidx)          memarg_lane: (align, offset, memidx, lane)
  i32/i64          a signed int                      f32/f64: the raw bit pattern as an int
  v128/shuffle     16 bytes                          select_t: a tuple of value types
  heaptype         FUNCREF or EXTERNREF              data_mem/mem_mem/elem_table/table_table: a pair
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from winch.wasm.opcodes import Op
from winch.wasm.types import FuncType, GlobalType, MemoryType, TableType

# external kinds, as encoded
EXT_FUNC, EXT_TABLE, EXT_MEMORY, EXT_GLOBAL, EXT_TAG = 0, 1, 2, 3, 4
EXT_NAMES = {EXT_FUNC: "func", EXT_TABLE: "table", EXT_MEMORY: "memory", EXT_GLOBAL: "global",
             EXT_TAG: "tag"}


@dataclass(frozen=True, slots=True)
class Instr:
    op: Op
    imm: Any = None
    offset: int = -1  # byte offset in the module it was read from, -1 if built by a tool

    def __repr__(self) -> str:
        return f"{self.op.name}" + ("" if self.imm is None else f" {self.imm!r}")


@dataclass(frozen=True, slots=True)
class ConstExpr:
    instrs: tuple  # of Instr, without the final `end`
    offset: int = -1


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    name: str
    kind: int  # EXT_*
    desc: Any  # type index | TableType | MemoryType | GlobalType


@dataclass(frozen=True, slots=True)
class Export:
    name: str
    kind: int
    index: int


@dataclass(frozen=True, slots=True)
class Global:
    type: GlobalType
    init: ConstExpr


@dataclass(frozen=True, slots=True)
class Elem:
    """An element segment.  `flags` is the binary form (0..7) it was, or is to be, encoded in."""

    flags: int
    mode: str  # "active" | "passive" | "declarative"
    reftype: int
    table: int = 0
    offset: ConstExpr | None = None
    funcs: tuple | None = None  # function indices (flags 0-3)
    exprs: tuple | None = None  # ConstExprs (flags 4-7)

    @property
    def count(self) -> int:
        return len(self.funcs) if self.funcs is not None else len(self.exprs)


@dataclass(frozen=True, slots=True)
class Data:
    flags: int  # 0 active mem 0, 1 passive, 2 active with explicit memory
    mode: str  # "active" | "passive"
    init: bytes
    memory: int = 0
    offset: ConstExpr | None = None


@dataclass(frozen=True, slots=True)
class Func:
    """A defined function: its type, its local declarations and its body."""

    type_index: int
    locals: tuple  # ((count, valtype), ...) as declared
    body: tuple = (0, 0)  # (start, end) of the instructions in `Module.raw`, end exclusive
    instrs: tuple | None = None  # Instr list (including the final `end`) when built by a tool
    offset: int = -1  # offset of the code entry (its size field)


@dataclass(frozen=True, slots=True)
class Custom:
    name: str
    payload: bytes
    after: int  # id of the last non-custom section before it (0: before all)


@dataclass(frozen=True, slots=True)
class Module:
    types: tuple = ()
    imports: tuple = ()
    funcs: tuple = ()  # Func for each defined function
    tables: tuple = ()  # TableType of defined tables
    mems: tuple = ()  # MemoryType of defined memories
    globals: tuple = ()  # Global
    exports: tuple = ()
    start: int | None = None
    elems: tuple = ()
    datas: tuple = ()
    data_count: int | None = None
    customs: tuple = ()
    raw: bytes = b""
    # Ids of the non-custom sections in the order they appeared (re-encoding keeps it).
    section_order: tuple = ()

    # -- index spaces: imports first, then definitions --------------------------------------
    def _imported(self, kind: int) -> list:
        return [i.desc for i in self.imports if i.kind == kind]

    @property
    def func_types(self) -> tuple:
        """The type index of every function in the function index space."""
        return tuple(self._imported(EXT_FUNC)) + tuple(f.type_index for f in self.funcs)

    @property
    def table_types(self) -> tuple:
        return tuple(self._imported(EXT_TABLE)) + tuple(self.tables)

    @property
    def mem_types(self) -> tuple:
        return tuple(self._imported(EXT_MEMORY)) + tuple(self.mems)

    @property
    def global_types(self) -> tuple:
        return tuple(self._imported(EXT_GLOBAL)) + tuple(g.type for g in self.globals)

    @property
    def num_imported_funcs(self) -> int:
        return sum(1 for i in self.imports if i.kind == EXT_FUNC)

    def func_type(self, func_index: int) -> FuncType:
        return self.types[self.func_types[func_index]]

    def export_map(self) -> dict:
        return {e.name: e for e in self.exports}
