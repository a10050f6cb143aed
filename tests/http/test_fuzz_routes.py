"""No route answers with a 5xx, whatever arrives (docs/security.md, section "input").

Two kinds of request, on every route of ``app.url_map``:

* **From the URL map**: any rule, its methods and others; path variables filled with random values
  (ids beyond any column, bytes that are not UTF-8, NUL); query strings and bodies built from the
  parameter names the route's module reads, with non-UTF-8 percent-encodings; form, multipart,
  JSON (also UTF-16), raw bytes under odd content types, bodies over the size limit; huge and
  malformed headers (Authorization, Accept-Language, Origin).
* **From the pages**: every form the identity can see (crawled once from every GET route), sent
  back with some values replaced, fields dropped or repeated. Random requests alone seldom name
  the right fields with the right values together (``kind=totp`` and ``id=²``); a real form does.

As a stranger, as a citizen at AAL2 with a TOTP (so the security page's forms work), and as a
staff member holding every role (console and officer pages). A valid CSRF token goes along most
of the time, so views run rather than the CSRF check alone. On SQLite and on PostgreSQL
(IDP_TEST_DATABASE_URL). The app runs with TESTING, so any exception fails the test.
"""

from __future__ import annotations

import base64
import inspect
import io
import json
import os
import re
from dataclasses import dataclass
from dataclasses import field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.parse import quote_from_bytes
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from werkzeug.routing import AnyConverter
from werkzeug.routing import IntegerConverter
from werkzeug.routing import PathConverter
from werkzeug.routing import Rule

from idp.accounts import roles as staff_roles
from idp.accounts.support import DISABLE_REASONS
from idp.accounts.support import RESET_REASONS
from idp.proofing.evidence_form import DATE_FIELDS
from idp.proofing.evidence_form import TEXT_FIELDS
from idp.proofing.queue import APPROVE_REASONS
from idp.proofing.queue import REJECT_REASONS
from tests.factories import PASSWORD
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import csrf_of
from tests.staff import make_staff
from tests.staff import staff_client

ROOT = Path(__file__).parents[2]
CITIZEN = "citizen@example.com"
STAFF = "staff@example.com"
LIMIT = 64 * 1024  # MAX_CONTENT_LENGTH
# Examples per identity: 30 to 45 s for the three on SQLite. FUZZ_EXAMPLES=2000 for a long hunt.
SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

AUTHLIB_READS = ("response_type", "redirect_uri", "grant_type", "refresh_token", "token_type_hint",
                 "post_logout_redirect_uri", "id_token_hint", "client_id", "scope", "state")
PARAMETER = re.compile(r'(?:form|args|values|body|data|params|meta)(?:\.(?:get|getlist|pop)\(|\[)\s*"([A-Za-z_#]+)"')


def _names_read_in(path: Path) -> set[str]:
    """The parameter names a module reads from a form, query or JSON body (``form.get("x")``,
    ``request.args["x"]``, ``data.getlist("x")``...)."""
    return set(PARAMETER.findall(path.read_text()))


NAMES = sorted(set().union(*(_names_read_in(p) for p in (ROOT / "idp").rglob("*.py")), TEXT_FIELDS, DATE_FIELDS,
                           AUTHLIB_READS, {"actor", "subject", "event", "csrf_token", "x"}))
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
                 "multipart/form-data", "multipart/form-data; boundary=zz", "application/json",
                 "application/json; charset=utf-16", "text/plain", "application/jwt", "application/octet-stream",
                 "text/html; charset=bogus", "", "*/*"]

