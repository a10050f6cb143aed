"""``idp clients add|list``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from idp.cli import emit
from idp.cli import fail
from idp.db import get_session
from idp.oidc import client_check
from idp.oidc.clients import AUTH_METHODS
from idp.oidc.clients import DEFAULT_SCOPE
from idp.oidc.clients import SCOPES
from idp.oidc.clients import ClientMetadataError
from idp.oidc.clients import create_client
from idp.oidc.clients import set_status
from idp.oidc.clients import update_client
from idp.oidc.models import Client
from idp.oidc.registration import issue_initial_token


@click.group("clients")
def clients_group() -> None:
    """e-Services (relying parties)."""


@clients_group.command("add")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--auth-method", type=click.Choice(AUTH_METHODS), default="client_secret_basic")
@click.option("--jwks-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks-uri")
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True)
@click.option("--subject-type", type=click.Choice(["pairwise", "public"]), default="pairwise")
@click.option("--sector-identifier-uri",
              help="Pairwise sector shared by this agency's e-Services: an https URL returning a JSON array "
                   "that lists every redirect URI (fetched now).")
@click.option("--join-sector", is_flag=True,
              help="Confirm sharing the pairwise sector with another agency's e-Services (same sub for everyone).")
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256", "PS256"]), default=None,
              help="RS256 by default; PS256 for a FAPI 2.0 e-Service.")
@click.option("--trusted", is_flag=True, help="First-party e-Service: consent already given by the operator.")
@click.option("--no-pkce", is_flag=True, help="Only for confidential clients that cannot send PKCE.")
@click.option("--default-acr", "default_acr_values", multiple=True,
              help="Minimum assurance, e.g. urn:th:digitalid:ial1:aal2 (repeatable; any one satisfies).")
@click.option("--allow-national-id", "allow_national_id", is_flag=True,
              help="Operator decision: this e-Service may receive the national ID number (scope national_id).")
@click.option("--dpop", "dpop_bound", is_flag=True,
              help="Every token request must carry a DPoP proof (dpop_bound_access_tokens, RFC 9449).")
@click.option("--backchannel-logout-uri",
              help="Where the IdP posts a logout token when a session this e-Service got tokens in ends "
                   "(OIDC Back-Channel Logout; https, or http on localhost for development).")
@click.option("--backchannel-logout-session-required", is_flag=True,
              help="The e-Service needs the sid claim in logout tokens (the IdP always sends it).")
@click.option("--scope", "scopes", multiple=True,
              help="A scope it may ask for (repeatable; default: openid profile email phone address offline_access),"
                   " e.g. ThaID's pid ial given_name_en (docs/thaid-migration.md).")
@click.option("--fapi", is_flag=True,
              help="FAPI 2.0 profile (fapi_profile fapi2): private_key_jwt, PAR only, https redirect URIs.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def add_command(name: str, redirect_uris: tuple[str, ...], auth_method: str, jwks_file: Path | None,
                jwks_uri: str | None, logout_uris: tuple[str, ...], subject_type: str,
                sector_identifier_uri: str | None, id_token_alg: str | None, trusted: bool, no_pkce: bool,
                default_acr_values: tuple[str, ...], allow_national_id: bool, join_sector: bool,
                dpop_bound: bool, scopes: tuple[str, ...], fapi: bool, as_json: bool,
                backchannel_logout_uri: str | None = None, backchannel_logout_session_required: bool = False) -> None:
    """Register an e-Service and print its client_id (and secret, shown only now)."""
    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.loads(jwks_file.read_text())
        except ValueError:
            fail(f"{jwks_file} is not JSON")
    try:
        new = create_client(get_session(), name=name, redirect_uris=list(redirect_uris), auth_method=auth_method,
                            post_logout_redirect_uris=list(logout_uris), jwks=jwks, jwks_uri=jwks_uri,
                            subject_type=subject_type, sector_identifier_uri=sector_identifier_uri,
                            id_token_signed_response_alg=id_token_alg,
                            trusted=trusted, require_pkce=not no_pkce,
                            default_acr_values=list(default_acr_values),
                            national_id_allowed=allow_national_id, join_sector=join_sector,
                            dpop_bound_access_tokens=dpop_bound,
                            backchannel_logout_uri=backchannel_logout_uri,
                            backchannel_logout_session_required=backchannel_logout_session_required,
                            scope=" ".join(dict.fromkeys(("openid", *scopes))) if scopes else DEFAULT_SCOPE,
                            fapi_profile="fapi2" if fapi else None)
    except ClientMetadataError as exc:
        fail(exc.description)
        return
    out = {"client_id": new.client.client_id}
    if new.client_secret:
        out["client_secret"] = new.client_secret
    emit(out, as_json)


@clients_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(as_json: bool) -> None:
    rows = get_session().scalars(select(Client).order_by(Client.id)).all()
    data = [{"client_id": c.client_id, "name": c.name, "auth_method": c.token_endpoint_auth_method,
             "redirect_uris": c.redirect_uris, "trusted": c.trusted, "active": c.active, "status": c.status,
             "fapi_profile": c.client_metadata.get("fapi_profile")}
            for c in rows]
    if as_json:
        emit({"clients": data}, True)
    else:
        for c in data:
            click.echo(f"{c['client_id']}  {c['status']:8}  {c['name']}  {c['auth_method']}")


@clients_group.command("issue-token")
@click.option("--agency", required=True, help="The agency that may register its e-Services itself.")
@click.option("--scope", "scopes", multiple=True, default=("openid", "profile", "email"), show_default=True,
              help="Scopes its registrations may ask for and still be approved at once (repeatable).")
@click.option("--max-ial", type=click.IntRange(1, 3), default=1, show_default=True)
@click.option("--max-aal", type=click.IntRange(1, 3), default=2, show_default=True)
@click.option("--days", type=click.IntRange(1, 366), default=None, help="Lifetime (INITIAL_ACCESS_TOKEN_DAYS).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def issue_token_command(agency: str, scopes: tuple[str, ...], max_ial: int, max_aal: int, days: int | None,
                        as_json: bool) -> None:
    """An initial access token for RFC 7591 registration at /register (shown only now)."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        fail(f"unknown scope {unknown[0]!r}")
    try:
        issued = issue_initial_token(get_session(), agency=agency, allowed_scopes=list(scopes), max_ial=max_ial,
                                     max_aal=max_aal,
                                     days=days or int(current_app.config["INITIAL_ACCESS_TOKEN_DAYS"]))
    except ValueError:
        fail("the agency name is empty")
        return
    emit({"initial_access_token": issued.token, "agency": issued.row.agency,
          "expires_at": issued.row.expires_at.isoformat()}, as_json)


