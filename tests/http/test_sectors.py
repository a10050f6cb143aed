"""Pairwise sectors cannot be joined across agencies (OIDC Core §8.1, OIDC Registration §5).

A ``sector_identifier_uri`` is fetched at registration and on every change and must list every
redirect URI; a client joining a sector that another agency's client uses waits for an admin
(dynamic registration) or needs the admin's explicit confirmation (console, ``idp clients add``).
Sector documents are served by a real listener on 127.0.0.1, reached as ``localhost`` (the test
issuer is loopback, so the fetcher's development allowance is on; one test turns it off).
"""

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from joserfc.jwk import ECKey
from sqlalchemy import select

from idp import outbound
from idp.audit.models import AuditEvent
from idp.cli import cli
from idp.cli import clients as clients_cli
from idp.db import get_session
from idp.oidc.clients import ClientMetadataError
from idp.oidc.models import Client
from idp.oidc.registration import issue_initial_token
from idp.oidc.subjects import subject_for
from tests.factories import REDIRECT_URI
from tests.factories import make_client
from tests.factories import make_user
from tests.staff import admin_client
from tests.staff import post
from tests.support.documents import closed_port
from tests.support.documents import serve_documents

clients_cli.register(cli)

KEY = ECKey.generate_key("P-256", private=True, parameters={"kid": "agency-1"})
GOOD = {"client_name": "Building permits", "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [KEY.as_dict(private=False)]},
        "scope": "openid profile"}
SECTOR_REASON = "sector_of_another_agency"


@pytest.fixture
def documents():
    with serve_documents() as server:
        yield server


def _sector(documents, path, uris):
    return documents.put(path, uris).replace("127.0.0.1", "localhost")


def _agency(app, name):
    with app.app_context():
        return issue_initial_token(get_session(), agency=name, allowed_scopes=["profile"], max_ial=2, max_aal=2,
                                   days=30).token


def _register(client, token, **change):
    return client.post("/register", json={**GOOD, **change}, headers={"Authorization": f"Bearer {token}"})


def _count(app):
    with app.app_context():
        return len(get_session().scalars(select(Client)).all())


# -- the sector document -------------------------------------------------------------------------------

def test_a_sector_document_listing_every_redirect_uri_is_accepted(app, client, documents):
    uris = ["https://a.rp.example/cb", "https://b.rp.example/cb"]
    sector = _sector(documents, "/sector.json", [*uris, "https://c.rp.example/cb"])
    response = _register(client, _agency(app, "Revenue"), redirect_uris=uris, sector_identifier_uri=sector)
    assert response.status_code == 201, response.text
    assert response.json["sector_identifier_uri"] == sector
    assert documents.hits["/sector.json"] == 1


@pytest.mark.parametrize("put, words", [
    ({"document": ["https://a.rp.example/cb"]}, "does not list the redirect URI 'https://b.rp.example/cb'"),
    ({"document": {"redirect_uris": ["https://a.rp.example/cb", "https://b.rp.example/cb"]}}, "JSON array"),
    ({"document": [["https://a.rp.example/cb"], "https://b.rp.example/cb"]}, "JSON array"),
    ({"body": b"https://a.rp.example/cb\nhttps://b.rp.example/cb", "content_type": "text/plain"}, "content type"),
    ({"body": b"[not json"}, "JSON"),
    ({"status": 302, "body": b"", "headers": {"Location": "ftp://127.0.0.1/sector.json"}}, "redirect"),
    ({"status": 404, "body": b""}, "404"),
])
def test_a_wrong_sector_document_is_invalid_client_metadata(app, client, documents, put, words):
    sector = documents.put("/sector.json", **put).replace("127.0.0.1", "localhost")
    response = _register(client, _agency(app, "Revenue"), sector_identifier_uri=sector,
                         redirect_uris=["https://a.rp.example/cb", "https://b.rp.example/cb"])
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"
    assert words in response.json["error_description"]
    assert _count(app) == 0


@pytest.mark.parametrize("uri", ["http://rp.example/sector.json", "ftp://rp.example/sector.json"])
def test_a_sector_identifier_uri_must_be_https(app, client, uri):
    response = _register(client, _agency(app, "Revenue"), sector_identifier_uri=uri)
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"
    assert _count(app) == 0


def test_an_unreachable_sector_identifier_is_refused(app, client):
    for uri in (f"http://localhost:{closed_port()}/sector.json", "https://sector.rp.example/sector.json"):
        response = _register(client, _agency(app, "Revenue"), sector_identifier_uri=uri)
        assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"
        assert "could not be fetched" in response.json["error_description"]
    assert _count(app) == 0


