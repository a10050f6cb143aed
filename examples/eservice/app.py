""""Restaurant business licence" (ใบอนุญาตประกอบกิจการร้านอาหาร): a demo e-Service.

A relying party built only on Authlib's public Flask client, so an agency can read it as
the shortest correct integration: code flow with PKCE S256 and nonce, the RFC 9207 ``iss``
check, the claims it receives (``acr``, ``amr``, ``auth_time``, ``verified_claims``),
RP-initiated logout, back-channel logout (:mod:`.backchannel`), and step-up: a page that needs a
recent second factor, an API that asks for one with the RFC 9470 challenge, and a licence
application that needs a verified identity (IAL2) and shows the ``verified_claims`` it received.
Run it with ``python -m examples.eservice.app``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import urljoin
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from flask import Flask
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.wrappers import Response

from . import api
from . import backchannel
from . import verified
from .errors import HANDLED
from .errors import EServiceError
from .errors import explain
from .errors import render_error
from .policy import MAX_AGE
from .policy import PROOFED_ACR
from .policy import REQUIRED_ACR
from .policy import VERIFIED_CLAIMS_REQUEST
from .policy import shortfall
from .provider import http_session
from .provider import idp
from .provider import provider_metadata
from .provider import register_idp

#: What the "verified identity" button asks for. The IdP may answer with another ACR, so
#: the home page compares what was asked with what came back.
HIGH_ASSURANCE_ACR = "urn:th:digitalid:ial2:aal2"

DEFAULTS: dict[str, str | None] = {
    "ESERVICE_ISSUER": "http://localhost:5000",
    "ESERVICE_CLIENT_ID": None,
    "ESERVICE_CLIENT_SECRET": None,
    "ESERVICE_REDIRECT_URI": "http://localhost:5001/callback",
    "ESERVICE_POST_LOGOUT_REDIRECT_URI": "http://localhost:5001/",
    "ESERVICE_SECRET_KEY": None,
    "ESERVICE_SCOPE": "openid profile email",
    "ESERVICE_API_URL": None,  # default: /api/licence on the host of ESERVICE_REDIRECT_URI
}


def load_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read ``ESERVICE_*`` variables; ``ESERVICE_CLIENT_FILE`` fills in missing credentials.

    The IdP's ``make run`` registers this demo and writes its credentials to a JSON file,
    so a fresh checkout works without copying secrets by hand. The environment wins.
    """
    settings: dict[str, Any] = {key: environ.get(key) or value for key, value in DEFAULTS.items()}
    if path := environ.get("ESERVICE_CLIENT_FILE"):
        with open(path, encoding="utf-8") as file:
            registered = json.load(file)
        for name in ("client_id", "client_secret"):
            key = f"ESERVICE_{name.upper()}"
            settings[key] = settings[key] or registered.get(name)
    return settings


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the e-Service. It does not contact the IdP here, so the IdP may start later."""
    app = Flask(__name__)
    app.config.update(load_settings(os.environ))
    app.config.update(config or {})
    app.config.update(
        SECRET_KEY=app.config["ESERVICE_SECRET_KEY"] or secrets.token_hex(32),
        # Cookies ignore ports: under its default name this cookie and the IdP's, both on
        # localhost, would overwrite each other and every sign-in would fail on state.
        SESSION_COOKIE_NAME="eservice_session",
        SESSION_COOKIE_SAMESITE="Lax",  # sent on the IdP's redirect (a GET), not on cross-site POSTs
    )
    app.config["ESERVICE_API_URL"] = (app.config["ESERVICE_API_URL"]
                                      or urljoin(app.config["ESERVICE_REDIRECT_URI"], "/api/licence"))
    register_idp(app)
    app.add_template_filter(format_timestamp, "utc")
    app.add_template_filter(format_json, "pretty")
    app.add_url_rule("/", view_func=home)
    app.add_url_rule("/login", view_func=login)
    app.add_url_rule("/callback", view_func=callback)
    app.add_url_rule("/logout", view_func=logout, methods=["POST"])
    app.add_url_rule("/permit/renew", view_func=renew)
    app.add_url_rule("/licence/apply", view_func=apply_for_licence)
    app.add_url_rule("/api/licence", view_func=api.licence)
    # OIDC Back-Channel Logout: the IdP tells us when the citizen's Digital ID session ends
    app.extensions["eservice.ended_sessions"] = backchannel.EndedSessions()
    app.add_url_rule("/backchannel-logout", view_func=backchannel.receive, methods=["POST"])
    app.before_request(backchannel.end_if_logged_out)
    for failure in (EServiceError, *HANDLED):
        app.register_error_handler(failure, render_error)
    return app


def home() -> str:
    notice = None
    if "state" in request.args:  # back from the IdP's end_session_endpoint
        try:
            idp().validate_logout_response()
            notice = "You are signed out of this e-Service and of Digital ID."
        except AuthlibBaseError:
            notice = "You are signed out of this e-Service."
    claims = session.get("claims")
    requested = session.get("requested_acr")
    acr_met = not requested or (claims or {}).get("acr") in requested.split()
    return render_template("home.html", claims=claims, userinfo=session.get("userinfo"),
                           requested_acr=requested, acr_met=acr_met, notice=notice,
                           high_assurance_acr=HIGH_ASSURANCE_ACR, required_acr=REQUIRED_ACR,
                           proofed_acr=PROOFED_ACR)


def login() -> Response:
    """Start the code flow; ``?acr=`` is forwarded as ``acr_values`` (OIDC Core §3.1.2.1)."""
    if moved := to_redirect_uri_host():
        return moved
    acr = request.args.get("acr", "").strip()
    if len(acr) > 512 or not acr.isprintable():
        raise EServiceError("Bad request", "The acr parameter is not a list of ACR values.")
    return authorize(url_for("home"), **({"acr_values": acr} if acr else {}))


def renew() -> Response | str:
    """A page that needs a sign-in of at least ``REQUIRED_ACR`` within the last ``MAX_AGE`` seconds.

    Two checks, each of which sends the person back to the IdP to step up:
    1. this e-Service's own, on the ID token;
    2. the licence API's, on the access token (RFC 9470). Its challenge says what to ask for.
    """
    if moved := to_redirect_uri_host():
        return moved
    claims = session.get("claims")
    if not claims or shortfall(claims) or "access_token" not in session:
        return step_up(REQUIRED_ACR, MAX_AGE)
    with http_session() as http:
        answer = http.get(current_app.config["ESERVICE_API_URL"], timeout=10,
                          headers={"Authorization": f"Bearer {session['access_token']}"})
    challenge = WWWAuthenticate.from_header(answer.headers.get("WWW-Authenticate"))
    if answer.status_code == 401 and challenge and challenge.get("error") == "insufficient_user_authentication":
        return step_up(challenge.get("acr_values"), challenge.get("max_age"))  # RFC 9470 §4: exactly these
    if answer.status_code != 200:  # not a loop back to the IdP: signing in again would not help
        detail = challenge.get("error_description") if challenge else None
        raise EServiceError("The licence service refused the request", "Please try again later.", status=502,
                            detail=detail or f"HTTP {answer.status_code}")
    return render_template("renew.html", claims=claims, licence=answer.json(), required_acr=REQUIRED_ACR,
                           max_age=MAX_AGE, api_url=current_app.config["ESERVICE_API_URL"])


def apply_for_licence() -> Response | str:
    """A page that needs a verified identity: at least ``PROOFED_ACR`` within the last ``MAX_AGE`` seconds.

    It asks the IdP for ``verified_claims`` too (OpenID Connect for Identity Assurance 1.0), in the
    ID token, and shows them. An IAL1 person is sent through the IdP's identity proofing and comes
    back here in the same visit; if proofing cannot finish now, the IdP answers
    ``unmet_authentication_requirements`` and the callback explains where to verify.
    """
    if moved := to_redirect_uri_host():
        return moved
    claims = session.get("claims")
    if not claims or shortfall(claims, required=PROOFED_ACR) or not asked_for_verified_claims():
        return step_up(PROOFED_ACR, MAX_AGE, verified_claims=VERIFIED_CLAIMS_REQUEST)
    # Asked for and the acr is enough; if the IdP still sent none, say so rather than ask again.
    return render_template("licence.html", claims=claims, verified=verified.read(claims.get("verified_claims")),
                           claim_rows=verified.CLAIM_ROWS, proofed_acr=PROOFED_ACR, max_age=MAX_AGE)


def asked_for_verified_claims() -> bool:
    """Whether the sign-in behind the session asked for ``verified_claims`` in the ID token."""
    requested = session.get("requested_claims") or {}
    return isinstance(requested.get("id_token"), dict) and "verified_claims" in requested["id_token"]


def step_up(acr_values: str | None, max_age: int | str | None,
            verified_claims: dict[str, Any] | None = None) -> Response:
    """Ask the IdP for a stronger or more recent sign-in, then come back to this page.

    ``acr_values`` alone is a wish the IdP may ignore. The essential ``acr`` claim (OIDC Core
    §5.5.1.1) makes it a requirement: the IdP asks for the missing factor (or proofing, for a
    higher IAL), or answers ``unmet_authentication_requirements``. ``max_age`` makes it ask again
    if the last sign-in is older than that many seconds. ``verified_claims`` is an OIDC4IDA request
    for the ID token.
    """
    params: dict[str, Any] = {}
    id_token: dict[str, Any] = {}
    if acr_values:
        params["acr_values"] = acr_values
        id_token["acr"] = {"essential": True, "values": acr_values.split()}
    if verified_claims:
        id_token["verified_claims"] = verified_claims
    if id_token:
        params["claims"] = json.dumps({"id_token": id_token}, separators=(",", ":"))
    if max_age is not None:
        params["max_age"] = max_age
    return authorize(request.path, **params)


def authorize(next_url: str, **params: Any) -> Response:
    """Redirect to the IdP's authorization endpoint; the callback then returns to ``next_url``."""
    config = current_app.config
    if not config["ESERVICE_CLIENT_ID"]:
        raise EServiceError("Not configured", "Set ESERVICE_CLIENT_ID or ESERVICE_CLIENT_FILE.",
                            status=503)
    provider_metadata()
    session["pending_acr"] = params.get("acr_values", "")
    session["pending_claims"] = json.loads(params["claims"]) if "claims" in params else None
    session["next"] = next_url
    return idp().authorize_redirect(config["ESERVICE_REDIRECT_URI"], **params)


