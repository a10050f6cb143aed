"""mod_auth_openidc on Debian's Apache signs in to a live idp: one test per feature an agency relies on.

Each test starts its own ``apache2 -f <config> -DFOREGROUND`` (its own ServerRoot, pid file, error log,
runtime directory and port under ``tmp_path``, only the modules it needs) in front of a small backend that
echoes the ``OIDC_*`` request headers mod_auth_openidc adds, the way an agency puts Apache in front of
its application. A ``requests.Session`` plays the browser: it follows the redirects between Apache and
the IdP and fills the IdP's sign-in, consent and step-up pages. docs/integrate/apache-mod-auth-openidc.md
shows the same directives for an agency to copy.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import secrets
import subprocess
import threading
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pyotp
import pytest
import requests
from joserfc.jwk import RSAKey

from tests.interop.conftest import Account
from tests.interop.conftest import LiveIdp
from tests.interop.conftest import _missing_tool
from tests.support.serving import free_port
from tests.support.serving import stop_group
from tests.support.serving import tail
from tests.support.serving import wait_until_answers

pytestmark = pytest.mark.interop

APACHE = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
START_TIMEOUT = 15
AAL1 = "urn:th:digitalid:ial1:aal1"
AAL2 = "urn:th:digitalid:ial1:aal2"
BROWSER = {"Accept": "text/html", "Accept-Language": "en"}

# Only what the tests need: one process of the event MPM, authn/authz core, the proxy to the backend.
LOAD = ("mpm_event", "authn_core", "authz_core", "authz_user", "proxy", "proxy_http", "auth_openidc")

CONFIG = """\
ServerRoot "{root}"
DefaultRuntimeDir "{root}"
PidFile "{root}/httpd.pid"
Mutex file:{root} default
ErrorLog "{root}/error.log"
LogLevel {log_level}
Listen 127.0.0.1:{port}
ServerName localhost:{port}
{user}
{load}
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 32

OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
{client_auth}
OIDCRedirectURI http://localhost:{port}/oidc/callback
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid profile email offline_access"
OIDCAuthRequestParams prompt=consent
OIDCPKCEMethod S256
OIDCPassClaimsAs headers
OIDCPassIDTokenAs claims payload serialized
OIDCPassUserInfoAs claims json
OIDCPassRefreshToken On
{extra}

<Location /oidc/callback>
  AuthType openid-connect
  Require valid-user
</Location>
<Location /protected>
  AuthType openid-connect
  Require valid-user
  ProxyPass http://127.0.0.1:{backend}/protected
</Location>
<Location /renew>
  AuthType openid-connect
  Require claim acr:{aal2}
  OIDCUnAutzAction auth
  OIDCPathAuthRequestParams acr_values={aal2}
  ProxyPass http://127.0.0.1:{backend}/renew
</Location>
<Location /ready>
  ProxyPass http://127.0.0.1:{backend}/ready
</Location>
"""


class _EchoHandler(BaseHTTPRequestHandler):
    """The agency's application: answers with the ``OIDC_*`` headers Apache passed it, as JSON."""

    def do_GET(self) -> None:
        body = json.dumps({k.lower(): v for k, v in self.headers.items() if k.lower().startswith("oidc_")})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module", autouse=True)
def apache_installed() -> None:
    if not (os.access(APACHE, os.X_OK) and (MODULES / "mod_auth_openidc.so").exists()):
        _missing_tool("the mod_auth_openidc tests need Debian's apache2 and libapache2-mod-auth-openidc "
                      "(apt-get install apache2 libapache2-mod-auth-openidc)")


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Apache:
    base: str
    root: Path

    @property
    def callback(self) -> str:
        return f"{self.base}/oidc/callback"

    def error_log(self) -> str:
        return tail(self.root / "error.log", 80)


@dataclass(frozen=True)
class Rp:
    """A client registered for one Apache: its port is chosen first, so the redirect URI can name it."""

    port: int
    client: dict[str, Any]

    @property
    def base(self) -> str:
        return f"http://localhost:{self.port}"


