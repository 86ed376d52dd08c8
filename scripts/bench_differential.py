#!/usr/bin/env python3
"""Throughput of the real differential fuzz target, with its per-phase breakdown.

    python scripts/bench_differential.py [--engines wasmtime,winch-x64] [--seconds 60]
                                         [--seed 1] [--determinism-every N] [--winch-every N]

Runs `python -m fuzz_targets.differential` (atheris, instrumentation included) from an empty
corpus with a fixed seed for `--seconds`, with $ORACLE_PHASE_TIMES set so the target
accumulates the seconds of each phase, then prints executions per second and the breakdown:
generation (hypothesis building the module), our compiles, the determinism re-compile,
Unicorn (our engines' instantiate and calls), wasmtime (Cranelift), wasmtime-winch, other.
The machine's load average is printed too: on a shared machine the figures are per wall
second of one process, not per CPU second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def breakdown(ph: dict) -> list:
    """[(phase, seconds)] from the target's phase file."""
    def total(kind, pred):
        return sum(v for k, v in ph.get(kind, {}).items() if pred(k))

    ours = lambda k: k.startswith("winch-")  # noqa: E731
    rows = [
        ("generation", ph["total"] - ph["diff"]),
        ("our compiles", total("compile", ours)),
        ("determinism", total("determinism", ours)),
        ("Unicorn", total("run", ours)),
        ("wasmtime", total("compile", lambda k: k == "wasmtime")
         + total("run", lambda k: k == "wasmtime")),
        ("wasmtime-winch", total("compile", lambda k: k == "wasmtime-winch")
         + total("run", lambda k: k == "wasmtime-winch")),
    ]
    rows.append(("other", ph["total"] - sum(s for _, s in rows)))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="", help="comma-separated (default: the target's)")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--determinism-every", type=int, default=None,
                    help="sets $ORACLE_DETERMINISM_EVERY (default: the target's, 16)")
    ap.add_argument("--winch-every", type=int, default=None,
                    help="sets $ORACLE_WINCH_EVERY (default: the target's, 4)")
    ap.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    a = ap.parse_args(argv)
    if a.seconds < 1:
        print("bench_differential: --seconds must be at least 1", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        corpus = os.path.join(tmp, "corpus")
        os.mkdir(corpus)
        phase_file = os.path.join(tmp, "phases.json")
        env = dict(os.environ, ORACLE_PHASE_TIMES=phase_file,
                   ORACLE_FINDINGS_DIR=os.path.join(tmp, "findings"))
        env.pop("ORACLE_MUTANT", None)
        if a.engines:
            env["ORACLE_ENGINES"] = a.engines
        if a.determinism_every is not None:
            env["ORACLE_DETERMINISM_EVERY"] = str(a.determinism_every)
        if a.winch_every is not None:
            env["ORACLE_WINCH_EVERY"] = str(a.winch_every)
        load0 = os.getloadavg()
        start = time.time()
        p = subprocess.run([sys.executable, "-m", "fuzz_targets.differential", corpus,
                            f"-seed={a.seed}", f"-max_total_time={a.seconds}",
                            "-print_final_stats=1", "-timeout=30"],
                           cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.time() - start
        load1 = os.getloadavg()
        execs = None
        for line in p.stderr.splitlines():
            if line.startswith("stat::number_of_executed_units:"):
                execs = int(line.split(":")[-1])
        try:
            with open(phase_file) as f:
                ph = json.load(f)
        except (OSError, ValueError):
            ph = None
        if execs is None or ph is None:
            print("bench_differential: the target produced no figures; its last lines:\n"
                  + "\n".join(p.stderr.splitlines()[-15:]), file=sys.stderr)
            return 1
    rows = breakdown(ph)
    n = max(ph["executions"], 1)
    out = {"engines": a.engines or "default", "seconds": a.seconds, "executions": execs,
           "exec_per_s": round(execs / a.seconds, 2),
           "exec_per_s_in_target": round(ph["executions"] / ph["total"], 2) if ph["total"]
           else 0.0,
           "load_average": [round(load0[0], 2), round(load1[0], 2)],
           "phases_ms_per_exec": {k: round(1000 * s / n, 2) for k, s in rows}}
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"engines {out['engines']}: {execs} executions in {a.seconds} s = "
          f"{out['exec_per_s']} exec/s ({out['exec_per_s_in_target']} exec/s inside the "
          f"target's loop; wall {wall:.0f} s; load average {load0[0]:.2f} -> {load1[0]:.2f})")
    tot = sum(s for _, s in rows) or 1.0
    for k, s in rows:
        print(f"  {k:<15} {1000 * s / n:8.2f} ms/exec  {100 * s / tot:5.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
