"""The attempts budget (idp.proofing.attempts): counted before the registry answers, per account and
per document, over 24 hours; pruned and unlinked like the rest of proofing data."""

import datetime as dt

from sqlalchemy import select

from idp import clock
from idp.proofing import attempts
from idp.proofing.models import ProofingAttempt
from idp.proofing.models import ProofingCase
from idp.proofing.verifiers import Evidence
from idp.proofing.verifiers import RegistryResult
from tests.factories import make_user

CARD = Evidence(kind="thai_id_card", number="1-9999-00001-01-0", laser_code="JT0-1000001-01", given_name="Somchai",
                family_name="Jaidee", given_name_th=None, family_name_th=None, birthdate="1985-03-14")


def answer(outcome, *reasons):
    return RegistryResult(outcome=outcome, reasons=reasons, record=None, issuer="test", checked_at=clock.utc_now())


def test_the_digest_is_keyed_and_ignores_separators(app):
    digest = attempts.document_digest(app.config, CARD)
    assert "1999900001010" not in digest and len(digest) <= 64  # the column's width
    assert attempts.document_digest(app.config, Evidence(**{**CARD.__dict__, "number": "1999900001010"})) == digest
    passport = Evidence(**{**CARD.__dict__, "kind": "passport", "number": "1999900001010"})
    assert attempts.document_digest(app.config, passport) != digest
    other = {**app.config, "SECRET_KEY": "another-secret-key-" + "y" * 32}
    assert attempts.document_digest(other, CARD) != digest


def test_guesses_in_flight_are_counted(app, db):
    user = make_user(app)
    digest = attempts.document_digest(app.config, CARD)
    reserved = [attempts.reserve(db, user_id=user.id, digest=digest) for _ in range(attempts.MAX_ATTEMPTS)]
    assert all(r is not None for r in reserved)  # three lookups under way, none answered yet
    assert attempts.reserve(db, user_id=user.id, digest=digest) is None
    assert db.scalar(select(ProofingAttempt).where(ProofingAttempt.outcome == "checking").limit(1)) is not None
    assert len(db.scalars(select(ProofingAttempt)).all()) == attempts.MAX_ATTEMPTS  # the refused one is not kept


def test_a_match_or_no_answer_gives_the_attempt_back(app, db):
    user = make_user(app)
    digest = attempts.document_digest(app.config, CARD)
    for outcome in ("match", "unavailable"):
        attempt = attempts.reserve(db, user_id=user.id, digest=digest)
        assert attempts.settle(db, attempt, answer(outcome)).left == attempts.MAX_ATTEMPTS
        db.commit()
    attempt = attempts.reserve(db, user_id=user.id, digest=digest)
    spent = attempts.settle(db, attempt, answer("not_found", "document_not_found"))
    assert (spent.by_account, spent.on_document, spent.left) == (1, 1, 2)
    assert attempt.reasons == ["document_not_found"]


def test_the_window_is_24_hours(app, db):
    user = make_user(app)
    digest = attempts.document_digest(app.config, CARD)
    for _ in range(attempts.MAX_ATTEMPTS):
        attempts.settle(db, attempts.reserve(db, user_id=user.id, digest=digest), answer("mismatch", "name_mismatch"))
        db.commit()
    assert attempts.reserve(db, user_id=user.id, digest=digest) is None
    clock.advance(attempts.WINDOW.total_seconds() + 1)
    assert attempts.reserve(db, user_id=user.id, digest=digest) is not None


def test_erasure_unlinks_the_account_and_the_number_keeps_counting(app, db):
    user = make_user(app)
    other = make_user(app, "other@example.com")
    digest = attempts.document_digest(app.config, CARD)
    old = attempts.reserve(db, user_id=user.id, digest=digest)
    attempts.settle(db, old, answer("mismatch", "birthdate_mismatch"))
    db.commit()
    clock.advance(attempts.WINDOW.total_seconds() + 1)
    for _ in range(2):
        attempts.settle(db, attempts.reserve(db, user_id=user.id, digest=digest), answer("mismatch", "name_mismatch"))
        db.commit()
    attempts.forget_account(db, user.id)
    db.commit()
    rows = db.scalars(select(ProofingAttempt)).all()
    assert len(rows) == 2 and all(r.user_id is None for r in rows)  # the old one went, the recent ones stay
    assert attempts.budget(db, user_id=other.id, digest=digest).on_document == 2


def test_prune_keeps_what_an_officer_may_still_need(app, db):
    user = make_user(app)
    digest = attempts.document_digest(app.config, CARD)
    case = ProofingCase(user_id=user.id, level=2, channel="remote", evidence_kind="thai_id_card", status="review",
                        checks={}, reasons=[])
    db.add(case)
    db.commit()
    for case_id in (None, case.id):
        row = attempts.reserve(db, user_id=user.id, digest=digest)
        attempts.settle(db, row, answer("mismatch", "name_mismatch"))
        row.case_id = case_id
        db.commit()
    later = clock.utc_now() + dt.timedelta(days=2)
    assert attempts.prune(db, now=later) == 1
    db.commit()
    [kept] = db.scalars(select(ProofingAttempt)).all()
    assert kept.case_id == case.id
    case.purged_at = later
    db.commit()
    assert attempts.prune(db, now=later) == 1