def register(live_idp: LiveIdp, *args: str) -> Rp:
    port = free_port()
    client = live_idp.cli("clients", "add", "--name", "Apache mod_auth_openidc",
                          "--redirect-uri", f"http://localhost:{port}/oidc/callback",
                          "--post-logout-redirect-uri", f"http://localhost:{port}/logged-out",
                          "--join-sector", *args)
    return Rp(port, client)


def _config(root: Path, rp: Rp, *, issuer: str, backend: int, client_auth: str, extra: str) -> str:
    load = "\n".join(f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in LOAD)
    # As root, Apache's children must switch to an unprivileged user; as anyone else they stay who they are.
    user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
    return CONFIG.format(root=root, port=rp.port, user=user, load=load, issuer=issuer,
                         client_id=rp.client["client_id"], client_auth=client_auth,
                         passphrase=secrets.token_urlsafe(24), log_level=os.environ.get("APACHE_LOG_LEVEL", "warn"),
                         extra=extra, backend=backend, aal2=AAL2)


StartApache = Callable[..., Apache]


@pytest.fixture
def apache(live_idp: LiveIdp, backend: int, tmp_path: Path) -> Iterator[StartApache]:
    """``apache(rp, extra="...")``: Apache for ``rp`` (client_secret_basic unless ``client_auth`` says
    otherwise), up and answering; stopped with its process group when the test ends."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(rp: Rp, *, extra: str = "", client_auth: str | None = None) -> Apache:
        root = tmp_path / f"apache-{rp.port}"
        root.mkdir()
        if client_auth is None:
            client_auth = f"OIDCClientSecret {rp.client['client_secret']}"
        conf = root / "httpd.conf"
        conf.write_text(_config(root, rp, issuer=live_idp.issuer, backend=backend,
                                client_auth=client_auth, extra=extra))
        with (root / "stderr.log").open("wb") as stderr:  # what Apache says before its ErrorLog opens
            proc = subprocess.Popen([APACHE, "-f", str(conf), "-DFOREGROUND"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        started.append((proc, root))
        # A configuration error stops Apache before it opens its ErrorLog: show what it said on stderr.
        wait_until_answers(proc, f"{rp.base}/ready", timeout=START_TIMEOUT, log=root / "stderr.log")
        return Apache(rp.base, root)

    yield start
    for proc, root in started:
        stop_group(proc)
        print(f"--- {root}/error.log ---\n{tail(root / 'error.log', 80)}")


# --- the browser ---------------------------------------------------------------------------------


def _forms(page: str) -> Iterator[tuple[str, str, dict[str, str], str]]:
    """Every form: method, action, hidden fields (unescaped) and its inner HTML."""
    for match in re.finditer(r"(?is)<form([^>]*)>(.*?)</form>", page):
        attrs, inner = match.group(1), match.group(2)
        method = re.search(r'method="([^"]*)"', attrs, re.I)
        action = re.search(r'action="([^"]*)"', attrs, re.I)
        hidden = {html.unescape(name): html.unescape(value) for name, value in
                  re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', inner)}
        yield ((method.group(1) if method else "get").lower(), html.unescape(action.group(1) if action else ""),
               hidden, inner)


def _form(page: requests.Response, marker: str) -> tuple[str, dict[str, str]]:
    """The POST form containing ``marker``: its absolute action and hidden fields."""
    for method, action, hidden, inner in _forms(page.text):
        if method == "post" and marker in inner:
            return requests.compat.urljoin(page.url, action), hidden
    raise AssertionError(f"no form with {marker!r} at {page.url}:\n{page.text}")


def _submit(browser: requests.Session, page: requests.Response, marker: str, **fields: str) -> requests.Response:
    action, hidden = _form(page, marker)
    return browser.post(action, data={**hidden, **fields}, headers=BROWSER, timeout=10)


def _through_idp(browser: requests.Session, page: requests.Response, account: Account, *,
                 totp: str | None = None) -> requests.Response:
    """Fill what the IdP shows (sign-in, second factor, consent) until the browser is back at Apache."""
    for _ in range(4):
        if 'autocomplete="current-password"' in page.text:
            page = _submit(browser, page, 'autocomplete="current-password"',
                           email=account.email, password=account.password)
        elif totp and 'name="method" value="totp"' in page.text:
            page = _submit(browser, page, 'name="method" value="totp"', code=pyotp.TOTP(totp).now())
        elif 'name="decision"' in page.text:
            page = _submit(browser, page, 'name="decision"', decision="allow")
        else:
            return page
    raise AssertionError(f"the IdP kept asking at {page.url}:\n{page.text}")


def _auth_request(page: requests.Response) -> dict[str, str]:
    """The authorization request as the IdP received it: the query of a GET, or the fields Apache's
    auto-submitting page posts (``OIDCProviderAuthRequestMethod POST``)."""
    first = page.history[0] if page.history else page
    location = first.headers.get("Location", "")
    if location:
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return next(hidden for method, _, hidden, _ in _forms(page.text) if method == "post")


def sign_in(browser: requests.Session, apache: Apache, account: Account, path: str = "/protected",
            *, totp: str | None = None) -> tuple[requests.Response, dict[str, str]]:
    """Open ``path`` on Apache, sign in at the IdP; (the page Apache serves at the end, the request sent)."""
    page = browser.get(apache.base + path, headers=BROWSER, timeout=10)
    sent = _auth_request(page)
    if page.url.startswith(apache.base):  # OIDCProviderAuthRequestMethod POST: Apache's page posts to the IdP
        action, hidden = _form(page, "")
        page = browser.post(action, data=hidden, headers=BROWSER, timeout=10)
    page = _through_idp(browser, page, account, totp=totp)
    assert page.url == apache.base + path, f"{page.url}\n{page.text}\n{apache.error_log()}"
    assert page.status_code == 200, f"{page.text}\n{apache.error_log()}"
    return page, sent


def _jwt_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


# --- one test per feature ------------------------------------------------------------------------


def test_mod_auth_openidc_discovery(live_idp: LiveIdp, account: Account, apache: StartApache) -> None:
    """Only ``OIDCProviderMetadataURL`` is given: every endpoint Apache used came from discovery."""
    rp = register(live_idp)
    server = apache(rp)
    browser = requests.Session()

    first = browser.get(server.base + "/protected", headers=BROWSER, timeout=10, allow_redirects=False)

    assert first.status_code == 302
    with requests.get(live_idp.issuer + "/.well-known/openid-configuration", timeout=10) as discovery:
        authorize = discovery.json()["authorization_endpoint"]
    assert first.headers["Location"].startswith(authorize + "?")
    assert "error]" not in server.error_log()  # no complaint about the metadata


def test_mod_auth_openidc_code_flow_pkce_s256_state(live_idp: LiveIdp, account: Account,
                                                    apache: StartApache) -> None:
    rp = register(live_idp)
    server = apache(rp)
    browser = requests.Session()

    page, sent = sign_in(browser, server, account)

    assert sent["response_type"] == "code"
    assert sent["client_id"] == rp.client["client_id"]
    assert sent["redirect_uri"] == server.callback
    assert sent["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sent["code_challenge"])
    assert sent["state"] and sent["nonce"]
    claims = page.json()
    assert claims["oidc_claim_acr"] == AAL1
    assert claims["oidc_claim_iss"] == live_idp.issuer

    # The negative side: another browser that started its own sign-in cannot be handed this code and state.
    callback = next(r.headers["Location"] for r in page.history
                    if r.headers.get("Location", "").startswith(server.callback + "?"))
    victim = requests.Session()
    victim.get(server.base + "/protected", headers=BROWSER, timeout=10, allow_redirects=False)  # its own state
    injected = victim.get(callback, headers=BROWSER, timeout=10, allow_redirects=False)
    assert "oidc_claim_sub" not in injected.text
    assert not any(c.name == "mod_auth_openidc_session" and c.value for c in victim.cookies)
    assert "unable to restore state" in server.error_log()


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_mod_auth_openidc_id_token_validation(live_idp: LiveIdp, account: Account, apache: StartApache,
                                              alg: str) -> None:
    """Apache checks the ID token's signature against the IdP's JWKS and its alg against the one expected."""
    rp = register(live_idp, "--id-token-alg", alg)
    server = apache(rp, extra=f"OIDCIDTokenSignedResponseAlg {alg}")

    page, sent = sign_in(requests.Session(), server, account)

    claims = page.json()
    assert _jwt_part(claims["oidc_id_token"], 0)["alg"] == alg
    payload = json.loads(claims["oidc_id_token_payload"])
    assert payload["aud"] in (rp.client["client_id"], [rp.client["client_id"]])
    assert payload["nonce"] == sent["nonce"]
    assert payload["acr"] == AAL1 and payload["amr"] == ["pwd"]


def test_mod_auth_openidc_id_token_validation_refuses_unexpected_alg(live_idp: LiveIdp, account: Account,
                                                                     apache: StartApache) -> None:
    """The negative side: Apache expecting ES256 refuses the RS256 ID token an RS256 client gets."""
    rp = register(live_idp, "--id-token-alg", "RS256")
    server = apache(rp, extra="OIDCIDTokenSignedResponseAlg ES256")
    browser = requests.Session()

    page = browser.get(server.base + "/protected", headers=BROWSER, timeout=10)
    page = _through_idp(browser, page, account)

    # mod_auth_openidc 2.4.12 shows its error page with status 200; the application is never reached.
    assert page.url.startswith(server.callback + "?"), page.url
    assert "Error in handling response type" in page.text
    assert "oidc_claim_sub" not in page.text
    assert "RS256 != ES256" in server.error_log()


def test_mod_auth_openidc_userinfo(live_idp: LiveIdp, account: Account, apache: StartApache) -> None:
    server = apache(register(live_idp))

    page, _ = sign_in(requests.Session(), server, account)

    claims = page.json()
    userinfo = json.loads(claims["oidc_userinfo_json"])
    assert userinfo["sub"] == claims["oidc_claim_sub"]
    assert userinfo["email"] == account.email == claims["oidc_claim_email"]
    assert userinfo["name"] == account.name


def test_mod_auth_openidc_refresh_with_rotation(live_idp: LiveIdp, account: Account, apache: StartApache) -> None:
    """A margin longer than the access token's life makes Apache refresh on the next request."""
    rp = register(live_idp)
    server = apache(rp, extra="OIDCRefreshAccessTokenBeforeExpiry 86400")
    browser = requests.Session()
    page, _ = sign_in(browser, server, account)
    before = page.json()

    after = browser.get(server.base + "/protected", headers=BROWSER, timeout=10).json()

    assert before["oidc_refresh_token"] and after["oidc_refresh_token"] != before["oidc_refresh_token"]
    assert after["oidc_access_token"] != before["oidc_access_token"]
    assert after["oidc_claim_sub"] == before["oidc_claim_sub"]
    # The rotated-away refresh token is dead at the IdP.
    spent = requests.post(live_idp.issuer + "/token", auth=(rp.client["client_id"], rp.client["client_secret"]),
                          timeout=10,
                          data={"grant_type": "refresh_token", "refresh_token": before["oidc_refresh_token"]})
    assert spent.status_code in (400, 401)



