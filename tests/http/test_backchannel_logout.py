"""OIDC Back-Channel Logout 1.0: what an e-Service with a backchannel_logout_uri receives, and when.

A real HTTP receiver on 127.0.0.1 plays the e-Service's back end (the test IdP's issuer is
loopback, so the fetcher's development allowance lets it be reached over http).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp import outbound
from idp.audit.models import AuditEvent
from idp.backchannel import delivery
from idp.backchannel.dispatch import dispatcher
from idp.backchannel.logout_token import EVENT
from idp.backchannel.models import LogoutDelivery
from idp.cli import cli
from idp.cli import clients as cli_clients
from idp.cli import logout as cli_logout
from idp.db import get_session
from idp.oidc.models import Client
from idp.oidc.models import Token
from idp.oidc.registration import issue_initial_token
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import basic
from tests.flows import csrf_of
from tests.flows import full_flow
from tests.flows import sign_in
from tests.staff import admin_client
from tests.staff import browser
from tests.staff import post
from tests.staff import staff_client
from tests.support.logout_receiver import LogoutReceiver
from tests.support.logout_receiver import logout_receiver

for _module in (cli_clients, cli_logout):
    _module.register(cli)

EN = {"Accept-Language": "en"}
NEW_PASSWORD = "another long passphrase 2026"


@pytest.fixture
def app_config(app_config):
    # No retry sweeps started by requests: each test says when deliveries run.
    return {**app_config, "BACKCHANNEL_LOGOUT_SWEEP_EVERY": 0}


@pytest.fixture
def receiver() -> Iterator[LogoutReceiver]:
    with logout_receiver() as server:
        yield server


@pytest.fixture
def user(app):
    return make_user(app)


def rp_at(app, receiver, path="/bc", **kwargs):
    return make_client(app, backchannel_logout_uri=receiver.url(path), **kwargs)


def run(app, *args):
    """``idp ARGS`` against this app, as the operator's cron would run it."""
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False)


def drain(app):
    assert dispatcher(app).join(10), "the background deliveries did not finish"


def deliveries(app):
    with app.app_context():
        return list(get_session().scalars(select(LogoutDelivery).order_by(LogoutDelivery.id)))


def events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def verify(client, token):
    """The logout token checked as an e-Service must (§2.6), with joserfc against the IdP's JWKS."""
    keys = KeySet.import_key_set(client.get("/jwks.json").json)
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    return decoded.header, decoded.claims


def id_token_claims(client, id_token):
    keys = KeySet.import_key_set(client.get("/jwks.json").json)
    return jwt.decode(id_token, keys, algorithms=["RS256", "ES256"]).claims


def logout_at_rp(client, body):
    """RP-Initiated Logout with the ID token as hint: ends the session without a question."""
    query = urlencode({"id_token_hint": body["id_token"], "post_logout_redirect_uri": "https://rp.example/bye"})
    response = client.get("/logout?" + query)
    assert response.status_code == 302
    return response


# -- registration ----------------------------------------------------------------------------------------


@pytest.fixture
def initial(app):
    with app.app_context():
        return issue_initial_token(get_session(), agency="Department of Public Works",
                                   allowed_scopes=["profile", "email"], max_ial=2, max_aal=2, days=30).token


