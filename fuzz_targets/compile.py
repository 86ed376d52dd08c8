#!/usr/bin/env python3
"""Fuzz target: seed modules mutated structurally, compiled for every ISA.

    python -m fuzz_targets.compile CORPUS_DIR [libFuzzer flags]

Each input picks a seed module (`oracle.corpus`, or the files the glob
`$ORACLE_COMPILE_SEEDS` matches) and a few structural mutations of its function bodies: an
operator replaced by another of the same signature, a constant replaced by an edge value, a
memory offset or alignment changed, an instruction deleted, duplicated or swapped with its
neighbour.  Mutants our validator
rejects are skipped; the rest are compiled for x64, aarch64 and s390x, twice each:
- any exception but `Unsupported` is a compiler crash;
- two compilations giving different code is a nondeterministic compile.
"""

from __future__ import annotations

import os
import sys

if not __package__ and sys.path[0] == os.path.dirname(os.path.realpath(__file__)):
    # run by path (as libFuzzer's -fork/-jobs children are): import the package, not its files
    sys.path[0] = os.path.dirname(sys.path[0])

import dataclasses
import glob
import traceback

import atheris

with atheris.instrument_imports(include=["winch"]):
    from winch.codegen.compile import compile_module
    from winch.errors import Unsupported, WinchError
    from winch.wasm import validate
    from winch.wasm.encoder import encode_module, func_instrs
    from winch.wasm.module import Instr
    from winch.wasm.opcodes import OPS
    from winch.wasm.reader import decode_module

from fuzz_targets import apply_mutant_from_env, findings, fuzz  # noqa: E402
from oracle import corpus  # noqa: E402

ISAS = tuple(os.environ.get("ORACLE_ISAS", "x64,aarch64,s390x").split(","))
SEED_GLOB = os.environ.get("ORACLE_COMPILE_SEEDS")  # default: the seeds of oracle.corpus
# a fallback seed when no seed decodes: (i32,i32)->i32 add
FALLBACK = bytes.fromhex("0061736d0100000001070160027f7f017f030201000a09010700200020016a0b")

EDGES = {"i32.const": (0, 1, -1, 2**31 - 1, -2**31, 31, 32),
         "i64.const": (0, 1, -1, 2**63 - 1, -2**63, 63, 64, 2**32),
         "f32.const": (0, 0x80000000, 0x7F800000, 0x7FC00000, 0x3F800000, 1, 0x4F000000),
         "f64.const": (0, 1 << 63, 0x7FF0 << 48, 0x7FF8 << 48, 0x3FF0 << 48, 1, 0x41E0 << 48)}
SAME_SIG: dict = {}
for _o in OPS:
    if _o.has_sig and _o.family not in ("const",) and _o.feature in (
            "mvp", "sign-extension", "nontrapping-float-to-int"):
        SAME_SIG.setdefault((_o.family in ("load", "store"), _o.params, _o.results),
                            []).append(_o)
STATS = {"inputs": 0, "invalid mutants": 0, "compiled": 0, "unsupported": 0}


def _load_seeds() -> list:
    if SEED_GLOB:
        datas = []
        for p in sorted(glob.glob(SEED_GLOB)):
            try:
                datas.append(open(p, "rb").read())
            except OSError:
                continue
    else:
        datas = [data for _, data in corpus.seeds()]
    seeds = []
    for data in datas:
        try:
            seeds.append(decode_module(data))
        except WinchError:
            continue
    return seeds or [decode_module(FALLBACK)]


SEEDS = _load_seeds()
MUTATIONS = ("same-sig op", "edge constant", "memarg", "delete", "duplicate", "swap")


def mutate(fdp: atheris.FuzzedDataProvider):
    """A mutated module from the seeds, or None if the mutant is not even decodable."""
    m = SEEDS[fdp.ConsumeIntInRange(0, len(SEEDS) - 1)]
    if not m.funcs:
        return m
    bodies = [list(func_instrs(m, f)) for f in m.funcs]
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        body = bodies[fdp.ConsumeIntInRange(0, len(bodies) - 1)]
        if len(body) < 2:
            continue
        i = fdp.ConsumeIntInRange(0, len(body) - 2)  # never the final `end`
        ins = body[i]
        kind = MUTATIONS[fdp.ConsumeIntInRange(0, len(MUTATIONS) - 1)]
        if kind == "same-sig op" and ins.op.has_sig and ins.op.family != "const":
            alts = SAME_SIG.get((ins.op.family in ("load", "store"), ins.op.params,
                                 ins.op.results), [ins.op])
            op = alts[fdp.ConsumeIntInRange(0, len(alts) - 1)]
            imm = ins.imm
            if op.imm == "memarg":
                imm = (min(imm[0], op.align), imm[1], imm[2]) if ins.op.imm == "memarg" \
                    else (op.align, 0, 0)
            body[i] = Instr(op, imm)
        elif kind == "edge constant" and ins.op.name in EDGES:
            vals = EDGES[ins.op.name]
            body[i] = Instr(ins.op, vals[fdp.ConsumeIntInRange(0, len(vals) - 1)])
        elif kind == "memarg" and ins.op.imm == "memarg":
            align = fdp.ConsumeIntInRange(0, ins.op.align)
            offset = (0, 1, 7, 65535, 65536, 2**32 - 1)[fdp.ConsumeIntInRange(0, 5)]
            body[i] = Instr(ins.op, (align, offset, ins.imm[2]))
        elif kind == "delete":
            del body[i]
        elif kind == "duplicate":
            body.insert(i, ins)
        elif kind == "swap" and i + 2 < len(body):
            body[i], body[i + 1] = body[i + 1], body[i]
    funcs = tuple(dataclasses.replace(f, instrs=tuple(b)) for f, b in zip(m.funcs, bodies))
    return dataclasses.replace(m, funcs=funcs)


def _crash_signature(isa: str, e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    inner = tb[-1] if tb else None
    where = f"{inner.filename.rsplit('/', 1)[-1]}:{inner.lineno}" if inner else "?"
    return f"compiler crash|winch-{isa}|{isa}|{type(e).__name__} at {where}"


def check_module(wasm: bytes) -> None:
    """Compile a valid module for every ISA twice; record crashes and nondeterminism."""
    for isa in ISAS:
        try:
            first = compile_module(wasm, isa)
            second = compile_module(wasm, isa)
        except Unsupported:
            STATS["unsupported"] += 1
            return
        except Exception as e:  # noqa: BLE001 - any other exception is a compiler bug
            findings.record("compile", "compiler crash", _crash_signature(isa, e), wasm,
                            detail=traceback.format_exc())
            continue
        STATS["compiled"] += 1
        if first.code != second.code:
            findings.record("compile", "nondeterministic compile",
                            f"nondeterministic compile|winch-{isa}|{isa}|compile", wasm,
                            detail="two compilations of the same module differ")


apply_mutant_from_env()


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    STATS["inputs"] += 1
    m = mutate(atheris.FuzzedDataProvider(data))
    wasm = encode_module(m)
    try:
        validate(wasm)
    except WinchError:
        STATS["invalid mutants"] += 1
        return
    check_module(wasm)


def main(argv=None) -> None:
    fuzz(TestOneInput, STATS, argv)


if __name__ == "__main__":
    main()
