"""Blueprint ``oidc``: each route a few lines over ``authorization`` and the services."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from flask import Blueprint
from flask import current_app
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session as cookie
from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from idp import audit
from idp import journey
from idp import levels
from idp import wording
from idp.accounts import session as auth_session
from idp.accounts.session import AuthContext
from idp.assurance import policy
from idp.authn.inventory import enrolled
from idp.db import get_session
from idp.db import utc_now
from idp.disclosure.log import Via
from idp.disclosure.log import record_disclosure
from idp.disclosure.log import released_names
from idp.errors import render_error
from idp.extensions import authorization
from idp.extensions import csrf
from idp.extensions import require_oauth
from idp.oidc import authorize as authz
from idp.oidc import consent
from idp.oidc import dpop_requests
from idp.oidc import par
from idp.oidc import resource_servers
from idp.oidc import storage
from idp.oidc.authorization_details import render_details
from idp.oidc.claims import release
from idp.oidc.claims import restrict_request
from idp.oidc.discovery import discovery_document
from idp.oidc.subjects import subject_for
from idp.prepared import DISCOVERY_CACHE
from idp.prepared import JWKS_CACHE

bp = Blueprint("oidc", __name__)



def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _refused(error: str, user_id: int | None) -> None:
    """Audit an authorization a signed-in person did not get (the dashboard's per-service failures)."""
    client = storage.query_client(request.values.get("client_id"))
    if client is not None:
        audit.record(get_session(), audit.Event.AUTHORIZATION_REFUSED, user_id=user_id, client_id=client.id,
                     error=error)


def _error(err: OAuth2Error, ctx: AuthContext | None = None) -> Response | tuple[str, int]:
    """Redirect to the (already verified) redirect URI with ``iss``; otherwise a page, never a redirect."""
    if err.redirect_uri:
        if ctx is not None:
            _refused(err.error, ctx.user.id)
        pushed = g.get("idp_pushed")
        if pushed is not None:
            par.complete(get_session(), pushed)  # the client gets its answer: the request_uri is spent
        params = [("error", err.error)]
        if err.description:
            params.append(("error_description", err.description))
        state = authz.echoed_state(g.get("idp_authz_data", request.values))
        if state:
            params.append(("state", state))
        params.append(("iss", current_app.config["ISSUER"]))  # RFC 9207 §2
        return _no_store(redirect(add_params_to_uri(err.redirect_uri, params), 302))
    if isinstance(err, par.InvalidRequestUri):
        return render_error(400, _("This sign-in link from the e-Service has expired or was already used. "
                                   "Go back to the e-Service and start again."))
    return render_error(400, err.description or err.error)


def _authorization_data(db: Session) -> MultiDict[str, str]:
    """The authorization request's parameters: the browser's own, or those its client pushed
    (RFC 9126 §4), which are then the only ones read. Remembered for the rest of the request."""
    data: MultiDict[str, str] = request.values
    request_uri = request.values.get("request_uri")
    # Only a PAR reference; any other request_uri (a request object by URL) is refused as before.
    if request_uri and request_uri.startswith(par.REQUEST_URI_PREFIX):
        client = storage.query_client(request.values.get("client_id"))
        resolved = par.resolve(db, client=client, request_uri=request_uri, query=request.args,
                               internal=(journey.FRESH_PARAM, journey.DECLINED_PARAM))
        g.idp_pushed = resolved.row
        data = resolved.data
    g.idp_authz_data = data
    return data


@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt
def authorize() -> Response | tuple[str, int] | str:
    if request.method == "POST":
        if "decision" not in request.form:
            return _posted_request_as_get()
        csrf.protect()  # the consent page's own form: CSRF applies to it, not to an RP's request
    db = get_session()
    ctx = auth_session.current(db)
    try:
        grant, params, decision = _validate_authorization(db, ctx)
        # RFC 8707: the one registered API the tokens will be for, checked before anyone is asked.
        # With PAR, the pushed parameters (RFC 9126 §4), as for every other parameter.
        target = resource_servers.resolve_target(db, g.idp_authz_data.getlist("resource"),
                                                 scope=grant.request.scope, redirect_uri=grant.redirect_uri)
    except OAuth2Error as err:
        return _error(err, ctx)
    except ValueError:
        # Authlib refuses to echo characters RFC 6749 forbids in error_description.
        return render_error(400)
    if decision.login or ctx is None:
        return journey.to_signin(request.args.to_dict(flat=False), login_hint=params.login_hint)
    if decision.acr.step_up or decision.acr.proof:
        return journey.to_signin(request.args.to_dict(flat=False), step_up=decision.acr.step_up,
                                 proof=decision.acr.proof, step_up_etda=decision.acr.step_up_etda,
                                 proof_etda=decision.acr.proof_etda)
    answer = request.form.get("decision") if request.method == "POST" else None
    details = grant.request.authorization_details
    if decision.consent and answer is None:
        return render_template("oidc/consent.html", client=grant.request.client, items=decision.items,
                               user=ctx.user, describe=consent.describe, action=request.full_path,
                               next=request.full_path,
                               details=render_details(db, details, str(get_locale())),
                               needs=_needs(grant.request.client, params, decision))
    if answer == "deny":
        _refused("access_denied", ctx.user.id)
        return _finish(grant, None)
    if decision.consent:
        consent.grant_consent(db, user_id=ctx.user.id, client_id=grant.request.client.id, items=decision.items)
    journey.finish()
    grant.request.auth_context = ctx
    grant.request.granted_scope = grant.request.scope
    grant.request.requested_claims = params.claims
    grant.request.requested_acr = params.acr_values[:10]
    grant.request.acr = decision.acr.acr or ctx.acr
    grant.request.authorization_details = details
    grant.request.resource = target.identifier if target else None
    return _finish(grant, ctx.user)


@bp.route("/authorize/cancel")
def cancel() -> Response | tuple[str, int]:
    """"Back to the e-Service", offered on every page of the journey: the person leaves, and the
    e-Service hears ``access_denied`` at its redirect URI, with its ``state`` and our ``iss``.

    RFC 6749 §4.1.2.1: "access_denied: The resource owner or authorization server denied the
    request." The request is validated as at the authorization endpoint first, so the answer only
    ever goes to a redirect URI registered for that client; without one, a page is shown. No CSRF
    token: the answer tells the e-Service nothing a forged callback could not.
    """
    ctx = auth_session.current(get_session())
    try:
        data = _authorization_data(get_session())
        grant = authorization.get_consent_grant(request=par.oauth_request(data), end_user=ctx.user if ctx else None)
    except OAuth2Error as err:
        return _error(err, ctx)
    except ValueError:
        return render_error(400)
    journey.finish()
    return _error(AccessDeniedError(redirect_uri=grant.redirect_uri), ctx)


def _needs(client: Any, params: authz.OidcParams, decision: authz.Decision) -> list[str]:
    """The level this e-Service asked for and the person meets, in plain words for the consent page."""
    asked = params.acr_values or params.claims.get("id_token", {}).get("acr") or client.default_acr_values
    if not asked or not decision.acr.acr:
        return []
    return wording.assurance_lines([decision.acr.acr], levels.policy())[0]


def _posted_request_as_get() -> Response | tuple[str, int]:
    """An authorization request sent by POST continues as the same request by GET.

    OIDC Core §3.1.2.1: the authorization endpoint "MUST support the use of the HTTP GET and POST
    methods"; with POST the parameters are form-serialized. It is an RP's request carried by the
    browser, not a form of this IdP, so no CSRF token. A 303 to the GET URL with the same
    parameters makes every continuation (sign-in, step-up, proofing, consent) the one a GET
    request gets, as they are all built from the query string.
    """
    params = [*request.args.items(multi=True), *request.form.items(multi=True)]
    target = url_for("oidc.authorize") + "?" + urlencode(params)
    if len(target) > authz.MAX_REQUEST_URL:
        return render_error(400, _("The sign-in request from the e-Service is too long."))
    return _no_store(redirect(target, 303))


def _rp_request_url() -> str:
    """The request as the RP sent it (a POSTed one as the GET URL it continued as), without the
    markers this IdP adds on the way through sign-in, so that signing in never makes it too long."""
    internal = (journey.FRESH_PARAM, journey.DECLINED_PARAM)
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in internal]
    return url_for("oidc.authorize") + "?" + urlencode(params)


