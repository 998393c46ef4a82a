"""The functional brain map as an SVG string: pure functions, no database, no Flask.

One row per domain, drawn bottom-up (sensory integration at the bottom, the
foundation everything else rests on), one cell per item. A cell never relies on
colour alone: it shows the item code, the score, the percent of age-typical and
a band letter (R, Y, G), and red and yellow cells carry a hatched or dotted
pattern. The SVG holds no scripts, no style elements and no style attributes
(the portal's CSP allows neither), only presentation attributes; every piece
of text is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from routines.metrics import DOMAINS, MapResult, Thresholds

DOMAIN_LABELS: dict[str, str] = {
    "sensory_integration": "Sensory integration",
    "self_regulation": "Self-regulation",
    "relational": "Relational",
    "cognitive": "Cognitive",
}
DOMAIN_REGIONS: dict[str, str] = {
    "sensory_integration": "brainstem",
    "self_regulation": "diencephalon and cerebellum",
    "relational": "limbic",
    "cognitive": "cortex",
}
BAND_LETTERS: dict[str, str] = {"red": "R", "yellow": "Y", "green": "G"}
BAND_NAMES: dict[str, str] = {
    "red": "red, significant compromise",
    "yellow": "yellow, moderate compromise",
    "green": "green, age-typical",
}
_FILLS = {"red": "#f6c9c2", "yellow": "#fbe6a2", "green": "#cbe8d0"}
_INKS = {"red": "#8c2f21", "yellow": "#6f4800", "green": "#245a2f"}
_TEXT = "#1d2430"

_LABEL_W = 200
_CELL_W = 76
_CELL_H = 66
_GAP = 8
_PAD = 12
_LEGEND_H = 40
_MIN_W = 540
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def domain_label(domain: str) -> str:
    return DOMAIN_LABELS.get(domain, domain.replace("_", " ").capitalize())


def format_percent(percent: float) -> str:
    """Whole percents as such; otherwise one decimal, so 84.6% never reads as 85%."""
    if float(percent).is_integer():
        return f"{int(percent)}%"
    return f"{int(percent * 10) / 10:.1f}%"


@dataclass(frozen=True)
class Cell:
    code: str
    label: str
    value: int
    percent: float
    band: str


@dataclass(frozen=True)
class Row:
    domain: str
    summary: str  # the second line under the domain's name
    cells: tuple[Cell, ...]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _text(
    x: float, y: float, content: str, *, size: int, weight: int = 400, anchor: str = "start"
) -> str:
    # A white halo keeps the text legible over the hatching and dots.
    return (
        f'<text x="{x:g}" y="{y:g}" font-size="{size}" font-weight="{weight}" '
        f'text-anchor="{anchor}" fill="{_TEXT}" stroke="#ffffff" stroke-width="3" '
        f'paint-order="stroke" font-family="system-ui, sans-serif">{escape(content)}</text>'
    )


def _defs(prefix: str) -> str:
    return (
        "<defs>"
        f'<pattern id="{prefix}-hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        f'<line x1="0" y1="0" x2="0" y2="8" stroke="{_INKS["red"]}" stroke-width="2" '
        'stroke-opacity="0.5"/></pattern>'
        f'<pattern id="{prefix}-dots" width="9" height="9" patternUnits="userSpaceOnUse">'
        f'<circle cx="4.5" cy="4.5" r="1.5" fill="{_INKS["yellow"]}" fill-opacity="0.55"/>'
        "</pattern>"
        "</defs>"
    )


def _swatch(prefix: str, band: str, x: float, y: float, w: float, h: float) -> str:
    parts = [
        f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="4" fill="{_FILLS[band]}" '
        f'stroke="{_INKS[band]}" stroke-width="1.5"/>'
    ]
    pattern = {"red": "hatch", "yellow": "dots"}.get(band)
    if pattern is not None:
        parts.append(
            f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="4" '
            f'fill="url(#{prefix}-{pattern})"/>'
        )
    return "".join(parts)


def _cell(prefix: str, cell: Cell, x: float, y: float) -> str:
    band = cell.band if cell.band in BAND_LETTERS else "green"
    title = (
        f"{cell.code} {cell.label}: {cell.value}, {format_percent(cell.percent)} of "
        f"age-typical, {BAND_NAMES[band]}"
    )
    return (
        f'<g class="cell band-{band}" data-code="{_attr(cell.code)}" data-band="{band}">'
        f"<title>{escape(title)}</title>"
        + _swatch(prefix, band, x, y, _CELL_W, _CELL_H)
        + _text(x + 6, y + 16, cell.code, size=12, weight=700)
        + _text(x + _CELL_W / 2, y + 42, str(cell.value), size=20, weight=700, anchor="middle")
        + _text(x + 6, y + _CELL_H - 7, format_percent(cell.percent), size=11)
        + _text(x + _CELL_W - 6, y + _CELL_H - 7, BAND_LETTERS[band], size=13, weight=700,
                anchor="end")
        + "</g>"
    )  # fmt: skip


def _legend(prefix: str, thresholds: Thresholds, y: float) -> str:
    red, green = format_percent(thresholds.red_below), format_percent(thresholds.green_from)
    entries = (
        ("red", f"R: below {red}"),
        ("yellow", f"Y: {red} to under {green}"),
        ("green", f"G: {green} and above"),
    )
    parts = ['<g class="legend">']
    x = float(_PAD)
    for band, words in entries:
        parts.append(_swatch(prefix, band, x, y + 6, 22, 22))
        parts.append(_text(x + 28, y + 22, words, size=12))
        x += 175
    parts.append("</g>")
    return "".join(parts)


def render_rows(
    rows: Sequence[Row], *, title: str, desc: str, thresholds: Thresholds, id_prefix: str
) -> str:
    """The SVG for rows given bottom-up (the first row is drawn at the bottom)."""
    if not _PREFIX.match(id_prefix):
        raise ValueError("id_prefix must be a short lowercase identifier")
    columns = max((len(row.cells) for row in rows), default=1) or 1
    width = max(_MIN_W, 2 * _PAD + _LABEL_W + columns * (_CELL_W + _GAP) - _GAP)
    grid_h = len(rows) * (_CELL_H + _GAP) - (_GAP if rows else 0)
    height = 2 * _PAD + grid_h + _LEGEND_H
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" class="map brain-map" '
        f'aria-labelledby="{id_prefix}-title {id_prefix}-desc">',
        f'<title id="{id_prefix}-title">{escape(title)}</title>',
        f'<desc id="{id_prefix}-desc">{escape(desc)}</desc>',
        _defs(id_prefix),
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    for index, row in enumerate(rows):
        # bottom-up: row 0 sits on the bottom line of the grid
        y = _PAD + grid_h - (index + 1) * _CELL_H - index * _GAP
        parts.append(f'<g class="domain" data-domain="{_attr(row.domain)}" data-y="{y:g}">')
        parts.append(_text(_PAD, y + 26, domain_label(row.domain), size=14, weight=700))
        parts.append(_text(_PAD, y + 46, row.summary, size=12))
        for column, cell in enumerate(row.cells):
            parts.append(_cell(id_prefix, cell, _PAD + _LABEL_W + column * (_CELL_W + _GAP), y))
        parts.append("</g>")
    parts.append(_legend(id_prefix, thresholds, _PAD + grid_h + 4))
    parts.append("</svg>")
    return "".join(parts)


def _ordered_domains(result: MapResult) -> list[str]:
    known = [d.domain for d in result.domains]
    return [d for d in DOMAINS if d in known] + [d for d in known if d not in DOMAINS]


def _describe(result: MapResult, kind: str) -> str:
    parts = [f"{kind}, compared with children aged {result.age_band.label}, bottom-up:"]
    for d in result.domains:
        parts.append(
            f"{domain_label(d.domain)} {d.score} of {d.expected}, "
            f"{format_percent(d.percent)} of age-typical, {BAND_NAMES.get(d.band, d.band)}."
        )
    return " ".join(parts)


def brain_map_svg(
    result: MapResult,
    labels: Mapping[str, str],
    *,
    thresholds: Thresholds,
    title: str,
    id_prefix: str = "map",
) -> str:
    """The child's map: each cell the child's score, banded by percent of age-typical."""
    rows = []
    for domain in _ordered_domains(result):
        summary = result.domain(domain)
        cells = tuple(
            Cell(i.code, labels.get(i.code, ""), i.score, i.percent, i.band)
            for i in result.items
            if i.domain == domain
        )
        rows.append(
            Row(
                domain,
                f"{format_percent(summary.percent)} of age-typical · "
                f"{BAND_LETTERS.get(summary.band, '')}",
                cells,
            )
        )
    return render_rows(
        rows,
        title=title,
        desc=_describe(result, "Functional brain map"),
        thresholds=thresholds,
        id_prefix=id_prefix,
    )


def typical_map_svg(
    result: MapResult,
    labels: Mapping[str, str],
    *,
    thresholds: Thresholds,
    title: str,
    id_prefix: str = "typical",
) -> str:
    """The age-typical map for the child's age band: every cell the typical score."""
    rows = []
    for domain in _ordered_domains(result):
        summary = result.domain(domain)
        cells = tuple(
            Cell(i.code, labels.get(i.code, ""), i.expected, 100.0, "green")
            for i in result.items
            if i.domain == domain
        )
        rows.append(Row(domain, f"Typical total {summary.expected}", cells))
    desc = (
        f"Age-typical map for children aged {result.age_band.label}: every item at its "
        "typical score, all green."
    )
    return render_rows(rows, title=title, desc=desc, thresholds=thresholds, id_prefix=id_prefix)
