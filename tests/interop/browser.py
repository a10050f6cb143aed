"""A person at the IdP's pages, driven over HTTP with ``requests``: sign-in, consent, step-up, logout.

The relying-party modules (pyoidc, idpyoidc, Authlib) build their own authorization and logout
URLs; this browser takes such a URL, fills the IdP's forms the way a person would (CSRF token and
hidden fields kept, as the pages send them) and stops at the first redirect to the relying party,
which it never fetches (``rp.example`` does not exist).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pyotp
import requests

from tests.interop.conftest import POST_LOGOUT_REDIRECT_URI
from tests.interop.conftest import REDIRECT_URI
from tests.interop.conftest import LiveIdp

HEADERS = {"Accept-Language": "en"}
TIMEOUT = 10
MAX_HOPS = 20

ACR_IAL1_AAL1 = "urn:th:digitalid:ial1:aal1"
ACR_IAL1_AAL2 = "urn:th:digitalid:ial1:aal2"


def form(html: str, marker: str) -> tuple[str, dict[str, str]]:
    """The POST form containing ``marker``: its action and hidden fields."""
    for match in re.finditer(r'(?s)<form method="post" action="([^"]*)"[^>]*>(.*?)</form>', html):
        if marker in match.group(2):
            hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(2)))
            return match.group(1).replace("&amp;", "&"), {k: v.replace("&amp;", "&") for k, v in hidden.items()}
    raise AssertionError(f"no form with {marker!r} in:\n{html}")


@dataclass(frozen=True)
class Person:
    email: str
    password: str
    totp_secret: str


def new_person(idp: LiveIdp) -> Person:
    """A fresh account with a password and an authenticator app (``idp users totp-import``).

    One per test: a TOTP code works once per credential, so two tests must not share a seed.
    """
    person = Person(f"rp-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18), pyotp.random_base32())
    idp.cli("users", "create", "--email", person.email, "--password", person.password, "--name", "Malee Rakdee")
    idp.cli("users", "totp-import", "--email", person.email, "--secret", person.totp_secret)
    return person


def query(url: str) -> dict[str, str]:
    """The query parameters of a redirect, each given once (as RFC 6749 requires)."""
    params = parse_qs(urlsplit(url).query)
    assert all(len(v) == 1 for v in params.values()), url
    return {k: v[0] for k, v in params.items()}


class Browser:
    """One person's browser: a cookie jar on the IdP's host and the pages' forms."""

    def __init__(self, person: Person, *, stop_at: tuple[str, ...] = (REDIRECT_URI, POST_LOGOUT_REDIRECT_URI)):
        self.person = person
        self.stop_at = stop_at
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only, whatever http_proxy says
        self.http.headers.update(HEADERS)
        self.filled: list[str] = []  # the forms filled, in order: "password", "totp", "consent"

    def authorize(self, url: str, *, consent: str = "allow") -> str:
        """Open an authorization URL and do what the pages ask; return the redirect to the RP."""
        response = self.http.get(url, allow_redirects=False, timeout=TIMEOUT)
        for _ in range(MAX_HOPS):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if location.startswith(self.stop_at):
                    return location
                response = self.http.get(location, allow_redirects=False, timeout=TIMEOUT)
                continue
            assert response.status_code == 200, f"{response.status_code} at {response.url}:\n{response.text}"
            response = self._fill(response, consent=consent)
        raise AssertionError(f"more than {MAX_HOPS} hops, last at {response.url}")

    def logout(self, url: str) -> str:
        """Open an RP-initiated logout URL; confirm when asked; return the redirect to the RP."""
        response = self.http.get(url, allow_redirects=False, timeout=TIMEOUT)
        if not response.is_redirect and 'name="confirm"' in response.text:
            action, fields = form(response.text, 'name="confirm"')
            response = self.http.post(urljoin(response.url, action), data={**fields, "confirm": "yes"},
                                      allow_redirects=False, timeout=TIMEOUT)
        assert response.is_redirect, f"{response.status_code} at {response.url}:\n{response.text}"
        location: str = response.headers["Location"]
        return location

    def _fill(self, page: requests.Response, *, consent: str) -> requests.Response:
        html = page.text
        if 'autocomplete="current-password"' in html and 'name="method" value="pwd"' not in html:
            action, fields = form(html, 'autocomplete="current-password"')
            data = {**fields, "email": self.person.email, "password": self.person.password}
            self.filled.append("password")
        elif 'name="method" value="totp"' in html:
            action, fields = form(html, 'name="method" value="totp"')
            data = {**fields, "code": pyotp.TOTP(self.person.totp_secret).now()}
            self.filled.append("totp")
        elif 'name="decision"' in html:
            action, fields = form(html, 'name="decision"')
            data = {**fields, "decision": consent}
            self.filled.append("consent")
        else:
            raise AssertionError(f"no form this browser knows at {page.url}:\n{html}")
        return self.http.post(urljoin(page.url, action), data=data, allow_redirects=False, timeout=TIMEOUT)
