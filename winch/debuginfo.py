"""The debug table of a module compiled with `compile_module(..., debug=True)`, and the events
a traced run produces (issue 23).

Problem
-------
To localize a wrong result to one Wasm instruction, a run must be observable instruction by
instruction: the state before each executed instruction (a `Step`) and every write to a linear
memory (a `Write`), in the same form the reference interpreter (oracle/interp) produces.

Debug code (winch/codegen/debug.py) keeps the whole value stack and every local of the current
frame in frame slots at each Wasm instruction boundary; `DebugInfo` says, per boundary, at which
code offset it is and where each value lives relative to the frame-pointer register `fp_reg`.

Invariants
----------
- `Step.func` is the module-level function index (imports first); `Step.offset` the byte offset
  of the instruction's opcode in the module file.
- A value is `(type, bits)`: type a winch.wasm.types constant, bits an unsigned int (32-bit
  pattern for i32/f32, 64-bit for i64/f64); references: bits None unless known (0 = null).
- `DebugInfo.boundaries` is sorted by code offset; a Boundary's `stack` and `locals` are tuples
  of `(type, fp_offset)`: the value is at `[fp_reg + fp_offset]` when execution reaches
  `code_offset` (the first byte of the instruction's lowering).  Observed normal code
  (`compile_module(..., debug="observe")`, mode "observe") also has stack entries
  `(type, ("reg", unicorn_register_name))` and `(type, ("const", bits))`.
- This module imports nothing: oracle and winch both use it.
"""

from __future__ import annotations

from typing import NamedTuple


class Step(NamedTuple):
    """The state of the current frame just before one executed Wasm instruction."""

    func: int  # module-level function index (imports first)
    offset: int  # byte offset of the instruction's opcode in the module file
    stack: tuple  # operand stack of the current frame, bottom first: ((type, bits), ...)
    locals: tuple  # params then declared locals: ((type, bits), ...)


class Write(NamedTuple):
    """One write to a linear memory (little-endian value of the written bytes)."""

    mem: int
    addr: int
    size: int
    value: int


class Boundary(NamedTuple):
    """Where the values of the current frame are at one Wasm instruction boundary."""

    func: int  # module-level function index
    offset: int  # wasm byte offset of the instruction
    code_offset: int  # first byte of its lowering in CompiledModule.code
    stack: tuple  # ((type, fp_offset), ...), bottom first
    locals: tuple  # ((type, fp_offset), ...)


class DebugInfo(NamedTuple):
    """CompiledModule.debug: the boundary table of a debug-compiled module."""

    fp_reg: str  # the frame-pointer register's name (Unicorn's spelling, lower case)
    boundaries: tuple  # Boundary, ... sorted by code_offset
    #: "debug": debug code (every value in its slot); "observe": normal code observed (a
    #: Boundary's stack entry may be `(type, ("reg", name))` or `(type, ("const", bits))`)
    mode: str = "debug"
