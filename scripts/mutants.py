"""Deliberate compiler bugs, to prove the oracle, the generator and the reducer find them.

    python scripts/mutants.py list
    python scripts/mutants.py find MUTANT -o crash.wasm       # generate until a finding
    python scripts/mutants.py hunt [--seconds 60]             # the differential target vs each
    python scripts/mutants.py table [--max-seconds 60]        # find + reduce every mutant
    python scripts/mutants.py predicate MUTANT SIGNATURE FILE # exit 0 if FILE still shows it

Each mutant patches our compiler in-process (a handler of `winch.codegen.func.HANDLERS`, a
macro-assembler method of one ISA, or the register allocator), modelled on a class of real
baseline-compiler bugs.  Fuzz targets apply the mutant named
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
    bug_class: str  # the class of real baseline-compiler bug it models
    description: str
    isa: str  # the ISA it breaks ("" = all)
    patch: object  # installs the bug; returns the function that undoes it

    @property
    def engine(self) -> str:
        return f"winch-{self.isa or 'x64'}"


# -- how a bug is planted ------------------------------------------------------------------------
def _handler(op, make):
    """Replace the lowering of `op`: make(handlers, op) -> the new handler."""
    def patch():
        from winch.codegen import func as F

        saved = F.HANDLERS[op]
        F.HANDLERS[op] = make(dict(F.HANDLERS), op)
        return lambda: F.HANDLERS.__setitem__(op, saved)
    return patch


def _method(module, cls, meth, make):
    """Replace a method: make(original) -> the new function."""
    def patch():
        import importlib

        C = getattr(importlib.import_module(module), cls)
        saved = C.__dict__[meth]
        setattr(C, meth, make(saved))
        return lambda: setattr(C, meth, saved)
    return patch


def _intercept(module, cls, meth, attr, callee, rewrite):
    """While `cls.meth` runs, calls of `self[.attr].callee(*args)` go through
    `rewrite(args)`, which returns the arguments to use, or None to drop the call.  (The
    callee is swapped on its class: assemblers have __slots__.)"""
    def make(orig):
        def method(self, *a, **k):
            C = type(getattr(self, attr) if attr else self)
            own = C.__dict__.get(callee)
            real = getattr(C, callee)

            def fake(obj, *args):
                args = rewrite(args)
                return None if args is None else real(obj, *args)
            setattr(C, callee, fake)
            try:
                return orig(self, *a, **k)
            finally:
                if own is None:
                    delattr(C, callee)
                else:
                    setattr(C, callee, own)
        return method
    return _method(module, cls, meth, make)


def _item(module, table, key, value):
    """Change one entry of a module-level table."""
    def patch():
        import importlib

        d = getattr(importlib.import_module(module), table)
        saved = d[key]
        d[key] = value
        return lambda: d.__setitem__(key, saved)
    return patch


# -- the bugs --------------------------------------------------------------------------------------
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


def _twice(H, op):
    return lambda g, o, imm: (H[op](g, o, imm), H[op](g, o, imm))


def _swapped_sub(H, op):
    def handler(g, o, imm):
        from winch.codegen.stack import CONST, REG

        st = g.stack
        if st.items[-1][0] == CONST:  # the immediate form has no operands to swap
            return H[op](g, o, imm)
        _, rhs = st.pop_reg()
        t, lhs = st.pop_reg()
        g.masm.alu_rr("sub", 8, rhs, lhs)  # rhs - lhs
        st.free(lhs)
        st.push((REG, t, rhs))
    return handler


def _without_spill(H, op):
    """`call` that leaves live values in the (caller-saved) registers."""
    def handler(g, o, imm):
        g.stack.spill_regs = lambda: None
        try:
            H[op](g, o, imm)
        finally:
            del g.stack.spill_regs
    return handler


def _br_if_no_moves(H, op):
    """`br_if` that jumps without storing the values its target expects."""
    def handler(g, o, imm):
        st = g.stack
        _, cond = st.pop_reg()
        g.masm.branch_nonzero(4, cond, g.ctl[-1 - imm].label)
        st.free(cond)
    return handler


def _drop_trap(kind_name):
    def rewrite(args):
        return None if args[1].name == kind_name else args
    return rewrite


def _s390x_extend_u_as_move(orig):
    def convert(self, name, dst, src):
        if name == "i64.extend_i32_u":
            return self.a.emit("LGR", dst, src)  # keeps the high half of the register
        return orig(self, name, dst, src)
    return convert


def _x64_wrap_as_nothing(orig):
    def convert(self, name, dst, src):
        if name == "i32.wrap_i64":
            return None if dst == src else self.a.mov_rr(8, dst, src)
        return orig(self, name, dst, src)
    return convert


def _x64_cond(key, name):
    """x64 sets `key` with condition code `name`."""
    def patch():
        from winch.isa.x64.asm import Cond

        return _item("winch.isa.x64.masm", "INT_COND", key, Cond[name])()
    return patch


def _x64_jae_as_ja(args):
    from winch.isa.x64.asm import Cond

    return (Cond.A,) + tuple(args[1:]) if args[0] == Cond.AE else args


X64, A64, S390X = ("winch.isa.x64.masm", "X64Masm"), ("winch.isa.aarch64.masm", "A64Masm"), \
    ("winch.isa.s390x.masm", "S390xMasm")

MUTANTS = [
    Mutant("sub-is-add", "wrong operator", "i32.sub lowered as i32.add", "",
           _handler("i32.sub", _as("i32.add"))),
    Mutant("shr_u-is-shr_s", "signedness confusion", "i64.shr_u lowered as an arithmetic "
           "shift", "", _handler("i64.shr_u", _as("i64.shr_s"))),
    Mutant("lt_u-is-signed", "signedness confusion", "i32.lt_u compares signed", "",
           _handler("i32.lt_u", _as("i32.lt_s"))),
    Mutant("load8-zero-extends", "missing sign-extension", "i32.load8_s zero-extends", "",
           _handler("i32.load8_s", _as("i32.load8_u"))),
    Mutant("eqz-inverted", "inverted condition", "i32.eqz computes x != 0", "",
           _handler("i32.eqz", _twice)),
    Mutant("min-is-max", "wrong operator", "f64.min lowered as f64.max", "",
           _handler("f64.min", _as("f64.max"))),
    Mutant("neg-is-abs", "wrong operator", "f32.neg lowered as f32.abs", "",
           _handler("f32.neg", _as("f32.abs"))),
    Mutant("rotl-is-rotr", "wrong operator", "i64.rotl lowered as i64.rotr", "",
           _handler("i64.rotl", _as("i64.rotr"))),
    Mutant("aarch64-add-is-sub", "wrong operator", "i32.add lowered as i32.sub, on aarch64 "
           "only", "aarch64", _handler("i32.add", _as("i32.sub", only_on="A64Masm"))),
    Mutant("s390x-xor-is-or", "wrong operator", "i32.xor lowered as i32.or, on s390x only",
           "s390x", _handler("i32.xor", _as("i32.or", only_on="S390xMasm"))),
    Mutant("x64-ge_u-is-gt_u", "wrong condition code", "x64: i32/i64.ge_u set with the "
           "'above' condition (ja) instead of 'above or equal'", "x64",
           _x64_cond("ge_u", "A")),
    Mutant("sub-operands-swapped", "swapped operands", "i64.sub of two registers computes "
           "rhs - lhs", "", _handler("i64.sub", _swapped_sub)),
    Mutant("s390x-extend_u-no-zext", "missing zero-extension", "s390x: i64.extend_i32_u "
           "copies the whole register (LGR) instead of zero-extending (LLGFR)", "s390x",
           _method(*S390X, "convert", _s390x_extend_u_as_move)),
    Mutant("x64-wrap-no-zext", "missing zero-extension", "x64: i32.wrap_i64 leaves the high "
           "half in the register (an address from it is wrong)", "x64",
           _method(*X64, "convert", _x64_wrap_as_nothing)),
    Mutant("call-clobbers-regs", "register clobbered across a call", "call does not spill the "
           "live registers, which the callee clobbers", "", _handler("call", _without_spill)),
    Mutant("spill-wrong-slot", "wrong spill slot", "at a block entry (a merge point) values "
           "are spilled into the slot of the position above theirs", "",
           _intercept("winch.codegen.stack", "ValueStack", "spill_all", "frame", "slot",
                      lambda args: (args[0] + 1,))),  # the slot of the position above
    Mutant("br_if-no-moves", "stack not rebalanced on a branch", "br_if jumps without moving "
           "the values its target expects into place", "", _handler("br_if", _br_if_no_moves)),
    Mutant("x64-no-bounds-check", "missing bounds check", "x64: a memory access compares "
           "against the memory size but never traps", "x64",
           _intercept(*X64, "_bounds", "", "_trap_unless", _drop_trap("memory_out_of_bounds"))),
    Mutant("s390x-shift-unmasked", "shift count not masked", "s390x: 32-bit shifts by a "
           "register use 6 bits of the count (SLL/SRL/SRA), not 5", "s390x",
           _intercept(*S390X, "shift_rr", "a", "emit",
                      lambda args: None if args[0] == "NILL" else args)),
    Mutant("x64-div_s-no-overflow-check", "missing trap", "x64: i32/i64.div_s does not check "
           "INT_MIN / -1 (idiv faults as a division by zero)", "x64",
           _intercept(*X64, "divrem", "", "_trap_unless", _drop_trap("integer_overflow"))),
    Mutant("aarch64-div-by-zero-unchecked", "missing trap", "aarch64: division by zero is "
           "not checked (sdiv/udiv return 0)", "aarch64",
           _intercept(*A64, "divrem", "", "_brk", lambda args: None if args[0].name ==
                      "integer_divide_by_zero" else args)),
    Mutant("x64-br_table-off-by-one", "off-by-one bound", "x64: br_table's index check uses "
           "'above' (ja), so index == count reads past the jump table", "x64",
           _intercept(*X64, "br_table", "a", "jcc_label", _x64_jae_as_ja)),
]
BY_NAME = {m.name: m for m in MUTANTS}


def apply(name: str):
    """Plant a mutant for the rest of the process; returns the function that removes it."""
    return BY_NAME[name].patch()


@contextlib.contextmanager
def applied(name: str):
    undo = apply(name)
    try:
        yield BY_NAME[name]
    finally:
        undo()


def _import_all() -> None:
    """Import every module of `winch` and `oracle` now.  Hypothesis draws some values from
    the constants of the project's modules loaded so far, so a search that loads a backend
    half-way (its first compile for an ISA) would depend on what ran before it in the
    process: the same seed would find another module after another bug's search."""
    import importlib
    import pkgutil

    for pkg in ("winch", "oracle"):
        root = importlib.import_module(pkg)
        for info in pkgutil.walk_packages(root.__path__, pkg + "."):
            importlib.import_module(info.name)


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

    _import_all()
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


