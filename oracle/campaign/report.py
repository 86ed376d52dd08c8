"""A campaign's `summary.json` and the self-contained `report.html` (inline SVG plots, no
scripts, no network), from the time series that `oracle.campaign.live` samples."""

from __future__ import annotations

import glob
import html
import json
import os
import time

from oracle.campaign.live import read_rows
from oracle.campaign.plots import COLORS, clock, line_chart, timeline
from oracle.findings_store import atomic_write

def samples(rows: list, targets) -> list:
    """The time series as a list of samples (x, {target: values}), every target in every
    sample, each value carried from the last sample that had it: a target missing from a
    sample, a value that is None, or a counter read as lower (a worker's log not yet written at
    a chunk's start) never reads as a drop to 0.  `exec_per_s` is None (a gap, not 0) only
    where the sample says no worker of the target ran."""
    by_time: dict = {}
    for r in rows:
        by_time.setdefault(r["time"], {})[r["target"]] = r
    carry = {t: {} for t in targets}
    out = []
    for when in sorted(by_time):
        sample = by_time[when]
        x = max(r.get("elapsed", 0.0) for r in sample.values())
        vals = {}
        for t in targets:
            r, c = sample.get(t, {}), carry[t]
            for k in ("execs", "coverage", "findings"):  # counters: never decrease
                c[k] = max(c.get(k) or 0, r.get(k) or 0)
            c["coverage"] = c["coverage"] or None  # none reported yet: no line, not 0
            if r.get("corpus") is not None:
                c["corpus"] = r["corpus"]
            rate = r.get("exec_per_s")
            if r.get("workers") == 0:
                c["exec_per_s"] = None  # not scheduled: a gap in the line
            elif rate is not None and (rate > 0 or "workers" in r):
                c["exec_per_s"] = rate  # (old rows said 0 for "no status line yet")
            vals[t] = dict(c)
        out.append((x, vals))
    return out


def _stats(out: str) -> dict:
    """Sum of the workers' own counters (fuzz_targets STATS) per target."""
    agg: dict = {}
    for p in glob.glob(os.path.join(out, "stats", "*.json")):
        target = os.path.basename(p).rpartition("-")[0]
        try:
            with open(p) as f:
                d = json.load(f)
        except (OSError, ValueError):
            continue
        a = agg.setdefault(target, {})
        for k, v in d.items():
            if k == "seconds":
                continue
            if isinstance(v, dict):
                sub = a.setdefault(k, {})
                for kk, vv in v.items():
                    sub[kk] = sub.get(kk, 0) + vv
            elif isinstance(v, (int, float)):
                a[k] = a.get(k, 0) + v
    return agg


def _current_bucket(kind: str, reduced: str, out: str):
    """The regression candidate a reduced finding belongs to now (a later, smaller candidate
    may have replaced the one it was first put with)."""
    from oracle.campaign.reduce_one import place
    from oracle.crashfile import read_crash

    try:
        with open(reduced, "rb") as f:
            module = read_crash(f.read())[0]
        key, new, _ = place(kind, module, os.path.join(out, "regressions"))
    except (OSError, ValueError):
        return None
    return None if new else key


