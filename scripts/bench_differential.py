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
second of one process; executions per CPU second of the target's loop (its own CPU time) are
printed beside them, steadier when other processes compete for the cores.
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
        # a finding is recorded and the run goes on (a crash would end it early), and
        # libFuzzer's artifacts go to the temporary directory, not the checkout
        env = dict(os.environ, ORACLE_PHASE_TIMES=phase_file, ORACLE_FUZZ_KEEP_GOING="1",
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
                            "-print_final_stats=1", "-timeout=30",
                            f"-artifact_prefix={tmp}{os.sep}"],
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
           "exec_per_cpu_s_in_target": round(ph["executions"] / ph["cpu"], 2)
           if ph.get("cpu") else None,
           "load_average": [round(load0[0], 2), round(load1[0], 2)],
           # executions whose module was one of the last diffed (diffed again all the same)
           "repeated": ph.get("stats", {}).get("repeated"),
           "findings": ph.get("stats", {}).get("findings"),
           "phases_ms_per_exec": {k: round(1000 * s / n, 2) for k, s in rows},
           "engines_ms_per_exec": {e: {k: round(1000 * ph[k][e] / n, 2)
                                       for k in ("compile", "determinism", "run") if e in ph[k]}
                                   for e in sorted(set(ph["compile"]) | set(ph["run"]))}}
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"engines {out['engines']}: {execs} executions in {a.seconds} s = "
          f"{out['exec_per_s']} exec/s ({out['exec_per_s_in_target']} exec/s inside the "
          f"target's loop, {out['exec_per_cpu_s_in_target']} per CPU second there; wall "
          f"{wall:.0f} s; load average {load0[0]:.2f} -> {load1[0]:.2f})")
    if out["findings"]:
        print(f"  {out['findings']} finding(s) recorded on the way (the run went on)")
    if out["repeated"] is not None:
        fresh = ph["executions"] - out["repeated"]
        print(f"  {out['repeated']} of the {ph['executions']} timed executions repeated a "
              f"module diffed lately (diffed again; {fresh} distinct modules, "
              f"{fresh / ph['total']:.1f} per second)")
    tot = sum(s for _, s in rows) or 1.0
    for k, s in rows:
        print(f"  {k:<15} {1000 * s / n:8.2f} ms/exec  {100 * s / tot:5.1f} %")
    print("  per engine (ms/exec): " + "; ".join(
        f"{e} " + ", ".join(f"{k} {v}" for k, v in d.items())
        for e, d in out["engines_ms_per_exec"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