def test_mod_auth_openidc_rp_initiated_logout(live_idp: LiveIdp, account: Account, apache: StartApache) -> None:
    """``OIDCRedirectURI?logout=URL`` ends Apache's session, then the IdP's with ``id_token_hint``."""
    rp = register(live_idp)
    server = apache(rp)
    browser = requests.Session()
    page, _ = sign_in(browser, server, account)
    id_token = page.json()["oidc_id_token"]
    logged_out = f"{server.base}/logged-out"

    to_idp = browser.get(server.callback, params={"logout": logged_out}, headers=BROWSER, timeout=10,
                         allow_redirects=False)

    assert to_idp.status_code == 302
    end_session = urlsplit(to_idp.headers["Location"])
    assert f"{end_session.scheme}://{end_session.netloc}{end_session.path}" == live_idp.issuer + "/logout"
    query = {k: v[0] for k, v in parse_qs(end_session.query).items()}
    assert query["id_token_hint"] == id_token
    assert query["post_logout_redirect_uri"] == logged_out
    back = browser.get(to_idp.headers["Location"], headers=BROWSER, timeout=10, allow_redirects=False)
    if back.status_code == 200:  # a confirmation page
        action, hidden = _form(back, "")
        back = browser.post(action, data=hidden, headers=BROWSER, timeout=10, allow_redirects=False)
    assert back.status_code in (302, 303)
    assert back.headers["Location"].split("?")[0] == logged_out

    # Both sessions are gone: Apache sends the browser to the IdP, which asks for the password again.
    again = browser.get(server.base + "/protected", headers=BROWSER, timeout=10)
    assert again.url.startswith(live_idp.issuer)
    assert 'autocomplete="current-password"' in again.text