def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# JSON nested past Python's recursion limit, where a JWT's claims are read before its signature.
DEEP_JWT = _b64url(b'{"alg":"ES256"}') + "." + _b64url(b"[" * 3000) + ".c2ln"
# Values the views act on (ids, kinds, reasons, decisions, levels) and values that break parsers:
# digits str.isdigit() accepts and int() refuses ("²"), numbers beyond the columns, NaN, NUL.
special = st.sampled_from([
    "", "\x00", "%", "%00", "%ff", "-1", "0", "1", "2", "3", "4", "99999999999999999999", "2147483648", "1e309",
    "NaN", "²", "١٢", "٣", " 1", "true", "yes", "on", "{}", "[]", "null", "openid",
    "openid profile email national_id", "code", "none", "login", "consent", "S256", "authorization_code",
    "refresh_token", "https://rp.example/cb", "https://rp.example/bye", "//evil.example", "/console/", "th", "en",
    "urn:th:digitalid:ial2:aal2", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    '{"id_token":{"acr":{"essential":true}}}', "eyJhbGciOiJub25lIn0.e30.", CITIZEN,
    PASSWORD, "person0@example.com", "passkey", "security-key", "totp", "webauthn", "recovery", "password",
    "passport", "thai_id_card", "approve", "reject", "allow", "deny", "1985-03-14", "2026-01-01", "2026-13-45",
    "1999900001010", "JT0-1000001-01", DEEP_JWT, "[" * 3000, *staff_roles.ROLES, *DISABLE_REASONS, *RESET_REASONS,
    *APPROVE_REASONS, *REJECT_REASONS])
# NUL only among the special values: any NUL makes the whole request a 400 at the door.
no_nul = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
text = st.one_of(special, special, st.text(no_nul, max_size=30), st.text(no_nul, min_size=300, max_size=3000))
raw = st.one_of(text.map(lambda v: quote(v, safe="")),  # percent-encoded, as it goes on the wire
                st.binary(max_size=20).map(lambda b: quote_from_bytes(b.replace(b"\0", b""))))
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.one_of(st.sampled_from(NAMES), text),
                                                                   inner, max_size=4)),
                           max_leaves=10)
# Numbers as forms carry them (ids, days, hours, levels), and what int() and the columns refuse.
numeric = st.sampled_from(["²", "١٢", "٣", "99999999999999999999", "2147483648", "2147483647", "9223372036854775808",
                           "-1", "0", " 1", "1.5", "1e3", "0x10", "+1", "1_000"]).map(lambda v: quote(v, safe=""))
header_text = st.characters(max_codepoint=255, exclude_characters="\r\n")


@dataclass(frozen=True)
class Form:
    action: str
    method: str
    fields: tuple[tuple[str, str], ...]


@dataclass
class Identity:
    """A test client as someone, the forms they can see, and the session's CSRF token."""

    name: str
    client: FlaskClient
    csrf: str = ""
    forms: list[Form] = field(default_factory=list)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # Random sign-ins from one address must not throttle the identities' own sign-ins.
    return {**app_config, "THROTTLE_FREE_FAILURES": 10**6, "THROTTLE_IP_FREE_FAILURES": 10**6}


@pytest.fixture
def world(app: Flask, clock: Any) -> dict[str, str]:
    """Rows for path values to hit (ids 1 to 8 are drawn often): a citizen (user 1) with a TOTP,
    an e-Service, more people, and a proofing case waiting for an officer."""
    from idp.accounts.service import find_by_email
    from idp.db import get_session
    from idp.proofing import service
    from idp.proofing.verifiers import Evidence
    from idp.proofing.verifiers import RegistryResult

    make_staff(app, CITIZEN)  # no role: a citizen with a password and a TOTP
    rp = make_client(app)
    for n in range(3):
        make_user(app, f"person{n}@example.com")

    class Mismatch:
        def verify(self, evidence: Evidence) -> RegistryResult:
            return RegistryResult(outcome="mismatch", reasons=("laser_code_mismatch",), record=None, issuer="test",
                                  checked_at=clock.utc_now())

    with app.app_context():
        db = get_session()
        evidence = Evidence(kind="thai_id_card", number="1999900001010", laser_code="JT0-1000001-01",
                            given_name="Somchai", family_name="Jaidee", given_name_th="สมชาย",
                            family_name_th="ใจดี", birthdate="1985-03-14")
        service.start_remote(db, find_by_email(db, "person0@example.com"), evidence, config=app.config,
                             verifier=Mismatch(), send_code=lambda to, code: None)
    return {"client_id": rp.client.client_id}


