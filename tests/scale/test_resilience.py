"""Failures an operator will see: an instance killed under load, and PostgreSQL going away under load.

Three instances behind nginx (tests/scale/cluster.py) reach PostgreSQL through a relay the test can
cut (tests/support/tcp_proxy.py): cutting it drops every open database connection and refuses new
ones, as a restart of the server does, without disturbing anything else using that server.
Needs IDP_TEST_DATABASE_URL and nginx; skipped without.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.factories import REDIRECT_URI
from tests.flows import authorize_url
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.scale.cluster import Browser
from tests.scale.cluster import Cluster
from tests.scale.cluster import code_for
from tests.scale.cluster import new_database
from tests.scale.cluster import running_cluster
from tests.scale.cluster import token
from tests.support.tcp_proxy import TcpProxy
from tests.support.tcp_proxy import relay

pytestmark = pytest.mark.instances

THREADS = 4
BACK_WITHIN = 5.0  # the bar: full service within 5 s after the database is back


@pytest.fixture(scope="module")
def relayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, TcpProxy]]:
    with new_database() as database:
        url = make_url(database)
        with relay(url.host or "127.0.0.1", url.port or 5432) as proxy:
            served = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            with running_cluster(database, tmp_path_factory.mktemp("resilience"), served_database=served) as cluster:
                yield cluster, proxy


@dataclass
class Signed:
    """A person signed in through nginx, with tokens issued before anything fails."""

    browser: Browser
    access_token: str
    refresh_token: str


def _signed_in(cluster: Cluster) -> Signed:
    browser = Browser(cluster.issuer)
    code, verifier = code_for(browser, cluster, scope="openid email offline_access")
    issued = token(browser, cluster, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI,
                   code_verifier=verifier)
    assert issued.status_code == 200, issued.text
    return Signed(browser, issued.json()["access_token"], issued.json()["refresh_token"])


def _one_flow(cluster: Cluster, person: Signed) -> int:
    """What a busy e-Service does for a signed-in person: authorize (no sign-in page, the session
    is in the database), redeem the code, call userinfo. The first failing status, or 200."""
    verifier, challenge = pkce_pair()
    answer = person.browser.get(authorize_url(cluster.client_id, challenge))  # type: ignore[arg-type]
    if answer.status_code not in (302, 303):
        return answer.status_code
    code = query_of(answer.headers["Location"]).get("code")
    if not code:
        return 401  # the session was lost: sent to sign in
    issued = token(person.browser, cluster, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI,
                   code_verifier=verifier)
    if issued.status_code != 200:
        return issued.status_code
    userinfo = person.browser.get("/userinfo", headers={"Authorization": f"Bearer {issued.json()['access_token']}"})
    return userinfo.status_code


@dataclass
class Load:
    """``THREADS`` people running flows until stopped; each outcome with when its flow started."""

    cluster: Cluster
    outcomes: list[tuple[float, float, int | str]] = field(default_factory=list)  # started, ended, status
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        people = [_signed_in(self.cluster) for _ in range(THREADS)]
        for person in people:
            thread = threading.Thread(target=self._run, args=(person,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, person: Signed) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                outcome: int | str = _one_flow(self.cluster, person)
            except requests.RequestException as exc:
                outcome = type(exc).__name__
            self.outcomes.append((started, time.monotonic(), outcome))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def failures(self) -> list[tuple[float, float, int | str]]:
        return [o for o in self.outcomes if o[2] != 200]


def _still_valid(cluster: Cluster, person: Signed) -> None:
    """Nothing issued before the failure is lost: the session, the access and the refresh token."""
    assert _one_flow(cluster, person) == 200, "the session or the code flow did not survive"
    userinfo = person.browser.get("/userinfo", headers={"Authorization": f"Bearer {person.access_token}"})
    assert userinfo.status_code == 200, userinfo.text
    refreshed = token(person.browser, cluster, grant_type="refresh_token", refresh_token=person.refresh_token)
    assert refreshed.status_code == 200, refreshed.text


def test_killing_an_instance_under_load_fails_only_requests_in_flight(relayed: tuple[Cluster, TcpProxy]) -> None:
    cluster, _ = relayed
    before = _signed_in(cluster)
    victim = cluster.procs[0]
    with Load(cluster) as load:
        time.sleep(2)
        killed_at = time.monotonic()
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(10)
        # A flow may start between the signal and the death (a few ms): it is in flight too.
        dead_at = time.monotonic()
        time.sleep(4)
    served_after = [o for o in load.outcomes if o[0] > killed_at + 1]
    assert len(served_after) >= THREADS, load.outcomes  # the other two instances carried the load
    failed = load.failures()
    # At most one flow per person was in flight when the process died; every later flow succeeded.
    assert len(failed) <= THREADS, failed
    assert all(started <= dead_at for started, _, _ in failed), (killed_at, dead_at, failed)
    _still_valid(cluster, before)
    cluster.start_instance(0)  # back to three for the next test


def test_the_database_going_away_under_load(relayed: tuple[Cluster, TcpProxy]) -> None:
    cluster, proxy = relayed
    before = _signed_in(cluster)
    with Load(cluster) as load:
        time.sleep(2)
        cut_at = time.monotonic()
        proxy.cut()
        time.sleep(3)
        back_at = time.monotonic()
        proxy.restore()
        time.sleep(BACK_WITHIN + 3)
    outcomes = load.outcomes
    failed = load.failures()
    # Errors only while it was down (a flow that started just before the cut may fail too) ...
    assert failed, "no request failed while the database was away: the relay did not cut"
    assert all(started >= cut_at - 15 and started < back_at + BACK_WITHIN for started, _, _ in failed), failed
    # ... answered as 503 (Retry-After) by the instances, or 502/504 by nginx: never a 500 page. On
    # a loaded machine a request caught by the cut has also run past the client's 15 s timeout.
    assert {status for _, _, status in failed} <= {503, 502, 504, "ReadTimeout"}, failed
    # ... and full service within 5 s after it is back.
    after = [o for o in outcomes if o[0] >= back_at + BACK_WITHIN]
    assert after and all(status == 200 for _, _, status in after), after
    _still_valid(cluster, before)