def hunt_one(name: str, seconds: float, seed: int = 1, engines: str = "") -> dict:
    """Run the differential fuzz target (a libFuzzer process, one core, empty corpus) with
    the mutant planted until its first finding or `seconds`: {found, seconds, runs, signature}.
    The time is wall-clock from the process start, imports included."""
    import json
    import re
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hunt-") as d:
        corpus, found_dir = pathlib.Path(d, "corpus"), pathlib.Path(d, "findings")
        corpus.mkdir()
        env = dict(os.environ, ORACLE_MUTANT=name, ORACLE_FINDINGS_DIR=str(found_dir))
        env.pop("ORACLE_FUZZ_KEEP_GOING", None)
        if engines:
            env["ORACLE_ENGINES"] = engines
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "fuzz_targets.differential", str(corpus),
             f"-max_total_time={int(seconds)}", f"-seed={seed}", "-timeout=30",
             f"-artifact_prefix={d}{os.sep}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 120)
        elapsed = time.monotonic() - t0
        records = [json.loads(p.read_text()) for p in found_dir.glob("*.json")] \
            if found_dir.exists() else []
        runs = re.findall(r"^#(\d+)", proc.stderr, re.M)
        return {"mutant": name, "found": bool(records), "seconds": round(elapsed, 1),
                "runs": int(runs[-1]) if runs else 0,
                "signature": records[0]["signature"] if records else "",
                "kind": records[0]["kind"] if records else ""}


