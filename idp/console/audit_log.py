"""``/console/audit/``: the auditor searches and exports the audit log and checks its hash chain.

Results show internal ids only, as the log holds them. An auditor may type an email to search by;
it is looked up and forgotten, and the search itself is audited by filter names, never values
that are emails (PDPA). Bad input gets the form back with a 400, an unknown email a plain notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from flask_babel import gettext as _

from idp import audit
from idp.accounts import roles
from idp.accounts.session import AuthContext
from idp.audit import search
from idp.db import get_session

bp = Blueprint("console_audit", __name__, url_prefix="/console/audit")

FIELDS = ("from", "to", "event", "actor", "subject", "client")
# Config can lower or raise both: AUDIT_VERIFY_INLINE_MAX, AUDIT_EXPORT_MAX.
VERIFY_INLINE_MAX = 10_000  # walked on every page view (measured ~0.3-0.4 s on SQLite); beyond: the verify page
EXPORT_MAX = search.EXPORT_MAX


def filter_message(exc: search.InvalidFilter) -> str:
    """The field and what is wrong with it, for the error box above the refilled form."""
    problem = {
        "bad_date": _("Enter the date as YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)."),
        "reversed_range": _("The end of the time range must be after its start."),
        "bad_person": _("Enter an email address or a numeric internal id."),
        "bad_event": _("Choose an event from the list."),
        "bad_client": _("A client_id is at most 64 characters long."),
        "bad_page": _("This page link is not valid. Start the search again."),
    }.get(exc.problem, _("The request could not be understood."))
    return _("%(field)s: %(problem)s", field=field_label(exc.field), problem=problem)


def field_label(field: str) -> str:
    return {"from": _("From (UTC)"), "to": _("To (UTC)"), "event": _("Event"), "actor": _("Actor"),
            "subject": _("Subject"), "client": _("e-Service (client_id)"),
            "before": _("Page"), "after": _("Page")}.get(field, field)


def no_match_message(exc: search.NoMatch) -> str:
    if exc.field == "client":
        return _("There is no e-Service with that client_id.")
    return _("%(field)s: there is no account with that email.", field=field_label(exc.field))


def chain_problem(code: str) -> str:
    return {"edited": _("the event was changed after it was written"),
            "missing": _("an event is missing"),
            "out_of_order": _("the event is out of order or does not follow the one before it"),
            "head_mismatch": _("the chain's recorded end does not match its last event")}.get(code, code)


def _render(status: int = 200, *, page: search.Page | None = None, error: str | None = None,
            error_field: str | None = None, notice: str | None = None) -> tuple[str, int]:
    db = get_session()
    kept = {name: request.args[name] for name in FIELDS if request.args.get(name, "").strip()}
    inline_max = int(current_app.config.get("AUDIT_VERIFY_INLINE_MAX", VERIFY_INLINE_MAX))
    return render_template(
        "console/audit/index.html", page=page, error=error, notice=notice, form=request.args, kept=kept,
        error_field=error_field if error_field in FIELDS else None,
        events=search.event_names(db), chain=search.chain_status(db, inline_max=inline_max),
        chain_problem=chain_problem), status


def _audited(ctx: AuthContext, event: audit.Event, filters: search.Filters, user_id: int | None = None,
             **details: Any) -> None:
    audit.record(get_session(), event, user_id=user_id, by=ctx.user.id, filters=filters.names(), **details)


def _read() -> tuple[search.Filters, int | None, int | None]:
    """The filters and the page keys (``before``/``after``), so that a bad page key is a 400 too."""
    return (search.parse_filters(request.args), search.parse_seq(request.args.get("before"), field="before"),
            search.parse_seq(request.args.get("after"), field="after"))


@bp.route("/")
@roles.require_role("auditor")
def index(ctx: AuthContext) -> tuple[str, int]:
    db = get_session()
    audit.seal_pending(db)
    try:
        filters, before, after = _read()
        criteria = search.resolve(db, filters)
    except search.InvalidFilter as exc:
        return _render(400, error=filter_message(exc), error_field=exc.field)
    except search.NoMatch as exc:
        _audited(ctx, audit.Event.AUDIT_SEARCHED, filters)
        return _render(page=search.Page([], None, None), notice=no_match_message(exc))
    _audited(ctx, audit.Event.AUDIT_SEARCHED, filters, criteria.user_id)
    return _render(page=search.search(db, criteria, before=before, after=after))


@bp.route("/export.csv")
@roles.require_role("auditor")
def export(ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    audit.seal_pending(db)
    try:
        filters = search.parse_filters(request.args)
        criteria = search.resolve(db, filters)
    except search.InvalidFilter as exc:
        return _render(400, error=filter_message(exc), error_field=exc.field)
    except search.NoMatch as exc:
        _audited(ctx, audit.Event.AUDIT_SEARCHED, filters)
        return _render(400, page=search.Page([], None, None), notice=no_match_message(exc))
    upto = search.head_seq(db)  # a snapshot: events appended while streaming (this export's own) stay out
    rows, most = search.count(db, criteria, upto=upto), int(current_app.config.get("AUDIT_EXPORT_MAX", EXPORT_MAX))
    if rows > most:
        return _render(400, error=_("%(count)d events match; at most %(max)d can be exported at once. "
                                    "Narrow the time range.", count=rows, max=most))
    _audited(ctx, audit.Event.AUDIT_EXPORTED, filters, criteria.user_id, rows=rows)
    factory = current_app.extensions["idp.db"]

    def body() -> Iterator[str]:
        # Its own session, opened when the server starts sending and closed when it stops: a response
        # that is never read holds no connection (the request's session ends with the request).
        with factory() as own:
            yield from search.csv_lines(search.export_rows(own, criteria, upto=upto, limit=most))

    return Response(body(), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{search.export_filename(filters)}"',
        "Cache-Control": "no-store"})


@bp.route("/verify")
@roles.require_role("auditor")
def verify(ctx: AuthContext) -> str:
    audit.seal_pending(get_session())
    return render_template("console/audit/verify.html", chain=search.verify_chain(get_session()),
                           chain_problem=chain_problem)