def summarize(out: str, state) -> dict:
    smp = samples(read_rows(out), state.options["targets"])
    per = smp[-1][1] if smp else {}
    stats = _stats(out)
    findings = []
    for p in sorted(glob.glob(os.path.join(out, "findings", "*.json"))):
        try:
            with open(p) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            continue
        h = meta["file"].split(".")[0]
        hits = 0
        try:
            with open(os.path.join(out, "findings", "hits.log")) as f:
                hits = sum(1 for line in f if line.startswith(h + " "))
        except OSError:
            pass
        parts = meta["signature"].split("|")
        red = dict(state.reduced.get(h, {}))
        if red.get("file") and os.path.exists(red["file"]):  # its candidate may have changed
            red["bucket"] = _current_bucket(parts[0], red["file"], out)
        findings.append({
            "signature": meta["signature"], "kind": meta["kind"], "target": meta["target"],
            "isa": parts[2] if len(parts) > 2 else "", "first_seen": meta["first_seen"],
            "hits": hits, "file": os.path.join("findings", meta["file"]),
            "reduced": red if "instructions_after" in red else None,
            "replay": _replay_command(os.path.join(out, "findings", meta["file"]),
                                      state.options.get("mutant"))
            if meta["file"].endswith(".wasm") else None})
    targets = {}
    for t in state.options["targets"]:
        secs = state.chunks.get(t, 0.0)
        r = per.get(t, {})
        corpus = os.path.join(out, "corpus", t)
        # exec_per_s: per second of this target's workers (one core each); _campaign: its
        # executions over the campaign's elapsed time (its share of the total)
        targets[t] = {"seconds": round(secs, 1), "execs": r.get("execs", 0),
                      "exec_per_s": round(r.get("execs", 0) / secs, 1) if secs else 0.0,
                      "exec_per_s_campaign": round(r.get("execs", 0) / state.elapsed, 1)
                      if state.elapsed else 0.0,
                      "coverage": r.get("coverage") or 0,
                      "corpus_files": len(os.listdir(corpus)) if os.path.isdir(corpus) else 0,
                      "counters": stats.get(t, {})}
    inconclusive = stats.get("differential", {}).get("inconclusive_reasons", {})
    from oracle.campaign.reduce_one import candidates

    regressions = [{"file": os.path.join("regressions", k + ".wasm"), "kind": kind,
                    "operators": sorted(ops),
                    "locate": (os.path.join("regressions", k + ".locate.txt")
                               if os.path.exists(os.path.join(out, "regressions",
                                                              k + ".locate.txt")) else None)}
                   for k, (kind, ops) in candidates(os.path.join(out, "regressions")).items()]
    return {"started": state.started, "elapsed_seconds": round(state.elapsed, 1),
            "options": state.options, "targets": targets,
            "throughput": throughput(targets, state.elapsed, state.options.get("jobs")),
            "findings": findings,
            "regressions": regressions,
            "inconclusive": inconclusive,
            "worker_deaths": [{"target": d[0], "returncode": d[1], "time": d[2],
                               "elapsed": d[3] if len(d) > 3 else None}
                              for d in state.deaths],
            "workers": list(getattr(state, "history", []) or []),
            "resumes": list(getattr(state, "resumes", []) or [])}


def throughput(targets: dict, elapsed: float, jobs) -> dict:
    """Executions of all targets: in total, per second of the campaign (all its workers
    together) and per core (per second of worker time: each worker is one process on one
    core, `jobs` of them at a time)."""
    execs = sum(d["execs"] for d in targets.values())
    worker_seconds = sum(d["seconds"] for d in targets.values())
    return {"execs": execs, "elapsed_seconds": round(elapsed, 1), "jobs": jobs,
            "worker_seconds": round(worker_seconds, 1),
            "exec_per_s": round(execs / elapsed, 1) if elapsed else 0.0,
            "exec_per_s_per_core": round(execs / worker_seconds, 1) if worker_seconds
            else 0.0,
            "cpus": os.cpu_count()}


def _replay_command(path: str, mutant: str | None) -> str:
    """The command that reproduces a finding: with the campaign's planted bug, if any (without
    it, replay would rightly say "fixed")."""
    import shlex

    return f"oracle replay {shlex.quote(path)}" + (f" --mutant {shlex.quote(mutant)}"
                                                   if mutant else "")


def _series(smp: list, key: str, targets) -> dict:
    return {t: [(x, v[t].get(key)) for x, v in smp] for t in targets}


def _total_rate(smp: list, targets) -> list:
    """Executions per second of all targets together at each sample (None where no target
    had a worker)."""
    out = []
    for x, v in smp:
        rates = [v[t].get("exec_per_s") for t in targets]
        out.append((x, None if all(r is None for r in rates) else sum(r or 0 for r in rates)))
    return out


