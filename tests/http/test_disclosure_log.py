"""The disclosure log on My data: every release of claims is recorded by name, exactly as the
e-Service received it; the person searches, pages and downloads their own rows only; rows go after
the retention period (``idp db prune``), never earlier."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.cli import cli
from idp.cli import db as db_cli
from idp.db import get_session
from idp.disclosure import log
from idp.disclosure.models import Disclosure
from idp.oidc.models import Client
from idp.oidc.models import Token
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import full_flow
from tests.flows import sign_in

EN = {"Accept-Language": "en"}
TH = {"Accept-Language": "th"}
# What the e-Service receives that is not about the person (OIDC Core §2, §3.1.3.6).
TOKEN_MEMBERS = {"iss", "aud", "exp", "iat", "nonce", "at_hash", "sid", "auth_time", "acr", "amr"}


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


def _rows(app, user_email="citizen@example.com"):
    with app.app_context():
        return list(get_session().scalars(select(Disclosure).order_by(Disclosure.id)))


def _id_token_claims(client, id_token):
    return jwt.decode(id_token, KeySet.import_key_set(client.get("/jwks.json").json)).claims


def test_a_code_flow_records_exactly_the_claims_of_the_id_token(app, client, rp):
    # phone_number is asked for but the IdP holds none: not sent, so not logged.
    body = full_flow(client, rp.client.client_id, rp.client_secret,
                     claims=json.dumps({"id_token": {"email": None, "name": None, "phone_number": None}}))
    claims = _id_token_claims(client, body["id_token"])
    [row] = _rows(app)
    assert row.claims == sorted(set(claims) - TOKEN_MEMBERS) == ["email", "name", "sub"]
    assert row.via == "authorization_code" and row.acr == claims["acr"]
    assert row.service_name == "Restaurant licence" and row.client_id == rp.client.id
    with app.app_context():
        token = get_session().scalar(select(Token))
        assert row.reference == token.family  # the authorization it belongs to
        assert row.user_id == token.user_id
    assert "citizen@example.com" not in json.dumps(row.claims)  # names, never values


def test_userinfo_records_what_it_returned(app, client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid email")
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]})
    assert info.status_code == 200
    code_row, userinfo_row = _rows(app)
    assert code_row.claims == ["sub"]  # scope claims go to userinfo only
    assert userinfo_row.via == "userinfo"
    assert userinfo_row.claims == sorted(set(info.json) - TOKEN_MEMBERS) == ["email", "email_verified", "sub"]
    assert userinfo_row.reference == code_row.reference


def test_a_refused_token_request_records_nothing(app, client, rp):
    info = client.get("/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert info.status_code == 401
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "nope",
                                           "redirect_uri": "https://rp.example/cb", "client_id": rp.client.client_id})
    assert response.status_code in (400, 401)
    assert _rows(app) == []


def test_a_replayed_code_records_no_second_release(app, client, rp):
    from tests.flows import authorize_url
    from tests.flows import exchange
    from tests.flows import follow_to_code
    from tests.flows import pkce_pair

    verifier, challenge = pkce_pair()
    code = follow_to_code(client, authorize_url(rp.client.client_id, challenge))["code"]
    first = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    second = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert first.status_code == 200 and second.status_code == 400
    assert len(_rows(app)) == 1


# -- the page ------------------------------------------------------------------------------------


def _seed(app, user_email, client_name, at, claims=("email", "sub"), details=None):
    with app.app_context():
        from idp.accounts.service import find_by_email

        db = get_session()
        user = find_by_email(db, user_email)
        client = db.scalar(select(Client).where(Client.name == client_name))
        log.record_disclosure(db, user_id=user.id, client=client, claims=claims, acr="urn:th:digitalid:ial1:aal1",
                              via=log.Via.USERINFO, reference="code:1", at=at, details=details)
        db.commit()


@pytest.fixture
def two_services(app):
    make_user(app)
    make_client(app, name="Restaurant licence")
    make_client(app, name="Tax refund", redirect_uris=["https://tax.example/cb"], join_sector=False)
    _seed(app, "citizen@example.com", "Restaurant licence", dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
    _seed(app, "citizen@example.com", "Tax refund", dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC),
          claims=("national_id", "sub"))
    _seed(app, "citizen@example.com", "Restaurant licence", dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))


def test_the_page_lists_newest_first_in_english_and_thai(app, client, two_services):
    sign_in(client)
    page = client.get("/my-data/disclosures", headers=EN)
    assert page.status_code == 200
    assert "What e-Services received" in page.text and "3 times information was sent." in page.text
    assert page.text.index("2026-12-01 09:00") < page.text.index("2026-11-20 09:00") < page.text.index("2026-11-02")
    assert "National ID number" in page.text and "Email address" in page.text
    thai = client.get("/my-data/disclosures", headers=TH)
    assert thai.status_code == 200 and 'lang="th"' in thai.text
    # Words of the catalogue in Thai (the page's own sentences are in the Thai catalogue once merged).
    assert "ค้นหา" in thai.text and "เลขประจำตัวประชาชน" in thai.text and "อีเมล" in thai.text
    assert "/my-data/disclosures" in client.get("/my-data", headers=EN).text


def test_the_search_filters_by_service_and_dates(app, client, two_services):
    sign_in(client)
    with app.app_context():
        tax = get_session().scalar(select(Client).where(Client.name == "Tax refund"))
    by_service = client.get(f"/my-data/disclosures?service={tax.id}", headers=EN).text
    assert "1 time information was sent." in by_service and "2026-11-20 09:00" in by_service
    # The "to" day is included; Buddhist-era years are read as such (2569 B.E. = 2026).
    dates = {"from-day": "1", "from-month": "11", "from-year": "2569", "to-day": "20", "to-month": "11",
             "to-year": "2026"}
    by_date = client.get("/my-data/disclosures", query_string=dates, headers=EN).text
    assert "2 times information was sent." in by_date and "2026-12-01" not in by_date


@pytest.mark.parametrize("query, message", [
    ({"from-day": "31", "from-month": "2", "from-year": "2026"}, "The start date must be a real date"),
    ({"to-day": "1", "to-year": "2026"}, "The end date must include a day, month and year."),
    ({"from-day": "2", "from-month": "11", "from-year": "2026", "to-day": "1", "to-month": "11", "to-year": "2026"},
     "The end date must be the same as or after the start date."),
])
def test_a_wrong_date_is_explained_not_a_500(client, two_services, query, message):
    sign_in(client)
    page = client.get("/my-data/disclosures", query_string=query, headers=EN)
    assert page.status_code == 400 and message in page.text and 'class="error-summary"' in page.text


def test_pages_of_twenty(app, client, rp):
    for i in range(25):
        _seed(app, "citizen@example.com", "Restaurant licence", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
              + dt.timedelta(hours=i))
    sign_in(client)
    first = client.get("/my-data/disclosures", headers=EN).text
    assert "Page 1 of 2" in first and first.count("<tr>") == 21 and 'rel="next"' in first
    second = client.get("/my-data/disclosures?page=2", headers=EN).text
    assert "Page 2 of 2" in second and second.count("<tr>") == 6
    assert client.get("/my-data/disclosures?page=99999999999", headers=EN).status_code == 200


def test_exports_hold_only_the_persons_own_rows(app, client, two_services):
    make_user(app, "other@example.com")
    _seed(app, "other@example.com", "Tax refund", dt.datetime(2026, 11, 25, tzinfo=dt.UTC), claims=("phone_number",))
    sign_in(client)
    response = client.get("/my-data/disclosures.json")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    data = response.json
    assert data["format"] == "th-digitalid-disclosures/1" and len(data["disclosures"]) == 3
    assert all("phone_number" not in d["claims"] for d in data["disclosures"])
    assert data["disclosures"][0]["at"].startswith("2026-12-01")
    rows = list(csv.reader(io.StringIO(client.get("/my-data/disclosures.csv").text)))
    assert rows[0] == list(log.CSV_HEADER) and len(rows) == 4
    with app.app_context():
        tax = get_session().scalar(select(Client).where(Client.name == "Tax refund"))
    only_tax = client.get(f"/my-data/disclosures.csv?service={tax.id}").text
    assert len(list(csv.reader(io.StringIO(only_tax)))) == 2
    with app.app_context():
        from idp.audit.models import AuditEvent

        exports = get_session().scalars(select(AuditEvent).where(AuditEvent.event == "data_exported")).all()
        assert [e.details["format"] for e in exports] == ["th-digitalid-disclosures/1"] * 3

    other = app.test_client()
    sign_in(other, "other@example.com")
    theirs = other.get("/my-data/disclosures.json").json["disclosures"]
    assert [d["claims"] for d in theirs] == [["phone_number"]]
    page = other.get("/my-data/disclosures", headers=EN).text
    assert "National ID number" not in page and "1 time information was sent." in page
    # Someone else's e-Service id in the search is ignored, not a way in.
    assert "1 time information was sent." in other.get("/my-data/disclosures?service=999", headers=EN).text


def test_authorization_details_released_are_kept_and_exported(app, client, rp):
    details = [{"type": "th_gov_service_request", "service": "restaurant_licence", "reference": "R-1",
                "amount": "500.00", "currency": "THB"}]
    _seed(app, "citizen@example.com", "Restaurant licence", dt.datetime(2026, 11, 2, tzinfo=dt.UTC), details=details)
    sign_in(client)
    assert "With 1 transaction detail." in client.get("/my-data/disclosures", headers=EN).text
    [exported] = client.get("/my-data/disclosures.json").json["disclosures"]
    assert exported["authorization_details"] == details
    [header, line] = list(csv.reader(io.StringIO(client.get("/my-data/disclosures.csv").text)))
    assert json.loads(line[header.index("authorization_details")]) == details


def test_the_log_needs_sign_in(client):
    for path in ("/my-data/disclosures", "/my-data/disclosures.csv", "/my-data/disclosures.json"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/signin")


def test_prune_deletes_only_rows_past_the_retention_period(app, client, rp, clock):
    now = dt.datetime.now(dt.UTC)
    _seed(app, "citizen@example.com", "Restaurant licence", now - dt.timedelta(days=366))
    _seed(app, "citizen@example.com", "Restaurant licence", now - dt.timedelta(days=364))
    app.config["DISCLOSURE_RETENTION_DAYS"] = 365
    db_cli.register(cli)
    result = CliRunner().invoke(cli, ["db", "prune", "--json"], obj=ScriptInfo(create_app=lambda: app),
                                catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["disclosures_deleted"] == 1
    [kept] = _rows(app)
    assert kept.at > now - dt.timedelta(days=365)
