"""Inline SVG charts for the campaign report: line charts with a title, labelled axes with
ticks and units, a legend and event markers (workers killed, campaign resumed), and a worker
timeline.  No scripts, no network: the report stays one self-contained file.

A series is a list of (x, y) points, x in campaign seconds; y None is a gap (the line is
broken there, never drawn down to 0).
"""

from __future__ import annotations

import html
import math

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
W, H = 580, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 18, 56, 50  # plot area margins
MAX_POINTS = 800  # per series; longer series are thinned (every k-th point, and the last)


def clock(seconds: float) -> str:
    s = int(round(max(0.0, seconds)))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def si(v: float) -> str:
    """A tick label: 950, 1.5k, 20k, 3M."""
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            t = f"{v / div:.1f}".rstrip("0").rstrip(".")
            return t + suffix
    return f"{v:.2f}".rstrip("0").rstrip(".") if a < 10 and v != int(v) else f"{v:.0f}"


def nice_ticks(hi: float, n: int = 5, integer: bool = False) -> list:
    """0 and multiples of 1, 2, 2.5 or 5 x 10^k up to at least `hi` (about n of them);
    `integer`: steps of at least 1 (counts)."""
    hi = max(hi, 1e-9)
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1, math.ceil(step))
    count = math.ceil(hi / step - 1e-9)
    return [i * step for i in range(count + 1)]


