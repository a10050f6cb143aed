"""Blueprint ``officer``: the proofing officer's console, and in-person (IAL3) proofing at a counter.

* The review queue and the case page: cases the automatic checks could not approve, oldest due first.
  The queue shows no personal data; opening a case shows the evidence and is audited (PDPA: every
  access to personal data is logged).
* Claiming is an atomic ``UPDATE … WHERE claimed_by IS NULL``: two officers can never both hold a case.
  Only the officer holding a case decides it, and nobody ever decides their own.
* At a counter the officer inspects the card and the person, then the applicant binds the case to
  their account by signing in on the counter device at AAL2 or more and entering a one-time code the
  officer reads out (``/officer/counter/bind``: the only route here for applicants, not officers).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import asdict
from dataclasses import dataclass
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
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp import audit
from idp import clock
from idp.accounts import session as auth_session
from idp.accounts.models import User
from idp.accounts.roles import require_role
from idp.accounts.service import find_by_email
from idp.accounts.session import AuthContext
from idp.crypto import check_secret
from idp.crypto import hash_secret
from idp.db import get_session
from idp.errors import render_error
from idp.i18n import locale_of
from idp.mail import send_mail
from idp.proofing import service
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from idp.proofing.verifiers import Evidence
from idp.proofing.verifiers import same_name

bp = Blueprint("officer", __name__, url_prefix="/officer")

ROLE = "proofing_officer"
officer_only = require_role(ROLE)

APPROVE_REASONS = ("documents_consistent", "identity_confirmed_by_video")
REJECT_REASONS = ("evidence_mismatch", "suspected_fraud", "duplicate_identity", "illegible_evidence", "other")
COUNTER_REASON = "in_person_verified"
NOTE_MAX = 500
COUNTER_LIFETIME = dt.timedelta(minutes=15)
COUNTER_MAX_ATTEMPTS = 5
COUNTER_METHOD = "counter_code"
CARD_FIELDS = ("number", "laser_code", "given_name", "family_name", "given_name_th", "family_name_th",
               "birthdate")


# -- words for codes ---------------------------------------------------------------------------------


def reason_text(code: str) -> str:
    """A check's reason code in plain words, for officers (unknown codes are shown as they are)."""
    return {
        "laser_code_mismatch": _("Laser code differs from the registry"),
        "birthdate_mismatch": _("Date of birth differs from the registry"),
        "name_mismatch": _("Name differs from the registry"),
        "card_revoked": _("The registry says the card is revoked"),
        "passport_revoked": _("The registry says the passport is revoked"),
        "document_not_found": _("The registry has no such document"),
        "not_found": _("The registry has no such document"),
        "invalid_evidence": _("The evidence is malformed"),
        "mismatch": _("The registry reported a mismatch"),
        "registry_unavailable": _("The registry could not be reached"),
        "unavailable": _("The registry could not be reached"),
        "registry_error": _("The registry's answer could not be read"),
        "duplicate_identity": _("The ID number is already verified for another account"),
        "no_contact_of_record": _("The registry holds no contact address for the binding code"),
        "binding_failed": _("The applicant entered the binding code wrongly too many times"),
    }.get(code, _("Other (%(code)s)", code=code))


def decision_text(code: str) -> str:
    """A decision reason as officers see it in the forms."""
    return {
        "documents_consistent": _("The documents are consistent"),
        "identity_confirmed_by_video": _("Identity confirmed by video call"),
        "evidence_mismatch": _("The evidence does not match"),
        "suspected_fraud": _("Suspected fraud"),
        "duplicate_identity": _("The ID number belongs to another account"),
        "illegible_evidence": _("The evidence cannot be read"),
        "other": _("Other (explain in the note)"),
        COUNTER_REASON: _("Verified in person at a counter"),
    }.get(code, code)


def applicant_reason(code: str) -> str:
    """Why a case was rejected, as told to the applicant: plain words, never the officer's note.

    A suspicion of fraud is not spelled out: the same neutral words as for a mismatch.
    """
    return {
        "evidence_mismatch": _("The details you gave do not match the national registry."),
        "suspected_fraud": _("We could not confirm that the evidence belongs to you."),
        "duplicate_identity": _("This ID card is already linked to another account."),
        "illegible_evidence": _("The evidence could not be read."),
    }.get(code, _("We could not confirm your identity from the evidence given."))


