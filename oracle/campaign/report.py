"""A campaign's time series, `summary.json` and the self-contained `report.html` (inline SVG
plots, no scripts, no network)."""

from __future__ import annotations

import glob
import html
import json
import os
import re
import time

from fuzz_targets.findings import atomic_write

_LINE = re.compile(rb"#(\d+)\s+\w+\s+cov: (\d+)(?:.*?corp: (\d+))?.*?exec/s: (\d+)")


def _log_status(path: str):
    """(execs, coverage, exec/s) from the last libFuzzer status line of a worker log."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 16384))
            tail = f.read()
    except OSError:
        return None
    found = _LINE.findall(tail)
    if not found:
        return None
    n, cov, _, eps = found[-1]
    return int(n), int(cov), int(eps)


def _per_target(out: str) -> dict:
    res = {}
    for log in glob.glob(os.path.join(out, "logs", "*-*.log")):
        name = os.path.basename(log)[:-4]
        target, _, seq = name.rpartition("-")
        if not seq.isdigit():
            continue
        st = _log_status(log)
        if st is None:
            continue
        r = res.setdefault(target, {"execs": 0, "coverage": 0, "workers": 0})
        r["execs"] += st[0]
        r["coverage"] = max(r["coverage"], st[1])
        r["workers"] += 1
    return res


def sample_timeseries(out: str, state) -> None:
    per = _per_target(out)
    path = os.path.join(out, "timeseries.jsonl")
    prev = {}
    try:
        with open(path) as f:
            for line in f:
                d = json.loads(line)
                prev[d["target"]] = d
    except (OSError, ValueError):
        pass
    now = time.time()
    with open(path, "a") as f:
        for t, r in sorted(per.items()):
            p = prev.get(t)
            rate = 0.0
            if p and now > p["time"] and r["execs"] >= p["execs"]:
                rate = (r["execs"] - p["execs"]) / (now - p["time"])
            f.write(json.dumps({"time": now, "elapsed": round(state.elapsed, 1), "target": t,
                                "execs": r["execs"], "coverage": r["coverage"],
                                "exec_per_s": round(rate, 1)}) + "\n")


def _series(out: str) -> dict:
    s = {}
    try:
        with open(os.path.join(out, "timeseries.jsonl")) as f:
            for line in f:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue  # a line cut by a kill
                s.setdefault(d["target"], []).append(d)
    except OSError:
        pass
    return s


def latest_rates(out: str) -> dict:
    return {t: pts[-1] for t, pts in _series(out).items() if pts}


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
    per = _per_target(out)
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
            "replay": f"oracle replay {os.path.join(out, 'findings', meta['file'])}"
            if meta["file"].endswith(".wasm") else None})
    targets = {}
    for t in state.options["targets"]:
        secs = state.chunks.get(t, 0.0)
        r = per.get(t, {})
        corpus = os.path.join(out, "corpus", t)
        targets[t] = {"seconds": round(secs, 1), "execs": r.get("execs", 0),
                      "exec_per_s": round(r.get("execs", 0) / secs, 1) if secs else 0.0,
                      "coverage": r.get("coverage", 0),
                      "corpus_files": len(os.listdir(corpus)) if os.path.isdir(corpus) else 0,
                      "counters": stats.get(t, {})}
    inconclusive = stats.get("differential", {}).get("inconclusive_reasons", {})
    from oracle.campaign.reduce_one import candidates

    regressions = [{"file": os.path.join("regressions", k + ".wasm"), "kind": kind,
                    "operators": sorted(ops)}
                   for k, (kind, ops) in candidates(os.path.join(out, "regressions")).items()]
    return {"started": state.started, "elapsed_seconds": round(state.elapsed, 1),
            "options": state.options, "targets": targets, "findings": findings,
            "regressions": regressions,
            "inconclusive": inconclusive,
            "worker_deaths": [{"target": t, "returncode": rc, "time": ts}
                              for t, rc, ts in state.deaths]}


def _svg(series: dict, key: str, title: str, log: bool = False) -> str:
    """A line chart per target; `log`: a log10 y axis (targets differ by 100x in speed)."""
    import math

    w, h, pad = 560, 220, 40
    pts = [p for ps in series.values() for p in ps]
    if not pts:
        return f"<p>{html.escape(title)}: no data</p>"
    f = (lambda v: math.log10(1 + v)) if log else (lambda v: v)
    series = {t: [dict(p, **{key: f(p[key])}) for p in ps] for t, ps in series.items()}
    pts = [p for ps in series.values() for p in ps]
    x0 = min(p["time"] for p in pts)
    xmax = max(1.0, max(p["time"] for p in pts) - x0)
    ymax = max(1.0, max(p[key] for p in pts))
    top = (10 ** ymax - 1) if log else ymax
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    lines, legend = [], []
    for i, (t, ps) in enumerate(sorted(series.items())):
        c = colors[i % len(colors)]
        xy = " ".join(f"{pad + (p['time'] - x0) / xmax * (w - 2 * pad):.1f},"
                      f"{h - pad - p[key] / ymax * (h - 2 * pad):.1f}" for p in ps)
        lines.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{xy}"/>')
        legend.append(f'<text x="{pad + 110 * i}" y="{h - 8}" fill="{c}" font-size="12">'
                      f'{html.escape(t)}</text>')
    axes = (f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#333"/>'
            f'<text x="{pad}" y="{pad - 8}" font-size="12">{top:.0f}{" (log scale)" if log else ""}</text>'
            f'<text x="{w - pad - 40}" y="{h - pad + 14}" font-size="12">{xmax:.0f}s</text>')
    return (f'<figure><figcaption>{html.escape(title)}</figcaption><svg xmlns="http://www.w3.org/'
            f'2000/svg" width="{w}" height="{h}" role="img" aria-label="{html.escape(title)}">'
            f'{axes}{"".join(lines)}{"".join(legend)}</svg></figure>')


def write_reports(out: str, state) -> dict:
    s = summarize(out, state)
    atomic_write(os.path.join(out, "summary.json"), json.dumps(s, indent=1).encode())
    series = _series(out)
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
                    f"<td>{esc(' '.join(r['operators']))}</td></tr>"
                    for r in s["regressions"]) or '<tr><td colspan="3">none</td></tr>'
    trows = "".join(
        f"<tr><td>{esc(t)}</td><td>{d['seconds']}</td><td>{d['execs']}</td>"
        f"<td>{d['exec_per_s']}</td><td>{d['coverage']}</td><td>{d['corpus_files']}</td></tr>"
        for t, d in s["targets"].items())
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
{('(mutant ' + esc(state.options['mutant']) + ')') if state.options.get('mutant') else ''};
{len(s['findings'])} finding(s); {len(s['worker_deaths'])} worker(s) died.</p>
<h2>Findings</h2><table><tr><th>signature</th><th>kind</th><th>ISA</th><th>first seen</th>
<th>hits</th><th>reduced (instructions)</th><th>candidate</th><th>replay</th></tr>{rows}
</table>
<h2>Regression candidates</h2><p>One per bug: a finding whose reduced module holds all the
operators of a candidate is that candidate's duplicate.</p><table><tr><th>file
</th><th>kind</th><th>operators besides plumbing</th></tr>{rrows}</table>
<h2>Targets</h2><table><tr><th>target</th><th>seconds</th><th>executions</th><th>exec/s</th>
<th>coverage</th><th>corpus files</th></tr>{trows}</table>
<h2>Over time</h2>{_svg(series, 'exec_per_s', 'executions per second', log=True)}
{_svg(series, 'coverage', 'coverage (libFuzzer features)')}
<h2>Inconclusive (differential)</h2><table><tr><th>reason</th><th>count</th></tr>{irows}</table>
</body></html>"""
    atomic_write(os.path.join(out, "report.html"), page.encode())
    return s
