"""The console's door: anonymous people go to sign in, people without a staff role get a bare 403,
staff at AAL1 are asked to step up, and the admin role needs a passkey or security key."""

import pytest

from tests.flows import sign_in
from tests.staff import browser
from tests.staff import key_step_up
from tests.staff import make_staff
from tests.staff import register_key
from tests.staff import staff_client
from tests.staff import totp_step_up
from tests.support.soft_authenticator import SoftAuthenticator


def test_anonymous_is_sent_to_sign_in(app):
    response = browser(app).get("/console/")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


def test_a_citizen_gets_403_without_a_hint(app, clock):
    client = staff_client(app, clock, "citizen@example.com")
    response = client.get("/console/")
    assert response.status_code == 403
    assert "console-nav" not in response.text and "Audit log" not in response.text
    assert "Staff roles" not in response.text


def test_staff_at_aal1_are_asked_to_step_up(app, clock):
    client = staff_client(app, clock, "auditor@example.com", "auditor", aal=1)
    response = client.get("/console/")
    assert response.status_code == 302 and "/signin/more?aal=2" in response.headers["Location"]


@pytest.mark.parametrize(("role", "shown", "hidden"), [
    ("auditor", ["/console/audit/", "/console/dashboard/"], ["/console/clients/", "/console/support/"]),
    ("support", ["/console/support/"], ["/console/clients/", "/console/audit/", "/console/dashboard/"]),
    ("proofing_officer", ["/officer/cases"], ["/console/clients/", "/console/audit/"]),
    ("admin", ["/console/clients/", "/console/staff/", "/console/dashboard/"], ["/console/audit/"]),
])
def test_the_home_page_links_only_what_the_roles_open(app, clock, role, shown, hidden):
    client = staff_client(app, clock, f"{role}@example.com", role)
    page = client.get("/console/")
    assert page.status_code == 200
    for link in shown:
        assert f'href="{link}"' in page.text
    for link in hidden:
        assert f'href="{link}"' not in page.text


def test_an_admin_with_only_totp_must_use_a_key(app, clock):
    make_staff(app, "admin@example.com", "admin")
    client = browser(app)
    sign_in(client, "admin@example.com")
    totp_step_up(client, clock)
    response = client.get("/console/clients/")
    assert response.status_code == 302
    assert "with=webauthn" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert "You have no passkey or security key yet" in page.text
    key = SoftAuthenticator(user_verified=False)
    register_key(client, key)
    page = client.get(response.headers["Location"])
    assert "data-webauthn-stepup" in page.text and 'value="totp"' not in page.text
    key_step_up(client, key, next_url="/console/clients/")
    assert client.get("/console/clients/").status_code == 200


def test_an_admin_who_is_also_an_auditor_reads_the_dashboard_without_a_key(app, clock):
    make_staff(app, "both@example.com", "admin", "auditor")
    client = browser(app)
    sign_in(client, "both@example.com")
    totp_step_up(client, clock)
    assert client.get("/console/dashboard/").status_code == 200
    assert client.get("/console/clients/").status_code == 302
