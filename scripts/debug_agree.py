#!/usr/bin/env python3
"""Debug code and normal code must agree: generated modules run both ways, per ISA.

    python scripts/debug_agree.py [--count 1000] [--isas x64,aarch64,s390x] [--seed 1]
                                  [--keep DIR] [--steps N] [--fuel N] [--epoch-deadline N]

Each module is drawn as the differential fuzz target draws one (`oracle.gen.generate` on
4 KiB of random bytes, from `--seed`), then for each ISA `oracle diff` runs its default plan
on `winch-ISA` (normal code, the reference) and `winch-ISA-debug` (`compile_module(...,
debug=True)`: every value spilled to its frame slot at every instruction boundary) and
compares results, traps and exported state after every call.  Debug code exercises none of
the lazy value stack's shortcuts (constants folded into instructions, operands left in
registers, locals read late), so a disagreement points at one of them or at debug code.

Prints per ISA: modules, verdicts (agree / findings / nothing compared / bad input), calls
compared, and the size of debug code relative to normal code (total bytes over the modules
that compiled).  `--keep DIR`: write each disagreeing module there.
`--fuel N`, `--epoch-deadline N`: both compiled with fuel / epoch checks (the fuel left after
every call is compared too).  Exit status 1 if any
module disagrees.

`--steps N`: also trace every call of the first N modules instruction by instruction
(`winch.host.trace.run_traced` on debug code) and in the reference interpreter
(`invoke_traced`), and count the calls whose Step and Write sequences are identical, equal
but for NaN bits (NaN results are nondeterministic in Wasm: the ISAs keep an operand's
payload, the interpreter makes the canonical NaN), or differ (the first difference of a few
is printed): the table `oracle locate` relies on, checked against an independent reference.
Twice: as compiled by default (NaN bits may also reach integers, through reinterpret: such
calls count as differing), and both sides with NaN canonicalization, where any difference
is a bug (exit status 1).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from winch.wasm.types import F32, F64  # noqa: E402

ISAS = ("x64", "aarch64", "s390x")


def check_isa(isa: str, modules: list, keep: str | None, opts: dict) -> dict:
    from oracle.diff import run_diff
    from oracle.engines import get_engine
    from winch.codegen.compile import compile_module
    from winch.errors import WinchError

    normal, debug = (get_engine(f"winch-{isa}{v}", **opts) for v in ("", "-debug"))
    tally = {"modules": 0, "agree": 0, "findings": 0, "nothing compared": 0, "bad input": 0,
             "calls compared": 0, "normal bytes": 0, "debug bytes": 0}
    first: list = []
    flags = {"fuel": opts.get("fuel") is not None,
             "epoch": opts.get("epoch_deadline") is not None}
    t0 = time.perf_counter()
    for k, wasm in enumerate(modules):
        tally["modules"] += 1
        r = run_diff(wasm, [normal, debug], determinism="none", **opts)
        tally[r.verdict] += 1
        tally["calls compared"] += sum(r.compared.values())
        if r.findings:
            if len(first) < 5:
                first.append(f"module {k}: {r.findings[0].kind}: {r.findings[0].signature}")
            if keep:
                os.makedirs(keep, exist_ok=True)
                pathlib.Path(keep, f"debug-{isa}-{k}.wasm").write_bytes(wasm)
        try:
            n = len(compile_module(wasm, isa, **flags).code)
            d = len(compile_module(wasm, isa, debug=True, **flags).code)
        except WinchError:
            continue
        tally["normal bytes"] += n
        tally["debug bytes"] += d
    tally["seconds"] = time.perf_counter() - t0
    tally["first findings"] = first
    return tally


def _nan_free(events) -> list:
    """Events with every f32/f64 NaN's bits replaced by "nan"."""
    def values(vs):
        out = []
        for t, v in vs:
            if v is not None and ((t == F32 and (v >> 23) & 0xFF == 0xFF and v & 0x7F_FFFF)
                                  or (t == F64 and (v >> 52) & 0x7FF == 0x7FF
                                      and v & ((1 << 52) - 1))):
                v = "nan"
            out.append((t, v))
        return tuple(out)
    return [e._replace(stack=values(e.stack), locals=values(e.locals))
            if hasattr(e, "stack") else e for e in events]


