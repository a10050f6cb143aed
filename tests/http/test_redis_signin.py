"""Sign-in with the optional Redis: address throttles shared by instances, and a Redis that does
not answer changes nothing a person sees (the database counts meanwhile)."""

import socket

import pytest
from sqlalchemy import select

from idp import migrate
from idp.authn import throttle
from idp.authn.models import Throttle
from tests.factories import PASSWORD
from tests.factories import make_user
from tests.flows import sign_in

FREE = 3


@pytest.fixture
def app_config(app_config, redis_url):
    return {**app_config, "REDIS_URL": redis_url, "THROTTLE_IP_FREE_FAILURES": FREE}


def _keys(app):
    with app.app_context():
        from idp.db import get_session

        return list(get_session().scalars(select(Throttle.key)))


def test_address_throttle_counts_across_two_instances(app, app_config, make_app):
    """Two instances on one database and one Redis: failures on either block the address on both."""
    other = make_app(app_config, instance="other")
    clients = [app.test_client(), other.test_client()]
    for n in range(FREE):  # different accounts: only the address is shared
        assert sign_in(clients[n % 2], email=f"p{n}@example.com", password="wrong").status_code == 200
    assert sign_in(clients[1], email="last@example.com", password="wrong").status_code == 429  # blocks the address
    for client in clients:
        refused = sign_in(client, email="fresh@example.com", password="wrong")
        assert refused.status_code == 429
    keys = _keys(app)
    assert keys and all(throttle.is_account_key(key) for key in keys)  # the address only in Redis
    with app.app_context():
        from idp.db import get_session
        from tests.support.throttles import failures_of

        assert failures_of(get_session(), throttle.ip_key("127.0.0.1", "pwd", config=app.config)) == FREE + 1


def test_sign_in_works_and_is_throttled_while_redis_is_down(app_config, make_app):
    """Nothing listens where Redis should be: sign-in, throttling (in the database) and /readyz go on."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    down = make_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{port}/5"})
    migrate.upgrade(down)
    make_user(down, "citizen@example.com")
    client = down.test_client()
    assert client.get("/readyz").status_code == 200
    assert sign_in(client).status_code == 302
    other = down.test_client()
    for n in range(FREE):
        assert sign_in(other, email=f"p{n}@example.com", password="wrong").status_code == 200
    assert sign_in(other, email="last@example.com", password="wrong").status_code == 429
    assert sign_in(other, password=PASSWORD).status_code == 429  # the address is blocked, in the database
    assert throttle.ip_key("127.0.0.1", "pwd", config=down.config) in _keys(down)
    assert down.test_client().get("/readyz").status_code == 200
