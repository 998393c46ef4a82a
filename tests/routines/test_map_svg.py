"""The functional brain map as SVG: one cell per item, readable without colour, bottom-up."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from routines.map_svg import brain_map_svg, format_percent, typical_map_svg
from routines.metrics import AgeBand, Item, Thresholds, compute_map

NS = {"svg": "http://www.w3.org/2000/svg"}
BANDS = (AgeBand("young", "0–8 years", 0, 96), AgeBand("older", "8–18 years", 96, 216))
ITEMS = (
    # listed top-down on purpose: the SVG must still draw sensory integration at the bottom
    Item("C1", "cognitive", {"young": 4, "older": 10}),
    Item("L1", "relational", {"young": 4, "older": 10}),
    Item("R1", "self_regulation", {"young": 4, "older": 10}),
    Item("S1", "sensory_integration", {"young": 6, "older": 10}),
    Item("S2", "sensory_integration", {"young": 6, "older": 10}),
)
SCORES = {"C1": 10, "L1": 6, "R1": 3, "S1": 8, "S2": 5}
LABELS = {
    "C1": 'Plans <ahead> & "thinks"',
    "L1": "Trusts familiar adults",
    "R1": "Settles after upset",
    "S1": "Steady body rhythms",
    "S2": "Tolerates touch",
}
THRESHOLDS = Thresholds(red_below=60, green_from=80)


@pytest.fixture
def result():  # type: ignore[no-untyped-def]
    return compute_map(ITEMS, SCORES, age_months=100, bands=BANDS, thresholds=THRESHOLDS)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it is well-formed


def cells(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-code"): g for g in root.iter(f"{{{NS['svg']}}}g") if g.get("data-code")}


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{{{NS['svg']}}}text")]


def test_one_cell_per_item_with_code_score_percent_and_band_letter(result):  # type: ignore[no-untyped-def]
    root = parse(brain_map_svg(result, LABELS, thresholds=THRESHOLDS, title="Map"))
    found = cells(root)
    assert set(found) == set(SCORES)
    # C1 10/10 = 100% green; L1 6/10 = 60% yellow (at red_below); R1 30% red;
    # S1 8/10 = 80% green (at green_from); S2 50% red
    expected = {
        "C1": ("10", "100%", "G", "green"),
        "L1": ("6", "60%", "Y", "yellow"),
        "R1": ("3", "30%", "R", "red"),
        "S1": ("8", "80%", "G", "green"),
        "S2": ("5", "50%", "R", "red"),
    }
    for code, (score, percent, letter, band) in expected.items():
        cell = found[code]
        assert texts(cell) == [code, score, percent, letter]
        assert cell.get("data-band") == band


def test_red_and_yellow_cells_carry_a_pattern_and_green_none(result):  # type: ignore[no-untyped-def]
    root = parse(brain_map_svg(result, LABELS, thresholds=THRESHOLDS, title="Map", id_prefix="m"))
    found = cells(root)

    def fills(code: str) -> list[str]:
        return [r.get("fill") for r in found[code].iter(f"{{{NS['svg']}}}rect")]

    assert "url(#m-hatch)" in fills("R1")
    assert "url(#m-dots)" in fills("L1")
    assert not any(f.startswith("url(") for f in fills("C1"))
    assert {p.get("id") for p in root.iter(f"{{{NS['svg']}}}pattern")} == {"m-hatch", "m-dots"}


def test_domains_are_drawn_bottom_up(result):  # type: ignore[no-untyped-def]
    root = parse(brain_map_svg(result, LABELS, thresholds=THRESHOLDS, title="Map"))
    rows = [g for g in root.iter(f"{{{NS['svg']}}}g") if g.get("class") == "domain"]
    assert [g.get("data-domain") for g in rows] == [
        "sensory_integration",
        "self_regulation",
        "relational",
        "cognitive",
    ]
    heights = [float(g.get("data-y")) for g in rows]
    assert heights == sorted(heights, reverse=True)  # sensory lowest on the page
    sensory_cells = cells(rows[0])
    assert set(sensory_cells) == {"S1", "S2"}
    assert float(next(sensory_cells["S1"].iter(f"{{{NS['svg']}}}rect")).get("y")) == heights[0]


def test_accessible_title_and_description_and_no_scripts(result):  # type: ignore[no-untyped-def]
    svg = brain_map_svg(
        result, LABELS, thresholds=THRESHOLDS, title="Map of <Robin>", id_prefix="child-map"
    )
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "child-map-title child-map-desc"
    assert root.find("svg:title", NS).text == "Map of <Robin>"
    desc = root.find("svg:desc", NS).text
    assert "Sensory integration 13 of 20, 65% of age-typical, yellow" in desc
    assert desc.index("Sensory") < desc.index("Cognitive")  # bottom-up reading order
    lowered = svg.lower()
    assert "<script" not in lowered and "style=" not in lowered and "<style" not in lowered
    assert "onload" not in lowered and "javascript:" not in lowered


def test_item_labels_are_escaped(result):  # type: ignore[no-untyped-def]
    svg = brain_map_svg(result, LABELS, thresholds=THRESHOLDS, title="Map")
    assert "<ahead>" not in svg
    assert "Plans &lt;ahead&gt; &amp; &quot;thinks&quot;" in svg
    title = cells(parse(svg))["C1"].find("svg:title", NS).text
    assert title == 'C1 Plans <ahead> & "thinks": 10, 100% of age-typical, green, age-typical'


def test_hostile_codes_cannot_break_out(result):  # type: ignore[no-untyped-def]
    items = (Item('X"><script>1</script>', "cognitive", {"young": 1, "older": 1}),)
    hostile = compute_map(items, {items[0].code: 1}, age_months=5, bands=BANDS)
    svg = brain_map_svg(hostile, {}, thresholds=THRESHOLDS, title="x")
    assert "<script" not in svg
    assert set(cells(parse(svg))) == {items[0].code}


def test_bad_id_prefix_is_refused(result):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        brain_map_svg(result, LABELS, thresholds=THRESHOLDS, title="x", id_prefix='a" onload="')


def test_typical_map_shows_typical_scores_all_green(result):  # type: ignore[no-untyped-def]
    root = parse(typical_map_svg(result, LABELS, thresholds=THRESHOLDS, title="Typical"))
    found = cells(root)
    assert {code: texts(cell)[:2] for code, cell in found.items()} == {
        code: [code, "10"] for code in SCORES
    }
    assert {cell.get("data-band") for cell in found.values()} == {"green"}


def test_legend_names_the_organisation_thresholds(result):  # type: ignore[no-untyped-def]
    root = parse(brain_map_svg(result, LABELS, thresholds=Thresholds(55, 82.5), title="Map"))
    legend = next(g for g in root.iter(f"{{{NS['svg']}}}g") if g.get("class") == "legend")
    assert texts(legend) == ["R: below 55%", "Y: 55% to under 82.5%", "G: 82.5% and above"]


@pytest.mark.parametrize(
    ("percent", "text"), [(100.0, "100%"), (85.0, "85%"), (84.96, "84.9%"), (33.333, "33.3%")]
)
def test_percent_is_never_rounded_up_across_a_threshold(percent, text):  # type: ignore[no-untyped-def]
    assert format_percent(percent) == text
