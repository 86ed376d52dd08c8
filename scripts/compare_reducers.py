"""Our reducer against Binaryen's `wasm-reduce`, on the findings of scripts/mutants.py.

    python scripts/compare_reducers.py [--seed N] [--only a,b] [--max-seconds 60]
                                       [--wasm-reduce-seconds 300] [--no-wasm-reduce]

For each deliberate bug: the first generated module showing it (as in `mutants.py table`;
`--seed` picks the generator's seed, so other seeds give other modules) is reduced by `oracle
reduce`'s engine (in-process predicate: the same finding) and by `wasm-reduce` with an
equivalent predicate script (`mutants.py predicate`, a process per candidate, exit 0 =
interesting).  Prints instructions / bytes / seconds side by side, and the largest result of
ours.  `wasm-reduce` comes from Debian's `binaryen`; without it (or with `--no-wasm-reduce`)
only ours runs.  Exit 1 if one of ours kept more than `--max-instrs` (10) instructions.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import mutants  # noqa: E402


def _size(wasm: bytes) -> tuple:
    from oracle.crashfile import read_crash
    from oracle.reduce.passes import instruction_count
    from winch.wasm.encoder import encode_module
    from winch.wasm.reader import decode_module

    module, _, _ = read_crash(wasm)
    m = decode_module(module)
    import dataclasses

    plain = encode_module(dataclasses.replace(m, customs=(), section_order=()))  # as ours
    return instruction_count(m), len(plain)


def run_wasm_reduce(name: str, signature: str, wasm: bytes, seconds: float):
    """(instructions, bytes, seconds, timed out) of wasm-reduce's result, or [reason] if it
    produced none."""
    tool = shutil.which("wasm-reduce")
    if tool is None:
        raise SystemExit("compare_reducers: wasm-reduce not found (apt-get install binaryen)")
    with tempfile.TemporaryDirectory() as d:
        src, test, work = (os.path.join(d, n) for n in ("in.wasm", "t.wasm", "w.wasm"))
        from oracle.crashfile import read_crash

        module, _, _ = read_crash(wasm)
        pathlib.Path(src).write_bytes(module)
        cmd = " ".join(shlex.quote(a) for a in (sys.executable, str(ROOT / "scripts" / "mutants.py"),
                                                "predicate", name, signature, test))
        t0 = time.monotonic()
        log = ""
        try:
            r = subprocess.run([tool, src, "--command", cmd, "-t", test, "-w", work,
                                "--timeout", "30", "-all"], cwd=d, capture_output=True,
                               text=True, timeout=seconds)
            log = r.stdout + r.stderr
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        dt = time.monotonic() - t0
        if not os.path.exists(work):
            return [_refusal(src, log)]
        n, b = _size(pathlib.Path(work).read_bytes())
        return n, b, dt, timed_out


def _refusal(src: str, log: str) -> str:
    """Why wasm-reduce wrote nothing.  Its first check reads and writes the input with
    wasm-opt; Binaryen 108 (Debian's) cannot read some valid modules, e.g. a block with
    parameters ("block cannot pop from outside")."""
    opt = shutil.which("wasm-opt")
    if opt:
        r = subprocess.run([opt, src, "-all", "-o", os.devnull], capture_output=True,
                           text=True)
        if r.returncode:
            err = [ln for ln in r.stderr.splitlines() if "exception" in ln or "Fatal" in ln]
            return "wasm-opt cannot read the input: " + (err[0] if err else "exit %d" %
                                                         r.returncode)
    checks = [ln.strip("|! ") for ln in log.splitlines()
              if ln.startswith("|!") and "Make sure" not in ln]
    fatal = [ln for ln in log.splitlines() if ln.startswith("Fatal")]
    return (checks or fatal or ["no output"])[-1]


def reduce_one(name: str, max_seconds: float, seed: int):
    """(finding, reduce result, module, plan) for the first module of generator seed `seed`
    that shows the mutant, or None."""
    from oracle.reduce import reduce_module
    from oracle.reduce.predicate import SignaturePredicate

    hit = mutants.find(name, seed=seed)
    if hit is None:
        return None
    wasm, finding, plan = hit
    with mutants.applied(name):
        res = reduce_module(wasm, plan, SignaturePredicate.for_finding(finding),
                            max_seconds=max_seconds)
    return finding, res, wasm, plan


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--wasm-reduce-seconds", type=float, default=300.0)
    ap.add_argument("--save-dir", default="", help="write the modules there: NAME.orig.wasm "
                    "as found, NAME.wasm as we reduced it (crash files with plan and finding)")
    ap.add_argument("--seed", type=int, default=1, help="the generator's seed (default 1)")
    ap.add_argument("--no-wasm-reduce", action="store_true", help="only ours")
    ap.add_argument("--max-instrs", type=int, default=10,
                    help="exit 1 if ours keeps more instructions for some bug")
    args = ap.parse_args(argv)
    theirs_too = not args.no_wasm_reduce and shutil.which("wasm-reduce") is not None
    names = [n for n in args.only.split(",") if n] or [m.name for m in mutants.MUTANTS]
    print(f"{'bug':<30} {'before':>12} | {'ours: instrs bytes time':>26} | "
          f"{'wasm-reduce: instrs bytes time':>32}")
    tot_ours = tot_theirs = 0.0
    never_larger = never_larger_bytes = True
    ours_after = {}
    for name in names:
        r = reduce_one(name, args.max_seconds, args.seed)
        if r is None:
            print(f"{name:<30} not found by the generator")
            continue
        finding, res, wasm, plan = r
        if args.save_dir:
            from oracle.crashfile import write_crash

            os.makedirs(args.save_dir, exist_ok=True)
            ident = {"identity": str(finding.identity)}
            pathlib.Path(args.save_dir, name + ".orig.wasm").write_bytes(
                write_crash(wasm, plan, finding.signature, **ident))
            pathlib.Path(args.save_dir, name + ".wasm").write_bytes(
                write_crash(res.wasm, res.plan, finding.signature, **ident))
        before = f"{res.instrs_before}/{res.bytes_before}b"
        ours = f"{res.instrs_after:>6} {res.bytes_after:>6} {res.seconds:7.1f}s"
        tot_ours += res.seconds
        ours_after[name] = res.instrs_after
        if not theirs_too:
            print(f"{name:<30} {before:>12} | {ours:>26} | -", flush=True)
            continue
        theirs = run_wasm_reduce(name, finding.signature, wasm, args.wasm_reduce_seconds)
        if isinstance(theirs, list):
            print(f"{name:<30} {before:>12} | {ours:>26} | refused: {theirs[0]}")
            continue
        n, b, dt, to = theirs
        tot_theirs += dt
        never_larger &= res.instrs_after <= n
        never_larger_bytes &= res.bytes_after <= b
        print(f"{name:<30} {before:>12} | {ours:>26} | {n:>8} {b:>6} {dt:7.1f}s"
              + (" (cut)" if to else ""), flush=True)
    if theirs_too:
        print(f"total time: ours {tot_ours:.1f}s, wasm-reduce {tot_theirs:.1f}s; ours never "
              f"larger: in instructions {never_larger}, in bytes {never_larger_bytes}")
    over = sorted(n for n, k in ours_after.items() if k > args.max_instrs)
    if ours_after:
        print(f"seed {args.seed}: {len(ours_after)} reduced in {tot_ours:.1f}s; instructions "
              f"after: max {max(ours_after.values())}; over {args.max_instrs}: "
              f"{', '.join(over) or 'none'}")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
