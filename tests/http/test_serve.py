"""``idp serve`` says where it listens and logs one line per request, without secrets."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from idp.accesslog import logged_path

START_TIMEOUT = 60
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> int:
    try:
        with _direct.open(url, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture
def served(app, app_config, tmp_path):
    """A real ``idp serve`` (one worker) on the test's database; yields its base URL and its stderr file."""
    script = Path(sys.executable).parent / "idp"
    found = str(script) if script.exists() else shutil.which("idp")
    assert found, "the `idp` console script is missing: pip install -e ."
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "IDP_ISSUER": base, "IDP_DATABASE_URL": app_config["DATABASE_URL"],
           "IDP_SECRET_KEY": app_config["SECRET_KEY"], "IDP_KEYS_DIR": app_config["KEYS_DIR"],
           "IDP_INSTANCE_PATH": str(tmp_path / "serve-instance"), "IDP_MAIL_OUTBOX_DIR": str(tmp_path / "outbox")}
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([found, "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
                                env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")
            try:
                _get(base + "/jwks.json")
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.1)
        yield base, log
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_logs_its_address_and_each_request_without_query_string_or_secrets(served):
    base, log = served
    assert _get(base + "/.well-known/openid-configuration?ui_locales=th") == 200
    _get(base + "/authorize?client_id=someone&code=SECRETCODE123&login_hint=somchai%40example.com")
    assert _get(base + "/verify-email/TOKENVALUE1234567890abcdef") == 400
    assert _get(base + "/static/idp.css?v=1") == 200
    assert _get(base + "/nothing/here/TOKENVALUE1234567890abcdef?x=1") == 404
    deadline = time.monotonic() + 10
    while "/nothing/" not in log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text(errors="replace")
    assert f"idp: listening on {base}/ (Ctrl-C stops)" in text
    lines = [line for line in text.splitlines() if " GET " in line]
    assert any("GET /.well-known/openid-configuration 200 " in line and line.endswith("ms") for line in lines), text
    assert any("GET /authorize " in line for line in lines), text
    assert any("GET /verify-email/<token> 400 " in line for line in lines), text
    assert any("GET /static/idp.css 200 " in line for line in lines), text
    assert any("GET /nothing/here/… 404 " in line for line in lines), text
    for secret in ("?", "SECRETCODE123", "somchai", "TOKENVALUE", "127.0.0.1 -"):
        assert not any(secret in line for line in lines), (secret, text)


@pytest.mark.parametrize("path,expected", [
    ("/a/b\nFAKE 200", "/a/b?FAKE?200"),
    ("/short/" + "x" * 40, "/short/…"),
])
def test_unmatched_paths_are_logged_on_one_line_without_long_segments(path, expected):
    assert logged_path({"PATH_INFO": path, "SCRIPT_NAME": ""}) == expected


def test_wsgi_module_serves_the_app_with_the_access_log(app, app_config, tmp_path):
    """``wsgi:app`` (for a WSGI server the operator runs): the IdP from the environment's settings,
    each request logged by path pattern only."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "IDP_DATABASE_URL": app_config["DATABASE_URL"], "IDP_SECRET_KEY": app_config["SECRET_KEY"],
           "IDP_ISSUER": "http://localhost", "IDP_INSTANCE_PATH": str(tmp_path / "wsgi-instance"),
           "IDP_KEYS_DIR": app_config["KEYS_DIR"], "PYTHONPATH": str(root)}
    script = ("from werkzeug.test import Client; import wsgi; c = Client(wsgi.app)\n"
              "for url in ('/readyz', '/authorize?client_id=secret-value'):\n"
              "    r = c.get(url); r.close(); print(r.status_code)")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "400"]
    assert "GET /authorize 400" in done.stderr and "secret-value" not in done.stderr
