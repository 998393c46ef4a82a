"""The adherence dashboard's SVG charts: well-formed, escaped, readable without colour."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from routines.charts_svg import (
    EMPTY,
    LABEL_CHARS,
    bar_chart_svg,
    dose_chart_svg,
    heatmap_svg,
    percent,
    state_chart_svg,
    step_for,
)

SVG = "{http://www.w3.org/2000/svg}"
NASTY = """Tom's <b>"big"</b> & loud"""


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it is well-formed


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def title_of(element: ET.Element) -> str:
    return element.find(f"{SVG}title").text or ""


def texts(element: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in element.iter(f"{SVG}text")]


def assert_safe_and_labelled(svg: str, prefix: str, title: str) -> ET.Element:
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{prefix}-title {prefix}-desc"
    assert root.find(f"{SVG}title").get("id") == f"{prefix}-title"
    assert root.find(f"{SVG}title").text == title
    assert root.find(f"{SVG}desc").get("id") == f"{prefix}-desc"
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    lowered = svg.lower()
    for forbidden in ("<script", "style=", "<style", "onload", "javascript:", "<b>"):
        assert forbidden not in lowered
    return root


# 1. Heatmap ------------------------------------------------------------------------


def test_heatmap_one_cell_per_day_weeks_as_columns_monday_on_top():
    start, end = date(2026, 3, 1), date(2026, 3, 31)  # 1 March 2026 is a Sunday
    days = {start + timedelta(n): 0.5 for n in range(31)}
    root = assert_safe_and_labelled(
        heatmap_svg(days, start=start, end=end, title="March", id_prefix="heat"), "heat", "March"
    )
    cells = {c.get("data-date"): c for c in by_class(root, "day")}
    assert len(cells) == 31
    assert min(cells) == "2026-03-01" and max(cells) == "2026-03-31"

    def at(day: str) -> tuple[float, float]:
        return float(cells[day].get("x")), float(cells[day].get("y"))

    # Sunday 1 March closes the first week; Monday 2 March opens the next column, on top.
    assert at("2026-03-02")[0] > at("2026-03-01")[0]
    assert at("2026-03-02")[1] < at("2026-03-01")[1]
    assert at("2026-03-02")[0] == at("2026-03-08")[0]  # Monday to Sunday share a column
    assert [at(f"2026-03-{d:02}")[1] for d in range(2, 9)] == sorted(
        at(f"2026-03-{d:02}")[1] for d in range(2, 9)
    )
    assert at("2026-03-09")[1] == at("2026-03-02")[1]
    assert [t for t in texts(root) if t in ("Mon", "Sun")] == ["Mon", "Sun"]
    assert "Mar 2026" in [t.text for t in by_class(root, "month")]


def test_heatmap_five_steps_nothing_scheduled_and_titles_in_words():
    start = date(2026, 3, 2)  # a Monday
    values = [0.0, 0.3, 0.5, 4 / 5, 0.999, 1.0, None]
    days = {start + timedelta(n): v for n, v in enumerate(values)}
    days[start + timedelta(7)] = 0.75
    end = start + timedelta(8)  # 10 March is missing from `days` altogether
    root = parse(heatmap_svg(days, start=start, end=end, title="T", id_prefix="h"))
    cells = {c.get("data-date"): c for c in by_class(root, "day")}
    steps = [cells[(start + timedelta(n)).isoformat()].get("data-step") for n in range(6)]
    assert steps == ["0", "1", "2", "3", "3", "4"]
    for missing in ("2026-03-08", "2026-03-10"):
        assert "none" in cells[missing].get("class").split()
        assert cells[missing].get("stroke-dasharray")  # drawn hollow, not just another colour
        assert title_of(cells[missing]).endswith(": nothing scheduled")
    assert title_of(cells["2026-03-03"]) == "Tue 3 Mar 2026: 30% done"
    assert title_of(cells["2026-03-09"]) == "Mon 9 Mar 2026: 75% done"
    assert title_of(cells["2026-03-06"]) == "Fri 6 Mar 2026: 99.9% done"
    fills = {c.get("data-step"): c.get("fill") for c in by_class(root, "day") if c.get("data-step")}
    assert len(set(fills.values())) == 5
    legend = texts(by_class(root, "legend")[0])
    assert legend == [
        "0% (none done)",
        "under 40%",
        "40% to under 80%",
        "80% to under 100%",
        "100% (all done)",
        "nothing scheduled",
    ]
    desc = root.find(f"{SVG}desc").text
    assert "7 days with routines, 3 at or above 80%; 2 with nothing scheduled" in desc


