"""``/metrics``: shut unless configured, and counting what operators watch without personal data."""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from idp.cli.serve import _metrics_dir
from idp.config import ConfigError
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import exchange
from tests.flows import follow_to_code
from tests.flows import pkce_pair
from tests.flows import sign_in
from tests.http.test_serve import _free_port

TOKEN = "m" * 40
BEARER = {"Authorization": f"Bearer {TOKEN}"}
EMAIL = "metrics.person@example.com"
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def scrape(app, client):
    app.config["METRICS_TOKEN"] = TOKEN

    def get():
        response = client.get("/metrics", headers=BEARER)
        assert response.status_code == 200
        return response.text
    return get


def test_metrics_is_not_found_without_a_token_or_networks(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=BEARER).status_code == 404  # no token configured: none is right


@pytest.mark.parametrize("authorization", [None, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}",
                                           "Bearer", f"Bearer  {'n' * 40}"])
def test_a_missing_or_wrong_token_gets_the_same_404(app, client, authorization):
    app.config["METRICS_TOKEN"] = TOKEN
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 404
    assert "idp_" not in response.text


def test_the_token_gets_the_text_exposition_format(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.mimetype == "text/plain" and "version=" in response.headers["Content-Type"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"idp_http_request_duration_seconds", "idp_db_pool_connections_in_use"} <= names


@pytest.mark.parametrize("networks,address,status", [
    (["127.0.0.1/32", "::1/128"], "127.0.0.1", 200),
    (["127.0.0.1/32", "::1/128"], "::1", 200),
    (["10.1.0.0/16"], "10.1.200.3", 200),
    (["127.0.0.1/32"], "10.0.0.8", 404),
    ([], "127.0.0.1", 404),
])
def test_the_allowed_networks_need_no_token(app_config, make_app, networks, address, status):
    app = make_app({**app_config, "METRICS_ALLOW": ",".join(networks)})
    response = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == status


@pytest.mark.parametrize("setting,reason", [
    ({"METRICS_TOKEN": "short"}, "IDP_METRICS_TOKEN"),
    ({"METRICS_ALLOW": "10.0.0.0/8,everyone"}, "IDP_METRICS_ALLOW"),
])
def test_unsafe_metrics_settings_stop_the_start(app_config, make_app, setting, reason):
    with pytest.raises(ConfigError, match=reason):
        make_app({**app_config, **setting})


def test_a_code_flow_counts_a_token_and_a_sign_in_without_personal_data(app, client, scrape):
    make_user(app, email=EMAIL)
    rp = make_client(app)
    before = _samples(scrape())
    verifier, challenge = pkce_pair()
    callback = follow_to_code(client, authorize_url(rp.client.client_id, challenge), email=EMAIL)
    response = exchange(client, callback["code"], client_id=rp.client.client_id, secret=rp.client_secret,
                        verifier=verifier)
    assert response.status_code == 200
    text = scrape()
    after = _samples(text)
    tokens = "idp_tokens_issued_total"
    assert _value(after, tokens, grant_type="authorization_code") == _value(before, tokens,
                                                                             grant_type="authorization_code") + 1
    assert _value(after, tokens, grant_type="refresh_token") == _value(before, tokens, grant_type="refresh_token")
    signins = "idp_signins_total"
    assert _value(after, signins, outcome="success", aal="1") == _value(before, signins, outcome="success", aal="1") + 1
    token_calls = "idp_http_request_duration_seconds_count"
    assert _value(after, token_calls, endpoint="oidc.token", method="POST", status="2xx") >= 1
    # Labels hold route names and vocabularies only: never the person, the client or a path.
    assert "metrics.person" not in text and "example.com" not in text
    assert rp.client.client_id not in text and rp.client_secret not in text
    endpoints = {dict(labels).get("endpoint") for (_, labels) in after} - {None}
    assert all(re.fullmatch(r"[a-z_]+(\.[a-z_]+)?|unmatched", e) for e in endpoints), endpoints


def test_failed_sign_ins_and_throttling_are_counted(app, client, scrape):
    app.config["THROTTLE_FREE_FAILURES"] = 1
    make_user(app, email=EMAIL)
    before = _samples(scrape())
    for _ in range(2):
        sign_in(client, email=EMAIL, password="not the passphrase")
    client.get("/no/such/page/abc123")
    text = scrape()
    after = _samples(text)
    assert _value(after, "idp_signins_total", outcome="failure", aal="") >= _value(
        before, "idp_signins_total", outcome="failure", aal="") + 1
    assert _value(after, "idp_throttle_events_total", event="delayed", scope="account") == _value(
        before, "idp_throttle_events_total", event="delayed", scope="account") + 1
    assert _value(after, "idp_http_request_duration_seconds_count", endpoint="unmatched", method="GET",
                  status="4xx") >= 1
    assert "abc123" not in text and EMAIL not in text


def test_serve_makes_a_private_folder_for_the_workers(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    directory, ours = _metrics_dir()
    try:
        assert ours and directory.is_dir()
        assert directory.stat().st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(directory)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _direct.open(request, timeout=15) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""


def test_idp_serve_adds_up_every_workers_counts(app_config, tmp_path):
    """Two gunicorn workers, a request spread over them, and each scrape (whichever worker answers)
    reports the sum; the operator's folder is emptied of an earlier run's files at start."""
    script = Path(sys.executable).parent / "idp"
    found = str(script) if script.exists() else shutil.which("idp")
    assert found, "the `idp` console script is missing: pip install -e ."
    folder = tmp_path / "prom"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"left over from the last run")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "IDP_ISSUER": base, "IDP_DATABASE_URL": app_config["DATABASE_URL"],
           "IDP_SECRET_KEY": app_config["SECRET_KEY"], "IDP_KEYS_DIR": app_config["KEYS_DIR"],
           "IDP_INSTANCE_PATH": str(tmp_path / "serve-instance"), "IDP_MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
           "IDP_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([found, "serve", "--port", str(port), "--workers", "2", "--threads", "1"],
                                env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")
            try:
                if _get(base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        assert not (folder / "counter_999999.db").exists()
        probes = 40
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: _get(base + "/healthz")[0], range(probes)))
        assert statuses == [200] * probes
        workers_seen = {p.name for p in folder.glob("histogram_*.db")}
        assert len(workers_seen) >= 2, (workers_seen, log.read_text(errors="replace"))
        for _ in range(6):  # each scrape may land on either worker
            status, text = _get(base + "/metrics", BEARER)
            assert status == 200
            count = _value(_samples(text), "idp_http_request_duration_seconds_count", endpoint="health.healthz",
                           method="GET", status="2xx")
            assert count == probes
        assert _get(base + "/metrics")[0] == 404
        assert "/healthz" not in log.read_text(errors="replace")  # probes that succeed are not logged
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
