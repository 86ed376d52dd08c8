"""`oracle`: the differential-testing toolkit's command line (`oracle --help`).

Exit status: 0 ok / all agree, 1 a failure or finding, 2 bad usage or input (one line on
stderr naming the file, see winch/cli_common.py), 3 nothing could be decided.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

from oracle.engines import ENGINE_NAMES, get_engine
from oracle.reduce_cli import REGRESSIONS_DIR
from winch.cli_common import (BadInput, check_output, read_file, read_module, run_main, u64_arg,
                              version)
from winch.cli_common import Parser as _Parser

EXAMPLES = {
    "spectest": "oracle spectest --engine winch-x64 ../shared/spec-testsuite/i32.wast",
    "diff": "oracle diff m.wasm --engines wasmtime,winch-aarch64 --save crash.wasm",
    "replay": "oracle replay crash.wasm",
    "reduce": "oracle reduce crash.wasm -o min.wasm --max-seconds 120",
    "locate": "oracle locate min.wasm --engine winch-aarch64",
    "campaign": "oracle campaign --minutes 2 --jobs 2 --out campaign-out",
}


def main(argv: list[str] | None = None) -> int:
    return run_main("oracle", _main, argv)


def _main(argv) -> int:
    parser = _Parser(prog="oracle", description="differential testing of WebAssembly engines",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="examples:\n" + "".join(f"  {ex}\n" for ex in EXAMPLES.values())
                     + "\nexit status: 0 ok / all agree, 1 a failure or finding, 2 bad input "
                       "or usage (one line on stderr), 3 nothing could be decided")
    parser.add_argument("--version", action="version", version=f"oracle (winch-py) {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands", parser_class=_Parser)

    def command(name, helptext):
        return sub.add_parser(name, help=helptext, description=helptext,
                              epilog=f"example: {EXAMPLES[name]}")

    st = command("spectest", "run .wast spec-test scripts against an engine")
    st.add_argument("--engine", required=True, help="one of: " + ", ".join(ENGINE_NAMES))
    st.add_argument("--json", action="store_true", help="print the results as one JSON object")
    st.add_argument("--canonicalize-nans", action="store_true",
                    help="compile with NaN canonicalization (wasmtime's "
                         "cranelift_nan_canonicalization); the scripts' NaN patterns "
                         "(nan:canonical, nan:arithmetic) still match")
    st.add_argument("files", nargs="+", metavar="FILE")
    df = command("diff", "run a module on several engines and compare the outcomes")
    df.add_argument("wasm", metavar="FILE")
    df.add_argument("--engines", default=None,
                    help="comma-separated, the first is the reference (default: "
                         "wasmtime,wasmtime-winch,winch-x64,winch-aarch64,winch-s390x)")
    df.add_argument("--json", action="store_true")
    df.add_argument("--save", metavar="CRASH.wasm", help="write the first finding as a crash file")
    df.add_argument("--canonicalize-nans", action="store_true",
                    help="compile with NaN canonicalization on every engine (wasmtime's "
                         "cranelift_nan_canonicalization) and compare NaN bits exactly")
    df.add_argument("--fuel", type=u64_arg, default=None, metavar="N",
                    help="run every engine with wasmtime's fuel (consume_fuel), the store "
                         "given N after instantiation; compare the fuel left after every "
                         "call exactly, and running out")
    df.add_argument("--epoch-deadline", type=u64_arg, default=None, metavar="N",
                    help="run every engine with wasmtime's epoch interruption at this "
                         "deadline (0: every call is interrupted at its first check)")
    df.add_argument("--mutant", metavar="NAME", default=None,
                    help="plant a deliberate bug of oracle.mutants first "
                         "(`python scripts/mutants.py list`)")
    df.add_argument("--wasi", action="store_true",
                    help="the module is a WASI command: run its _start on every engine (each "
                         "in fresh copies of the --dir templates) and compare exit code, "
                         "stdout, stderr and files; arguments after `--` are the program's")
    df.add_argument("--dir", action="append", default=[], metavar="HOST[::GUEST]",
                    help="with --wasi: preopen a fresh copy of HOST's contents as GUEST "
                         "(default HOST)")
    df.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="with --wasi: an environment variable of the program")
    df.add_argument("--stdin", metavar="FILE", default=None,
                    help="with --wasi: the program's stdin (default: empty)")
    df.add_argument("--timeout", type=float, default=None, metavar="S",
                    help="with --wasi: seconds of work per engine run (default 300; wasmtime: "
                         "as fuel); running out is inconclusive")
    rp = command("replay", "re-run a saved finding (a crash .wasm): does it still reproduce?")
    rp.add_argument("wasm", metavar="FILE")
    rp.add_argument("--json", action="store_true")
    rp.add_argument("--mutant", metavar="NAME", default=None,
                    help="plant a deliberate bug of oracle.mutants first (to replay a finding "
                         "of a campaign run with --mutant)")
    rd = command("reduce", "shrink a finding to a minimal module that still shows it")
    rd.add_argument("wasm", metavar="CRASH.wasm")
    rd.add_argument("-o", "--output", metavar="MIN.wasm", default=None)
    rd.add_argument("--json", action="store_true")
    rd.add_argument("--command", dest="predicate_command", default=None,
                    help="interestingness command run on each candidate file (exit 0 = "
                         "interesting) instead of the finding's signature")
    rd.add_argument("--max-seconds", type=float, default=60.0)
    rd.add_argument("--quiet", action="store_true",
                    help="no progress line on stderr (by default one every 5 s, from 5 s on)")
    rd.add_argument("--save-regression", nargs="?", const=REGRESSIONS_DIR, default=None,
                    metavar="DIR",
                    help=f"also write DIR/<signature-hash>.wasm with wasmtime's outcomes as the "
                         f"expected ones (DIR defaults to {REGRESSIONS_DIR}, relative to the "
                         f"current directory: run it from the project checkout)")
    rd.add_argument("--mutant", metavar="NAME", default=None,
                    help="plant a deliberate bug of oracle.mutants in the predicate's worker "
                         "(to reduce a finding of a campaign run with --mutant)")
    rd.add_argument("--fuel", type=u64_arg, default=None, metavar="N",
                    help="run every candidate with wasmtime's fuel, N after instantiation "
                         "(default: the crash file's, if it was found with fuel)")
    rd.add_argument("--epoch-deadline", type=u64_arg, default=None, metavar="N",
                    help="run every candidate with epoch interruption at this deadline "
                         "(default: the crash file's)")
    lc = command("locate", "name the first Wasm instruction whose result is wrong (against the "
                           "reference interpreter, through debug code)")
    lc.add_argument("wasm", metavar="CRASH.wasm")
    lc.add_argument("--engine", default=None,
                    help="winch-x64, winch-aarch64 or winch-s390x (default: the finding's)")
    lc.add_argument("--json", action="store_true")
    lc.add_argument("--mutant", metavar="NAME", default=None,
                    help="plant a deliberate bug of oracle.mutants first")
    cp = command("campaign", "run the fuzz targets in parallel for a time budget, report")
    cp.add_argument("--minutes", type=float, default=2.0)
    cp.add_argument("--jobs", type=int, default=2)
    cp.add_argument("--targets", default="differential,validate,compile,assemble")
    cp.add_argument("--isa", default="x64,aarch64,s390x")
    cp.add_argument("--out", default="campaign-out")
    cp.add_argument("--resume", action="store_true",
                    help="continue the campaign in --out (after a kill)")
    cp.add_argument("--mutant", default=None,
                    help="apply a deliberate bug of oracle.mutants in the workers")
    cp.add_argument("--reduce-seconds", type=float, default=60.0)
    cp.add_argument("--no-canonicalize-nans", dest="canonicalize_nans", action="store_false",
                    help="the differential target without NaN canonicalization (by default "
                         "every engine canonicalizes NaNs and NaN bits compare exactly)")
    cp.add_argument("--quiet", action="store_true",
                    help="no progress line on stderr (by default one at least every 5 s)")
    argv = list(sys.argv[1:] if argv is None else argv)
    prog_args = []  # `diff --wasi`: everything after the first `--` is the program's
    if "--" in argv and "--wasi" in argv[:argv.index("--")]:
        cut = argv.index("--")
        argv, prog_args = argv[:cut], argv[cut + 1:]
    args, extra = parser.parse_known_args(argv)
    args.args = prog_args
    if extra:  # named by the subcommand: `oracle diff: unrecognized arguments: --x`
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    _check_files(args)
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
    if args.command == "locate":
        return locate_command(args)
    return 2


def _check_files(args) -> None:
    """Bad input and unwritable outputs are refused before any engine runs (BadInput)."""
    try:
        if args.command in ("diff", "replay", "reduce", "locate"):
            read_module(args.wasm)
        if args.command == "diff" and args.save:
            check_output(args.save, "--save")
        if args.command == "reduce" and args.output:
            check_output(args.output, "-o")
        if args.command == "reduce" and not args.max_seconds > 0:
            raise BadInput(f"--max-seconds {args.max_seconds}: must be > 0")
    except BadInput as e:
        raise BadInput(str(e), f"oracle {args.command}") from None


def _check_campaign(args, targets: tuple, isas: tuple, known_targets) -> None:
    """A campaign with a bad option stops before any worker starts (BadInput)."""
    def bad(line):
        raise BadInput(line, "oracle campaign")

    unknown = [t for t in targets if t not in known_targets]
    if unknown or not targets:
        bad(f"--targets {args.targets!r}: unknown target {', '.join(unknown) or '(none given)'}"
            f" (from: {', '.join(known_targets)})")
    unknown = [i for i in isas if i not in ("x64", "aarch64", "s390x")]
    if unknown or not isas:
        bad(f"--isa {args.isa!r}: unknown ISA {', '.join(unknown) or '(none given)'} "
            "(from: x64, aarch64, s390x)")
    for flag, value, low in (("--minutes", args.minutes, 0.0), ("--jobs", args.jobs, 0),
                             ("--reduce-seconds", args.reduce_seconds, 0.0)):
        if not value > low:  # also refuses nan
            bad(f"{flag} {value}: must be > {low:g}")
    if args.mutant:
        from oracle.mutants import BY_NAME

        if args.mutant not in BY_NAME:
            bad(f"--mutant {args.mutant!r}: no such deliberate bug (`python scripts/mutants.py "
                "list` lists them)")
    existing = args.out
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing)
    existing = existing or "."
    if not os.path.isdir(existing):
        bad(f"--out {args.out}: not a directory: {existing}")
    if not os.access(existing, os.W_OK):
        bad(f"--out {args.out}: cannot write: permission denied: {existing}")


def campaign(args) -> int:
    from oracle.campaign.runner import TARGETS, Options, Runner

    targets = tuple(t for t in args.targets.split(",") if t)
    isas = tuple(i for i in args.isa.split(",") if i)
    _check_campaign(args, targets, isas, TARGETS)
    opts = Options(minutes=args.minutes, jobs=args.jobs, targets=targets, isas=isas,
                   out=args.out, mutant=args.mutant, reduce_seconds=args.reduce_seconds,
                   canonicalize_nans=args.canonicalize_nans)
    return Runner(opts, resume=args.resume, progress=not args.quiet).run()


def spectest(args) -> int:
    from oracle.spectest.errors import ScriptError
    from oracle.spectest.runner import FileResult, run_script
    from oracle.spectest.script import parse_script

    def bad(line):
        raise BadInput(line, "oracle spectest")

    if args.engine not in ENGINE_NAMES:
        bad(f"unknown engine {args.engine!r} (one of: {', '.join(ENGINE_NAMES)})")
    try:
        engine = get_engine(args.engine, canonicalize_nans=args.canonicalize_nans)
    except ImportError as e:
        bad(f"engine {args.engine} is not available: {e}")
    scripts = []
    for path in args.files:
        try:
            data = read_file(path)
        except BadInput as e:
            bad(str(e))
        if data[:4] == b"\0asm":
            bad(f"{path}: this is a binary WebAssembly module, not a .wast script")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            bad(f"{path}@{e.start:#x}: not a .wast script (not UTF-8 text)")
        try:
            scripts.append(parse_script(data, path))
        except ScriptError as e:
            line = data.count(b"\n", 0, max(e.pos, 0)) + 1
            bad(f"{path}:{line}: {e.message}")

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
            "canonicalize_nans": args.canonicalize_nans,
            "files": {r.path: r.to_json() for r in results},
            "total": {"passed": passed, "failed": failed, "skipped": skipped,
                      "skip_reasons": dict(sorted(total_skips.items())),
                      "seconds": round(elapsed, 2)},
        }, indent=1))
    else:
        print(f"\nTOTAL ({args.engine}"
              f"{', NaN canonicalization' if args.canonicalize_nans else ''}, "
              f"{len(results)} files, {elapsed:.1f}s): "
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


def locate_command(args) -> int:
    """0: located, 1: the finding does not reproduce or cannot be located, 3: no failing call
    (the engine agrees with the interpreter)."""
    from oracle.locate import format_location, locate

    if args.engine and args.engine not in ("winch-x64", "winch-aarch64", "winch-s390x"):
        raise BadInput(f"--engine {args.engine}: only winch-x64, winch-aarch64, winch-s390x "
                       "can be located", "oracle locate")
    import contextlib

    from oracle.mutants import BY_NAME, applied

    if args.mutant and args.mutant not in BY_NAME:
        raise BadInput(f"--mutant {args.mutant}: no such deliberate bug", "oracle locate")
    from oracle.crashfile import read_crash
    from winch.errors import WinchError
    from winch.wasm.validate import validate_module
    from winch.wasm.reader import decode_module

    data = read_file(args.wasm)
    try:  # a module the front end refuses has no instruction to locate: bad input
        validate_module(decode_module(read_crash(data)[0]))
    except WinchError as e:
        raise BadInput(f"{args.wasm}: {e}", "oracle locate") from None
    with applied(args.mutant) if args.mutant else contextlib.nullcontext():
        loc = locate(data, args.engine)
    if args.json:
        print(json.dumps(loc.to_json(), indent=1))
    else:
        sys.stdout.write(format_location(loc))
    return {"located": 0, "no failing call": 3}.get(loc.status, 1)
