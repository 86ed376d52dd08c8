"""Issue 20 in the generator, the printer and the reducer: the swarm families `memory64`,
`table64` and `multi_memory` make valid modules with several memories of both index types,
64-bit tables and their boundary cases; the WAT printer round-trips them; the reducer keeps
their addresses typed and renumbers memories."""

from __future__ import annotations

import importlib.util
import pathlib
import random
import sys

import pytest
import wasmtime

from oracle.gen import generate
from oracle.gen.config import Config
from oracle.plan import Call, Plan
from oracle.reduce import edit
from oracle.reduce import passes as P
from oracle.reduce.stack_types import stack_before
from oracle.reduce.trees import RemoveTrees
from oracle.watprint import print_wat
from winch.wasm import validate
from winch.wasm.encoder import encode_module, func_instrs
from winch.wasm.module import EXT_MEMORY
from winch.wasm.reader import decode_module
from winch.wasm.types import I32, I64

ROOT = pathlib.Path(__file__).resolve().parent.parent
NEW = frozenset({"memory64", "table64", "multi_memory"})
HELPERS = frozenset({"memory", "bulk_memory", "locals", "int", "blocks", "call_indirect",
                     "reference_types", "bulk_tables", "calls"})


def _engine() -> wasmtime.Engine:
    cfg = wasmtime.Config()
    cfg.wasm_memory64 = True
    cfg.wasm_multi_memory = True
    cfg.wasm_custom_page_sizes = True
    return wasmtime.Engine(cfg)


ENGINE = _engine()


def _coverage():
    path = ROOT / "scripts" / "generator_coverage.py"
    spec = importlib.util.spec_from_file_location("generator_coverage", path)
    gc = sys.modules.setdefault("generator_coverage", importlib.util.module_from_spec(spec))
    if not hasattr(gc, "module_patterns"):
        spec.loader.exec_module(gc)
    return gc


def _modules(n: int, seed: int, families=NEW | HELPERS, max_instrs: int = 80) -> list:
    rng = random.Random(seed)
    cfg = Config(families=frozenset(families), max_instrs=max_instrs)
    return [generate(rng.randbytes(3000), cfg) for _ in range(n)]


def _ops(m) -> list:
    return [i for f in m.funcs for i in func_instrs(m, f)]


def test_new_family_modules_are_valid_for_both_validators_and_deterministic():
    rng = random.Random(20)
    for i in range(400):
        data = rng.randbytes(rng.choice((16, 600, 4096)))
        cfg = None if i % 2 else Config(families=NEW | HELPERS, max_instrs=80)
        wasm = generate(data, cfg)
        validate(wasm)
        wasmtime.Module.validate(ENGINE, wasm)
        assert generate(data, cfg) == wasm


def test_several_memories_of_both_index_types_all_exported_and_named_by_operators():
    seen = {"memarg>=1": 0, "i64 address": 0, "copy mixed": 0, "grow>=1": 0, "size>=1": 0,
            "fill>=1": 0, "init>=1": 0, "mem0 i64": 0, "offset>=2**32": 0, "pagesize 1": 0}
    mods = _modules(80, 1)
    for wasm in mods:
        m = decode_module(wasm)
        mems = m.mem_types
        assert 2 <= len(mems) <= 3
        exported = sorted(e.index for e in m.exports if e.kind == EXT_MEMORY)
        assert exported == list(range(len(mems)))  # the oracle compares exported memories
        seen["mem0 i64"] += mems[0].limits.is64
        seen["pagesize 1"] += any(mt.limits.page_log2 == 0 for mt in mems)
        assert mems[0].limits.page_log2 == 16  # memory 0: 64 KiB pages
        for ins in _ops(m):
            n, imm = ins.op.name, ins.imm
            if ins.op.family in ("load", "store"):
                seen["memarg>=1"] += imm[2] >= 1
                seen["i64 address"] += mems[imm[2]].limits.is64
                seen["offset>=2**32"] += imm[1] >= 1 << 32
            seen["copy mixed"] += n == "memory.copy" and \
                mems[imm[0]].limits.is64 != mems[imm[1]].limits.is64
            seen["grow>=1"] += n == "memory.grow" and imm >= 1
            seen["size>=1"] += n == "memory.size" and imm >= 1
            seen["fill>=1"] += n == "memory.fill" and imm >= 1
            seen["init>=1"] += n == "memory.init" and imm[1] >= 1
    assert all(seen.values()), seen
    assert seen["mem0 i64"] < len(mods)  # memory 0 keeps its 32-bit fast path in many


