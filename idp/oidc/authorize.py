"""What the authorization endpoint does after Authlib validated the protocol basics.

Turns the OIDC request parameters Authlib leaves alone (``prompt``, ``max_age``,
``id_token_hint``, ``claims``, ``acr_values``, ``login_hint``) into one decision:
sign the person in, ask for one more factor, ask for consent, or issue a code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.errors import InteractionRequiredError
from authlib.oidc.core.errors import LoginRequiredError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.accounts.models import User
from idp.accounts.session import AuthContext
from idp.assurance.policy import AcrOutcome
from idp.assurance.policy import AcrRequest
from idp.assurance.policy import Etda
from idp.assurance.policy import decide_acr
from idp.assurance.policy import parse_requirement
from idp.oidc import dpop
from idp.oidc.claims import ALWAYS_ASK
from idp.oidc.claims import InvalidClaimsParameter
from idp.oidc.claims import consent_items
from idp.oidc.claims import parse_claims_parameter
from idp.proofing.service import REMOTE_PROOFING_IAL

PROMPTS = {"none", "login", "consent", "select_account"}

# The whole request, as a URL: it goes on through sign-in, step-up and proofing inside their
# ``next`` parameter, which must still fit in a request line (gunicorn's default limit is 4,094
# bytes). A POSTed request is held to the same length as the GET URL it continues as.
MAX_REQUEST_URL = 2048
# Characters per parameter, after URL decoding, for those the IdP echoes, stores or shows:
# ``state`` goes back in the redirect, ``nonce`` into the code row and the ID token, ``login_hint``
# onto the sign-in page (an email address has at most 254), ``ui_locales`` into the session
# cookie. Every other parameter is bounded by MAX_REQUEST_URL. docs/security.md#input.
MAX_LENGTHS = {"state": 512, "nonce": 255, "login_hint": 320, "acr_values": 512, "ui_locales": 64, "prompt": 64}


class RequestNotSupported(OAuth2Error):
    error = "request_not_supported"


class RequestUriNotSupported(OAuth2Error):
    error = "request_uri_not_supported"


class UnmetAuthenticationRequirements(OAuth2Error):
    """OpenID Connect Unmet Authentication Requirements 1.0: the ``acr`` asked for cannot be met."""

    error = "unmet_authentication_requirements"


@dataclass(frozen=True)
class OidcParams:
    prompts: frozenset[str]
    max_age: int | None
    login_hint: str | None
    hint_sub: str | None
    claims: dict[str, Any] = field(default_factory=dict)
    acr_values: list[str] = field(default_factory=list)


def refuse_oversized(data: Any, *, url_length: int, redirect_uri: str) -> None:
    """Raise ``invalid_request`` (to the already verified redirect URI, RFC 6749 §4.1.2.1) for a
    request over :data:`MAX_REQUEST_URL` or a parameter over its :data:`MAX_LENGTHS`."""
    for name, limit in MAX_LENGTHS.items():
        if any(len(value) > limit for value in data.getlist(name)):
            raise InvalidRequestError(f"The '{name}' parameter is longer than {limit} characters.",
                                      redirect_uri=redirect_uri)
    if url_length > MAX_REQUEST_URL:
        raise InvalidRequestError(f"The authorization request is longer than {MAX_REQUEST_URL} characters.",
                                  redirect_uri=redirect_uri)


def echoed_state(data: Any) -> str | None:
    """The ``state`` to send back with an error: not one over its limit, which is the error."""
    state = data.get("state")
    return state if state and len(state) <= MAX_LENGTHS["state"] else None


def parse_params(data: Any, *, redirect_uri: str, keys: KeySet, issuer: str) -> OidcParams:
    """Validate the OIDC parameters; each error carries the redirect URI (it was already checked)."""

    def invalid(description: str) -> InvalidRequestError:
        return InvalidRequestError(description, redirect_uri=redirect_uri)

    if "openid" not in (data.get("scope") or "").split():
        raise InvalidScopeError("The scope must include 'openid'.", redirect_uri=redirect_uri)
    if data.get("request"):
        raise RequestNotSupported("Request objects are not supported.", redirect_uri=redirect_uri)
    if data.get("request_uri"):
        raise RequestUriNotSupported("request_uri is not supported.", redirect_uri=redirect_uri)
    for name in ("prompt", "max_age", "nonce", "claims", "code_challenge", "code_challenge_method",
                 "id_token_hint", "login_hint", "acr_values", "ui_locales", "dpop_jkt"):
        if len(data.getlist(name)) > 1:
            raise invalid(f"Repeated '{name}' parameter.")
    if data.get("response_mode") not in (None, "", "query"):
        raise invalid("Only response_mode=query is supported.")
    if data.get("dpop_jkt"):
        try:
            dpop.check_jkt_parameter(data["dpop_jkt"])  # RFC 9449 §10
        except dpop.DPoPError as exc:
            raise invalid(exc.description) from exc
    prompts = frozenset((data.get("prompt") or "").split())
    if not prompts <= PROMPTS:
        raise invalid("Unknown prompt value.")
    if "none" in prompts and len(prompts) > 1:
        raise invalid("prompt=none cannot be combined with other values.")
    max_age = None
    if data.get("max_age") not in (None, ""):
        raw = data.get("max_age")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
            raise invalid("max_age must be a non-negative integer.")
        max_age = int(raw)
    try:
        claims = parse_claims_parameter(data.get("claims"))
    except InvalidClaimsParameter as exc:
        raise invalid(str(exc)) from exc
    hint_sub = None
    if data.get("id_token_hint"):
        hint_sub = _hint_subject(data["id_token_hint"], keys=keys, issuer=issuer, redirect_uri=redirect_uri)
    login_hint = data.get("login_hint") or None
    acr_values = (data.get("acr_values") or "").split()
    return OidcParams(prompts=prompts, max_age=max_age, login_hint=login_hint, hint_sub=hint_sub,
                      claims=claims, acr_values=acr_values)


def _hint_subject(token: str, *, keys: KeySet, issuer: str, redirect_uri: str) -> str:
    # OIDC Core §3.1.2.1: an expired ID token is still a valid hint, so only iss and the
    # signature are checked.
    try:
        decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256", "PS256"])
    except (JoseError, ValueError) as exc:
        raise InvalidRequestError("The id_token_hint is not a valid ID token from this provider.",
                                  redirect_uri=redirect_uri) from exc
    if decoded.claims.get("iss") != issuer or not isinstance(decoded.claims.get("sub"), str):
        raise InvalidRequestError("The id_token_hint was not issued by this provider.", redirect_uri=redirect_uri)
    return str(decoded.claims["sub"])


def acr_request(params: OidcParams, default_acr_values: list[str] | None) -> AcrRequest:
    """The ``acr`` wishes of the RP (``claims`` first, then ``acr_values``) and the operator's floor."""
    values: list[str] = []
    essential = False
    spec = params.claims.get("id_token", {}).get("acr")
    if isinstance(spec, dict):
        if isinstance(spec.get("values"), list):
            values.extend(v for v in spec["values"] if isinstance(v, str))
        elif isinstance(spec.get("value"), str):
            values.append(spec["value"])
        essential = spec.get("essential") is True and bool(values)
    values.extend(params.acr_values)
    floor = [v for v in default_acr_values or [] if isinstance(v, str)]
    return AcrRequest(values=tuple(dict.fromkeys(values))[:10], essential=essential, floor=tuple(floor))


