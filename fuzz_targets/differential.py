#!/usr/bin/env python3
"""Fuzz target: generated modules through `oracle diff` on every engine.

    python -m fuzz_targets.differential CORPUS_DIR [libFuzzer flags]

Each input is read by the byte-driven generator (`oracle.gen.generate`: the swarm
configuration, then every choice of the module, one to eight bytes a choice), so libFuzzer's
coverage guidance and mutations steer the generator directly.  A module reads about 450
bytes (median; a big frame up to 2.5 KiB), and libFuzzer's first inputs are a few bytes
long, so an input shorter than 4 KiB is continued by a fixed pseudo-random tail
(`module_for`): a short input is a whole module whose first choices it makes, and a
mutation changes only the choices it reaches, not the rest.  (One 60 s hunt each, seed 1:
`load8-zero-extends` was found after 860, 1175 and 151 executions with zeros past the end,
a tail hashed from the input, and this fixed tail; `br_if-no-moves` not within 60 s, after
117 and after 544.)  Unless given, `-max_len=4096 -len_control=0` are passed.  A finding is
saved as a crash `.wasm` with its plan and signature (see `fuzz_targets.findings`).
`ORACLE_ENGINES` (comma-separated) overrides the engine list.  `ORACLE_CANONICALIZE_NANS=1`
compiles on every engine with NaN canonicalization and compares NaN bits exactly (`oracle
diff --canonicalize-nans`; a finding's crash file records it, so replay and reduction do the
same); `oracle campaign` sets it unless `--no-canonicalize-nans`.  Off by default here.
`ORACLE_FUEL=N` / `ORACLE_EPOCH_DEADLINE=N` run every engine with wasmtime's fuel (the store
given N after instantiation, the fuel left compared after every call) / epoch interruption at
that deadline (`oracle diff --fuel N --epoch-deadline N`; recorded in a finding's crash file
too); with fuel, wasmtime-winch (whose fuel accounting is its own) is left out unless
`ORACLE_ENGINES` names it.  Unset by default (`scripts/mutants.py hunt` sets them for the
deliberate bugs that need them).

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
# host; the front end (validator, decoder) has its own target, and the generator and oracle
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

from fuzz_targets import apply_mutant_from_env, findings, fuzz  # noqa: E402
from oracle.crashfile import write_crash  # noqa: E402
import oracle.diff  # noqa: E402
from oracle.diff import DEFAULT_ENGINES, run_diff  # noqa: E402
from oracle.gen import generate  # noqa: E402

CANONICALIZE_NANS = os.environ.get("ORACLE_CANONICALIZE_NANS", "") not in ("", "0")


def _limit(var: str) -> int | None:
    """A fuel amount or epoch deadline from the environment (None: unset)."""
    text = os.environ.get(var, "").strip()
    if not text:
        return None
    try:
        n = int(text, 0)
    except ValueError:
        n = -1
    if not 0 <= n < 1 << 64:
        raise SystemExit(f"fuzz_targets.differential: ${var}={text!r}: not an integer "
                         "in 0 .. 2**64-1 (decimal or 0x...)")
    return n


FUEL = _limit("ORACLE_FUEL")
EPOCH_DEADLINE = _limit("ORACLE_EPOCH_DEADLINE")


def engines_from_env(fuel: int | None) -> tuple:
    """`$ORACLE_ENGINES`, else the default engines (without wasmtime-winch when `fuel` is
    set: wasmtime 50's Winch counts fuel its own way, see oracle/diff_cli.py)."""
    if os.environ.get("ORACLE_ENGINES"):
        return tuple(os.environ["ORACLE_ENGINES"].split(","))
    return tuple(e for e in DEFAULT_ENGINES if fuel is None or e != "wasmtime-winch")


ENGINES = engines_from_env(FUEL)


def diff_options() -> dict:
    """The `run_diff` keywords (and crash-file fields) of this process's settings."""
    opts = {"canonicalize_nans": CANONICALIZE_NANS}
    if FUEL is not None:
        opts["fuel"] = FUEL
    if EPOCH_DEADLINE is not None:
        opts["epoch_deadline"] = EPOCH_DEADLINE
    return opts


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


STATS = {"modules": 0, "repeated": 0, "findings": 0, "inconclusive": 0,
         "inconclusive_reasons": {}}

# Modules diffed lately, by digest (oldest first, at most SEEN_MAX), to count repeats: the
# generator reads only a prefix of a long input, so many of libFuzzer's mutations (about 3
# in 10 in the first executions from an empty corpus) give a module diffed already.  They are
# diffed again all the same: skipping them would hide their coverage from libFuzzer, which
# then stops shortening corpus inputs (measured: fewer distinct modules per CPU second).
SEEN: dict = {}
SEEN_MAX = 1 << 14


PHASE_FILE = os.environ.get("ORACLE_PHASE_TIMES")
PHASES: dict | None = None  # when $ORACLE_PHASE_TIMES is set: seconds per phase


def _start_phase_times(path: str) -> dict:
    """Accumulate phase seconds (`oracle.diff.PHASE_TIMES` per engine, plus generation and the
    whole diff) and write them as JSON to `path` every second: libFuzzer ends the process
    with C `exit()`, so nothing written at exit would run."""
    # total: wall seconds in the loop; cpu: this process's CPU seconds in it (steadier than
    # wall time on a shared machine)
    phases = {"executions": 0, "total": 0.0, "cpu": 0.0, "diff": 0.0,
              "compile": {}, "determinism": {}, "run": {}, "stats": STATS}
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
    STATS["modules"] += 1
    key = hashlib.blake2b(wasm, digest_size=16).digest()
    if key in SEEN:
        STATS["repeated"] += 1
    else:
        SEEN[key] = None
        if len(SEEN) > SEEN_MAX:
            del SEEN[next(iter(SEEN))]
    engines, determinism = plan_for(wasm)
    opts = diff_options()
    if PHASES is None:
        r = run_diff(wasm, engines, determinism=determinism, **opts)
    else:
        t0 = time.perf_counter()
        r = run_diff(wasm, engines, determinism=determinism, **opts)
        PHASES["diff"] += time.perf_counter() - t0
    STATS["inconclusive"] += bool(r.inconclusive)
    reasons = STATS["inconclusive_reasons"]
    for reason in r.inconclusive:
        key = reason.split(":")[0][:60]
        reasons[key] = reasons.get(key, 0) + 1
    for f in r.findings:
        STATS["findings"] += 1
        extra = {k: v for k, v in opts.items() if v is not None and v is not False}
        crash = write_crash(wasm, r.plan, f.signature, kind=f.kind, identity=str(f.identity),
                            engines=[e if isinstance(e, str) else e.name for e in engines],
                            **extra)
        findings.record("differential", f.kind, f.signature, crash, detail=f.detail)
    return r.findings


apply_mutant_from_env()

# libFuzzer flags this target needs unless the user gives them (see the module docstring)
DEFAULT_FLAGS = ("-max_len=4096", "-len_control=0")


# the bytes past an input's end, up to TAIL_TO: a fixed pseudo-random stream (see the module
# docstring); the same for every input, so a mutation of the input changes only the choices
# it reaches
TAIL_TO = 4096
TAIL = hashlib.shake_256(b"fuzz_targets.differential tail").digest(TAIL_TO)


def module_for(data: bytes) -> bytes:
    """The module an input describes: the byte-driven generator reading the input, then the
    fixed tail from the input's length on (zeros past `TAIL_TO`)."""
    if len(data) < TAIL_TO:
        data = data + TAIL[len(data):]
    return generate(data)


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    if PHASES is None:
        check_module(module_for(data))
        return
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        check_module(module_for(data))
    finally:
        PHASES["total"] += time.perf_counter() - t0
        PHASES["cpu"] += time.process_time() - c0
        PHASES["executions"] += 1


def main(argv=None) -> None:
    global PHASES
    if PHASE_FILE:
        PHASES = _start_phase_times(PHASE_FILE)
    argv = list(argv or sys.argv)
    given = {a.split("=", 1)[0] for a in argv[1:]}
    argv += [f for f in DEFAULT_FLAGS if f.split("=", 1)[0] not in given]
    fuzz(TestOneInput, STATS, argv)


if __name__ == "__main__":
    main()
