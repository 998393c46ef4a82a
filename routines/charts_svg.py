"""The adherence dashboard's charts as SVG strings: pure functions, no database, no Flask.

A calendar heatmap of daily adherence, horizontal bars (per activity, home versus
school), dose per domain per week as small multiples, and the child's arousal state
before and after activities. Adherence values are floats from 0 to 1, or None where
nothing was counted. Every mark carries a <title> that states its value in words, and
the pages add a table beside each chart, so colour never carries the meaning alone.
The SVG holds no scripts, no style elements and no style attributes (the portal's CSP
allows none of them), only presentation attributes; every piece of text is escaped.

Each chart has its natural size in width and height and scales through its viewBox:
place it in ``<figure class="chart-figure">`` (cadence.css shrinks it to the screen).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from html import escape

from routines.map_svg import domain_label, format_percent

EMPTY = "No routines recorded yet"
INK, MUTED, GRID, WHITE = "#1d2430", "#5b6575", "#d9dee6", "#ffffff"
BRAND, AMBER = "#2f5d62", "#8a5a00"
# Nothing done, under half the threshold, under the threshold, at or over it, all done.
STEP_FILLS = ("#dfe4ea", "#c6e0dc", "#8cc2b8", "#4a9488", "#25564f")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PAD = 12
WEEKS_PER_ROW = 27  # a year wraps into two half-year rows, so it stays legible on a phone
LABEL_CHARS = 26  # longer bar labels are cut with an ellipsis (the full label is in <title>)
_CELL, _STEP = 14, 17
_HALO = 'stroke="#ffffff" stroke-width="3" paint-order="stroke"'
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_EPSILON = 1e-9  # 0.7999999999 (binary rounding of 4 out of 5) still meets 80%


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def long_day(day: date) -> str:
    """'Tue 3 Mar 2026', whatever the server's locale."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def short_day(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def percent(value: float) -> str:
    """A 0..1 ratio as a percent, truncated like the brain map: 0.846 reads 84.6%, not 85%."""
    return format_percent(round(float(value) * 100, 6))


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _ratio(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not 0 <= number <= 1:  # also rejects NaN
        raise ValueError(f"{what} must be between 0 and 1, or None")
    return number


def _check(id_prefix: str, threshold: float | None) -> None:
    if not _PREFIX.match(id_prefix):
        raise ValueError("id_prefix must be a short lowercase identifier")
    if threshold is not None and not 0 < float(threshold) <= 1:
        raise ValueError("threshold must be above 0 and at most 1")


def _text(x: float, y: float, content: str, *, size: int = 12, anchor: str = "start",
          fill: str = INK, cls: str = "") -> str:  # fmt: skip
    named = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}"{named}>{_e(content)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, more: str = "") -> str:
    return (
        f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}"'
        f"{' ' + more if more else ''}/>"
    )


def _open(width: float, height: float, *, title: str, desc: str, id_prefix: str, kind: str) -> str:
    w, h = _n(width), _n(height)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
        f'height="{h}" role="img" aria-labelledby="{id_prefix}-title {id_prefix}-desc" '
        f'class="chart {kind}" font-family="system-ui, sans-serif">'
        f'<title id="{id_prefix}-title">{_e(title)}</title>'
        f'<desc id="{id_prefix}-desc">{_e(desc)}</desc>'
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="{WHITE}"/>'
    )


def _empty(title: str, id_prefix: str, kind: str) -> str:
    return (
        _open(320, 64, title=title, desc=EMPTY + ".", id_prefix=id_prefix, kind=f"{kind} empty")
        + _text(160, 37, EMPTY, size=14, anchor="middle", fill=MUTED, cls="empty")
        + "</svg>"
    )


