"""The DPoP proof rules (RFC 9449 §4.3), nonces and thumbprints, without an app."""

import base64
import json
import time

import pytest
from joserfc.jwk import ECKey
from joserfc.jwk import OctKey

from idp.oidc import dpop
from tests.support.dpop import DPoPKey
from tests.support.dpop import sign

URL = "https://idp.example/token"
SECRET = b"s" * 32


def _verify(proof, *, method="POST", url=URL, now=None, **kwargs):
    kwargs.setdefault("window", 60)
    return dpop.verify_proof(proof, expected_method=method, expected_url=url,
                             now=time.time() if now is None else now, **kwargs)


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["ES256", "PS256", "EdDSA"])
def test_a_proof_names_its_key_by_thumbprint(alg):
    key = DPoPKey(alg)
    verified = _verify(key.proof("POST", URL, jti="j-1"))
    assert verified.jkt == key.key.thumbprint() and verified.jti == "j-1"


@pytest.mark.parametrize("header, message", [
    ({"typ": "JWT"}, "typ"),
    ({"typ": None}, "typ"),
    ({"jwk": None}, "jwk"),
    ({"jwk": {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}}, "jwk"),
])
def test_the_header_must_say_dpop_and_carry_a_public_key(header, message):
    with pytest.raises(dpop.InvalidProof, match=message):
        _verify(DPoPKey().proof("POST", URL, header=header))


def test_a_jwk_with_the_private_key_is_refused():
    key = DPoPKey()
    with pytest.raises(dpop.InvalidProof, match="private"):
        _verify(key.proof("POST", URL, header={"jwk": key.key.as_dict(private=True)}))


def test_alg_none_is_refused():
    key = DPoPKey()
    unsigned = ".".join([_b64({"typ": "dpop+jwt", "alg": "none", "jwk": key.key.as_dict(private=False)}),
                         _b64({"jti": "x", "htm": "POST", "htu": URL, "iat": int(time.time())}), ""])
    with pytest.raises(dpop.InvalidProof, match="alg"):
        _verify(unsigned)


def test_a_symmetric_alg_is_refused():
    secret = OctKey.generate_key(256)
    key = DPoPKey()
    proof = sign({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.key.as_dict(private=False)},
                 {"jti": "x", "htm": "POST", "htu": URL, "iat": int(time.time())}, secret, "HS256")
    with pytest.raises(dpop.InvalidProof, match="alg"):
        _verify(proof)


def test_rs256_is_not_among_the_algorithms():
    with pytest.raises(dpop.InvalidProof, match="alg"):
        _verify(DPoPKey("PS256").proof("POST", URL, header={"alg": "RS256"}))


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused():
    key, other = DPoPKey(), ECKey.generate_key("P-256")
    with pytest.raises(dpop.InvalidProof, match="signature"):
        _verify(key.proof("POST", URL, header={"jwk": other.as_dict(private=False)}))


@pytest.mark.parametrize("method, url", [("GET", URL), ("POST", "https://idp.example/userinfo"),
                                         ("POST", "https://other.example/token"), ("POST", "http://idp.example/token")])
def test_htm_and_htu_must_name_this_request(method, url):
    with pytest.raises(dpop.InvalidProof, match=r"htm|htu"):
        _verify(DPoPKey().proof("POST", URL), method=method, url=url)


@pytest.mark.parametrize("htu", ["https://IDP.example:443/token", "HTTPS://idp.example/token?x=1#f",
                                 "https://idp.example/%74oken"])
def test_htu_is_compared_normalised_without_query_and_fragment(htu):
    assert _verify(DPoPKey().proof("POST", htu))


def test_normalise_url_keeps_what_distinguishes_endpoints():
    assert dpop.normalise_url("http://Localhost:5000") == "http://localhost:5000/"
    assert dpop.normalise_url("https://a.example/x%2fy") == "https://a.example/x%2Fy"
    with pytest.raises(dpop.InvalidProof):
        dpop.normalise_url("ftp://a.example/")


@pytest.mark.parametrize("offset", [-61, 61, -3600])
def test_iat_must_be_within_the_window(offset):
    now = time.time()
    with pytest.raises(dpop.InvalidProof, match="iat"):
        _verify(DPoPKey().proof("POST", URL, iat=int(now) + offset), now=now)


@pytest.mark.parametrize("claims", [{"iat": "1"}, {"iat": 1.5}, {"jti": ""}, {"jti": "x" * 256}, {"jti": 7}])
def test_jti_and_iat_must_be_well_formed(claims):
    with pytest.raises(dpop.InvalidProof):
        _verify(DPoPKey().proof("POST", URL, **claims))


def test_ath_binds_the_proof_to_the_access_token():
    key = DPoPKey()
    assert _verify(key.proof("GET", URL, access_token="tok"), method="GET", access_token="tok")
    for proof in (key.proof("GET", URL, access_token="other"), key.proof("GET", URL)):
        with pytest.raises(dpop.InvalidProof, match="ath"):
            _verify(proof, method="GET", access_token="tok")


def test_ath_is_the_base64url_sha256_of_the_token():
    # RFC 9449 §4.2 / §7.1 example
    assert dpop.ath_for("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_nonces_rotate_and_the_previous_one_still_works():
    now = 1_000_000.0
    current, previous = dpop.accepted_nonces(SECRET, now=now, lifetime=300)
    assert current != previous and previous == dpop.nonce_for(SECRET, now=now - 300, lifetime=300)
    assert dpop.nonce_for(SECRET, now=now, lifetime=300) != dpop.nonce_for(b"t" * 32, now=now, lifetime=300)
    key = DPoPKey()
    accepted = dpop.accepted_nonces(SECRET, now=time.time(), lifetime=300)
    assert _verify(key.proof("POST", URL, nonce=accepted[1]), nonces=accepted, nonce_required=True)
    stale = dpop.nonce_for(SECRET, now=time.time() - 600, lifetime=300)
    with pytest.raises(dpop.NonceNeeded):
        _verify(key.proof("POST", URL, nonce=stale), nonces=accepted)


def test_a_missing_nonce_is_refused_only_when_required():
    key = DPoPKey()
    assert _verify(key.proof("POST", URL), nonces=("n",))
    with pytest.raises(dpop.NonceNeeded) as caught:
        _verify(key.proof("POST", URL), nonces=("n",), nonce_required=True)
    assert caught.value.error == "use_dpop_nonce"


@pytest.mark.parametrize("value, ok", [("A" * 43, True), ("A" * 42, False), ("A" * 42 + "=", False),
                                       ("A" * 42 + "+", False)])
def test_dpop_jkt_parameter_is_a_sha256_thumbprint(value, ok):
    if ok:
        assert dpop.check_jkt_parameter(value) == value
    else:
        with pytest.raises(dpop.InvalidProof):
            dpop.check_jkt_parameter(value)


@pytest.mark.parametrize("proof", ["", "a.b", "a.b.c", "x" * 5000, "eyJ9.e30.x"])
def test_garbage_is_an_invalid_proof(proof):
    with pytest.raises(dpop.InvalidProof):
        _verify(proof)
