"""Staff roles in the console: only admins get in; granting by email (an unknown email gets a
plain 400), revoking, never revoking the last admin; every change audited with the admin as actor."""

import pytest
from sqlalchemy import select

from idp.accounts import roles
from idp.accounts.service import find_by_email
from idp.audit.models import AuditEvent
from idp.db import get_session
from tests.factories import make_user
from tests.staff import admin_client
from tests.staff import browser
from tests.staff import make_staff
from tests.staff import post
from tests.staff import staff_client

ADMIN = "admin@example.com"


@pytest.fixture
def admin(app, clock):
    return admin_client(app, clock, ADMIN)


def _roles(app, email):
    with app.app_context():
        db = get_session()
        return roles.roles_of(db, find_by_email(db, email).id)


def _events(app, name):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def _routes(user_id):
    return ["/console/staff/"], [("/console/staff/grant", {"email": "citizen@example.com", "role": "admin"}),
                                 (f"/console/staff/{user_id}/revoke", {"role": "auditor"})]


def test_anonymous_is_sent_to_sign_in(app):
    target = make_staff(app, "someone@example.com", "auditor")
    gets, posts = _routes(target)
    anonymous = browser(app)
    for url in gets:
        assert "/signin" in anonymous.get(url).headers["Location"]
    for url, data in posts:
        response = post(anonymous, url, **data)
        assert response.status_code == 302 and "/signin" in response.headers["Location"], url
    assert _roles(app, "someone@example.com") == {"auditor"}


@pytest.mark.parametrize("role", [None, "auditor", "support", "proofing_officer"])
def test_everyone_but_admins_gets_403(app, clock, role):
    make_user(app)
    target = make_staff(app, "someone@example.com", "auditor")
    gets, posts = _routes(target)
    someone = staff_client(app, clock, f"{role or 'other'}@example.com", *([role] if role else []))
    for url in gets:
        assert someone.get(url).status_code == 403, url
    for url, data in posts:
        assert post(someone, url, **data).status_code == 403, url
    assert _roles(app, "someone@example.com") == {"auditor"} and _roles(app, "citizen@example.com") == set()
    assert not _events(app, "role_revoked")


def test_the_list_shows_staff_with_their_roles_and_not_citizens(app, admin):
    make_user(app)
    make_staff(app, "officer@example.com", "proofing_officer", "support")
    page = admin.get("/console/staff/")
    assert page.status_code == 200
    assert ADMIN in page.text and "officer@example.com" in page.text
    assert "proofing officer" in page.text and "support" in page.text
    assert "citizen@example.com" not in page.text


def test_a_post_without_csrf_token_is_refused(app, admin):
    make_user(app)
    target = make_staff(app, "someone@example.com", "auditor")
    _, posts = _routes(target)
    for url, data in posts:
        assert admin.post(url, data=data).status_code == 400, url
    assert _roles(app, "someone@example.com") == {"auditor"} and _roles(app, "citizen@example.com") == set()


def test_granting_a_role_by_email(app, admin):
    make_user(app)
    response = post(admin, "/console/staff/grant", email="Citizen@Example.com ", role="support")
    assert response.status_code == 302
    assert _roles(app, "citizen@example.com") == {"support"}
    assert "citizen@example.com is now support" in admin.get(response.headers["Location"]).text
    [event] = [e for e in _events(app, "role_granted") if e.details["role"] == "support"]
    with app.app_context():
        db = get_session()
        assert event.actor_id == find_by_email(db, ADMIN).id
        assert event.user_id == find_by_email(db, "citizen@example.com").id
    assert "citizen@example.com" not in str(event.details)


def test_granting_a_role_twice_changes_nothing(app, admin):
    make_staff(app, "someone@example.com", "auditor")
    before = len(_events(app, "role_granted"))
    response = post(admin, "/console/staff/grant", email="someone@example.com", role="auditor")
    assert "was already auditor" in admin.get(response.headers["Location"]).text
    assert len(_events(app, "role_granted")) == before


def test_an_unknown_email_is_a_readable_400(app, admin):
    response = post(admin, "/console/staff/grant", email="nobody@example.com", role="admin")
    assert response.status_code == 400
    assert "There is no account with that email." in response.text and 'role="alert"' in response.text
    assert 'value="nobody@example.com"' in response.text  # kept for correcting a typo


@pytest.mark.parametrize("role", ["", "root", "ADMIN"])
def test_an_unknown_role_is_a_readable_400(app, admin, role):
    make_user(app)
    response = post(admin, "/console/staff/grant", email="citizen@example.com", role=role)
    assert response.status_code == 400 and "Choose one of the roles." in response.text
    assert _roles(app, "citizen@example.com") == set()


def test_revoking_a_role(app, admin):
    target = make_staff(app, "someone@example.com", "auditor", "support")
    response = post(admin, f"/console/staff/{target}/revoke", role="auditor")
    assert response.status_code == 302
    assert _roles(app, "someone@example.com") == {"support"}
    [event] = _events(app, "role_revoked")
    assert event.user_id == target and event.details["role"] == "auditor"
    with app.app_context():
        assert event.actor_id == find_by_email(get_session(), ADMIN).id


def test_revoking_for_an_unknown_account_is_404(admin):
    assert post(admin, "/console/staff/99999/revoke", role="auditor").status_code == 404


def test_revoking_an_unknown_role_is_400(app, admin):
    target = make_staff(app, "someone@example.com", "auditor")
    assert post(admin, f"/console/staff/{target}/revoke", role="root").status_code == 400
    assert _roles(app, "someone@example.com") == {"auditor"}


def test_the_last_admin_cannot_lose_the_admin_role(app, admin):
    me = make_staff(app, ADMIN)
    response = post(admin, f"/console/staff/{me}/revoke", role="admin")
    assert response.status_code == 400 and "last administrator" in response.text
    assert _roles(app, ADMIN) == {"admin"} and not _events(app, "role_revoked")


def test_an_admin_can_go_when_another_admin_stays(app, admin):
    me = make_staff(app, ADMIN)
    make_staff(app, "second@example.com", "admin")
    assert post(admin, f"/console/staff/{me}/revoke", role="admin").status_code == 302
    assert _roles(app, ADMIN) == set() and _roles(app, "second@example.com") == {"admin"}
    # and the former admin is out at once
    assert admin.get("/console/staff/").status_code == 403
