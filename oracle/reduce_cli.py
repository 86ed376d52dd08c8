"""`oracle reduce crash.wasm -o min.wasm [--json] [--command CMD] [--max-seconds S]
[--save-regression]`.

Exit status: 0 reduced, 1 the input is not interesting (or an empty module is), 2 bad input.
Writes `min.wasm` (a crash file: module + plan + signature), `min.wat` beside it, and prints
one summary line (or a JSON object).
"""

from __future__ import annotations

import json
import os
import sys

from oracle.crashfile import read_crash, write_crash
from oracle.diff_cli import _read


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


def save_regression(wasm: bytes, plan, signature: str, directory: str = None,
                    name: str = None) -> str:
    """Write a reduced case to corpus/regressions/<signature-hash>.wasm with the outcome of
    every call, and the exported state after it, as wasmtime computes them (the expected
    outcome on every ISA)."""
    from fuzz_targets.findings import atomic_write, signature_hash
    from oracle.diff import run_diff

    if directory is None:
        directory = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                 "corpus", "regressions")
    ref = run_diff(wasm, ["wasmtime"], plan, determinism="none").runs["wasmtime"]
    path = os.path.join(directory, (name or signature_hash(signature)) + ".wasm")
    atomic_write(path, write_crash(wasm, plan, signature,
                                   expected=[outcome_to_json(o) for o in ref.outcomes],
                                   expected_states=[state_to_json(s) for s in ref.states]))
    return path


def reduce_command(args) -> int:
    from oracle.plan import default_plan
    from oracle.reduce import NotInteresting, reduce_module, terminal_progress
    from oracle.reduce.predicate import CommandPredicate, SignaturePredicate
    from oracle.watprint import print_wat
    from winch.errors import WinchError
    from winch.wasm.reader import decode_module

    data = _read(args.wasm)
    if data is None:
        return 2
    try:
        module, plan, meta = read_crash(data)
        if plan is None:
            plan = default_plan(decode_module(module))
    except (WinchError, ValueError) as e:
        print(f"oracle reduce: {args.wasm}: {e}", file=sys.stderr)
        return 2
    signature = meta.get("signature", "")
    if args.predicate_command:
        predicate = CommandPredicate(args.predicate_command)
    elif signature:
        predicate = SignaturePredicate(signature, meta.get("engines"))
    else:
        print(f"oracle reduce: {args.wasm} holds no finding signature (an `oracle.plan` "
              "section); give --command", file=sys.stderr)
        return 2
    progress = None if args.json or not sys.stderr.isatty() else terminal_progress()
    try:
        res = reduce_module(module, plan, predicate, max_seconds=args.max_seconds,
                            progress=progress)
    except NotInteresting as e:
        print(f"oracle reduce: {args.wasm}: {e}", file=sys.stderr)
        return 1
    finally:
        if progress is not None:
            sys.stderr.write("\n")
    out = args.output or os.path.splitext(args.wasm)[0] + ".min.wasm"
    with open(out, "wb") as f:
        f.write(write_crash(res.wasm, res.plan, signature,
                            **({"engines": meta["engines"]} if "engines" in meta else {})))
    wat_path = os.path.splitext(out)[0] + ".wat"
    with open(wat_path, "w") as f:
        f.write(print_wat(res.wasm))
    regression = None
    if args.save_regression and signature:
        regression = save_regression(res.wasm, res.plan, signature)
    if args.json:
        print(json.dumps({"output": out, "wat": wat_path, "signature": signature,
                          "instructions_before": res.instrs_before,
                          "instructions_after": res.instrs_after,
                          "bytes_before": res.bytes_before, "bytes_after": res.bytes_after,
                          "predicate_calls": res.predicate_calls,
                          "seconds": round(res.seconds, 3), "timed_out": res.timed_out,
                          "regression": regression}))
    else:
        print(f"{out}: {res.summary()}" + (f"; regression test {regression}" if regression
                                            else ""))
    return 0
