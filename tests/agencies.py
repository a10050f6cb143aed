"""Agencies' APIs and permissions for tests: plain functions over the service (idp.oidc.resource_servers)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.db import get_session
from idp.oidc import resource_servers
from idp.oidc.clients import NewClient
from idp.oidc.models import Client
from tests.factories import make_client
from tests.flows import basic

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def _row(client_id: str) -> Client:
    row = get_session().scalar(select(Client).where(Client.client_id == client_id))
    assert row is not None
    return row


def make_api(app: Flask, identifier: str, scopes: Iterable[str], *, name: str = "Revenue API",
             name_th: str | None = None) -> NewClient:
    """A registered resource server and the confidential client it introspects with."""
    api = make_client(app, name=f"{name} (introspection)")
    with app.app_context():
        resource_servers.register(get_session(), identifier=identifier, name=name, name_th=name_th,
                                  client=_row(api.client.client_id), scopes=scopes)
    return api


def grant_machine_scopes(app: Flask, client_id: str, scopes: Iterable[str]) -> None:
    with app.app_context():
        resource_servers.set_machine_scopes(get_session(), _row(client_id), scopes)


def allow_exchange(app: Flask, client_id: str, identifier: str) -> None:
    with app.app_context():
        db = get_session()
        server = resource_servers.find(db, identifier)
        assert server is not None
        resource_servers.allow_exchange(db, _row(client_id), server)


def set_metadata(app: Flask, client_id: str, **values: Any) -> None:
    with app.app_context():
        row = _row(client_id)
        row.client_metadata = {**row.client_metadata, **values}
        get_session().commit()


def claims_of(jwt_text: str) -> dict[str, Any]:
    """A JWT's payload, unverified (the tests check what the IdP put in it)."""
    payload = jwt_text.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def introspect(client: FlaskClient, who: NewClient, token: str) -> dict[str, Any]:
    assert who.client_secret
    response = client.post("/introspect", data={"token": token},
                           headers={"Authorization": basic(who.client.client_id, who.client_secret)})
    assert response.status_code == 200, response.text
    return dict(response.json)


def token_request(client: FlaskClient, who: NewClient, **data: Any) -> Any:
    headers = {}
    if who.client_secret:
        headers["Authorization"] = basic(who.client.client_id, who.client_secret)
    else:
        data.setdefault("client_id", who.client.client_id)
    return client.post("/token", data=data, headers=headers)