@dataclass(frozen=True)
class Decision:
    """What stands between the request and a code: signing in, one more factor (``acr.step_up``),
    consenting (to ``items``), or nothing."""

    login: bool
    consent: bool
    items: list[str]
    acr: AcrOutcome = field(default_factory=AcrOutcome)


def decide(params: OidcParams, ctx: AuthContext | None, *, trusted: bool, scope: str, fresh: bool,
           now: dt.datetime, subject: Callable[[User], str], consented: Callable[[list[str]], bool],
           wanted: AcrRequest | None = None, reachable_aal: int = 1, declined: bool = False,
           national_id_allowed: bool = False, enrollable_aal: int = 0, etda: Etda | None = None,
           enrollable_etda_aal: Decimal | None = None) -> Decision:
    """Decide the next step of an authorization.

    :param fresh: the person signed in just now for this very request (``prompt=login`` and
        ``max_age`` are then satisfied rather than looping back to sign-in)
    :param subject: the ``sub`` this client sees for a user, to compare with ``id_token_hint``
    :param consented: whether remembered consent covers the given items
    :param reachable_aal: the highest AAL the person's enrolled authenticators can reach
    :param declined: the person turned down the step-up for this request
    :param enrollable_aal: the AAL the person could reach by adding an authenticator on the way
        (:data:`policy.ENROLLABLE_AAL`); used only for what would otherwise be unmet
    :param etda: the person's ETDA levels (``urn:th:digitalid:ial:2.3`` values), from the level policy
    :param enrollable_etda_aal: the ETDA AAL adding a passkey on the way would give
    """
    hint_matches = params.hint_sub is None or (ctx is not None and subject(ctx.user) == params.hint_sub)
    login = needs_login(params, ctx, fresh=fresh, hint_matches=hint_matches, now=now)
    items = consent_items(scope, params.claims, allow_national_id=national_id_allowed)
    # A trusted e-Service skips the page, except for what the person must agree to themselves.
    asked = items if not trusted else [i for i in items if i in ALWAYS_ASK]
    ask = bool(asked) and ("consent" in params.prompts or ctx is None or not consented(asked))
    if not trusted:
        ask = "consent" in params.prompts or ctx is None or not consented(items)
    if login or ctx is None:
        return Decision(login=True, consent=ask, items=items)
    aal = ctx.aal(now.timestamp())
    outcome = _acr_outcome(wanted or AcrRequest(), ial=ctx.user.ial, aal=aal, declined=declined,
                           reachable_aal=max(aal, reachable_aal),
                           enrollable_aal=0 if "none" in params.prompts else enrollable_aal, etda=etda,
                           enrollable_etda_aal=None if "none" in params.prompts else enrollable_etda_aal)
    return Decision(login=False, consent=ask, items=items, acr=outcome)


