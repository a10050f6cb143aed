"""Security decisions the issue lists and the dashboard counts leave an audit event: an authorization
an e-Service received, one a signed-in person did not get, consent given and withdrawn, key rotation."""

from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import get_session
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import follow_to_code
from tests.flows import full_flow
from tests.flows import pkce_pair
from tests.flows import sign_in


def events(app, *names):
    with app.app_context():
        rows = get_session().scalars(select(AuditEvent).where(AuditEvent.event.in_(names)).order_by(AuditEvent.seq))
        return [(e.event, e.user_id, e.client_id, e.details) for e in rows]


def test_an_authorization_and_the_consent_behind_it_are_audited(app, client):
    user = make_user(app)
    rp = make_client(app)
    full_flow(client, rp.client.client_id, rp.client_secret)
    got = events(app, "consent_given", "authorized")
    assert [(name, uid, cid) for name, uid, cid, _ in got] == [
        ("consent_given", user.id, rp.client.id), ("authorized", user.id, rp.client.id)]
    assert got[0][3]["items"] and got[1][3]["acr"] == "urn:th:digitalid:ial1:aal1" and got[1][3]["amr"] == ["pwd"]


def test_a_denied_consent_is_a_refusal_for_that_e_service(app, client):
    user = make_user(app)
    rp = make_client(app)
    _, challenge = pkce_pair()
    callback = follow_to_code(client, authorize_url(rp.client.client_id, challenge), decision="deny")
    assert callback["error"] == "access_denied"
    assert [(n, u, c, d) for n, u, c, d in events(app, "authorization_refused")] == [
        ("authorization_refused", user.id, rp.client.id, {"error": "access_denied"})]
    assert events(app, "authorized") == []


def test_an_unmet_requirement_for_a_signed_in_person_is_a_refusal(app, client):
    user = make_user(app)
    rp = make_client(app, trusted=True)
    sign_in(client)
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, acr_values="urn:th:digitalid:ial3:aal2",
                                        claims='{"id_token": {"acr": {"essential": true, '
                                               '"values": ["urn:th:digitalid:ial3:aal2"]}}}'))
    assert "error=unmet_authentication_requirements" in response.headers["Location"]
    assert events(app, "authorization_refused") == [
        ("authorization_refused", user.id, rp.client.id, {"error": "unmet_authentication_requirements"})]


def test_an_anonymous_bad_request_writes_nothing(app, client):
    rp = make_client(app)
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, prompt="none"))
    assert "error=login_required" in response.headers["Location"]
    assert events(app, "authorization_refused") == []


def test_withdrawing_consent_is_audited(app, client):
    user = make_user(app)
    rp = make_client(app)
    full_flow(client, rp.client.client_id, rp.client_secret)
    page = client.get("/connected-services")
    client.post("/connected-services", data={"csrf_token": csrf_of(page.text), "client": str(rp.client.id),
                                             "confirm": "yes"})
    assert [(n, u, c) for n, u, c, _ in events(app, "consent_withdrawn")] == [
        ("consent_withdrawn", user.id, rp.client.id)]
