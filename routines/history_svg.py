"""The developmental-history timeline as a server-side SVG chart (pure: no database, no Flask).

Two series per developmental period, bottom to top of the page's reading order: risk
(the summed weight of the adversities recorded for the period) and relational buffers
(how connected and supported the child was). Every value is also printed as text and the
two series differ in shape (solid against hatched bars), so the chart reads without colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 720
HEIGHT = 340
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 56, 78
RISK_FILL = "#a23b2a"
BUFFER_FILL = "#2f5d62"
INK = "#1d2430"
MUTED = "#5b6575"
GRID = "#d9dee6"
BUFFER_MAX = 3  # "strong"


@dataclass(frozen=True)
class PeriodPoint:
    """One period on the timeline. ``risk`` is None when no adversity was recorded (or, for
    "current", when adversity does not apply); ``buffer`` is None when relational health
    was not recorded."""

    period: str
    label: str
    short_label: str
    ages: str
    risk: int | None
    buffer: int | None
    buffer_level: str | None
    adversities: int = 0
    estimated: int = 0
    worst: str | None = None


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _tick_step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 50):
        if top / step <= 8:
            return step
    return 100


def summary(points: Sequence[PeriodPoint]) -> str:
    """A sentence per period, for <desc> and screen readers."""
    parts = []
    for p in points:
        risk = "risk not recorded" if p.risk is None else f"risk {p.risk}"
        if p.period == "current":
            risk = ""
        buffer = (
            "buffers not recorded"
            if p.buffer is None
            else f"buffers {p.buffer_level} ({p.buffer} of {BUFFER_MAX})"
        )
        parts.append(f"{p.short_label}: " + ", ".join(x for x in (risk, buffer) if x) + ".")
    return " ".join(parts)


def render_timeline(
    points: Sequence[PeriodPoint], *, title: str, id_prefix: str = "history-chart"
) -> str:
    """The chart as an SVG string; every piece of text in it is escaped."""
    risks = [p.risk for p in points if p.risk is not None]
    y_max = max([BUFFER_MAX, *risks])
    step = _tick_step(y_max)
    y_max = -(-y_max // step) * step
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    base_y = TOP + plot_h

    def y_of(value: int) -> float:
        return base_y - plot_h * value / y_max

    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{_e(title_id)} {_e(desc_id)}" '
        f'font-family="system-ui, sans-serif" font-size="13" class="chart">',
        f'<title id="{_e(title_id)}">{_e(title)}</title>',
        f'<desc id="{_e(desc_id)}">Risk is the sum of adversity severity weights in a '
        f"period (mild 1, moderate 2, severe 3); relational buffers run from none (0) to "
        f"strong (3). {_e(summary(points))}</desc>",
        "<defs>",
        f'<pattern id="{_e(id_prefix)}-hatch" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#ffffff"/>'
        f'<rect width="3" height="6" fill="{BUFFER_FILL}"/></pattern>',
        "</defs>",
    ]
    hatch = f"url(#{_e(id_prefix)}-hatch)"

    # Legend, top left: a solid box for risk, a hatched box for buffers.
    out.append('<g class="legend">')
    out.append(f'<rect x="{LEFT}" y="12" width="14" height="14" fill="{RISK_FILL}"/>')
    out.append(
        f'<text x="{LEFT + 20}" y="24" fill="{INK}">Risk (adversity severity, summed)</text>'
    )
    out.append(
        f'<rect x="{LEFT + 270}" y="12" width="14" height="14" fill="{hatch}" '
        f'stroke="{BUFFER_FILL}"/>'
    )
    out.append(
        f'<text x="{LEFT + 290}" y="24" fill="{INK}">Relational buffers (0 none – 3 strong)</text>'
    )
    out.append("</g>")

    # Axis and grid.
    out.append('<g class="axis">')
    for value in range(0, y_max + 1, step):
        y = _fmt(y_of(value))
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="{GRID}"/>')
        out.append(
            f'<text x="{LEFT - 8}" y="{_fmt(y_of(value) + 4)}" text-anchor="end" '
            f'fill="{MUTED}">{value}</text>'
        )
    out.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base_y}" y2="{base_y}" stroke="{INK}"/>'
    )
    out.append("</g>")

    if not points:
        out.append("</svg>")
        return "".join(out)

    group_w = plot_w / len(points)
    bar_w = min(30.0, group_w / 3)
    for index, p in enumerate(points):
        centre = LEFT + group_w * (index + 0.5)
        out.append(f'<g class="period" data-period="{_e(p.period)}">')
        series = (
            ("Risk", p.risk, RISK_FILL, centre - bar_w - 2, "not recorded"),
            ("Buffers", p.buffer, hatch, centre + 2, "not recorded"),
        )
        for name, value, fill, x, missing in series:
            if p.period == "current" and name == "Risk":
                missing = "n/a"
            text_x = _fmt(x + bar_w / 2)
            if value is None:
                out.append(
                    f'<text x="{text_x}" y="{base_y - 6}" text-anchor="middle" '
                    f'font-size="11" fill="{MUTED}">{"n/a" if missing == "n/a" else "—"}</text>'
                )
                continue
            top = y_of(value)
            detail = f"{p.label}: {name.lower()} {value}"
            if name == "Buffers" and p.buffer_level:
                detail += f" ({p.buffer_level})"
            if name == "Risk":
                detail += f", {p.adversities} adversit{'y' if p.adversities == 1 else 'ies'}"
                if p.estimated:
                    detail += f" ({p.estimated} estimated)"
            stroke = f' stroke="{BUFFER_FILL}"' if name == "Buffers" else ""
            out.append(
                f'<rect x="{_fmt(x)}" y="{_fmt(top)}" width="{_fmt(bar_w)}" '
                f'height="{_fmt(base_y - top)}" fill="{fill}"{stroke}>'
                f"<title>{_e(detail)}</title></rect>"
            )
            out.append(
                f'<text x="{text_x}" y="{_fmt(top - 5)}" text-anchor="middle" '
                f'font-weight="600" fill="{INK}">{value}</text>'
            )
        out.append(
            f'<text x="{_fmt(centre)}" y="{base_y + 20}" text-anchor="middle" '
            f'fill="{INK}">{_e(p.short_label)}</text>'
        )
        if p.ages:
            out.append(
                f'<text x="{_fmt(centre)}" y="{base_y + 38}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">{_e(p.ages)}</text>'
            )
        out.append("</g>")
    out.append(
        f'<text x="{LEFT}" y="{HEIGHT - 8}" font-size="11" fill="{MUTED}">'
        "— not recorded · n/a adversity is recorded by period, not for now</text>"
    )
    out.append("</svg>")
    return "".join(out)