def test_heatmap_threshold_moves_the_steps():
    assert step_for(0.65, 0.8) == 2 and step_for(0.65, 0.6) == 3
    assert step_for(0.29, 0.6) == 1 and step_for(0.3, 0.6) == 2
    day = date(2026, 3, 3)
    root = parse(
        heatmap_svg({day: 0.65}, start=day, end=day, title="T", id_prefix="h", threshold=0.6)
    )
    assert by_class(root, "day")[0].get("data-step") == "3"
    assert "60% to under 100%" in texts(root)
    everything = parse(
        heatmap_svg({day: 1}, start=day, end=day, title="T", id_prefix="h", threshold=1)
    )
    assert not any(t.endswith("to under 100%") and t.startswith("100%") for t in texts(everything))


def test_a_leap_year_stays_legible_on_a_phone():
    start, end = date(2024, 1, 1), date(2024, 12, 31)
    days = {start + timedelta(n): (n % 5) / 4 if n % 7 else None for n in range(366)}
    days[date(2025, 1, 1)] = 1.0  # outside the range: ignored
    root = assert_safe_and_labelled(
        heatmap_svg(days, start=start, end=end, title="2024", id_prefix="year"), "year", "2024"
    )
    cells = by_class(root, "day")
    assert len(cells) == 366
    assert len(by_class(root, "none")) == 366 - sum(1 for n in range(366) if n % 7)
    # 53 weeks wrap into two rows of weeks, so the chart is about 500 wide, not 900
    assert len(by_class(root, "weekdays")) == 2
    assert float(root.get("width")) <= 520
    assert len({c.get("y") for c in cells}) == 14
    months = by_class(root, "month")
    assert [m.text[:3] for m in months] == [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",  # the second row of weeks opens in July
    ]  # fmt: skip
    assert months[0].text == "Jan 2024"
    rows: dict[str, list[float]] = {}
    for m in months:
        rows.setdefault(m.get("y"), []).append(float(m.get("x")))
    for xs in rows.values():  # labels in a row never sit on top of each other
        assert all(b - a >= 2 * 17 for a, b in zip(xs, xs[1:], strict=False))


def test_heatmap_empty_and_bad_input():
    day = date(2026, 3, 3)
    for days in ({}, {day: None}, {day - timedelta(1): 1.0}):
        root = assert_safe_and_labelled(
            heatmap_svg(days, start=day, end=day, title="Nothing <yet>", id_prefix="h"),
            "h",
            "Nothing <yet>",
        )
        assert texts(root) == [EMPTY] and not by_class(root, "day")
    with pytest.raises(ValueError, match="before the start"):
        heatmap_svg({}, start=day, end=day - timedelta(1), title="T", id_prefix="h")
    with pytest.raises(ValueError, match="between 0 and 1"):
        heatmap_svg({day: 1.2}, start=day, end=day, title="T", id_prefix="h")
    with pytest.raises(ValueError, match="id_prefix"):
        heatmap_svg({day: 1}, start=day, end=day, title="T", id_prefix='x" onload="')
    with pytest.raises(ValueError, match="threshold"):
        heatmap_svg({day: 1}, start=day, end=day, title="T", id_prefix="h", threshold=0)


# 2. Bars ---------------------------------------------------------------------------


def bars(root: ET.Element) -> dict[str, ET.Element]:
    return {r.get("data-label"): r for r in by_class(root, "row")}


