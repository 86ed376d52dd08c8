"""Hypothesis strategies for valid WebAssembly modules, and the generator's public names.

    from oracle.strategies import wasm_modules, configs, single_instruction_modules
    from oracle.strategies import generate   # the same generator driven by raw bytes

The generator itself lives in `oracle.gen` and draws every choice from a *choice source*
(`oracle.gen.source`): here hypothesis (`HypothesisSource`), so these strategies shrink;
in the fuzz targets the libFuzzer input's bytes (`ByteSource`, `generate(data)`).

Every module is built instruction by instruction against a *type stack* (the operand types)
and a *control stack* (open blocks and what their labels expect), so any choice sequence
gives a valid module: an operator is offered only when its operands are on the stack, a
branch only with its label's values in place, and every block is closed by making the stack
match its results (values in the way are folded into sink globals, missing ones pushed as
operands).

What the generated code guarantees:
- termination: a fuel global (`fuel`, exported) is decremented at every function entry and
  loop header and traps (`unreachable`) when spent, so loops end (functions call only
  functions defined after them: no recursion);
- observability: values that would be dropped are XOR-ed into exported sink globals, every
  mutable global and every memory are exported, and the oracle compares them after each call;
- imports are host functions (`"host" "hN"`) that the oracle defines deterministically;
- optional NaN canonicalization (`Config.canonicalize_nans`) after every float operation
  whose NaN bits the spec leaves open, so results compare bit for bit;
- references never stay on the operand stack (nor in signatures or globals): what a
  reference operation yields is observed as an i32 (`ref.is_null`, `table.size`,
  `table.grow`) or a trap; the table `call_indirect` uses is never written, so indirect
  calls too reach only functions defined after the caller;
- every operator the compiler has a handler for can occur (`winch.codegen.func.HANDLERS`):
  numeric, memory, bulk memory (`memory.init`/`data.drop` on a passive segment, with the data
  count section), control, calls, reference types and table operations (a funcref and, in
  half the modules, an externref table; passive, active and declarative element segments);
- swarm families `memory64`, `table64`, `multi_memory` (`oracle.gen.mems`): 2-3 memories of
  both index types, each with data of its own, every memory operator naming its memory, i64
  addresses, offsets and lengths, accesses at each memory's end, past 2^32 and carrying past
  2^64, copies across index types, a grow then an access in bounds only after it, now and
  then a memory of 1-byte pages (custom-page-sizes); 64-bit tables with i64 indices for
  every table operator and `call_indirect` (indices >= 2^32).

The corners baseline compilers get wrong are favoured: more live values than registers
(spills), nested and multi-value blocks, `br_table` carrying values, code after `br` /
`return` / `unreachable` that still merges, calls with many arguments and results, memory
accesses at the edges of the memory and constants at the edges of their types; and, in one
swarm configuration in 16, big frames (hundreds of locals, long bodies) whose locals and spill
slots lie beyond the reach of a load/store immediate.

Shrinking: modules shrink toward fewer functions, shorter bodies, the first actions and
operators, and constants toward the edge values (0 first).

Byte format (`generate(data)`, `ByteSource`): one to eight bytes a choice, little-endian,
read in the order `oracle.gen.module` documents (the swarm configuration first); past the end
every byte reads as zero, the simplest choice, so a short input is a small module and the
empty input one function with an empty body.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from oracle.gen.body import LOADS, STORES, PAGE, TRAP_OPERANDS, const_bytes, opb, uleb
from oracle.gen.config import (BIG_FRAME_FUNCS, BIG_FRAME_INSTRS, BIG_FRAME_LOCALS, FAMILIES,
                               NUMERIC_OPS, Config, check_sizes, draw_config, numeric_ops)
from oracle.gen.module import build, generate
from oracle.gen.source import EDGE_BITS, NUM, ByteSource, HypothesisSource
from winch.wasm.opcodes import BY_NAME, OPS
from winch.wasm.types import F32, I32

__all__ = ["Config", "FAMILIES", "configs", "wasm_modules", "single_instruction_modules",
           "SINGLE_INSTRUCTION_OPS", "generate", "single_module", "ByteSource",
           "HypothesisSource"]

_numeric_ops = numeric_ops  # the old private name (scripts/generator_coverage.py)
# names tests and scripts import from here, defined in oracle.gen
REEXPORTED = (TRAP_OPERANDS, BIG_FRAME_FUNCS, BIG_FRAME_INSTRS, BIG_FRAME_LOCALS, NUMERIC_OPS,
              EDGE_BITS, ByteSource)
MASK32 = 0xFFFF_FFFF


class _Body:
    """The old home of the load/store tables (read by scripts/generator_coverage.py)."""

    _LOADS, _STORES = LOADS, STORES


@st.composite
def _configs(draw, max_funcs, max_instrs, big_frames):
    return draw_config(HypothesisSource(draw), max_funcs, max_instrs, big_frames)


def configs(*, max_funcs: int = 6, max_instrs: int = 120,
            big_frames: int = 16) -> st.SearchStrategy:
    """Swarm configurations: each family on or off, size limits drawn per test, and half the
    time a handful of numeric operators only (swarm testing over operators: each chosen one
    is then used many times, with many operands, in one module).  One configuration in
    `big_frames` (0: none) is a big frame: 500 to 1200 more locals of mixed types (one big
    frame in four: 4100 to 4600, past 32 KiB) in at most two functions with long bodies
    (`BIG_FRAME_*`, beyond `max_instrs`), so that locals and
    spill slots lie far from the frame pointer.

    Shrinks toward no optional family (only constants, locals and arithmetic survive
    shrinking if the bug needs them), toward every operator of the families, toward the
    smallest sizes, and toward an ordinary frame."""
    check_sizes(max_funcs, max_instrs, big_frames)
    return _configs(max_funcs, max_instrs, big_frames)


@st.composite
def _modules(draw, config):
    return build(HypothesisSource(draw), config)


def wasm_modules(config: Config | None = None) -> st.SearchStrategy:
    """Valid modules (as `bytes`) under `config`, or under a swarm configuration drawn as
    `configs()` draws them when `config` is None.

    Shrinks toward one function with an empty body, no imports, no user globals and no
    data; within bodies toward fewer instructions, constants, and the first operators."""
    if config is not None and not isinstance(config, Config):
        raise InvalidArgument(f"wasm_modules(config=...) takes a Config or None, "
                              f"not {type(config).__name__}")
    return _modules(config)


# -- one operator per module ---------------------------------------------------------------------
def _single_ops() -> list:
    out = []
    for o in OPS:
        if o.feature not in ("mvp", "sign-extension", "nontrapping-float-to-int"):
            continue
        if o.has_sig and o.family not in ("const",) and all(
                t in NUM for t in o.params + o.results):
            out.append(o)
    return out


SINGLE_INSTRUCTION_OPS = tuple(o.name for o in _single_ops())


def _vec(items) -> bytes:
    return uleb(len(items)) + b"".join(items)


def _section(sid: int, payload: bytes) -> bytes:
    return bytes((sid,)) + uleb(len(payload)) + payload


def single_module(src, ops) -> bytes:
    """The module `single_instruction_modules` describes, from the choice source `src`."""
    o = BY_NAME[src.pick(ops)]
    if o.family == "load":
        addr = src.pick((0, 1, PAGE - (1 << o.align), PAGE - 1, PAGE, -1))
        body = const_bytes(I32, addr & MASK32) + opb(o.name) + bytes((o.align,)) \
            + uleb(src.pick((0, 1, PAGE)))
    else:
        body = b""
        if o.family == "store":  # the table's signature omits the address
            body += const_bytes(I32, src.pick((0, PAGE - (1 << o.align), PAGE - 1, PAGE)))
        for t in o.params:
            width = 32 if t in (I32, F32) else 64
            bits = src.pick(EDGE_BITS[t]) if src.bool() else src.int(0, (1 << width) - 1)
            body += const_bytes(t, bits)
        body += opb(o.name) + (bytes((o.align, 0)) if o.family == "store" else b"")
    mem = o.family in ("load", "store")
    out = [b"\0asm\x01\0\0\0",
           _section(1, _vec([b"\x60\x00" + uleb(len(o.results)) + bytes(o.results)])),
           _section(3, b"\x01\x00")]
    if mem:
        out.append(_section(5, b"\x01\x01\x01\x01"))
    exports = [b"\x03run\x00\x00"] + ([b"\x03mem\x02\x00"] if mem else [])
    out.append(_section(7, _vec(exports)))
    out.append(_section(10, _vec([uleb(len(body) + 2) + b"\x00" + body + b"\x0b"])))
    if mem:
        out.append(_section(11, b"\x01\x00" + const_bytes(I32, PAGE - 16) + b"\x0b\x10"
                            + bytes(range(1, 17))))
    return b"".join(out)


@st.composite
def _single(draw, ops):
    return single_module(HypothesisSource(draw), ops)


def single_instruction_modules(ops=None) -> st.SearchStrategy:
    """Modules whose one exported function `run` executes exactly one operator on constant
    operands drawn from the edge values of their types (memory operators: at the edges of a
    one-page memory).  `ops`: operator names to draw from (default: every numeric and
    memory operator in scope, `SINGLE_INSTRUCTION_OPS`).

    Shrinks toward the first operator of the opcode table and operands toward 0."""
    if ops is None:
        ops = SINGLE_INSTRUCTION_OPS
    ops = tuple(ops)
    bad = [n for n in ops if n not in SINGLE_INSTRUCTION_OPS]
    if bad or not ops:
        raise InvalidArgument(f"single_instruction_modules: not in scope: {bad or 'no ops'}")
    return _single(ops)