def register(client, token, **extra):
    body = {"client_name": "Building permits", "redirect_uris": [REDIRECT_URI], "scope": "openid profile", **extra}
    return client.post("/register", json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("uri", ["http://rp.example/backchannel", "https://rp.example/backchannel#frag",
                                 "/backchannel", "ftp://rp.example/backchannel", "https:///backchannel"])
def test_registration_refuses_a_backchannel_logout_uri_that_is_not_https_or_has_a_fragment(client, initial, uri):
    response = register(client, initial, backchannel_logout_uri=uri)
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"


@pytest.mark.parametrize("extra", [{"backchannel_logout_session_required": "yes",
                                    "backchannel_logout_uri": "https://rp.example/bc"},
                                   {"backchannel_logout_session_required": True}])
def test_registration_refuses_a_malformed_session_required(client, initial, extra):
    response = register(client, initial, **extra)
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"


def test_registration_keeps_the_backchannel_logout_metadata(client, initial):
    response = register(client, initial, backchannel_logout_uri="https://rp.example/bc",
                        backchannel_logout_session_required=True)
    assert response.status_code == 201, response.json
    assert response.json["backchannel_logout_uri"] == "https://rp.example/bc"
    assert response.json["backchannel_logout_session_required"] is True


def test_an_http_loopback_uri_is_for_development_and_holds_a_registration_for_review(client, initial):
    response = register(client, initial, backchannel_logout_uri="http://localhost:5001/bc")
    assert response.status_code == 201
    assert "backchannel_logout_uri_not_public" in response.json["review_reasons"]


def test_discovery_says_back_channel_logout_with_sid_is_supported(client):
    metadata = client.get("/.well-known/openid-configuration").json
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True


# -- the logout token -------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_rp_initiated_logout_posts_a_signed_logout_token_naming_the_session(app, client, user, receiver, alg):
    rp = rp_at(app, receiver, id_token_signed_response_alg=alg)
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    id_claims = id_token_claims(client, body["id_token"])
    logout_at_rp(client, body)
    drain(app)
    [received] = receiver.at("/bc")
    assert received.content_type == "application/x-www-form-urlencoded"
    header, claims = verify(client, received.logout_token)
    assert header["typ"] == "logout+jwt" and header["alg"] == alg and header["kid"]
    assert claims["iss"] == "http://localhost" and claims["aud"] == rp.client.client_id
    assert claims["events"] == {EVENT: {}}
    assert claims["sid"] == id_claims["sid"] and claims["sub"] == id_claims["sub"]
    assert "nonce" not in claims and len(claims["jti"]) >= 16
    assert 0 < claims["exp"] - claims["iat"] <= 120
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.reason, row.last_error) == ("delivered", 1, "rp_logout", None)
    [event] = events(app, "backchannel_logout_delivered")
    assert event.client_id == rp.client.id and event.user_id == user.id and event.details["attempt"] == 1


def test_the_logout_token_is_not_an_id_token_and_the_id_token_is_not_a_logout_token(app, client, user, receiver):
    rp = rp_at(app, receiver)
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    logout_at_rp(client, body)
    drain(app)
    header, _ = verify(client, receiver.at("/bc")[0].logout_token)
    id_header, id_claims = verify(client, body["id_token"])
    assert header["typ"] != id_header.get("typ") and "events" not in id_claims and "nonce" in id_claims


def test_signing_out_at_the_idp_tells_the_eservice_and_revokes_its_tokens(app, client, user, receiver):
    rp = rp_at(app, receiver)
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid offline_access")
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    drain(app)
    [received] = receiver.at("/bc")
    assert verify(client, received.logout_token)[1]["aud"] == rp.client.client_id
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                            headers={"Authorization": basic(rp.client.client_id, rp.client_secret)})
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    assert [row.reason for row in deliveries(app)] == ["signout"]


def test_only_eservices_that_got_tokens_in_the_ended_session_are_called(app, user, receiver):
    make_user(app, "other@example.com")
    used = rp_at(app, receiver, "/used")
    unused = rp_at(app, receiver, "/unused")  # registered, never used in this session
    elsewhere = rp_at(app, receiver, "/elsewhere")  # used in another person's session
    quiet = make_client(app)  # got tokens, but registered no backchannel_logout_uri
    mine, theirs = browser(app), browser(app)
    body = full_flow(mine, used.client.client_id, used.client_secret)
    full_flow(mine, quiet.client.client_id, quiet.client_secret)
    full_flow(theirs, elsewhere.client.client_id, elsewhere.client_secret, email="other@example.com")
    logout_at_rp(mine, body)
    drain(app)
    assert [r.path for r in receiver.received] == ["/used"]
    assert [row.client_id for row in deliveries(app)] == [used.client.id]
    assert unused and quiet
    # the other person is still signed in to their e-Service: its tokens work
    with app.app_context():
        assert all(t.revoked_at is None for t in get_session().scalars(select(Token).where(
            Token.client_id == elsewhere.client.id)))


def test_one_token_per_eservice_for_a_session_that_signed_in_to_it_twice(app, client, user, receiver):
    rp = rp_at(app, receiver)
    full_flow(client, rp.client.client_id, rp.client_secret)
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    logout_at_rp(client, body)
    drain(app)
    assert len(receiver.at("/bc")) == 1


# -- every way a session ends -----------------------------------------------------------------------------