@pytest.mark.parametrize("host", ["localhost", "127.1", "0x7f.0.0.1", "[::1]", "[::ffff:127.0.0.1]"])
def test_without_the_development_setting_a_loopback_sector_is_refused(app, client, documents, host):
    documents.put("/sector.json", [REDIRECT_URI])
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = False  # as on an IdP whose issuer is not loopback
    outbound.init_app(app)
    for scheme in ("http", "https"):
        response = _register(client, _agency(app, "Revenue"),
                             sector_identifier_uri=f"{scheme}://{host}:{documents.port}/sector.json")
        assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"
    assert documents.hits["/sector.json"] == 0


def test_the_sector_document_is_fetched_again_on_every_change(app, client, documents):
    sector = _sector(documents, "/sector.json", [REDIRECT_URI])
    body = _register(client, _agency(app, "Revenue"), sector_identifier_uri=sector).json
    headers = {"Authorization": f"Bearer {body['registration_access_token']}"}
    update = {**GOOD, "client_id": body["client_id"], "sector_identifier_uri": sector,
              "redirect_uris": [REDIRECT_URI, "https://rp.example/cb2"]}
    refused = client.put(f"/register/{body['client_id']}", json=update, headers=headers)
    assert refused.status_code == 400 and "https://rp.example/cb2" in refused.json["error_description"]
    documents.put("/sector.json", [REDIRECT_URI, "https://rp.example/cb2"])  # the agency lists it first
    assert client.put(f"/register/{body['client_id']}", json=update, headers=headers).status_code == 200
    assert documents.hits["/sector.json"] == 3


# -- another agency's sector ---------------------------------------------------------------------------

def test_a_registration_in_a_sector_the_operator_registered_waits_for_an_admin(app, client):
    make_client(app, name="Victim e-Service")  # an admin's client on rp.example
    response = _register(client, _agency(app, "Hostile agency"))
    assert response.status_code == 201
    assert response.json["status"] == "pending" and response.json["review_reasons"] == [SECTOR_REASON]


def test_a_registration_in_another_agencys_sector_waits_but_its_own_agency_joins(app, client):
    victim, hostile = _agency(app, "Victim agency"), _agency(app, "Hostile agency")
    assert _register(client, victim).json["status"] == "active"
    assert _register(client, victim, client_name="Second e-Service").json["status"] == "active"
    held = _register(client, hostile).json
    assert held["status"] == "pending" and held["review_reasons"] == [SECTOR_REASON]
    elsewhere = _register(client, hostile, redirect_uris=["https://hostile.example/cb"]).json
    assert elsewhere["status"] == "active"


def test_a_shared_host_for_sector_documents_is_one_sector(app, client, documents):
    """Two agencies' documents on one host (a shared hosting service) make one sector: the ``sub`` is
    keyed by the host, so the second agency waits even though its document is its own."""
    victim_sector = _sector(documents, "/victim.json", [REDIRECT_URI])
    hostile_sector = _sector(documents, "/hostile.json", ["https://hostile.example/cb"])
    _register(client, _agency(app, "Victim agency"), sector_identifier_uri=victim_sector)
    held = _register(client, _agency(app, "Hostile agency"), sector_identifier_uri=hostile_sector,
                     redirect_uris=["https://hostile.example/cb"]).json
    assert held["status"] == "pending" and SECTOR_REASON in held["review_reasons"]


def test_the_victims_sector_document_does_not_list_the_hostile_redirect_uri(app, client, documents):
    victim_sector = _sector(documents, "/victim.json", [REDIRECT_URI])
    _register(client, _agency(app, "Victim agency"), sector_identifier_uri=victim_sector)
    response = _register(client, _agency(app, "Hostile agency"), sector_identifier_uri=victim_sector,
                         redirect_uris=["https://hostile.example/cb"])
    assert response.status_code == 400 and "https://hostile.example/cb" in response.json["error_description"]


def test_public_subjects_are_one_sector(app, client):
    make_client(app, name="Public e-Service", subject_type="public", redirect_uris=["https://public.example/cb"])
    held = _register(client, _agency(app, "Hostile agency"), subject_type="public").json
    assert held["status"] == "pending" and held["review_reasons"] == [SECTOR_REASON]


