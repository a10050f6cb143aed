"""Security headers on every response; nothing cacheable that carries a token or a personal page."""

import pytest


@pytest.mark.parametrize("path", ["/", "/signin", "/.well-known/openid-configuration", "/jwks.json", "/nope"])
def test_security_headers(client, path):
    headers = client.get(path).headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_pages_and_token_responses_are_not_cached(client):
    assert client.get("/signin").headers["Cache-Control"] == "no-store"
    assert client.post("/token", data={}).headers["Cache-Control"] == "no-store"


def test_unknown_protocol_path_and_wrong_method_get_json_errors(client):
    response = client.get("/token")
    assert response.status_code == 405 and response.json == {"error": "invalid_request"}


def test_unknown_page_is_a_readable_page(client):
    response = client.get("/nope", headers={"Accept-Language": "en"})
    assert response.status_code == 404 and "This page does not exist" in response.text
