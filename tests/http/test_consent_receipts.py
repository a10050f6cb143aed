"""Consent receipts: one per consent given or withdrawn, signed by the IdP (a JWS whose ``kid`` is
in the JWKS), listed and downloadable on My data, emailed on request; ``idp receipts verify``
checks one offline and refuses a changed one, another key's, or something that is not a receipt."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey
from sqlalchemy import select

from idp.cli import cli
from idp.cli import receipts as receipts_cli
from idp.db import get_session
from idp.disclosure import receipts
from idp.disclosure.models import ConsentReceipt
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import csrf_of
from tests.flows import full_flow
from tests.flows import sign_in

EN = {"Accept-Language": "en"}
TH = {"Accept-Language": "th"}

receipts_cli.register(cli)


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app, name="Restaurant licence", name_th="ใบอนุญาตร้านอาหาร")


@pytest.fixture
def run(app):
    def invoke(*args):
        return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False)

    return invoke


def _receipts(app):
    with app.app_context():
        return list(get_session().scalars(select(ConsentReceipt).order_by(ConsentReceipt.id)))


def _withdraw(client, rp):
    page = client.get("/connected-services", headers=EN).text
    ask = client.post("/connected-services", data={"client": str(rp.client.id), "csrf_token": csrf_of(page)})
    done = client.post("/connected-services", data={"client": str(rp.client.id), "confirm": "yes",
                                                    "csrf_token": csrf_of(ask.text)})
    assert done.status_code == 302


def test_consent_gives_a_signed_receipt_naming_the_controller_the_pseudonym_and_the_items(app, client, rp):
    body = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid profile email")
    [row] = _receipts(app)
    assert row.state == "given" and row.items == ["email", "profile"] and row.service_name == "Restaurant licence"
    keys = KeySet.import_key_set(client.get("/jwks.json").json)
    token = jwt.decode(row.jws, keys)  # the published JWKS verifies it
    assert token.header["typ"] == "consent-receipt+jwt" and token.header["kid"] in {k.kid for k in keys}
    claims = token.claims
    sub = jwt.decode(body["id_token"], keys).claims["sub"]
    assert claims["piiPrincipalId"] == sub and "citizen@example.com" not in row.jws + json.dumps(claims)
    assert claims["version"] == "KI-CR-v1.1.0" and claims["jurisdiction"] == "TH"
    assert claims["consentReceiptID"] == claims["jti"] == row.receipt_id
    assert claims["consentState"] == "given" and claims["iss"] == "http://localhost"
    assert claims["piiControllers"][0]["piiController"] == "Restaurant licence"
    assert claims["receiptIssuer"]["url"] == "http://localhost"
    assert claims["withdrawalUrl"] == "http://localhost/connected-services"
    assert claims["services"][0]["purposes"][0]["piiCategory"] == ["email", "profile"]
    assert {"email", "email_verified", "name", "birthdate"} <= set(claims["dataItems"])
    assert claims["sensitive"] is False and isinstance(claims["consentTimestamp"], int)


def test_withdrawing_gives_a_receipt_of_the_withdrawal(app, client, rp):
    full_flow(client, rp.client.client_id, rp.client_secret)
    _withdraw(client, rp)
    given, withdrawn = _receipts(app)
    assert (given.state, withdrawn.state) == ("given", "withdrawn") and withdrawn.items == given.items
    assert receipts.payload_of(withdrawn.jws)["consentState"] == "withdrawn"


def test_a_trusted_e_service_asks_no_consent_and_gives_no_receipt(app, client):
    make_user(app)
    trusted = make_client(app, trusted=True)
    full_flow(client, trusted.client.client_id, trusted.client_secret)
    assert _receipts(app) == []


def test_the_receipts_page_lists_and_downloads_in_english_and_thai(app, client, rp):
    full_flow(client, rp.client.client_id, rp.client_secret)
    [row] = _receipts(app)
    page = client.get("/my-data/receipts", headers=EN)
    assert page.status_code == 200 and "Your consent receipts" in page.text and row.receipt_id in page.text
    assert "Email me this receipt" in page.text and "consent given" in page.text
    thai = client.get("/my-data/receipts", headers=TH).text
    assert 'lang="th"' in thai and "อีเมล" in thai  # the item "Your email address" in Thai
    assert "ใบอนุญาตร้านอาหาร" in thai and "Restaurant licence" not in thai  # the e-Service's Thai name
    jws = client.get(f"/my-data/receipts/{row.receipt_id}.jws")
    assert jws.status_code == 200 and jws.text == row.jws and jws.mimetype == "application/jose"
    assert "attachment" in jws.headers["Content-Disposition"]
    as_json = client.get(f"/my-data/receipts/{row.receipt_id}.json").json
    assert as_json["consent_receipt"] == row.jws and as_json["claims"]["consentReceiptID"] == row.receipt_id
    assert "/my-data/receipts" in client.get("/my-data", headers=EN).text


def test_another_person_cannot_see_or_download_a_receipt(app, client, rp):
    full_flow(client, rp.client.client_id, rp.client_secret)
    [row] = _receipts(app)
    make_user(app, "other@example.com")
    other = app.test_client()
    sign_in(other, "other@example.com")
    assert row.receipt_id not in other.get("/my-data/receipts", headers=EN).text
    for kind in ("jws", "json"):
        assert other.get(f"/my-data/receipts/{row.receipt_id}.{kind}").status_code == 404
    page = other.get("/my-data/receipts").text
    assert other.post(f"/my-data/receipts/{row.receipt_id}/email",
                      data={"csrf_token": csrf_of(page)}).status_code == 404
    assert app.test_client().get(f"/my-data/receipts/{row.receipt_id}.jws").status_code == 302  # sign in first


def _mails(app):
    return sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))


def test_email_me_this_receipt(app, client, rp):
    full_flow(client, rp.client.client_id, rp.client_secret)
    [row] = _receipts(app)
    page = client.get("/my-data/receipts", headers=EN).text
    before = len(_mails(app))
    without_csrf = client.post(f"/my-data/receipts/{row.receipt_id}/email")
    assert without_csrf.status_code == 400 and len(_mails(app)) == before
    sent = client.post(f"/my-data/receipts/{row.receipt_id}/email", headers=EN, data={"csrf_token": csrf_of(page)})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/my-data/receipts")
    [path] = _mails(app)[before:]
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "citizen@example.com"
    assert message["Subject"] == "Your consent receipt for Restaurant licence"
    text = message.get_body(("plain",)).get_content()
    assert row.jws in text and row.receipt_id in text
    assert f"http://localhost/my-data/receipts/{row.receipt_id}.json" in text
    assert "We sent the receipt to citizen@example.com." in client.get("/my-data/receipts", headers=EN).text


# -- idp receipts verify --------------------------------------------------------------------------


@pytest.fixture
def saved(app, client, rp, tmp_path):
    """A receipt downloaded as .jws and .json, and the IdP's JWKS saved to a file."""
    full_flow(client, rp.client.client_id, rp.client_secret)
    [row] = _receipts(app)
    (tmp_path / "r.jws").write_text(client.get(f"/my-data/receipts/{row.receipt_id}.jws").text)
    (tmp_path / "r.json").write_text(client.get(f"/my-data/receipts/{row.receipt_id}.json").text)
    (tmp_path / "jwks.json").write_text(client.get("/jwks.json").text)
    return tmp_path, row


