"""The campaign's live statistics and its report, on synthetic histories (no fuzzing): series
carried over chunk boundaries, titled plots with axes and units, killed workers marked, the
progress line, and the report rendered in headless Chromium."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from oracle.campaign import plots
from oracle.campaign.live import Sampler, progress_line
from oracle.campaign.report import samples, write_reports
from oracle.campaign.runner import State

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["differential", "validate"]


def _rows():
    """Two minutes of a campaign with one job: differential runs two 60 s chunks back to
    back (a new worker process from 60.5 s on, which reports nothing for its first seconds),
    then validate takes over at 120 s.  Samples every 3 s."""
    rows = []
    for i in range(0, 51):
        t = 3.0 * i
        if t < 120:
            boundary = 60 <= t < 68  # the second worker starting up
            d = {"workers": 1, "execs": int(20 * t) if not boundary else 300,
                 "exec_per_s": None if boundary else 20.0,
                 "coverage": 0 if boundary else 900 + int(t),
                 "corpus": None if boundary else 100 + int(t // 10),
                 "findings": 0 if t < 30 else 2 if not boundary else 0}
            v = {"workers": 0, "execs": 0, "exec_per_s": None, "coverage": 0, "corpus": 8,
                 "findings": 0}
        else:
            d = {"workers": 0, "execs": 2400, "exec_per_s": None, "coverage": 1020,
                 "corpus": 112, "findings": 2}
            v = {"workers": 1, "execs": int(5000 * (t - 120)), "exec_per_s": 5000.0,
                 "coverage": 600, "corpus": 8 + int(t - 120), "findings": 0}
        for target, r in (("differential", d), ("validate", v)):
            if target == "differential" and t == 63:
                continue  # a sample that missed the target entirely
            rows.append({"time": 1000.0 + t, "elapsed": t, "target": target, **r})
    return rows


def _campaign(tmp_path, history=(), resumes=(), deaths=()):
    out = tmp_path / "c"
    for d in ("findings", "regressions", "logs", "stats", "corpus"):
        (out / d).mkdir(parents=True)
    (out / "timeseries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    state = State(options={"minutes": 2.5, "jobs": 1, "targets": TARGETS, "isas": ["x64"],
                           "out": str(out), "mutant": None, "reduce_seconds": 60.0},
                  started=1000.0, elapsed=150.0,
                  chunks={"differential": 120.0, "validate": 30.0},
                  history=list(history), resumes=list(resumes), deaths=list(deaths))
    return out, state


def _figures(page: str) -> dict:
    """{title: svg text} of the report's charts."""
    return {m.group(1): m.group(0) for m in
            re.finditer(r'<svg[^>]*aria-label="([^"]+)".*?</svg>', page, re.S)}


def _x(seconds: float, x_hi: float = 150.0) -> float:
    """Where `seconds` lies on a chart's x axis."""
    return plots.LEFT + seconds / x_hi * (plots.W - plots.LEFT - plots.RIGHT)


def _polylines(svg: str, color: str) -> list:
    return [[tuple(map(float, p.split(","))) for p in m.group(1).split()]
            for m in re.finditer(rf'<polyline[^>]*stroke="{color}"[^>]*points="([^"]+)"', svg)]


def test_series_carry_the_last_value_over_a_chunk_boundary():
    smp = samples(_rows(), TARGETS)
    xs = [x for x, _ in smp]
    assert 63.0 in xs  # the sample without a differential row is still a sample
    for x, v in smp:
        d = v["differential"]
        if x < 120:  # running, across the boundary at 60 s: no drop to 0 anywhere
            assert d["exec_per_s"] == 20.0, (x, d)
            assert d["coverage"] >= 900 and d["corpus"] >= 100, (x, d)
            assert d["findings"] == (0 if x < 30 else 2), (x, d)
        else:  # its chunks are over: no line (a gap), counters held
            assert d["exec_per_s"] is None and d["coverage"] == 1020 and d["findings"] == 2
        if x < 120:
            assert v["validate"]["exec_per_s"] is None  # not scheduled yet
            assert v["validate"]["coverage"] is None  # nothing reported: no line, not 0
    old = [{k: v for k, v in r.items() if k != "workers"} for r in _rows()]
    for r in old:  # the rows of old campaigns said 0 for "no status line yet"
        if r["exec_per_s"] is None and r["target"] == "differential" and r["elapsed"] < 120:
            r["exec_per_s"] = 0.0
    assert all(v["differential"]["exec_per_s"] == 20.0
               for x, v in samples(old, TARGETS) if 3 <= x < 120)


