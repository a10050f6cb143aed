"""The outbound fetcher (SSRF): address rules on the resolved address, no redirects, one total
deadline, a size cap, content type and JSON, caches and one fetch in flight per URL.

Every test talks to a real listener on 127.0.0.1 (tests.support.documents); the fetcher is built
with or without ``allow_loopback`` to show that only that setting lets it reach loopback at all.
"""

import ipaddress
import threading
import time

import pytest

from idp.outbound import JWK_SET
from idp.outbound import BadResponse
from idp.outbound import Fetcher
from idp.outbound import Limits
from idp.outbound import NotAllowed
from idp.outbound import Timeout
from idp.outbound import TooLarge
from idp.outbound import Unreachable
from idp.outbound import address_problem
from idp.outbound import is_public_destination
from tests.support.documents import closed_port
from tests.support.documents import serve_documents
from tests.support.documents import tls_pair

JWKS = {"keys": []}


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def documents():
    with serve_documents() as server:
        yield server


def _local(**kw):
    return Fetcher(allow_loopback=True, **kw)


# -- addresses: the resolved address decides, whatever the spelling -----------------------------------

LOOPBACK_SPELLINGS = ["127.0.0.1", "127.1", "0x7f.0.0.1", "0177.0.0.1", "127.000.000.001", "2130706433",
                      "0x7f000001", "127.0.1", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost"]
INTERNAL = ["10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "[::]", "0",
            "100.64.0.1", "224.0.0.1", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1",
            "[fe80::1]", "[fc00::1]", "[ff02::1]", "[2001:db8::1]", "[::ffff:169.254.169.254]",
            "[::ffff:10.0.0.1]", "[2002:7f00:1::]", "[2002:a00:1::]", "[64:ff9b::a9fe:a9fe]", "[::7f00:1]"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + INTERNAL)
def test_every_spelling_of_an_internal_address_is_refused(documents, host):
    documents.put("/jwks.json", JWKS)
    port = documents.port
    for url in (f"https://{host}:{port}/jwks.json", f"http://{host}:{port}/jwks.json"):
        with pytest.raises(NotAllowed):
            Fetcher().fetch_json(url)
        assert not is_public_destination(url)
    assert documents.hits["/jwks.json"] == 0  # refused before any connection


@pytest.mark.parametrize("host", ["127.1", "0x7f.0.0.1", "0177.0.0.1", "127.000.000.001", "2130706433",
                                  "[::ffff:127.0.0.1]", "localhost"])
def test_loopback_spellings_reach_the_local_listener_only_when_allowed(documents, host):
    """The same spellings do reach the listener (the IPv4-mapped one too, through the dual-stack socket):
    the refusal above is the rule, not a failure to connect."""
    documents.put("/jwks.json", JWKS)
    url = f"http://{host}:{documents.port}/jwks.json"
    assert _local().fetch_json(url) == JWKS
    assert documents.hits["/jwks.json"] == 1


@pytest.mark.parametrize("address", ["127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_allowing_loopback_allows_nothing_else(address):
    assert address_problem(ipaddress.ip_address(address), allow_loopback=True) is None
    for other in ["10.0.0.1", "169.254.169.254", "::ffff:10.0.0.1", "2002:7f00:1::", "100.64.0.1", "0.0.0.0"]:
        assert address_problem(ipaddress.ip_address(other), allow_loopback=True) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert address_problem(ipaddress.ip_address(address)) is None


def test_http_is_refused_even_for_loopback_unless_allowed(documents):
    url = documents.put("/jwks.json", JWKS)
    with pytest.raises(NotAllowed, match="https"):
        Fetcher().fetch_json(url)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1:70/",
                                 "https://user:pw@rp.example/jwks.json", "https:///jwks.json", "https://a:b:c/",
                                 "https://[::1/"])
def test_other_schemes_and_malformed_urls_are_refused(url):
    with pytest.raises(NotAllowed):
        _local().fetch_json(url)


def test_a_name_that_does_not_resolve_is_unreachable():
    with pytest.raises(Unreachable):
        Fetcher().fetch_json("https://no-such-host.invalid/jwks.json")


def test_nothing_listening_is_unreachable():
    with pytest.raises(Unreachable):
        _local().fetch_json(f"http://127.0.0.1:{closed_port()}/jwks.json")


# -- TLS: connected to the checked address, verified against the URL's host name ------------------------

def test_tls_is_verified_against_the_host_name_not_the_address(tmp_path):
    server_tls, client_tls = tls_pair(tmp_path, "localhost")
    with serve_documents(tls=server_tls) as documents:
        documents.put("/jwks.json", JWKS)
        fetcher = _local(ssl_context=client_tls)
        assert fetcher.fetch_json(documents.url("/jwks.json", host="localhost")) == JWKS  # SNI and cert: localhost
        with pytest.raises(Unreachable, match="certificate"):
            fetcher.fetch_json(documents.url("/jwks.json", host="127.0.0.1"))  # the certificate names no address
        with pytest.raises(Unreachable, match="certificate"):
            _local().fetch_json(documents.url("/jwks.json", host="localhost"))  # not a CA the system trusts


# -- the answer -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("location", ["/jwks.json", "ftp://127.0.0.1/jwks.json", "http://169.254.169.254/"])
def test_redirects_are_not_followed(documents, status, location):
    documents.put("/jwks.json", JWKS)
    url = documents.put("/moved", status=status, body=b"", headers={"Location": location})
    with pytest.raises(BadResponse, match="redirect"):
        _local().fetch_json(url)
    assert documents.hits["/jwks.json"] == 0


def test_a_slow_drip_is_cut_off_at_the_total_deadline(documents):
    """One byte every 0.1 s would take minutes for this body; each byte arrives well inside any
    per-read timeout, so only a total deadline stops it."""
    url = documents.put("/jwks.json", {"keys": [], "pad": "x" * 5000}, drip=0.1)
    fetcher = _local(limits=Limits(deadline=1.0))
    start = time.monotonic()
    with pytest.raises(Timeout):
        fetcher.fetch_json(url)
    assert time.monotonic() - start < 1.0 + 0.5


def test_a_server_that_never_answers_is_cut_off_at_the_deadline(documents):
    url = documents.put("/jwks.json", JWKS, delay=5)
    start = time.monotonic()
    with pytest.raises(Timeout):
        _local(limits=Limits(deadline=0.5)).fetch_json(url)
    assert time.monotonic() - start < 0.5 + 0.5


@pytest.mark.parametrize("declared", [True, False])
def test_an_oversized_body_is_refused(documents, declared):
    body = b'{"keys": [], "pad": "' + b"x" * 70_000 + b'"}'
    headers = {} if declared else {"Content-Length": "20"}  # a lie too small: still cut at the cap while reading
    url = documents.put("/jwks.json", body=body, headers=headers)
    if declared:
        with pytest.raises(TooLarge):
            _local().fetch_json(url)
    else:
        with pytest.raises(BadResponse):  # 20 bytes of it are not JSON
            _local().fetch_json(url)
        with pytest.raises(TooLarge):
            _local(limits=Limits(max_bytes=10)).fetch_json(url)


def test_a_body_within_the_cap_is_read_whole(documents):
    document = {"keys": [], "pad": "x" * 60_000}
    assert _local().fetch_json(documents.put("/jwks.json", document)) == document


@pytest.mark.parametrize("content_type, body", [
    ("text/html", b"<html>keys</html>"),
    ("text/plain", b'{"keys": []}'),
    ("application/json", b"<html>not json</html>"),
    ("application/json", b"\xff\xfe{}"),
    ("application/json", b"[" * 50_000 + b"]" * 10_000),  # nested past Python's recursion limit
    ("", b'{"keys": []}'),
])
def test_wrong_content_type_or_not_json_is_a_bad_response(documents, content_type, body):
    url = documents.put("/jwks.json", body=body, content_type=content_type)
    with pytest.raises(BadResponse):
        _local().fetch_json(url)


@pytest.mark.parametrize("status", [204, 404, 500])
def test_a_status_other_than_200_is_a_bad_response(documents, status):
    with pytest.raises(BadResponse, match=str(status)):
        _local().fetch_json(documents.put("/jwks.json", JWKS, status=status))


def test_jwk_set_content_type_is_accepted_for_key_sets(documents):
    url = documents.put("/jwks.json", JWKS, content_type="application/jwk-set+json; charset=utf-8")
    assert _local().fetch_json(url, media_types=JWK_SET) == JWKS
    with pytest.raises(BadResponse, match="content type"):
        _local().fetch_json(url)  # plain JSON documents (sector identifiers) take application/json only


# -- caches and single flight ------------------------------------------------------------------------------

@pytest.mark.parametrize("cache_control, kept", [
    ("max-age=600", 600), ("public, max-age=120", 120), ("max-age=5", 60), ("max-age=9999999", 86400),
    ("no-store", 60), (None, 300),
])
def test_a_success_is_cached_per_max_age_within_bounds(documents, cache_control, kept):
    url = documents.put("/jwks.json", JWKS, headers={"Cache-Control": cache_control} if cache_control else {})
    clock = Clock()
    fetcher = _local(now=clock)
    fetcher.fetch_json(url)
    clock.now += kept - 1
    fetcher.fetch_json(url)
    assert documents.hits["/jwks.json"] == 1
    clock.now += 2
    fetcher.fetch_json(url)
    assert documents.hits["/jwks.json"] == 2


def test_a_failure_is_cached_briefly(documents):
    url = documents.put("/jwks.json", body=b"not json")
    clock = Clock()
    fetcher = _local(now=clock, limits=Limits(failure_ttl=30))
    for _ in range(5):
        with pytest.raises(BadResponse):
            fetcher.fetch_json(url)
    assert documents.hits["/jwks.json"] == 1
    documents.put("/jwks.json", JWKS)
    with pytest.raises(BadResponse):
        fetcher.fetch_json(url, refresh=True)  # a refresh does not retry a failure still cached
    clock.now += 31
    assert fetcher.fetch_json(url) == JWKS
    assert documents.hits["/jwks.json"] == 2


def test_a_refresh_fetches_again_and_a_failed_refresh_keeps_the_old_success(documents):
    url = documents.put("/jwks.json", JWKS)
    fetcher = _local()
    fetcher.fetch_json(url)
    documents.put("/jwks.json", {"keys": [{"kid": "new"}]})
    assert fetcher.fetch_json(url) == JWKS
    assert fetcher.fetch_json(url, refresh=True) == {"keys": [{"kid": "new"}]}
    documents.put("/jwks.json", body=b"broken")
    with pytest.raises(BadResponse):
        fetcher.fetch_json(url, refresh=True)
    assert fetcher.fetch_json(url) == {"keys": [{"kid": "new"}]}


def test_one_fetch_in_flight_per_url(documents):
    url = documents.put("/jwks.json", JWKS, delay=0.3)
    fetcher = _local()
    results = []
    threads = [threading.Thread(target=lambda: results.append(fetcher.fetch_json(url, refresh=True)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [JWKS] * 8
    assert documents.hits["/jwks.json"] == 1


def test_may_refresh_once_per_interval():
    clock = Clock()
    fetcher = Fetcher(now=clock)
    assert fetcher.may_refresh("client-1", every=60)
    assert not fetcher.may_refresh("client-1", every=60)
    assert fetcher.may_refresh("client-2", every=60)
    clock.now += 61
    assert fetcher.may_refresh("client-1", every=60)
