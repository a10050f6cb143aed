"""``idp resources``: APIs, machine scopes and allowed exchanges from the command line, validated
and audited like the console's; JSON on stdout, errors on stderr with a non-zero exit."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.cli import cli
from idp.cli import resources
from idp.db import get_session
from tests.agencies import token_request
from tests.factories import make_client

resources.register(cli)

API = "https://api.revenue.example/"


@pytest.fixture
def run(app):
    from flask.cli import ScriptInfo

    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False)

    return invoke


@pytest.fixture
def api_client(app):
    return make_client(app, name="Revenue API")


def _events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_add_and_list(app, run, api_client):
    result = run("resources", "add", "--identifier", API, "--name", "Revenue API", "--name-th", "API กรมสรรพากร",
                 "--scope", "profile", "--scope", "tax:read", "--client-id", api_client.client.client_id, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"identifier": API, "name": "Revenue API", "name_th": "API กรมสรรพากร",
                                         "scopes": ["profile", "tax:read"], "client_id": api_client.client.client_id}
    listed = json.loads(run("resources", "list", "--json").stdout)["resources"]
    assert [r["identifier"] for r in listed] == [API] and listed[0]["exchanges_from"] == []
    assert len(_events(app, "resource_server_registered")) == 1


@pytest.mark.parametrize("identifier", ["http://api.revenue.example/", "https://api.revenue.example/?a=1", "x"])
def test_add_refuses_a_bad_identifier(run, api_client, identifier):
    result = run("resources", "add", "--identifier", identifier, "--name", "Revenue API",
                 "--client-id", api_client.client.client_id, "--json")
    assert result.exit_code != 0 and result.stdout == "" and "https" in result.stderr


def test_add_refuses_an_unknown_client_and_a_second_api_for_one_client(run, api_client):
    assert run("resources", "add", "--identifier", API, "--name", "R", "--client-id", "nope").exit_code != 0
    assert run("resources", "add", "--identifier", API, "--name", "R",
               "--client-id", api_client.client.client_id).exit_code == 0
    again = run("resources", "add", "--identifier", "https://api2.revenue.example/", "--name", "R2",
                "--client-id", api_client.client.client_id)
    assert again.exit_code != 0 and "another API" in again.stderr


def test_machine_scopes_then_client_credentials(app, client, run):
    backend = make_client(app, name="Revenue back-end")
    result = run("resources", "machine-scopes", backend.client.client_id, "tax:read", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["machine_scopes"] == "tax:read"
    assert token_request(client, backend, grant_type="client_credentials").json["scope"] == "tax:read"
    public = make_client(app, name="Mobile app", auth_method="none")
    refused = run("resources", "machine-scopes", public.client.client_id, "tax:read")
    assert refused.exit_code != 0 and "public" in refused.stderr


def test_allow_and_disallow_an_exchange(app, run, api_client):
    backend = make_client(app, name="Revenue back-end")
    run("resources", "add", "--identifier", API, "--name", "Revenue API", "--client-id", api_client.client.client_id)
    allowed = run("resources", "allow-exchange", backend.client.client_id, API, "--json")
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["exchange"] == "allowed"
    listed = json.loads(run("resources", "list", "--json").stdout)["resources"]
    assert listed[0]["exchanges_from"] == [backend.client.client_id]
    assert run("resources", "disallow-exchange", backend.client.client_id, API).exit_code == 0
    assert run("resources", "disallow-exchange", backend.client.client_id, API).exit_code != 0
    assert len(_events(app, "token_exchange_allowed")) == len(_events(app, "token_exchange_disallowed")) == 1
    assert run("resources", "remove", API, "--json").exit_code == 0
    assert json.loads(run("resources", "list", "--json").stdout)["resources"] == []
