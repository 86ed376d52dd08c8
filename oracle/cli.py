"""`oracle`: the differential-testing toolkit's command line.

    oracle spectest --engine NAME [--json] FILES...

Exit status: 0 all passed, 1 any failure, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

from oracle.engines import ENGINE_NAMES, get_engine


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with one line, like argparse, no traceback
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="oracle", description="differential testing of Wasm engines")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    st = sub.add_parser("spectest", help="run .wast spec-test scripts against an engine")
    st.add_argument("--engine", required=True, help="one of: " + ", ".join(ENGINE_NAMES))
    st.add_argument("--json", action="store_true", help="print the results as one JSON object")
    st.add_argument("files", nargs="+", metavar="FILE")
    df = sub.add_parser("diff", help="run a module on several engines and compare")
    df.add_argument("wasm", metavar="FILE")
    df.add_argument("--engines", default=None,
                    help="comma-separated, the first is the reference (default: "
                         "wasmtime,wasmtime-winch,winch-x64,winch-aarch64,winch-s390x)")
    df.add_argument("--json", action="store_true")
    df.add_argument("--save", metavar="CRASH.wasm", help="write the first finding as a crash file")
    rp = sub.add_parser("replay", help="re-run a saved finding (a crash .wasm)")
    rp.add_argument("wasm", metavar="FILE")
    rp.add_argument("--json", action="store_true")
    rd = sub.add_parser("reduce", help="shrink a finding to a minimal module")
    rd.add_argument("wasm", metavar="CRASH.wasm")
    rd.add_argument("-o", "--output", metavar="MIN.wasm", default=None)
    rd.add_argument("--json", action="store_true")
    rd.add_argument("--command", dest="predicate_command", default=None,
                    help="interestingness command run on each candidate file (exit 0 = "
                         "interesting) instead of the finding's signature")
    rd.add_argument("--max-seconds", type=float, default=60.0)
    rd.add_argument("--save-regression", action="store_true",
                    help="also write corpus/regressions/<signature-hash>.wasm")
    cp = sub.add_parser("campaign", help="run the fuzz targets for a time budget, report")
    cp.add_argument("--minutes", type=float, default=2.0)
    cp.add_argument("--jobs", type=int, default=2)
    cp.add_argument("--targets", default="differential,validate,compile,assemble")
    cp.add_argument("--isa", default="x64,aarch64,s390x")
    cp.add_argument("--out", default="campaign-out")
    cp.add_argument("--resume", action="store_true",
                    help="continue the campaign in --out (after a kill)")
    cp.add_argument("--mutant", default=None,
                    help="apply a deliberate bug of scripts/mutants.py in the workers")
    cp.add_argument("--reduce-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.command == "campaign":
        return campaign(args)
    if args.command == "reduce":
        from oracle.reduce_cli import reduce_command

        return reduce_command(args)
    if args.command == "spectest":
        return spectest(args)
    if args.command == "diff":
        from oracle.diff_cli import diff_command

        return diff_command(args)
    if args.command == "replay":
        from oracle.diff_cli import replay_command

        return replay_command(args)
    return 2


def campaign(args) -> int:
    from oracle.campaign.runner import TARGETS, Options, Runner

    targets = tuple(t for t in args.targets.split(",") if t)
    bad = [t for t in targets if t not in TARGETS]
    isas = tuple(i for i in args.isa.split(",") if i)
    bad_isa = [i for i in isas if i not in ("x64", "aarch64", "s390x")]
    if bad or bad_isa or not targets or not isas or args.jobs < 1 or args.minutes <= 0:
        print(f"oracle campaign: bad options (targets from {', '.join(TARGETS)}; ISAs from "
              "x64, aarch64, s390x; --jobs >= 1; --minutes > 0)", file=sys.stderr)
        return 2
    opts = Options(minutes=args.minutes, jobs=args.jobs, targets=targets, isas=isas,
                   out=args.out, mutant=args.mutant, reduce_seconds=args.reduce_seconds)
    return Runner(opts, resume=args.resume, progress=sys.stderr.isatty()).run()


def spectest(args) -> int:
    from oracle.spectest.errors import ScriptError
    from oracle.spectest.runner import FileResult, run_script
    from oracle.spectest.script import parse_script

    if args.engine not in ENGINE_NAMES:
        print(f"oracle spectest: unknown engine {args.engine!r} (one of: "
              f"{', '.join(ENGINE_NAMES)})", file=sys.stderr)
        return 2
    try:
        engine = get_engine(args.engine)
    except ImportError as e:
        print(f"oracle spectest: engine {args.engine} is not available: {e}", file=sys.stderr)
        return 2
    scripts = []
    for path in args.files:
        try:
            with open(path, "rb") as f:
                data = f.read()
            scripts.append(parse_script(data, path))
        except OSError as e:
            print(f"oracle spectest: {path}: cannot read: {e.strerror}", file=sys.stderr)
            return 2
        except ScriptError as e:
            text = data.decode("latin-1")
            line = text.count("\n", 0, max(e.pos, 0)) + 1
            print(f"oracle spectest: {path}:{line}: {e.message}", file=sys.stderr)
            return 2

    results: list[FileResult] = []
    total_skips: Counter = Counter()
    t0 = time.monotonic()
    for script in scripts:
        r = run_script(engine, script)
        results.append(r)
        total_skips.update(r.skip_reasons)
        if not args.json:
            _print_file(r)
        else:
            print(f"{r.path}: {r.passed} passed, {r.failed} failed, {r.skipped} skipped",
                  file=sys.stderr)
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    skipped = sum(r.skipped for r in results)
    elapsed = time.monotonic() - t0
    if args.json:
        print(json.dumps({
            "engine": args.engine,
            "files": {r.path: r.to_json() for r in results},
            "total": {"passed": passed, "failed": failed, "skipped": skipped,
                      "skip_reasons": dict(sorted(total_skips.items())),
                      "seconds": round(elapsed, 2)},
        }, indent=1))
    else:
        print(f"\nTOTAL ({args.engine}, {len(results)} files, {elapsed:.1f}s): "
              f"{passed} passed, {failed} failed, {skipped} skipped")
        for reason, n in sorted(total_skips.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  skipped {n:6d}  {reason}")
    return 1 if failed else 0


def _print_file(r) -> None:
    line = f"{r.path}: {r.passed} passed, {r.failed} failed, {r.skipped} skipped"
    if r.skip_reasons:
        line += " (" + "; ".join(f"{reason}: {n}" for reason, n in sorted(r.skip_reasons.items())) + ")"
    print(line, flush=True)
    for f in r.failures:
        print(f"  FAIL {r.path}:{f.line} {f.command}: {f.message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