def _validate_authorization(db: Session, ctx: AuthContext | None) -> tuple[Any, authz.OidcParams, authz.Decision]:
    """Authlib validates the OAuth request; then the OIDC parameters decide what the person must do."""
    data = _authorization_data(db)
    pushed = g.get("idp_pushed") is not None
    grant, params = par.validate_authorization(
        authorization, data, end_user=ctx.user if ctx else None, pushed=pushed,
        url_length=par.request_url_length(data) if pushed else len(_rp_request_url()))
    if "ui_locales" in data:
        cookie["ui_locales"] = data["ui_locales"][:64]
    client = grant.request.client
    if client.allowed_claims is not None:
        params = dataclasses.replace(params, claims=restrict_request(params.claims, client.allowed_claims))
    wanted = authz.acr_request(params, client.client_metadata.get("default_acr_values"))
    # What the person could reach matters only when something was asked for.
    have = enrolled(db, ctx.user) if ctx and (wanted.values or wanted.floor) else None
    decision = authz.decide(
        params, ctx, trusted=client.trusted, scope=grant.request.scope or "", now=utc_now(),
        fresh=journey.is_fresh(),
        subject=(lambda user: subject_for(user, client)),
        consented=lambda items: ctx is not None and consent.has_consent(
            db, user_id=ctx.user.id, client_id=client.id, items=items),
        wanted=wanted,
        reachable_aal=have.reachable_aal() if have else 1,
        declined=journey.is_declined(),
        national_id_allowed=bool(client.client_metadata.get("national_id_allowed")),
        enrollable_aal=policy.ENROLLABLE_AAL,
        etda=levels.standing(db, ctx, have) if ctx and have else None,
        enrollable_etda_aal=levels.policy().enrollable_aal(),
    )
    grant.request.authorization_details = par.authorization_details_of(data, client, grant.redirect_uri)
    if grant.request.authorization_details:
        # RFC 9396 §2: the person sees and approves each transaction; a consent remembered for
        # the scopes (or a trusted e-Service) never lets a new one through unseen.
        decision = dataclasses.replace(decision, consent=True)
    authz.refuse(params, decision, redirect_uri=grant.redirect_uri)
    return grant, params, decision