def time_ticks(hi: float) -> list:
    """Ticks in seconds at round clock values (10 s, 30 s, 1 min, 5 min, ...)."""
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400,
                 21600, 43200, 86400):
        if hi / step <= 7:
            break
    return [i * step for i in range(int(hi // step) + 1)]


def _thin(pts: list) -> list:
    if len(pts) <= MAX_POINTS:
        return pts
    k = math.ceil(len(pts) / MAX_POINTS)
    return pts[::k] + ([pts[-1]] if (len(pts) - 1) % k else [])


def _frame(title: str, y_label: str, x_hi: float, y_ticks: list, y_pos, y_text,
           legend: list) -> list:
    """Title, legend, grid, axes, tick labels and axis labels."""
    esc = html.escape
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    out = [f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14" '
           f'font-weight="bold">{esc(title)}</text>']
    x = LEFT
    for name, color in legend:
        out.append(f'<rect x="{x}" y="29" width="14" height="4" fill="{color}"/>'
                   f'<text x="{x + 18}" y="35" font-size="11">{esc(name)}</text>')
        x += 26 + 7 * len(name)
    for v in y_ticks:
        y = y_pos(v)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" '
                   f'stroke="#e5e5e5"/><line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" '
                   f'y2="{y:.1f}" stroke="#333"/><text x="{LEFT - 7}" y="{y + 4:.1f}" '
                   f'text-anchor="end" font-size="11">{esc(y_text(v))}</text>')
    for v in time_ticks(x_hi):
        x = LEFT + v / x_hi * pw
        out.append(f'<line x1="{x:.1f}" y1="{TOP + ph}" x2="{x:.1f}" y2="{TOP + ph + 4}" '
                   f'stroke="#333"/><text x="{x:.1f}" y="{TOP + ph + 17}" '
                   f'text-anchor="middle" font-size="11">{clock(v)}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + ph}" x2="{LEFT + pw}" y2="{TOP + ph}" '
               f'stroke="#333"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}" '
               f'stroke="#333"/>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 8}" text-anchor="middle" font-size="12">'
               f'elapsed campaign time (min:s)</text>')
    out.append(f'<text transform="translate(15 {TOP + ph / 2}) rotate(-90)" '
               f'text-anchor="middle" font-size="12">{esc(y_label)}</text>')
    return out


def _events(events, x_of, ph: float) -> list:
    """Vertical markers: (x, label, kind) with kind "killed" (red) or "resumed" (grey)."""
    out = []
    for x, label, kind in events:
        c = "#c00" if kind == "killed" else "#777"
        px = x_of(x)
        out.append(f'<g><title>{html.escape(label)}</title><line x1="{px:.1f}" y1="{TOP}" '
                   f'x2="{px:.1f}" y2="{TOP + ph}" stroke="{c}" stroke-dasharray="4 3"/>'
                   f'<text x="{px:.1f}" y="{TOP - 4}" text-anchor="middle" font-size="12" '
                   f'fill="{c}">{"&#x2715;" if kind == "killed" else "&#x21bb;"}</text></g>')
    return out


def line_chart(title: str, y_label: str, series: dict, colors: dict, *, log: bool = False,
               step: bool = False, events=(), x_hi: float | None = None, dashed=(),
               integer: bool = False) -> str:
    """`series`: name -> [(x, y or None)], drawn in order (the first underneath); `log`: a
    log10 y axis (targets differ 1000x in speed); `step`: hold each value until the next
    point (counts that jump); `dashed`: names drawn dashed (a total); `integer`: y ticks
    at whole numbers."""
    pts = [(x, y) for ps in series.values() for x, y in ps]
    ys = [y for _, y in pts if y is not None]
    x_hi = max(x_hi or 0.0, max((x for x, _ in pts), default=0.0), 10.0)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    if log:
        top = max([y for y in ys if y > 0], default=1.0)
        hi_exp = max(1, math.ceil(math.log10(max(top, 1.0)) - 1e-9))
        ticks = [10.0 ** e for e in range(hi_exp + 1)]

        def y_pos(v):
            return TOP + ph - math.log10(max(v, 1.0)) / hi_exp * ph
    else:
        ticks = nice_ticks(max(ys, default=1.0) or 1.0, integer=integer)

        def y_pos(v):
            return TOP + ph - v / ticks[-1] * ph

    def x_of(x):
        return LEFT + x / x_hi * pw

    legend = [(name, colors.get(name, "#000")) for name in series]
    # on a log axis 0 (a worker stuck on a slow input) is drawn at the bottom: "at most 1"
    body = _frame(title, y_label, x_hi, ticks, y_pos,
                  (lambda v: "\u22641" if v == 1 else si(v)) if log else si, legend)
    for name, ps in series.items():
        runs, cur = [], []
        for x, y in _thin(sorted(ps)):
            if y is None:
                if cur:
                    runs.append(cur)
                cur = []
                continue
            if step and cur:
                cur.append(f"{x_of(x):.1f},{cur[-1].split(',')[1]}")
            cur.append(f"{x_of(x):.1f},{y_pos(y):.1f}")
        if cur:
            runs.append(cur)
        for run in runs:
            if len(run) == 1:
                x, y = run[0].split(",")
                body.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{colors.get(name)}"/>')
            else:
                dash = ' stroke-dasharray="6 3"' if name in dashed else ""
                body.append(f'<polyline fill="none" stroke="{colors.get(name, "#000")}" '
                            f'stroke-width="2"{dash} points="{" ".join(run)}"/>')
    if not ys:
        body.append(f'<text x="{LEFT + pw / 2}" y="{TOP + ph / 2}" text-anchor="middle" '
                    f'fill="#777">no data yet</text>')
    body += _events(events, x_of, ph)
    return _svg(title, body)


def timeline(title: str, workers: list, targets, colors: dict, x_hi: float) -> str:
    """One lane per target, one bar per worker (start to end); a worker that did not end
    normally gets a red cross at its end, with how it ended as the hover text."""
    esc = html.escape
    targets = list(targets)
    x_hi = max(x_hi, 10.0)
    pw = W - LEFT - RIGHT
    lane = 22
    h = TOP + lane * len(targets) + BOTTOM
    out = [f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14" '
           f'font-weight="bold">{esc(title)}</text>',
           f'<text x="{LEFT}" y="35" font-size="11">bar: a worker process (one chunk); '
           f'<tspan fill="#c00">&#x2715;</tspan> killed, crashed or failed to start</text>']

    def x_of(x):
        return LEFT + min(x, x_hi) / x_hi * pw

    for i, t in enumerate(targets):
        y = TOP + i * lane
        out.append(f'<text x="{LEFT - 7}" y="{y + lane / 2 + 4}" text-anchor="end" '
                   f'font-size="11">{esc(t)}</text>')
        for w in workers:
            if w["target"] != t:
                continue
            x0, x1 = x_of(w["start"]), x_of(w["end"] if w["end"] is not None else x_hi)
            how = w.get("how") or "running"
            tip = (f"{t} pid {w.get('pid')}: {clock(w['start'])}-"
                   f"{clock(w['end']) if w['end'] is not None else 'end'}, {how}")
            out.append(f'<g><title>{esc(tip)}</title><rect x="{x0:.1f}" y="{y + 4}" '
                       f'width="{max(1.5, x1 - x0 - 1):.1f}" height="{lane - 8}" '
                       f'fill="{colors.get(t, "#888")}" opacity="0.75"/>')
            if w.get("rc") not in (None, 0) or how.startswith("killed"):
                out.append(f'<text x="{x1:.1f}" y="{y + lane / 2 + 5}" text-anchor="middle" '
                           f'font-size="14" font-weight="bold" fill="#c00">&#x2715;</text>')
            out.append("</g>")
    base = TOP + lane * len(targets)
    for v in time_ticks(x_hi):
        x = x_of(v)
        out.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" '
                   f'stroke="#333"/><text x="{x:.1f}" y="{base + 17}" text-anchor="middle" '
                   f'font-size="11">{clock(v)}</text>')
    out.append(f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + pw}" y2="{base}" stroke="#333"/>'
               f'<text x="{LEFT + pw / 2}" y="{h - 8}" text-anchor="middle" font-size="12">'
               f'elapsed campaign time (min:s)</text>')
    return _svg(title, out, h)


def _svg(title: str, body: list, h: int = H) -> str:
    t = html.escape(title)
    return (f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" '
            f'viewBox="0 0 {W} {h}" role="img" aria-label="{t}" font-family="sans-serif">'
            f'<title>{t}</title>{"".join(body)}</svg></figure>')
