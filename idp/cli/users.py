"""``idp users create``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from idp.accounts import service
from idp.accounts.passwords import PasswordRejected
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


def register(cli: click.Group) -> None:
    cli.add_command(users_group)
