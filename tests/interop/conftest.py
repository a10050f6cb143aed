"""Fixtures for the interop tests: a live ``idp serve`` on 127.0.0.1 and the relying parties signing in to it.

One server serves the whole session; each test registers its own clients through the ``idp`` CLI.
panva openid-client (Node.js) runs as ``rp.mjs`` (see README.md) and prints JSON; the Python
libraries (pyoidc, idpyoidc, Authlib) run in-process, with ``browser.py`` as the person.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from examples.eservice.app import create_app
from tests.support.serving import direct
from tests.support.serving import free_port
from tests.support.serving import idp_script
from tests.support.serving import stop_group

HERE = Path(__file__).resolve().parent
RP_SCRIPT = HERE / "rp.mjs"

REDIRECT_URI = "https://rp.example/cb"  # never contacted by rp.mjs
POST_LOGOUT_REDIRECT_URI = "https://rp.example/logged-out"

NODE_TIMEOUT = 60  # one rp.mjs run
NPM_TIMEOUT = 300
CLI_TIMEOUT = 60
START_TIMEOUT = 30  # until discovery answers



def _missing_tool(message: str) -> None:
    """A missing tool skips on a workstation and fails in CI, where the suite must really run."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


def missing_library(name: str) -> None:
    """Call from a module's ``except ImportError``: skips the module, or fails it in CI."""
    _missing_tool(f"{name} is not installed: pip install -e '.[test]' (the test extra pins it)")