@pytest.mark.parametrize("name", ["r.jws", "r.json"])
def test_verify_accepts_a_downloaded_receipt_against_the_jwks_file(run, saved, name):
    folder, row = saved
    result = run("receipts", "verify", str(folder / name), "--jwks", str(folder / "jwks.json"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["valid"] is True and summary["receipt_id"] == row.receipt_id and summary["state"] == "given"
    assert summary["e_service"] == "Restaurant licence" and "email" in summary["data_items"].split()


def test_verify_without_jwks_uses_this_idps_keys(run, saved):
    folder, row = saved
    result = run("receipts", "verify", str(folder / "r.jws"))
    assert result.exit_code == 0 and f"receipt_id: {row.receipt_id}" in result.stdout


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_verify_refuses_a_changed_receipt(run, saved):
    folder, _row = saved
    header, payload, signature = (folder / "r.jws").read_text().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["consentState"] = "withdrawn"
    (folder / "changed.jws").write_text(".".join([header, _b64(json.dumps(claims).encode()), signature]))
    result = run("receipts", "verify", str(folder / "changed.jws"), "--jwks", str(folder / "jwks.json"))
    assert result.exit_code == 1 and "bad signature" in result.stderr and result.stdout == ""


def test_verify_refuses_another_key(run, saved):
    folder, _row = saved
    other = RSAKey.generate_key(2048, private=True)
    (folder / "other.json").write_text(json.dumps({"keys": [other.as_dict(private=False)]}))
    result = run("receipts", "verify", str(folder / "r.jws"), "--jwks", str(folder / "other.json"))
    assert result.exit_code == 1 and "no key with kid" in result.stderr
    # Signed by another key under the IdP's kid: the signature does not match.
    kid = json.loads(base64.urlsafe_b64decode((folder / "r.jws").read_text().split(".")[0] + "=="))["kid"]
    forged = jwt.encode({"alg": "RS256", "typ": "consent-receipt+jwt", "kid": kid},
                        receipts.payload_of((folder / "r.jws").read_text()), other)
    (folder / "forged.jws").write_text(forged)
    result = run("receipts", "verify", str(folder / "forged.jws"), "--jwks", str(folder / "jwks.json"))
    assert result.exit_code == 1 and "bad signature" in result.stderr


def test_verify_refuses_what_is_not_a_receipt(app, run, saved, client, rp):
    folder, _row = saved
    body = full_flow(client, rp.client.client_id, rp.client_secret)
    (folder / "id_token.jws").write_text(body["id_token"])
    (folder / "garbage.jws").write_text("hello")
    (folder / "empty.json").write_text("{}")
    for name, words in (("id_token.jws", "not a consent receipt"), ("garbage.jws", "compact serialization"),
                        ("empty.json", "consent_receipt")):
        result = run("receipts", "verify", str(folder / name), "--jwks", str(folder / "jwks.json"))
        assert result.exit_code == 1 and words in result.stderr, (name, result.stderr)
    missing = run("receipts", "verify", str(folder / "nope.jws"))
    assert missing.exit_code != 0
    bad_jwks = run("receipts", "verify", str(folder / "r.jws"), "--jwks", str(folder / "garbage.jws"))
    assert bad_jwks.exit_code == 1 and "not a JSON file" in bad_jwks.stderr


def test_verify_fetches_a_jwks_url_only_through_the_guarded_fetcher(run, saved):
    folder, _row = saved
    # A private address is refused by the fetcher before any connection is made.
    result = run("receipts", "verify", str(folder / "r.jws"), "--jwks", "https://10.0.0.1/jwks.json")
    assert result.exit_code == 1 and "could not fetch the JWKS" in result.stderr


def test_verify_fetches_the_issuers_jwks_by_url(run, saved):
    from tests.support.documents import serve_documents

    folder, row = saved
    with serve_documents() as documents:
        url = documents.put("/jwks.json", json.loads((folder / "jwks.json").read_text()),
                            content_type="application/jwk-set+json")
        result = run("receipts", "verify", str(folder / "r.json"), "--jwks", url)
    assert result.exit_code == 0, result.output
    assert f"receipt_id: {row.receipt_id}" in result.stdout and "valid: True" in result.stdout
