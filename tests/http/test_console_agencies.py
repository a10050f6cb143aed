"""The admin's agency page: APIs (resource servers) registered with the shared validator, machine
scopes and allowed exchanges set and withdrawn, errors on the page, every change audited with the
admin as actor; other staff cannot get in."""

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import get_session
from idp.oidc.agency_models import ExchangePermission
from idp.oidc.agency_models import MachineAccess
from idp.oidc.agency_models import ResourceServer
from tests.agencies import token_request
from tests.factories import make_client
from tests.staff import admin_client
from tests.staff import post
from tests.staff import staff_client

API = "https://api.revenue.example/"


@pytest.fixture
def admin(app, clock):
    return admin_client(app, clock)


@pytest.fixture
def backend(app):
    return make_client(app, name="Revenue back-end")


@pytest.fixture
def api_client(app):
    return make_client(app, name="Revenue API")


def _events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def _rows(app, model):
    with app.app_context():
        return list(get_session().scalars(select(model)))


def test_the_page_is_in_the_console_nav_and_for_admins_only(app, clock, admin):
    assert 'href="/console/agencies/"' in admin.get("/console/").text
    page = admin.get("/console/agencies/", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Register an API" in page.text
    auditor = staff_client(app, clock, "auditor@example.com", "auditor")
    assert auditor.get("/console/agencies/").status_code == 403
    assert post(auditor, "/console/agencies/apis", identifier=API).status_code == 403


def test_an_admin_registers_an_api_and_removes_it(app, admin, api_client):
    response = post(admin, "/console/agencies/apis", identifier=API, api_name="Revenue API",
                    api_name_th="API กรมสรรพากร", api_scopes="profile tax:read", api_client=api_client.client.client_id)
    assert response.status_code == 302
    [server] = _rows(app, ResourceServer)
    assert (server.identifier, server.name_th, server.scopes) == (API, "API กรมสรรพากร", ["profile", "tax:read"])
    [event] = _events(app, "resource_server_registered")
    assert event.actor_id is not None and event.details["resource"] == API
    page = admin.get("/console/agencies/")
    assert f'data-api="{API}"' in page.text
    assert post(admin, f"/console/agencies/apis/{server.id}/remove").status_code == 302
    assert _rows(app, ResourceServer) == [] and len(_events(app, "resource_server_removed")) == 1


@pytest.mark.parametrize(("identifier", "scopes"), [
    ("http://api.revenue.example/", "profile"),  # not https
    ("https://api.revenue.example/#x", "profile"),  # a fragment
    ("not a uri", "profile"),
    (API, 'bad"scope'),
])
def test_a_bad_api_is_refused_on_the_page(app, admin, api_client, identifier, scopes):
    response = post(admin, "/console/agencies/apis", identifier=identifier, api_name="Revenue API",
                    api_scopes=scopes, api_client=api_client.client.client_id)
    assert response.status_code == 400 and "error-summary" in response.text
    assert _rows(app, ResourceServer) == []


def test_a_public_client_cannot_introspect_for_an_api(app, admin):
    public = make_client(app, name="Mobile app", auth_method="none")
    response = post(admin, "/console/agencies/apis", identifier=API, api_name="Revenue API",
                    api_client=public.client.client_id)
    assert response.status_code == 400 and _rows(app, ResourceServer) == []


def test_machine_scopes_are_granted_and_taken_away(app, client, admin, backend):
    response = post(admin, "/console/agencies/machine", machine_client=backend.client.client_id,
                    machine_scopes="tax:read tax:write")
    assert response.status_code == 302
    assert token_request(client, backend, grant_type="client_credentials").json["scope"] == "tax:read tax:write"
    post(admin, "/console/agencies/machine", machine_client=backend.client.client_id, machine_scopes="")
    refused = token_request(client, backend, grant_type="client_credentials")
    assert refused.status_code == 400 and refused.json["error"] == "unauthorized_client"
    assert [e.details["scopes"] for e in _events(app, "machine_scopes_set")] == [["tax:read", "tax:write"], []]
    assert [row.scopes for row in _rows(app, MachineAccess)] == [[]]


def test_an_exchange_is_allowed_and_withdrawn(app, admin, backend, api_client):
    post(admin, "/console/agencies/apis", identifier=API, api_name="Revenue API", api_scopes="profile",
         api_client=api_client.client.client_id)
    [server] = _rows(app, ResourceServer)
    response = post(admin, "/console/agencies/exchanges", exchange_client=backend.client.client_id,
                    exchange_api=str(server.id))
    assert response.status_code == 302
    [permission] = _rows(app, ExchangePermission)
    assert f'data-exchange="{permission.id}"' in admin.get("/console/agencies/").text
    assert post(admin, f"/console/agencies/exchanges/{permission.id}/withdraw").status_code == 302
    assert _rows(app, ExchangePermission) == []
    assert len(_events(app, "token_exchange_allowed")) == len(_events(app, "token_exchange_disallowed")) == 1


def test_an_exchange_needs_a_client_and_an_api(app, admin, backend):
    response = post(admin, "/console/agencies/exchanges", exchange_client=backend.client.client_id,
                    exchange_api="999")
    assert response.status_code == 400 and _rows(app, ExchangePermission) == []
