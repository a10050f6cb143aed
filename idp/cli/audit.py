"""``idp audit verify``: walk the audit chain and name the first broken link."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from idp import audit
from idp.cli import emit
from idp.db import get_session


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def verify_command(as_json: bool) -> None:
    """Exit 0 when every link holds; 1 naming the first event that was edited, removed or moved."""
    db = get_session()
    audit.seal_pending(db)
    checked, broken = audit.verify(db)
    out: dict[str, object] = {"events": checked, "ok": broken is None}
    if broken is not None:
        out["broken"] = {"seq": broken.seq, "event_id": broken.event_id, "problem": broken.problem}
    emit(out, as_json)
    if broken is not None:
        if not as_json:
            click.echo(f"audit chain broken at seq {broken.seq} (event {broken.event_id}): {broken.problem}",
                       err=True)
        sys.exit(1)


def register(cli: click.Group) -> None:
    cli.add_command(audit_group)