def test_ending_a_session_on_the_security_page_tells_the_eservice_signed_in_there(app, user, receiver):
    rp = rp_at(app, receiver)
    mine, other = browser(app), browser(app)
    body = full_flow(other, rp.client.client_id, rp.client_secret)
    sign_in(mine)
    page = mine.get("/security", headers=EN).text
    handle = re.findall(r'name="session" value="([^"]+)"', page)[0]
    assert mine.post("/security/sessions/end", headers=EN,
                     data={"csrf_token": csrf_of(page), "session": handle}).status_code == 302
    drain(app)
    [received] = receiver.at("/bc")
    assert verify(mine, received.logout_token)[1]["sid"] == id_token_claims(mine, body["id_token"])["sid"]
    assert [row.reason for row in deliveries(app)] == ["security_page"]


def test_signing_out_everywhere_else_tells_each_eservice_once_per_session(app, user, receiver):
    rp = rp_at(app, receiver)
    mine, second, third = browser(app), browser(app), browser(app)
    for other in (second, third):
        full_flow(other, rp.client.client_id, rp.client_secret)
    full_flow(mine, rp.client.client_id, rp.client_secret)
    page = mine.get("/security", headers=EN).text
    assert mine.post("/security/sessions/end-others", headers=EN, data={"csrf_token": csrf_of(page)}).status_code == 302
    drain(app)
    sids = sorted(verify(mine, r.logout_token)[1]["sid"] for r in receiver.at("/bc"))
    assert len(sids) == 2 and len(set(sids)) == 2  # not this browser's own session


def test_support_disabling_the_account_tells_the_eservices(app, clock, user, receiver):
    rp = rp_at(app, receiver)
    owner = browser(app)
    full_flow(owner, rp.client.client_id, rp.client_secret)
    support = staff_client(app, clock, "support@example.com", "support")
    response = post(support, f"/console/support/accounts/{user.id}/disable", reason="reported_compromised")
    assert response.status_code == 302
    drain(app)
    assert len(receiver.at("/bc")) == 1
    assert [row.reason for row in deliveries(app)] == ["account_disabled"]


def test_support_resetting_the_sign_in_methods_tells_the_eservices(app, clock, user, receiver):
    rp = rp_at(app, receiver)
    full_flow(browser(app), rp.client.client_id, rp.client_secret)
    support = staff_client(app, clock, "support@example.com", "support")
    response = post(support, f"/console/support/accounts/{user.id}/reset", reason="lost_authenticator",
                    confirm="yes")
    assert response.status_code == 302
    drain(app)
    assert [row.reason for row in deliveries(app)] == ["authenticators_reset"]
    assert len(receiver.at("/bc")) == 1


def test_a_password_reset_tells_the_eservices_of_every_session(app, user, receiver):
    rp = rp_at(app, receiver)
    full_flow(browser(app), rp.client.client_id, rp.client_secret)
    person = browser(app)
    page = person.get("/password/forgot", headers=EN)
    person.post("/password/forgot", headers=EN, data={"email": "citizen@example.com", "csrf_token": csrf_of(page.text)})
    link = _reset_link(app)
    page = person.get(link, headers=EN)
    assert person.post(link, headers=EN, data={"csrf_token": csrf_of(page.text)}).status_code == 302
    page = person.get("/password/reset", headers=EN)
    done = person.post("/password/reset", headers=EN, data={"csrf_token": csrf_of(page.text), "step": "password",
                                                             "password": NEW_PASSWORD})
    assert done.status_code == 302, done.text
    drain(app)
    assert len(receiver.at("/bc")) == 1
    assert [row.reason for row in deliveries(app)] == ["password_reset"]


def _reset_link(app):
    import email
    import email.policy
    from pathlib import Path

    for path in sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found = re.search(r"http://localhost(/password/reset/\S+)", message.get_body(("plain",)).get_content())
        if found:
            return found.group(1)
    raise AssertionError("no reset link was sent")


# -- failures, retries, the fetcher's rules and concurrent runners ---------------------------------------