def to_redirect_uri_host() -> Response | None:
    """Move to the host of the redirect URI first: on another one (127.0.0.1 instead of
    localhost) the browser would not send our cookie back to the callback, and state would be lost."""
    redirect_uri = urlsplit(current_app.config["ESERVICE_REDIRECT_URI"])
    if request.host == redirect_uri.netloc:
        return None
    return redirect(f"{redirect_uri.scheme}://{redirect_uri.netloc}{request.full_path}")


def callback() -> Response:
    """Finish the code flow. Authlib checks state, PKCE, the ID token and its nonce."""
    iss = request.args.get("iss")
    if iss is not None and iss != current_app.config["ESERVICE_ISSUER"]:  # RFC 9207 §2.4
        raise EServiceError("Sign-in could not be completed", "The answer came from another issuer.")
    if error := request.args.get("error"):
        # Show error_description only for a sign-in we started: anyone can make a link to
        # /callback, and our page must not say whatever that link says.
        state = request.args.get("state")
        started = idp().framework.get_state_data(session, state) is not None
        idp().framework.clear_state_data(session, state)
        description = request.args.get("error_description") if started else None
        # The page that started this sign-in decides what the error means (renew: a second factor;
        # licence application: a verified identity).
        words = explain(error, session.get("next") if started else None)
        raise EServiceError("Sign-in was not completed", words.message, message_th=words.message_th,
                            note=words.note, detail=f"{error}: {description}" if description else error,
                            link=urljoin(current_app.config["ESERVICE_ISSUER"] + "/", words.link)
                            if words.link else None)
    metadata = provider_metadata()
    if iss is None and metadata.get("authorization_response_iss_parameter_supported"):
        raise EServiceError("Sign-in could not be completed", "The answer did not name its issuer.")
    token = idp().authorize_access_token()
    if "userinfo" not in token:  # Authlib sets it only after validating an ID token
        raise EServiceError("Sign-in could not be completed", "No ID token was returned.")
    claims = dict(token["userinfo"])
    userinfo = dict(idp().userinfo(token=token))
    if userinfo.get("sub") != claims["sub"]:  # OIDC Core §5.3.2: "MUST be verified to exactly match"
        raise EServiceError("Sign-in could not be completed", "UserInfo described another person.")
    requested_acr, next_url = session.get("pending_acr"), session.get("next") or url_for("home")
    requested_claims = session.get("pending_claims")
    session.clear()  # nothing from before sign-in survives it
    session.update(id_token=token["id_token"], access_token=token["access_token"], claims=claims,
                   userinfo=userinfo, requested_acr=requested_acr, requested_claims=requested_claims)
    return redirect(next_url)


def logout() -> Response:
    """Forget the citizen here, then ask the IdP to end its session (RP-Initiated Logout §2)."""
    config = current_app.config
    id_token = session.get("id_token")
    session.clear()
    if id_token is None or not provider_metadata().get("end_session_endpoint"):
        return redirect(url_for("home"))
    return idp().logout_redirect(
        post_logout_redirect_uri=config["ESERVICE_POST_LOGOUT_REDIRECT_URI"],
        id_token_hint=id_token,
        client_id=config["ESERVICE_CLIENT_ID"],  # lets the IdP check the URI if the hint expired
    )


def format_timestamp(value: int | float) -> str:
    return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_json(value: Any) -> str:
    """Indented JSON that keeps Thai names readable (Flask's ``tojson`` escapes them)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the demo e-Service (a relying party).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args(argv)
    app = create_app()
    redirect_uri = urlsplit(app.config["ESERVICE_REDIRECT_URI"])
    print(f" * Open {redirect_uri.scheme}://{redirect_uri.netloc}/ (the host of ESERVICE_REDIRECT_URI)")
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