@pytest.fixture(scope="session")
def node() -> str:
    """``node`` (>= 20) with ``tests/interop/node_modules`` installed from package-lock.json.

    Used first by the openid-client module (``usefixtures``), so a missing Node.js skips (or fails,
    in CI) before a server is started for nothing.
    """
    node_bin, npm_bin = shutil.which("node"), shutil.which("npm")
    if not node_bin or not npm_bin:
        _missing_tool("interop tests need Node.js >= 20 and npm on PATH")
    assert node_bin and npm_bin
    version = subprocess.run([node_bin, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        _missing_tool(f"interop tests need Node.js >= 20, found {version}")
    if not (HERE / "node_modules" / "openid-client" / "package.json").exists():
        done = subprocess.run([npm_bin, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True,
                              text=True, timeout=NPM_TIMEOUT, check=False)
        if done.returncode != 0:
            pytest.fail(f"npm ci failed in {HERE}:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return node_bin


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    name: str


@dataclass
class LiveIdp:
    issuer: str
    env: dict[str, str]
    script: str
    log_path: Path

    def cli(self, *args: str) -> dict[str, Any]:
        """Run ``idp ARGS --json`` against this server's instance and return its JSON."""
        done = subprocess.run([self.script, *args, "--json"], env=self.env, capture_output=True, text=True,
                              timeout=CLI_TIMEOUT, check=False)
        if done.returncode != 0:
            pytest.fail(f"idp {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}",
                        pytrace=False)
        out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return out

    def add_client(self, *args: str) -> dict[str, Any]:
        """``idp clients add`` with the interop redirect and post-logout URIs, plus ARGS."""
        return self.cli("clients", "add", "--name", "Interop RP", "--redirect-uri", REDIRECT_URI,
                        "--post-logout-redirect-uri", POST_LOGOUT_REDIRECT_URI,
                        "--join-sector", *args)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _wait_for_discovery(proc: subprocess.Popen[bytes], idp: LiveIdp) -> None:
    url = idp.issuer + "/.well-known/openid-configuration"
    deadline = time.monotonic() + START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"idp serve exited with {proc.returncode}:\n{idp.log_tail()}", pytrace=False)
        try:
            with direct.open(url, timeout=2) as response:
                issuer = json.load(response)["issuer"]
            assert issuer == idp.issuer, f"discovery says issuer {issuer!r}, expected {idp.issuer!r}"
            return
        except OSError as exc:  # refused while gunicorn boots
            last_error = exc
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {START_TIMEOUT} s ({last_error}):\n{idp.log_tail()}", pytrace=False)


@pytest.fixture(scope="session")
def live_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIdp]:
    """``idp init`` on a fresh SQLite instance, then ``idp serve --workers 1`` on a free loopback port."""
    root = tmp_path_factory.mktemp("live-idp")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "FLASK_"))}
    env.update({
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_INSTANCE_PATH": str(root / "instance"),
        "IDP_KEYS_DIR": str(root / "keys"),
        "PYTHONUNBUFFERED": "1",
    })
    idp = LiveIdp(issuer=env["IDP_ISSUER"], env=env, script=idp_script(), log_path=root / "serve.log")
    idp.cli("init")
    with idp.log_path.open("wb") as log:
        proc = subprocess.Popen(
            [idp.script, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_for_discovery(proc, idp)
        yield idp
    finally:
        stop_group(proc)


@pytest.fixture(scope="session")
def account(live_idp: LiveIdp) -> Account:
    person = Account(email="somchai@example.com", password=secrets.token_urlsafe(18), name="Somchai Jaidee")
    live_idp.cli("users", "create", "--email", person.email, "--password", person.password, "--name", person.name)
    return person


RunRp = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def run_rp(node: str, live_idp: LiveIdp, account: Account) -> RunRp:
    """``run_rp(RP_CLIENT_ID=..., ...)``: run rp.mjs as ``account`` and return its JSON, which must be ok.

    On failure the test fails with the step, the error and its details; rp.mjs's hop trace
    (stderr, ``RP_DEBUG=1``) and the server log are printed, so pytest shows them too.
    """

    def run(**rp_env: str) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RP_", "OP_"))}
        env.update({
            "OP_ISSUER": live_idp.issuer,
            "RP_REDIRECT_URI": REDIRECT_URI,
            "RP_POST_LOGOUT_REDIRECT_URI": POST_LOGOUT_REDIRECT_URI,
            "RP_USERNAME": account.email,
            "RP_PASSWORD": account.password,
            "RP_DEBUG": "1",
        })
        env.update(rp_env)
        try:
            done = subprocess.run([node, str(RP_SCRIPT)], cwd=HERE, env=env, capture_output=True, text=True,
                                  timeout=NODE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"rp.mjs ran longer than {NODE_TIMEOUT} s:\n{exc.stdout!r}\n{exc.stderr!r}\n"
                        f"--- idp serve log ---\n{live_idp.log_tail()}", pytrace=False)
        print(done.stdout)  # the whole JSON, shown with -rP and on failure
        print(done.stderr, file=sys.stderr)
        lines = done.stdout.strip().splitlines()
        try:
            result: dict[str, Any] = json.loads(lines[-1])
        except (IndexError, ValueError):
            pytest.fail(f"rp.mjs exited {done.returncode} without JSON:\n{done.stdout}\n{done.stderr}",
                        pytrace=False)
        if not result.get("ok") or done.returncode != 0:
            print(f"--- idp serve log ---\n{live_idp.log_tail()}", file=sys.stderr)
            summary = {k: result.get(k) for k in ("step", "error", "details", "steps")}
            pytest.fail(f"rp.mjs exited {done.returncode} at step {result.get('step')!r}: {result.get('error')}\n"
                        + json.dumps(summary, indent=2, ensure_ascii=False), pytrace=False)
        return result

    return run


@contextlib.contextmanager
def demo_eservice(live_idp: LiveIdp, name: str) -> Iterator[tuple[str, Any]]:
    """The demo e-Service on a free port of localhost, registered at the live IdP: (base URL, app).

    Threaded, because its pages call its own licence API over HTTP.
    """
    port = free_port()
    base = f"http://localhost:{port}"
    client = live_idp.cli("clients", "add", "--name", name, "--redirect-uri", f"{base}/callback",
                          "--post-logout-redirect-uri", f"{base}/", "--join-sector")
    app = create_app({"ESERVICE_ISSUER": live_idp.issuer, "ESERVICE_CLIENT_ID": client["client_id"],
                      "ESERVICE_CLIENT_SECRET": client["client_secret"], "ESERVICE_REDIRECT_URI": f"{base}/callback",
                      "ESERVICE_POST_LOGOUT_REDIRECT_URI": f"{base}/"})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base, app
    finally:
        server.shutdown()
        thread.join(5)