def test_mod_auth_openidc_step_up_totp(live_idp: LiveIdp, apache: StartApache) -> None:
    """``Require claim acr:...aal2`` with ``OIDCUnAutzAction auth``: a password session is sent back to the IdP,
    which asks only for the TOTP code, and the page opens with the stronger acr."""
    secret = pyotp.random_base32()
    person = Account(email=f"apache-{secrets.token_hex(4)}@example.com", password=secrets.token_urlsafe(18),
                     name="Malee Rakdee")
    live_idp.cli("users", "create", "--email", person.email, "--password", person.password, "--name", person.name)
    live_idp.cli("users", "totp-import", "--email", person.email, "--secret", secret)
    server = apache(register(live_idp))
    browser = requests.Session()
    page, _ = sign_in(browser, server, person)
    assert page.json()["oidc_claim_acr"] == AAL1

    # Not the page: the password session is not enough. mod_auth_openidc answers with a page that sends
    # the browser on to the IdP by <meta http-equiv="refresh">, asking for the stronger acr.
    refused = browser.get(server.base + "/renew", headers=BROWSER, timeout=10, allow_redirects=False)
    assert "oidc_claim_sub" not in refused.text
    refresh = re.search(r'<meta http-equiv="refresh" content="0; url=([^"]+)">', refused.text)
    assert refresh, (refused.status_code, refused.text)
    to_idp = html.unescape(refresh.group(1))
    assert to_idp.startswith(live_idp.issuer + "/authorize?")
    assert parse_qs(urlsplit(to_idp).query)["acr_values"] == [AAL2]
    step_up = browser.get(to_idp, headers=BROWSER, timeout=10)
    assert "/signin/more" in step_up.url, step_up.text
    assert 'autocomplete="current-password"' not in step_up.text  # no password again
    page = _through_idp(browser, step_up, person, totp=secret)

    assert page.url == server.base + "/renew", f"{page.url}\n{page.text}\n{server.error_log()}"
    claims = page.json()
    assert claims["oidc_claim_acr"] == AAL2
    assert "otp" in claims["oidc_claim_amr"]


