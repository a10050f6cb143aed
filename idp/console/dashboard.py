"""``/console/dashboard/``: sign-ins, accounts, proofing and e-Services over a date range, for admins and auditors.

The figures come from :mod:`idp.stats.dashboard`; this module names them in the reader's language
and hands them to :mod:`idp.console.charts`. Each chart is followed by a table of the same numbers.
A date range that cannot be read still gives the page, for the default range, with the reason and
status 400.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint
from flask import render_template
from flask import request
from flask_babel import get_locale
from flask_babel import gettext as _

from idp import clock
from idp.accounts import roles
from idp.accounts.session import AuthContext
from idp.console import charts
from idp.console.charts import Chart
from idp.console.charts import Series
from idp.db import get_session
from idp.stats import dashboard as stats
from idp.stats.dashboard import DateRange

bp = Blueprint("console_dashboard", __name__, url_prefix="/console/dashboard")

DEFAULT_DAYS = 30
MAX_DAYS = 366
CHART_SERVICES = 20  # the chart shows the busiest; the table lists every e-Service
EARLIEST = dt.date(2000, 1, 1)


class BadRange(ValueError):
    """A date range that cannot be shown; the message is for the person who chose it."""


def default_range(today: dt.date) -> DateRange:
    return DateRange(today - dt.timedelta(days=DEFAULT_DAYS - 1), today)


def parse_range(start: str | None, end: str | None, *, today: dt.date) -> DateRange:
    """The range asked for in the form; a missing end is today, a missing start 30 days before the end.

    :raises BadRange: a date that is not YYYY-MM-DD (or before 2000, or over a year ahead), an end before
        the start, or more than ``MAX_DAYS`` days
    """
    last = _date(end, _("To"), today=today) or today
    first = _date(start, _("From"), today=today) or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise BadRange(_("The end of the range is before its start."))
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRange(_("Choose at most %(num)d days.", num=MAX_DAYS))
    return DateRange(first, last)


def _date(value: str | None, name: str, *, today: dt.date) -> dt.date | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None or not EARLIEST <= day <= today + dt.timedelta(days=MAX_DAYS):
        raise BadRange(_("%(name)s: enter a date written YYYY-MM-DD, for example %(example)s.",
                         name=name, example=today.isoformat()))
    return day


@bp.route("/")
@roles.require_role("admin", "auditor")
def index(ctx: AuthContext) -> tuple[str, int]:
    now = clock.utc_now()
    error = None
    try:
        rng = parse_range(request.args.get("from"), request.args.get("to"), today=now.date())
    except BadRange as exc:
        error, rng = str(exc), default_range(now.date())
    db = get_session()
    sla = stats.review_sla(db, rng, now=now)
    page = render_template(
        "console/dashboard.html", rng=rng, error=error, sla=sla, empty=_("No data in this range."),
        signins=signin_charts(stats.signins_per_day(db, rng)), accounts=accounts_chart(stats.accounts_by_ial(db)),
        funnel=funnel_chart(stats.proofing_funnel(db, rng)), sla_chart=sla_chart(sla),
        services=services_chart(stats.eservice_activity(db, rng, locale=str(get_locale() or ""))),
        chart_services=CHART_SERVICES, max_days=MAX_DAYS, charts=charts)
    return page, 400 if error else 200


def signin_charts(daily: stats.DailySignins) -> tuple[Chart, Chart]:
    days = tuple(day.isoformat() for day in daily.days)
    short = tuple(day.strftime("%m-%d") for day in daily.days)
    names = authenticator_names()
    by_aal = Chart(
        id="chart-aal", title=_("Sign-ins per day by authentication level (AAL)"),
        desc=_("Stacked bars, one per day (UTC): sign-ins and step-ups at AAL1, AAL2 and AAL3. "
               "The table below gives the same numbers."),
        category_heading=_("Day (UTC)"), categories=days, axis_labels=short,
        series=tuple(Series(f"AAL{level}", daily.by_aal[level]) for level in stats.AALS))
    by_type = Chart(
        id="chart-authenticators", title=_("Authenticator uses per day"),
        desc=_("Stacked bars, one per day (UTC): each authenticator used to sign in or step up. "
               "The table below gives the same numbers."),
        category_heading=_("Day (UTC)"), categories=days, axis_labels=short,
        series=tuple(Series(names[kind], daily.by_authenticator[kind]) for kind in stats.AUTHENTICATORS))
    return by_aal, by_type


def authenticator_names() -> dict[str, str]:
    return {"pwd": _("Password"), "otp": _("One-time code (TOTP)"), "recovery": _("Recovery code"),
            "swk": _("Passkey or security key"), "hwk": _("Certified security key")}


def accounts_chart(counts: dict[int, int]) -> Chart:
    return Chart(
        id="chart-ial", title=_("Accounts by identity assurance level (IAL), now"),
        desc=_("Bars for accounts in use at IAL1, IAL2 and IAL3 today; the date range does not apply."),
        category_heading=_("Level"), categories=tuple(f"IAL{level}" for level in stats.IALS),
        series=(Series(_("Accounts"), tuple(counts[level] for level in stats.IALS)),))


def funnel_chart(funnel: stats.Funnel) -> Chart:
    stages = (
        (_("Started"), funnel.started),
        (_("Approved automatically"), funnel.approved_automatically),
        (_("Sent to review"), funnel.to_review),
        (_("Approved by an officer"), funnel.approved_by_officer),
        (_("Rejected"), funnel.rejected),
        (_("Withdrawn or expired"), funnel.withdrawn),
        (_("Still open"), funnel.open),
    )
    return Chart(
        id="chart-funnel", title=_("Identity proofing: applications started in the range"),
        desc=_("Horizontal bars: applications started in the range, and what has become of them so far."),
        category_heading=_("Stage"), categories=tuple(name for name, _count in stages),
        series=(Series(_("Applications"), tuple(count for _name, count in stages)),))


def sla_chart(sla: stats.ReviewSla) -> Chart:
    return Chart(
        id="chart-sla", title=_("Review decisions against the due date"),
        desc=_("Horizontal bars: officers' decisions in the range on applications sent to review, "
               "made by the due date and after it."),
        category_heading=_("Decisions"), categories=(_("By the due date"), _("After the due date")),
        series=(Series(_("Decisions"), (sla.within_sla, sla.late)),))


def services_chart(rows: list[stats.ServiceActivity]) -> tuple[Chart, Chart]:
    """The chart of the busiest e-Services, and a chart object holding them all (for the table)."""
    def chart(part: list[stats.ServiceActivity]) -> Chart:
        return Chart(
            id="chart-services", title=_("Sign-ins and refusals per e-Service"),
            desc=_("Horizontal bars, two per e-Service: authorizations it received in the range (sign-ins) "
                   "and authorizations refused."),
            category_heading=_("e-Service"), categories=tuple(row.name for row in part),
            series=(Series(_("Sign-ins"), tuple(row.authorized for row in part)),
                    Series(_("Refused"), tuple(row.refused for row in part))))

    return chart(rows[:CHART_SERVICES]), chart(rows)