def test_a_failed_delivery_is_retried_with_backoff_until_the_eservice_takes_it(app, client, user, receiver, clock):
    rp = rp_at(app, receiver)
    receiver.statuses["/bc"] = [503]
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    logout_at_rp(client, body)
    drain(app)
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "http_503")
    [failed] = events(app, "backchannel_logout_failed")
    assert failed.details["error"] == "http_503" and failed.details["final"] is False
    early = run(app, "logout", "deliver", "--json")
    assert early.exit_code == 0 and '"delivered": 0' in early.output  # not due before the backoff
    clock.advance(31)
    done = run(app, "logout", "deliver", "--json")
    assert done.exit_code == 0 and '"delivered": 1' in done.output, done.output
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)
    tokens = [verify(client, r.logout_token)[1] for r in receiver.at("/bc")]
    assert len(tokens) == 2 and tokens[0]["jti"] != tokens[1]["jti"] and tokens[0]["sid"] == tokens[1]["sid"]


def test_a_delivery_is_given_up_after_the_last_attempt(app, client, user, receiver, clock):
    app.config.update(BACKCHANNEL_LOGOUT_MAX_ATTEMPTS=2)
    rp = rp_at(app, receiver)
    receiver.statuses["/bc"] = [500, 500, 500]
    logout_at_rp(client, full_flow(client, rp.client.client_id, rp.client_secret))
    drain(app)
    clock.advance(31)
    run(app, "logout", "deliver")
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, "http_500")
    assert [e.details["final"] for e in events(app, "backchannel_logout_failed")] == [False, True]
    clock.advance(3600)
    run(app, "logout", "deliver")
    assert len(receiver.at("/bc")) == 2


@pytest.mark.parametrize("allow_loopback, host, scheme", [(False, "localhost", "http"), (False, "localhost", "https"),
                                                          (True, "10.0.0.1", "https")])
def test_an_internal_address_is_refused_by_the_fetcher_and_nothing_is_sent(app, client, user, receiver,
                                                                          allow_loopback, host, scheme):
    rp = make_client(app, backchannel_logout_uri=receiver.url("/bc", host=host, scheme=scheme))
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = allow_loopback  # False: as on an IdP whose issuer is not loopback
    outbound.init_app(app)
    logout_at_rp(client, full_flow(client, rp.client.client_id, rp.client_secret))
    drain(app)
    assert receiver.received == []
    [row] = deliveries(app)
    assert (row.status, row.last_error) == ("failed", "not_allowed")  # final: posting again is refused again
    [event] = events(app, "backchannel_logout_failed")
    assert event.details["final"] is True


def test_concurrent_runners_send_each_logout_token_once(app, user, receiver):
    app.config["BACKCHANNEL_LOGOUT_IMMEDIATE"] = False  # only the runners below send
    rps = [rp_at(app, receiver, f"/rp{i}") for i in range(3)]
    person = browser(app)
    last = None
    for rp in rps:
        last = full_flow(person, rp.client.client_id, rp.client_secret)
    logout_at_rp(person, last)
    assert [row.status for row in deliveries(app)] == ["pending"] * 3 and receiver.received == []
    receiver.delay = 0.2  # each POST takes a while: the runners overlap
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def run():
        try:
            with app.app_context():
                start.wait(5)
                delivery.deliver_due(get_session(), settings=delivery.Settings.of(app.config),
                                     keyring=app.extensions["idp.keyring"], fetcher=outbound.fetcher())
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert sorted(r.path for r in receiver.received) == ["/rp0", "/rp1", "/rp2"]
    assert [(row.status, row.attempts) for row in deliveries(app)] == [("delivered", 1)] * 3
    assert len(events(app, "backchannel_logout_delivered")) == 3


def test_an_eservice_disabled_since_is_not_told(app, client, user, receiver):
    rp = rp_at(app, receiver)
    full_flow(client, rp.client.client_id, rp.client_secret)
    assert run(app, "clients", "disable", rp.client.client_id).exit_code == 0
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/").text)})
    drain(app)
    assert receiver.received == [] and deliveries(app) == []


# -- the command line ----------------------------------------------------------------------------------


def test_the_cli_registers_and_changes_the_backchannel_logout_uri(app):
    added = run(app, "clients", "add", "--name", "Permits", "--redirect-uri", REDIRECT_URI,
                "--backchannel-logout-uri", "https://rp.example/bc", "--backchannel-logout-session-required", "--json")
    assert added.exit_code == 0, added.output
    client_id = re.search(r'"client_id": "([^"]+)"', added.output).group(1)
    bad = CliRunner().invoke(cli, ["clients", "set-backchannel-logout", client_id, "--uri", "http://rp.example/bc"],
                             obj=ScriptInfo(create_app=lambda: app))
    assert bad.exit_code != 0 and "https" in bad.output
    assert run(app, "clients", "set-backchannel-logout", client_id, "--uri", "").exit_code == 0
    with app.app_context():
        row = get_session().scalar(select(Client).where(Client.client_id == client_id))
        assert "backchannel_logout_uri" not in row.client_metadata