def _events(state, smp: list) -> list:
    """Markers for the time axis: each worker killed, crashed or failed to start, and each
    resume of the campaign."""
    ev = [(w["end"], f"{w['target']} worker (pid {w.get('pid')}) {w['how']} at "
           f"{clock(w['end'])}", "killed")
          for w in getattr(state, "history", []) or []
          if w.get("end") is not None and w.get("how") and w["how"] != "chunk done"]
    if not getattr(state, "history", None):  # a campaign from before worker history
        for d in state.deaths:
            x = d[3] if len(d) > 3 else _elapsed_at(smp, d[2])
            ev.append((x, f"{d[0]} worker died with status {d[1]}", "killed"))
    ev += [(x, f"campaign resumed at {clock(x)}", "resumed")
           for x in getattr(state, "resumes", []) or []]
    return ev


def _elapsed_at(smp: list, wall: float) -> float:
    """Campaign seconds at wall-clock time `wall` (the last sample taken before it)."""
    best = 0.0
    for x, _ in smp:
        best = x
        if x >= wall:
            break
    return best


def plots(out: str, state) -> str:
    """The report's charts: findings and corpus size beside executions per second and
    coverage, each over campaign time, and the worker timeline."""
    targets = list(state.options["targets"])
    colors = {t: COLORS[i % len(COLORS)] for i, t in enumerate(targets)}
    smp = samples(read_rows(out), targets)
    x_hi = max([x for x, _ in smp] + [state.elapsed])
    ev = _events(state, smp)
    found = _series(smp, "findings", targets)
    total = [(x, sum(v[t]["findings"] for t in targets)) for x, v in smp]
    colors["all targets"] = "#555"
    charts = [
        line_chart("Findings over time", "unique findings (signatures)",
                   {"all targets": total, **found}, colors, step=True, events=ev, x_hi=x_hi,
                   dashed=("all targets",), integer=True),
        line_chart("Executions per second", "executions / s (log scale)",
                   {"all targets": _total_rate(smp, targets),
                    **_series(smp, "exec_per_s", targets)}, colors, log=True, events=ev,
                   x_hi=x_hi, dashed=("all targets",)),
        line_chart("Corpus size over time", "corpus inputs (files)",
                   _series(smp, "corpus", targets), colors, events=ev, x_hi=x_hi,
                   integer=True),
        line_chart("Coverage over time", "coverage (libFuzzer cov: edges)",
                   _series(smp, "coverage", targets), colors, step=True, events=ev,
                   x_hi=x_hi),
    ]
    workers = getattr(state, "history", []) or []
    return ('<div class="plots">' + "".join(charts) + "</div>"
            + '<p class="note">&#x2715; (dashed red): a worker killed, crashed or failed to '
            'start; &#x21bb; (dashed grey): the campaign resumed after a kill. Executions per '
            'second break where a target had no worker (jobs &lt; targets: targets take turns '
            'in chunks of at most 60 s).</p>'
            + timeline("Workers", workers, targets, colors, x_hi))


