"""Registry verifiers: the demo file registry, and the HTTPS registry against a local stub server."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import socket
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from idp.proofing import verifiers
from idp.proofing.thai_id import valid_laser_code
from idp.proofing.thai_id import valid_national_id
from idp.proofing.thai_id import valid_passport_number
from idp.proofing.verifiers import DEFAULT_REGISTRY_FILE
from idp.proofing.verifiers import Evidence
from idp.proofing.verifiers import FileRegistry
from idp.proofing.verifiers import HttpRegistry
from idp.proofing.verifiers import RegistryResult
from idp.proofing.verifiers import load_verifier

DOCS = Path(__file__).resolve().parents[2] / "docs" / "registry-api.md"

SOMCHAI_CARD = Evidence(kind="thai_id_card", number="1-9999-00001-01-0", laser_code="JT0-1000001-01",
                        given_name="Somchai", family_name="Jaidee", given_name_th="สมชาย", family_name_th="ใจดี",
                        birthdate="1985-03-14")
SOMCHAI_PASSPORT = Evidence(kind="passport", number="AA0000001", laser_code=None, given_name="Somchai",
                            family_name="Jaidee", given_name_th=None, family_name_th=None, birthdate="1985-03-14")
SOMCHAI_RECORD = {
    "national_id": "1999900001010",
    "given_name": "Somchai", "family_name": "Jaidee", "given_name_th": "สมชาย", "family_name_th": "ใจดี",
    "birthdate": "1985-03-14", "contact_email": "somchai@example.com", "contact_phone": "+6620000001",
    "photo_ref": "demo-photo-0001",
}


def card(**changes: Any) -> Evidence:
    return replace(SOMCHAI_CARD, **changes)


@pytest.fixture(scope="module")
def registry() -> FileRegistry:
    return FileRegistry({})


def _fixture() -> dict[str, Any]:
    return json.loads(DEFAULT_REGISTRY_FILE.read_text(encoding="utf-8"))


# --- the fixture file ----------------------------------------------------------------------------------------------


def test_fixture_is_well_formed_and_fictitious():
    citizens = _fixture()["citizens"]
    assert len(citizens) >= 8
    numbers = [c["national_id"] for c in citizens]
    assert len(set(numbers)) == len(numbers)
    for c in citizens:
        assert valid_national_id(c["national_id"]) and c["national_id"][1:5] == "9999"  # province 99: unassigned
        assert valid_laser_code(c["laser_code"])
        assert dt.date.fromisoformat(c["birthdate"])
        assert c["contact_email"].endswith(("@example.com", "@example.org"))
        if c["passport"]:
            assert valid_passport_number(c["passport"]["number"])
    assert any(c["card_revoked"] for c in citizens)
    assert any(c["passport"] and c["passport"]["revoked"] for c in citizens)


def test_docs_list_every_fixture_identity():
    text = DOCS.read_text(encoding="utf-8")
    for c in _fixture()["citizens"]:
        assert c["national_id"] in text.replace("-", "") or c["national_id"] in text
        assert c["laser_code"] in text
        assert c["given_name"] in text and c["family_name_th"] in text


def test_fixture_ships_in_the_package():
    setup = (Path(__file__).resolve().parents[2] / "setup.cfg").read_text()
    assert re.search(r"^idp = .*data/\*", setup, re.M)
    assert DEFAULT_REGISTRY_FILE == Path(verifiers.__file__).resolve().parent.parent / "data" / "registry.json"


# --- FileRegistry ---------------------------------------------------------------------------------------------------


def test_match_returns_the_record_of_the_registry(registry):
    before = dt.datetime.now(dt.UTC)
    result = registry.verify(SOMCHAI_CARD)
    assert result.outcome == "match" and result.matched and result.reasons == ()
    assert result.record == SOMCHAI_RECORD
    assert result.issuer == "TH-DOPA (demo file)"
    assert result.checked_at.tzinfo is dt.UTC and result.checked_at >= before - dt.timedelta(seconds=1)


def test_match_tolerates_how_people_type(registry):
    typed = card(number=" 1 9999 00001 01 0", laser_code="jt0 1000001 01", given_name="  SOMCHAI ",
                 family_name="jaidee", given_name_th=None, family_name_th=None, birthdate=" 1985-03-14 ")
    assert registry.verify(typed).outcome == "match"


def test_record_is_canonical_not_what_was_typed(registry):
    result = registry.verify(card(given_name="somchai", family_name="JAIDEE"))
    assert result.record["given_name"] == "Somchai" and result.record["family_name"] == "Jaidee"


@pytest.mark.parametrize(("changes", "reasons"), [
    ({"laser_code": "JT0-1000001-02"}, ("laser_code_mismatch",)),
    ({"birthdate": "1985-03-15"}, ("birthdate_mismatch",)),
    ({"given_name": "Somchay"}, ("name_mismatch",)),
    ({"family_name": "Jaide"}, ("name_mismatch",)),
    ({"family_name_th": "ใจร้าย"}, ("name_mismatch",)),
    ({"given_name": "Som chai"}, ("name_mismatch",)),  # spacing inside a name is not ignored
    ({"laser_code": "JT0-0000000-00", "birthdate": "1985-04-13", "given_name": "Malee"},
     ("laser_code_mismatch", "birthdate_mismatch", "name_mismatch")),
])
def test_each_mismatch_reason(registry, changes, reasons):
    result = registry.verify(card(**changes))
    assert result.outcome == "mismatch"
    assert result.reasons == reasons
    assert result.record is None  # never the registry's data on a mismatch


def test_not_found(registry):
    result = registry.verify(card(number="1999900001095"))  # valid check digit, not on file
    assert valid_national_id("1999900001095")
    assert (result.outcome, result.reasons, result.record) == ("not_found", ("document_not_found",), None)


@pytest.mark.parametrize("changes", [
    {"number": "1999900001011"},  # check digit wrong
    {"laser_code": None},
    {"laser_code": "JT0-1000001"},
    {"birthdate": "14/03/1985"},
    {"birthdate": "2528-02-30"},  # not a date (and a Buddhist-era year)
    {"given_name": "  "},
    {"kind": "driving_licence"},
])
def test_malformed_evidence_is_not_looked_up(registry, changes):
    result = registry.verify(card(**changes))
    assert (result.outcome, result.reasons, result.record) == ("not_found", ("invalid_evidence",), None)


def test_evidence_errors_name_the_fields():
    assert verifiers.evidence_errors(SOMCHAI_CARD) == ()
    assert verifiers.evidence_errors(card(number="123", laser_code="x", birthdate="")) == \
        ("number", "laser_code", "birthdate")
    assert verifiers.evidence_errors(card(kind="x")) == ("kind",)


def test_revoked_card(registry):
    malee = card(number="3999900001032", laser_code="JC2-3000003-03", given_name="Malee", family_name="Srisuk",
                 given_name_th="มาลี", family_name_th="ศรีสุข", birthdate="1978-11-23")
    result = registry.verify(malee)
    assert (result.outcome, result.reasons, result.record) == ("mismatch", ("card_revoked",), None)
    # Revocation is told only to whoever has every detail right, never to someone guessing.
    assert registry.verify(replace(malee, birthdate="1978-11-24")).reasons == ("birthdate_mismatch",)


def test_contact_of_record_may_differ_from_the_account(registry):
    anan = card(number="1999900001044", laser_code="JT4-4000004-04", given_name="Anan", family_name="Boonmee",
                given_name_th="อนันต์", family_name_th="บุญมี", birthdate="1988-01-09")
    result = registry.verify(anan)
    assert result.outcome == "match" and result.record["contact_email"] == "anan.boonmee@example.org"


def test_passport(registry):
    result = registry.verify(SOMCHAI_PASSPORT)
    assert result.outcome == "match" and result.record == SOMCHAI_RECORD
    assert registry.verify(replace(SOMCHAI_PASSPORT, number="aa-000 0001")).outcome == "match"
    assert registry.verify(replace(SOMCHAI_PASSPORT, birthdate="1985-03-13")).reasons == ("birthdate_mismatch",)
    assert registry.verify(replace(SOMCHAI_PASSPORT, number="AA0000002")).outcome == "not_found"


def test_revoked_passport(registry):
    wichai = Evidence(kind="passport", number="A000008", laser_code=None, given_name="Wichai",
                      family_name="Saetang", given_name_th="วิชัย", family_name_th="แซ่ตั้ง", birthdate="1970-08-15")
    assert registry.verify(wichai).reasons == ("passport_revoked",)


def test_every_fixture_identity_matches_its_own_details(registry):
    for c in _fixture()["citizens"]:
        evidence = Evidence(kind="thai_id_card", number=c["national_id"], laser_code=c["laser_code"],
                            given_name=c["given_name"], family_name=c["family_name"],
                            given_name_th=c["given_name_th"], family_name_th=c["family_name_th"],
                            birthdate=c["birthdate"])
        expected = ("mismatch", ("card_revoked",)) if c["card_revoked"] else ("match", ())
        result = registry.verify(evidence)
        assert (result.outcome, result.reasons) == expected, c["given_name"]


def test_registry_file_setting(tmp_path):
    path = tmp_path / "registry.json"
    data = _fixture()
    data["issuer"] = "TH-DOPA (test)"
    data["citizens"] = data["citizens"][:1]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert FileRegistry({"PROOFING_REGISTRY_FILE": str(path)}).verify(SOMCHAI_CARD).issuer == "TH-DOPA (test)"
    data["citizens"][0]["national_id"] = "1999900001011"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="malformed"):
        FileRegistry({"PROOFING_REGISTRY_FILE": str(path)})


def test_evidence_repr_hides_personal_data():
    text = repr(SOMCHAI_CARD) + repr(FileRegistry({}).verify(SOMCHAI_CARD))
    for secret in ("9999", "Somchai", "Jaidee", "สมชาย", "1985", "JT0", "somchai@"):
        assert secret not in text


# --- load_verifier ---------------------------------------------------------------------------------------------------


def test_default_verifier_is_the_file_registry():
    assert isinstance(load_verifier({}), FileRegistry)
    assert isinstance(load_verifier({"PROOFING_VERIFIER": "idp.proofing.verifiers:FileRegistry"}), FileRegistry)


def test_verifier_from_import_path():
    verifier = load_verifier({"PROOFING_VERIFIER": "idp.proofing.verifiers:HttpRegistry",
                              "PROOFING_REGISTRY_URL": "https://registry.example/verify"})
    assert isinstance(verifier, HttpRegistry) and isinstance(verifier, verifiers.Verifier)


class _Fixed:
    def __init__(self, config):
        self.config = config

    def verify(self, evidence: Evidence) -> RegistryResult:
        return RegistryResult("not_found", (), None, "test", dt.datetime.now(dt.UTC))


def test_verifier_given_as_a_class():
    verifier = load_verifier({"PROOFING_VERIFIER": _Fixed, "X": 1})
    assert isinstance(verifier, _Fixed) and verifier.config["X"] == 1


@pytest.mark.parametrize(("spec", "error"), [
    ("idp.proofing.verifiers.FileRegistry", ValueError),  # dot instead of colon
    ("idp.proofing.verifiers:NoSuchRegistry", ValueError),
    ("idp.proofing.verifiers:DEFAULT_TIMEOUT", TypeError),  # not callable
    ("idp.proofing.verifiers:Evidence", TypeError),  # wrong signature
    ("idp.no_such_module:X", ImportError),
    ("builtins:dict", ValueError),  # builds something without verify()
])
def test_bad_verifier_setting(spec, error):
    with pytest.raises(error):
        load_verifier({"PROOFING_VERIFIER": spec})


# --- HttpRegistry settings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://registry.example/verify", "ftp://127.0.0.1/", "registry.example",
                                 "https://user:pw@registry.example/", "", None, "http://10.0.0.1/"])
def test_https_is_required(url):
    with pytest.raises(ValueError):
        HttpRegistry({"PROOFING_REGISTRY_URL": url})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v", "http://localhost/v", "http://[::1]:9/v",
                                 "https://registry.example/v"])
def test_loopback_http_is_allowed(url):
    assert HttpRegistry({"PROOFING_REGISTRY_URL": url}).url == url


@pytest.fixture
def pem_files(tmp_path):
    files = {}
    for name in ("cert", "key", "ca"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text("-----BEGIN DUMMY-----\n")
    return files


def test_mutual_tls_and_ca_are_passed_to_requests(monkeypatch, pem_files):
    seen = {}

    def post(self, url, **kwargs):
        seen.update(kwargs, url=url)
        raise requests.exceptions.SSLError("handshake")  # not retried

    monkeypatch.setattr(requests.Session, "post", post)
    registry = HttpRegistry({"PROOFING_REGISTRY_URL": "https://registry.example/verify",
                             "PROOFING_REGISTRY_CLIENT_CERT": str(pem_files["cert"]),
                             "PROOFING_REGISTRY_CLIENT_KEY": str(pem_files["key"]),
                             "PROOFING_REGISTRY_CA": str(pem_files["ca"]), "PROOFING_REGISTRY_TIMEOUT": 3})
    result = registry.verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons) == ("unavailable", ("registry_unavailable",))
    assert seen["cert"] == (str(pem_files["cert"]), str(pem_files["key"]))
    assert seen["verify"] == str(pem_files["ca"])
    assert seen["timeout"] == 3.0 and seen["allow_redirects"] is False
    assert seen["url"] == "https://registry.example/verify"


def test_defaults(monkeypatch):
    registry = HttpRegistry({"PROOFING_REGISTRY_URL": "https://registry.example/verify"})
    assert (registry.timeout, registry.retries, registry.cert, registry.verify_tls) == (5.0, 2, None, True)


@pytest.mark.parametrize("settings", [
    {"PROOFING_REGISTRY_CLIENT_KEY": "key"},  # a key without a certificate
    {"PROOFING_REGISTRY_CLIENT_CERT": "/no/such/cert.pem"},
    {"PROOFING_REGISTRY_CA": "/no/such/ca.pem"},
    {"PROOFING_REGISTRY_TIMEOUT": 0},
    {"PROOFING_REGISTRY_RETRIES": -1},
])
def test_bad_tls_or_timing_settings(settings, pem_files):
    settings = {k: str(pem_files["key"]) if v == "key" else v for k, v in settings.items()}
    with pytest.raises(ValueError):
        HttpRegistry({"PROOFING_REGISTRY_URL": "https://registry.example/verify", **settings})


# --- HttpRegistry against a stub server -------------------------------------------------------------------------------

MATCH_ANSWER = {"outcome": "match", "reasons": [], "issuer": "TH-DOPA",
                "record": {**SOMCHAI_RECORD, "internal_flag": "dropped"}}


class _Handler(BaseHTTPRequestHandler):
    server: _StubServer

    def do_POST(self):
        stub = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        stub.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        status, answer, delay = stub.answers.pop(0) if len(stub.answers) > 1 else stub.answers[0]
        if delay:
            stub.release.wait(delay)
        pieces = answer if isinstance(answer, list) else [answer]  # a list: sent in pieces, 0.15 s apart
        pieces = [p if isinstance(p, bytes) else json.dumps(p).encode() for p in pieces]
        data = b"".join(pieces)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status in (301, 302, 307, 308):
            self.send_header("Location", "/elsewhere")
        self.end_headers()
        for i, piece in enumerate(pieces):
            if i:
                self.wfile.flush()
                stub.release.wait(0.15)
            self.wfile.write(piece)

    def log_message(self, format, *args):
        pass


class _StubServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handlers: nothing outlives the test

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[tuple[int, Any, float]] = [(200, MATCH_ANSWER, 0)]
        self.received: list[dict[str, Any]] = []
        self.release = threading.Event()

    def handle_error(self, request, client_address):
        pass  # the client hung up on a slow answer: expected

    def answer(self, *answers: tuple[int, Any] | tuple[int, Any, float]) -> None:
        self.answers = [(a[0], a[1], a[2] if len(a) > 2 else 0) for a in answers]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/verify"


@pytest.fixture
def stub():
    server = _StubServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def http_registry(url: str, **settings: Any) -> HttpRegistry:
    config = {"PROOFING_REGISTRY_URL": url, "PROOFING_REGISTRY_TIMEOUT": 2.0, "PROOFING_REGISTRY_RETRIES": 2,
              "PROOFING_REGISTRY_BACKOFF": 0.01}
    config.update(settings)
    return HttpRegistry(config)


def test_http_match(stub):
    result = http_registry(stub.url).verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons, result.issuer) == ("match", (), "TH-DOPA")
    assert result.record == SOMCHAI_RECORD  # unknown fields dropped
    assert result.checked_at.tzinfo is dt.UTC
    [request] = stub.received
    assert request["path"] == "/v1/verify"
    assert request["headers"]["Content-Type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{32}", request["headers"]["X-Request-ID"])
    assert request["body"] == {"evidence": {
        "kind": "thai_id_card", "number": "1999900001010", "laser_code": "JT0100000101",
        "given_name": "Somchai", "family_name": "Jaidee", "given_name_th": "สมชาย", "family_name_th": "ใจดี",
        "birthdate": "1985-03-14"}}


def test_http_passport_request(stub):
    http_registry(stub.url).verify(replace(SOMCHAI_PASSPORT, number="aa 0000001"))
    sent = stub.received[0]["body"]["evidence"]
    assert (sent["kind"], sent["number"], sent["laser_code"]) == ("passport", "AA0000001", None)


def test_http_mismatch_never_carries_a_record(stub):
    stub.answer((200, {"outcome": "mismatch", "reasons": ["laser_code_mismatch"], "issuer": "TH-DOPA",
                       "record": SOMCHAI_RECORD}))
    result = http_registry(stub.url).verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons, result.record) == ("mismatch", ("laser_code_mismatch",), None)


@pytest.mark.parametrize(("answer", "expected"), [
    ({"outcome": "not_found", "reasons": [], "issuer": "TH-DOPA"}, ("not_found", ())),
    ({"outcome": "mismatch", "reasons": ["card_revoked"], "issuer": "TH-DOPA"}, ("mismatch", ("card_revoked",))),
    ({"outcome": "unavailable", "issuer": "TH-DOPA"}, ("unavailable", ("registry_unavailable",))),
])
def test_http_outcomes_pass_through(stub, answer, expected):
    stub.answer((200, answer))
    result = http_registry(stub.url).verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons) == expected


def test_http_slow_answer_is_unavailable_within_the_timeout(stub):
    stub.answer((200, MATCH_ANSWER, 1.5))
    start = time.monotonic()
    result = http_registry(stub.url, PROOFING_REGISTRY_TIMEOUT=0.2).verify(SOMCHAI_CARD)
    elapsed = time.monotonic() - start
    assert (result.outcome, result.reasons, result.record) == ("unavailable", ("registry_unavailable",), None)
    assert elapsed < 0.8  # one read timeout (0.2 s), not retried, not the 1.5 s the server takes
    assert len(stub.received) == 1


def test_http_answer_trickling_in_is_cut_off(stub):
    body = json.dumps(MATCH_ANSWER).encode()
    stub.answer((200, [body[:10], body[10:20], body[20:]]))  # each gap (0.15 s) under the read timeout
    result = http_registry(stub.url, PROOFING_REGISTRY_TIMEOUT=0.2).verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons) == ("unavailable", ("registry_unavailable",))
    assert len(stub.received) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_http_retries_transient_errors(stub, status):
    stub.answer((status, {"error": "busy"}), (200, MATCH_ANSWER))
    result = http_registry(stub.url).verify(SOMCHAI_CARD)
    assert result.outcome == "match"
    assert len(stub.received) == 2
    first, second = (r["headers"]["X-Request-ID"] for r in stub.received)
    assert first == second  # one lookup, retried


def test_http_always_500_is_unavailable_after_the_retries(stub):
    stub.answer((500, b"oops"))
    result = http_registry(stub.url, PROOFING_REGISTRY_RETRIES=2).verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons, result.record) == ("unavailable", ("registry_unavailable",), None)
    assert len(stub.received) == 3


def test_http_backoff_is_exponential(stub, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(verifiers, "_sleep", waits.append)
    stub.answer((503, b""))
    http_registry(stub.url, PROOFING_REGISTRY_RETRIES=3, PROOFING_REGISTRY_BACKOFF=0.25).verify(SOMCHAI_CARD)
    assert waits == [0.25, 0.5, 1.0]
    assert len(stub.received) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 307])
def test_http_client_errors_and_redirects_are_not_retried(stub, status):
    stub.answer((status, {"error": "no"}))
    result = http_registry(stub.url).verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons) == ("unavailable", ("registry_error",))
    assert len(stub.received) == 1  # and a redirect is not followed


@pytest.mark.parametrize("answer", [
    b"this is not json",
    b"\xff\xfe",
    b"[" * 5000,
    b"[]",
    {"outcome": "maybe", "reasons": [], "issuer": "TH-DOPA"},
    {"outcome": "match", "reasons": [], "issuer": "TH-DOPA"},  # a match without the record
    {"outcome": "match", "reasons": [], "issuer": "TH-DOPA", "record": {**SOMCHAI_RECORD, "birthdate": None}},
    {"outcome": "match", "reasons": [], "issuer": "TH-DOPA", "record": {**SOMCHAI_RECORD, "birthdate": "14/03/1985"}},
    {"outcome": "match", "reasons": [], "issuer": "TH-DOPA", "record": {**SOMCHAI_RECORD, "national_id": "12"}},
    {"outcome": "match", "reasons": [], "issuer": "TH-DOPA", "record": {**SOMCHAI_RECORD, "given_name": 7}},
    {"outcome": "mismatch", "reasons": "name_mismatch", "issuer": "TH-DOPA"},
    {"outcome": "mismatch", "reasons": ["Name Mismatch!"], "issuer": "TH-DOPA"},
    {"outcome": "not_found", "reasons": []},  # no issuer
    {"outcome": "not_found", "reasons": [], "issuer": "  "},
    {"outcome": "not_found", "reasons": [], "issuer": "TH-DOPA", "padding": "x" * 70_000},  # too large
])
def test_http_malformed_answers(stub, answer):
    stub.answer((200, answer))
    result = http_registry(stub.url).verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons, result.record) == ("unavailable", ("registry_error",), None)
    assert len(stub.received) == 1


def _refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/verify"


def test_http_connection_refused_is_unavailable_after_retries(caplog):
    caplog.set_level(logging.WARNING, logger="idp.proofing.verifiers")
    start = time.monotonic()
    result = http_registry(_refused_url()).verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons, result.record) == ("unavailable", ("registry_unavailable",), None)
    assert result.issuer == "127.0.0.1"
    assert "attempt 3 of 3" in caplog.text
    assert time.monotonic() - start < 1.0


def test_http_malformed_evidence_is_never_sent(stub):
    result = http_registry(stub.url).verify(card(number="1999900001011"))
    assert (result.outcome, result.reasons) == ("not_found", ("invalid_evidence",))
    assert stub.received == []


def test_http_never_raises_on_something_unforeseen(stub, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("bug in a connector")

    monkeypatch.setattr(verifiers, "_parse_answer", boom)
    result = http_registry(stub.url).verify(SOMCHAI_CARD)
    assert (result.outcome, result.reasons) == ("unavailable", ("registry_error",))


def test_http_logs_never_contain_the_evidence(stub, caplog):
    caplog.set_level(logging.DEBUG)
    registry = http_registry(stub.url, PROOFING_REGISTRY_TIMEOUT=0.1)
    for answer in ((500, b""), (200, b"garbage"), (400, b"{}"), (200, MATCH_ANSWER, 0.5)):
        stub.answer(answer)
        registry.verify(SOMCHAI_CARD)
    http_registry(_refused_url()).verify(SOMCHAI_CARD)
    assert len(caplog.records) > 5
    for secret in ("1999900001010", "9999", "JT0", "Somchai", "Jaidee", "สมชาย", "1985-03-14"):
        assert secret not in caplog.text
