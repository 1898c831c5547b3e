"""The HTML report's charts, as inline SVG written here.

Inline SVG needs no script, no library and no request: the page stays one file that works
offline and prints as drawn. Each chart is an `<svg role="img">` with a `<title>` and a `<desc>`
that states its figures in words (the text alternative screen readers read), axes with ticks
and units, and a legend. Every text from a case or a pack is escaped here, since the page
template inserts the SVG as it is.
"""
from __future__ import annotations

import math
from html import escape

WIDTH = 720
LABEL = 190            # room for row labels on the left
RIGHT = 110            # room for values on the right
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
COLOURS = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#d97706", "low": "#2563eb",
           "info": "#6b7280", "strength": "#15803d", "prior": "#9ca3af", "up": "#15803d",
           "down": "#b91c1c", "band0": "#bbf7d0", "band1": "#fef08a", "band2": "#fed7aa",
           "band3": "#fecaca"}


def number(value: float, digits: int = 3) -> str:
    """12345.6 -> "12,346"; 2.345 -> "2.35"; 0.5 -> "0.5"."""
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    text = f"{value:,.{digits}g}"
    return text if "e" not in text else f"{value:,.2f}"


def ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top`."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [round(i * step, 10) for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def _short(text: str, size: int = 28) -> str:
    return text if len(text) <= size else text[: size - 1] + "\u2026"


def _svg(chart_id: str, height: int, title: str, desc: str, body: list[str],
         css_class: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" id="{chart_id}" '
            f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
            f'<title id="{chart_id}-title">{escape(title)}</title>'
            f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>")


def _x_axis(scale, top_value: float, y: int, unit: str, values: list[float]) -> list[str]:
    out = [f'<g class="axis" aria-hidden="true"><line x1="{LABEL}" y1="{y}" '
           f'x2="{WIDTH - RIGHT}" y2="{y}" />']
    for v in values:
        x = scale(v)
        out.append(f'<line class="grid" x1="{x:.1f}" y1="28" x2="{x:.1f}" y2="{y}" />'
                   f'<text x="{x:.1f}" y="{y + 16}" text-anchor="middle">{number(v)}</text>')
    out.append(f'<text class="unit" x="{(LABEL + WIDTH - RIGHT) / 2:.0f}" y="{y + 34}" '
               f'text-anchor="middle">{escape(unit)}</text></g>')
    return out


def _legend(items: list[tuple[str, str]], y: int = 14) -> list[str]:
    out = ['<g class="legend">']
    x = LABEL
    for label, colour in items:
        out.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{colour}" />'
                   f'<text x="{x + 17}" y="{y + 1}">{escape(label)}</text>')
        x += 30 + 7 * len(label)
    return out + ["</g>"]


def change_chart(chart_id: str, title: str, bars, currency: str, unit: str,
                 inflation: float | None) -> str:
    """Each bar's proposal against last year's amount in this year's prices."""
    rows = len(bars)
    height = 40 + rows * 30 + 48
    top = max([b.amount for b in bars] + [b.prior_real or 0 for b in bars] + [0])
    marks = ticks(top)
    span = marks[-1] or 1

    def scale(v: float) -> float:
        return LABEL + (WIDTH - LABEL - RIGHT) * v / span

    prices = ("last year in this year's prices" if inflation is not None
              else "last year (no inflation stated: nominal)")
    body = _legend([(prices, COLOURS["prior"]), ("this year, rising", COLOURS["up"]),
                    ("this year, falling", COLOURS["down"])])
    body += _x_axis(scale, span, 40 + rows * 30, f"{unit} {currency}", marks)
    words = []
    for i, bar in enumerate(bars):
        y = 36 + i * 30
        change = bar.real_change_pct
        falling = change is not None and change < 0
        colour = COLOURS["down" if falling else "up"]
        label = escape(_short(bar.label))
        body.append(f'<g class="row"><title>{escape(bar.label)}</title>'
                    f'<text class="label" x="{LABEL - 8}" y="{y + 14}" text-anchor="end">'
                    f'{label}</text>')
        if bar.prior_real is not None:
            body.append(f'<rect class="bar prior" x="{LABEL}" y="{y + 2}" height="10" '
                        f'width="{max(scale(bar.prior_real) - LABEL, 0.5):.1f}" '
                        f'fill="{COLOURS["prior"]}" />')
        body.append(f'<rect class="bar" x="{LABEL}" y="{y + 13}" height="10" '
                    f'width="{max(scale(bar.amount) - LABEL, 0.5):.1f}" fill="{colour}" />')
        shown = "new" if bar.prior_real is None else (
            "n/a" if change is None else f"{change:+.1f}%")
        body.append(f'<text class="value" x="{scale(max(bar.amount, bar.prior_real or 0)) + 6:.1f}"'
                    f' y="{y + 22}">{number(bar.amount)} ({shown})</text></g>')
        words.append(f"{bar.label}: {number(bar.amount)}" + (
            f" against {number(bar.prior_real)} ({shown} in real terms)"
            if bar.prior_real is not None else " (no prior stated)"))
    desc = (f"Horizontal bars, in {unit} {currency}: this year's amount of each against "
            f"{prices}. " + "; ".join(words) + ".")
    return _svg(chart_id, height, title, desc, body, "change-chart")


def findings_chart(chart_id: str, title: str, rows: list[tuple[str, dict[str, int]]]) -> str:
    """Stacked bars: per concern, its risks at each severity and its strengths."""
    keys = SEVERITY_ORDER + ("strength",)
    height = 40 + len(rows) * 26 + 48
    top = max([sum(c.values()) for _, c in rows] + [1])
    marks = ticks(top, min(5, int(top)) or 1)
    marks = [m for m in marks if float(m).is_integer()] or [0, 1]
    span = marks[-1] or 1

    def scale(v: float) -> float:
        return LABEL + (WIDTH - LABEL - RIGHT) * v / span

    body = _legend([(k, COLOURS[k]) for k in keys])
    body += _x_axis(scale, span, 40 + len(rows) * 26, "number of findings", marks)
    words = []
    for i, (concern, counts) in enumerate(rows):
        y = 38 + i * 26
        body.append(f'<g class="row"><text class="label" x="{LABEL - 8}" y="{y + 13}" '
                    f'text-anchor="end">{escape(_short(concern.replace("_", " ")))}</text>')
        x = LABEL
        parts = []
        for key in keys:
            n = counts.get(key, 0)
            if not n:
                continue
            w = scale(n) - LABEL
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="18" '
                        f'fill="{COLOURS[key]}"><title>{escape(concern)}: {n} {key}'
                        f'</title></rect>')
            x += w
            parts.append(f"{n} {key}")
        body.append(f'<text class="value" x="{x + 6:.1f}" y="{y + 13}">'
                    f'{sum(counts.values())}</text></g>')
        words.append(f"{concern.replace('_', ' ')}: {', '.join(parts)}")
    desc = "Findings by concern, stacked by severity. " + "; ".join(words) + "."
    return _svg(chart_id, height, title, desc, body, "findings-chart")


def benchmark_chart(chart_id: str, title: str, benchmarks) -> str:
    """Each benchmark on its own scale: its value against its guideline or bands."""
    row = 62
    height = 16 + row * len(benchmarks)
    body: list[str] = []
    words = []
    for i, b in enumerate(benchmarks):
        y = 16 + i * row
        body.append(f'<g class="row"><text class="label" x="{LABEL - 8}" y="{y + 14}" '
                    f'text-anchor="end">{escape(_short(b.label, 26))}</text>'
                    f'<text class="unit" x="{LABEL - 8}" y="{y + 28}" text-anchor="end">'
                    f'{b.better} is better</text>')
        if b.value is None:
            body.append(f'<text class="missing" x="{LABEL}" y="{y + 18}">not stated in the '
                        f'case</text></g>')
            words.append(f"{b.label}: not stated")
            continue
        edges = list(b.bands) + ([b.guideline] if b.guideline is not None else [])
        marks = ticks(max([b.value] + edges + [0.1]) * 1.15, 5)
        span = marks[-1]

        def scale(v: float, span=span) -> float:
            return LABEL + (WIDTH - LABEL - RIGHT) * v / span

        if b.bands:
            starts = [0.0] + list(b.bands)
            ends = list(b.bands) + [span]
            for k, (lo, hi) in enumerate(zip(starts, ends)):
                body.append(f'<rect class="band" x="{scale(lo):.1f}" y="{y + 6}" '
                            f'width="{max(scale(hi) - scale(lo), 0):.1f}" height="18" '
                            f'fill="{COLOURS[f"band{min(k, 3)}"]}" />')
        else:
            body.append(f'<rect class="band" x="{LABEL}" y="{y + 6}" '
                        f'width="{WIDTH - LABEL - RIGHT}" height="18" fill="#f3f4f6" />')
        if b.guideline is not None:
            gx = scale(b.guideline)
            body.append(f'<line class="guideline" x1="{gx:.1f}" y1="{y + 2}" x2="{gx:.1f}" '
                        f'y2="{y + 28}" /><text class="guide-label" x="{gx:.1f}" y="{y}" '
                        f'text-anchor="middle">guideline {number(b.guideline)}%</text>')
        vx = scale(b.value)
        body.append(f'<circle class="marker" cx="{vx:.1f}" cy="{y + 15}" r="6" />'
                    f'<text class="value" x="{WIDTH - RIGHT + 22}" y="{y + 19}">'
                    f'{number(b.value)}%</text>')
        body.append(f'<g class="axis" aria-hidden="true"><line x1="{LABEL}" y1="{y + 26}" '
                    f'x2="{WIDTH - RIGHT}" y2="{y + 26}" />')
        for m in marks:
            body.append(f'<text x="{scale(m):.1f}" y="{y + 39}" text-anchor="middle">'
                        f'{number(m)}</text>')
        body.append(f'<text class="unit" x="{WIDTH - RIGHT + 22}" y="{y + 34}">'
                    f'{escape(b.unit)}</text></g></g>')
        if b.guideline is not None:
            side = "above" if b.value >= b.guideline else "below"
            words.append(f"{b.label}: {number(b.value)}{b.unit[0]} ({b.unit}), {side} the "
                         f"guideline of {number(b.guideline)}%")
        elif b.bands:
            band = sum(b.value > edge for edge in b.bands) + 1
            words.append(f"{b.label}: {number(b.value)}% ({b.unit}), in band {band} of "
                         f"{len(b.bands) + 1} (edges at "
                         f"{', '.join(number(e) + '%' for e in b.bands)}; lower is better)")
        else:
            words.append(f"{b.label}: {number(b.value)}% ({b.unit})")
    desc = "Benchmarks of the case against the loaded packs' guidelines. " + "; ".join(words) \
        + "."
    return _svg(chart_id, height, title, desc, body, "benchmark-chart")


def heat_map(chart_id: str, title: str, cases: list[tuple[str, str, str]],
             concerns: list[str], cells: dict[tuple[str, str], tuple[str, int]]) -> str:
    """Cases (rows, worst first; each (key, label, link)) against concerns (columns): each
    cell coloured by the worst severity of its findings, with their number."""
    cell_w = max(34, min(60, (WIDTH - LABEL - 20) // max(len(concerns), 1)))
    head = 150
    width = max(LABEL + cell_w * len(concerns) + 120, 620)
    height = head + 28 * len(cases) + 10
    body = _legend([(k, COLOURS[k]) for k in SEVERITY_ORDER + ("strength",)])
    for j, concern in enumerate(concerns):
        x = LABEL + j * cell_w + cell_w / 2
        body.append(f'<text class="col-label" transform="translate({x:.1f},{head - 8}) '
                    f'rotate(-40)">{escape(_short(concern.replace("_", " "), 24))}</text>')
    words = []
    for i, (key, label, link) in enumerate(cases):
        y = head + i * 28
        body.append(f'<a href="{escape(link)}"><text class="label link" x="{LABEL - 8}" '
                    f'y="{y + 18}" text-anchor="end">{escape(_short(label, 26))}</text></a>')
        found = []
        for j, concern in enumerate(concerns):
            x = LABEL + j * cell_w
            worst, count = cells.get((key, concern), (None, 0))
            fill = COLOURS[worst] if worst else "#f3f4f6"
            body.append(f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="26" '
                        f'fill="{fill}"><title>{escape(label)}, {escape(concern)}: '
                        f'{count} finding{"s" * (count != 1)}'
                        f'{f" (worst: {worst})" if worst else ""}</title></rect>')
            if count:
                body.append(f'<text class="count" x="{x + cell_w / 2:.1f}" y="{y + 18}" '
                            f'text-anchor="middle">{count}</text>')
                found.append(f"{concern.replace('_', ' ')} {count} ({worst})")
        words.append(f"{label}: " + (", ".join(found) or "no findings"))
    desc = ("Cases (rows, worst first) against concerns (columns); each cell's colour is the "
            "worst severity of its findings and its number their count. " + "; ".join(words)
            + ".")
    svg = _svg(chart_id, height, title, desc, body, "heat-map")
    return svg.replace(f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}"',
                       f'viewBox="0 0 {width} {height}" width="{width}"', 1)
