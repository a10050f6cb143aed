"""Every staff route, with every role and with none: the role check is made on the server for each
route, people without the role get a bare 403, and nobody with it gets a server error.

The routes come from the app's URL map, so a console page added later is covered without touching
this file; a staff route without the role guard fails the first test."""

import pytest
from werkzeug.routing import AnyConverter
from werkzeug.routing import IntegerConverter

from idp.accounts.roles import ROLES
from tests.flows import csrf_of
from tests.staff import browser
from tests.staff import staff_client

STAFF_PREFIXES = ("/console", "/officer")
# Under /officer but for the applicant: they sign in on the counter's device to bind the account.
NOT_STAFF = {"/officer/counter/bind"}


def staff_rules(app):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(STAFF_PREFIXES) and r.rule not in NOT_STAFF]
    assert len(rules) > 10  # the console is there at all
    return sorted(rules, key=lambda r: r.rule)


def dummy(converter):
    if isinstance(converter, IntegerConverter):
        return 999999
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return "no-such-thing"


def url_of(rule):
    values = {name: dummy(conv) for name, conv in rule._converters.items()}
    return rule.build(values, append_unknown=False)[1]


def requests_of(app):
    for rule in staff_rules(app):
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            yield rule, method, url_of(rule)


def send(client, method, url):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": csrf_of(client.get("/signin").text)})


def test_every_staff_route_has_the_role_guard(app):
    unguarded = [r.rule for r in staff_rules(app) if not getattr(app.view_functions[r.endpoint], "allowed_roles", None)]
    assert unguarded == []


def test_anonymous_people_are_sent_to_sign_in_everywhere(app):
    client = browser(app)
    for rule, method, url in requests_of(app):
        response = send(client, method, url)
        assert response.status_code == 302 and "/signin" in response.headers["Location"], (method, url)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_each_role_opens_exactly_its_routes(app, clock, role):
    client = staff_client(app, clock, f"{role or 'citizen'}@example.com", *([role] if role else []))
    for rule, method, url in requests_of(app):
        allowed = app.view_functions[rule.endpoint].allowed_roles
        response = send(client, method, url)
        if role in allowed:
            assert response.status_code != 403 and response.status_code < 500, (method, url, response.status_code)
        else:
            assert response.status_code == 403, (method, url, response.status_code)
            assert "console-nav" not in response.text