def test_mod_auth_openidc_client_secret_basic(live_idp: LiveIdp, account: Account, apache: StartApache) -> None:
    rp = register(live_idp, "--auth-method", "client_secret_basic")
    server = apache(rp, extra="OIDCProviderTokenEndpointAuth client_secret_basic")

    page, _ = sign_in(requests.Session(), server, account)
    assert page.json()["oidc_claim_email"] == account.email

    # The negative side: a wrong secret gets no tokens.
    wrong = apache(register(live_idp, "--auth-method", "client_secret_basic"),
                   client_auth=f"OIDCClientSecret {secrets.token_urlsafe(32)}",
                   extra="OIDCProviderTokenEndpointAuth client_secret_basic")
    browser = requests.Session()
    refused = _through_idp(browser, browser.get(wrong.base + "/protected", headers=BROWSER, timeout=10), account)
    assert refused.url.startswith(wrong.callback + "?")
    assert "oidc_claim_sub" not in refused.text
    assert "invalid_client" in wrong.error_log()
    assert "in the Authorization header is not correct" in wrong.error_log()  # it was sent as HTTP Basic


def _rsa_key_files(root: Path, kid: str) -> tuple[Path, Path, Path]:
    """(the RSA private key and its public key as PEM for Apache, the public JWKS to register)."""
    key = RSAKey.generate_key(2048, private=True, parameters={"kid": kid})
    private, public, jwks = root / f"{kid}.pem", root / f"{kid}.pub.pem", root / f"{kid}.jwks.json"
    private.write_bytes(key.as_pem(private=True))
    public.write_bytes(key.as_pem(private=False))
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    return private, public, jwks


