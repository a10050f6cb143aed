"""Several ``idp serve`` processes on one PostgreSQL database behind Debian's nginx (deploy/nginx/).

Shared by the multi-instance tests (tests/scale/test_instances.py) and the failure tests
(tests/scale/test_resilience.py). Nothing is shared on disk: each instance has its own instance and
keys folders, and the signing keys come from the database (idp/keyring.py).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.factories import PASSWORD
from tests.factories import REDIRECT_URI
from tests.flows import authorize_url
from tests.flows import follow_to_code
from tests.flows import pkce_pair
from tests.support import nginx
from tests.support.serving import free_port
from tests.support.serving import idp_script
from tests.support.serving import stop_group
from tests.support.serving import tail
from tests.support.serving import wait_until_answers

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL")
INSTANCES = 3
EMAIL = "citizen@example.com"
CLI_TIMEOUT = 120  # `idp init` migrates a fresh database
START_TIMEOUT = 30
HTTP_TIMEOUT = 15
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
    root: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)  # the instances, then nginx
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

    def start_instance(self, index: int) -> None:
        """Start (or start again, on the same port) instance ``index`` and wait until it answers."""
        base = self.instances[index]
        port = base.rsplit(":", 1)[1]
        with self.logs[index].open("ab") as out:
            proc = subprocess.Popen(
                [idp_script(), "serve", "--host", "127.0.0.1", "--port", port, "--workers", "1", "--threads", "4"],
                env={**self.env, "IDP_INSTANCE_PATH": str(self.root / f"instance-{port}"),
                     "IDP_KEYS_DIR": str(self.root / f"keys-{port}")},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        if index < len(self.procs):
            self.procs[index] = proc
        else:
            self.procs.append(proc)
        wait_until_answers(proc, base + "/.well-known/openid-configuration", timeout=START_TIMEOUT,
                           log=self.logs[index])


def cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run([idp_script(), *args, "--json"], env=env, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, check=False)
    if done.returncode != 0:
        pytest.fail(f"idp {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}", pytrace=False)
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


@contextmanager
def new_database() -> Iterator[str]:
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


@contextmanager
def running_cluster(database: str, root: Path, *, served_database: str | None = None) -> Iterator[Cluster]:
    """Migrate ``database``, then three instances on ``served_database`` (the same database by
    default; a relay in front of it for the failure tests) behind nginx."""
    if not nginx.binary():
        pytest.skip("needs nginx (apt-get install nginx; .ci/run does)")
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
        "IDP_AUDIT_SEALING": "deferred",  # as deploy/systemd/idp.env.example sets it
        "IDP_INSTANCE_PATH": str(root / "instance-migrate"),
        "PYTHONUNBUFFERED": "1",
    })
    cli(env, "init")  # what idp-migrate.service runs
    cli(env, "users", "create", "--email", EMAIL, "--password", PASSWORD, "--name", "Somchai Jaidee")
    client = cli(env, "clients", "add", "--name", "Scale RP", "--redirect-uri", REDIRECT_URI, "--trusted")
    env["IDP_DATABASE_URL"] = served_database or database
    cluster = Cluster(issuer=issuer, instances=[f"http://127.0.0.1:{p}" for p in ports],
                      logs=[root / f"idp-{p}.log" for p in ports], nginx_log=root / "nginx" / "access.log",
                      client_id=client["client_id"], client_secret=client["client_secret"], root=root, env=env)
    try:
        for index in range(INSTANCES):
            cluster.start_instance(index)
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


def token(browser: Browser, cluster: Cluster, **data: str) -> requests.Response:
    return browser.post("/token", data=data, auth=(cluster.client_id, cluster.client_secret))


def code_for(browser: Browser, cluster: Cluster, **extra: str) -> tuple[str, str]:
    """authorize (signing in when asked) → the code and its PKCE verifier."""
    verifier, challenge = pkce_pair()
    callback = follow_to_code(browser, authorize_url(cluster.client_id, challenge, **extra))  # type: ignore[arg-type]
    assert "code" in callback, callback
    return callback["code"], verifier


def together(*sends: Callable[[], requests.Response]) -> list[requests.Response]:
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
