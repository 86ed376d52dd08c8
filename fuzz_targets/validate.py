#!/usr/bin/env python3
"""Fuzz target: raw (mutated) bytes through our front end and wasmtime's validator.

    python -m fuzz_targets.validate CORPUS_DIR [libFuzzer flags]

Two properties:
- our front end (`winch.wasm.validate`) raises nothing but its typed errors (`DecodeError`,
  `ValidationError`, `Unsupported`) - anything else is a front-end crash;
- it agrees with wasmtime on valid / invalid, except where one side lacks a feature
  (`Unsupported` from ours, a feature-gating message from wasmtime): those are skipped.
Seed it with the modules of `oracle/corpus/` (libFuzzer mutates the bytes).
"""

from __future__ import annotations

import os
import sys

if not __package__ and sys.path[0] == os.path.dirname(os.path.realpath(__file__)):
    # run by path (as libFuzzer's -fork/-jobs children are): import the package, not its files
    sys.path[0] = os.path.dirname(sys.path[0])

import traceback

import atheris

with atheris.instrument_imports(include=["winch"]):
    from winch.errors import DecodeError, Unsupported, ValidationError
    from winch.wasm import validate

import wasmtime  # noqa: E402

from fuzz_targets import findings, fuzz  # noqa: E402
from oracle.engines.wasmtime_engine import _UNSUPPORTED_WORDS  # noqa: E402

ENGINE = wasmtime.Engine()
STATS = {"inputs": 0, "valid": 0, "invalid": 0, "unsupported": 0}


def _wasmtime_verdict(data: bytes) -> str:
    try:
        wasmtime.Module.validate(ENGINE, data)
        return "valid"
    except wasmtime.WasmtimeError as e:
        low = str(e).lower()
        return "unsupported" if any(w in low for w in _UNSUPPORTED_WORDS) else "invalid"


def check_bytes(data: bytes) -> str:
    """Validate `data` with both; record a finding on a crash or a disagreement.
    Returns "valid", "invalid" or "unsupported"."""
    STATS["inputs"] += 1
    try:
        validate(data)
        ours, why = "valid", ""
    except Unsupported:
        STATS["unsupported"] += 1
        return "unsupported"
    except (DecodeError, ValidationError) as e:
        ours, why = "invalid", str(e)
    except Exception as e:  # noqa: BLE001 - anything untyped is a front-end bug
        tb = traceback.extract_tb(e.__traceback__)[-1]
        sig = (f"front-end crash|frontend||{type(e).__name__} at "
               f"{tb.filename.rsplit('/', 1)[-1]}:{tb.lineno}")
        findings.record("validate", "front-end crash", sig, data, suffix=".wasm",
                        detail=traceback.format_exc())
        return "invalid"
    theirs = _wasmtime_verdict(data)
    if theirs == "unsupported":
        STATS["unsupported"] += 1
        return "unsupported"
    STATS[ours] += 1
    if ours != theirs:
        # one signature per direction and per first error message shape of ours
        shape = why.split(": ", 1)[-1].split(" ")[0:3] if why else []
        sig = (f"validation disagreement|frontend~wasmtime||ours {ours}, wasmtime {theirs}"
               + (f": {' '.join(shape)}" if shape else ""))
        findings.record("validate", "validation disagreement", sig, data,
                        detail=f"ours: {ours} {why}\nwasmtime: {theirs}")
    return ours


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    check_bytes(data)


def main(argv=None) -> None:
    fuzz(TestOneInput, STATS, argv)


if __name__ == "__main__":
    main()