def _legend(keys: Sequence[tuple[str, str]], x0: float, y0: float, w: float) -> tuple[str, float]:
    """(swatch, words) keys left to right, wrapping within the width `w`; each swatch is an
    SVG fragment drawn in a 16x12 box at (0, 0). Returns the SVG and its height."""
    parts, x, y = ['<g class="legend">'], x0, y0
    for swatch, words in keys:
        need = 22 + len(words) * 6.6 + 14
        if x > x0 and x + need > x0 + w:
            x, y = x0, y + 20
        parts.append(f'<g transform="translate({_n(x)} {_n(y)})">{swatch}</g>')
        parts.append(_text(x + 22, y + 11, words, cls="legend-label"))
        x += need
    parts.append("</g>")
    return "".join(parts), y - y0 + 20


def _box(fill: str, more: str = "") -> str:
    return f'<rect x="1" y="0" width="14" height="12" rx="2" fill="{fill}" {more}/>'


def _dash(pattern: str) -> str:
    return f'stroke-dasharray="{pattern}"' if pattern else ""


# 1. Calendar heatmap ---------------------------------------------------------------


def step_for(value: float, threshold: float) -> int:
    """Which of the five colour steps an adherence value falls in: nothing done, under half
    the threshold, under the threshold, at or over it, everything done."""
    return (value > 0) + sum(value >= edge - _EPSILON for edge in (threshold / 2, threshold, 1))


