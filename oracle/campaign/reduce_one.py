"""Reduce one campaign finding into a regression candidate (run as a subprocess).

    python -m oracle.campaign.reduce_one CRASH.wasm OUT.wasm MAX_SECONDS

Prints one JSON line: sizes before/after, predicate calls, seconds.  Applies $ORACLE_MUTANT.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

# operators that only move values around: not what a bug is about
_PLUMBING = ("end", "drop", "nop", "local.get", "local.set", "local.tee", "global.get",
             "global.set", "i32.const", "i64.const", "f32.const", "f64.const")


def bucket(kind: str, wasm: bytes) -> str:
    """The deduplication key of a reduced finding: its kind and the set of operators left in
    the reduced module besides plumbing (the same bug seen on several ISAs, exports or calls
    reduces to the same operators)."""
    from winch.wasm.encoder import func_instrs
    from winch.wasm.reader import decode_module

    m = decode_module(wasm)
    ops = sorted({i.op.name for f in m.funcs for i in func_instrs(m, f)} - set(_PLUMBING))
    return hashlib.sha1(f"{kind}|{','.join(ops)}".encode()).hexdigest()[:16]


def main(argv=None) -> int:
    src, dst, seconds = (argv or sys.argv[1:])[:3]
    from oracle.reduce_cli import save_regression
    from fuzz_targets import apply_mutant_from_env
    from fuzz_targets.findings import atomic_write
    from oracle.crashfile import read_crash, write_crash
    from oracle.reduce import reduce_module
    from oracle.reduce.predicate import SignaturePredicate

    apply_mutant_from_env()
    module, plan, meta = read_crash(open(src, "rb").read())
    sig = meta["signature"]
    res = reduce_module(module, plan, SignaturePredicate(sig), max_seconds=float(seconds))
    atomic_write(dst, write_crash(res.wasm, res.plan, sig, engines=meta.get("engines")))
    key = bucket(meta.get("kind") or sig.split("|")[0], res.wasm)
    regressions = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(dst))),
                               "regressions")
    reg = os.path.join(regressions, key + ".wasm")
    new = not os.path.exists(reg)
    if new:
        save_regression(res.wasm, res.plan, sig, regressions, name=key)
    print(json.dumps({"signature": sig, "bucket": key, "regression": reg, "new_bucket": new, "instructions_before": res.instrs_before,
                      "instructions_after": res.instrs_after, "bytes_before": res.bytes_before,
                      "bytes_after": res.bytes_after, "predicate_calls": res.predicate_calls,
                      "seconds": round(res.seconds, 2), "timed_out": res.timed_out,
                      "file": dst}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