def test_an_update_moving_into_another_agencys_sector_waits(app, client):
    make_client(app, name="Victim e-Service")
    body = _register(client, _agency(app, "Hostile agency"), redirect_uris=["https://hostile.example/cb"]).json
    assert body["status"] == "active"
    headers = {"Authorization": f"Bearer {body['registration_access_token']}"}
    moved = client.put(f"/register/{body['client_id']}", json={**GOOD, "client_id": body["client_id"]},
                       headers=headers).json
    assert moved["status"] == "pending" and moved["review_reasons"] == [SECTOR_REASON]
    renamed = client.put(f"/register/{body['client_id']}", headers=headers,
                         json={**GOOD, "client_id": body["client_id"], "client_name": "Renamed"}).json
    assert renamed["status"] == "pending" and renamed["review_reasons"] == [SECTOR_REASON]  # still waiting


def test_an_active_client_stays_active_when_its_sector_is_unchanged(app, client):
    body = _register(client, _agency(app, "Revenue")).json
    make_client(app, name="Joined by an admin")  # the admin chose to join Revenue's sector later
    headers = {"Authorization": f"Bearer {body['registration_access_token']}"}
    renamed = client.put(f"/register/{body['client_id']}", headers=headers,
                         json={**GOOD, "client_id": body["client_id"], "client_name": "Renamed"}).json
    assert renamed["status"] == "active"


def test_different_sectors_give_a_person_different_subjects(app):
    user = make_user(app)
    victim = make_client(app, name="Victim").client
    hostile = make_client(app, name="Hostile", redirect_uris=["https://hostile.example/cb"]).client
    with app.app_context():
        assert subject_for(user, victim) != subject_for(user, hostile)


# -- the console and the CLI need an admin's confirmation ------------------------------------------------

FORM = {"client_name": "Second licence", "redirect_uris": REDIRECT_URI, "subject_type": "pairwise",
        "token_endpoint_auth_method": "client_secret_basic", "id_token_signed_response_alg": "RS256"}


def _events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_create_client_refuses_another_agencys_sector_without_confirmation(app):
    first = make_client(app, name="First").client
    with pytest.raises(ClientMetadataError, match=r"rp\.example is already used by 'First'"):
        make_client(app, name="Second", join_sector=False)
    second = make_client(app, name="Second", join_sector=True).client
    [event] = _events(app, "client_sector_joined")
    assert event.client_id == second.id and event.details["shared_with"] == [first.id]


def test_the_console_asks_before_joining_another_agencys_sector(app, client, clock):
    make_client(app, name="First licence")
    admin = admin_client(app, clock)
    refused = post(admin, "/console/clients/new", **FORM)
    assert refused.status_code == 400
    assert "already used by" in refused.text and "Join this sector" in refused.text
    assert _count(app) == 1
    joined = post(admin, "/console/clients/new", **FORM, join_sector="1")
    assert joined.status_code == 200 and _count(app) == 2
    assert len(_events(app, "client_sector_joined")) == 1


def test_the_console_edit_asks_before_moving_into_another_agencys_sector(app, client, clock):
    make_client(app, name="First licence")
    mine = make_client(app, name="Elsewhere", redirect_uris=["https://else.example/cb"],
                       post_logout_redirect_uris=[]).client
    admin = admin_client(app, clock)
    refused = post(admin, f"/console/clients/{mine.client_id}/edit", **FORM)
    assert refused.status_code == 400 and "already used by" in refused.text
    with app.app_context():
        assert get_session().get(Client, mine.id).redirect_uris == ["https://else.example/cb"]
    assert post(admin, f"/console/clients/{mine.client_id}/edit", **FORM, join_sector="1").status_code == 302


def test_the_console_refuses_a_sector_document_that_misses_a_redirect_uri(app, client, clock, documents):
    admin = admin_client(app, clock)
    sector = _sector(documents, "/sector.json", ["https://other.example/cb"])
    refused = post(admin, "/console/clients/new", **FORM, sector_identifier_uri=sector)
    assert refused.status_code == 400 and "does not list the redirect URI" in refused.text
    assert _count(app) == 0


def _cli(app, *args):
    return CliRunner().invoke(cli, ["clients", "add", "--name", "CLI licence", *args],
                              obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False)


def test_the_cli_asks_before_joining_another_agencys_sector(app, documents):
    make_client(app, name="First licence")
    refused = _cli(app, "--redirect-uri", REDIRECT_URI)
    assert refused.exit_code != 0 and "--join-sector" in refused.output
    assert _count(app) == 1
    assert _cli(app, "--redirect-uri", REDIRECT_URI, "--join-sector").exit_code == 0
    sector = _sector(documents, "/sector.json", ["https://other.example/cb"])
    missing = _cli(app, "--redirect-uri", "https://third.example/cb", "--sector-identifier-uri", sector)
    assert missing.exit_code != 0 and "does not list the redirect URI" in missing.output
    assert _count(app) == 2
