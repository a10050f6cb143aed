"""The OIDC code flow as helpers for HTTP tests (Flask test client)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from tests.factories import PASSWORD
from tests.factories import REDIRECT_URI


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Authorization:
    client_id: str
    verifier: str
    params: dict[str, str]


def authorize_url(client_id: str, challenge: str | None, **extra: Any) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
              "scope": "openid profile email", "state": "st-123", "nonce": "n-456"}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update({k: v for k, v in extra.items() if v is not None})
    params = {k: v for k, v in params.items() if v != ""}
    return "/authorize?" + urlencode(params)


def sign_in(client: FlaskClient, email: str = "citizen@example.com", password: str = PASSWORD) -> Any:
    page = client.get("/signin")
    return client.post("/signin", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)})


def follow_to_code(client: FlaskClient, url: str, *, email: str = "citizen@example.com",
                   password: str = PASSWORD, decision: str = "allow",
                   redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    """Drive authorize → sign-in → consent like a browser; return the callback's query."""
    response = client.get(url)
    for _ in range(10):
        if response.status_code in (302, 303):
            location = response.headers["Location"]
            if location.startswith(redirect_uri):
                return query_of(location)
            response = client.get(location)
            continue
        assert response.status_code == 200, response.text
        html = response.text
        action = re.search(r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="csrf_token"', html)
        if 'autocomplete="current-password"' in html:
            nxt = re.search(r'<form method="post" action="/signin">.*?name="next" value="([^"]+)"', html, re.S)
            assert nxt
            response = client.post("/signin", data={"email": email, "password": password,
                                                     "csrf_token": csrf_of(html),
                                                     "next": nxt.group(1).replace("&amp;", "&")})
        elif 'name="decision"' in html:
            assert action
            response = client.post(action.group(1).replace("&amp;", "&"),
                                   data={"csrf_token": csrf_of(html), "decision": decision})
        else:
            raise AssertionError(f"unexpected page: {html[:500]}")
    raise AssertionError("too many hops")


def exchange(client: FlaskClient, code: str, *, client_id: str, secret: str | None, verifier: str | None,
             redirect_uri: str = REDIRECT_URI, **extra: Any) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier:
        data["code_verifier"] = verifier
    data.update(extra)
    headers = {}
    if secret:
        headers["Authorization"] = basic(client_id, secret)
    else:
        data.setdefault("client_id", client_id)
    return client.post("/token", data=data, headers=headers)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def full_flow(client: FlaskClient, client_id: str, secret: str | None, **extra: Any) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    callback = follow_to_code(client, authorize_url(client_id, challenge, **extra))
    assert "code" in callback, callback
    response = exchange(client, callback["code"], client_id=client_id, secret=secret, verifier=verifier)
    assert response.status_code == 200, response.text
    return dict(response.json)