def _acr_outcome(wanted: AcrRequest, *, ial: int, aal: int, declined: bool, reachable_aal: int,
                 enrollable_aal: int, etda: Etda | None = None,
                 enrollable_etda_aal: Decimal | None = None) -> AcrOutcome:
    """``decide_acr``, and then what the journey adds: a requirement that only a new authenticator
    can meet is a step-up to add one (not ``unmet``), and a second factor comes before proofing.

    Voluntary values keep ``decide_acr``'s rules exactly: they are never unmet, so they never lead
    to adding an authenticator. With ``prompt=none`` nothing can be added (``enrollable_aal`` 0),
    and a person who declined is not asked again.
    """
    etda = etda or Etda()
    if declined:
        return decide_acr(wanted, ial=ial, aal=aal, reachable_aal=aal, provable_ial=0,
                          etda=dataclasses.replace(etda, reachable_aal=etda.aal, provable_ial=None))
    outcome = decide_acr(wanted, ial=ial, aal=aal, reachable_aal=reachable_aal, provable_ial=REMOTE_PROOFING_IAL,
                         etda=etda)
    more_etda = (enrollable_etda_aal is not None
                 and (etda.reachable_aal is None or enrollable_etda_aal > etda.reachable_aal))
    if outcome.unmet and (enrollable_aal > reachable_aal or more_etda):
        reach = max(enrollable_aal, reachable_aal) if enrollable_aal else reachable_aal
        reach_etda = max(d for d in (enrollable_etda_aal, etda.reachable_aal) if d is not None) if more_etda \
            else etda.reachable_aal
        retry = decide_acr(wanted, ial=ial, aal=aal, reachable_aal=reach, provable_ial=REMOTE_PROOFING_IAL,
                           etda=dataclasses.replace(etda, reachable_aal=reach_etda))
        outcome = retry if not retry.unmet else outcome
    if outcome.proof and outcome.target:
        needed = parse_requirement(outcome.target)
        etda_short = needed is not None and needed.etda_aal is not None and (etda.aal is None
                                                                              or etda.aal < needed.etda_aal)
        if needed and (needed.nist_aal > aal or etda_short):  # the second factor first, then proofing (issue 11)
            outcome = dataclasses.replace(outcome, step_up=max(needed.nist_aal, 1), step_up_etda=needed.etda_aal)
    return outcome


def needs_login(params: OidcParams, ctx: AuthContext | None, *, fresh: bool, hint_matches: bool,
                now: dt.datetime) -> bool:
    """Whether the person must (re)authenticate before a code can be issued."""
    if ctx is None:
        return True
    if fresh:
        return False
    if "login" in params.prompts or "select_account" in params.prompts:
        return True
    if params.max_age is not None and ctx.age(now) > params.max_age:
        return True
    return not hint_matches


def refuse(params: OidcParams, decision: Decision, *, redirect_uri: str) -> None:
    """Raise the error the RP gets when the request cannot go on.

    An ``acr`` that cannot be met is unmet whatever the prompt; with ``prompt=none`` the
    IdP may show nothing, so it says what would have been needed.
    """
    if not decision.login and decision.acr.unmet:
        raise UnmetAuthenticationRequirements(
            "The authentication level this service requires cannot be reached.", redirect_uri=redirect_uri)
    if "none" not in params.prompts:
        return
    if decision.login:
        raise LoginRequiredError(redirect_uri=redirect_uri)
    if decision.acr.step_up or decision.acr.proof:
        raise InteractionRequiredError("A stronger authentication is needed.", redirect_uri=redirect_uri)
    if decision.consent:
        raise ConsentRequiredError(redirect_uri=redirect_uri)
