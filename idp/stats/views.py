"""Blueprint ``opendata``: public, anonymous statistics as JSON and CSV under an open licence.

No sign-in: the files hold aggregate counts only, with small counts suppressed
(``OPEN_DATA_MIN_COUNT``), and the rule and licence are stated in each file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import render_template
from flask import request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp import clock
from idp.db import get_session
from idp.stats import opendata
from idp.stats.opendata import Period

bp = Blueprint("opendata", __name__, url_prefix="/open-data")

MAX_DAYS = 366
MAX_MONTHS = 120
HEADERS = {"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"}


class BadRequest(ValueError):
    """A parameter that cannot be answered; the message is for the person who typed the URL."""


def _min_count() -> int:
    return int(current_app.config.get("OPEN_DATA_MIN_COUNT", 10))


def _date(name: str, default: dt.date) -> dt.date:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(_("%(name)s must be a date written YYYY-MM-DD.", name=name)) from None


def _params() -> tuple[Period, dt.date, dt.date]:
    period = request.args.get("period") or "day"
    if period not in opendata.PERIODS:
        raise BadRequest(_("period must be day or month."))
    yesterday = clock.utc_now().date() - dt.timedelta(days=1)
    end = _date("end", yesterday)
    if period == "day":
        default_start = end - dt.timedelta(days=29)
    else:
        month = end.year * 12 + end.month - 1 - 11
        default_start = dt.date(month // 12, month % 12 + 1, 1)
    start = _date("start", default_start)
    if end < start:
        raise BadRequest(_("end must not be before start."))
    if period == "day" and (end - start).days + 1 > MAX_DAYS:
        raise BadRequest(_("By day, ask for at most %(num)d days at a time.", num=MAX_DAYS))
    if period == "month" and (end.year - start.year) * 12 + end.month - start.month + 1 > MAX_MONTHS:
        raise BadRequest(_("By month, ask for at most %(num)d months at a time.", num=MAX_MONTHS))
    return period, start, end  # type: ignore[return-value]


def _document() -> dict[str, Any]:
    period, start, end = _params()
    return opendata.build(get_session(), period=period, start=start, end=end, min_count=_min_count())


@bp.route("/")
def index() -> str:
    return render_template("opendata/index.html", min_count=_min_count(), licence=opendata.LICENCE,
                           columns=opendata.COLUMNS)


@bp.route("/stats.json")
def stats_json() -> Response:
    try:
        document = _document()
    except BadRequest as exc:
        body = json.dumps({"error": "invalid_request", "error_description": str(exc)}, ensure_ascii=False)
        return Response(body, status=400, mimetype="application/json")
    body = json.dumps(document, ensure_ascii=False, indent=1)
    return Response(body, mimetype="application/json", headers=HEADERS)


@bp.route("/stats.csv")
def stats_csv() -> Response:
    try:
        document = _document()
    except BadRequest as exc:
        return Response(str(exc) + "\n", status=400, mimetype="text/plain")
    out = io.StringIO()
    for line in (document["title"],
                 f"Licence: {document['licence']['name']}, {document['licence']['url']}",
                 f"Suppression: {document['suppression']}",
                 f"Period: {document['period']} ({document['timezone']}), {document['start']} to {document['end']}; "
                 f"generated at {document['generated_at']}"):
        out.write(f"# {line}\r\n")
    csv.writer(out).writerows(opendata.to_csv_rows(document))
    return Response(out.getvalue(), mimetype="text/csv", headers=HEADERS)
