"""One journey from an e-Service's request to its callback: where the person goes next, and who waits.

Someone who arrives with an authorization request may have to sign in or sign up, confirm their
email, add or use a second factor, prove their identity and consent before the e-Service gets its
answer. Every page on the way carries the request as ``next`` (a local ``/authorize?...`` URL), so
several tabs can each follow their own request; this module is the only place that builds that URL,
marks it as freshly authenticated, resumes it, declines it, or reads which e-Service is waiting.

Two cookie markers tie "signed in just now" to one request (``prompt=login`` and ``max_age`` are
then met rather than looping back to sign-in): :func:`to_signin` puts a random marker into the
request URL (``_auth``) and into the cookie as pending; the step that completes an authentication
(:func:`resume`) makes it the fresh one; the authorization endpoint checks it (:func:`is_fresh`) and
forgets it when a code is issued (:func:`finish`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Flask
from flask import g
from flask import redirect
from flask import request
from flask import session as cookie
from flask import url_for
from flask_babel import get_locale
from werkzeug.wrappers import Response

from idp.accounts import session as auth_session
from idp.accounts.session import PENDING_MARKER
from idp.assurance.levels import level_text
from idp.authn.security import may_manage
from idp.db import get_session
from idp.http import CSP
from idp.http import safe_next
from idp.oidc.storage import query_client

FRESH_PARAM = "_auth"  # an unknown parameter to the RP's eyes; marks "just signed in for this request"
DECLINED_PARAM = "_declined"  # the person turned down a step; it can only lower what is issued
FRESH_MARKER = "fresh_auth"
_INTERNAL = (FRESH_PARAM, DECLINED_PARAM)


def next_url() -> str:
    """Where this page continues to: the request's ``next`` if it is local, else the home page."""
    return safe_next(request.values.get("next"), url_for("accounts.home"))


def is_authorization(url: str | None) -> bool:
    """``url`` is an e-Service's authorization request (a local ``/authorize?...``)."""
    parts = urlsplit(safe_next(url, "")) if url else None
    return parts is not None and parts.path == url_for("oidc.authorize") and bool(parts.query)


def in_journey() -> bool:
    """This page is a step on the way to an e-Service (its ``next`` is the authorization request)."""
    return is_authorization(request.values.get("next"))


def here() -> str:
    """This page, as the ``next`` of a page that must come first (sign-in, step-up)."""
    return request.full_path if request.query_string else request.path


def resume(target: str) -> Response:
    """On to ``target`` once an authentication step is done; a pending authorization becomes fresh.

    Every step that finishes authenticating (sign-in, the email code, step-up, enrolment, identity
    proofing) ends here, so the authorization it belongs to sees one fresh sign-in.
    """
    mark_fresh()
    return redirect(safe_next(target, url_for("accounts.home")))


def mark_fresh() -> None:
    """The person has just authenticated: the pending authorization, if any, may count it as fresh."""
    pending = cookie.pop(PENDING_MARKER, None)
    if pending:
        cookie[FRESH_MARKER] = pending


def declined(target: str) -> str:
    """``target`` told that the person turned down the step they were offered (a step-up, enrolment,
    proofing): the authorization endpoint then issues less, or answers that it cannot be met."""
    target = safe_next(target, url_for("accounts.home"))
    return target + ("&" if "?" in target else "?") + f"{DECLINED_PARAM}=1"


def to_signin(args: dict[str, list[str]], *, login_hint: str | None = None, step_up: int | None = None,
              proof: int | None = None, step_up_etda: Decimal | None = None,
              proof_etda: Decimal | None = None) -> Response:
    """From the authorization endpoint to the step the request needs, with the request as ``next``.

    Sign-in by default; with ``step_up`` the page that asks only for the missing factor (or offers
    to add one); with ``proof`` identity proofing. Each comes back to the request once done. The
    ETDA levels, when the request named them, go along (``etda_aal``, ``etda_ial``) so that the
    page knows when it is done.
    """
    marker = cookie.get(PENDING_MARKER) or auth_session.new_marker()
    cookie[PENDING_MARKER] = marker
    args = {k: v for k, v in args.items() if k not in _INTERNAL}
    args[FRESH_PARAM] = [marker]
    target = url_for("oidc.authorize") + "?" + urlencode(args, doseq=True)
    if step_up:
        etda_aal = level_text(step_up_etda) if step_up_etda is not None else None
        return redirect(url_for("authn.step_up", aal=step_up, etda_aal=etda_aal, next=target))
    if proof:
        etda_ial = level_text(proof_etda) if proof_etda is not None else None
        return redirect(url_for("proofing.status", level=proof, etda_ial=etda_ial, next=target))
    signin_args: dict[str, str] = {"next": target}
    if login_hint:
        signin_args["login_hint"] = login_hint
    return redirect(url_for("accounts.signin", **signin_args))  # type: ignore[arg-type]


