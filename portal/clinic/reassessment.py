"""Reassessment: comparing a child's maps over time, and the one-page reassessment report.

Only the child's clinicians and admins see these pages (portal.helpers.clinical_child):
carers and teachers on the team get 403, anyone else 404, as for a child that does not
exist. Every view is written to the audit trail. The PDF is the printable HTML report drawn
by WeasyPrint, which may load nothing but Cadence's own static files from disk.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import unicodedata
import warnings
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Blueprint, abort, current_app, g, make_response, render_template, request
from flask_login import current_user, login_required
from markupsafe import Markup

from portal.extensions import client_address, db
from portal.helpers import clinical_child, external_url
from routines import assessments as assessment_ops
from routines import reassessment as ops
from routines.children import child_today
from routines.map_svg import brain_map_svg, domain_label, format_percent
from routines.models import Assessment, Child
from tenants.errors import ValidationError

logger = logging.getLogger(__name__)

bp = Blueprint(
    "reassessment", __name__, url_prefix="/o/<org_slug>/children/<id:child_id>/assessments"
)

REFUSAL = "Reassessments and comparing maps are for the child's clinicians and admins."


@bp.before_request
@login_required
def _members_only() -> None:
    return None


def _child(child_id: int) -> Child:
    return clinical_child(child_id, REFUSAL)


# The maps' text wears a white halo drawn with paint-order, which WeasyPrint does not
# support: it would paint the halo over the letters and hide them. The PDF goes without.
_HALO = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"'


def _map_svg(child: Child, assessment: Assessment, id_prefix: str, pdf: bool = False) -> Markup:
    result = assessment_ops.map_for(assessment, g.org)
    labels = {item.code: item.label for item in assessment.framework.items}
    svg = brain_map_svg(
        result,
        labels,
        thresholds=assessment_ops.thresholds_of(g.org),
        title=f"Functional brain map of {child.display_name}, "
        f"{ops.long_date(assessment.assessed_on)}",
        id_prefix=id_prefix,
    )
    # routines.map_svg escapes every piece of text it draws.
    return Markup(svg.replace(_HALO, "") if pdf else svg)  # noqa: S704


def _words() -> dict[str, Any]:
    return {
        "long_date": ops.long_date,
        "age_words": ops.age_words,
        "adherence_words": ops.adherence_words,
        "minutes_words": ops.minutes_words,
        "pct": format_percent,
        "domain_label": domain_label,
    }


# --- the report -----------------------------------------------------------------------------


def _report_context(child: Child, assessment: Assessment, pdf: bool = False) -> dict[str, Any]:
    if assessment.status != assessment_ops.COMPLETE:
        raise ValidationError("Complete the assessment to see its reassessment report.")
    summary = ops.reassess(db.session, assessment, g.org, today=child_today(child, g.org))
    context: dict[str, Any] = {
        "child": child,
        "assessment": assessment,
        "summary": summary,
        "pdf": pdf,
        "threshold": ops.adherence_words(Fraction(str(g.org.adherence_threshold))),
        **_words(),
    }
    if summary is not None:
        review = ops.activities_to_review(db.session, summary, g.org.adherence_threshold)
        context.update(
            review=review[: ops.REVIEW_LIMIT],
            review_more=max(0, len(review) - ops.REVIEW_LIMIT),
            previous_svg=_map_svg(child, summary.previous, "previous-map", pdf),
            current_svg=_map_svg(child, assessment, "current-map", pdf),
        )
    return context


@bp.get("/<id:assessment_id>/report")
def report(child_id: int, assessment_id: int):  # type: ignore[no-untyped-def]
    child = _child(child_id)
    assessment = assessment_ops.get_assessment(db.session, child, assessment_id)
    context = _report_context(child, assessment)
    assessment_ops.record_view(
        db.session, assessment, actor=current_user.user, page="report", ip=client_address()
    )
    db.session.commit()
    return render_template("reassessment/report.html", **context)


PDF_UNAVAILABLE = (
    "The PDF cannot be made on this server just now (its PDF library could not load). "
    "The printable report is at {url}: open it and print it, or save it as a PDF from "
    "your browser."
)


def _weasyprint(html_url: str) -> ModuleType:
    try:
        with warnings.catch_warnings():
            # WeasyPrint warns at import about system libraries that future versions need.
            warnings.simplefilter("ignore", DeprecationWarning)
            import weasyprint
    except (ImportError, OSError) as exc:
        logger.warning("PDF reports are unavailable: %s", exc)
        abort(503, description=PDF_UNAVAILABLE.format(url=html_url))
    return weasyprint


def _static_file(url: str) -> Path:
    """The file under the static folder that a URL of this site names; ValueError for
    anything else, so WeasyPrint never reaches the network."""
    parts = urlsplit(url)
    prefix = f"{current_app.static_url_path}/"
    if (
        parts.scheme not in ("http", "https")
        or parts.netloc != request.host
        or not parts.path.startswith(prefix)
    ):
        raise ValueError(f"the PDF report loads only Cadence's own static files, not {url}")
    folder = Path(current_app.static_folder or "static").resolve()
    path = (folder / unquote(parts.path[len(prefix) :])).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        raise ValueError(f"no static file at {url}")
    return path


def _url_fetcher(weasyprint: ModuleType) -> Any:
    def mime_type(path: Path) -> str:
        return mimetypes.guess_type(path.name)[0] or "application/octet-stream"

    if not hasattr(weasyprint, "URLFetcher"):  # WeasyPrint before URLFetcher: a function

        def fetch(url: str) -> dict[str, Any]:
            if url.startswith("data:"):
                return weasyprint.default_url_fetcher(url)  # type: ignore[no-any-return]
            path = _static_file(url)
            return {
                "string": path.read_bytes(),
                "mime_type": mime_type(path),
                "redirected_url": url,
            }

        return fetch

    class StaticFiles(weasyprint.URLFetcher):  # type: ignore[misc,name-defined]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = _static_file(url)
            return weasyprint.urls.URLFetcherResponse(
                url, path.read_bytes(), {"Content-Type": mime_type(path)}
            )

    return StaticFiles(allowed_protocols=("data",))


def _file_name(child: Child, assessment: Assessment) -> str:
    name = unicodedata.normalize("NFKD", child.display_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "child"
    return f"reassessment-{slug}-{assessment.assessed_on.isoformat()}.pdf"


@bp.get("/<id:assessment_id>/report.pdf")
def report_pdf(child_id: int, assessment_id: int):  # type: ignore[no-untyped-def]
    child = _child(child_id)
    assessment = assessment_ops.get_assessment(db.session, child, assessment_id)
    context = _report_context(child, assessment, pdf=True)
    if context["summary"] is None:
        raise ValidationError(
            f"This is {child.display_name}'s first complete assessment: there is nothing to "
            "compare it with yet, so there is no reassessment report."
        )
    html_url = external_url("reassessment.report", child_id=child.id, assessment_id=assessment.id)
    weasyprint = _weasyprint(html_url)
    html = render_template("reassessment/report.html", **context)
    pdf = weasyprint.HTML(
        string=html, base_url=request.host_url, url_fetcher=_url_fetcher(weasyprint)
    ).write_pdf()
    assessment_ops.record_view(
        db.session, assessment, actor=current_user.user, page="report_pdf", ip=client_address()
    )
    db.session.commit()
    response = make_response(pdf)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{_file_name(child, assessment)}"'
    return response


# --- comparing maps -------------------------------------------------------------------------


@bp.get("/compare")
def compare(child_id: int):  # type: ignore[no-untyped-def]
    child = _child(child_id)
    before, after = ops.comparable(db.session, child, request.args.get("a"), request.args.get("b"))
    domains, _ = ops.domain_changes(before, after, g.org)
    items = ops.item_changes(before, after, g.org)
    assessment_ops.record_child_view(
        db.session,
        child,
        actor=current_user.user,
        page="compare",
        ip=client_address(),
        assessments=[before.id, after.id],
    )
    db.session.commit()
    return render_template(
        "reassessment/compare.html",
        child=child,
        before=before,
        after=after,
        domains=domains,
        items=items,
        before_svg=_map_svg(child, before, "before-map"),
        after_svg=_map_svg(child, after, "after-map"),
        **_words(),
    )


@bp.get("/all")
def all_maps(child_id: int):  # type: ignore[no-untyped-def]
    child = _child(child_id)
    complete = ops.complete_assessments(db.session, child)
    assessment_ops.record_child_view(
        db.session,
        child,
        actor=current_user.user,
        page="all_maps",
        ip=client_address(),
        assessments=[a.id for a in complete],
    )
    db.session.commit()
    maps = [
        (a, assessment_ops.map_for(a, g.org), _map_svg(child, a, f"map-{a.id}")) for a in complete
    ]
    return render_template("reassessment/all.html", child=child, maps=maps, **_words())