def test_bars_proportional_with_percent_and_threshold_line():
    rows = [("Rocking", 1.0), ("Drumming", 0.5), ("Walk", 4 / 5), ("Swing", None)]
    svg = bar_chart_svg(rows, title="Per activity", id_prefix="act", note={"Walk": "8 of 10"})
    root = assert_safe_and_labelled(svg, "act", "Per activity")
    found = bars(root)
    assert list(found) == ["Rocking", "Drumming", "Walk", "Swing"]
    full, half = (by_class(found[k], "bar")[0] for k in ("Rocking", "Drumming"))
    x0, full_w = float(full.get("x")), float(full.get("width"))
    assert float(half.get("width")) == full_w / 2
    threshold = by_class(root, "threshold")[0]
    line = threshold.find(f"{SVG}line")
    assert float(line.get("x1")) == float(line.get("x2")) == x0 + 0.8 * full_w
    assert float(threshold.get("data-x")) == x0 + 0.8 * full_w
    assert line.get("stroke-dasharray")
    assert texts(threshold) == ["80% threshold"]
    values = ["".join(v.itertext()) for v in by_class(root, "value")]
    assert values == ["100%", "50%", "80%· 8 of 10"]
    assert title_of(by_class(found["Walk"], "bar")[0]) == "Walk: 80%, 8 of 10"
    # a None row has no bar, says so, and keeps its place
    assert not by_class(found["Swing"], "bar")
    assert "no routines counted" in texts(found["Swing"])
    assert title_of(by_class(found["Swing"], "no-data")[0]) == "Swing: no routines counted"
    desc = root.find(f"{SVG}desc").text
    assert desc.startswith("Rocking: 100%; Drumming: 50%; Walk: 80%; Swing: no routines counted.")


def test_bars_threshold_follows_the_setting_or_is_left_out():
    rows = [("Home", 1.0), ("School", 0.25)]
    root = parse(bar_chart_svg(rows, title="T", id_prefix="b", threshold=0.6))
    full = by_class(bars(root)["Home"], "bar")[0]
    x = float(by_class(root, "threshold")[0].get("data-x"))
    assert x == float(full.get("x")) + 0.6 * float(full.get("width"))
    assert "60% threshold" in texts(root)
    none = parse(bar_chart_svg(rows, title="T", id_prefix="b", threshold=None))
    assert not by_class(none, "threshold") and "threshold" not in none.find(f"{SVG}desc").text


def test_long_labels_are_cut_with_an_ellipsis_and_kept_whole_in_the_title():
    long = "Rocking chair with a weighted blanket and the favourite lullaby"
    root = parse(bar_chart_svg([(long, 0.7), ("Walk", 0.9)], title="T", id_prefix="b"))
    labels = by_class(root, "label")
    shown = texts(labels[0])[0]
    assert shown.endswith("…") and len(shown) <= LABEL_CHARS and long.startswith(shown[:-1])
    assert title_of(labels[0]) == long
    assert texts(labels[1]) == ["Walk"] and title_of(labels[1]) == "Walk"


def test_bar_labels_and_notes_are_escaped():
    svg = bar_chart_svg([(NASTY, 0.5)], title=NASTY, id_prefix="b", note={NASTY: "<i>&"})
    root = assert_safe_and_labelled(svg, "b", NASTY)
    assert "<i>" not in svg and "&lt;b&gt;&quot;big&quot;&lt;/b&gt; &amp; loud" in svg
    assert bars(root)[NASTY] is not None
    assert title_of(by_class(root, "label")[0]) == NASTY
    assert title_of(by_class(root, "bar")[0]) == f"{NASTY}: 50%, <i>&"


def test_bars_empty_and_bad_values():
    root = assert_safe_and_labelled(bar_chart_svg([], title="T", id_prefix="b"), "b", "T")
    assert texts(root) == [EMPTY]
    with pytest.raises(ValueError, match="between 0 and 1"):
        bar_chart_svg([("Walk", -0.1)], title="T", id_prefix="b")
    with pytest.raises(ValueError, match="between 0 and 1"):
        bar_chart_svg([("Walk", float("nan"))], title="T", id_prefix="b")


# 3. Dose ---------------------------------------------------------------------------

MONDAY = date(2026, 3, 2)


def panels(root: ET.Element) -> list[ET.Element]:
    return by_class(root, "panel")


