"""The person's own data (PDPA): the /my-data page, the JSON copy (AAL2 when reachable), erasure of
proofing data, and the retention rule that purges proofing evidence after the decision."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select

from idp.accounts.models import AuthSession
from idp.accounts.service import find_by_email
from idp.audit.models import AuditEvent
from idp.authn import totp
from idp.authn.models import RecoveryCode
from idp.authn.models import WebAuthnCredential
from idp.cli import cli
from idp.cli import db as db_cli
from idp.db import get_session
from idp.oidc.models import Token
from idp.proofing import privacy
from idp.proofing import service
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.flows import sign_in
from tests.http.test_authenticators import enrol_via_page
from tests.http.test_proofing import IAL2
from tests.http.test_proofing import SOMCHAI
from tests.http.test_proofing import confirm
from tests.http.test_proofing import last_code
from tests.http.test_proofing import submit
from tests.http.test_proofing import to_review

EN = {"Accept-Language": "en"}
EMAIL = "somchai@example.com"
NUMBER = SOMCHAI["number"]
DAY = 86400
# Columns that hold secrets or sealed personal data: none may appear in the copy, not even empty.
SECRET_KEYS = {"password_hash", "password", "secret", "secret_encrypted", "totp_secret", "code_hash",
               "recovery_codes", "public_key", "credential_id", "sign_count", "subject_seed", "webauthn_handle",
               "sid", "session_id", "evidence_encrypted", "registry_encrypted", "claims_encrypted",
               "national_id_encrypted", "national_id_index", "binding_code_hash", "decision_note"}


@pytest.fixture
def user(app):
    return make_user(app, EMAIL)


def approve(app, client):
    """Sign in as Somchai and get IAL2 through the pages (file registry, code by email)."""
    sign_in(client, EMAIL)
    assert "/proofing/confirm" in submit(client).headers["Location"]
    assert confirm(client, last_code(app)).status_code == 302
    assert ial(app) == 2


def ial(app):
    with app.app_context():
        return find_by_email(get_session(), EMAIL).ial


def cases(app):
    with app.app_context():
        return get_session().scalars(select(ProofingCase).order_by(ProofingCase.id)).all()


def identity(app):
    with app.app_context():
        return get_session().scalars(select(VerifiedIdentity)).one_or_none()


def events(app, name):
    with app.app_context():
        return get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)).all()


def keys_of(value):
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def purge(app, clock):
    with app.app_context():
        return privacy.purge_expired(get_session(), now=clock.utc_now(), retention_days=30)


def ial2_authorization(client, rp):
    _, challenge = pkce_pair()
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [IAL2]}}})
    return client.get(authorize_url(rp.client.client_id, challenge, claims=essential))


def assert_no_personal_data(app):
    with app.app_context():
        rows = get_session().scalars(select(AuditEvent)).all()
    text = json.dumps([r.details for r in rows], ensure_ascii=False)
    for value in (EMAIL, NUMBER, SOMCHAI["given_name"], SOMCHAI["family_name_th"], SOMCHAI["birthdate"]):
        assert value not in text


# -- /my-data ------------------------------------------------------------------------------------


def test_my_data_needs_a_sign_in(client):
    for path in ("/my-data", "/my-data.json", "/my-data/erase-proofing"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/signin")


def test_my_data_shows_the_verified_names_and_a_masked_national_id(app, client, user):
    approve(app, client)
    page = client.get("/my-data", headers=EN)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.text
    for value in (EMAIL, "Somchai", "Jaidee", "สมชาย", "ใจดี", "1985-03-14", "Verified identity"):
        assert value in text
    assert "•••••••••" + NUMBER[-4:] in text
    assert NUMBER not in text
    [case] = cases(app)
    held_until = (case.decided_at + dt.timedelta(days=30)).strftime("%Y-%m-%d")
    assert "Approved automatically" in text and f"Held encrypted until {held_until}" in text
    assert "Contact support" in text and 'href="/my-data/erase-proofing"' in text


# -- the copy ------------------------------------------------------------------------------------


def test_the_copy_is_a_json_download_with_the_full_claims_and_no_secret(app, client, user, clock):
    approve(app, client)
    seed = enrol_via_page(client, clock)  # AAL2 is now reachable: the copy asks for it
    response = client.get("/my-data.json")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/signin/more") and query_of(location) == {"aal": "2", "next": "/my-data.json"}
    assert events(app, "data_exported") == []
    clock.advance(30)  # the enrolment code cannot be replayed
    step = client.get(location)
    code = totp.code_at(seed, totp.current_step())
    stepped = client.post("/signin/more?aal=2", data={"csrf_token": csrf_of(step.text), "next": "/my-data.json",
                                                      "method": "totp", "code": code})
    assert stepped.status_code == 302 and stepped.headers["Location"] == "/my-data.json"
    codes_page = client.post("/security/recovery-codes", data={"csrf_token": csrf_of(client.get("/security").text)})
    assert codes_page.status_code == 200
    with app.app_context():
        db = get_session()
        me = find_by_email(db, EMAIL)
        db.add(WebAuthnCredential(user_id=me.id, name="Laptop", credential_id=b"cred-id-1", public_key=b"pk-bytes-1",
                                  discoverable=True, user_verifying=True))
        db.commit()
        secrets = [me.password_hash, *db.scalars(select(RecoveryCode.code_hash)),
                   *db.scalars(select(AuthSession.id))]

    response = client.get("/my-data.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    data = response.json
    verified = data["verified_identity"]
    assert verified["national_id"] == NUMBER
    assert verified["claims"] == {"given_name": "Somchai", "family_name": "Jaidee", "given_name#th": "สมชาย",
                                  "family_name#th": "ใจดี", "birthdate": "1985-03-14"}
    assert verified["identity_assurance_level"] == 2
    [case] = data["proofing_cases"]
    assert case["status"] == "approved" and case["decided_by"] == "automatic" and case["evidence"] == "held"
    assert data["account"]["email"] == EMAIL and data["account"]["identity_assurance_level"] == 2
    auth = data["authenticators"]
    assert [a["name"] for a in auth["authenticator_apps"]] == ["Phone"]
    assert [k["name"] for k in auth["passkeys_and_security_keys"]] == ["Laptop"]
    assert auth["recovery_codes_unused"] == 10 and auth["has_password"] is True
    assert not keys_of(data) & SECRET_KEYS
    for secret in (seed, *secrets):
        assert secret and secret not in response.text
    assert "cred-id-1" not in response.text and "pk-bytes-1" not in response.text
    [event] = events(app, "data_exported")
    assert event.user_id is not None
    assert_no_personal_data(app)


def test_without_a_second_factor_the_copy_is_given_at_once(app, client, user):
    approve(app, client)  # password only: AAL2 cannot be reached, so it is not asked for
    response = client.get("/my-data.json")
    assert response.status_code == 200 and response.json["verified_identity"]["national_id"] == NUMBER


def test_a_rejection_for_suspected_fraud_is_told_in_neutral_words(app, client, user):
    officer = make_user(app, "officer@example.com")
    sign_in(client, EMAIL)
    to_review(client, birthdate="1985-03-15")
    with app.app_context():
        db = get_session()
        case = db.scalars(select(ProofingCase)).one()
        service.reject(db, case, by=officer.id, reason="suspected_fraud", note="Photo looks edited")
    page = client.get("/my-data", headers=EN).text
    assert "Not approved" in page and "could not confirm" in page
    assert "fraud" not in page.lower() and "Photo looks edited" not in page
    [case] = client.get("/my-data.json").json["proofing_cases"]
    assert case["status"] == "rejected" and case["decision_reason"] == "not_confirmed"
    # which detail did not match stays with the officer: the person sees only that the attempts were spent
    assert case["decided_by"] == "officer" and case["reasons"] == ["attempts_exhausted"]
    assert "registry" not in case["checks"] and "attempts_on_number" not in case["checks"]
    assert "decision_note" not in case and "claimed_by" not in case


# -- retention -----------------------------------------------------------------------------------


def test_evidence_is_purged_after_the_retention_period_and_the_decision_record_stays(app, client, user, clock):
    sign_in(client, EMAIL)
    to_review(client, birthdate="1985-03-15")  # to review, then withdrawn: a decided case with a reason
    client.post("/proofing/withdraw", data={"csrf_token": csrf_of(client.get("/proofing").text)})
    clock.advance(DAY)  # the attempts are counted over 24 hours
    assert "/proofing/confirm" in submit(client).headers["Location"]
    confirm(client, last_code(app))
    before = {c.id: (c.status, list(c.reasons), c.decided_at, c.decision_reason) for c in cases(app)}
    assert [s for s, *_ in before.values()] == ["withdrawn", "approved"]
    assert all(c.evidence_encrypted for c in cases(app))
    kept = identity(app)

    clock.advance(31 * DAY)
    assert purge(app, clock) == 2
    after = cases(app)
    for case in after:
        assert case.evidence_encrypted is None and case.registry_encrypted is None
        assert case.purged_at is not None
        assert (case.status, list(case.reasons), case.decided_at, case.decision_reason) == before[case.id]
    assert after[0].reasons == ["birthdate_mismatch", "attempts_exhausted"]
    again = identity(app)
    assert again is not None and again.claims_encrypted == kept.claims_encrypted
    assert again.national_id_encrypted == kept.national_id_encrypted and ial(app) == 2
    assert purge(app, clock) == 0  # purged once
    assert [e.details["count"] for e in events(app, "proofing_purged")] == [2, 0]
    assert_no_personal_data(app)


def test_a_case_decided_29_days_ago_is_kept_and_idp_db_prune_purges_it_later(app, client, user, clock):
    approve(app, client)
    db_cli.register(cli)

    def prune():
        result = CliRunner().invoke(cli, ["db", "prune", "--json"], obj=ScriptInfo(create_app=lambda: app),
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    clock.advance(29 * DAY)
    assert purge(app, clock) == 0
    assert prune()["proofing_cases_purged"] == 0
    [case] = cases(app)
    assert case.evidence_encrypted and case.registry_encrypted and case.purged_at is None
    clock.advance(2 * DAY)
    counts = prune()
    assert counts["proofing_cases_purged"] == 1 and "tokens" in counts
    [case] = cases(app)
    assert case.evidence_encrypted is None and case.registry_encrypted is None and case.purged_at is not None
    assert case.status == "approved" and identity(app) is not None
    sign_in(client, EMAIL)  # the 30-day session ran out meanwhile
    page = client.get("/my-data", headers=EN).text
    assert f"Deleted on {case.purged_at.strftime('%Y-%m-%d')}" in page


# -- erasure -------------------------------------------------------------------------------------


def test_erasing_proofing_data_brings_the_account_back_to_ial1(app, client, user):
    rp = make_client(app, trusted=True)
    approve(app, client)
    verifier, challenge = pkce_pair()
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": [IAL2]}}})
    granted = client.get(authorize_url(rp.client.client_id, challenge, claims=essential))
    assert granted.headers["Location"].startswith(REDIRECT_URI)  # IAL2 is met before the erasure
    exchanged = exchange(client, query_of(granted.headers["Location"])["code"], client_id=rp.client.client_id,
                         secret=rp.client_secret, verifier=verifier)
    assert exchanged.status_code == 200

    page = client.get("/my-data/erase-proofing", headers=EN)
    assert page.status_code == 200 and 'type="checkbox"' in page.text and "verify again" in page.text
    assert client.post("/my-data/erase-proofing", data={"confirm": "yes"}).status_code == 400  # no CSRF token
    unticked = client.post("/my-data/erase-proofing", data={"csrf_token": csrf_of(page.text)})
    assert unticked.status_code == 400 and identity(app) is not None and ial(app) == 2

    done = client.post("/my-data/erase-proofing", headers=EN,
                       data={"csrf_token": csrf_of(page.text), "confirm": "yes"})
    assert done.status_code == 302 and done.headers["Location"] == "/my-data"
    assert "verify again" in client.get("/my-data", headers=EN).text
    assert identity(app) is None and ial(app) == 1
    [case] = cases(app)
    assert case.evidence_encrypted is None and case.registry_encrypted is None and case.national_id_index is None
    assert case.purged_at is not None
    assert case.status == "approved" and case.decision_reason == "checks_passed"  # the decision record stays
    with app.app_context():
        assert all(t.revoked_at is not None for t in get_session().scalars(select(Token)))
        assert service.verified_claims(get_session(), case.user_id, config=app.config) is None

    again = ial2_authorization(client, rp)
    assert again.headers["Location"].startswith("/proofing?") and "level=2" in again.headers["Location"]
    [event] = events(app, "proofing_data_erased")
    assert event.user_id == case.user_id and event.details["identity"] == 1
    assert_no_personal_data(app)


def test_erasure_withdraws_an_open_case(app, client, user):
    sign_in(client, EMAIL)
    to_review(client, birthdate="1985-03-15")
    [case] = cases(app)
    assert case.status == "review" and case.evidence_encrypted
    page = client.get("/my-data/erase-proofing")
    client.post("/my-data/erase-proofing", data={"csrf_token": csrf_of(page.text), "confirm": "yes"})
    [case] = cases(app)
    assert case.status == "withdrawn" and case.decided_at is not None
    assert case.evidence_encrypted is None and case.reasons == ["birthdate_mismatch", "attempts_exhausted"]
    assert "/proofing/start" in client.get("/proofing").text  # may start afresh


def test_erasure_needs_aal2_when_the_account_can_reach_it(app, client, user, clock):
    approve(app, client)
    enrol_via_page(client, clock)
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    sign_in(client, EMAIL)  # password only: AAL1
    page = client.get("/my-data")
    response = client.post("/my-data/erase-proofing", data={"csrf_token": csrf_of(page.text), "confirm": "yes"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin/more")
    assert identity(app) is not None and ial(app) == 2