def _finish(grant: Any, user: object) -> Response | tuple[str, int]:
    pushed = g.get("idp_pushed")
    if pushed is not None and not par.complete(get_session(), pushed):
        return _error(par.InvalidRequestUri())  # answered already (the same request, twice at once)
    response = authorization.create_authorization_response(request=grant.request, grant=grant, grant_user=user)
    if response.location:
        response.location = add_params_to_uri(response.location, [("iss", current_app.config["ISSUER"])])
    return _no_store(response)


@bp.route("/token", methods=["POST"])
@csrf.exempt
def token() -> Response:
    return dpop_requests.add_nonce_header(_no_store(authorization.create_token_response()))


@bp.route("/par", methods=["POST"], endpoint="par")
@csrf.exempt
def pushed_authorization() -> Response:
    """RFC 9126 §2: a client pushes its authorization request and gets a ``request_uri``."""
    try:
        return dpop_requests.add_nonce_header(_no_store(authorization.create_endpoint_response("pushed_authorization")))
    except ValueError:
        # Authlib refuses to echo characters RFC 6749 forbids in error_description.
        response = jsonify(error="invalid_request", error_description="The request has invalid characters.")
        response.status_code = 400
        return _no_store(response)


@bp.route("/revoke", methods=["POST"])
@csrf.exempt
def revoke() -> Response:
    return _no_store(authorization.create_endpoint_response("revocation"))


@bp.route("/introspect", methods=["POST"])
@csrf.exempt
def introspect() -> Response:
    # A disabled e-Service may still authenticate here, and learns that its tokens are no longer active.
    storage.allow_disabled_client()
    return _no_store(authorization.create_endpoint_response("introspection"))


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo() -> Response:
    with require_oauth.acquire("openid") as token:
        claims = release(token.user, token.client, scope=token.scope, requested=token.claims, member="userinfo",
                         acr=token.acr, amr=list(token.amr))
        db = get_session()
        record_disclosure(db, user_id=token.user_id, client=token.client, claims=released_names(claims),
                          acr=token.acr, via=Via.USERINFO, reference=token.family)
        db.commit()
    return dpop_requests.add_nonce_header(_no_store(jsonify(claims)))


@bp.route("/jwks.json")
def jwks() -> Response:
    body = current_app.extensions["idp.keyring"].jwks_json()
    return Response(body, mimetype="application/json", headers={"Cache-Control": JWKS_CACHE})


@bp.route("/.well-known/openid-configuration")
def discovery() -> Response:
    return Response(discovery_json(), mimetype="application/json", headers={"Cache-Control": DISCOVERY_CACHE})


def discovery_json() -> str:
    return discovery_document()


@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt
def end_session() -> Response | tuple[str, int] | str:
    """RP-Initiated Logout 1.0: sign out, then back to the RP only to a registered URI.

    The person confirms first unless the ``id_token_hint`` names this session (§2, §4, §6);
    without a valid hint they are never redirected.
    """
    try:
        req = authorization.validate_endpoint_request("end_session")
    except OAuth2Error:
        req = None
    if req is None or req.needs_confirmation:
        if request.method == "GET" or request.form.get("confirm") != "yes":
            return render_template("oidc/logout_confirm.html", action=request.full_path)
        csrf.protect()
        if req is None:
            auth_session.end_current(get_session())
            return render_template("oidc/logged_out.html")
    response = authorization.create_endpoint_response("end_session", req)
    return response or render_template("oidc/logged_out.html")