def describe_span(delta: dt.timedelta) -> str:
    """A duration in at most two units: "2 days 3 hours", "5 hours 10 minutes", "1 minute"."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(num)d day", "%(num)d days", days))
    if hours:
        parts.append(ngettext("%(num)d hour", "%(num)d hours", hours))
    if not days and (mins or not parts):
        parts.append(ngettext("%(num)d minute", "%(num)d minutes", mins))
    return " ".join(parts[:2])


def time_left(due: dt.datetime | None, now: dt.datetime) -> tuple[str, bool]:
    """What the SLA says now: the text, and whether the case is overdue."""
    if due is None:
        return _("no deadline"), False
    if due < now:
        return _("overdue by %(span)s", span=describe_span(now - due)), True
    return _("%(span)s left", span=describe_span(due - now)), False


def mask(value: str | None, keep: int) -> str:
    """All but the last ``keep`` characters hidden; separators dropped."""
    if not value:
        return ""
    plain = "".join(ch for ch in value if ch.isalnum())
    shown = plain[-keep:] if keep else ""
    return "•" * (len(plain) - len(shown)) + shown


# -- claiming and deciding (plain functions of a session) ---------------------------------------------


def claim(db: Session, case: ProofingCase, officer_id: int) -> bool:
    """Take an unclaimed case under review; ``False`` when someone holds it already (or it moved on)."""
    result = db.execute(update(ProofingCase)
                        .where(ProofingCase.id == case.id, ProofingCase.status == "review",
                               ProofingCase.claimed_by.is_(None), ProofingCase.user_id != officer_id)
                        .values(claimed_by=officer_id, claimed_at=clock.utc_now())
                        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return False
    audit.record(db, audit.Event.PROOFING_CASE_CLAIMED, user_id=case.user_id, commit=False, case=case.id, by=officer_id)
    db.commit()
    return True


def release(db: Session, case: ProofingCase, officer_id: int) -> bool:
    """Give back a case this officer holds; ``False`` when they do not hold it."""
    result = db.execute(update(ProofingCase)
                        .where(ProofingCase.id == case.id, ProofingCase.status == "review",
                               ProofingCase.claimed_by == officer_id)
                        .values(claimed_by=None, claimed_at=None)
                        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return False
    audit.record(db, audit.Event.PROOFING_CASE_RELEASED, user_id=case.user_id, commit=False, case=case.id,
                 by=officer_id)
    db.commit()
    return True


def _lock_for_decision(db: Session, case_id: int, officer_id: int) -> bool:
    """Compare-and-set in the decision's own transaction: still under review, still held by this officer.

    A second decision racing this one finds no row to update (the first one's commit changed the
    status, and the database serialises the two writes), so a case is decided exactly once.
    """
    result = db.execute(update(ProofingCase)
                        .where(ProofingCase.id == case_id, ProofingCase.status == "review",
                               ProofingCase.claimed_by == officer_id, ProofingCase.user_id != officer_id,
                               ProofingCase.decided_at.is_(None))
                        .values(decided_by=officer_id)
                        .execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# -- views: the queue and a case ----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    id: int
    level: int
    channel: str
    reasons: list[str]
    submitted_at: dt.datetime | None
    due_text: str
    overdue: bool
    claimed_by: str | None


def _staff_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: (u.name or u.email) for u in db.scalars(select(User).where(User.id.in_(ids)))}


@bp.route("/cases")
@officer_only
def queue(*, ctx: AuthContext) -> str:
    db = get_session()
    now = clock.utc_now()
    cases = list(db.scalars(select(ProofingCase).where(ProofingCase.status == "review")
                            .order_by(ProofingCase.due_at.asc().nulls_last(), ProofingCase.id)))
    names = _staff_names(db, {c.claimed_by for c in cases if c.claimed_by is not None})
    rows = []
    for case in cases:
        due_text, overdue = time_left(case.due_at, now)
        claimer = None
        if case.claimed_by is not None:
            claimer = _("you") if case.claimed_by == ctx.user.id else names.get(case.claimed_by, "?")
        rows.append(QueueRow(id=case.id, level=case.level, channel=case.channel,
                             reasons=[reason_text(r) for r in case.reasons], submitted_at=case.submitted_at,
                             due_text=due_text, overdue=overdue, claimed_by=claimer))
    return render_template("officer/queue.html", ctx=ctx, rows=rows, channel_text=_channel_text)


def _channel_text(channel: str) -> str:
    return {"remote": _("remote"), "counter": _("at a counter")}.get(channel, channel)


@dataclass(frozen=True)
class Comparison:
    label: str
    typed: str
    recorded: str | None
    differs: bool


def _compare(evidence: Evidence | None, record: dict[str, Any] | None, reasons: list[str]) -> list[Comparison]:
    """Evidence next to the registry record; a row differs by the record, or by a reason code."""
    if evidence is None:
        return []
    rec = record or {}

    def name_row(label: str, typed: str | None, key: str, reason: str) -> Comparison:
        recorded = rec.get(key)
        differs = reason in reasons or bool(record and typed and recorded and not same_name(typed, recorded))
        return Comparison(label, typed or "", recorded, differs)

    number_recorded = rec.get("national_id")
    return [
        Comparison(_("National ID number"), mask(evidence.number, 4), mask(number_recorded, 4) or None,
                   bool(number_recorded and number_recorded != evidence.normalised_number())),
        Comparison(_("Laser code"), mask(evidence.laser_code, 2), None, "laser_code_mismatch" in reasons),
        name_row(_("Given name (English)"), evidence.given_name, "given_name", "name_mismatch"),
        name_row(_("Family name (English)"), evidence.family_name, "family_name", "name_mismatch"),
        name_row(_("Given name (Thai)"), evidence.given_name_th, "given_name_th", "name_mismatch"),
        name_row(_("Family name (Thai)"), evidence.family_name_th, "family_name_th", "name_mismatch"),
        Comparison(_("Date of birth"), evidence.birthdate, rec.get("birthdate"),
                   "birthdate_mismatch" in reasons or bool(record and rec.get("birthdate")
                                                           and rec.get("birthdate") != evidence.birthdate)),
    ]


def _render_case(db: Session, ctx: AuthContext, case: ProofingCase, *, error: str | None = None,
                 status: int = 200, form: dict[str, str] | None = None) -> tuple[str, int]:
    """The case page; showing the evidence (only of a case under review) is audited every time."""
    config = current_app.config
    comparison: list[Comparison] = []
    has_record = False
    if case.status == "review":
        evidence = service.evidence_of(case, config=config)
        record = service.unseal(config, case.registry_encrypted, context=f"case:{case.id}:registry")
        has_record = bool(record)
        comparison = _compare(evidence, record, list(case.reasons))
        audit.record(db, audit.Event.PROOFING_CASE_VIEWED, user_id=case.user_id, case=case.id, by=ctx.user.id)
    now = clock.utc_now()
    due_text, overdue = time_left(case.due_at, now)
    claimer = _staff_names(db, {case.claimed_by}).get(case.claimed_by) if case.claimed_by else None
    return render_template(
        "officer/case.html", ctx=ctx, case=case, comparison=comparison, has_record=has_record,
        reasons=[(r, reason_text(r)) for r in case.reasons], checks=sorted(case.checks.items()),
        due_text=due_text, overdue=overdue, claimer=claimer, mine=case.claimed_by == ctx.user.id,
        own_case=case.user_id == ctx.user.id, approve_reasons=[(r, decision_text(r)) for r in APPROVE_REASONS],
        reject_reasons=[(r, decision_text(r)) for r in REJECT_REASONS], note_max=NOTE_MAX,
        error=error, form=form or {}, channel_text=_channel_text, decision_text=decision_text,
    ), status


def _find(db: Session, case_id: int) -> ProofingCase | None:
    return db.get(ProofingCase, case_id)


@bp.route("/cases/<int:case_id>")
@officer_only
def case_page(case_id: int, *, ctx: AuthContext) -> tuple[str, int]:
    db = get_session()
    case = _find(db, case_id)
    if case is None:
        return render_error(404)
    return _render_case(db, ctx, case)


@bp.route("/cases/<int:case_id>/claim", methods=["POST"])
@officer_only
def claim_case(case_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    case = _find(db, case_id)
    if case is None:
        return render_error(404)
    if case.user_id == ctx.user.id:
        return _render_case(db, ctx, case, error=_("You cannot handle your own case."), status=403)
    if not claim(db, case, ctx.user.id):
        db.refresh(case)
        return _render_case(db, ctx, case, error=_("This case is already claimed or no longer under review."),
                            status=409)
    flash(_("You claimed case %(id)d.", id=case_id))
    return redirect(url_for("officer.case_page", case_id=case_id))


@bp.route("/cases/<int:case_id>/release", methods=["POST"])
@officer_only
def release_case(case_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    case = _find(db, case_id)
    if case is None:
        return render_error(404)
    if not release(db, case, ctx.user.id):
        db.refresh(case)
        return _render_case(db, ctx, case, error=_("You can release only a case you claimed."), status=409)
    flash(_("You released case %(id)d.", id=case_id))
    return redirect(url_for("officer.queue"))


@bp.route("/cases/<int:case_id>/decide", methods=["POST"])
@officer_only
def decide(case_id: int, *, ctx: AuthContext) -> Response | tuple[str, int]:
    db = get_session()
    case = _find(db, case_id)
    if case is None:
        return render_error(404)
    decision = request.form.get("decision", "")
    reason = request.form.get("reason", "")
    note = request.form.get("note", "").strip()
    form = {"decision": decision, "reason": reason, "note": note[:NOTE_MAX]}
    officer_id = ctx.user.id
    if case.user_id == officer_id:
        return _render_case(db, ctx, case, error=_("You cannot decide your own case."), status=403, form=form)
    if case.status != "review":
        return _render_case(db, ctx, case, error=_("This case is no longer under review."), status=409, form=form)
    if case.claimed_by != officer_id:
        return _render_case(db, ctx, case, error=_("Only the officer who claimed this case can decide it."),
                            status=403, form=form)
    allowed = APPROVE_REASONS if decision == "approve" else REJECT_REASONS if decision == "reject" else ()
    if reason not in allowed:
        return _render_case(db, ctx, case, error=_("Choose a decision and a reason from the list."), status=400,
                            form=form)
    if len(note) > NOTE_MAX:
        return _render_case(db, ctx, case, error=_("The note can be at most %(num)d characters.", num=NOTE_MAX),
                            status=400, form=form)
    if reason == "other" and not note:
        return _render_case(db, ctx, case, error=_("Explain the reason “other” in the note."), status=400,
                            form=form)
    if decision == "approve" and case.channel == "counter":
        # An in-person case without its binding would give IAL3 to whoever holds the account.
        return _render_case(db, ctx, case, error=_("An in-person case is approved only by the applicant's "
                                                   "binding at the counter."), status=409, form=form)
    config = current_app.config
    if decision == "approve" and taken_by_another(db, case):
        return _render_case(db, ctx, case, error=_duplicate_message(), status=409, form=form)
    if not _lock_for_decision(db, case_id, officer_id):
        db.rollback()
        db.refresh(case)
        return _render_case(db, ctx, case, error=_("This case changed meanwhile: it is no longer yours to decide."),
                            status=409, form=form)
    try:
        if decision == "approve":
            service.approve(db, case, method="officer", by=officer_id, config=config, reason=reason,
                            note=note or None)
        else:
            service.reject(db, case, by=officer_id, reason=reason, note=note or None)
    except (service.ProofingError, IntegrityError) as exc:
        # IntegrityError: the unique national ID index, when another approval of the same number won a
        # race (service.approve catches it only at commit, not at an earlier autoflush).
        db.rollback()
        db.refresh(case)
        duplicate = isinstance(exc, IntegrityError) or exc.code == "duplicate_identity"
        message = (_duplicate_message() if duplicate
                   else _("The case cannot be approved: its evidence is no longer available."))
        return _render_case(db, ctx, case, error=message, status=409, form=form)
    applicant = db.get(User, case.user_id)
    if applicant is not None:
        _tell_applicant(applicant, case)
    flash(_("Case %(id)d approved.", id=case_id) if case.status == "approved"
          else _("Case %(id)d rejected.", id=case_id))
    return redirect(url_for("officer.queue"))


def taken_by_another(db: Session, case: ProofingCase) -> bool:
    """Whether the case's national ID number already backs another account's verified identity."""
    if case.national_id_index is None:
        return False
    owner = db.scalar(select(VerifiedIdentity.user_id)
                      .where(VerifiedIdentity.national_id_index == case.national_id_index))
    return owner is not None and owner != case.user_id


def _duplicate_message() -> str:
    return _("This ID number is already verified for another account: the case cannot be approved. "
             "Reject it with the reason “The ID number belongs to another account”.")


def _tell_applicant(user: User, case: ProofingCase) -> None:
    """The decision, by email, in the applicant's language; a rejection says why, never the note."""
    with force_locale(locale_of(user)):
        if case.status == "approved":
            subject = _("Your identity is verified")
            body = _("Your identity verification was approved. Your Digital ID is now verified at "
                     "IAL%(level)d.", level=case.level)
        else:
            subject = _("Your identity verification was not approved")
            body = _("An identity officer reviewed your case and could not approve it.\n\n"
                     "Reason: %(reason)s\n\n"
                     "You can start again with your national ID card, or verify in person at a service counter.",
                     reason=applicant_reason(case.decision_reason or ""))
        send_mail(user.email, subject, body)


