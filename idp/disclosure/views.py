"""Blueprint ``disclosure``: on My data, what e-Services received and the consent receipts.

``/my-data/disclosures`` lists the disclosure log (search, pages, CSV and JSON download);
``/my-data/receipts`` lists the consent receipts (download as ``.jws`` or ``.json``, or by
email). Every route reads only the signed-in person's own rows: another person's receipt id
is "not found".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp import audit
from idp import clock
from idp import journey
from idp.accounts.session import AuthContext
from idp.db import get_session
from idp.disclosure import log
from idp.disclosure import messages
from idp.disclosure import receipts
from idp.disclosure import search_form
from idp.oidc.consent import describe

bp = Blueprint("disclosure", __name__)


def _search(user_id: int) -> tuple[search_form.SearchForm, list[tuple[int, str]]]:
    db = get_session()
    services = log.services(db, user_id)
    names = log.display_names(db, (cid for cid, _name in services), str(get_locale()))
    form = search_form.read(request.args, services={cid for cid, _name in services})
    return form, sorted(((cid, names.get(cid, name)) for cid, name in services), key=lambda s: s[1].lower())


def _download(body: str, *, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/my-data/disclosures")
@journey.signed_in
def disclosures(*, ctx: AuthContext) -> tuple[str, int] | str:
    form, services = _search(ctx.user.id)
    page = None
    if not form.errors:
        number = request.args.get("page", "1")
        page = log.search(get_session(), ctx.user.id, form.filters,
                          page=int(number) if number.isdigit() and len(number) < 7 else 1)
    errors = {name: messages.date_error(name, code) for name, code in form.errors.items()}
    names = dict(services)
    html = render_template("disclosure/log.html", ctx=ctx, form=form, services=services, page=page, errors=errors,
                           name_of=lambda row: names.get(row.client_id, row.service_name),
                           summary=[(f"{name}-day", message) for name, message in errors.items()],
                           claim_words=messages.claim_words, via_words=messages.via_words,
                           retention_days=log.retention(current_app.config).days)
    return (html, 400) if form.errors else html


@bp.get("/my-data/disclosures.<any(csv, json):kind>")
@journey.signed_in
def export(kind: str, *, ctx: AuthContext) -> Response:
    form, _services = _search(ctx.user.id)
    if form.errors:
        query: dict[str, Any] = form.query()
        return redirect(url_for("disclosure.disclosures", **query))
    db = get_session()
    rows = log.everything(db, ctx.user.id, form.filters)
    now = clock.utc_now()
    audit.record(db, audit.Event.DATA_EXPORTED, user_id=ctx.user.id, format=log.EXPORT_FORMAT, kind=kind,
                 rows=len(rows))
    name = f"my-disclosures-{now.strftime('%Y%m%d')}.{kind}"
    if kind == "csv":
        return _download("".join(log.csv_lines(db, rows)), mimetype="text/csv", filename=name)
    return _download(log.as_json(db, rows, now=now), mimetype="application/json", filename=name)


@bp.get("/my-data/receipts")
@journey.signed_in
def receipt_list(*, ctx: AuthContext) -> str:
    db = get_session()
    rows = receipts.list_receipts(db, ctx.user.id)
    names = log.display_names(db, (r.client_id for r in rows), str(get_locale()))
    return render_template("disclosure/receipts.html", ctx=ctx, rows=rows, describe=describe,
                           name_of=lambda row: names.get(row.client_id, row.service_name))


@bp.get("/my-data/receipts/<receipt_id>.<any(jws, json):kind>")
@journey.signed_in
def receipt_download(receipt_id: str, kind: str, *, ctx: AuthContext) -> Response:
    row = receipts.find_receipt(get_session(), ctx.user.id, receipt_id)
    if row is None:
        abort(404)
    name = f"consent-receipt-{row.receipt_id}.{kind}"
    if kind == "jws":
        return _download(row.jws, mimetype="application/jose", filename=name)
    return _download(receipts.as_json(row), mimetype="application/json", filename=name)


@bp.post("/my-data/receipts/<receipt_id>/email")
@journey.signed_in
def receipt_email(receipt_id: str, *, ctx: AuthContext) -> Response:
    row = receipts.find_receipt(get_session(), ctx.user.id, receipt_id)
    if row is None:
        abort(404)
    messages.send_receipt(ctx.user.email, row,
                          link=url_for("disclosure.receipt_download", receipt_id=row.receipt_id, kind="json",
                                       _external=True))
    flash(_("We sent the receipt to %(email)s.", email=ctx.user.email))
    return redirect(url_for("disclosure.receipt_list"))