def heatmap_svg(
    days: Mapping[date, float | None],
    *,
    start: date,
    end: date,
    title: str,
    id_prefix: str,
    threshold: float = 0.8,
) -> str:
    """One cell per day from start to end: weeks are columns (Monday first), weekdays rows.
    Past WEEKS_PER_ROW weeks the calendar wraps onto another row of weeks below."""
    _check(id_prefix, threshold)
    if end < start:
        raise ValueError("the end date is before the start date")
    values = {d: _ratio(days.get(d), f"adherence on {d}") for d in days if start <= d <= end}
    counted = [v for v in values.values() if v is not None]
    if not counted:
        return _empty(title, id_prefix, "chart-heatmap")
    first_monday = start - timedelta(days=start.weekday())
    weeks = (end - first_monday).days // 7 + 1
    bands = math.ceil(weeks / WEEKS_PER_ROW)
    left, band_h = PAD + 34, 18 + 7 * _STEP + 12
    width = max(320, left + min(weeks, WEEKS_PER_ROW) * _STEP + PAD)
    half, limit = percent(threshold / 2), percent(threshold)
    words = ["0% (none done)", f"under {half}", f"{half} to under {limit}"]
    words += [f"{limit} to under 100%" if threshold < 1 else "", "100% (all done)"]
    entries = [(_box(STEP_FILLS[i]), said) for i, said in enumerate(words) if said]
    entries.append((_box(WHITE, f'stroke="{MUTED}" {_dash("2 2")}'), "nothing scheduled"))
    legend, legend_h = _legend(entries, PAD, PAD + bands * band_h, width - 2 * PAD)
    height = PAD + bands * band_h + legend_h + PAD
    met = sum(1 for v in counted if v >= threshold - _EPSILON)
    desc = (
        f"Daily adherence from {long_day(start)} to {long_day(end)}: {len(counted)} "
        f"day{'s' if len(counted) != 1 else ''} with routines, {met} at or above "
        f"{percent(threshold)}; {(end - start).days + 1 - len(counted)} with nothing "
        "scheduled. Weeks run left to right, Monday at the top; a darker cell means more of "
        "the day's routines were done."
    )
    out = [_open(width, height, title=title, desc=desc, id_prefix=id_prefix, kind="chart-heatmap")]
    for band in range(bands):
        top = PAD + band * band_h + 29
        names = [
            _text(PAD, top + i * _STEP, d, size=10, fill=MUTED) for i, d in enumerate(WEEKDAYS)
        ]
        out.append(f'<g class="weekdays" data-band="{band}">{"".join(names)}</g>')
    label_end = [-1.0] * bands  # where each row's last month label ends, so none overlap
    previous_month: tuple[int, int] | None = None
    day = start
    out.append('<g class="days">')
    while day <= end:
        band, column = divmod((day - first_monday).days // 7, WEEKS_PER_ROW)
        x, top = left + column * _STEP, PAD + band * band_h
        y = top + 18 + day.weekday() * _STEP
        new_month = (day.year, day.month) != previous_month or label_end[band] < 0
        if new_month and x >= label_end[band]:
            name = MONTHS[day.month - 1]
            if previous_month is None or day.month == 1:
                name += f" {day.year}"
            out.append(_text(x, top + 12, name, size=11, fill=MUTED, cls="month"))
            label_end[band] = x + len(name) * 6.6 + 6
        previous_month = (day.year, day.month)
        value, where = values.get(day), f'x="{x}" y="{y}" width="{_CELL}" height="{_CELL}" rx="2"'
        if value is None:
            out.append(
                f'<rect class="day none" data-date="{day.isoformat()}" {where} fill="{WHITE}" '
                f'stroke="{MUTED}" {_dash("2 2")}><title>{long_day(day)}: nothing scheduled'
                "</title></rect>"
            )
        else:
            step = step_for(value, threshold)
            out.append(
                f'<rect class="day step-{step}" data-date="{day.isoformat()}" data-step="{step}" '
                f'{where} fill="{STEP_FILLS[step]}"><title>{long_day(day)}: {percent(value)} '
                "done</title></rect>"
            )
        day += timedelta(days=1)
    return "".join([*out, "</g>", legend, "</svg>"])


# 2. Horizontal bars -----------------------------------------------------------------


def bar_chart_svg(
    rows: Sequence[tuple[str, float | None]],
    *,
    title: str,
    id_prefix: str,
    threshold: float | None = 0.8,
    note: Mapping[str, str] | None = None,
) -> str:
    """A bar per (label, adherence) row; `note` adds words after a row's percent, by label."""
    _check(id_prefix, threshold)
    checked = [(str(label), _ratio(value, f"adherence for {label}")) for label, value in rows]
    if not checked:
        return _empty(title, id_prefix, "chart-bars")
    note = note or {}
    bar_w, row_h, top = 340, 30, PAD + 22
    x0 = PAD + 190
    width, bottom = x0 + bar_w + 190 + PAD, top + len(checked) * row_h
    said = [f"{k}: {percent(v) if v is not None else 'no routines counted'}" for k, v in checked]
    desc = "; ".join(said) + "."
    if threshold is not None:
        desc += f" The dashed line marks the {percent(threshold)} threshold."
    out = [
        _open(width, bottom + 24 + PAD, title=title, desc=desc, id_prefix=id_prefix,
              kind="chart-bars"),
        '<g class="axis">',
    ]  # fmt: skip
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = x0 + tick * bar_w
        out.append(_line(x, top - 4, x, bottom))
        out.append(_text(x, bottom + 16, percent(tick), size=11, anchor="middle", fill=MUTED))
    out.append("</g>")
    values = []  # drawn last, over the threshold line, each with a white halo
    for index, (label, value) in enumerate(checked):
        y = top + index * row_h
        out.append(f'<g class="row" data-label="{_e(label)}">')
        out.append(
            f'<g class="label"><title>{_e(label)}</title>'
            + _text(x0 - 8, y + 19, truncate(label, LABEL_CHARS), size=13, anchor="end")
            + "</g>"
        )
        if value is None:
            out.append(
                f'<rect class="no-data" x="{x0}" y="{y + 5}" width="{bar_w}" height="20" '
                f'fill="none" stroke="{GRID}" {_dash("4 3")}>'
                f"<title>{_e(label)}: no routines counted</title></rect>"
            )
            out.append(_text(x0 + 8, y + 19, "no routines counted", fill=MUTED, cls="none"))
        else:
            extra, length = note.get(label), value * bar_w
            said_row = f"{label}: {percent(value)}" + (f", {extra}" if extra else "")
            out.append(
                f'<rect class="bar" data-value="{value:g}" x="{x0}" y="{y + 5}" '
                f'width="{_n(length)}" height="20" rx="3" fill="{BRAND}">'
                f"<title>{_e(said_row)}</title></rect>"
            )
            tail = f"· {truncate(extra, 20)}" if extra else ""
            values.append(
                f'<text class="value" x="{_n(x0 + length + 6)}" y="{y + 19}" font-size="12" '
                f'font-weight="700" fill="{INK}" {_HALO}>{percent(value)}<tspan dx="5" '
                f'font-weight="400" fill="{MUTED}">{_e(tail)}</tspan></text>'
            )
        out.append("</g>")
    if threshold is not None:
        x = x0 + float(threshold) * bar_w
        out.append(
            f'<g class="threshold" data-x="{_n(x)}">'
            + _line(x, top - 6, x, bottom, INK, f'stroke-width="1.5" {_dash("5 4")}')
            + _text(x, top - 10, f"{percent(threshold)} threshold", size=11, anchor="middle")
            + "</g>"
        )
    return "".join([*out, *values, "</svg>"])


# 3. Dose per domain per week ------------------------------------------------------


def nice_top(value: float) -> tuple[int, int]:
    """(axis top, tick step) for a y axis of minutes with at most four steps."""
    for step in (5, 10, 15, 20, 30, 60, 90, 120, 180, 240, 300, 600, 1200):
        if value <= 4 * step:
            return max(step, math.ceil(value / step) * step), step
    step = math.ceil(value / 4 / 600) * 600
    return math.ceil(value / step) * step, step


def dose_chart_svg(
    weeks: Sequence[date],
    minutes: Mapping[str, Sequence[int]],
    targets: Mapping[str, int],
    *,
    title: str,
    id_prefix: str,
    threshold: float = 0.8,
    labels: Mapping[str, str] | None = None,
) -> str:
    """One panel per domain (in the order of `minutes`), one column per week starting on
    `weeks`; the plan's weekly target is a solid line and threshold x target a dashed one."""
    _check(id_prefix, threshold)
    if any(len(values) != len(weeks) for values in minutes.values()):
        raise ValueError("every domain needs one number of minutes per week")
    if min([0, *targets.values(), *(v for values in minutes.values() for v in values)]) < 0:
        raise ValueError("minutes and weekly targets cannot be negative")
    if not weeks or not minutes:
        return _empty(title, id_prefix, "chart-dose")
    names = {d: (labels or {}).get(d) or domain_label(d) for d in minutes}
    aims = {d: int(targets.get(d) or 0) for d in minutes}
    left, plot_w, plot_h = PAD + 44, 520, 110
    panel_h, width = 28 + plot_h + 40, left + plot_w + 112 + PAD
    legend, legend_h = _legend(
        [
            (_box(BRAND), "minutes in the week"),
            (_line(0, 6, 16, 6, INK, 'stroke-width="2"'), "weekly target"),
            (_line(0, 6, 16, 6, INK, f'stroke-width="2" {_dash("5 4")}'),
             f"{percent(threshold)} of the target"),
        ][: 3 if threshold < 1 else 2],
        PAD, PAD, width - 2 * PAD,
    )  # fmt: skip
    first = PAD + legend_h + 8
    slot = plot_w / len(weeks)
    bar_w = max(1.0, min(28.0, slot * 0.7))
    every = max(1, math.ceil(len(weeks) / 10))  # at most ten week labels under a panel
    desc = f"Minutes per week from {long_day(weeks[0])}."
    for domain, values in minutes.items():
        hit = sum(1 for v in values if v >= threshold * aims[domain] - _EPSILON)
        desc += (
            f" {names[domain]}: weekly target {aims[domain]} minutes; {hit} of {len(weeks)} "
            f"weeks reached {percent(threshold)} of it."
            if aims[domain]
            else f" {names[domain]}: no weekly target; {sum(values)} minutes in all."
        )
    height = first + len(minutes) * panel_h + PAD
    out = [_open(width, height, title=title, desc=desc, id_prefix=id_prefix, kind="chart-dose")]
    out.append(legend)
    for index, (domain, values) in enumerate(minutes.items()):
        target, top = aims[domain], first + index * panel_h
        base = top + 28 + plot_h
        y_top, step = nice_top(max([1, target, *values]))

        def y_of(value: float, base: float = base, y_top: int = y_top) -> float:
            return base - plot_h * value / y_top

        out.append(f'<g class="panel" data-domain="{_e(domain)}">')
        out.append(
            f'<text class="panel-title" x="{PAD}" y="{top + 14}" font-size="14" font-weight="700" '
            f'fill="{INK}">{_e(names[domain])}<tspan dx="6" font-weight="400" fill="{MUTED}" '
            'font-size="12">· minutes a week</tspan></text>'
        )
        for tick in range(0, y_top + 1, step):
            out.append(_line(left, y_of(tick), left + plot_w, y_of(tick)))
            out.append(_text(left - 6, y_of(tick) + 4, str(tick), size=11, anchor="end",
                             fill=MUTED, cls="tick"))  # fmt: skip
        for column, (week, value) in enumerate(zip(weeks, values, strict=True)):
            x, y = left + column * slot + (slot - bar_w) / 2, y_of(value)
            aim = f", target {target}" if target else ""
            out.append(
                f'<rect class="bar" data-week="{week.isoformat()}" data-minutes="{int(value)}" '
                f'x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" height="{_n(base - y)}" '
                f'fill="{BRAND}"><title>Week of {long_day(week)}: {int(value)} minutes{aim}'
                "</title></rect>"
            )
            if column % every == 0:
                out.append(_text(x + bar_w / 2, base + 16, short_day(week), size=10,
                                 anchor="middle", fill=MUTED, cls="week"))  # fmt: skip
        out.append(_line(left, base, left + plot_w, base, INK))
        label_x = left + plot_w + 6
        if not target:
            out.append(_text(label_x, top + 40, "No weekly target", size=11, fill=MUTED))
        else:
            y_target, low = y_of(target), threshold * target
            out.append(
                f'<g class="target" data-y="{_n(y_target)}">'
                + _line(left, y_target, left + plot_w, y_target, INK, 'stroke-width="2"')
                + _text(label_x, y_target + 4, f"Target {target} min", size=11)
                + "</g>"
            )
        if target and threshold < 1:
            y_low = y_of(low)
            out.append(
                f'<g class="threshold" data-y="{_n(y_low)}">'
                + _line(left, y_low, left + plot_w, y_low, INK,
                        f'stroke-width="1.5" {_dash("5 4")}')
                + _text(label_x, max(y_low + 4, y_target + 17),
                        f"{percent(threshold)}: {_n(low)} min", size=11)
                + "</g>"
            )  # fmt: skip
        out.append("</g>")
    return "".join([*out, "</svg>"])


# 4. Arousal state before and after activities ------------------------------------


def state_words(value: float, levels: Sequence[str]) -> str:
    """A position on the levels in words: 'Alert', or 'between Alert and Alarm (1.5)'."""
    value = round(float(value), 1)
    if value.is_integer():
        return levels[int(value)]
    return f"between {levels[int(value)]} and {levels[int(value) + 1]} ({value:.1f})"


def state_chart_svg(
    points: Sequence[tuple[date, float | None, float | None]],
    *,
    title: str,
    id_prefix: str,
    levels: Sequence[str] = ("Calm", "Alert", "Alarm", "Fear", "Terror"),
) -> str:
    """Before (dashed, circles) and after (solid, squares) lines over weeks. Values are
    positions on `levels`: 0 is the first level (calm, drawn at the bottom) and 1.5 sits
    between the second and third; None leaves a gap in the line."""
    _check(id_prefix, None)
    if len(levels) < 2:
        raise ValueError("the state chart needs at least two levels")
    top_level = len(levels) - 1
    for day, *pair in points:
        if any(v is not None and not 0 <= float(v) <= top_level for v in pair):
            raise ValueError(f"the state on {day} is off the scale")
    ordered = sorted(points, key=lambda p: p[0])
    if all(b is None and a is None for _, b, a in ordered):
        return _empty(title, id_prefix, "chart-state")
    left, plot_w, plot_h = PAD + 64, 560, top_level * 36
    base = PAD + 32 + plot_h
    first_day, last_day = ordered[0][0], ordered[-1][0]
    span = (last_day - first_day).days

    def x_of(day: date) -> float:
        inner = plot_w - 24
        return left + 12 + (inner / 2 if span == 0 else inner * (day - first_day).days / span)

    def y_of(value: float) -> float:
        return base - plot_h * float(value) / top_level

    series = (
        ("before", "Before activities", 1, AMBER, "6 4"),
        ("after", "After activities", 2, BRAND, ""),
    )
    desc = (
        f"The child's state from {long_day(first_day)} to {long_day(last_day)}; lower is "
        f"calmer, from {levels[0]} up to {levels[-1]}."
    )
    for _key, words, column, _colour, _pattern in series:
        known = [float(p[column]) for p in ordered if p[column] is not None]
        average = state_words(sum(known) / len(known), levels) if known else ""
        desc += f" {words}: on average {average}." if known else f" {words}: none noted."
    width, height = left + plot_w + 16 + PAD, base + 30 + PAD
    out = [_open(width, height, title=title, desc=desc, id_prefix=id_prefix, kind="chart-state")]
    circle = f'<circle cx="8" cy="6" r="4" fill="{WHITE}" stroke="{AMBER}" stroke-width="2"/>'
    square = f'<rect x="4" y="2" width="8" height="8" fill="{BRAND}"/>'
    swatch = 'stroke-width="2" '
    keys = [
        (_line(0, 6, 16, 6, AMBER, swatch + _dash("6 4")) + circle, "before"),
        (_line(0, 6, 16, 6, BRAND, swatch) + square, "after"),
    ]
    out.append(_legend(keys, left, PAD, plot_w)[0])
    out.append('<g class="axis">')
    for level, name in enumerate(levels):
        out.append(_line(left, y_of(level), left + plot_w, y_of(level)))
        out.append(_text(left - 8, y_of(level) + 4, name, anchor="end", fill=MUTED, cls="level"))
    every = max(1, math.ceil(len(ordered) / 8))
    for index, (day, _before, _after) in enumerate(ordered):
        if index % every == 0:
            out.append(_text(x_of(day), base + 20, short_day(day), size=10, anchor="middle",
                             fill=MUTED, cls="week"))  # fmt: skip
    out.append("</g>")
    for key, words, column, colour, pattern in series:
        out.append(f'<g class="series {key}">')
        runs: list[list[str]] = [[]]
        marks = []
        for day, *pair in ordered:
            value = pair[column - 1]
            if value is None:
                runs.append([])
                continue
            x, y = x_of(day), y_of(value)
            runs[-1].append(f"{_n(x)},{_n(y)}")
            said = f"Week of {long_day(day)}: {words.lower()}, {state_words(value, levels)}"
            marks.append(
                f'<circle class="marker" cx="{_n(x)}" cy="{_n(y)}" r="4" fill="{WHITE}" '
                f'stroke="{colour}" stroke-width="2"><title>{_e(said)}</title></circle>'
                if key == "before"
                else f'<rect class="marker" x="{_n(x - 4)}" y="{_n(y - 4)}" width="8" height="8" '
                f'fill="{colour}"><title>{_e(said)}</title></rect>'
            )
        out += [
            f'<polyline class="line" points="{" ".join(run)}" fill="none" stroke="{colour}" '
            f'stroke-width="2" {_dash(pattern)}/>'
            for run in runs
            if len(run) > 1
        ]
        out += marks
        out.append("</g>")
    return "".join([*out, "</svg>"])