def test_dose_one_panel_per_domain_in_order_with_target_and_threshold_lines():
    weeks = [MONDAY + timedelta(weeks=n) for n in range(4)]
    minutes = {"self_regulation": [0, 60, 120, 150], "sensory_integration": [30, 30, 30, 30]}
    svg = dose_chart_svg(
        weeks,
        minutes,
        {"self_regulation": 120},
        title="Dose",
        id_prefix="dose",
        labels={"self_regulation": NASTY},
    )
    root = assert_safe_and_labelled(svg, "dose", "Dose")
    found = panels(root)
    assert [p.get("data-domain") for p in found] == ["self_regulation", "sensory_integration"]
    regulation, sensory = found
    assert texts(regulation)[0] == f"{NASTY}· minutes a week"
    assert texts(sensory)[0] == "Sensory integration· minutes a week"
    columns = by_class(regulation, "bar")
    assert [int(c.get("data-minutes")) for c in columns] == [0, 60, 120, 150]
    assert [c.get("data-week") for c in columns] == [w.isoformat() for w in weeks]
    assert title_of(columns[1]) == "Week of Mon 9 Mar 2026: 60 minutes, target 120"
    base = float(columns[2].get("y")) + float(columns[2].get("height"))
    tall = base - float(columns[2].get("y"))  # the 120-minute column
    target, threshold = by_class(regulation, "target")[0], by_class(regulation, "threshold")[0]
    assert base - float(target.get("data-y")) == pytest.approx(tall, abs=0.1)
    assert base - float(threshold.get("data-y")) == pytest.approx(0.8 * tall, abs=0.1)
    assert threshold.find(f"{SVG}line").get("stroke-dasharray")
    assert not target.find(f"{SVG}line").get("stroke-dasharray")
    assert "Target 120 min" in texts(target) and "80%: 96 min" in texts(threshold)
    assert [t for t in texts(regulation) if t.isdigit()] == ["0", "60", "120", "180"]
    # no target: no lines, and it says so
    assert not by_class(sensory, "target") and not by_class(sensory, "threshold")
    assert "No weekly target" in texts(sensory)
    desc = root.find(f"{SVG}desc").text
    assert "weekly target 120 minutes; 2 of 4 weeks reached 80% of it" in desc
    assert "Sensory integration: no weekly target; 120 minutes in all." in desc


def test_a_year_of_weeks_keeps_thin_separate_bars_and_few_week_labels():
    weeks = [MONDAY + timedelta(weeks=n) for n in range(53)]
    minutes = {"cognitive": [n * 3 for n in range(53)], "relational": [45] * 53}
    root = parse(
        dose_chart_svg(
            weeks, minutes, {"cognitive": 60, "relational": 50}, title="Year", id_prefix="d"
        )
    )
    assert len(panels(root)) == 2
    for panel in panels(root):
        columns = by_class(panel, "bar")
        assert len(columns) == 53
        xs = [float(c.get("x")) for c in columns]
        width = float(columns[0].get("width"))
        assert width >= 1 and all(b - a > width for a, b in zip(xs, xs[1:], strict=False))
        assert 5 <= len(by_class(panel, "week")) <= 10
    assert len(by_class(root, "week")[0].text.split()) == 2  # "2 Mar"


def test_dose_threshold_setting_and_empty_and_bad_input():
    weeks = [MONDAY]
    root = parse(
        dose_chart_svg(weeks, {"x": [10]}, {"x": 100}, title="T", id_prefix="d", threshold=0.5)
    )
    assert "50%: 50 min" in texts(by_class(root, "threshold")[0])
    for empty in (
        dose_chart_svg([], {}, {}, title="T", id_prefix="d"),
        dose_chart_svg(weeks, {}, {}, title="T", id_prefix="d"),
    ):
        assert texts(assert_safe_and_labelled(empty, "d", "T")) == [EMPTY]
    with pytest.raises(ValueError, match="one number of minutes per week"):
        dose_chart_svg(weeks, {"x": [1, 2]}, {}, title="T", id_prefix="d")
    with pytest.raises(ValueError, match="negative"):
        dose_chart_svg(weeks, {"x": [-5]}, {}, title="T", id_prefix="d")
    with pytest.raises(ValueError, match="negative"):
        dose_chart_svg(weeks, {"x": [5]}, {"x": -1}, title="T", id_prefix="d")