def test_report_has_titled_plots_with_axes_units_and_unbroken_lines(tmp_path):
    out, state = _campaign(tmp_path)
    write_reports(str(out), state)
    figs = _figures((out / "report.html").read_text())
    units = {"Findings over time": "unique findings (signatures)",
             "Executions per second": "executions / s",
             "Corpus size over time": "corpus inputs (files)",
             "Coverage over time": "coverage (libFuzzer cov: edges)"}
    assert set(units) | {"Workers"} <= set(figs), list(figs)
    blue = plots.COLORS[0]  # differential's colour
    for title, y_label in units.items():
        svg = figs[title]
        assert f'font-weight="bold">{title}</text>' in svg  # the title, drawn
        assert "elapsed campaign time (min:s)" in svg and y_label in svg
        assert ">differential</text>" in svg and ">validate</text>" in svg  # legend
        ticks = re.findall(r'text-anchor="middle" font-size="11">(\d+:\d\d)</text>', svg)
        assert ticks[:3] == ["0:00", "0:30", "1:00"] and ticks[-1] == "2:30", ticks
        y_ticks = re.findall(r'text-anchor="end" font-size="11">([^<]+)</text>', svg)
        assert len(y_ticks) >= 3, (title, y_ticks)
        lines = _polylines(svg, blue)
        assert len(lines) == 1, (title, len(lines))  # one unbroken line, boundary included
        xs = [x for x, _ in lines[0]]
        assert min(xs) <= _x(3) + 0.1 and max(xs) >= _x(117) - 0.1, title
        # from 30 s on (the first findings) differential's line never touches the x axis
        baseline = plots.H - plots.BOTTOM
        assert all(y < baseline for x, y in lines[0] if x > _x(31)), title
    assert "(log scale)" in figs["Executions per second"]
    for tick in ("\u22641", "10", "100", "1k", "10k"):  # decades (0 is drawn at the bottom)
        assert f'text-anchor="end" font-size="11">{tick}</text>' in figs["Executions per second"]


def test_executions_per_second_per_target_in_total_and_per_core(tmp_path):
    """Two jobs for 150 s, each target's workers 150 s in all: summary.json and the report
    give each target's rate per core (per second of its workers) and in the campaign, and
    the total, per campaign second and per core; the rate chart draws the total too."""
    out, state = _campaign(tmp_path)
    state.options["jobs"] = 2
    state.chunks = {"differential": 150.0, "validate": 150.0}
    s = write_reports(str(out), state)
    d, v = s["targets"]["differential"], s["targets"]["validate"]
    assert (d["execs"], d["exec_per_s"], d["exec_per_s_campaign"]) == (2400, 16.0, 16.0)
    assert (v["execs"], v["exec_per_s"], v["exec_per_s_campaign"]) == (150000, 1000.0, 1000.0)
    tp = s["throughput"]
    assert (tp["execs"], tp["worker_seconds"], tp["jobs"]) == (152400, 300.0, 2)
    assert tp["exec_per_s"] == 1016.0 and tp["exec_per_s_per_core"] == 508.0
    assert json.loads((out / "summary.json").read_text())["throughput"] == tp
    page = (out / "report.html").read_text()
    assert "1016.0 executions per second in total with 2\njob(s) (508.0 per core" in page
    table = page.split("<h2>Targets</h2>")[1].split("</table>")[0]
    assert "<th>all targets</th><th>300.0</th><th>152400</th><th>508.0</th><th>1016.0</th>" \
        in table
    svg = _figures(page)["Executions per second"]
    total = _polylines(svg, "#555")
    assert ">all targets</text>" in svg and len(total) == 1
    # from 123 s on, validate's 5000/s alone: the total line lies on validate's
    red = _polylines(svg, plots.COLORS[1])[0]
    assert [p for p in total[0] if p[0] >= _x(123)] == [p for p in red if p[0] >= _x(123)]


def test_killed_and_restarted_workers_show_in_the_report(tmp_path):
    history = [
        {"target": "differential", "pid": 11, "log": "x/logs/differential-1.log", "start": 0.0,
         "end": 45.0, "rc": -9, "how": "killed (SIGKILL)"},
        {"target": "differential", "pid": 12, "log": "x/logs/differential-2.log",
         "start": 45.5, "end": 120.0, "rc": 0, "how": "chunk done"},
        {"target": "validate", "pid": 13, "log": "x/logs/validate-3.log", "start": 120.0,
         "end": None, "rc": None, "how": None},
    ]
    out, state = _campaign(tmp_path, history=history, resumes=[80.0],
                           deaths=[["differential", -9, 1045.0, 45.0]])
    s = write_reports(str(out), state)
    page = (out / "report.html").read_text()
    assert s["worker_deaths"] == [{"target": "differential", "returncode": -9,
                                   "time": 1045.0, "elapsed": 45.0}]
    assert [w["pid"] for w in s["workers"]] == [11, 12, 13] and s["resumes"] == [80.0]
    # listed: the killed worker, not the one that ran its chunk to the end
    table = page.split("Workers that did not end normally")[1].split("</table>")[0]
    assert "killed (SIGKILL)" in table and "0:45" in table and "differential-1.log" in table
    assert "chunk done" not in table and ">12<" not in table
    figs = _figures(page)
    x45 = _x(45)
    for title in ("Findings over time", "Executions per second", "Corpus size over time",
                  "Coverage over time"):  # marked on every time axis, with what happened
        svg = figs[title]
        assert f'<line x1="{x45:.1f}" y1="{plots.TOP}" x2="{x45:.1f}"' in svg, title
        assert "differential worker (pid 11) killed (SIGKILL) at 0:45" in svg
        assert "campaign resumed at 1:20" in svg
    timeline = figs["Workers"]
    assert timeline.count("<rect") == 3 and "&#x2715;</text>" in timeline
    assert "differential pid 11: 0:00-0:45, killed (SIGKILL)" in timeline


