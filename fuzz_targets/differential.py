#!/usr/bin/env python3
"""Fuzz target: generated modules through `oracle diff` on every engine.

    python -m fuzz_targets.differential CORPUS_DIR [libFuzzer flags]

Each input is a hypothesis choice sequence for `oracle.strategies.wasm_modules()` (swarm
configuration included), fed through `fuzz_one_input`, so libFuzzer's coverage guidance
steers the generator.  A finding is saved as a crash `.wasm` with its plan and signature
(see `fuzz_targets.findings`), never as a hypothesis buffer, which would only replay on the
same hypothesis version.  `ORACLE_ENGINES` (comma-separated) overrides the engine list.
"""

from __future__ import annotations

import os
import sys

if not __package__ and sys.path[0] == os.path.dirname(os.path.realpath(__file__)):
    # run by path (as libFuzzer's -fork/-jobs children are): import the package, not its files
    sys.path[0] = os.path.dirname(sys.path[0])

import hashlib

import atheris

with atheris.instrument_imports(include=["winch"]):
    import winch.codegen.compile  # noqa: F401

from hypothesis import HealthCheck, given, settings  # noqa: E402

from fuzz_targets import apply_mutant_from_env, findings, fuzz  # noqa: E402
from oracle.crashfile import write_crash  # noqa: E402
from oracle.diff import DEFAULT_ENGINES, run_diff  # noqa: E402
from oracle.strategies import wasm_modules  # noqa: E402

ENGINES = tuple(os.environ["ORACLE_ENGINES"].split(",")) if os.environ.get(
    "ORACLE_ENGINES") else DEFAULT_ENGINES
STATS = {"modules": 0, "findings": 0, "inconclusive": 0, "inconclusive_reasons": {}}


def check_module(wasm: bytes) -> list:
    """Diff one module; record each finding.  Returns the findings."""
    r = run_diff(wasm, ENGINES)
    STATS["modules"] += 1
    STATS["inconclusive"] += bool(r.inconclusive)
    reasons = STATS["inconclusive_reasons"]
    for reason in r.inconclusive:
        key = reason.split(":")[0][:60]
        reasons[key] = reasons.get(key, 0) + 1
    for f in r.findings:
        STATS["findings"] += 1
        crash = write_crash(wasm, r.plan, f.signature, kind=f.kind,
                            engines=[e if isinstance(e, str) else e.name for e in ENGINES])
        findings.record("differential", f.kind, f.signature, crash, detail=f.detail)
    return r.findings


@settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(wasm_modules())
def _property(wasm):
    check_module(wasm)


apply_mutant_from_env()


PAD_TO = 8192  # hypothesis' own buffer size


def choices(data: bytes) -> bytes:
    """The choice sequence for an input: the input, then bytes derived from it.

    A hypothesis buffer that runs out ends the example before a module is built, so
    libFuzzer's first short inputs would test nothing or tiny modules.  Extending each input
    deterministically (SHAKE-256 of the input) makes every input a full-sized module and
    keeps it reproducible; mutations of the prefix still steer the early choices."""
    if len(data) >= PAD_TO:
        return data
    return data + hashlib.shake_256(data).digest(PAD_TO - len(data))


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    _property.hypothesis.fuzz_one_input(choices(data))


def main(argv=None) -> None:
    fuzz(TestOneInput, STATS, argv)


if __name__ == "__main__":
    main()
