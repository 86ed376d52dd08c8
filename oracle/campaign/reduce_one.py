"""Reduce one campaign finding into a regression candidate (run as a subprocess).

    python -m oracle.campaign.reduce_one CRASH.wasm OUT.wasm MAX_SECONDS

Prints one JSON line: sizes before/after, predicate calls, seconds.  Applies $ORACLE_MUTANT.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys

# operators that only move values around: not what a bug is about
_PLUMBING = ("end", "drop", "nop", "local.get", "local.set", "local.tee", "global.get",
             "global.set", "i32.const", "i64.const", "f32.const", "f64.const")


def operators(wasm: bytes) -> frozenset:
    """The operators of a module besides plumbing."""
    from winch.wasm.encoder import func_instrs
    from winch.wasm.reader import decode_module

    m = decode_module(wasm)
    return frozenset({i.op.name for f in m.funcs for i in func_instrs(m, f)} - set(_PLUMBING))


def bucket(kind: str, wasm: bytes) -> str:
    """The key of a reduced finding: its kind and the operators left in the reduced module
    besides plumbing (the same bug seen on several ISAs, exports or calls reduces to the same
    operators)."""
    ops = ",".join(sorted(operators(wasm)))
    return hashlib.sha1(f"{kind}|{ops}".encode()).hexdigest()[:16]


def candidates(regressions: str) -> dict:
    """The regression candidates of a campaign: bucket key -> (kind, operators)."""
    from oracle.crashfile import read_crash

    out = {}
    for name in sorted(os.listdir(regressions)) if os.path.isdir(regressions) else ():
        if not name.endswith(".wasm"):
            continue
        try:
            module, _, meta = read_crash(open(os.path.join(regressions, name), "rb").read())
            out[name[:-5]] = (meta["signature"].split("|")[0], operators(module))
        except (OSError, ValueError, KeyError):
            continue  # not ours, or half-written by a killed run: the next finding rewrites it
    return out


def place(kind: str, wasm: bytes, regressions: str) -> tuple[str, bool, list]:
    """Which candidate a reduced finding belongs to: (key, whether it is new, keys it makes
    redundant).  A finding is a duplicate of a candidate whose operators it all contains:
    that candidate already shows the bug with fewer.  A reduction that got stuck keeps extra
    operators around the same core, and one bug shows as several kinds (a wrong value that
    steers a branch away from a trap is a missing trap).  A new candidate with a subset of
    another's operators replaces that one.  Plumbing alone covers only its equal."""
    ops = operators(wasm)
    cands = candidates(regressions)
    covering = sorted((len(o), kd == kind, k) for k, (kd, o) in cands.items()
                      if (o and o <= ops) or (o == ops and kd == kind))
    if covering:
        return covering[-1][2], False, []
    return bucket(kind, wasm), True, sorted(k for k, (_, o) in cands.items() if ops and ops < o)


#: steps `oracle locate` compares for a campaign's candidate (a reduced finding runs few)
LOCATE_STEPS = 200_000


def locate_into(crash: str, out: str) -> None:
    """Write `oracle locate`'s report on regression candidate `crash` to `out` (the campaign
    report links it).  A locate that fails says so in the file: the candidate stays."""
    from oracle.findings_store import atomic_write
    from oracle.locate import format_location, locate

    try:
        with open(crash, "rb") as f:
            text = format_location(locate(f.read(), limit=LOCATE_STEPS))
    except Exception as e:  # noqa: BLE001 - a locate bug must not lose the candidate
        text = f"error: oracle locate failed: {type(e).__name__}: {e}\n"
    atomic_write(out, text.encode())


def main(argv=None) -> int:
    src, dst, seconds = (argv or sys.argv[1:])[:3]
    from oracle.reduce_cli import save_regression
    from oracle.mutants import apply as apply_mutant
    from oracle.findings_store import atomic_write
    from oracle.crashfile import expected_identity, read_crash, write_crash
    from oracle.reduce import reduce_module
    from oracle.reduce.predicate import SignaturePredicate

    if os.environ.get("ORACLE_MUTANT"):
        apply_mutant(os.environ["ORACLE_MUTANT"])
    module, plan, meta = read_crash(open(src, "rb").read())
    sig = meta["signature"]
    # the finding's stored identity, the rule `oracle replay` and `oracle reduce` use
    identity = expected_identity(meta, module)
    canon = bool(meta.get("canonicalize_nans"))  # the finding's setting, kept throughout
    limits = {k: meta[k] for k in ("fuel", "epoch_deadline") if meta.get(k) is not None}
    res = reduce_module(module, plan, SignaturePredicate(sig, identity=identity,
                                                         canonicalize_nans=canon, **limits),
                        max_seconds=float(seconds))
    atomic_write(dst, write_crash(res.wasm, res.plan, sig, engines=meta.get("engines"),
                                  identity=str(identity) if identity is not None else None,
                                  **({"canonicalize_nans": True} if canon else {}), **limits))
    regressions = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(dst))),
                               "regressions")
    key, new, replaced = place(sig.split("|")[0], res.wasm, regressions)
    reg = os.path.join(regressions, key + ".wasm")
    if new:  # written before the ones it replaces are removed: a kill leaves both, not none
        save_regression(res.wasm, res.plan, sig, regressions, name=key, canonicalize_nans=canon,
                        **limits)
        for old in replaced:
            os.unlink(os.path.join(regressions, old + ".wasm"))
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(regressions, old + ".locate.txt"))
        locate_into(reg, os.path.join(regressions, key + ".locate.txt"))
    print(json.dumps({"signature": sig, "bucket": key, "regression": reg, "new_bucket": new,
                      "replaces": replaced, "instructions_before": res.instrs_before,
                      "instructions_after": res.instrs_after, "bytes_before": res.bytes_before,
                      "bytes_after": res.bytes_after, "predicate_calls": res.predicate_calls,
                      "seconds": round(res.seconds, 2), "timed_out": res.timed_out,
                      "file": dst}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
