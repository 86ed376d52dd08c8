"""The worker process of `oracle.reduce.predicate.IsolatedPredicate`.

    python -m oracle.reduce.worker    (spoken to through stdin/stdout, never by hand)

Reads a configuration (signature, identity, engines, optional mutant, NaN canonicalization,
fuel, epoch deadline), then candidates (module bytes, plan JSON), each answered with
(interesting, RunInfo); ends at end of input.
Messages are pickles behind a 4-byte little-endian length.  Whatever the engines print goes to
stderr: stdout carries only answers.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from oracle.plan import Plan
    from oracle.reduce.predicate import SignaturePredicate, _recv, _send

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    config = _recv(inp)
    if config is None:
        return 0
    if config.get("mutant"):
        from oracle.mutants import apply

        apply(config["mutant"])
    pred = SignaturePredicate(config["signature"], config["engines"], config["identity"],
                              bool(config.get("canonicalize_nans")), config.get("fuel"),
                              config.get("epoch_deadline"))
    while True:
        msg = _recv(inp)
        if msg is None:
            return 0
        wasm, plan_json = msg
        ok = pred(wasm, Plan.from_json(plan_json))
        _send(out, (ok, pred.last))


if __name__ == "__main__":
    raise SystemExit(main())
