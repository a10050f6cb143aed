"""Transaction types in the console (RFC 9396 authorization_details): admins only; the schema is
checked as a JSON Schema and every problem listed at the top and beside its field; registering
and changing are audited with the admin as actor and show in discovery at once."""

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import get_session
from idp.rar import service
from tests.staff import admin_client
from tests.staff import browser
from tests.staff import post
from tests.staff import staff_client

EXAMPLE = json.loads((Path(__file__).resolve().parents[2] / "docs" / "authorization-details"
                      / "th_gov_service_request.json").read_text(encoding="utf-8"))


def _form(**changes):
    form = {"type": EXAMPLE["type"], "schema": json.dumps(EXAMPLE["schema"]),
            "display": json.dumps(EXAMPLE["display"], ensure_ascii=False), "clients": "", "active": "yes"}
    return form | changes


@pytest.fixture
def admin(app, clock):
    return admin_client(app, clock)


def _types(app):
    with app.app_context():
        return {row.name: row.as_definition() for row in service.list_types(get_session())}


def test_admin_registers_a_type_and_discovery_lists_it(app, admin):
    assert admin.get("/console/transaction-types/").status_code == 200
    response = post(admin, "/console/transaction-types/new", **_form(clients="rp-1\nrp-2"))
    assert response.status_code == 302
    saved = _types(app)["th_gov_service_request"]
    assert saved["schema"] == EXAMPLE["schema"] and saved["clients"] == ["rp-1", "rp-2"] and saved["active"]
    listing = admin.get("/console/transaction-types/").text
    assert "th_gov_service_request" in listing and "A government service request" in listing
    assert admin.get("/.well-known/openid-configuration").json["authorization_details_types_supported"] == [
        "th_gov_service_request"]
    with app.app_context():
        event = get_session().scalar(select(AuditEvent).where(AuditEvent.event == "authz_details_type_registered"))
        assert event.details["type"] == "th_gov_service_request" and event.actor_id is not None


def test_admin_edits_a_type_but_not_its_name(app, admin):
    post(admin, "/console/transaction-types/new", **_form())
    with app.app_context():
        type_id = service.get_type(get_session(), "th_gov_service_request").id
    page = admin.get(f"/console/transaction-types/{type_id}/edit")
    assert page.status_code == 200 and "&#34;dependentRequired&#34;" in page.text
    response = post(admin, f"/console/transaction-types/{type_id}/edit", **_form(type="renamed", active=None))
    assert response.status_code == 302
    assert _types(app)["th_gov_service_request"]["active"] is False and "renamed" not in _types(app)
    assert "authorization_details_types_supported" not in admin.get("/.well-known/openid-configuration").json
    with app.app_context():
        assert get_session().scalar(select(AuditEvent).where(AuditEvent.event == "authz_details_type_updated"))


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"schema": json.dumps({"type": "object", "properties": {"amount": {"type": "money"}}})}, "schema",
     "This is not a valid JSON Schema"),
    ({"schema": json.dumps({"type": "object", "required": "service"})}, "schema", "This is not a valid JSON Schema"),
    ({"schema": "{not json"}, "schema", "This is not valid JSON."),
    ({"schema": json.dumps({"$ref": "https://evil.example/schema.json"})}, "schema", "only refer to its own parts"),
    ({"schema": json.dumps({"type": "array"})}, "schema", "must be object"),
    ({"schema": json.dumps({"$schema": "http://json-schema.org/draft-03/schema#"})}, "schema",
     "version this server does not know"),
    ({"display": json.dumps({"title": {"en": "Only English"}})}, "display", "in Thai (th) and in English (en)"),
    ({"display": json.dumps({"title": {"en": "a", "th": "ก"}, "summary": {"en": "{nope}", "th": "{nope}"}})},
     "display", "{nope}"),
    ({"type": "has space"}, "type", "The type name must be"),
])
def test_a_bad_definition_is_refused_with_an_error_summary(app, admin, changes, field, message):
    response = post(admin, "/console/transaction-types/new", **_form(**changes))
    assert response.status_code == 400
    assert 'class="error-summary"' in response.text and f'href="#{field}"' in response.text
    assert f'id="{field}-error"' in response.text and message in response.text
    assert _types(app) == {}


def test_the_same_name_twice_is_refused(app, admin):
    post(admin, "/console/transaction-types/new", **_form())
    response = post(admin, "/console/transaction-types/new", **_form())
    assert response.status_code == 400 and "already registered" in response.text


def test_thai_page(app, admin):
    admin.environ_base["HTTP_ACCEPT_LANGUAGE"] = "th"
    post(admin, "/console/transaction-types/new", **_form())
    assert "คำขอรับบริการภาครัฐ" in admin.get("/console/transaction-types/").text


def test_only_admins(app, clock):
    anonymous = browser(app)
    assert "/signin" in anonymous.get("/console/transaction-types/").headers["Location"]
    auditor = staff_client(app, clock, "auditor@example.com", "auditor")
    assert auditor.get("/console/transaction-types/").status_code == 403
    assert post(auditor, "/console/transaction-types/new", **_form()).status_code == 403
    assert _types(app) == {}