# -- in person, at a counter (IAL3) ---------------------------------------------------------------------


def _counter_secret(case_id: int, code: str) -> str:
    # Not the remote binding's "id:code": a counter code must never pass service.confirm_binding.
    return f"counter:{case_id}:{code}"


def _counter_errors(db: Session, ctx: AuthContext, form: dict[str, str], checks: dict[str, bool]
                    ) -> tuple[dict[str, str], User | None, Evidence | None]:
    errors: dict[str, str] = {}
    applicant = find_by_email(db, form["email"]) if form["email"] else None
    if applicant is None or not applicant.is_active:
        errors["email"] = _("No active account has this email address.")
    elif applicant.id == ctx.user.id:
        errors["email"] = _("You cannot verify your own identity.")
    elif applicant.ial >= 3:
        errors["email"] = _("This account is already verified at IAL3.")
    evidence = None
    try:
        evidence = service.check_evidence(Evidence(
            kind="thai_id_card", number=form["number"], laser_code=form["laser_code"],
            given_name=form["given_name"], family_name=form["family_name"],
            given_name_th=form["given_name_th"] or None, family_name_th=form["family_name_th"] or None,
            birthdate=form["birthdate"]))
    except service.ProofingError as exc:
        field, message = {
            "bad_national_id": ("number", _("Check the 13-digit ID number: its last digit does not match.")),
            "bad_laser_code": ("laser_code", _("Check the laser code: 2 letters and 10 digits.")),
            "bad_birthdate": ("birthdate", _("Enter the date of birth.")),
            "missing_name": ("given_name", _("Enter the given name and family name in English as on the card.")),
        }.get(exc.code, ("number", _("Check the card details.")))
        errors[field] = message
    if not checks["card_inspected"]:
        errors["card_inspected"] = _("Inspect the card (read its chip where you can) and tick the box.")
    if not checks["person_matches"]:
        errors["person_matches"] = _("Compare the person with the photo and tick the box.")
    if evidence is not None and applicant is not None and "email" not in errors:
        index = service.national_id_index(current_app.config, evidence.number)
        owner = db.scalar(select(VerifiedIdentity).where(VerifiedIdentity.national_id_index == index))
        if owner is not None and owner.user_id != applicant.id:
            errors["number"] = _("This ID number is already verified for another account.")
        mine = service.identity_of(db, applicant.id)
        if mine is not None and mine.national_id_index and mine.national_id_index != index:
            errors["number"] = _("This account is verified with a different ID number.")
    return errors, applicant, evidence


