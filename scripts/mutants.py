"""Deliberate compiler bugs, to prove the oracle, the generator and the reducer find them.

    python scripts/mutants.py list
    python scripts/mutants.py find MUTANT -o crash.wasm       # generate until a finding
    python scripts/mutants.py hunt [--seconds 60]             # the differential target vs each
    python scripts/mutants.py table [--max-seconds 60]        # find + reduce every mutant
    python scripts/mutants.py predicate MUTANT SIGNATURE FILE # exit 0 if FILE still shows it
    python scripts/mutants.py locate [--max-seconds 30]       # oracle locate on each reduced one

The bugs themselves (and `apply`/`applied`) live in `oracle.mutants`; this script is their
command line.  Fuzz targets apply the mutant named by `$ORACLE_MUTANT` (see
`fuzz_targets.apply_mutant_from_env`); `oracle diff|replay|campaign` take `--mutant NAME`.
A bug in what a compile option adds (NaN canonicalization, fuel, epoch interruption) is
searched for with the option on (`Mutant.options`: `run_diff` keywords; in a hunt, the
differential target's environment), and its findings record it.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time
import warnings

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oracle.mutants import BY_NAME, ENV_OF, MUTANTS, Mutant, applied, apply  # noqa: E402,F401


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
    opts = m.diff_options
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
        r = run_diff(wasm, engines, determinism="none", **opts)
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
        res = reduce_module(wasm, plan, SignaturePredicate.for_finding(finding,
                                                                   **BY_NAME[name].diff_options),
                            max_seconds=max_seconds, progress=progress)
    return finding, res, wasm, plan


def _reduced_finding(name: str, max_seconds: float):
    """(crash file bytes of the mutant's reduced finding, where it came from): a generated
    module (`reduce_one`), or, when the generator does not find the bug, the mutant's own
    module of tests/wat/mutants/ reduced the same way; None if neither shows it."""
    from oracle.crashfile import write_crash
    from oracle.diff import run_diff
    from oracle.reduce import reduce_module
    from oracle.reduce.predicate import SignaturePredicate

    m = BY_NAME[name]
    opts = m.diff_options
    r = reduce_one(name, max_seconds)
    if r is not None:
        finding, res, _wasm, _plan = r
        source = "generated"
    else:
        import wasmtime

        wat = ROOT / "tests" / "wat" / "mutants" / f"{name}.wat"
        wasm = wasmtime.wat2wasm(wat.read_text())
        with applied(name):
            d = run_diff(wasm, ["wasmtime", m.engine], determinism="none", **opts)
            if not d.findings:
                return None
            finding = d.findings[0]
            res = reduce_module(wasm, d.plan, SignaturePredicate.for_finding(finding, **opts),
                                max_seconds=max_seconds)
        source = "its .wat"
    return write_crash(res.wasm, res.plan, finding.signature, **opts), source, res


def locate_table(max_seconds: float, names=None) -> int:
    """Issue 23's table: `oracle locate` on each bug's reduced finding, with the bug planted;
    a bug counts as located when the instruction named is one of `LOCATED_IN`'s operators
    for it.  Ends with `located N/M` (M: every bug asked for, the unlistable ones too)."""
    from oracle.locate import locate
    from oracle.mutants import LOCATED_IN, located

    print(f"{'bug':<30} {'finding from':<10} {'instrs':>6}  {'located at':<44} ok", flush=True)
    done = total = 0
    for m in MUTANTS:
        if names and m.name not in names:
            continue
        total += 1
        if m.name not in LOCATED_IN:
            print(f"{m.name:<30} {'-':<10} {'-':>6}  {'(fuel: the interpreter has none)':<44} "
                  "NO", flush=True)
            continue
        got = _reduced_finding(m.name, max_seconds)
        if got is None:
            print(f"{m.name:<30} {'-':<10} {'-':>6}  {'(no finding)':<44} NO", flush=True)
            continue
        crash, source, res = got
        with applied(m.name):
            loc = locate(crash)
        op = loc.instr.split()[0] if loc.instr else ""
        ok = loc.status == "located" and located(m.name, op, loc.what)
        done += ok
        where = (f"f{loc.func} @{loc.offset:#x} {op} ({loc.what})" if loc.status == "located"
                 else f"({loc.status}: {loc.summary})")
        print(f"{m.name:<30} {source:<10} {res.instrs_after:>6}  {where[:44]:<44} "
              f"{'yes' if ok else 'NO'}", flush=True)
    print(f"located {done}/{total}")
    return 0 if total and done >= 0.9 * total else 1


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
        # recorded: replay and reduce run with the options, and look for the same finding
        extra = dict(m.diff_options, identity=str(finding.identity))
        rows.append(res)
        sig = finding.signature
        print(f"{m.name:<20} {sig[:44]:<44} {res.instrs_before:>5} -> {res.instrs_after:<4} "
              f"{res.bytes_before:>5} -> {res.bytes_after:<5} {res.seconds:6.1f}s", flush=True)
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            pathlib.Path(out_dir, f"{m.name}.orig.wasm").write_bytes(
                write_crash(wasm, plan, sig, **extra))
            pathlib.Path(out_dir, f"{m.name}.min.wasm").write_bytes(
                write_crash(res.wasm, res.plan, sig, **extra))
    done = [r for r in rows if r is not None]
    if done:
        after = [r.instrs_after for r in done]
        print(f"{len(done)}/{len(rows)} reduced; instructions after: max {max(after)}, median "
              f"{statistics.median(after)}; time: max {max(r.seconds for r in done):.1f}s, "
              f"total {sum(r.seconds for r in done):.1f}s")
    return 0 if len(done) == len(rows) else 1


def executed_units(stderr: str) -> int | None:
    """How many inputs a libFuzzer run executed, from its log: the final stats'
    stat::number_of_executed_units (exact, printed at a crash too), else the last status
    line's `#N`; None if it shows neither (no input ran)."""
    import re

    final = re.findall(r"^stat::number_of_executed_units:\s*(\d+)", stderr, re.M)
    status = re.findall(r"^#(\d+)", stderr, re.M)
    return int(final[-1]) if final else int(status[-1]) if status else None


def shows_without_bug(crash: bytes, signature: str) -> bool:
    """Whether a finding's crash file (module and plan) shows the same finding with no bug
    planted in this process: then it is a bug of the tree or of an engine, not the mutant's.
    Run with the settings the file records (NaN canonicalization, fuel, epoch deadline)."""
    from oracle.crashfile import read_crash
    from oracle.plan import default_plan
    from oracle.reduce.predicate import SignaturePredicate
    from winch.wasm.reader import decode_module

    module, plan, meta = read_crash(crash)
    if plan is None:
        plan = default_plan(decode_module(module))
    return bool(SignaturePredicate(signature, identity=meta.get("identity"),
                                   canonicalize_nans=bool(meta.get("canonicalize_nans")),
                                   fuel=meta.get("fuel"),
                                   epoch_deadline=meta.get("epoch_deadline"))(module, plan))


class HuntError(Exception):
    """The fuzz target could not run at all: no bug can be called missed."""


def hunt_one(name: str, seconds: float, seed: int = 1, engines: str = "") -> dict:
    """Run the differential fuzz target (a libFuzzer process, one core, empty corpus) with
    the mutant planted until its first finding or `seconds`: {found, seconds, runs, signature}.
    The time is wall-clock from the process start, imports included.  `runs` is libFuzzer's
    exact count of executed inputs (`-print_final_stats=1`: stat::number_of_executed_units,
    printed on a crash too), the finding input included: the executions to the first
    finding, or all the run's executions if nothing was found.  `died`: libFuzzer's summary
    when the target crashed by itself (a signal, an exception outside a finding) before the
    time was up without a finding: the bug was not searched for the whole time.  A finding
    counts only if its crash file no longer shows it without the bug (`shows_without_bug`,
    checked in this process, where nothing is planted); else `unplanted` holds its
    signature and the bug is not found (the target stops at its first finding).  The target
    runs with the mutant's options (`Mutant.env`: NaN canonicalization, fuel, epoch deadline)
    and none of them otherwise, whatever this process's environment says."""
    import json
    import re
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hunt-") as d:
        corpus, found_dir = pathlib.Path(d, "corpus"), pathlib.Path(d, "findings")
        corpus.mkdir()
        env = dict(os.environ, ORACLE_MUTANT=name, ORACLE_FINDINGS_DIR=str(found_dir))
        env.pop("ORACLE_FUZZ_KEEP_GOING", None)
        for var in ENV_OF.values():
            env.pop(var, None)
        env.update(BY_NAME[name].env)
        if engines:
            env["ORACLE_ENGINES"] = engines
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "fuzz_targets.differential", str(corpus),
             f"-max_total_time={int(seconds)}", f"-seed={seed}", "-timeout=30",
             "-print_final_stats=1", f"-artifact_prefix={d}{os.sep}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 120)
        elapsed = time.monotonic() - t0
        records = [json.loads(p.read_text()) for p in found_dir.glob("*.json")] \
            if found_dir.exists() else []
        runs = executed_units(proc.stderr)
        if not records and runs is None:  # the target never ran an input: a broken harness
            tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1:] or ["no output"]
            raise HuntError(f"{name}: the differential target did not run (exit "
                            f"{proc.returncode}): {tail[0]}")
        unplanted = ""  # the first finding shows without the bug too: not the bug's
        if records and shows_without_bug(
                pathlib.Path(found_dir, records[0]["file"]).read_bytes(),
                records[0]["signature"]):
            unplanted = records[0]["signature"]
            records = []
        died = ""  # the target itself crashed (not a finding): the run ended early
        if not records and not unplanted:
            summary = re.findall(r"^SUMMARY: libFuzzer: (.*)$", proc.stderr, re.M)
            died = summary[-1].strip() if summary else ""
        return {"mutant": name, "found": bool(records), "seconds": round(elapsed, 1),
                "runs": runs or 0,
                "signature": records[0]["signature"] if records else "",
                "kind": records[0]["kind"] if records else "", "died": died,
                "unplanted": unplanted}


