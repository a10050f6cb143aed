"""Chip reads: the issuer's signature (valid, tampered, unknown issuer), the data groups, and their
agreement with the verified identity."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from idp.proofing import chip
from tests.support.chips import CHIP_PHOTO
from tests.support.chips import ISSUER_KEY
from tests.support.chips import ISSUERS_JWKS
from tests.support.chips import chip_document
from tests.support.chips import chip_jws

EXPECTED = chip.Expected(national_id="1999900001010", given_name="Somchai", family_name="Jaidee",
                         given_name_th="สมชาย", family_name_th="ใจดี", birthdate="1985-03-14")
TODAY = dt.date(2026, 12, 3)


@pytest.fixture(scope="module")
def issuers():
    return chip.load_issuers({"PROOFING_CHIP_ISSUERS_JWKS": str(ISSUERS_JWKS)})


def read(document, issuers, expected=EXPECTED):
    return chip.read(document, issuers=issuers, expected=expected, today=TODAY)


def test_a_genuine_read_that_agrees_is_valid(issuers):
    result = read(chip_document(), issuers)
    assert result.valid and result.reasons == ()
    assert result.data.issuer == "demo-card-issuer" and result.data.photo == CHIP_PHOTO
    assert "Somchai" not in repr(result) and "1999900001010" not in repr(result)


def test_names_agree_as_people_type_them(issuers):
    assert read(chip_document(given_name_en="SOMCHAI ", family_name_en="jaidee"), issuers).valid


def test_a_tampered_payload_fails(issuers):
    header, payload, signature = chip_jws().split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["birthdate"] = "1985-03-15"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    document = json.dumps({"format": "th-id-chip/1", "jws": f"{header}.{forged}.{signature}"}).encode()
    assert read(document, issuers).reasons == (chip.CHIP_SIGNATURE_INVALID,)


def test_another_issuers_key_fails(issuers):
    stranger = ECKey.generate_key("P-256", private=True)
    assert read(chip_document(key=stranger, kid="other-issuer"), issuers).reasons == (chip.CHIP_ISSUER_UNKNOWN,)
    # the trusted kid, but not the trusted key
    assert read(chip_document(key=stranger), issuers).reasons == (chip.CHIP_SIGNATURE_INVALID,)


def test_unsigned_or_symmetric_jws_is_refused(issuers):
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    payload = chip_jws().split(".")[1]
    document = json.dumps({"format": "th-id-chip/1", "jws": f"{header}.{payload}."}).encode()
    assert not read(document, issuers).valid


@pytest.mark.parametrize("change, reason", [
    ({"cid": "1999900001028"}, chip.CHIP_DATA_MISMATCH),  # another person's card
    ({"birthdate": "1985-03-15"}, chip.CHIP_DATA_MISMATCH),
    ({"given_name_th": "สมศักดิ์"}, chip.CHIP_DATA_MISMATCH),
    ({"family_name_en": "Rakthai"}, chip.CHIP_DATA_MISMATCH),
    ({"date_of_expiry": "2026-12-02"}, chip.CHIP_EXPIRED),
    ({"cid": "1999900001011"}, chip.CHIP_MALFORMED),  # bad check digit
    ({"birthdate": "14/03/1985"}, chip.CHIP_MALFORMED),
    ({"photo": "not base64!"}, chip.CHIP_MALFORMED),
    ({"photo": "aGVsbG8="}, chip.CHIP_MALFORMED),  # not an image
    ({"given_name_en": ""}, chip.CHIP_MALFORMED),
])
def test_data_that_differs_or_is_malformed_fails(issuers, change, reason):
    result = read(chip_document(**change), issuers)
    assert (result.outcome, result.reasons) == ("invalid", (reason,))


@pytest.mark.parametrize("document", [b"", b"not json", b"[]", b'{"format": "other", "jws": "a.b.c"}',
                                      b'{"format": "th-id-chip/1"}', b'{"format": "th-id-chip/1", "jws": "a.b"}',
                                      b"[" * 100_000, b'{"format": "th-id-chip/1", "jws": "' + b"a" * 300_000 + b'"}'])
def test_garbage_is_an_outcome_never_an_exception(issuers, document):
    assert not read(document, issuers).valid


def test_without_issuers_no_read_is_valid():
    assert read(chip_document(), None).reasons == (chip.CHIP_NOT_CONFIGURED,)


def test_issuers_file_must_hold_public_keys_only(tmp_path):
    private = tmp_path / "private.jwks"
    private.write_text(json.dumps({"keys": [ISSUER_KEY.as_dict(private=True)]}))
    with pytest.raises(ValueError):
        chip.load_issuers({"PROOFING_CHIP_ISSUERS_JWKS": str(private)})
    broken = tmp_path / "broken.jwks"
    broken.write_text("{")
    with pytest.raises(ValueError):
        chip.load_issuers({"PROOFING_CHIP_ISSUERS_JWKS": str(broken)})
    assert chip.load_issuers({}) is None


def test_the_issuer_private_key_is_not_in_the_package():
    import idp

    package = Path(idp.__file__).resolve().parent
    assert not any("PRIVATE" in p.read_text(errors="ignore") or '"d"' in p.read_text(errors="ignore")
                   for p in package.rglob("*.json"))