def hunt(seconds: float, names=None, seed: int = 1, engines: str = "") -> int:
    """The table of issue 7: each bug, whether the differential target found it and when."""
    rows = []
    print(f"{'bug':<30} {'class':<34} {'found':<6} {'time':>7}  finding", flush=True)
    for m in MUTANTS:
        if names and m.name not in names:
            continue
        r = hunt_one(m.name, seconds, seed, engines)
        rows.append(r)
        print(f"{m.name:<30} {m.bug_class:<34} {'yes' if r['found'] else 'NO':<6} "
              f"{r['seconds']:6.1f}s  {r['signature'][:70]}", flush=True)
    found = [r for r in rows if r["found"]]
    if found:
        times = sorted(r["seconds"] for r in found)
        print(f"{len(found)}/{len(rows)} found within {seconds:.0f} s; time to find: median "
              f"{statistics.median(times):.1f} s, max {times[-1]:.1f} s")
    return 0 if len(found) == len(rows) else 1


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
    h = sub.add_parser("hunt", help="run the differential fuzz target against each bug")
    h.add_argument("--seconds", type=float, default=60.0)
    h.add_argument("--only", default="")
    h.add_argument("--seed", type=int, default=1)
    h.add_argument("--engines", default="", help="default: the target's (every engine)")
    p = sub.add_parser("predicate")
    p.add_argument("mutant", choices=sorted(BY_NAME))
    p.add_argument("signature")
    p.add_argument("file")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for m in MUTANTS:
            print(f"{m.name:<30} {m.bug_class:<34} {m.description}")
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
    if args.cmd == "hunt":
        return hunt(args.seconds, [n for n in args.only.split(",") if n], args.seed,
                    args.engines)
    if args.cmd == "table":
        return table(args.max_seconds, [n for n in args.only.split(",") if n], args.save_dir)
    return predicate_main(args.mutant, args.signature, args.file)


if __name__ == "__main__":
    raise SystemExit(main())
