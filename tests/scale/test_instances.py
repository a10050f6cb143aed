"""Three ``idp serve`` processes on one PostgreSQL database behind Debian's nginx (deploy/nginx/).

What an operator running several instances relies on: a sign-in and code flow whose requests land on
different instances works; a code or a refresh token sent to two instances at the same moment is
accepted once; signing out at one instance signs out at all; wrong passwords are counted across
instances; `idp keys rotate` reaches every instance (tests/scale/cluster.py starts them).
Needs IDP_TEST_DATABASE_URL (a server where it may create a database) and nginx; skipped without.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from tests.factories import REDIRECT_URI
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.scale.cluster import EMAIL
from tests.scale.cluster import INSTANCES
from tests.scale.cluster import Browser
from tests.scale.cluster import Cluster
from tests.scale.cluster import cli
from tests.scale.cluster import code_for as _code
from tests.scale.cluster import new_database
from tests.scale.cluster import running_cluster
from tests.scale.cluster import together as _together
from tests.scale.cluster import token as _token

pytestmark = pytest.mark.instances

ROUNDS = 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with new_database() as database, running_cluster(database, tmp_path_factory.mktemp("instances")) as running:
        yield running


def test_a_code_flow_spread_over_the_instances(cluster: Cluster) -> None:
    before = cluster.requests_served()
    browser = Browser(cluster.issuer)
    code, verifier = _code(browser, cluster)
    response = exchange(browser, code, client_id=cluster.client_id,  # type: ignore[arg-type]
                        secret=cluster.client_secret, verifier=verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["id_token"] and tokens["access_token"]
    userinfo = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["email"] == EMAIL
    served = cluster.served_since(before, at_least=6)
    # Round robin over three: the flow's requests (authorize, sign-in page, sign-in, authorize, token,
    # userinfo) reached every instance, so the session, the code and the token crossed between them.
    assert sum(served) >= 6 and all(n > 0 for n in served), served
    upstreams = Counter(line.rsplit(" ", 1)[-1] for line in cluster.nginx_log.read_text().splitlines())
    assert len(upstreams) == INSTANCES, upstreams


def _accepted_once(responses: list[requests.Response]) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 400], [(r.status_code, r.text[:200]) for r in responses]
    (refused,) = [r for r in responses if r.status_code == 400]
    assert refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_code_sent_to_two_instances_at_once_is_accepted_once(cluster: Cluster, round_: int) -> None:
    browser = Browser(cluster.issuer)
    code, verifier = _code(browser, cluster)
    first, second = (browser.at(base) for base in cluster.instances[:2])
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}
    _accepted_once(_together(lambda: _token(first, cluster, **data), lambda: _token(second, cluster, **data)))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_refresh_token_sent_to_two_instances_at_once_is_accepted_once(cluster: Cluster, round_: int) -> None:
    browser = Browser(cluster.issuer)
    code, verifier = _code(browser, cluster, scope="openid email offline_access")
    issued = _token(browser, cluster, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI,
                    code_verifier=verifier)
    assert issued.status_code == 200, issued.text
    data = {"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]}
    second, third = (browser.at(base) for base in cluster.instances[1:])
    _accepted_once(_together(lambda: _token(second, cluster, **data), lambda: _token(third, cluster, **data)))


def _authorize_at(browser: Browser, cluster: Cluster) -> str:
    """Where one authorization request, without signing in, sends the browser."""
    _, challenge = pkce_pair()
    response = browser.get(authorize_url(cluster.client_id, challenge))
    assert response.status_code in (302, 303), response.text[:300]
    return response.headers["Location"]


def test_signing_out_at_one_instance_signs_out_at_all(cluster: Cluster) -> None:
    browser = Browser(cluster.issuer)
    _code(browser, cluster)  # signs in through nginx
    first, second, third = (browser.at(base) for base in cluster.instances)
    for other in (second, third):  # signed in at every instance
        assert query_of(_authorize_at(other, cluster)).get("code"), "the session did not reach every instance"
    home = first.get("/")
    assert home.status_code == 200
    assert first.post("/signout", data={"csrf_token": csrf_of(home.text)}).status_code in (302, 303)
    for other in (second, third):
        location = _authorize_at(other, cluster)
        assert not location.startswith(REDIRECT_URI), "another instance still honours the ended session"
        assert "/signin" in location, location


def _kids(base: str) -> set[str]:
    return {key["kid"] for key in requests.get(base + "/jwks.json", timeout=5).json()["keys"]}


def test_keys_rotated_on_one_machine_are_published_by_every_instance(cluster: Cluster) -> None:
    before = {base: _kids(base) for base in cluster.instances}
    assert len({frozenset(kids) for kids in before.values()}) == 1, "one key set for all"
    rotated = cli(cluster.env, "keys", "rotate")["keys"]
    new_next = {key["kid"] for key in rotated if key["state"] == "next"}
    assert new_next and not new_next & next(iter(before.values()))
    deadline = time.monotonic() + 10  # IDP_KEYS_REFRESH_SECONDS=1 here; 10 s by default
    waiting = set(cluster.instances)
    while waiting and time.monotonic() < deadline:
        waiting = {base for base in waiting if not new_next <= _kids(base)}
        time.sleep(0.2)
    assert not waiting, f"not published by {sorted(waiting)}"
    # and a flow after the rotation works through nginx, its ID token signed by the promoted key
    promoted = {key["kid"] for key in rotated if key["state"] == "active"}
    browser = Browser(cluster.issuer)
    code, verifier = _code(browser, cluster)
    response = exchange(browser, code, client_id=cluster.client_id,  # type: ignore[arg-type]
                        secret=cluster.client_secret, verifier=verifier)
    assert response.status_code == 200, response.text
    header = json.loads(base64.urlsafe_b64decode(response.json()["id_token"].split(".")[0] + "=="))
    assert header["kid"] in promoted


def test_wrong_passwords_are_counted_across_instances(cluster: Cluster) -> None:
    """The sign-in throttle lives in the database: guesses spread round robin over the instances,
    no instance seeing its free five, still meet the delay that five failures start."""
    email = f"nobody-{time.monotonic_ns()}@example.com"  # unknown accounts are throttled alike
    statuses: list[int] = []
    for attempt in range(9):  # at most 3 per instance, below THROTTLE_FREE_FAILURES (5)
        browser = Browser(cluster.instances[attempt % INSTANCES])
        page = browser.get("/signin")
        statuses.append(browser.post("/signin", data={"email": email, "password": "not the password",
                                                      "csrf_token": csrf_of(page.text)}).status_code)
        if statuses[-1] == 429:
            break
    assert statuses[:5] == [200] * 5, statuses  # the five free failures, at most two per instance
    assert statuses[-1] == 429, statuses


def test_the_audit_chain_of_three_sealers_verifies(cluster: Cluster) -> None:
    """Every instance sealed events (deferred sealing) into one chain, which holds end to end."""
    _code(Browser(cluster.issuer), cluster)  # one more sign-in: events for each sealer to chain
    out = cli(cluster.env, "audit", "verify")
    assert out["ok"] is True and out["events"] > 10, out
