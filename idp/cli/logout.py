"""``idp logout deliver``: send the back-channel logout tokens that are due (retries included)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from idp import outbound
from idp.backchannel import delivery
from idp.cli import emit
from idp.db import get_session


@click.group("logout")
def logout_group() -> None:
    """Back-channel logout (OIDC Back-Channel Logout 1.0)."""


@logout_group.command("deliver")
@click.option("--limit", type=click.IntRange(1, 10_000), default=500, show_default=True,
              help="At most this many deliveries in this run.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def deliver_command(limit: int, as_json: bool) -> None:
    """Post every logout token due now, first attempts and retries; safe to run on every instance at once
    (each delivery is claimed before it is sent). Run it every minute from cron or a systemd timer."""
    summary = delivery.deliver_due(get_session(), settings=delivery.Settings.of(current_app.config),
                                   keyring=current_app.extensions["idp.keyring"], fetcher=outbound.fetcher(),
                                   limit=limit)
    emit({"delivered": summary.delivered, "failed": summary.failed, "given_up": summary.given_up}, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(logout_group)