# 4. State --------------------------------------------------------------------------


def test_state_calm_at_the_bottom_two_series_and_gaps_break_lines():
    weeks = [MONDAY + timedelta(weeks=n) for n in range(6)]
    points = [
        (weeks[0], 3, 1),
        (weeks[1], 2, 0),
        (weeks[2], None, 0.5),
        (weeks[3], 2, None),
        (weeks[4], 1, 0),
        (weeks[5], None, 0),
    ]
    root = assert_safe_and_labelled(
        state_chart_svg(list(reversed(points)), title="State", id_prefix="st"), "st", "State"
    )
    levels = {t.text: float(t.get("y")) for t in by_class(root, "level")}
    assert list(levels) == ["Calm", "Alert", "Alarm", "Fear", "Terror"]
    assert levels["Calm"] > levels["Alert"] > levels["Terror"]  # calm lowest on the page
    before, after = by_class(root, "before")[0], by_class(root, "after")[0]
    assert len(by_class(before, "marker")) == 4 and len(by_class(after, "marker")) == 5
    assert len(by_class(before, "line")) == 2  # the gap in week 3 breaks the line
    assert len(by_class(after, "line")) == 2
    assert all(p.get("stroke-dasharray") for p in by_class(before, "line"))
    assert not any(p.get("stroke-dasharray") for p in by_class(after, "line"))
    assert {m.tag for m in by_class(before, "marker")} == {f"{SVG}circle"}
    assert {m.tag for m in by_class(after, "marker")} == {f"{SVG}rect"}
    first_before = by_class(before, "marker")[0]
    assert title_of(first_before) == "Week of Mon 2 Mar 2026: before activities, Fear"
    assert float(first_before.get("cy")) == pytest.approx(levels["Fear"] - 4)
    half = by_class(after, "marker")[2]
    assert (
        title_of(half) == "Week of Mon 16 Mar 2026: after activities, between Calm and Alert (0.5)"
    )
    xs = [float(m.get("cx")) for m in by_class(before, "marker")]
    assert xs == sorted(xs)  # sorted by date whatever the input order
    assert "Before activities: on average Alarm." in root.find(f"{SVG}desc").text
    assert "before" in texts(by_class(root, "legend")[0])


def test_state_levels_are_escaped_and_empty_and_off_scale_input():
    points = [(MONDAY, 0, 1), (MONDAY + timedelta(weeks=1), 1, 1)]
    svg = state_chart_svg(points, title="T", id_prefix="s", levels=("Settled", NASTY))
    root = assert_safe_and_labelled(svg, "s", "T")
    assert [t.text for t in by_class(root, "level")] == ["Settled", NASTY]
    assert title_of(by_class(root, "marker")[1]).endswith(f"before activities, {NASTY}")
    for empty in ([], [(MONDAY, None, None)]):
        assert texts(parse(state_chart_svg(empty, title="T", id_prefix="s"))) == [EMPTY]
    with pytest.raises(ValueError, match="off the scale"):
        state_chart_svg([(MONDAY, 5, 0)], title="T", id_prefix="s")
    with pytest.raises(ValueError, match="two levels"):
        state_chart_svg(points, title="T", id_prefix="s", levels=("Calm",))


# Shared ----------------------------------------------------------------------------


def test_percent_truncates_rather_than_rounding_up():
    assert percent(0.846) == "84.6%" and percent(4 / 5) == "80%" and percent(2 / 3) == "66.6%"
    assert percent(0.1 + 0.2) == "30%"


def test_two_charts_on_one_page_never_share_an_id():
    day = date(2026, 3, 3)
    page = heatmap_svg({day: 1}, start=day, end=day, title="A", id_prefix="one") + bar_chart_svg(
        [("Walk", 1)], title="B", id_prefix="two"
    )
    ids = [e.get("id") for e in parse(f"<div>{page}</div>").iter() if e.get("id")]
    assert len(ids) == len(set(ids)) == 4