def test_without_the_new_families_memory_and_tables_stay_32_bit_and_single():
    for wasm in _modules(60, 2, HELPERS):
        m = decode_module(wasm)
        assert len(m.mem_types) <= 1
        assert not any(t.limits.is64 for t in m.mem_types + m.table_types)


def test_table64_tables_take_i64_indices_for_every_table_operator():
    ops = set()
    for wasm in _modules(60, 3, {"table64", "call_indirect", "reference_types", "bulk_tables",
                                 "locals", "int", "calls"}):
        m = decode_module(wasm)
        wide = {i for i, t in enumerate(m.table_types) if t.limits.is64}
        for ins in _ops(m):
            n, imm = ins.op.name, ins.imm
            t = imm[1] if n in ("call_indirect", "table.init") else \
                imm[0] if n == "table.copy" else imm
            if n.startswith("table.") and n != "table.init" or n == "call_indirect":
                if t in wide:
                    ops.add(n)
    assert ops >= {"table.get", "table.set", "table.size", "table.grow", "table.fill",
                   "table.copy", "call_indirect"}, ops


def test_boundary_patterns_of_the_new_families_show():
    """Statically (scripts/generator_coverage.py): accesses at each memory's own end, past
    2^32 and 2^64 on 64-bit memories, copies across index types, grows of memories >= 1
    and accesses after them, table64 indices >= 2^32; each in a few modules at least."""
    gc = _coverage()
    counts = {p: 0 for p in gc.PATTERNS if gc.pattern_family(p)}
    mods = _modules(150, 4, max_instrs=120)
    for wasm in mods:
        found = gc.module_patterns(decode_module(wasm))
        for p in counts:
            counts[p] += p in found
    assert all(c >= 0.02 * len(mods) for c in counts.values()), counts


def test_printer_round_trips_new_family_modules():
    # the text parses back to the same module (wat2wasm leaves out a data count section
    # nothing needs, so the bytes may differ there: the text is compared, a fixed point)
    for wasm in _modules(40, 5):
        text = print_wat(wasm)
        back = bytes(wasmtime.wat2wasm(text))
        assert print_wat(back) == text
        assert [(i.op.name, i.imm) for i in _ops(decode_module(back))] == \
            [(i.op.name, i.imm) for i in _ops(decode_module(wasm))]


def test_printer_writes_index_types_memory_indices_and_page_size():
    wasm = bytes(wasmtime.wat2wasm("""(module
      (memory i64 1 2 (pagesize 1)) (memory 1) (table i64 2 funcref)
      (func (result i32) i64.const 4294967296 i32.load8_u 0 offset=4294967300
        i32.const 1 i32.load 1 offset=3 i32.add
        i32.const 0 i64.const 0 i32.const 1 memory.copy 1 0))"""))
    text = print_wat(wasm)
    for line in ("(memory (;0;) i64 1 2 (pagesize 1))", "(memory (;1;) 1)",
                 "(table (;0;) i64 2 funcref)", "i32.load8_u offset=4294967300",
                 "i32.load 1 offset=3", "memory.copy 1 0"):
        assert line in text, (line, text)
    assert bytes(wasmtime.wat2wasm(text)) == wasm


# -- the reducer ------------------------------------------------------------------------------
MULTI = """(module
  (memory i64 1 2) (memory 1) (memory 1) (table i64 2 funcref)
  (export "m0" (memory 0)) (export "m2" (memory 2))
  (data (memory 2) (i32.const 0) "xyz")
  (func (export "f") (result i64)
    i64.const 7
    memory.size 0
    i64.add
    i64.load 0
    table.size 0
    i64.add
    i32.const 1
    i32.load8_u 2 offset=2
    drop))"""


def _state(text: str) -> P.State:
    return P.State(decode_module(bytes(wasmtime.wat2wasm(text))), Plan([Call("f", ())]))


