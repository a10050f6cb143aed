"""The dashboard's figures, from events and cases seeded on chosen UTC days."""

import datetime as dt

import pytest

from idp import audit
from idp.accounts import service as accounts
from idp.accounts.models import User
from idp.proofing.models import ProofingCase
from idp.stats import dashboard as stats
from idp.stats.dashboard import DateRange
from tests.factories import make_client
from tests.timeline import move_to
from tests.timeline import next_midnight

H = dt.timedelta(hours=1)
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def day0(clock):
    return next_midnight(clock)


def person(db, name):
    return accounts.create_user(db, email=f"{name}@example.com", password="a long enough passphrase",
                                name=name.title(), email_verified=True).id


@pytest.mark.parametrize(("event", "amr", "before", "factor", "types"), [
    ("signin", ["pwd"], None, None, {"pwd"}),
    ("signin", ["swk", "user", "mfa"], None, None, {"swk"}),
    ("signin", ["hwk", "user", "mfa"], {"otp"}, None, {"hwk"}),  # a sign-in starts afresh
    ("step_up", ["pwd", "otp", "mfa"], {"pwd"}, None, {"otp"}),
    ("step_up", ["pwd", "otp", "mfa"], None, None, {"otp"}),  # no earlier event in range: password assumed
    ("step_up", ["pwd", "swk", "user", "mfa"], {"pwd", "otp"}, None, {"swk"}),
    ("step_up", ["swk", "user", "pwd"], {"swk"}, None, {"pwd"}),
    ("step_up", ["pwd", "otp", "mfa"], {"pwd", "otp"}, None, set()),  # nothing new, nothing to count
    ("step_up", ["pwd", "otp", "mfa"], {"pwd"}, "recovery", {"recovery"}),
    ("step_up", ["pwd", "otp", "mfa"], {"pwd", "otp"}, "totp", {"otp"}),
    ("step_up", ["pwd", "hwk", "user", "mfa"], {"pwd"}, "webauthn", {"hwk"}),
    ("signin", ["pwd"], None, "pwd", {"pwd"}),
])
def test_authenticators_presented_by_an_event(event, amr, before, factor, types):
    before = frozenset(before) if before is not None else None
    assert stats.presented(event, amr, before=before, factor=factor) == types


def test_signins_per_day_by_aal_and_authenticator(db, clock, day0):
    ann, ben = person(db, "ann"), person(db, "ben")
    move_to(clock, day0 - H)  # the day before the range
    audit.record(db, "signin", user_id=ann, amr=["pwd"], aal=1)
    move_to(clock, day0 + 2 * H)
    audit.record(db, "step_up", user_id=ann, amr=["pwd", "otp", "mfa"], aal=2)  # its password was the day before
    audit.record(db, "signin", user_id=ben, amr=["pwd"], aal=1)
    audit.record(db, "signin_failed", user_id=ben, factor="totp")
    audit.record(db, "step_up", user_id=ben, amr=["pwd", "otp", "mfa"], aal=2, factor="recovery")
    move_to(clock, day0 + dt.timedelta(days=2, hours=23))
    audit.record(db, "signin", user_id=ann, amr=["hwk", "user", "mfa"], aal=3)
    audit.record(db, "signin", user_id=ben, amr=["swk", "user", "mfa"], aal=2)
    move_to(clock, day0 + dt.timedelta(days=3, minutes=1))  # the day after the range
    audit.record(db, "signin", user_id=ben, amr=["pwd"], aal=1)

    daily = stats.signins_per_day(db, DateRange(day0.date(), day0.date() + dt.timedelta(days=2)))
    assert daily.days == tuple(day0.date() + dt.timedelta(days=i) for i in range(3))
    assert daily.by_aal == {1: (1, 0, 0), 2: (2, 0, 1), 3: (0, 0, 1)}
    assert daily.by_authenticator == {"pwd": (1, 0, 0), "otp": (1, 0, 0), "recovery": (1, 0, 0),
                                      "swk": (0, 0, 1), "hwk": (0, 0, 1)}


def test_accounts_by_ial_leave_out_disabled_accounts(db):
    for name, ial, status in (("a", 1, "disabled"), ("b", 2, "active"), ("c", 2, "active"), ("d", 3, "active"),
                              ("e", 3, "disabled"), ("f", 3, "active")):
        user = db.get(User, person(db, name))
        user.ial, user.status = ial, status
    db.commit()
    assert stats.accounts_by_ial(db) == {1: 0, 2: 2, 3: 2}


def case(db, user_id, *, created, status, decided_by=None, due=None, decided=None, channel="remote"):
    row = ProofingCase(user_id=user_id, level=3 if channel == "counter" else 2, channel=channel,
                       evidence_kind="thai_id_card", status=status, checks={}, reasons=[], created_at=created,
                       submitted_at=created, due_at=due, decided_by=decided_by, decided_at=decided)
    db.add(row)
    db.commit()
    return row


