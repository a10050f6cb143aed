"""Discovery and the JWKS as prepared bytes (idp/prepared.py): what an RP receives is what the
Flask views send, plus an ETag that lets it revalidate for nothing; a key rotation still shows
at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp import keyring
from idp.db import engine_of

DOCUMENTS = ["/.well-known/openid-configuration", "/jwks.json"]
SECRET = "test-secret-key-" + "x" * 32


def _headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in ("ETag", "Date")}


@pytest.mark.parametrize("path", DOCUMENTS)
def test_prepared_answer_is_what_the_view_sends_with_an_etag(client: FlaskClient, path: str) -> None:
    prepared = client.get(path)
    through_flask = client.get(path + "?from=flask")  # a query string goes to the Flask view
    assert prepared.status_code == through_flask.status_code == 200
    assert "ETag" not in through_flask.headers
    assert prepared.data == through_flask.data
    assert _headers(prepared) == _headers(through_flask)
    assert prepared.headers["ETag"].startswith('"') and prepared.headers["ETag"].endswith('"')
    assert prepared.headers["Cache-Control"].startswith("public, max-age=")
    assert prepared.headers["Content-Security-Policy"] and prepared.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in prepared.headers
    json.loads(prepared.data)


@pytest.mark.parametrize("path", DOCUMENTS)
def test_a_matching_if_none_match_gets_304_without_a_body(client: FlaskClient, path: str) -> None:
    etag = client.get(path).headers["ETag"]
    for sent in (etag, "W/" + etag, f'"other", {etag}', "*"):
        response = client.get(path, headers={"If-None-Match": sent})
        assert response.status_code == 304, sent
        assert response.data == b""
        assert response.headers["ETag"] == etag
        assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


@pytest.mark.parametrize("path", DOCUMENTS)
def test_head_has_the_length_and_no_body(client: FlaskClient, path: str) -> None:
    full = client.get(path)
    head = client.head(path)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(full.data))
    assert head.headers["ETag"] == full.headers["ETag"]


@pytest.mark.parametrize("path", DOCUMENTS)
def test_other_methods_still_get_flasks_answer(client: FlaskClient, path: str) -> None:
    assert client.post(path).status_code == 405


def test_a_rotated_key_is_published_by_the_next_request_with_a_new_etag(app: Flask, client: FlaskClient) -> None:
    before = client.get("/jwks.json")
    kids_before = {key["kid"] for key in before.json["keys"]}
    keyring.rotate(engine_of(app), SECRET, retire_after=3600)
    app.extensions["idp.keyring"].reload()  # as `idp keys rotate` does in its own process
    after = client.get("/jwks.json", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200  # the old ETag no longer matches
    assert after.headers["ETag"] != before.headers["ETag"]
    kids_after = {key["kid"] for key in after.json["keys"]}
    assert kids_after - kids_before, "the new next key is published"
    assert after.data == client.get("/jwks.json?from=flask").data


def test_prepared_discovery_without_server_name_and_hsts_for_an_https_issuer(app_config: dict[str, Any],
                                                                             make_app: Any) -> None:
    # No SERVER_NAME, as `idp serve` runs: the document is built in the first request's context.
    config = {key: value for key, value in app_config.items() if key != "SERVER_NAME"}
    app = make_app({**config, "ISSUER": "https://idp.example"})
    response = app.test_client().get("/.well-known/openid-configuration", base_url="https://idp.example")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.json["issuer"] == "https://idp.example"
    assert response.json["token_endpoint"] == "https://idp.example/token"