def test_stack_typing_gives_64_bit_memories_and_tables_i64():
    st = _state(MULTI)
    body = list(func_instrs(st.module, st.module.funcs[0]))
    stacks = stack_before(st.module, 0, body)
    assert stacks[2][1] == (I64, I64)  # i64.const, memory.size of the 64-bit memory 0
    assert stacks[5][1] == (I64, I64)  # the load, table.size of the 64-bit table
    assert stacks[7][1] == (I64, I32)  # the address of memory 2 is an i32


def test_tree_replacement_keeps_a_64_bit_address_an_i64():
    st = _state(MULTI)
    calls = []

    def test(s):  # anything valid that still loads from memory 0
        wasm = encode_module(s.module)
        try:
            validate(wasm)
        except Exception:
            return False
        calls.append(wasm)
        return any(i.op.name == "i64.load" for i in _ops(s.module))

    out = RemoveTrees().run(st, test)
    body = [i.op.name for i in _ops(out.module)]
    assert body.index("i64.load") == 1 and body[0] == "i64.const", body
    wasmtime.Module.validate(ENGINE, encode_module(out.module))


def test_removing_an_unused_memory_renumbers_the_others():
    m = _state(MULTI).module
    assert edit.remove(m, "memory", 0) is None  # used and exported
    assert edit.remove(m, "memory", 2) is None  # used by a load and a data segment
    m1 = edit.remove(m, "memory", 1)
    assert m1 is not None and len(m1.mems) == 2
    wasm = encode_module(m1)
    validate(wasm)
    wasmtime.Module.validate(ENGINE, wasm)
    ops = {i.op.name: i.imm for i in _ops(m1)}
    assert ops["i32.load8_u"][2] == 1 and m1.datas[0].memory == 1
    assert [e.index for e in m1.exports if e.kind == EXT_MEMORY] == [0, 1]


def test_shrinking_limits_keeps_the_index_type():
    st = _state(MULTI)

    def test(s):
        wasm = encode_module(s.module)
        try:
            validate(wasm)
        except Exception:
            return False
        return True

    out = P.ShrinkLimits().run(st, test)
    assert out.module.mems[0].limits.is64 and out.module.tables[0].limits.is64
    assert out.module.mems[0].limits.max == 0


# -- the oracle on them ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [6, 7])
def test_oracle_diff_agrees_on_new_family_modules(seed):
    from oracle.diff import run_diff

    engines = ["wasmtime", "winch-x64", "winch-aarch64", "winch-s390x"]
    for wasm in _modules(4, seed, max_instrs=60):
        r = run_diff(wasm, engines, determinism="none")
        assert all(run.status == "ok" for run in r.runs.values()), {
            n: (run.status, run.detail[:200]) for n, run in r.runs.items()}
        assert r.agree, [(f.signature, f.detail[:200]) for f in r.findings]


def test_a_generated_memory64_finding_reduces_to_its_64_bit_access():
    """With the carry check of 64-bit accesses removed (a deliberate bug), a generated
    module shows a finding; the reducer shrinks it to a few instructions that still load
    through an i64 address near 2^64 from the 64-bit memory, and the result is valid."""
    from oracle.diff import run_diff
    from oracle.mutants import applied
    from oracle.reduce import reduce_module
    from oracle.reduce.predicate import SignaturePredicate

    with applied("x64-mem64-carry-unchecked"):
        for k in range(60):
            wasm = generate(random.Random(k).randbytes(4096))
            r = run_diff(wasm, ["wasmtime", "winch-x64"], determinism="none")
            if r.findings:
                break
        assert r.findings
        res = reduce_module(wasm, r.plan, SignaturePredicate(r.findings[0].signature),
                            max_seconds=60)
    assert res.instrs_after <= 20 < res.instrs_before
    m = decode_module(res.wasm)
    wasmtime.Module.validate(ENGINE, res.wasm)
    assert any(mt.limits.is64 for mt in m.mem_types)
    ops = _ops(m)
    loads = [k for k, i in enumerate(ops) if i.op.family == "load"]
    assert loads and ops[loads[0] - 1].op.name == "i64.const"