def hunt(seconds: float, names=None, seed: int = 1, engines: str = "") -> int:
    """The table of issue 7: each bug, whether the differential target found it and when.
    Exit 2, with one line, if the target cannot run (e.g. atheris missing from this Python)."""
    import importlib.util

    if importlib.util.find_spec("atheris") is None:
        print(f"mutants.py hunt: atheris is not installed for {sys.executable} "
              "(run it with the project's .venv/bin/python)", file=sys.stderr)
        return 2
    rows = []
    print(f"{'bug':<30} {'class':<34} {'found':<6} {'time':>7} {'execs':>7}  finding",
          flush=True)
    for m in MUTANTS:
        if names and m.name not in names:
            continue
        try:
            r = hunt_one(m.name, seconds, seed, engines)
        except HuntError as e:
            print(f"mutants.py hunt: {e}", file=sys.stderr)
            return 2
        rows.append(r)
        what = r["signature"][:70] or (f"(the target died: {r['died']})" if r["died"] else
                                       f"(shows without the bug too: {r['unplanted'][:50]})"
                                       if r["unplanted"] else "")
        print(f"{m.name:<30} {m.bug_class:<34} {'yes' if r['found'] else 'NO':<6} "
              f"{r['seconds']:6.1f}s {r['runs']:>7}  {what}", flush=True)
    found = [r for r in rows if r["found"]]
    if found:
        times = sorted(r["seconds"] for r in found)
        execs = sorted(r["runs"] for r in found)
        print(f"{len(found)}/{len(rows)} found within {seconds:.0f} s; time to find: median "
              f"{statistics.median(times):.1f} s, max {times[-1]:.1f} s; executions to find: "
              f"median {statistics.median(execs):g}, max {execs[-1]}")
    died = [r["mutant"] for r in rows if r["died"]]
    if died:
        print(f"{len(died)} run(s) ended early, the target itself crashing: {', '.join(died)}")
    other = [r["mutant"] for r in rows if r["unplanted"]]
    if other:
        print(f"{len(other)} run(s) stopped at a finding that shows without the bug planted "
              f"(a bug of the tree or an engine): {', '.join(other)}")
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
        module, plan, meta = read_crash(pathlib.Path(path).read_bytes())
        if plan is None:
            plan = default_plan(decode_module(module))
    except (OSError, WinchError, ValueError):
        return 1
    apply(name)
    pred = SignaturePredicate(signature, identity=meta.get("identity"),
                              **BY_NAME[name].diff_options)
    return 0 if pred(module, plan) else 1


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
    lc = sub.add_parser("locate", help="oracle locate on each bug's reduced finding")
    lc.add_argument("--max-seconds", type=float, default=30.0,
                    help="reduction time per bug")
    lc.add_argument("--only", default="")
    p = sub.add_parser("predicate")
    p.add_argument("mutant", choices=sorted(BY_NAME))
    p.add_argument("signature")
    p.add_argument("file")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for m in MUTANTS:
            opts = " ".join(f"{k}={v}" for k, v in m.env.items())
            print(f"{m.name:<30} {m.bug_class:<34} {m.description}"
                  + (f" [found with {opts}]" if opts else ""))
        return 0
    if args.cmd == "find":
        from oracle.crashfile import write_crash

        t0 = time.monotonic()
        hit = find(args.mutant)
        if hit is None:
            print("not found", file=sys.stderr)
            return 1
        wasm, finding, plan = hit
        pathlib.Path(args.output).write_bytes(write_crash(
            wasm, plan, finding.signature, identity=str(finding.identity),
            **BY_NAME[args.mutant].diff_options))
        print(f"{finding.signature} ({time.monotonic() - t0:.1f}s) -> {args.output}")
        return 0
    if args.cmd == "locate":
        return locate_table(args.max_seconds, [n for n in args.only.split(",") if n])
    if args.cmd == "hunt":
        return hunt(args.seconds, [n for n in args.only.split(",") if n], args.seed,
                    args.engines)
    if args.cmd == "table":
        return table(args.max_seconds, [n for n in args.only.split(",") if n], args.save_dir)
    return predicate_main(args.mutant, args.signature, args.file)


if __name__ == "__main__":
    raise SystemExit(main())
