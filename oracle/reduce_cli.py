"""`oracle reduce crash.wasm -o min.wasm [--json] [--command CMD] [--max-seconds S]
[--mutant NAME] [--quiet] [--save-regression [DIR]] [--fuel N] [--epoch-deadline N]`.

A finding made with NaN canonicalization, fuel or epoch interruption (`oracle diff
--canonicalize-nans --fuel N --epoch-deadline N`, or the differential target's
environment) is reduced with the same settings: its crash file records them, and
`--fuel` / `--epoch-deadline` give (or override) them.  The reduced file records them too.

Exit status: 0 reduced (fewer instructions, bytes or plan calls), 1 the input is not
interesting (or an empty module is), 2 bad input, 3 could not reduce (nothing smaller
reproduces the finding, or the time bound came first): one line on stderr saying which, and
no output file.  `--max-seconds` bounds the whole command (within a few seconds): the
finding's predicate runs in a worker process that is killed at the deadline (a `--command` is
killed too), a SIGALRM backstop a second later stops a pass computing between two predicate
calls, and the best module found by then is written.  Writes `min.wasm` (a crash file:
module + plan + signature + identity), `min.wat` beside it, and prints one summary line (or a
JSON object).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

from oracle.crashfile import read_crash, write_crash
from oracle.diff_cli import _read
from oracle.findings_store import atomic_write


def outcome_to_json(out):
    """An outcome as data for a regression file: values as [type, bits], a trap as its kind."""
    from oracle.outcomes import Trap, Values

    if isinstance(out, Values):
        return {"values": [[v.type, v.bits] for v in out.values]}
    if isinstance(out, Trap):
        return {"trap": out.kind.value}
    return {"other": str(out)}


def state_to_json(state: dict) -> dict:
    return {k: ([v.type, v.bits] if hasattr(v, "bits") else str(v)) for k, v in state.items()}


#: where `--save-regression` writes by default, relative to the current directory (the
#: project checkout, whose tests/test_regressions.py runs every file there); not relative to
#: this file, which lives in site-packages when the package is installed
REGRESSIONS_DIR = os.path.join("corpus", "regressions")


def save_regression(wasm: bytes, plan, signature: str, directory: str = None,
                    name: str = None, canonicalize_nans: bool = False,
                    fuel: int | None = None, epoch_deadline: int | None = None) -> str:
    """Write a reduced case to corpus/regressions/<signature-hash>.wasm with the outcome of
    every call, and the exported state after it, as wasmtime computes them (the expected
    outcome on every ISA).  `canonicalize_nans`: a finding made with NaN canonicalization:
    wasmtime computes the outcomes with it, and the file says so (tests/test_regressions.py
    then compiles with it and compares NaN bits exactly).  `fuel`, `epoch_deadline`: the
    same for wasmtime's fuel (the fuel left after every call is recorded too,
    `expected_fuel`) and epoch interruption."""
    from oracle.findings_store import signature_hash
    from oracle.diff import run_diff

    if directory is None:
        directory = REGRESSIONS_DIR
    limits = {k: v for k, v in (("fuel", fuel), ("epoch_deadline", epoch_deadline))
              if v is not None}
    ref = run_diff(wasm, ["wasmtime"], plan, determinism="none",
                   canonicalize_nans=canonicalize_nans, **limits).runs["wasmtime"]
    path = os.path.join(directory, (name or signature_hash(signature)) + ".wasm")
    extra = {"canonicalize_nans": True} if canonicalize_nans else {}
    extra.update(limits)
    if fuel is not None:
        extra["expected_fuel"] = list(ref.fuel)
    atomic_write(path, write_crash(wasm, plan, signature,
                                   expected=[outcome_to_json(o) for o in ref.outcomes],
                                   expected_states=[state_to_json(s) for s in ref.states],
                                   **extra))
    return path


def _backstop(seconds: float):
    """Raise OutOfTime in the main thread after `seconds` (SIGALRM), for a pass that computes
    for long between two predicate calls; the reducer catches it like its own deadline.
    Returns the function that cancels it.  A no-op off the main thread or without SIGALRM."""
    if not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        return lambda: None
    from oracle.reduce.predicate import OutOfTime

    def fire(signum, frame):
        raise OutOfTime

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)

    return cancel


def reduce_command(args) -> int:
    from oracle.crashfile import expected_identity
    from oracle.plan import default_plan
    from oracle.progress import Heartbeat
    from oracle.reduce import NotInteresting, reduce_module
    from oracle.reduce.predicate import (BadCommand, CommandPredicate, IsolatedPredicate,
                                         OutOfTime)
    from oracle.watprint import print_wat
    from winch.cli_common import error_line
    from winch.errors import WinchError
    from winch.wasm.reader import decode_module

    def bad(line: str) -> int:
        print(f"oracle reduce: {line}", file=sys.stderr)
        return 2

    if not args.max_seconds > 0:  # also refuses nan
        return bad(f"--max-seconds {args.max_seconds}: must be > 0")
    mutant = getattr(args, "mutant", None)
    if mutant:
        from oracle.mutants import BY_NAME

        if mutant not in BY_NAME:
            return bad(f"--mutant {mutant!r}: no such deliberate bug (`python scripts/mutants.py "
                       "list` lists them)")
        if args.predicate_command is not None:
            return bad("--mutant plants the bug in the finding's predicate; with --command, "
                       "plant it in the command")
    data = _read(args.wasm)
    if data is None:
        return 2
    try:
        module, plan, meta = read_crash(data)
        if plan is None:
            plan = default_plan(decode_module(module))
        identity = expected_identity(meta, module) if args.predicate_command is None else None
    except WinchError as e:
        return bad(error_line(args.wasm, e))
    except ValueError as e:
        return bad(f"{args.wasm}: {e}")
    if meta.get("wasi") is not None and args.predicate_command is None:
        return bad(f"{args.wasm}: a WASI finding (oracle diff --wasi): its own predicate is "
                   "not implemented; reduce it with --command")
    signature = meta.get("signature", "")
    limits = {}  # fuel and epoch deadline: the command line's, else the crash file's
    for key in ("fuel", "epoch_deadline"):
        value = getattr(args, key, None)
        if value is None:
            value = meta.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or \
                    not 0 <= value < 1 << 64:
                return bad(f"{args.wasm}: bad `oracle.plan` section: {key} {value!r}")
            limits[key] = value
    if args.predicate_command is not None:
        try:
            predicate = CommandPredicate(args.predicate_command)
        except BadCommand as e:
            return bad(f"--command: {e}")
    elif identity is not None:
        # the finding's two engines: the others cannot change it, and only cost time
        # (a finding made with NaN canonicalization, fuel or an epoch deadline is reduced
        # with them: the file says so, or the command line)
        predicate = IsolatedPredicate(signature, identity=identity, mutant=mutant,
                                      canonicalize_nans=bool(meta.get("canonicalize_nans")),
                                      **limits)
    else:
        return bad(f"{args.wasm} holds no finding signature (an `oracle.plan` section); "
                   "give --command")
    # a line at least every 5 s on stderr, terminal or not (long predicate calls included)
    progress = None if getattr(args, "quiet", False) else Heartbeat("reduce")
    cancel = _backstop(args.max_seconds + 1.0)
    try:
        res = reduce_module(module, plan, predicate, max_seconds=args.max_seconds,
                            progress=progress)
    except NotInteresting as e:
        print(f"oracle reduce: {args.wasm}: {e}", file=sys.stderr)
        return 1
    except OutOfTime:  # the backstop fired outside the reducer's own checks
        print(f"oracle reduce: {args.wasm}: could not reduce: the time bound "
              f"({args.max_seconds:g} s) was reached", file=sys.stderr)
        return 3
    finally:
        cancel()
        close = getattr(predicate, "close", None)
        if close is not None:
            close()
        if progress is not None:
            progress.close()
    if not res.reduced:
        print(f"oracle reduce: {args.wasm}: could not reduce: {res.why_not(args.max_seconds)}",
              file=sys.stderr)
        return 3
    out = args.output or os.path.splitext(args.wasm)[0] + ".min.wasm"
    extra = {k: meta[k] for k in ("engines", "identity", "canonicalize_nans") if meta.get(k)}
    extra.update(limits)
    if identity is not None:
        extra["identity"] = str(identity)
    atomic_write(out, write_crash(res.wasm, res.plan, signature, **extra))
    wat_path = os.path.splitext(out)[0] + ".wat"
    atomic_write(wat_path, print_wat(res.wasm).encode())
    regression = None
    if args.save_regression and signature:
        regression = save_regression(res.wasm, res.plan, signature, args.save_regression,
                                     canonicalize_nans=bool(meta.get("canonicalize_nans")),
                                     **limits)
    if args.json:
        print(json.dumps({"output": out, "wat": wat_path, "signature": signature,
                          "instructions_before": res.instrs_before,
                          "instructions_after": res.instrs_after,
                          "bytes_before": res.bytes_before, "bytes_after": res.bytes_after,
                          "calls_before": res.calls_before, "calls_after": res.calls_after,
                          "predicate_calls": res.predicate_calls,
                          "seconds": round(res.seconds, 3), "timed_out": res.timed_out,
                          "regression": regression}))
    else:
        print(f"{out}: {res.summary()}" + (f"; regression test {regression}" if regression
                                            else ""))
    return 0
