"""Our fuel accounting against wasmtime's, call by call: spec-suite modules and generated ones.

    python scripts/fuel_check.py [--spec] [--generated 1000] [--fuel 5000,200000] [--seed 21]
                                 [--engines wasmtime,winch-x64,winch-aarch64,winch-s390x]
                                 [--limit N]

Each module is diffed with `oracle.diff.run_diff(..., fuel=F)` for every F of `--fuel`: every
engine compiled with fuel accounting (wasmtime: `consume_fuel`), the store given F after
instantiation, the default plan's calls made in order (the fuel is not refilled between
calls, so a plan can run out part way), and after every call the fuel left compared exactly,
as well as whether each engine ran out.  `--spec`: every module of the spec test suite
(../shared/spec-testsuite, or $SPEC_TESTSUITE) that the suite expects to be valid;
`--generated N`: `oracle.gen.generate` on N seeded random 4 KiB inputs.

Prints per set: modules, runs compared, calls whose fuel was compared (per engine besides the
reference, and how many ran out of fuel on the reference), findings by kind (the first few
shown; a run whose findings are none of fuel's kinds and which shows findings without fuel
too is counted apart), and the runs not compared by reason.  Exit 1 on any finding.
"""

from __future__ import annotations

import argparse
import glob
import os
import pathlib
import random
import sys
import time
from collections import Counter

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from oracle.compare import LIMIT_KINDS  # noqa: E402
from oracle.diff import run_diff  # noqa: E402
from oracle.outcomes import Trap, TrapKind  # noqa: E402

SUITE = os.environ.get("SPEC_TESTSUITE") or str(
    pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "spec-testsuite")


def spec_modules() -> list:
    """(name, wasm) of every module the suite expects to be valid."""
    import wasmtime

    from oracle.spectest import script as S
    from oracle.spectest.runner import text_to_binary

    out = []
    for path in sorted(glob.glob(os.path.join(SUITE, "*.wast"))):
        with open(path, "rb") as f:
            script = S.parse_script(f.read(), path)
        for cmd in script.commands:
            if not isinstance(cmd, S.ModuleCmd):
                continue
            try:
                wasm = text_to_binary(cmd.module)
            except (wasmtime.WasmtimeError, Exception):  # noqa: BLE001 - text it cannot parse
                continue
            out.append((f"{os.path.basename(path)}:{cmd.line}", wasm))
    return out


def generated_modules(n: int, seed: int) -> list:
    from oracle.gen import generate

    rng = random.Random(seed)
    return [(f"gen#{i}", generate(rng.randbytes(4096))) for i in range(n)]


def check(mods: list, engines: list, fuels: list, label: str) -> int:
    t0 = time.perf_counter()
    stats = Counter()
    findings = Counter()
    shown = []
    why = Counter()
    for name, wasm in mods:
        stats["modules"] += 1
        for fuel in fuels:
            r = run_diff(wasm, engines, fuel=fuel, determinism="none")
            ref = r.runs[engines[0]]
            if any(r.compared.values()):
                stats["runs compared"] += 1
            else:
                why[next(iter(r.not_compared.values()), r.verdict)[:60]] += 1
            n = min([len(run.fuel) for run in r.runs.values() if run.status == "ok"] or [0])
            stats["calls with fuel compared"] += n * (len(engines) - 1)
            stats["calls that ran out of fuel (reference)"] += sum(
                1 for o in ref.outcomes[:n]
                if isinstance(o, Trap) and o.kind == TrapKind.out_of_fuel)
            if r.findings and not any(
                    f.kind in LIMIT_KINDS for f in r.findings) and run_diff(
                    wasm, engines, determinism="none").findings:
                stats["runs with findings that fuel has nothing to do with"] += 1
                continue  # (the same module without fuel has them too: not ours to count)
            for f in r.findings:
                findings[f.kind] += 1
                if len(shown) < 5:
                    shown.append(f"{name} fuel={fuel}: {f.kind} {f.engines[1]} at {f.where}: "
                                 f"{f.detail[:200]}")
    dt = time.perf_counter() - t0
    print(f"{label}: {stats['modules']} modules x fuel {fuels}, {dt:.0f} s")
    for k, v in stats.items():
        if k != "modules":
            print(f"  {k}: {v}")
    print(f"  findings: {sum(findings.values())} {dict(findings)}")
    for line in shown:
        print("    " + line)
    if why:
        print("  runs not compared: " + ", ".join(f"{k} x{v}" for k, v in why.most_common(8)))
    return sum(findings.values())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", action="store_true")
    ap.add_argument("--generated", type=int, default=0, metavar="N")
    ap.add_argument("--fuel", default="5000,200000")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--engines", default="wasmtime,winch-x64,winch-aarch64,winch-s390x")
    ap.add_argument("--limit", type=int, default=0, help="at most N modules per set")
    args = ap.parse_args(argv)
    engines = args.engines.split(",")
    fuels = [int(x) for x in args.fuel.split(",") if x]
    bad = 0
    if args.spec:
        mods = spec_modules()
        bad += check(mods[:args.limit] if args.limit else mods, engines, fuels, "spec suite")
    if args.generated:
        bad += check(generated_modules(args.generated, args.seed), engines, fuels,
                     "generated")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
