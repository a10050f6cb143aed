"""Blueprint ``privacy``: the person's own data (PDPA rights of access, portability and erasure).

``/my-data`` shows it in plain words, ``/my-data.json`` hands over a copy, and
``/my-data/erase-proofing`` erases what identity proofing established. The download and the
erasure ask for AAL2 when the account can reach it (the Security page's rule): a session left
open on a shared computer must not give away the full national ID number, or undo a proofing.
"""

from __future__ import annotations

import json

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp import audit
from idp import clock
from idp import journey
from idp.accounts.session import AuthContext
from idp.db import get_session
from idp.oidc.consent import describe
from idp.proofing import messages
from idp.proofing import privacy

bp = Blueprint("privacy", __name__)


# -- words for codes -----------------------------------------------------------------------------


def status_text(status: str) -> str:
    return {
        "started": _("Submitted"),
        "pending_registry": _("Waiting for the national registry"),
        "binding": _("Waiting for your confirmation code"),
        "review": _("With an identity officer"),
        "approved": _("Approved"),
        "rejected": _("Not approved"),
        "withdrawn": _("Withdrawn"),
    }.get(status, status)


def decision_text(case: dict[str, object]) -> str:
    """How a decision was reached, from the person's side (never an officer's note)."""
    reason = case.get("decision_reason")
    if case["status"] == "approved":
        if reason == "in_person_verified":
            return _("Verified in person at a counter.")
        if case.get("decided_by") == "automatic":
            return _("Approved automatically: every check passed.")
        return _("Approved by an identity officer.")
    if case["status"] == "rejected":
        return messages.reason(str(reason))  # the neutral words of the decision email
    return ""


def claim_label(name: str) -> str:
    return {
        "given_name": _("Given name"),
        "family_name": _("Family name"),
        "given_name#th": _("Given name (Thai)"),
        "family_name#th": _("Family name (Thai)"),
        "birthdate": _("Date of birth"),
    }.get(name, name)


# -- pages ---------------------------------------------------------------------------------------


@bp.route("/my-data")
@journey.signed_in
def my_data(*, ctx: AuthContext) -> Response | str:
    db = get_session()
    data = privacy.collect(db, ctx.user, config=current_app.config, now=clock.utc_now())
    return render_template("privacy/my_data.html", ctx=ctx, data=data, status_text=status_text,
                           decision_text=decision_text, reason_text=messages.reason, claim_label=claim_label,
                           describe=describe,
                           retention_days=privacy.retention(current_app.config).days)


@bp.route("/my-data.json")
@journey.signed_in(strong=True)
def download(*, ctx: AuthContext) -> Response:
    db = get_session()
    data = privacy.collect(db, ctx.user, config=current_app.config, now=clock.utc_now(), reveal_national_id=True)
    audit.record(db, audit.Event.DATA_EXPORTED, user_id=ctx.user.id, format=privacy.FORMAT)
    body = json.dumps(privacy.jsonable(data), ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    stamp = clock.utc_now().strftime("%Y%m%d")
    response.headers["Content-Disposition"] = f'attachment; filename="my-digital-id-data-{stamp}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/my-data/erase-proofing", methods=["GET", "POST"])
@journey.signed_in(strong=True)
def erase_proofing(*, ctx: AuthContext) -> Response | str | tuple[str, int]:
    db = get_session()
    if request.method == "GET":
        return render_template("privacy/erase_proofing.html", ctx=ctx, error=None)
    if request.form.get("confirm") != "yes":
        return render_template("privacy/erase_proofing.html", ctx=ctx,
                               error=_("Tick the box to confirm that you want your proofing data erased.")), 400
    privacy.erase_proofing(db, ctx.user, now=clock.utc_now())
    flash(_("Your proofing data was erased. e-Services that need a verified identity will ask you to "
            "verify again."))
    return redirect(url_for("privacy.my_data"))
