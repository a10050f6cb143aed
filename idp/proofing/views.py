"""Blueprint ``proofing``: the applicant's side of identity proofing (IAL2 remote).

Every page carries ``next`` so that proofing started by an e-Service returns there once the
IAL is reached, in the same visit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Blueprint
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp import clock
from idp import journey
from idp import levels
from idp import wording
from idp.accounts.session import AuthContext
from idp.assurance.levels import IAL_LEVELS
from idp.assurance.levels import parse_level
from idp.db import get_session
from idp.mail import send_mail
from idp.proofing import dates
from idp.proofing import evidence_form
from idp.proofing import face_check
from idp.proofing import messages
from idp.proofing import privacy
from idp.proofing import service
from idp.proofing.verifiers import Verifier
from idp.proofing.verifiers import load_verifier

bp = Blueprint("proofing", __name__, url_prefix="/proofing")

THAILAND = dt.timezone(dt.timedelta(hours=7), "Asia/Bangkok")  # whose "today" bounds a date of birth


def verifier() -> Verifier:
    """One verifier per app, built from configuration (tests may put their own in ``extensions``)."""
    if "idp.verifier" not in current_app.extensions:
        current_app.extensions["idp.verifier"] = load_verifier(current_app.config)
    return current_app.extensions["idp.verifier"]  # type: ignore[no-any-return]


def _send_code(email: str, code: str) -> None:
    send_mail(email, _("Your identity confirmation code"),
              _("Enter this code to confirm your identity for your Digital ID: %(code)s\n\n"
                "It works for 15 minutes. If you did not ask for it, ignore this email.", code=code))


def _back(next_url: str) -> str:
    """Where "back to the e-Service" goes when proofing did not finish: the request, declined."""
    if next_url.startswith(url_for("oidc.authorize")):
        return journey.declined(next_url)
    return next_url


@bp.route("", methods=["GET"])
@journey.signed_in
def status(*, ctx: AuthContext) -> Response | str:
    db = get_session()
    next_url = journey.next_url()
    wanted = int(request.args["level"]) if request.args.get("level") in ("2", "3") else 2
    # An e-Service that asked for an ETDA level (``etda_ial=2.3``) waits until that level is reached.
    wanted_etda = parse_level(request.args.get("etda_ial"), IAL_LEVELS)
    reached = _etda_reached(db, ctx, wanted_etda)
    if ctx.user.ial >= wanted and "level" in request.args and reached:
        return journey.resume(next_url)
    case = service.open_case(db, ctx.user.id) or service.latest_case(db, ctx.user.id)
    reasons = privacy.disclosed_reasons(list(case.reasons)) if case is not None else []
    face_step = face_check.step(db, ctx.user, config=current_app.config)
    return render_template("proofing/status.html", ctx=ctx, case=case, reasons=reasons, wanted=wanted,
                           next=next_url, back=_back(next_url), explain=messages.reason, face_step=face_step,
                           wanted_etda=None if reached else wanted_etda,
                           wanted_etda_words=wording.etda_ial_words(wanted_etda, levels.policy())
                           if wanted_etda else "")


def _etda_reached(db: Session, ctx: AuthContext, wanted: Decimal | None) -> bool:
    if wanted is None:
        return True
    have = levels.account_ial(db, ctx.user)
    return have is not None and have >= wanted


@bp.route("/start", methods=["GET", "POST"])
@journey.signed_in
def start(*, ctx: AuthContext) -> Response | str | tuple[str, int]:
    """The evidence form. A registry mismatch shows it again, filled in, with what to check (never
    which detail failed) while attempts are left; the values go back only into the page, never
    into a URL or a log."""
    db = get_session()
    next_url = journey.next_url()
    kind = "passport" if request.values.get("kind") == "passport" else "thai_id_card"
    era = dates.era_of(str(get_locale()))
    form = evidence_form.values(request.form)

    def page(problems: list[evidence_form.Problem], attempts_left: int | None = None, status: int = 200,
             error: str | None = None) -> tuple[str, int]:
        return render_template("proofing/start.html", form=form, date=evidence_form.typed_date(form, era=era),
                               era=era, next=next_url, kind=kind, problems=problems,
                               problem={p.field: p for p in problems}, attempts_left=attempts_left,
                               error=error, field_error=messages.field_error,
                               sla_days=int(current_app.config.get("PROOFING_SLA_BUSINESS_DAYS", 2))), status

    if request.method == "GET":
        return page([])
    evidence, problems = evidence_form.read(form, kind=kind, era=era, today=clock.utc_now().astimezone(THAILAND).date())
    if evidence is None:
        return page(problems, status=400)
    try:
        submitted = service.submit_remote(db, ctx.user, evidence, config=current_app.config, verifier=verifier(),
                                          send_code=_send_code)
    except service.ProofingError as exc:
        return page([], status=400, error=messages.error(exc.code))
    if submitted.case is None:
        return page([], attempts_left=submitted.attempts_left, status=400)
    return _after(submitted.case, next_url)


def _after(case: object, next_url: str) -> Response:
    if getattr(case, "status", "") == "binding":
        return redirect(url_for("proofing.confirm", next=next_url))
    return redirect(url_for("proofing.status", next=next_url))


@bp.route("/confirm", methods=["GET", "POST"])
@journey.signed_in
def confirm(*, ctx: AuthContext) -> Response | str | tuple[str, int]:
    db = get_session()
    next_url = journey.next_url()
    case = service.open_case(db, ctx.user.id)
    if case is None or case.status != "binding" or case.binding_method != "contact_code":
        return redirect(url_for("proofing.status", next=next_url))
    if request.method == "GET":
        return render_template("proofing/confirm.html", next=next_url, error=None)
    try:
        case = service.confirm_binding(db, case, request.form.get("code", "")[:20], config=current_app.config)
    except service.ProofingError as exc:
        if exc.code in ("binding_failed", "code_expired"):
            return redirect(url_for("proofing.status", next=next_url))
        return render_template("proofing/confirm.html", next=next_url, error=messages.error(exc.code)), 400
    send_mail(ctx.user.email, _("Your identity is verified"),
              _("Your Digital ID now shows: %(level)s.", level=wording.ial_words(case.level)))
    return journey.resume(next_url)


@bp.route("/retry", methods=["POST"])
@journey.signed_in
def retry(*, ctx: AuthContext) -> Response:
    db = get_session()
    next_url = journey.next_url()
    case = service.open_case(db, ctx.user.id)
    if case is not None and case.status == "pending_registry":
        case = service.retry_registry(db, case, config=current_app.config, verifier=verifier(),
                                      send_code=_send_code)
    return _after(case, next_url)


@bp.route("/withdraw", methods=["POST"])
@journey.signed_in
def withdraw(*, ctx: AuthContext) -> Response:
    db = get_session()
    case = service.open_case(db, ctx.user.id)
    if case is not None:
        service.withdraw(db, case)
    return redirect(url_for("proofing.status", next=journey.next_url()))