def test_sampler_reads_running_workers_and_carries_over_a_chunk_start(tmp_path):
    out = tmp_path / "c"
    for d in ("logs", "stats", "findings", "corpus/differential", "corpus/validate"):
        (out / d).mkdir(parents=True)
    for i in range(5):
        (out / "corpus" / "differential" / f"in{i}").write_bytes(b"x")
    log1 = out / "logs" / "differential-1.log"
    log1.write_text("INFO: Seed: 1\n#2\tINITED cov: 410 ft: 410 corp: 1/1b exec/s: 0 rss: 9Mb\n"
                    "#64\tNEW    cov: 905 ft: 999 corp: 5/9b lim: 4 exec/s: 21 rss: 9Mb\n")
    stats1 = out / "stats" / "differential-1.json"
    stats1.write_text(json.dumps({"modules": 100, "seconds": 4.0}))
    s = Sampler(str(out), TARGETS)
    r = s.sample(4.0, [str(log1)])
    assert r["differential"]["execs"] == 100 and r["differential"]["coverage"] == 905
    assert r["differential"]["corpus"] == 5 and r["differential"]["workers"] == 1
    assert r["validate"]["exec_per_s"] is None and r["validate"]["workers"] == 0
    stats1.write_text(json.dumps({"modules": 160, "seconds": 7.0}))  # live: no new log line
    r = s.sample(7.0, [str(log1)])
    assert r["differential"]["exec_per_s"] == 20.0 and r["differential"]["execs"] == 160
    # the chunk ends (libFuzzer's final count), the next worker has not said anything yet
    with log1.open("a") as f:
        f.write("#170\tDONE   cov: 905 ft: 999 corp: 5/9b lim: 4 exec/s: 21 rss: 9Mb\n"
                "stat::number_of_executed_units: 170\n")
    log2 = out / "logs" / "differential-2.log"
    log2.write_text("INFO: Instrumenting winch\n")
    (out / "findings" / "abc.json").write_text(json.dumps({"target": "differential"}))
    r = s.sample(8.0, [str(log2)])
    d = r["differential"]
    assert d["exec_per_s"] == 20.0 and d["coverage"] == 905 and d["execs"] == 170
    assert d["findings"] == 1
    rows = [json.loads(line) for line in (out / "timeseries.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {r["target"] for r in rows} == set(TARGETS)
    line = progress_line(r, 8.0, 120.0, 1)
    assert line.startswith("[campaign 0:08/2:00] findings 1, 20 exec/s, cov 905, corpus 5")
    assert "differential 20/s cov 905 corpus 5" in line and "validate -/s" in line


def _png_size(path: Path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_screenshot_in_headless_chromium(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import screenshot_report
    finally:
        sys.path.pop(0)
    if screenshot_report.browser() is None:
        pytest.skip("chromium not installed (apt-get install chromium; ./dev.sh installs it): "
                    "the report's screenshot test needs headless Chromium")
    history = [{"target": "differential", "pid": 11, "log": "l/differential-1.log",
                "start": 0.0, "end": 45.0, "rc": -9, "how": "killed (SIGKILL)"}]
    out, state = _campaign(tmp_path, history=history)
    write_reports(str(out), state)
    png = tmp_path / "report.png"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot_report.py"),
                        str(out / "report.html"), str(png), "2200"],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert _png_size(png) == (1280, 2200)
    # four charts and a timeline of lines and text: far more than a blank or broken page
    assert png.stat().st_size > 60_000, png.stat().st_size


def test_regression_candidates_link_their_locate_report(tmp_path):
    # the campaign's reduce step writes `oracle locate`'s report beside each new candidate
    # (reduce_one.locate_into); the report links it with the instruction it names
    import wasmtime

    from oracle.campaign.reduce_one import locate_into
    from oracle.crashfile import write_crash
    from oracle.diff import run_diff
    from oracle.mutants import applied

    out, state = _campaign(tmp_path)
    wasm = wasmtime.wat2wasm((ROOT / "tests/wat/mutants/sub-is-add.wat").read_text())
    with applied("sub-is-add"):
        r = run_diff(wasm, ["wasmtime", "winch-x64"], determinism="none")
        reg = out / "regressions" / "abc.wasm"
        reg.write_bytes(write_crash(wasm, r.plan, r.findings[0].signature))
        locate_into(str(reg), str(out / "regressions" / "abc.locate.txt"))
    text = (out / "regressions" / "abc.locate.txt").read_text()
    assert "first wrong instruction" in text and "i32.sub" in text
    s = write_reports(str(out), state)
    assert s["regressions"][0]["locate"] == "regressions/abc.locate.txt"
    page = (out / "report.html").read_text()
    assert '<a href="regressions/abc.locate.txt">' in page and "i32.sub" in page
