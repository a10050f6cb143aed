"""``idp demo seed``: the demo e-Service and demo citizen that ``make run`` shows."""

from __future__ import annotations

import json
import os
from importlib.resources import files
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts import roles
from idp.accounts import service
from idp.authn import totp
from idp.cli import emit
from idp.db import get_session
from idp.oidc.clients import create_client
from idp.oidc.clients import update_client
from idp.oidc.models import Client
from idp.rar import service as rar_service
from idp.rar.definitions import parse_definition

DEMO_EMAIL = "somchai@example.com"
DEMO_PASSWORD = "demo-citizen-2026"
DEMO_CLIENT_NAME = "Restaurant business licence (demo)"
DEMO_CLIENT_NAME_TH = "ใบอนุญาตประกอบกิจการร้านอาหาร (ทดลอง)"  # what the journey's pages say in Thai
# Demo account only: a published seed, so anyone trying `make run` can pass the AAL2 step-up
# with any authenticator app (or `python -c "import pyotp; print(pyotp.TOTP('...').now())"`).
DEMO_TOTP_SECRET = "KRUGC2JAIRUWO2LUMFWCASKEEBCGK3LP"
# A demo staff member holding every role, to look around the console (/console/). Admin pages also
# ask for a passkey or security key, which they can add on the Security page.
DEMO_STAFF_EMAIL = "staff@example.com"
DEMO_STAFF_PASSWORD = "demo-staff-2026"
# The same file as docs/authorization-details/th_gov_service_request.json (a test keeps them equal).
EXAMPLE_TYPE = "data/authorization_details/th_gov_service_request.json"


@click.group("demo")
def demo_group() -> None:
    """Demo data for trying the IdP locally."""


@demo_group.command("seed")
@click.option("--eservice-url", default="http://localhost:5001", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def seed_command(eservice_url: str, as_json: bool) -> None:
    """Create the demo citizen and the demo e-Service (once) and write the client to instance/."""
    db = get_session()
    user = service.find_by_email(db, DEMO_EMAIL)
    if user is None:
        user = service.create_user(db, email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Somchai Jaidee",
                                   email_verified=True)
    if not totp.list_for(db, user.id):
        totp.import_secret(db, user, DEMO_TOTP_SECRET, name="Demo authenticator", config=current_app.config)
    staff = service.find_by_email(db, DEMO_STAFF_EMAIL)
    if staff is None:
        staff = service.create_user(db, email=DEMO_STAFF_EMAIL, password=DEMO_STAFF_PASSWORD, name="Demo Staff",
                                    email_verified=True)
        totp.import_secret(db, staff, DEMO_TOTP_SECRET, name="Demo authenticator", config=current_app.config)
        for role in roles.ROLES:
            roles.grant(db, staff, role)
    client_file = Path(current_app.instance_path) / "demo-eservice.json"
    existing = db.scalar(select(Client).where(Client.name == DEMO_CLIENT_NAME))
    if existing is None or not client_file.exists():
        if existing is not None:
            existing.active = False
            db.commit()
        new = create_client(db, name=DEMO_CLIENT_NAME, name_th=DEMO_CLIENT_NAME_TH,
                            redirect_uris=[f"{eservice_url}/callback"],
                            post_logout_redirect_uris=[f"{eservice_url}/"], scope="openid profile email",
                            backchannel_logout_uri=f"{eservice_url}/backchannel-logout",
                            join_sector=True)  # replaces the demo's own earlier client
        fd = os.open(client_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"client_id": new.client.client_id, "client_secret": new.client_secret}, fh)
    elif existing is not None and "backchannel_logout_uri" not in existing.client_metadata:  # seeded before it
        update_client(db, existing, {**existing.client_metadata,
                                     "backchannel_logout_uri": f"{eservice_url}/backchannel-logout"})
    _seed_transaction_type(db)
    emit({"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "totp_secret": DEMO_TOTP_SECRET,
          "staff_email": DEMO_STAFF_EMAIL, "staff_password": DEMO_STAFF_PASSWORD,
          "eservice": eservice_url, "client_file": str(client_file)}, as_json)


def _seed_transaction_type(db: Session) -> None:
    """The example authorization-details type (docs/authorization-details.md), once."""
    data = json.loads(files("idp").joinpath(EXAMPLE_TYPE).read_text(encoding="utf-8"))
    if rar_service.get_type(db, data["type"]) is None:
        rar_service.save_type(db, parse_definition(data), by=None)


def register(cli: click.Group) -> None:
    cli.add_command(demo_group)