def write_reports(out: str, state) -> dict:
    s = summarize(out, state)
    atomic_write(os.path.join(out, "summary.json"), json.dumps(s, indent=1).encode())
    esc = html.escape
    rows = "".join(
        f"<tr><td><code>{esc(f['signature'])}</code></td><td>{esc(f['kind'])}</td>"
        f"<td>{esc(f['isa'])}</td><td>{time.strftime('%H:%M:%S', time.localtime(f['first_seen']))}"
        f"</td><td>{f['hits']}</td><td>"
        + (f"{f['reduced']['instructions_before']} &rarr; {f['reduced']['instructions_after']}"
           if f["reduced"] else "&ndash;")
        + f"</td><td>{esc((f['reduced'] or {}).get('bucket') or '')}</td>"
        + f"<td><code>{esc(f['replay'] or f['file'])}</code></td></tr>"
        for f in s["findings"]) or '<tr><td colspan="8">no findings</td></tr>'
    rrows = "".join(f"<tr><td><code>{esc(r['file'])}</code></td><td>{esc(r['kind'])}</td>"
                    f"<td>{esc(' '.join(r['operators']))}</td><td>"
                    + (f"<a href=\"{esc(r['locate'])}\">{esc(_first_line(out, r['locate']))}</a>"
                       if r.get("locate") else "&ndash;")
                    + "</td></tr>"
                    for r in s["regressions"]) or '<tr><td colspan="4">none</td></tr>'
    trows = "".join(
        f"<tr><td>{esc(t)}</td><td>{d['seconds']}</td><td>{d['execs']}</td>"
        f"<td>{d['exec_per_s']}</td><td>{d.get('exec_per_s_campaign', '')}</td>"
        f"<td>{d['coverage']}</td><td>{d['corpus_files']}</td></tr>"
        for t, d in s["targets"].items())
    tp = s["throughput"]
    trows += (f"<tr><th>all targets</th><th>{tp['worker_seconds']}</th><th>{tp['execs']}</th>"
              f"<th>{tp['exec_per_s_per_core']}</th><th>{tp['exec_per_s']}</th><th></th>"
              "<th></th></tr>")
    wrows = "".join(
        f"<tr><td>{esc(w['target'])}</td><td>{w.get('pid')}</td><td>{clock(w['start'])}</td>"
        f"<td>{clock(w['end'])}</td><td>{esc(w['how'])}</td>"
        f"<td><code>{esc(os.path.relpath(w['log'], out))}</code></td></tr>"
        for w in s["workers"] if w.get("end") is not None and w.get("how") != "chunk done") \
        or '<tr><td colspan="6">none: every worker ran its chunk to the end</td></tr>'
    resumed = f"; resumed {len(s['resumes'])} time(s) after a kill" if s["resumes"] else ""
    irows = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>"
                    for k, v in sorted(s["inconclusive"].items())) or \
        '<tr><td colspan="2">none</td></tr>'
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oracle campaign report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;
margin-bottom:1.5em}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
figure{{display:inline-block;margin:0 1em 1em 0}}figcaption{{font-weight:bold}}</style></head>
<body><h1>oracle campaign</h1>
<p>{s['elapsed_seconds']:.0f} s, {state.options['jobs']} jobs, targets
{esc(', '.join(state.options['targets']))}, ISAs {esc(', '.join(state.options['isas']))}
{('(mutant ' + esc(state.options['mutant']) + ')') if state.options.get('mutant') else ''}
{('(NaN canonicalization ' + ('on)' if state.options['canonicalize_nans'] else 'off)'))
  if 'canonicalize_nans' in state.options else ''};
{len(s['findings'])} finding(s); {len(s['worker_deaths'])} worker(s) killed or crashed{resumed}.</p>
<h2>Findings</h2><table><tr><th>signature</th><th>kind</th><th>ISA</th><th>first seen</th>
<th>hits</th><th>reduced (instructions)</th><th>candidate</th><th>replay</th></tr>{rows}
</table>
<h2>Regression candidates</h2><p>One per bug: a finding whose reduced module holds all the
operators of a candidate is that candidate's duplicate.</p><table><tr><th>file
</th><th>kind</th><th>operators besides plumbing</th><th>oracle locate</th></tr>{rrows}</table>
<h2>Targets</h2><p>{tp['exec_per_s']} executions per second in total with {tp['jobs']}
job(s) ({tp['exec_per_s_per_core']} per core: per second of worker time; {tp['cpus']} CPUs
here). Seconds are worker seconds; exec/s per core counts a target's executions per second of
its own workers, exec/s in the campaign per second of the whole campaign.</p>
<table><tr><th>target</th><th>seconds</th><th>executions</th><th>exec/s per core</th>
<th>exec/s in the campaign</th><th>coverage</th><th>corpus files</th></tr>{trows}</table>
<h2>Over time</h2>{plots(out, state)}
<h2>Workers that did not end normally</h2><table><tr><th>target</th><th>pid</th>
<th>started</th><th>ended</th><th>how</th><th>log</th></tr>{wrows}</table>
<h2>Inconclusive (differential)</h2><table><tr><th>reason</th><th>count</th></tr>{irows}</table>
</body></html>"""
    atomic_write(os.path.join(out, "report.html"), page.encode())
    return s


def _first_line(out: str, rel: str) -> str:
    """The line of an `oracle locate` report that names the instruction (or its verdict)."""
    try:
        with open(os.path.join(out, rel), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return "(unreadable)"
    for ln in lines:
        if ln.startswith("first wrong instruction:"):
            return ln[len("first wrong instruction:"):].strip()
    return lines[0][:120] if lines else "(empty)"