def test_clients_check_warns_of_a_backchannel_logout_uri_the_fetcher_would_refuse(app, receiver):
    refused = make_client(app, backchannel_logout_uri="https://10.0.0.1/bc")
    fine = rp_at(app, receiver)
    result = run(app, "clients", "check", refused.client.client_id, "--json")
    [line] = [line for line in result.stdout.splitlines() if line.startswith("{")]
    data = json.loads(line)
    assert result.exit_code == 0 and data["errors"] == 0  # sign-ins still work
    assert [(f["problem"], f["severity"], f["member"]) for f in data["findings"]] == [
        ("backchannel_logout_uri_unusable", "warning", "backchannel_logout_uri")]
    assert "nothing wrong found" in run(app, "clients", "check", fine.client.client_id).stdout
    assert receiver.received == []  # checked, not posted to


# -- the console ---------------------------------------------------------------------------------------


CONSOLE_FORM = {"client_name": "Business licence", "redirect_uris": "https://rp.example/cb",
                "scope": ["profile"], "subject_type": "pairwise", "token_endpoint_auth_method": "client_secret_basic",
                "id_token_signed_response_alg": "RS256"}


def test_the_console_registers_a_backchannel_logout_uri_and_refuses_one_without_https(app, clock):
    admin = admin_client(app, clock)
    refused = post(admin, "/console/clients/new", **CONSOLE_FORM, backchannel_logout_uri="http://rp.example/bc")
    assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert 'value="http://rp.example/bc"' in refused.text  # the form is shown again as typed
    made = post(admin, "/console/clients/new", **CONSOLE_FORM, backchannel_logout_uri="https://rp.example/bc",
                backchannel_logout_session_required="1")
    assert made.status_code == 200, made.text
    with app.app_context():
        row = get_session().scalar(select(Client))
        assert row.client_metadata["backchannel_logout_uri"] == "https://rp.example/bc"
        assert row.client_metadata["backchannel_logout_session_required"] is True
    page = admin.get(f"/console/clients/{row.client_id}", headers=EN).text
    assert "https://rp.example/bc" in page
    form = admin.get(f"/console/clients/{row.client_id}/edit", headers=EN).text
    assert 'value="https://rp.example/bc"' in form
    assert re.search(r'id="backchannel_logout_session_required"[^>]*checked', form)


def test_demo_seed_registers_the_demo_eservices_backchannel_logout_uri(app):
    from idp.cli import demo

    demo.register(cli)
    assert run(app, "demo", "seed", "--eservice-url", "http://localhost:5001").exit_code == 0
    with app.app_context():
        row = get_session().scalar(select(Client).where(Client.name == demo.DEMO_CLIENT_NAME))
        assert row.client_metadata["backchannel_logout_uri"] == "http://localhost:5001/backchannel-logout"


def test_db_prune_forgets_finished_deliveries_after_30_days(app, client, user, receiver, clock):
    from idp.cli import db as cli_db

    cli_db.register(cli)
    rp = rp_at(app, receiver)
    logout_at_rp(client, full_flow(client, rp.client.client_id, rp.client_secret))
    drain(app)
    assert json.loads(run(app, "db", "prune", "--json").stdout)["logout_deliveries"] == 0
    clock.advance(31 * 24 * 3600)
    assert json.loads(run(app, "db", "prune", "--json").stdout)["logout_deliveries"] == 1
    assert deliveries(app) == []


@pytest.mark.parametrize("status", [302, 400, 204])
def test_only_200_or_204_counts_as_delivered_and_a_redirect_is_not_followed(app, client, user, receiver, status):
    rp = rp_at(app, receiver)
    receiver.statuses["/bc"] = [status]
    logout_at_rp(client, full_flow(client, rp.client.client_id, rp.client_secret))
    drain(app)
    [row] = deliveries(app)
    assert len(receiver.received) == 1  # one POST, wherever a Location header would point
    if status == 204:
        assert row.status == "delivered"
    else:
        assert (row.status, row.last_error) == ("pending", f"http_{status}")