# -- identities ------------------------------------------------------------------------------------


def _ready(identity: Identity, app: Flask, clock: Any, world: dict[str, str]) -> None:
    """Before each example: a stranger starts afresh (an earlier example may have signed it in);
    a citizen or staff member signs in again when an earlier example signed them out, took a role
    or disabled the account. The page also gives the session's current CSRF token."""
    if identity.name == "stranger":
        identity.client = app.test_client()
        identity.csrf = csrf_of(identity.client.get("/signin").text)
    else:
        probe = identity.client.get("/console/" if identity.name == "staff" else "/security")
        if probe.status_code != 200:
            email = STAFF if identity.name == "staff" else CITIZEN
            _restore(app, email)
            identity.client = staff_client(app, clock, email, *(staff_roles.ROLES if identity.name == "staff" else ()))
            probe = identity.client.get("/console/" if identity.name == "staff" else "/security")
            assert probe.status_code == 200, probe.text[:300]
        identity.csrf = csrf_of(probe.text)
    if not identity.forms:
        identity.forms = _crawl(app, identity.client, world)


def _restore(app: Flask, email: str) -> None:
    """An earlier example may have disabled the account (support, as staff), or changed or removed
    its password (the Security page): sign-in must work again, or the next example would fail
    before it draws anything, which Hypothesis reports as inconsistent data generation."""
    from idp.accounts import passwords
    from idp.accounts.service import find_by_email
    from idp.db import get_session

    with app.app_context():
        db = get_session()
        user = find_by_email(db, email)
        if user is None:
            return
        user.status = "active"
        if not passwords.verify_password(PASSWORD, expected_hash=user.password_hash):
            user.password_hash = passwords.hash_password(PASSWORD)
        db.commit()


# -- the URL map -----------------------------------------------------------------------------------


def _rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods or ())))


def _names_for(app: Flask, rule: Rule) -> list[str]:
    """The names the route's own module reads: a random name from elsewhere mostly gets "missing field"."""
    source = inspect.getsourcefile(inspect.unwrap(app.view_functions[rule.endpoint]))
    names = _names_read_in(Path(source)) if source and Path(source).is_relative_to(ROOT / "idp") else set()
    if rule.endpoint.startswith(("oidc.", "registration.")):
        names |= set(AUTHLIB_READS)
    return sorted(names) or NAMES


def _fill(rule: Rule, value: Any) -> str:
    """The rule's path with each variable replaced by ``value(converter)``."""
    def one(match: re.Match[str]) -> str:
        return str(value(rule._converters[match.group(1)]))

    return re.sub(r"<(?:[a-zA-Z_]+(?:\([^)]*\))?:)?([a-zA-Z_]+)>", one, rule.rule)


def _path_value(draw: Any, converter: Any, world: dict[str, str]) -> str:
    if isinstance(converter, IntegerConverter):
        return str(draw(st.one_of(st.integers(0, 8), st.integers(2**31 - 2, 2**31 + 2), st.integers(0, 2**80))))
    if isinstance(converter, AnyConverter):
        return draw(st.one_of(st.sampled_from(sorted(converter.items)), raw))
    value = draw(st.one_of(st.just(world["client_id"]), st.sampled_from(["tokens", "new", "edit", "idp.css"]), raw))
    return value if isinstance(converter, PathConverter) else value.replace("/", "%2F") or "x"


def _pairs(draw: Any, names: list[str], max_size: int = 8) -> list[tuple[str, str]]:
    """Percent-encoded pairs: mostly the route's own names, some from anywhere, a few random."""
    name = st.one_of(st.sampled_from(names), st.sampled_from(names), st.sampled_from(NAMES), raw)
    return draw(st.lists(st.tuples(name.map(lambda n: quote(n, safe="")), raw), max_size=max_size))


