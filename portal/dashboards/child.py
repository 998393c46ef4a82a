"""One child's adherence dashboard: the days, the activities, the dose per domain, the
child's states, home and school, and the notes, each chart with a table alternative."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, g, render_template, request
from flask_login import current_user, login_required
from markupsafe import Markup

from portal.extensions import client_address, db
from portal.helpers import clinical_child
from routines import charts_svg
from routines import child_dashboard as dash
from routines.children import child_today
from routines.map_svg import domain_label
from tenants.errors import ValidationError

bp = Blueprint("child_dashboard", __name__, url_prefix="/o/<org_slug>/children/<id:child_id>")

REFUSAL = "Adherence is part of the clinical record: only the child's clinicians and admins see it."
STATUS_WORDS = {"done": "Done", "partly": "Partly done", "skipped": "Skipped"}


@bp.before_request
@login_required
def _members_only() -> None:
    return None


def _presets(today: date, first: date | None) -> list[tuple[str, date, date]]:
    """Quick windows, all ending today."""
    found = [
        ("Last 4 weeks", today - timedelta(days=27), today),
        ("Last 3 months", today - timedelta(days=90), today),
        ("Last year", today - timedelta(days=dash.DEFAULT_DAYS - 1), today),
    ]
    if first is not None and first <= today:
        found.append(("Since the first plan", first, today))
    return found


def _charts(data: dash.Dashboard, name: str) -> dict[str, Markup]:
    """Every chart of the page. charts_svg escapes every piece of text it emits."""
    threshold = data.threshold
    heat = {day: dash.chart_value(f.adherence, threshold) for day, f in data.days}
    activity_rows = [
        (a.name, dash.chart_value(a.figures.adherence, threshold)) for a in data.activities
    ]
    side_rows = [
        (dash.SIDE_LABELS[side], dash.chart_value(f.adherence, threshold))
        for side, f in data.sides.items()
    ]
    states = [(w.week, w.figures.before_average, w.figures.after_average) for w in data.states]
    charts = {
        "heatmap": charts_svg.heatmap_svg(
            heat,
            start=data.date_from,
            end=data.date_to,
            title=f"Daily adherence for {name}",
            id_prefix="dash-heat",
            threshold=threshold,
        ),
        "activities": charts_svg.bar_chart_svg(
            activity_rows,
            title=f"Adherence per activity for {name}",
            id_prefix="dash-activities",
            threshold=threshold,
        ),
        "dose": charts_svg.dose_chart_svg(
            [w.week for w in data.weeks],
            {d: [w.minutes[d] for w in data.weeks] for d in data.domains},
            data.targets,
            title=f"Dose per domain per week for {name}",
            id_prefix="dash-dose",
            threshold=threshold,
        ),
        "states": charts_svg.state_chart_svg(
            states, title=f"{name}'s state before and after activities", id_prefix="dash-states"
        ),
        "sides": charts_svg.bar_chart_svg(
            side_rows,
            title=f"Home and school adherence for {name}",
            id_prefix="dash-sides",
            threshold=threshold,
        ),
    }
    return {key: Markup(svg) for key, svg in charts.items()}  # noqa: S704 - escaped by charts_svg


@bp.get("/adherence")
def child_adherence(child_id: int):  # type: ignore[no-untyped-def]
    record = clinical_child(child_id, REFUSAL)
    today = child_today(record, g.org)
    first = dash.first_effective(db.session, record)
    raw_from, raw_to = request.args.get("from", ""), request.args.get("to", "")
    page = {
        "child": record,
        "today": today,
        "presets": _presets(today, first),
        "raw_from": raw_from,
        "raw_to": raw_to,
        "percent": lambda ratio: dash.percent_words(ratio, g.org.adherence_threshold),
        "whole": lambda ratio: dash.whole_percent(ratio, g.org.adherence_threshold),
        "domain_label": domain_label,
        "side_labels": dash.SIDE_LABELS,
        "status_words": STATUS_WORDS,
    }
    try:
        date_from, date_to = dash.window(raw_from, raw_to, today=today, first_effective=first)
    except ValidationError as exc:
        return render_template("dashboards/child.html", error=exc, data=None, **page), 400
    dash.record_view(
        db.session,
        record,
        actor=current_user.user,
        date_from=date_from,
        date_to=date_to,
        ip=client_address(),
    )
    db.session.commit()
    data = dash.load(
        db.session,
        record,
        date_from=date_from,
        date_to=date_to,
        today=today,
        threshold=g.org.adherence_threshold,
    )
    return render_template(
        "dashboards/child.html",
        error=None,
        data=data,
        charts=_charts(data, record.display_name),
        **{**page, "raw_from": date_from.isoformat(), "raw_to": date_to.isoformat()},
    )
