"""Live statistics of a running campaign: what the workers have done so far, sampled every
few seconds into `DIR/timeseries.jsonl`, and the progress line built from it.

Where the numbers come from, per worker (`DIR/logs/<target>-<n>.log`):
- libFuzzer's status lines (`#N  NEW  cov: C ft: F corp: K/...b ... exec/s: E`): it prints one
  when coverage grows and at powers of two of N, so after the first minute they are rare; the
  last one still gives the current coverage (it changes only with a NEW line);
- the target's own counters, `DIR/stats/<target>-<n>.json`, rewritten every 2 s while it runs
  (`inputs` or `modules`, and `seconds`): the live execution count and rate (a target without
  a stats file: the exec/s of its last status line, libFuzzer's average since its start);
- `stat::number_of_executed_units: N` when it ends normally (exact final count).

Invariants of the time series (one row per target per sample, every target every time):
`execs`, `coverage` and `findings` never decrease; `corpus` is the file count of the target's
corpus directory; `exec_per_s` is None when no worker of the target runs (not scheduled:
jobs < targets) and, while a worker of the target runs but has not reported yet (a chunk's
start-up), the target's last rate: a chunk boundary never reads as a drop to 0.
"""

from __future__ import annotations

import glob
import json
import os
import re
import time

from oracle.campaign.plots import clock

_LINE = re.compile(rb"#(\d+)\s+\w+\s+cov: (\d+)(?:.*?corp: (\d+))?.*?exec/s: (\d+)")
_DONE = re.compile(rb"stat::number_of_executed_units:\s+(\d+)")
COUNTERS = ("inputs", "modules")  # a target's count of executed inputs in its stats file


def log_status(path: str):
    """(execs, coverage, corpus or None, exec/s) from the last libFuzzer status line of a
    worker log (execs from the final `stat::` line if the worker ended), or None."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 32768))
            tail = f.read()
    except OSError:
        return None
    found = _LINE.findall(tail)
    if not found:
        return None
    n, cov, corp, eps = found[-1]
    done = _DONE.findall(tail)
    execs = max(int(n), int(done[-1]) if done else 0)
    return execs, int(cov), int(corp) if corp else None, int(eps)


def _stats_count(path: str):
    """(executions, seconds) from a worker's stats file, or None."""
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        return None
    for k in COUNTERS:
        if isinstance(d.get(k), int):
            return d[k], float(d.get("seconds", 0.0))
    return None


def _worker_name(log: str):
    """(target, seq) of `<target>-<seq>.log`, or None (merge logs)."""
    target, _, seq = os.path.basename(log)[:-4].rpartition("-")
    return (target, seq) if seq.isdigit() and target else None


