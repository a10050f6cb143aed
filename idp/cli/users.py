"""``idp users``: create, totp-import, unlock, grant-role, revoke-role."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.accounts import roles
from idp.accounts import service
from idp.accounts.passwords import PasswordRejected
from idp.authn import throttle
from idp.authn import totp
from idp.cli import emit
from idp.cli import fail
from idp.db import get_session


@click.group("users")
def users_group() -> None:
    """Accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", default="")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def create_command(email: str, password: str, name: str, as_json: bool) -> None:
    """Create an account whose email counts as verified; the password follows the sign-up rules."""
    try:
        user = service.create_user(get_session(), email=email, password=password, name=name, email_verified=True)
    except PasswordRejected as exc:
        fail(f"password rejected: {exc.code}")
        return
    except service.AccountError as exc:
        fail(f"cannot create account: {exc.code}")
        return
    emit({"id": user.id}, as_json)


@users_group.command("totp-import")
@click.option("--email", required=True)
@click.option("--secret", required=True, help="The token's seed, base32 (spaces allowed).")
@click.option("--name", default="Hardware token", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def totp_import_command(email: str, secret: str, name: str, as_json: bool) -> None:
    """Register a hardware OTP token handed out at a counter (no confirmation code)."""
    db = get_session()
    user = service.find_by_email(db, email)
    if user is None:
        fail("cannot import token: no_such_user")
        return
    try:
        credential = totp.import_secret(db, user, secret, name=name, config=current_app.config)
    except totp.TotpError as exc:
        fail(f"cannot import token: {exc.code}")
        return
    emit({"user": user.email, "totp_id": credential.id, "name": credential.name}, as_json)


@users_group.command("unlock")
@click.option("--email", required=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def unlock_command(email: str, as_json: bool) -> None:
    """Lift throttling and suspension from every factor of an account."""
    db = get_session()
    user = service.find_by_email(db, email)
    if user is None:
        fail("cannot unlock: no_such_user")
        return
    lifted = throttle.unlock_user(db, user, config=current_app.config)
    emit({"user": user.email, "lifted": lifted}, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(users_group)


@users_group.command("grant-role")
@click.argument("email")
@click.argument("role", type=click.Choice(roles.ROLES))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def grant_role_command(email: str, role: str, as_json: bool) -> None:
    """Give a staff role (admin, proofing_officer, auditor, support)."""
    _change_role(email, role, as_json, roles.grant, verb="grant")


@users_group.command("revoke-role")
@click.argument("email")
@click.argument("role", type=click.Choice(roles.ROLES))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def revoke_role_command(email: str, role: str, as_json: bool) -> None:
    """Take a staff role away."""
    _change_role(email, role, as_json, roles.revoke, verb="revoke")


def _change_role(email: str, role: str, as_json: bool, change: Callable[..., bool], *, verb: str) -> None:
    db = get_session()
    user = service.find_by_email(db, email)
    if user is None:
        fail(f"cannot {verb}: no_such_user")
        return
    try:
        changed = change(db, user, role)
    except roles.LastAdmin:
        fail(f"cannot {verb}: last_admin (grant the role to someone else first)")
        return
    emit({"user": user.email, "role": role, "changed": changed}, as_json)
