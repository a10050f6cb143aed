"""Three ``idp serve`` processes on one PostgreSQL database behind Debian's nginx (deploy/nginx/).

What an operator running several instances relies on: a sign-in and code flow whose requests land on
different instances works; a code or a refresh token sent to two instances at the same moment is
accepted once; signing out at one instance signs out at all; `idp keys rotate` reaches every
instance. Nothing is shared on disk: each instance has its own instance and keys folders, and the
signing keys come from the database (idp/keyring.py).
Needs IDP_TEST_DATABASE_URL (a server where it may create a database) and nginx; skipped without.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.factories import PASSWORD
from tests.factories import REDIRECT_URI
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import exchange
from tests.flows import follow_to_code
from tests.flows import pkce_pair
from tests.flows import query_of
from tests.support import nginx
from tests.support.serving import free_port
from tests.support.serving import idp_script
from tests.support.serving import stop_group
from tests.support.serving import tail
from tests.support.serving import wait_until_answers

pytestmark = pytest.mark.instances

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL")
INSTANCES = 3
EMAIL = "citizen@example.com"
CLI_TIMEOUT = 120  # `idp init` migrates a fresh database
START_TIMEOUT = 30
HTTP_TIMEOUT = 15
ROUNDS = 3
ACCESS_LINE = re.compile(r" (GET|POST) /")


class Browser:
    """A requests session that behaves like the Flask test client for tests/flows.py: paths are
    relative to ``base``, redirects are not followed, and cookies go to every port of 127.0.0.1."""

    def __init__(self, base: str, session: requests.Session | None = None) -> None:
        self.base = base
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxy for loopback

    def at(self, base: str) -> Browser:
        """The same browser (same cookies) talking to ``base``."""
        return Browser(base, self.session)

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self._url(path), allow_redirects=False, timeout=HTTP_TIMEOUT, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self._url(path), allow_redirects=False, timeout=HTTP_TIMEOUT, **kwargs)


@dataclass
class Cluster:
    issuer: str  # nginx
    instances: list[str]  # each instance's own address
    logs: list[Path]
    nginx_log: Path
    client_id: str
    client_secret: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # for the command line, as the migration unit runs it

    def requests_served(self) -> list[int]:
        """Access-log lines so far, per instance (idp.accesslog writes one per request)."""
        return [len(ACCESS_LINE.findall(log.read_text(errors="replace"))) for log in self.logs]

    def served_since(self, before: list[int], *, at_least: int) -> list[int]:
        """Requests per instance since ``before``, once ``at_least`` are logged (a line is written
        when the response is closed, a moment after the client has read it) or after a few seconds."""
        deadline = time.monotonic() + 5
        while True:
            served = [after - b for after, b in zip(self.requests_served(), before, strict=True)]
            if sum(served) >= at_least or time.monotonic() > deadline:
                return served
            time.sleep(0.05)


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run([idp_script(), *args, "--json"], env=env, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, check=False)
    if done.returncode != 0:
        pytest.fail(f"idp {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}", pytrace=False)
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    if not PG_URL:
        pytest.skip("needs PostgreSQL: set IDP_TEST_DATABASE_URL")
    import psycopg

    name = "idp_instances_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def cluster(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not nginx.binary():
        pytest.skip("needs nginx (apt-get install nginx; .ci/run does)")
    root = tmp_path_factory.mktemp("instances")
    nginx_port, ports = free_port(), [free_port() for _ in range(INSTANCES)]
    issuer = f"http://127.0.0.1:{nginx_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "FLASK_"))}
    env.update({  # what deploy/systemd/idp.env.example and the units give every instance
        "IDP_ISSUER": issuer,
        "IDP_DATABASE_URL": database,
        "IDP_SECRET_KEY": secrets.token_urlsafe(48),
        "IDP_KEYS_DIR": str(root / "keys-migrate"),
        "IDP_KEYS_REFRESH_SECONDS": "1",
        "IDP_TRUST_PROXY": "1",
        "IDP_INSTANCE_PATH": str(root / "instance-migrate"),
        "PYTHONUNBUFFERED": "1",
    })
    _cli(env, "init")  # what idp-migrate.service runs
    _cli(env, "users", "create", "--email", EMAIL, "--password", PASSWORD, "--name", "Somchai Jaidee")
    client = _cli(env, "clients", "add", "--name", "Scale RP", "--redirect-uri", REDIRECT_URI, "--trusted")
    cluster = Cluster(issuer=issuer, instances=[f"http://127.0.0.1:{p}" for p in ports],
                      logs=[root / f"idp-{p}.log" for p in ports], nginx_log=root / "nginx" / "access.log",
                      client_id=client["client_id"], client_secret=client["client_secret"], env=env)
    try:
        for port, log in zip(ports, cluster.logs, strict=True):
            with log.open("wb") as out:
                cluster.procs.append(subprocess.Popen(
                    [idp_script(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                     "--threads", "4"],
                    env={**env, "IDP_INSTANCE_PATH": str(root / f"instance-{port}"),
                         "IDP_KEYS_DIR": str(root / f"keys-{port}")},
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        for proc, base, log in zip(cluster.procs, cluster.instances, cluster.logs, strict=True):
            wait_until_answers(proc, base + "/.well-known/openid-configuration", timeout=START_TIMEOUT, log=log)
        site = (nginx.upstream_block(f"127.0.0.1:{p}" for p in ports)
                + f"server {{\n    listen 127.0.0.1:{nginx_port};\n    include {nginx.PROXY};\n}}\n")
        config = nginx.main_config(root / "nginx", site)
        with (root / "nginx" / "stderr.log").open("wb") as out:
            cluster.procs.append(subprocess.Popen(nginx.command(config), stdin=subprocess.DEVNULL, stdout=out,
                                                  stderr=subprocess.STDOUT, start_new_session=True))
        wait_until_answers(cluster.procs[-1], issuer + "/.well-known/openid-configuration", timeout=START_TIMEOUT,
                           log=root / "nginx" / "error.log")
        yield cluster
    finally:
        for proc in reversed(cluster.procs):
            stop_group(proc)
    for log in cluster.logs:
        assert "Traceback" not in log.read_text(errors="replace"), tail(log)


def _token(browser: Browser, cluster: Cluster, **data: str) -> requests.Response:
    return browser.post("/token", data=data, auth=(cluster.client_id, cluster.client_secret))


def _code(browser: Browser, cluster: Cluster, **extra: str) -> tuple[str, str]:
    """authorize (signing in when asked) → the code and its PKCE verifier."""
    verifier, challenge = pkce_pair()
    callback = follow_to_code(browser, authorize_url(cluster.client_id, challenge, **extra))  # type: ignore[arg-type]
    assert "code" in callback, callback
    return callback["code"], verifier


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


def _together(*sends: Any) -> list[requests.Response]:
    """Run each ``send()`` in its own thread, released at the same instant."""
    barrier = threading.Barrier(len(sends))
    results: list[Any] = [None] * len(sends)

    def run(i: int) -> None:
        barrier.wait(timeout=HTTP_TIMEOUT)
        try:
            results[i] = sends[i]()
        except BaseException as exc:  # reported below, in the test's thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sends))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HTTP_TIMEOUT * 2)
    for result in results:
        if not isinstance(result, requests.Response):
            raise AssertionError(f"a request failed: {result!r}")
    return results


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
    rotated = _cli(cluster.env, "keys", "rotate", "--json")["keys"]
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
