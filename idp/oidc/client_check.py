"""What is wrong with a registration before its first sign-in (``idp clients check``, console).

An agency learns of a mistake in its registration from a failed sign-in otherwise, usually the
first one a citizen makes. Each finding here names the metadata member, says what will happen
and what to change; an ``error`` will make sign-ins or token requests fail, a ``warning`` is a
risk or works only in development. The ``jwks_uri`` is fetched through the guarded fetcher, as
at ``/token``, so the check sees what the token endpoint would see and can reach nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp import outbound
from idp.assurance.levels import ALL_ACR_VALUES
from idp.config import is_loopback_host
from idp.oidc.models import Client

SIGNING_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


class Severity(StrEnum):
    ERROR = "error"      # sign-ins or token requests will fail
    WARNING = "warning"  # works, but not as a production e-Service should


class Problem(StrEnum):
    REDIRECT_NOT_HTTPS = "redirect_uri_not_https"
    REDIRECT_LOOPBACK = "redirect_uri_loopback"
    LOGOUT_NOT_HTTPS = "post_logout_redirect_uri_not_https"
    NO_KEYS = "no_keys_for_private_key_jwt"
    JWKS_URI_UNUSABLE = "jwks_uri_unusable"
    NO_SIGNING_KEY = "no_signing_key"
    ID_TOKEN_ALG_UNPUBLISHED = "id_token_alg_without_published_key"
    UNKNOWN_ACR = "default_acr_value_unknown"
    NOT_ACTIVE = "not_active"
    BACKCHANNEL_URI_UNUSABLE = "backchannel_logout_uri_unusable"


@dataclass(frozen=True)
class Finding:
    problem: Problem
    severity: Severity
    member: str  # the client metadata member to change
    value: str   # the value it holds (a URI, an algorithm), never a secret

    @property
    def message(self) -> str:
        return str(MESSAGES[self.problem])

    def as_dict(self) -> dict[str, str]:
        """Without the message: the caller chooses its language (:attr:`message`)."""
        return {"problem": self.problem.value, "severity": self.severity.value, "member": self.member,
                "value": self.value}


MESSAGES = {
    Problem.REDIRECT_NOT_HTTPS: _l("This redirect URI is not https: codes would travel in clear text. "
                                   "Register the https address of the e-Service's callback."),
    Problem.REDIRECT_LOOPBACK: _l("This redirect URI points at the developer's own computer. Keep it for "
                                  "development only; citizens' browsers cannot reach it."),
    Problem.LOGOUT_NOT_HTTPS: _l("This post-logout redirect URI is not https. Register an https address."),
    Problem.NO_KEYS: _l("The e-Service signs in with private_key_jwt but has no public keys: every token "
                        "request will be refused. Register jwks_uri or jwks."),
    Problem.JWKS_URI_UNUSABLE: _l("The jwks_uri could not be used, so every token request will be refused. "
                                  "Make it answer a JWK Set over https from a public address."),
    Problem.NO_SIGNING_KEY: _l("The key set has no key for signing (RSA, EC or OKP, not marked for "
                               "encryption): the client assertion cannot be checked."),
    Problem.ID_TOKEN_ALG_UNPUBLISHED: _l("The IdP publishes no key for this ID token signing algorithm: "
                                         "sign-ins will fail. Choose RS256, or ask the operator for this one."),
    Problem.UNKNOWN_ACR: _l("This default assurance level is not one the IdP offers, so no sign-in can meet "
                            "it. Use one of the values listed in discovery (acr_values_supported)."),
    Problem.BACKCHANNEL_URI_UNUSABLE: _l("The IdP will not post logout tokens to this backchannel_logout_uri: "
                                         "it must use https and its host must resolve to public internet "
                                         "addresses. Sign-ins work, but the e-Service is not told when "
                                         "a session ends."),
    Problem.NOT_ACTIVE: _l("The e-Service is not active (waiting for approval or disabled): its sign-ins "
                           "are refused until an administrator enables it."),
}


def check_client(client: Client, *, fetch_jwks: Callable[[str], Any], published_algs: Iterable[str],
                 check_post: Callable[[str], None] | None = None) -> list[Finding]:
    """Every finding, errors first; empty when nothing is wrong.

    :param fetch_jwks: the guarded fetcher's ``fetch_json`` for JWK Sets (raises
        :class:`idp.outbound.FetchError`)
    :param published_algs: the algorithms the IdP has an active signing key for
    :param check_post: the guarded fetcher's ``check_url`` (the rules a back-channel logout POST
        meets, nothing sent); without it the ``backchannel_logout_uri`` is not checked
    """
    meta = client.client_metadata
    findings: list[Finding] = []
    if client.status != "active":
        findings.append(Finding(Problem.NOT_ACTIVE, Severity.ERROR, "status", client.status))
    findings += _uris(client.redirect_uris, "redirect_uris", Problem.REDIRECT_NOT_HTTPS)
    findings += _uris(client.post_logout_redirect_uris, "post_logout_redirect_uris", Problem.LOGOUT_NOT_HTTPS)
    findings += _keys(meta, fetch_jwks)
    alg = str(client.id_token_signed_response_alg)
    if alg not in set(published_algs):
        findings.append(Finding(Problem.ID_TOKEN_ALG_UNPUBLISHED, Severity.ERROR, "id_token_signed_response_alg", alg))
    backchannel = meta.get("backchannel_logout_uri")
    if backchannel and check_post is not None:
        try:
            check_post(str(backchannel))
        except outbound.FetchError:
            findings.append(Finding(Problem.BACKCHANNEL_URI_UNUSABLE, Severity.WARNING, "backchannel_logout_uri",
                                    str(backchannel)))
    for value in client.default_acr_values:
        if value not in ALL_ACR_VALUES:
            findings.append(Finding(Problem.UNKNOWN_ACR, Severity.ERROR, "default_acr_values", str(value)))
    return sorted(findings, key=lambda f: f.severity != Severity.ERROR)


def _uris(uris: Iterable[str], member: str, not_https: Problem) -> list[Finding]:
    findings = []
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme == "https":
            continue
        if parts.scheme == "http" and is_loopback_host(parts.hostname or ""):
            findings.append(Finding(Problem.REDIRECT_LOOPBACK, Severity.WARNING, member, uri))
        elif parts.scheme == "http":
            findings.append(Finding(not_https, Severity.ERROR, member, uri))
        # Other schemes are native apps' own (RFC 8252 §7.1): nothing to say here.
    return findings


def _keys(meta: dict[str, Any], fetch_jwks: Callable[[str], Any]) -> list[Finding]:
    uses_keys = meta.get("token_endpoint_auth_method") == "private_key_jwt"
    if meta.get("jwks_uri"):
        uri = str(meta["jwks_uri"])
        try:
            document = fetch_jwks(uri)
        except outbound.FetchError:
            return [Finding(Problem.JWKS_URI_UNUSABLE, Severity.ERROR if uses_keys else Severity.WARNING,
                            "jwks_uri", uri)]
        return [] if _has_signing_key(document) else [Finding(Problem.NO_SIGNING_KEY, Severity.ERROR, "jwks_uri", uri)]
    if meta.get("jwks"):
        if _has_signing_key(meta["jwks"]):
            return []
        return [Finding(Problem.NO_SIGNING_KEY, Severity.ERROR, "jwks", "")]
    return [Finding(Problem.NO_KEYS, Severity.ERROR, "jwks_uri", "")] if uses_keys else []


def _has_signing_key(document: Any) -> bool:
    try:
        keys = KeySet.import_key_set(document)
    except (JoseError, ValueError, TypeError, KeyError, AttributeError):
        return False
    return any(key.key_type in SIGNING_KEY_TYPES and key.get("use") in (None, "sig") for key in keys)


def check_registered(client: Client) -> list[Finding]:
    """:func:`check_client` with this application's fetcher and keyring (app context needed)."""
    from flask import current_app

    fetcher = outbound.fetcher()
    return check_client(client, fetch_jwks=lambda uri: fetcher.fetch_json(uri, media_types=outbound.JWK_SET,
                                                                            refresh=True),
                        published_algs=current_app.extensions["idp.keyring"].algorithms(),
                        check_post=fetcher.check_url)
