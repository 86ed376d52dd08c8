#!/usr/bin/env python3
"""Fuzz target: generated modules through `oracle diff` on every engine.

    python -m fuzz_targets.differential CORPUS_DIR [libFuzzer flags]

Each input is a hypothesis choice sequence for `oracle.strategies.wasm_modules()` (swarm
configuration included), fed through `fuzz_one_input`, so libFuzzer's coverage guidance
steers the generator.  A finding is saved as a crash `.wasm` with its plan and signature
(see `fuzz_targets.findings`), never as a hypothesis buffer, which would only replay on the
same hypothesis version.  `ORACLE_ENGINES` (comma-separated) overrides the engine list.

Per module (by a hash of its bytes, so a replay does the same): the determinism re-compile
runs on 1 in `$ORACLE_DETERMINISM_EVERY` (default 16), wasmtime-winch on 1 in
`$ORACLE_WINCH_EVERY` (default 4); the reference always.  `$ORACLE_PHASE_TIMES=FILE` keeps
the seconds per phase in FILE (see scripts/bench_differential.py); unset, nothing is timed.
"""

from __future__ import annotations

import os
import sys

if not __package__ and sys.path[0] == os.path.dirname(os.path.realpath(__file__)):
    # run by path (as libFuzzer's -fork/-jobs children are): import the package, not its files
    sys.path[0] = os.path.dirname(sys.path[0])

import hashlib
import json
import threading
import time

import atheris

# coverage only on what this target fuzzes: the code generator, the assemblers and the
# host; the front end (validator, decoder) has its own target, and hypothesis and the oracle
# are not under test.  Modules imported before this block stay uninstrumented.
import winch.wasm  # noqa: E402,F401  (the front end, uninstrumented)
import winch.wasm.validate_body  # noqa: E402,F401

with atheris.instrument_imports(include=["winch.codegen", "winch.isa", "winch.masm",
                                         "winch.host"]):
    import winch.codegen.compile  # noqa: F401
    import winch.host.instance  # noqa: F401
    # compile imports these lazily, which would be after this block: import them here
    import winch.isa.aarch64.masm  # noqa: F401
    import winch.isa.s390x.masm  # noqa: F401
    import winch.isa.x64.masm  # noqa: F401
    import winch.masm.buffer  # noqa: F401

from hypothesis import HealthCheck, given, settings  # noqa: E402

from fuzz_targets import apply_mutant_from_env, findings, fuzz  # noqa: E402
from oracle.crashfile import write_crash  # noqa: E402
import oracle.diff  # noqa: E402
from oracle.diff import DEFAULT_ENGINES, run_diff  # noqa: E402
from oracle.strategies import wasm_modules  # noqa: E402

ENGINES = tuple(os.environ["ORACLE_ENGINES"].split(",")) if os.environ.get(
    "ORACLE_ENGINES") else DEFAULT_ENGINES


def _every(var: str, default: int) -> int:
    """A positive sampling period from the environment (1 = every execution)."""
    try:
        n = int(os.environ.get(var) or default)
    except ValueError:
        n = default
    return max(n, 1)


# the determinism re-compile on 1 execution in DETERMINISM_EVERY, wasmtime-winch on 1 in
# WINCH_EVERY; chosen by a hash of the module, so a replay of the same module does the same
DETERMINISM_EVERY = _every("ORACLE_DETERMINISM_EVERY", 16)
WINCH_EVERY = _every("ORACLE_WINCH_EVERY", 4)


def sampled(wasm: bytes, every: int, salt: bytes) -> bool:
    """True for 1 module in `every`, the same answer for the same bytes in any process."""
    if every <= 1:
        return True
    h = hashlib.blake2b(wasm, digest_size=8, key=salt).digest()
    return int.from_bytes(h, "little") % every == 0


def plan_for(wasm: bytes, engines=None) -> tuple:
    """(engines, determinism) for one module: wasmtime-winch dropped unless sampled (the
    reference, first, always runs), the determinism check "one" when sampled, else "none"."""
    engines = ENGINES if engines is None else engines
    if WINCH_EVERY > 1 and not sampled(wasm, WINCH_EVERY, b"wasmtime-winch"):
        engines = tuple(e for i, e in enumerate(engines) if i == 0 or e != "wasmtime-winch")
    determinism = "one" if sampled(wasm, DETERMINISM_EVERY, b"determinism") else "none"
    return engines, determinism


STATS = {"modules": 0, "findings": 0, "inconclusive": 0, "inconclusive_reasons": {}}


PHASE_FILE = os.environ.get("ORACLE_PHASE_TIMES")
PHASES: dict | None = None  # when $ORACLE_PHASE_TIMES is set: seconds per phase


def _start_phase_times(path: str) -> dict:
    """Accumulate phase seconds (`oracle.diff.PHASE_TIMES` per engine, plus generation and the
    whole diff) and write them as JSON to `path` every second: libFuzzer ends the process
    with C `exit()`, so nothing written at exit would run."""
    phases = {"executions": 0, "total": 0.0, "diff": 0.0,
              "compile": {}, "determinism": {}, "run": {}}
    oracle.diff.PHASE_TIMES = phases

    def loop():
        while True:
            time.sleep(1.0)
            try:
                findings.atomic_write(path, json.dumps(phases).encode())
            except (OSError, RuntimeError):  # RuntimeError: a dict grew while dumped
                pass

    threading.Thread(target=loop, daemon=True).start()
    return phases


def check_module(wasm: bytes) -> list:
    """Diff one module; record each finding.  Returns the findings."""
    engines, determinism = plan_for(wasm)
    if PHASES is None:
        r = run_diff(wasm, engines, determinism=determinism)
    else:
        t0 = time.perf_counter()
        r = run_diff(wasm, engines, determinism=determinism)
        PHASES["diff"] += time.perf_counter() - t0
    STATS["modules"] += 1
    STATS["inconclusive"] += bool(r.inconclusive)
    reasons = STATS["inconclusive_reasons"]
    for reason in r.inconclusive:
        key = reason.split(":")[0][:60]
        reasons[key] = reasons.get(key, 0) + 1
    for f in r.findings:
        STATS["findings"] += 1
        crash = write_crash(wasm, r.plan, f.signature, kind=f.kind,
                            engines=[e if isinstance(e, str) else e.name for e in engines])
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
    if PHASES is None:
        _property.hypothesis.fuzz_one_input(choices(data))
        return
    t0 = time.perf_counter()
    try:
        _property.hypothesis.fuzz_one_input(choices(data))
    finally:
        PHASES["total"] += time.perf_counter() - t0
        PHASES["executions"] += 1


def main(argv=None) -> None:
    global PHASES
    if PHASE_FILE:
        PHASES = _start_phase_times(PHASE_FILE)
    fuzz(TestOneInput, STATS, argv)


if __name__ == "__main__":
    main()