class Sampler:
    """Reads every worker's log and stats file (a finished worker's only once more after it
    ended) and appends one row per target to `DIR/timeseries.jsonl` per `sample()`."""

    def __init__(self, out: str, targets):
        self.out, self.targets = out, tuple(targets)
        self.path = os.path.join(out, "timeseries.jsonl")
        self.workers: dict = {}  # log path -> per-worker record
        self.findings: dict = {}  # finding .json name -> target
        self.last: dict = {}  # target -> last row written
        for row in read_rows(out):  # a resumed campaign carries on from its last values
            self.last[row["target"]] = row

    def _worker(self, log: str, target: str, running: bool) -> dict:
        w = self.workers.get(log)
        if w is None:
            w = self.workers[log] = {"target": target, "execs": 0, "coverage": 0,
                                     "rate": None, "frozen": False,
                                     "count": None, "stats": os.path.join(
                                         self.out, "stats", os.path.basename(log)[:-4] + ".json")}
        if w["frozen"]:
            return w
        st = log_status(log)
        if st is not None:
            w["execs"] = max(w["execs"], st[0])
            w["coverage"] = max(w["coverage"], st[1])
        c = _stats_count(w["stats"])
        if c is not None:
            w["execs"] = max(w["execs"], c[0])
            prev, w["count"] = w["count"], c
            if prev is not None and c[1] > prev[1] and c[0] >= prev[0]:
                w["rate"] = (c[0] - prev[0]) / (c[1] - prev[1])
        elif st is not None and st[3]:
            w["rate"] = float(st[3])  # no stats file (assemble): libFuzzer's own average
        w["frozen"] = not running
        return w

    def _finding_counts(self) -> dict:
        d = os.path.join(self.out, "findings")
        try:
            names = os.listdir(d)
        except OSError:
            names = []
        for name in names:
            if name.endswith(".json") and name not in self.findings:
                try:
                    with open(os.path.join(d, name)) as f:
                        self.findings[name] = json.load(f).get("target", "")
                except (OSError, ValueError):
                    continue  # not yet complete: next time
        counts: dict = {}
        for t in self.findings.values():
            counts[t] = counts.get(t, 0) + 1
        return counts

    def sample(self, elapsed: float, running_logs=()) -> dict:
        """Read the workers (those in `running_logs` still run), append a row per target;
        returns {target: row}."""
        running = set(running_logs)
        per: dict = {t: {"execs": 0, "coverage": 0, "workers": 0, "rates": []}
                     for t in self.targets}
        for log in sorted(glob.glob(os.path.join(self.out, "logs", "*-*.log"))):
            name = _worker_name(log)
            if name is None or name[0] not in per:
                continue
            w = self._worker(log, name[0], log in running)
            p = per[name[0]]
            p["execs"] += w["execs"]
            p["coverage"] = max(p["coverage"], w["coverage"])
            if log in running:
                p["workers"] += 1
                if w["rate"] is not None:
                    p["rates"].append(w["rate"])
        found = self._finding_counts()
        now = time.time()
        rows = {}
        for t, p in per.items():
            last = self.last.get(t, {})
            if not p["workers"]:
                rate = None
            elif p["rates"]:
                rate = round(sum(p["rates"]), 1)
            else:  # a chunk starting up: carry the target's last rate
                rate = last.get("exec_per_s")
            rows[t] = {"time": now, "elapsed": round(elapsed, 1), "target": t,
                       "workers": p["workers"],
                       "execs": max(p["execs"], last.get("execs", 0)),
                       "exec_per_s": rate,
                       "coverage": max(p["coverage"], last.get("coverage") or 0),
                       "corpus": _count_files(os.path.join(self.out, "corpus", t)),
                       "findings": max(found.get(t, 0), last.get("findings", 0))}
        with open(self.path, "a") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows.values()))
        self.last.update(rows)
        return rows


def _count_files(d: str) -> int:
    try:
        return sum(1 for n in os.listdir(d) if not n.startswith("."))
    except OSError:
        return 0


def read_rows(out: str) -> list:
    """The time series' rows in order (a line cut by a kill is skipped)."""
    rows = []
    try:
        with open(os.path.join(out, "timeseries.jsonl")) as f:
            for line in f:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if isinstance(d, dict) and "target" in d and "time" in d:
                    rows.append(d)
    except OSError:
        pass
    return rows


def progress_line(rows: dict, elapsed: float, total: float, workers: int, note: str = "") -> str:
    """One line: elapsed of budget, findings, exec/s, coverage, corpus; then per target."""
    def num(v):
        return "-" if v is None else f"{v:.0f}" if isinstance(v, float) else str(v)

    tot_rate = sum(r["exec_per_s"] or 0 for r in rows.values())
    parts = [f"{t} {num(r['exec_per_s'])}/s cov {r['coverage']} corpus {r['corpus']}"
             for t, r in rows.items()]
    return (f"[campaign {clock(elapsed)}/{clock(total)}] "
            f"findings {sum(r['findings'] for r in rows.values())}, "
            f"{tot_rate:.0f} exec/s, cov {sum(r['coverage'] for r in rows.values())}, "
            f"corpus {sum(r['corpus'] for r in rows.values())}, workers {workers}"
            + (f", {note}" if note else "") + " (" + "; ".join(parts) + ")")