def _encoded(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in pairs)


@st.composite
def from_url_map(draw: Any, app: Flask, world: dict[str, str], csrf: str) -> dict[str, Any]:
    """A request to any rule: method, URL, headers and body."""
    rule = draw(st.sampled_from(_rules(app)))
    names = _names_for(app, rule)
    methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    method = draw(st.sampled_from(methods) if draw(st.integers(0, 9))
                  else st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
    url = _fill(rule, lambda converter: _path_value(draw, converter, world))
    query = _pairs(draw, names)
    if query:
        url += "?" + _encoded(query)
    headers: dict[str, str] = {}
    kind = draw(st.sampled_from(["none", "form", "form", "form", "multipart", "json", "json", "deep", "raw",
                                 "oversized"]))
    with_csrf = draw(st.integers(0, 9)) > 0  # mostly: the view runs, not only the CSRF check
    data: Any = None
    if kind == "form":
        pairs = _pairs(draw, names) + ([("csrf_token", csrf)] if with_csrf else [])
        data = _encoded(pairs).encode("ascii")
        headers["Content-Type"] = draw(st.sampled_from(CONTENT_TYPES[:2]))
    elif kind == "multipart":
        fields: dict[str, Any] = dict(draw(st.lists(st.tuples(st.sampled_from(names), text), max_size=6)))
        if with_csrf:
            fields["csrf_token"] = csrf
        if draw(st.booleans()):
            fields["file"] = (io.BytesIO(draw(st.binary(max_size=200))), draw(text) or "f")
        data = fields
    elif kind == "json":
        encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16"]))
        data = json.dumps(draw(json_values), ensure_ascii=False).encode(encoding)
        headers["Content-Type"] = "application/json" + ("; charset=utf-16" if encoding == "utf-16" else "")
        if with_csrf:
            headers["X-CSRFToken"] = csrf
    elif kind == "deep":  # nested past Python's recursion limit, within the size limit
        data = draw(st.sampled_from([b"[", b'{"a":'])) * draw(st.integers(1_000, 12_000))
        headers["Content-Type"] = "application/json"
        if with_csrf:
            headers["X-CSRFToken"] = csrf
    elif kind == "raw":
        data = draw(st.binary(max_size=2000))
        headers["Content-Type"] = draw(st.sampled_from(CONTENT_TYPES))
    elif kind == "oversized":
        data = b"a=" + b"x" * (LIMIT + draw(st.integers(1, 5000)))
        headers["Content-Type"] = CONTENT_TYPES[0]
    headers.update(draw(odd_headers()))
    return {"method": method, "url": url, "headers": headers, "data": data}


@st.composite
def odd_headers(draw: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    extra = draw(st.sets(st.sampled_from(["authorization", "language", "huge", "origin"])))
    if "authorization" in extra:
        headers["Authorization"] = draw(st.one_of(
            st.sampled_from(["Basic", "Bearer", "Basic %%%", "Basic ////", "Bearer \x7f", "Digest x",
                             "Basic //46eA==", "Basic JTAwOiUwMA=="]),
            st.text(alphabet=header_text, max_size=60).map(lambda t: "Basic " + t),
            st.text(alphabet=header_text, max_size=80).map(lambda t: "Bearer " + t)))
    if "language" in extra:
        headers["Accept-Language"] = draw(st.text(alphabet=header_text, max_size=200))
    if "huge" in extra:
        headers["X-Padding"] = "x" * draw(st.integers(8_000, 40_000))
        headers["Accept-Language"] = "th;q=0.5," * 1000
    if "origin" in extra:
        headers["Origin"] = draw(st.sampled_from(["null", "https://evil.example", "http://localhost"]))
        headers["Referer"] = draw(st.sampled_from(["", "https://evil.example/", "http://localhost/signin"]))
    return headers


# -- the pages' forms ------------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """Forms with their fields' names and values (the first option of a select, every button)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._open: tuple[str, str, list[tuple[str, str]]] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = (a.get("action", ""), a.get("method", "get").upper(), [])
        elif self._open is not None and tag in ("input", "button", "textarea") and a.get("name"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a or a.get("value"):
                self._open[2].append((a["name"], a.get("value", "")))
        elif self._open is not None and tag == "select":
            self._select = a.get("name")
        elif self._open is not None and tag == "option" and self._select:
            self._open[2].append((self._select, a.get("value", "")))
            self._select = None  # the first option only

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._open is not None:
            action, method, fields = self._open
            self.forms.append(Form(action, method, tuple(fields)))
            self._open = None


def _crawl(app: Flask, client: FlaskClient, world: dict[str, str]) -> list[Form]:
    """Every form on every page a GET route shows this identity (path ids 1 and the e-Service)."""
    forms: dict[tuple[str, str, tuple[str, ...]], Form] = {}
    for rule in _rules(app):
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        path = _fill(rule, lambda c: world["client_id"] if not isinstance(c, IntegerConverter) else 1)
        response = client.get(path)
        if response.status_code == 200 and response.mimetype == "text/html":
            parser = _FormParser()
            parser.feed(response.text)
            for form in map(_resolved, parser.forms, [path] * len(parser.forms)):
                # One of each kind (the language switch is on every page, with another ``next``).
                forms.setdefault((form.action.split("?")[0], form.method, tuple(n for n, _ in form.fields)), form)
    return sorted(forms.values(), key=lambda f: (f.action, f.method, f.fields))


def _resolved(form: Form, page: str) -> Form:
    action = form.action.replace("&amp;", "&") or page
    return Form(action if action.startswith("/") else page, form.method, form.fields)


@st.composite
def from_pages(draw: Any, forms: list[Form], csrf: str, names: list[str]) -> dict[str, Any]:
    """A form the identity saw, sent back with some values replaced, fields dropped or repeated."""
    form = draw(st.sampled_from(forms))
    pairs: list[tuple[str, str]] = []
    for name, value in form.fields:
        if name == "csrf_token":
            if draw(st.integers(0, 9)):
                pairs.append((name, csrf))
            continue
        action = draw(st.sampled_from(["keep", "keep", "keep", "replace", "replace", "drop", "repeat"]))
        if action == "drop":
            continue
        encoded = quote(value, safe="")
        if action == "replace":  # a number mostly by another number-like value, as a fuzzer mutates
            encoded = draw(numeric if value.isdigit() and draw(st.booleans()) else raw)
        pairs.append((quote(name, safe=""), encoded))
        if action == "repeat":
            pairs.append((quote(name, safe=""), draw(raw)))
    pairs += _pairs(draw, names, max_size=2)
    body = _encoded(pairs)
    if form.method == "GET":
        split = urlsplit(form.action)
        return {"method": "GET", "url": split.path + "?" + "&".join(p for p in (split.query, body) if p),
                "headers": draw(odd_headers()), "data": None}
    return {"method": "POST", "url": form.action, "data": body.encode("ascii"),
            "headers": {"Content-Type": "application/x-www-form-urlencoded", **draw(odd_headers())}}


def _send(identity: Identity, request: dict[str, Any]) -> None:
    response = identity.client.open(request["url"], method=request["method"], headers=request["headers"],
                                    data=request["data"])
    assert response.status_code < 500, (identity.name, request["method"], request["url"][:300],
                                        response.text[:300])


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("who", ["stranger", "citizen", "staff"])
def test_no_route_answers_with_a_server_error(app, clock, world, who, data):
    # The app (and so its database) lives for all of a test's examples, and so does the identity.
    identity = app.extensions.setdefault("tests.fuzz_identity", Identity(who, app.test_client()))
    _ready(identity, app, clock, world)
    if identity.forms and data.draw(st.booleans(), label="from a page"):
        request = data.draw(from_pages(identity.forms, identity.csrf, NAMES))
    else:
        request = data.draw(from_url_map(app, world, identity.csrf))
    _send(identity, request)