def is_fresh() -> bool:
    """The person authenticated just now, for this very request."""
    marker = cookie.get(FRESH_MARKER)
    return bool(marker) and request.values.get(FRESH_PARAM) == marker


def is_declined() -> bool:
    return request.values.get(DECLINED_PARAM) == "1"


def finish() -> None:
    """The request got its answer (a code, or an error for the e-Service): its markers are spent."""
    cookie.pop(FRESH_MARKER, None)


# -- The e-Service waiting at the end --------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """The e-Service a page of the journey works for, as the page names it."""

    name: str
    logo_uri: str | None
    back_url: str  # "back to the e-Service": the request, answered with access_denied


def _pending_request(next_url: str | None) -> list[tuple[str, str]] | None:
    """The authorization request a page continues to, as its query's pairs."""
    if not next_url or not is_authorization(next_url):
        return None
    return parse_qsl(urlsplit(next_url).query, keep_blank_values=True)


def waiting(next_url: str | None = None) -> Waiting | None:
    """Which e-Service is waiting for this page's person, if any (cached for the request).

    :param next_url: where the page continues to (its ``next``; the consent page's own request)
    """
    if "idp_journey_waiting" in g:
        return g.idp_journey_waiting  # type: ignore[no-any-return]
    found = None
    pairs = _pending_request(next_url)
    if pairs is not None:
        client = query_client(dict(pairs).get("client_id"))
        if client is not None:
            query = urlencode([(k, v) for k, v in pairs if k not in _INTERNAL])
            found = Waiting(name=client.display_name(str(get_locale())), logo_uri=client.logo_uri,
                            back_url=url_for("oidc.cancel") + "?" + query)
    g.idp_journey_waiting = found
    return found


def _logo_origin(logo_uri: str) -> str | None:
    """The origin the page may load the logo from (the CSP names that one host, nothing wider)."""
    parts = urlsplit(logo_uri)
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme != "https" or not parts.netloc or any(c in origin for c in " ;,'\"\\"):
        return None
    return origin


def _allow_logo(response: Response) -> Response:
    """A page that showed an e-Service's logo may load it from that e-Service's host."""
    shown = g.get("idp_journey_waiting")
    origin = _logo_origin(shown.logo_uri) if shown is not None and shown.logo_uri else None
    if origin and response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP.replace("img-src 'self' data:",
                                                                  f"img-src 'self' data: {origin}")
    return response


# -- One guard for signed-in pages -------------------------------------------------------------------


def signed_in(view: Callable[..., Any] | None = None, *, strong: bool = False) -> Any:
    """Guard a page for the signed-in person; the view gets ``ctx``. Anyone else signs in first.

    :param strong: also at AAL2 when the person's authenticators can reach it (changing
        authenticators, reading one's personal data); otherwise the step-up page comes first.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            db = get_session()
            ctx = auth_session.current(db)
            if ctx is None:
                return redirect(url_for("accounts.signin", next=here()))
            if strong and not may_manage(db, ctx):
                return redirect(url_for("authn.step_up", aal=2, next=here()))
            return func(*args, ctx=ctx, **kwargs)

        return guarded

    return decorate(view) if view is not None else decorate


def init_app(app: Flask) -> None:
    """Every page can name the waiting e-Service (``base.html``) and show its logo."""
    app.jinja_env.globals["journey_waiting"] = waiting
    app.after_request(_allow_logo)
