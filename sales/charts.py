"""Server-drawn SVG charts of the sales dashboard: no chart library, no script, no CDN.

Texts from data (section names, hours) go through ``format_html``, which escapes them; the rest
of the markup is numbers, so the result can be put into the page as it is.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

SOLD, HELD, AWAITING, AVAILABLE = "#16a34a", "#f59e0b", "#8b5cf6", "#d1d5db"
LINE, BAR = "#1d4ed8", "#93c5fd"
SEGMENTS = [
    ("sold", "sold", SOLD),
    ("held", "held", HELD),
    ("awaiting_payment", "awaiting payment", AWAITING),
    ("available", "available", AVAILABLE),
]
RECT = '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>'


def _n(value: float) -> str:
    return f"{value:.1f}"


def _svg(width: int, height: int, label: str, body: str) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-label="{}" class="sales-chart">{}</svg>',
        width,
        height,
        label,
        mark_safe(body),  # noqa: S308 (built by format_html from numbers and escaped text)
    )


def _note(width: int, text: str) -> SafeString:
    return _svg(width, 40, text, format_html('<text x="10" y="25" font-size="14">{}</text>', text))


def sales_over_time(hourly: list[dict], width: int = 720, height: int = 240) -> SafeString:
    """Tickets sold per hour (bars) and tickets sold so far, net of cancellations (line)."""
    if not hourly:
        return _note(width, "No sales yet.")
    left, right, top, bottom = 48, 12, 18, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    per_hour = [h["tickets_sold"] for h in hourly]
    running, total = [], 0
    for h in hourly:
        total += h["tickets_sold"] - h["tickets_cancelled"]
        running.append(total)
    peak = max(*per_hour, *running, 1)
    step = plot_w / len(hourly)

    def y(value):
        return top + plot_h - value * plot_h / peak

    bars = format_html_join(
        "",
        RECT,
        (
            (_n(left + i * step + step * 0.15), _n(y(n)), _n(step * 0.7), _n(top + plot_h - y(n)),
             BAR, f"{h['hour']:%d %b %H}:00 UTC: {n} sold")
            for i, (h, n) in enumerate(zip(hourly, per_hour, strict=True))
        ),
    )  # fmt: skip
    points = " ".join(f"{_n(left + i * step + step / 2)},{_n(y(v))}" for i, v in enumerate(running))
    axes = format_html(
        '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#6b7280"/>'
        '<line x1="{l}" y1="{t}" x2="{l}" y2="{b}" stroke="#6b7280"/>'
        '<text x="{lt}" y="{ty}" font-size="11" text-anchor="end">{peak}</text>'
        '<text x="{lt}" y="{b}" font-size="11" text-anchor="end">0</text>'
        '<text x="{l}" y="{hy}" font-size="11">{first}</text>'
        '<text x="{r}" y="{hy}" font-size="11" text-anchor="end">{last}</text>',
        l=left, r=left + plot_w, t=top, b=top + plot_h, lt=left - 6, ty=top + 10,
        hy=top + plot_h + 16, peak=peak, first=f"{hourly[0]['hour']:%d %b %H}:00 UTC",
        last=f"{hourly[-1]['hour']:%d %b %H}:00 UTC",
    )  # fmt: skip
    line = format_html(
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"/>'
        '<text x="{}" y="{}" font-size="11" fill="{}">sold so far: {}</text>',
        points, LINE, left + 8, top - 4, LINE, running[-1],
    )  # fmt: skip
    return _svg(width, height, "Tickets sold over time", axes + bars + line)


def seats_by_section(sections: list[dict], width: int = 720) -> SafeString:
    """One bar per section: sold, held, awaiting payment and available seats."""
    if not sections:
        return _note(width, "General admission: no sections.")
    label_w, row_h, top = 160, 26, 30
    plot_w = width - label_w - 70
    height = top + row_h * len(sections) + 8
    legend = format_html_join(
        "",
        '<rect x="{}" y="6" width="12" height="12" fill="{}"/>'
        '<text x="{}" y="16" font-size="11">{}</text>',
        ((label_w + i * 120, colour, label_w + i * 120 + 16, name)
         for i, (_, name, colour) in enumerate(SEGMENTS)),
    )  # fmt: skip
    rows = []
    for i, section in enumerate(sections):
        capacity = max(section["capacity"], 1)
        y, x = top + i * row_h, float(label_w)
        parts = []
        for key, name, colour in SEGMENTS:
            w = section[key] * plot_w / capacity
            if w > 0:
                title = f"{section['name']}: {section[key]} {name}"
                parts.append(format_html(RECT, _n(x), y, _n(w), 18, colour, title))
            x += w
        rows.append(
            format_html(
                '<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>{}'
                '<text x="{}" y="{}" font-size="11">{}/{}</text>',
                label_w - 8,
                y + 14,
                section["name"],
                mark_safe("".join(parts)),  # noqa: S308
                label_w + plot_w + 6,
                y + 14,
                section["sold"],
                section["capacity"],
            )
        )
    return _svg(width, height, "Seats per section", legend + "".join(rows))