@bp.route("/counter", methods=["GET", "POST"])
@officer_only
def counter(*, ctx: AuthContext) -> str | tuple[str, int]:
    db = get_session()
    form = {name: request.form.get(name, "")[:100].strip() for name in ("email", *CARD_FIELDS)}
    form["email"] = request.form.get("email", "")[:320].strip()
    checks = {"card_inspected": request.form.get("card_inspected") == "yes",
              "person_matches": request.form.get("person_matches") == "yes"}
    if request.method == "GET":
        return render_template("officer/counter.html", ctx=ctx, form=form, checks=checks, errors={})
    errors, applicant, evidence = _counter_errors(db, ctx, form, checks)
    if errors or applicant is None or evidence is None:
        return render_template("officer/counter.html", ctx=ctx, form=form, checks=checks, errors=errors), 400
    config = current_app.config
    for old in db.scalars(select(ProofingCase).where(ProofingCase.user_id == applicant.id,
                                                     ProofingCase.channel == "counter",
                                                     ProofingCase.status == "binding")):
        service.withdraw(db, old)  # a new code replaces any earlier one
    now = clock.utc_now()
    code = f"{secrets.randbelow(10**6):06d}"
    case = ProofingCase(user_id=applicant.id, level=3, channel="counter", evidence_kind=evidence.kind,
                        status="binding", national_id_index=service.national_id_index(config, evidence.number),
                        submitted_at=now, checks={"card_inspected": True, "person_matches_photo": True,
                                                  "inspected_by": ctx.user.id},
                        reasons=[], claimed_by=ctx.user.id, claimed_at=now, binding_method=COUNTER_METHOD,
                        binding_expires_at=now + COUNTER_LIFETIME, binding_attempts=0)
    db.add(case)
    db.flush()
    case.evidence_encrypted = service.seal(config, asdict(evidence), context=f"case:{case.id}:evidence")
    case.binding_code_hash = hash_secret(_counter_secret(case.id, code))
    audit.record(db, audit.Event.PROOFING_STARTED, user_id=applicant.id, commit=False, case=case.id, level=3,
                 channel="counter", by=ctx.user.id)
    db.commit()
    return render_template("officer/counter_code.html", ctx=ctx, code=code, case=case,
                           expires=case.binding_expires_at, minutes=int(COUNTER_LIFETIME.total_seconds() // 60))


def _counter_case(db: Session, user_id: int) -> ProofingCase | None:
    return db.scalar(select(ProofingCase).where(ProofingCase.user_id == user_id, ProofingCase.channel == "counter",
                                                ProofingCase.status == "binding")
                     .order_by(ProofingCase.id.desc()))


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
    case = _counter_case(db, ctx.user.id)
    if case is None or case.binding_code_hash is None:
        return _bind_page(_("No in-person check is waiting for you. Ask the officer."), 400)
    if case.claimed_by == ctx.user.id:
        return _bind_page(_("The officer who checked the card cannot be the applicant."), 403)
    if case.binding_expires_at is None or case.binding_expires_at < clock.utc_now():
        service.withdraw(db, case)
        return _bind_page(_("The code has expired. Ask the officer to check your card again."), 400)
    code = "".join(request.form.get("code", "").split())[:12]
    if not check_secret(_counter_secret(case.id, code), expected_hash=case.binding_code_hash):
        case.binding_attempts += 1
        if case.binding_attempts >= COUNTER_MAX_ATTEMPTS:
            service.withdraw(db, case)
            return _bind_page(_("Too many wrong codes. Ask the officer to check your card again."), 400)
        db.commit()
        return _bind_page(_("That code is not correct. Check it with the officer."), 400)
    officer_id = case.claimed_by
    case.binding_code_hash = None
    case.checks = {**case.checks, "binding": COUNTER_METHOD, "binding_aal": ctx.aal()}
    if taken_by_another(db, case):
        service.withdraw(db, case)
        return _bind_page(_("This ID card is already linked to another account. Speak to the officer."), 409)
    try:
        service.approve(db, case, method="counter", by=officer_id, config=current_app.config,
                        reason=COUNTER_REASON)
    except (service.ProofingError, IntegrityError):
        db.rollback()
        return _bind_page(_("This ID card is already linked to another account. Speak to the officer."), 409)
    for other in db.scalars(select(ProofingCase).where(ProofingCase.user_id == ctx.user.id,
                                                       ProofingCase.id != case.id,
                                                       ProofingCase.status.in_(service.OPEN))):
        service.withdraw(db, other)  # the in-person check supersedes a remote case still open
    _tell_applicant(ctx.user, case)
    return render_template("officer/bound.html", level=case.level), 200