def test_mod_auth_openidc_private_key_jwt(live_idp: LiveIdp, account: Account, apache: StartApache,
                                         tmp_path: Path) -> None:
    private, public, jwks = _rsa_key_files(tmp_path, "apache-rsa-1")
    rp = register(live_idp, "--auth-method", "private_key_jwt", "--jwks-file", str(jwks))
    assert "client_secret" not in rp.client
    # OIDCPrivateKeyFiles before the auth method (test_mod_auth_openidc_private_key_jwt_directive_order), and
    # OIDCPublicKeyFiles too: without it Debian 12's 2.4.12.3 dereferences a NULL list and its child crashes.
    server = apache(rp, client_auth=f"OIDCPrivateKeyFiles apache-rsa-1#{private}\n"
                                    f"OIDCPublicKeyFiles apache-rsa-1#{public}\n"
                                    "OIDCProviderTokenEndpointAuth private_key_jwt")

    page, _ = sign_in(requests.Session(), server, account)

    claims = page.json()
    assert claims["oidc_claim_email"] == account.email
    assert json.loads(claims["oidc_userinfo_json"])["sub"] == claims["oidc_claim_sub"]


def test_mod_auth_openidc_private_key_jwt_directive_order(tmp_path: Path) -> None:
    """The trap the guide warns about: the auth method named before its key files stops Apache at startup."""
    pem, _, _ = _rsa_key_files(tmp_path, "apache-rsa-2")
    rp = Rp(free_port(), {"client_id": "order-check"})
    wrong = tmp_path / "wrong.conf"
    wrong.write_text(_config(tmp_path, rp, issuer="http://127.0.0.1:9", backend=9, extra="",
                             client_auth=f"OIDCProviderTokenEndpointAuth private_key_jwt\n"
                                         f"OIDCPrivateKeyFiles apache-rsa-2#{pem}"))
    right = tmp_path / "right.conf"
    right.write_text(wrong.read_text().replace(
        f"OIDCProviderTokenEndpointAuth private_key_jwt\nOIDCPrivateKeyFiles apache-rsa-2#{pem}",
        f"OIDCPrivateKeyFiles apache-rsa-2#{pem}\nOIDCProviderTokenEndpointAuth private_key_jwt"))

    refused = subprocess.run([APACHE, "-t", "-f", str(wrong)], capture_output=True, text=True, timeout=30,
                             check=False)
    accepted = subprocess.run([APACHE, "-t", "-f", str(right)], capture_output=True, text=True, timeout=30,
                              check=False)

    assert refused.returncode != 0
    assert "Invalid value for directive 'OIDCProviderTokenEndpointAuth': invalid value 'private_key_jwt'" \
        in refused.stderr, refused.stderr
    assert accepted.returncode == 0, accepted.stderr


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_mod_auth_openidc_authorization_request_method(live_idp: LiveIdp, account: Account, apache: StartApache,
                                                       method: str) -> None:
    """``OIDCProviderAuthRequestMethod GET`` (a redirect) and ``POST`` (an auto-submitting form the browser posts)."""
    server = apache(register(live_idp), extra=f"OIDCProviderAuthRequestMethod {method}")
    browser = requests.Session()
    # A new connection per request. Once in a CI run, the next response on a kept-alive connection
    # began "{}HTTP/1.1 200 OK": mod_auth_openidc's POST form page had been followed by the proxied
    # application's own answer ("{}", what the echo backend says without OIDC headers), past the
    # page's Content-Length. A browser drops such a connection and carries on; requests cannot.
    browser.headers["Connection"] = "close"

    first = browser.get(server.base + "/protected", headers=BROWSER, timeout=10, allow_redirects=False)
    if method == "GET":
        assert first.status_code == 302
        assert first.headers["Location"].startswith(live_idp.issuer + "/authorize?")
    else:
        assert first.status_code == 200
        action, hidden = _form(first, "")
        assert action == live_idp.issuer + "/authorize"
        assert hidden["code_challenge_method"] == "S256" and hidden["state"]

    page, sent = sign_in(browser, server, account)

    assert sent["code_challenge_method"] == "S256"
    assert page.json()["oidc_claim_email"] == account.email
