"""Deliberate compiler bugs, to prove the oracle, the generator and the reducer find them.

    python scripts/mutants.py list
    python scripts/mutants.py find MUTANT -o crash.wasm       # generate until a finding
    python scripts/mutants.py table [--max-seconds 60]        # find + reduce every mutant
    python scripts/mutants.py predicate MUTANT SIGNATURE FILE # exit 0 if FILE still shows it

Each mutant patches one lowering of our compiler in-process (a handler of
`winch.codegen.func.HANDLERS`, on every ISA or on one).  Fuzz targets apply the mutant named
by `$ORACLE_MUTANT` (see `fuzz_targets.apply_mutant_from_env`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import statistics
import sys
import time
import warnings
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Mutant:
    name: str
    description: str
    op: str  # the handler that is replaced
    isa: str  # the ISA it breaks ("" = all)
    make: object  # (handlers dict, the mutated op's name) -> the new handler

    @property
    def engine(self) -> str:
        return f"winch-{self.isa or 'x64'}"


def _as(other, only_on: str | None = None):
    """Lower the operator as `other` (its handler gets `other`'s opcode row too: the memory
    handlers read the access width from it); `only_on`: a macro-assembler class name, the
    other ISAs keep the right lowering."""
    def make(H, op):
        from winch.wasm.opcodes import BY_NAME as OPS

        right, wrong, row = H[op], H[other], OPS[other]

        def handler(g, o, imm):
            if only_on is None or type(g.masm).__name__ == only_on:
                return wrong(g, row, imm)
            return right(g, o, imm)
        return handler
    return make


def _twice():
    return lambda H, op: (lambda g, o, imm: (H[op](g, o, imm), H[op](g, o, imm)))


MUTANTS = [
    Mutant("sub-is-add", "i32.sub lowered as i32.add", "i32.sub", "", _as("i32.add")),
    Mutant("shr_u-is-shr_s", "i64.shr_u lowered as an arithmetic shift", "i64.shr_u", "",
           _as("i64.shr_s")),
    Mutant("lt_u-is-signed", "i32.lt_u compares signed", "i32.lt_u", "", _as("i32.lt_s")),
    Mutant("load8-zero-extends", "i32.load8_s zero-extends", "i32.load8_s", "",
           _as("i32.load8_u")),
    Mutant("eqz-inverted", "i32.eqz computes x != 0", "i32.eqz", "", _twice()),
    Mutant("min-is-max", "f64.min lowered as f64.max", "f64.min", "", _as("f64.max")),
    Mutant("neg-is-abs", "f32.neg lowered as f32.abs", "f32.neg", "", _as("f32.abs")),
    Mutant("rotl-is-rotr", "i64.rotl lowered as i64.rotr", "i64.rotl", "", _as("i64.rotr")),
    Mutant("aarch64-add-is-sub", "i32.add lowered as i32.sub, on aarch64 only", "i32.add",
           "aarch64", _as("i32.sub", only_on="A64Masm")),
    Mutant("s390x-xor-is-or", "i32.xor lowered as i32.or, on s390x only", "i32.xor", "s390x",
           _as("i32.or", only_on="S390xMasm")),
]
BY_NAME = {m.name: m for m in MUTANTS}


def _handler(mutant: Mutant, H: dict):
    return mutant.make(dict(H), mutant.op)


def apply(name: str) -> None:
    """Apply a mutant for the rest of the process."""
    from winch.codegen import func as F

    m = BY_NAME[name]
    F.HANDLERS[m.op] = _handler(m, F.HANDLERS)


@contextlib.contextmanager
def applied(name: str):
    from winch.codegen import func as F

    m = BY_NAME[name]
    saved = F.HANDLERS[m.op]
    F.HANDLERS[m.op] = _handler(m, F.HANDLERS)
    try:
        yield m
    finally:
        F.HANDLERS[m.op] = saved


def find(name: str, max_examples: int = 5000, seed: int = 1, min_instrs: int = 40):
    """The first generated module (not shrunk) of at least `min_instrs` instructions whose
    diff shows the mutant: (wasm, finding, plan).  The size floor keeps the reduction
    honest: hypothesis's first examples are tiny."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    from oracle.diff import run_diff
    from oracle.reduce.passes import instruction_count
    from oracle.strategies import wasm_modules
    from winch.wasm.reader import decode_module

    m = BY_NAME[name]
    engines = ["wasmtime", m.engine]
    found = []

    class _Found(Exception):
        pass

    @hseed(seed)
    @settings(max_examples=max_examples, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(wasm_modules())  # swarm configurations: fewer families, each more frequent
    def search(wasm):
        if instruction_count(decode_module(wasm)) < min_instrs:
            return
        r = run_diff(wasm, engines, determinism="none")
        if r.findings:
            found.append((wasm, r))
            raise _Found

    with applied(name), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            search()
        except _Found:
            pass
    if not found:
        return None
    wasm, r = found[0]
    return wasm, r.findings[0], r.plan


def reduce_one(name: str, max_seconds: float = 60.0, progress=None):
    from oracle.reduce import reduce_module
    from oracle.reduce.predicate import SignaturePredicate

    hit = find(name)
    if hit is None:
        return None
    wasm, finding, plan = hit
    with applied(name):
        res = reduce_module(wasm, plan, SignaturePredicate(finding.signature),
                            max_seconds=max_seconds, progress=progress)
    return finding, res, wasm, plan


def table(max_seconds: float, names=None, out_dir=None) -> int:
    from oracle.crashfile import write_crash

    rows = []
    print(f"{'bug':<20} {'signature':<44} {'instrs':>12} {'bytes':>13} {'time':>7}")
    for m in MUTANTS:
        if names and m.name not in names:
            continue
        r = reduce_one(m.name, max_seconds)
        if r is None:
            print(f"{m.name:<20} not found by the generator")
            rows.append(None)
            continue
        finding, res, wasm, plan = r
        rows.append(res)
        sig = finding.signature
        print(f"{m.name:<20} {sig[:44]:<44} {res.instrs_before:>5} -> {res.instrs_after:<4} "
              f"{res.bytes_before:>5} -> {res.bytes_after:<5} {res.seconds:6.1f}s", flush=True)
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            pathlib.Path(out_dir, f"{m.name}.orig.wasm").write_bytes(write_crash(wasm, plan, sig))
            pathlib.Path(out_dir, f"{m.name}.min.wasm").write_bytes(
                write_crash(res.wasm, res.plan, sig))
    done = [r for r in rows if r is not None]
    if done:
        after = [r.instrs_after for r in done]
        print(f"{len(done)}/{len(rows)} reduced; instructions after: max {max(after)}, median "
              f"{statistics.median(after)}; time: max {max(r.seconds for r in done):.1f}s, "
              f"total {sum(r.seconds for r in done):.1f}s")
    return 0 if len(done) == len(rows) else 1


def predicate_main(name: str, signature: str, path: str) -> int:
    """Exit 0 if the module at `path` still shows `signature` with the mutant applied (the
    plan comes from the file's crash section if any, else the default plan)."""
    from oracle.crashfile import read_crash
    from oracle.plan import default_plan
    from oracle.reduce.predicate import SignaturePredicate
    from winch.errors import WinchError
    from winch.wasm.reader import decode_module

    try:
        module, plan, _ = read_crash(pathlib.Path(path).read_bytes())
        if plan is None:
            plan = default_plan(decode_module(module))
    except (OSError, WinchError, ValueError):
        return 1
    apply(name)
    return 0 if SignaturePredicate(signature)(module, plan) else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    f = sub.add_parser("find")
    f.add_argument("mutant", choices=sorted(BY_NAME))
    f.add_argument("-o", "--output", required=True)
    t = sub.add_parser("table")
    t.add_argument("--max-seconds", type=float, default=60.0)
    t.add_argument("--only", default="")
    t.add_argument("--save-dir", default=None)
    p = sub.add_parser("predicate")
    p.add_argument("mutant", choices=sorted(BY_NAME))
    p.add_argument("signature")
    p.add_argument("file")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for m in MUTANTS:
            print(f"{m.name:<20} {m.description}")
        return 0
    if args.cmd == "find":
        from oracle.crashfile import write_crash

        t0 = time.monotonic()
        hit = find(args.mutant)
        if hit is None:
            print("not found", file=sys.stderr)
            return 1
        wasm, finding, plan = hit
        pathlib.Path(args.output).write_bytes(write_crash(wasm, plan, finding.signature))
        print(f"{finding.signature} ({time.monotonic() - t0:.1f}s) -> {args.output}")
        return 0
    if args.cmd == "table":
        return table(args.max_seconds, [n for n in args.only.split(",") if n], args.save_dir)
    return predicate_main(args.mutant, args.signature, args.file)


if __name__ == "__main__":
    raise SystemExit(main())