@clients_group.command("disable")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def disable_command(client_id: str, as_json: bool) -> None:
    """Stop an e-Service at once: its requests are refused and its tokens stop introspecting as active."""
    _set_status(client_id, "disabled", as_json)


@clients_group.command("enable")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def enable_command(client_id: str, as_json: bool) -> None:
    """Enable a disabled e-Service, or approve one waiting after dynamic registration."""
    _set_status(client_id, "active", as_json)


@clients_group.command("check")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def check_command(client_id: str, as_json: bool) -> None:
    """What is wrong with an e-Service's registration before its first sign-in (exit 1 on errors)."""
    client = get_session().scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        fail(f"no e-Service with client_id {client_id!r}")
        return
    with force_locale("en"):  # as every other message of the command line
        findings = client_check.check_registered(client)
        messages = [finding.message for finding in findings]
    errors = sum(1 for f in findings if f.severity == client_check.Severity.ERROR)
    if as_json:
        listed = [{**f.as_dict(), "message": m} for f, m in zip(findings, messages, strict=True)]
        click.echo(json.dumps({"client_id": client.client_id, "errors": errors, "findings": listed},
                              ensure_ascii=False))
    elif not findings:
        click.echo(f"{client.client_id}: nothing wrong found")
    for finding, message in [] if as_json else zip(findings, messages, strict=True):
        click.echo(f"{finding.severity.value}: {finding.member}" + (f" {finding.value}" if finding.value else "")
                   + f": {message}")
    if errors:
        raise SystemExit(1)


@clients_group.command("set-backchannel-logout")
@click.argument("client_id")
@click.option("--uri", "uri", default="", help="The backchannel_logout_uri; empty removes it.")
@click.option("--session-required", is_flag=True, help="backchannel_logout_session_required: true.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def set_backchannel_logout_command(client_id: str, uri: str, session_required: bool, as_json: bool) -> None:
    """Set (or with an empty --uri, remove) an e-Service's back-channel logout URI."""
    db = get_session()
    client = db.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        fail(f"no e-Service with client_id {client_id!r}")
        return
    metadata = {k: v for k, v in client.client_metadata.items()
                if k not in ("backchannel_logout_uri", "backchannel_logout_session_required")}
    if uri:
        metadata.update(backchannel_logout_uri=uri, backchannel_logout_session_required=session_required)
    try:
        update_client(db, client, metadata)
    except ClientMetadataError as exc:
        fail(exc.description)
        return
    emit({"client_id": client.client_id, "backchannel_logout_uri": uri or None,
          "backchannel_logout_session_required": bool(uri) and session_required}, as_json)


def _set_status(client_id: str, status: str, as_json: bool) -> None:
    db = get_session()
    client = db.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        fail(f"no e-Service with client_id {client_id!r}")
        return
    set_status(db, client, status)
    emit({"client_id": client.client_id, "status": client.status}, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(clients_group)
