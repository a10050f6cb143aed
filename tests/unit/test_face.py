"""Face verifiers: the demo file fixture, and the HTTP adapter against a stub server on 127.0.0.1
(timeouts, retries then success, 5xx given up, oversize and malformed answers)."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from idp.proofing import face
from idp.proofing import verifiers
from idp.proofing.face import FaceReference
from idp.proofing.face import FileFaceVerifier
from idp.proofing.face import HttpFaceVerifier
from idp.proofing.face import load_face_verifier
from tests.support.chips import CHIP_PHOTO
from tests.support.chips import SOMCHAI_LIVE
from tests.support.chips import SOMCHAI_SPOOF
from tests.support.chips import SOMSRI_LIVE

SOMCHAI = FaceReference(national_id="1999900001010")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(verifiers, "_sleep", lambda seconds: None)


# --- the file fixture ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_verifier():
    return FileFaceVerifier({})


def test_fixture_selfie_of_the_person_matches_and_is_live(fixture_verifier):
    result = fixture_verifier.verify(SOMCHAI_LIVE, SOMCHAI)
    assert result.passed and (result.outcome, result.liveness, result.score) == ("match", "pass", "high")
    assert result.issuer == "face check (demo file)" and result.checked_at.tzinfo is not None


def test_fixture_spoof_matches_but_fails_liveness(fixture_verifier):
    result = fixture_verifier.verify(SOMCHAI_SPOOF, SOMCHAI)
    assert not result.passed and (result.outcome, result.liveness, result.reasons) == ("match", "fail",
                                                                                       ("liveness_failed",))


def test_fixture_someone_elses_selfie_does_not_match(fixture_verifier):
    result = fixture_verifier.verify(SOMSRI_LIVE, SOMCHAI)
    assert (result.outcome, result.reasons, result.score) == ("no_match", ("face_mismatch",), "low")


def test_fixture_person_without_reference(fixture_verifier):
    result = fixture_verifier.verify(SOMCHAI_LIVE, FaceReference(national_id="3999900001032"))
    assert (result.outcome, result.reasons) == ("no_match", ("no_reference",))


@pytest.mark.parametrize("selfie", [b"", b"GIF89a...", b"\xff\xd8\xff" + b"x" * face.MAX_IMAGE_BYTES, "text"])
def test_fixture_refuses_what_is_not_an_image(fixture_verifier, selfie):
    result = fixture_verifier.verify(selfie, SOMCHAI)
    assert (result.outcome, result.reasons) == ("no_match", ("bad_image",))


def test_reference_hides_its_photo_and_number():
    text = repr(FaceReference(national_id="1999900001010", photo=CHIP_PHOTO))
    assert "1999900001010" not in text and "FICTITIOUS" not in text


def test_default_and_named_verifiers(tmp_path):
    assert isinstance(load_face_verifier({}), FileFaceVerifier)
    http = load_face_verifier({"PROOFING_FACE_VERIFIER": "idp.proofing.face:HttpFaceVerifier",
                               "PROOFING_FACE_URL": "https://face.example/v1/compare"})
    assert isinstance(http, HttpFaceVerifier) and isinstance(http, face.FaceVerifier)
    for spec in ("idp.proofing.face.FileFaceVerifier", "idp.proofing.face:Nope", "builtins:dict"):
        with pytest.raises(ValueError):
            load_face_verifier({"PROOFING_FACE_VERIFIER": spec})
    bad = tmp_path / "faces.json"
    bad.write_text(json.dumps({"people": [{"national_id": "1999900001010", "selfies": [{"sha256": "ab"}]}]}))
    with pytest.raises(ValueError):
        FileFaceVerifier({"PROOFING_FACE_FILE": str(bad)})


@pytest.mark.parametrize("url", ["http://face.example/v", "ftp://127.0.0.1/", "https://u:p@face.example/", None,
                                 "http://10.0.0.1/v"])
def test_http_adapter_needs_https_except_to_loopback(url):
    with pytest.raises(ValueError):
        HttpFaceVerifier({"PROOFING_FACE_URL": url})


# --- the HTTP adapter against a stub server -------------------------------------------------------------------------

MATCH = {"outcome": "match", "liveness": "pass", "score": 0.97, "reasons": [], "issuer": "TH-DOPA face"}


class _Handler(BaseHTTPRequestHandler):
    server: _Stub

    def do_POST(self):
        stub = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        stub.received.append(json.loads(body))
        status, answer, delay = stub.answers.pop(0) if len(stub.answers) > 1 else stub.answers[0]
        if delay:
            stub.release.wait(delay)
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 302:
            self.send_header("Location", "/elsewhere")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


class _Stub(ThreadingHTTPServer):
    daemon_threads = False

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[tuple[int, Any, float]] = [(200, MATCH, 0)]
        self.received: list[dict[str, Any]] = []
        self.release = threading.Event()

    def handle_error(self, request, client_address):
        pass

    def answer(self, *answers):
        self.answers = [(a[0], a[1], a[2] if len(a) > 2 else 0) for a in answers]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1/compare"


@pytest.fixture
def stub():
    server = _Stub()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def adapter(url, **settings):
    return HttpFaceVerifier({"PROOFING_FACE_URL": url, "PROOFING_FACE_TIMEOUT": 0.5, "PROOFING_FACE_RETRIES": 2,
                             "PROOFING_FACE_BACKOFF": 0.01, **settings})


def test_http_match_and_what_is_sent(stub):
    result = adapter(stub.url).verify(SOMCHAI_LIVE, FaceReference(national_id="1-9999-00001-01-0", photo=CHIP_PHOTO))
    assert result.passed and (result.score, result.issuer) == ("high", "TH-DOPA face")
    [sent] = stub.received
    assert sent == {"reference": {"national_id": "1999900001010", "photo": base64.b64encode(CHIP_PHOTO).decode()},
                    "selfie": base64.b64encode(SOMCHAI_LIVE).decode()}


def test_http_no_match_and_liveness_failure(stub):
    stub.answer((200, {"outcome": "no_match", "liveness": "pass", "score": 0.41, "issuer": "v"}))
    result = adapter(stub.url).verify(SOMCHAI_LIVE, SOMCHAI)
    assert (result.outcome, result.score, result.reasons) == ("no_match", "low", ("face_mismatch",))
    stub.answer((200, {"outcome": "match", "liveness": "fail", "score": 0.8, "issuer": "v"}))
    result = adapter(stub.url).verify(SOMCHAI_LIVE, SOMCHAI)
    assert not result.passed and (result.score, result.reasons) == ("medium", ("liveness_failed",))


def test_http_retries_5xx_then_succeeds(stub):
    stub.answer((503, {}), (502, {}), (200, MATCH))
    assert adapter(stub.url).verify(SOMCHAI_LIVE, SOMCHAI).passed
    assert len(stub.received) == 3


def test_http_gives_up_after_the_retries(stub, caplog):
    stub.answer((500, {}))
    with caplog.at_level(logging.WARNING):
        result = adapter(stub.url).verify(SOMCHAI_LIVE, SOMCHAI)
    assert (result.outcome, result.liveness) == ("unavailable", "unknown")
    assert result.reasons == ("face_service_unavailable",)
    assert len(stub.received) == 3
    selfie_text = base64.b64encode(SOMCHAI_LIVE).decode()
    assert "1999900001010" not in caplog.text and selfie_text not in caplog.text


def test_http_read_timeout_is_not_retried(stub):
    stub.answer((200, MATCH, 2.0))
    result = adapter(stub.url).verify(SOMCHAI_LIVE, SOMCHAI)
    assert (result.outcome, result.reasons) == ("unavailable", ("face_service_unavailable",))
    assert len(stub.received) == 1


def test_http_connection_refused_is_retried_then_unavailable():
    with socket_closed_port() as url:
        result = adapter(url).verify(SOMCHAI_LIVE, SOMCHAI)
    assert result.outcome == "unavailable"


@pytest.mark.parametrize("status, answer", [
    (200, b"not json"),
    (200, b"[1, 2]"),
    (200, {"outcome": "maybe", "liveness": "pass"}),
    (200, {"outcome": "match", "liveness": "pass", "score": 7}),
    (200, {"outcome": "match", "liveness": "pass", "reasons": ["Bad Reason"]}),
    (200, b"{" + b'"x": "' + b"a" * (face.MAX_RESPONSE_BYTES + 10) + b'"}'),  # oversize answer
    (400, {"error": "bad request"}),
    (302, {}),  # never follows a redirect with the images
])
def test_http_malformed_oversize_or_refused_answers_are_errors(stub, status, answer):
    stub.answer((status, answer))
    result = adapter(stub.url).verify(SOMCHAI_LIVE, SOMCHAI)
    assert (result.outcome, result.reasons) == ("unavailable", ("face_service_error",))
    assert len(stub.received) == 1


def test_http_bad_input_never_reaches_the_service(stub):
    assert adapter(stub.url).verify(b"nope", SOMCHAI).reasons == ("bad_image",)
    assert stub.received == []


@contextlib.contextmanager
def socket_closed_port() -> Iterator[str]:
    """A loopback URL where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield f"http://127.0.0.1:{port}/v1/compare"