def test_the_proofing_funnel_follows_the_cases_started_in_the_range(db, day0):
    officer, ann = person(db, "officer"), person(db, "ann")
    later = day0 + dt.timedelta(days=20)  # decided after the range: still counted (a cohort)
    case(db, ann, created=day0 - H, status="approved")  # started before the range
    case(db, ann, created=day0 + H, status="approved", decided=day0 + 2 * H)
    case(db, ann, created=day0 + H, status="approved", decided=day0 + 2 * H)
    case(db, ann, created=day0 + H, status="approved", decided_by=officer, due=day0 + 48 * H, decided=later)
    case(db, ann, created=day0 + H, status="approved", decided_by=officer, decided=day0 + H, channel="counter")
    case(db, ann, created=day0 + 3 * H, status="rejected", decided_by=officer, due=day0 + 48 * H, decided=later)
    case(db, ann, created=day0 + 3 * H, status="review", due=day0 + 48 * H)
    case(db, ann, created=day0 + 3 * H, status="withdrawn", decided=day0 + 4 * H)
    case(db, ann, created=day0 + 3 * H, status="binding")
    case(db, ann, created=day0 + dt.timedelta(days=2), status="started")  # after the range

    funnel = stats.proofing_funnel(db, DateRange(day0.date(), day0.date() + dt.timedelta(days=1)))
    assert funnel == stats.Funnel(started=8, approved_automatically=2, to_review=3, approved_by_officer=2,
                                  rejected=1, withdrawn=1, open=2)


def test_nothing_started_gives_an_empty_funnel(db, day0):
    assert stats.proofing_funnel(db, DateRange(day0.date(), day0.date())) == stats.Funnel()


def test_review_sla_counts_decisions_in_the_range_against_their_due_date(db, day0):
    officer, ann = person(db, "officer"), person(db, "ann")
    due = day0 + 48 * H
    case(db, ann, created=day0, status="approved", decided_by=officer, due=due, decided=day0 + 10 * H)
    case(db, ann, created=day0, status="rejected", decided_by=officer, due=due, decided=due)  # on time, just
    case(db, ann, created=day0, status="approved", decided_by=officer, due=due, decided=due + H)
    case(db, ann, created=day0, status="approved", decided_by=officer, due=due,
         decided=day0 + dt.timedelta(days=5))  # after the range
    case(db, ann, created=day0, status="approved", decided_by=officer, decided=day0 + H, channel="counter")
    case(db, ann, created=day0, status="approved", decided=day0 + H)  # automatic: no review
    case(db, ann, created=day0, status="review", due=day0 + 12 * H)
    case(db, ann, created=day0, status="review", due=day0 + 30 * H)
    case(db, ann, created=day0, status="withdrawn", due=day0 + 12 * H, decided=day0 + 13 * H)

    sla = stats.review_sla(db, DateRange(day0.date(), day0.date() + dt.timedelta(days=2)), now=day0 + 24 * H)
    assert sla == stats.ReviewSla(decided=3, within_sla=2, overdue_now=1, waiting_now=2, median_hours=48.0)
    assert (sla.late, sla.share_within) == (1, 66.7)


def test_review_sla_with_no_decision_has_no_share_and_no_median(db, day0):
    sla = stats.review_sla(db, DateRange(day0.date(), day0.date()), now=day0)
    assert (sla.decided, sla.share_within, sla.median_hours) == (0, None, None)


def test_eservice_activity_counts_each_service_in_the_reader_language(app, db, clock, day0):
    ann = person(db, "ann")
    tax = make_client(app, name="Tax filing", name_th="ยื่นภาษี").client.id
    shop = make_client(app, name=HOSTILE).client.id
    idle = make_client(app, name="Idle").client.id
    move_to(clock, day0 + H)
    for _ in range(3):
        audit.record(db, "authorized", user_id=ann, client_id=tax, acr="x", amr=["pwd"])
    audit.record(db, "authorization_refused", user_id=ann, client_id=tax, error="access_denied")
    audit.record(db, "authorized", user_id=ann, client_id=shop, acr="x", amr=["pwd"])
    audit.record(db, "authorization_refused", user_id=ann, client_id=shop, error="login_required")
    audit.record(db, "authorization_refused", user_id=None, client_id=shop, error="login_required")
    audit.record(db, "client_updated", client_id=idle)
    move_to(clock, day0 + dt.timedelta(days=1, hours=1))  # after the range
    audit.record(db, "authorized", user_id=ann, client_id=idle, acr="x", amr=["pwd"])

    rng = DateRange(day0.date(), day0.date())
    assert stats.eservice_activity(db, rng, locale="th") == [
        stats.ServiceActivity(client_id=tax, name="ยื่นภาษี", authorized=3, refused=1),
        stats.ServiceActivity(client_id=shop, name=HOSTILE, authorized=1, refused=2),
    ]
    assert [row.name for row in stats.eservice_activity(db, rng, locale="en")] == ["Tax filing", HOSTILE]
    before = DateRange(day0.date() - dt.timedelta(days=3), day0.date() - dt.timedelta(days=1))
    assert stats.eservice_activity(db, before, locale="en") == []