def compare_steps(isa: str, modules: list, canonical: bool, limit: int = 20_000) -> dict:
    """Traced debug code against the interpreter, call by call (module docstring);
    `canonical`: both with NaN canonicalization."""
    from oracle.diff import define_deterministic_imports
    from oracle.engines import get_engine
    from oracle.engines.winch_engine import decoded
    from oracle.plan import default_plan
    from winch.host.trace import run_traced

    def start(session, wasm, m):
        compiled = session.compile(wasm)
        define_deterministic_imports(session, m)
        return session.instantiate(compiled)

    ours = get_engine(f"winch-{isa}-debug", canonicalize_nans=canonical)
    ref = get_engine("interp", canonicalize_nans=canonical)
    tally = {"calls": 0, "identical": 0, "NaN bits only": 0, "differ": 0, "not run": 0}
    first: list = []
    for k, wasm in enumerate(modules):
        m = decoded(wasm)
        a, b = ours.session(), ref.session()
        try:
            try:
                ia, ib = start(a, wasm, m), start(b, wasm, m)
            except Exception:  # noqa: BLE001 - rejected, link error, trap at start: not here
                tally["not run"] += 1
                continue
            for call in default_plan(m).calls:
                ea, eb = [], []
                try:
                    bits = [a._to_bits(v) for v in call.args]
                except Exception:  # noqa: BLE001 - an argument the host cannot pass
                    continue
                run_traced(a.store, ia, call.export, bits, ea.append, ea.append, limit=limit)
                b.invoke_traced(ib, call.export, list(call.args), eb.append, eb.append,
                                limit=limit)
                tally["calls"] += 1
                if ea == eb:
                    tally["identical"] += 1
                    continue
                ea, eb = _nan_free(ea), _nan_free(eb)
                if ea == eb:
                    tally["NaN bits only"] += 1
                    continue
                tally["differ"] += 1
                if len(first) < 3:
                    j = next((i for i, (x, y) in enumerate(zip(ea, eb)) if x != y),
                             min(len(ea), len(eb)))
                    first.append(f"module {k} {call.export}: event {j}: "
                                 f"{ea[j] if j < len(ea) else 'end'} | "
                                 f"interp {eb[j] if j < len(eb) else 'end'}")
        finally:
            a.close()
            b.close()
    tally["first differences"] = first
    return tally


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000, help="modules per ISA")
    ap.add_argument("--isas", default=",".join(ISAS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", default=None, metavar="DIR",
                    help="write each disagreeing module to DIR")
    ap.add_argument("--fuel", type=int, default=None, metavar="N",
                    help="compile with fuel, give each store N, compare the fuel left")
    ap.add_argument("--epoch-deadline", type=int, default=None, metavar="N",
                    help="compile with epoch checks, deadline N")
    ap.add_argument("--steps", type=int, default=0, metavar="N",
                    help="also compare traced steps with the interpreter's on N modules")
    a = ap.parse_args(argv)
    isas = [x for x in a.isas.split(",") if x]
    bad = [x for x in isas if x not in ISAS]
    if bad or a.count < 1:
        print(f"debug_agree: --isas from {', '.join(ISAS)}; --count at least 1",
              file=sys.stderr)
        return 2
    from oracle.gen import generate

    rng = random.Random(a.seed)
    modules = [generate(rng.randbytes(4096)) for _ in range(a.count)]
    status = 0
    for isa in isas:
        opts = {k: v for k, v in (("fuel", a.fuel), ("epoch_deadline", a.epoch_deadline))
                if v is not None}
        t = check_isa(isa, modules, a.keep, opts)
        ratio = t["debug bytes"] / t["normal bytes"] if t["normal bytes"] else 0.0
        print(f"{isa:8} modules {t['modules']}  agree {t['agree']}  findings {t['findings']}  "
              f"nothing compared {t['nothing compared']}  bad input {t['bad input']}  "
              f"calls compared {t['calls compared']}  debug/normal code size {ratio:.2f}  "
              f"({t['seconds']:.0f} s)")
        for line in t["first findings"]:
            print(f"    {line}")
        if t["findings"]:
            status = 1
        if a.steps:
            for canonical in (False, True):
                s = compare_steps(isa, modules[:a.steps], canonical)
                how = "canonical NaNs" if canonical else "              "
                print(f"{isa:8} steps vs interp, {how}: calls {s['calls']}  identical {s['identical']}  "
                      f"NaN bits only {s['NaN bits only']}  differ {s['differ']}  "
                      f"(modules not run {s['not run']})")
                for line in s["first differences"]:
                    print(f"    {line[:300]}")
                if s["differ"] and canonical:
                    status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
