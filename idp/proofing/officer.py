"""Blueprint ``officer``: the proofing officer's console, and in-person (IAL3) proofing at a counter.

Thin views over two services: ``idp.proofing.queue`` (the review queue, the case page, claiming
and deciding) and ``idp.proofing.counter`` (the counter code and the applicant's binding). Every
page but ``/officer/counter/bind`` (the applicant's, on the counter device) needs the officer role
at AAL2. Texts come from ``idp.proofing.messages``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp import audit
from idp import clock
from idp.accounts import session as auth_session
from idp.accounts.models import User
from idp.accounts.roles import require_role
from idp.accounts.session import AuthContext
from idp.db import get_session
from idp.errors import render_error
from idp.i18n import locale_of
from idp.mail import send_mail
from idp.proofing import counter as counter_service
from idp.proofing import messages
from idp.proofing import queue as queue_service
from idp.proofing.chip import trusted_issuers
from idp.proofing.models import ProofingCase
from idp.request_guard import allow_upload

bp = Blueprint("officer", __name__, url_prefix="/officer")
allow_upload("officer.counter")  # the counter reader's chip read may carry the card's photo

ROLE = "proofing_officer"
officer_only = require_role(ROLE)

# Helpers every officer template may call.
TEXTS: dict[str, Any] = {"channel_text": messages.channel, "decision_text": messages.decision,
                         "reason_text": messages.officer_reason, "time_left": messages.time_left,
                         "evidence_label": messages.evidence_label}


# -- the queue and a case ------------------------------------------------------------------------


@bp.route("/cases")
@officer_only
def queue(*, ctx: AuthContext) -> str:
    now = clock.utc_now()
    return render_template("officer/queue.html", ctx=ctx, rows=queue_service.rows(get_session(), now=now), now=now,
                           **TEXTS)


def _render_case(db: Session, ctx: AuthContext, case: ProofingCase, *, error: str | None = None,
                 status: int = 200, form: dict[str, str] | None = None) -> tuple[str, int]:
    view = queue_service.view_case(db, case, officer_id=ctx.user.id, config=current_app.config)
    now = clock.utc_now()
    return render_template(
        "officer/case.html", ctx=ctx, case=case, view=view, checks=sorted(case.checks.items()),
        now=now, overdue=queue_service.overdue(case, now), mine=case.claimed_by == ctx.user.id,
        own_case=case.user_id == ctx.user.id, approve_reasons=queue_service.APPROVE_REASONS,
        reject_reasons=queue_service.REJECT_REASONS, note_max=queue_service.NOTE_MAX, error=error,
        form=form or {}, **TEXTS,
    ), status


@bp.route("/cases/<int:case_id>")
@officer_only
def case_page(case_id: int, *, ctx: AuthContext) -> tuple[str, int]:
    db = get_session()
    case = db.get(ProofingCase, case_id)
    if case is None:
        return render_error(404)
    return _render_case(db, ctx, case)


@bp.route("/cases/<int:case_id>/claim", methods=["POST"])
@officer_only
def claim_case(case_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    case = db.get(ProofingCase, case_id)
    if case is None:
        return render_error(404)
    if case.user_id == ctx.user.id:
        return _render_case(db, ctx, case, error=messages.refusal("own_case_claim"), status=403)
    if not queue_service.claim(db, case, ctx.user.id):
        db.refresh(case)
        return _render_case(db, ctx, case, error=messages.refusal("already_claimed"), status=409)
    flash(_("You claimed case %(id)d.", id=case_id))
    return redirect(url_for("officer.case_page", case_id=case_id))


@bp.route("/cases/<int:case_id>/release", methods=["POST"])
@officer_only
def release_case(case_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    case = db.get(ProofingCase, case_id)
    if case is None:
        return render_error(404)
    if not queue_service.release(db, case, ctx.user.id):
        db.refresh(case)
        return _render_case(db, ctx, case, error=messages.refusal("not_claimer_release"), status=409)
    flash(_("You released case %(id)d.", id=case_id))
    return redirect(url_for("officer.queue"))


@bp.route("/cases/<int:case_id>/decide", methods=["POST"])
@officer_only
def decide(case_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    case = db.get(ProofingCase, case_id)
    if case is None:
        return render_error(404)
    decision = request.form.get("decision", "")
    reason = request.form.get("reason", "")
    note = request.form.get("note", "").strip()
    try:
        queue_service.decide(db, case, officer_id=ctx.user.id, decision=decision, reason=reason, note=note,
                             config=current_app.config)
    except queue_service.Refused as exc:
        form = {"decision": decision, "reason": reason, "note": note[:queue_service.NOTE_MAX]}
        return _render_case(db, ctx, case, error=messages.refusal(exc.code, num=queue_service.NOTE_MAX),
                            status=exc.status, form=form)
    applicant = db.get(User, case.user_id)
    if applicant is not None:
        _tell_applicant(applicant, case)
    flash(_("Case %(id)d approved.", id=case_id) if case.status == "approved"
          else _("Case %(id)d rejected.", id=case_id))
    return redirect(url_for("officer.queue"))


def _tell_applicant(user: User, case: ProofingCase) -> None:
    """The decision, by email, in the applicant's language (not the officer's)."""
    with force_locale(locale_of(user)):
        send_mail(user.email, *messages.decision_mail(case.status, case.level, case.decision_reason))


# -- in person, at a counter (IAL3) --------------------------------------------------------------


@bp.route("/counter", methods=["GET", "POST"])
@officer_only
def counter(*, ctx: AuthContext) -> str | tuple[str, int]:
    db = get_session()
    form = {name: request.form.get(name, "")[:100].strip() for name in ("email", *counter_service.CARD_FIELDS)}
    form["email"] = request.form.get("email", "")[:320].strip()
    checks = {"card_inspected": request.form.get("card_inspected") == "yes",
              "person_matches": request.form.get("person_matches") == "yes"}
    if request.method == "GET":
        return render_template("officer/counter.html", ctx=ctx, form=form, checks=checks, errors={})
    codes, applicant, evidence = counter_service.check_form(db, officer_id=ctx.user.id, form=form, checks=checks,
                                                            config=current_app.config)
    errors = {name: messages.counter_field_error(code) for name, code in codes.items()}
    chip_read = None
    storage = request.files.get("chip")
    document = storage.read() if storage is not None and storage.filename else b""
    if document and evidence is not None and not errors:  # the counter's reader read the card's chip
        issuers = trusted_issuers(current_app.extensions, current_app.config)
        chip_read = counter_service.check_chip(document, evidence, issuers=issuers)
        if not chip_read.valid:
            audit.record(db, audit.Event.PROOFING_CHIP_READ, user_id=applicant.id if applicant else None,
                         outcome=chip_read.outcome, reasons=list(chip_read.reasons), by=ctx.user.id)
            errors["chip"] = messages.counter_chip_error(chip_read.reasons[0])
    if errors or applicant is None or evidence is None:
        return render_template("officer/counter.html", ctx=ctx, form=form, checks=checks, errors=errors), 400
    case, code = counter_service.issue_code(db, officer_id=ctx.user.id, applicant=applicant, evidence=evidence,
                                            config=current_app.config, chip_read=chip_read)
    return render_template("officer/counter_code.html", ctx=ctx, code=code, case=case,
                           expires=case.binding_expires_at,
                           minutes=int(counter_service.LIFETIME.total_seconds() // 60))


def _bind_page(error: str | None, status: int = 200) -> tuple[str, int]:
    return render_template("officer/bind.html", error=error), status


@bp.route("/counter/bind", methods=["GET", "POST"])
def counter_bind() -> Response | tuple[str, int]:
    """The applicant, on the counter device, at AAL2 or more: the officer's code binds the case to them."""
    db = get_session()
    ctx = auth_session.current(db)
    here = url_for("officer.counter_bind")
    if ctx is None:
        return redirect(url_for("accounts.signin", next=here))
    if ctx.aal() < 2:
        return redirect(url_for("authn.step_up", aal=2, next=here))
    if request.method == "GET":
        return _bind_page(None)
    try:
        case = counter_service.bind(db, ctx.user, request.form.get("code", ""), aal=ctx.aal(),
                                    config=current_app.config)
    except counter_service.BindRefused as exc:
        return _bind_page(messages.counter_bind_error(exc.code), exc.status)
    _tell_applicant(ctx.user, case)
    return render_template("officer/bound.html", level=case.level), 200
