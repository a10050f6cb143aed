"""The remote journey past the registry check: the card's chip and a selfie raise the verified
identity's checks to [registry_data, chip, face, liveness], automatically; failures are refused and
counted; nothing image-like is stored."""

from __future__ import annotations

import base64
import io
from urllib.parse import quote

import pytest
from flask import request
from sqlalchemy import select
from sqlalchemy import text

from idp.db import Base
from idp.db import get_session
from idp.proofing import service
from idp.proofing import vocabulary
from idp.proofing.face import FaceResult
from idp.proofing.models import ProofingCase
from idp.proofing.models import VerifiedIdentity
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import pkce_pair
from tests.flows import sign_in
from tests.http.test_proofing import confirm
from tests.http.test_proofing import last_code
from tests.http.test_proofing import submit
from tests.support.chips import CHIP_PHOTO
from tests.support.chips import ISSUERS_JWKS
from tests.support.chips import SOMCHAI_LIVE
from tests.support.chips import SOMCHAI_SPOOF
from tests.support.chips import SOMSRI_LIVE
from tests.support.chips import chip_document

EN = {"Accept-Language": "en"}


@pytest.fixture
def proofed(app, client):
    """Somchai, signed in, proofed remotely on the registry's data (today's path), chip reads on."""
    app.config["PROOFING_CHIP_ISSUERS_JWKS"] = str(ISSUERS_JWKS)
    make_user(app, "somchai@example.com")
    sign_in(client, "somchai@example.com")
    submit(client)
    confirm(client, last_code(app))
    return client


def identity(app):
    with app.app_context():
        return get_session().scalars(select(VerifiedIdentity)).one()


def the_case(app):
    with app.app_context():
        return get_session().scalars(select(ProofingCase)).one()


def upload(client, path, name, data, filename, **headers):
    page = client.get(path, headers=headers)
    assert page.status_code == 200
    return client.post(path, headers=headers, content_type="multipart/form-data",
                       data={"csrf_token": csrf_of(page.text), name: (io.BytesIO(data), filename)})


def test_chip_and_face_raise_the_checks_automatically(app, proofed):
    assert identity(app).evidence[0]["checks"] == ["registry_data"]
    status = proofed.get("/proofing", headers=EN)
    assert "Check my face" in status.text
    start = proofed.get("/proofing/face")
    assert start.headers["Location"].startswith("/proofing/face/chip")
    chip_page = proofed.get("/proofing/face/chip", headers=EN)
    assert 'type="file"' in chip_page.text and 'for="chip"' in chip_page.text
    read = upload(proofed, "/proofing/face/chip", "chip", chip_document(), "chip.json")
    assert read.status_code == 302 and read.headers["Location"].startswith("/proofing/face/selfie")
    assert the_case(app).checks["chip"] == "valid"
    done = upload(proofed, "/proofing/face/selfie", "selfie", SOMCHAI_LIVE, "me.jpg")
    assert done.status_code == 302 and done.headers["Location"].startswith("/proofing")
    entry = identity(app).evidence[0]
    assert entry["checks"] == ["registry_data", "chip", "face", "liveness"]
    assert {"check_method": "vcrypt"} in entry["check_details"] and {"check_method": "bvr"} in entry["check_details"]
    case = the_case(app)
    assert case.status == "approved"
    assert (case.checks["face"], case.checks["liveness"], case.checks["face_score"]) == ("match", "pass", "high")
    with app.app_context():
        from idp.accounts.service import find_by_email

        db = get_session()
        assert find_by_email(db, "somchai@example.com").ial == 2  # the NIST IAL is what it was
        claims = service.verified_claims(db, case.user_id, config=app.config)
    assert all("checks" not in e for e in claims["verification"]["evidence"])  # not an OIDC4IDA element
    page = proofed.get("/proofing", headers=EN).text
    assert "card&#39;s chip and your face" in page or "card's chip and your face" in page
    # The step is done: its pages send the person back to the status page.
    assert proofed.get("/proofing/face/selfie").headers["Location"].startswith("/proofing")


def test_face_without_the_chip_records_face_and_liveness_only(app, proofed):
    assert proofed.get("/proofing/face/chip", headers=EN).text.count("Continue without the chip") == 1
    upload(proofed, "/proofing/face/selfie", "selfie", SOMCHAI_LIVE, "me.jpg")
    assert identity(app).evidence[0]["checks"] == ["registry_data", "face", "liveness"]


def test_nothing_image_like_is_stored(app, proofed):
    upload(proofed, "/proofing/face/chip", "chip", chip_document(), "chip.json")
    upload(proofed, "/proofing/face/selfie", "selfie", SOMCHAI_SPOOF, "me.jpg")
    upload(proofed, "/proofing/face/selfie", "selfie", SOMCHAI_LIVE, "me.jpg")
    needles = [base64.b64encode(x).decode()[:24] for x in (SOMCHAI_LIVE, SOMCHAI_SPOOF, CHIP_PHOTO)]
    needles += ["FICTITIOUS", "\\xff\\xd8", "jws", "eyJ"]
    with app.app_context():
        db = get_session()
        for table in Base.metadata.sorted_tables:
            for row in db.execute(text(f'SELECT * FROM "{table.name}"')):
                for value in row:
                    data = value if isinstance(value, bytes) else str(value).encode()
                    assert b"\xff\xd8\xff" not in data, table.name
                    assert not any(n.encode() in data for n in needles if table.name != "signing_keys"), table.name


def test_a_failing_face_is_refused_counted_and_then_closed(app, proofed):
    first = upload(proofed, "/proofing/face/selfie", "selfie", SOMSRI_LIVE, "me.jpg", **EN)
    assert first.status_code == 400
    assert "could not confirm that the photo is of you" in first.text and "2 more times" in first.text
    assert 'href="#selfie"' in first.text and 'aria-invalid="true"' in first.text
    spoof = upload(proofed, "/proofing/face/selfie", "selfie", SOMCHAI_SPOOF, "me.jpg", **EN)
    assert spoof.status_code == 400 and "1 more time" in spoof.text
    last = upload(proofed, "/proofing/face/selfie", "selfie", SOMSRI_LIVE, "me.jpg")
    assert last.status_code == 302
    case = the_case(app)
    assert case.checks["face_attempts"] == 3 and case.status == "approved"
    assert identity(app).evidence[0]["checks"] == ["registry_data"]
    assert "visit a service counter" in proofed.get("/proofing", headers=EN).text
    assert proofed.get("/proofing/face/selfie").status_code == 302  # closed: even the right face is not asked


def test_a_face_service_that_is_down_costs_no_attempt(app, proofed):
    class Down:
        def verify(self, selfie, reference):
            from idp import clock

            return FaceResult("unavailable", "unknown", None, ("face_service_unavailable",), "test", clock.utc_now())

    app.extensions["idp.face_verifier"] = Down()
    response = upload(proofed, "/proofing/face/selfie", "selfie", SOMCHAI_LIVE, "me.jpg", **EN)
    assert response.status_code == 503 and "not available now" in response.text
    assert the_case(app).checks["face_attempts"] == 0


@pytest.mark.parametrize("document, message", [
    (chip_document(cid="1999900001028"), "does not match the identity you verified"),
    (chip_document(birthdate="1985-03-15"), "does not match the identity you verified"),
    (chip_document(date_of_expiry="2020-01-01"), "has expired"),
    (b'{"format": "th-id-chip/1", "jws": "a.b.c"}', "could not confirm that your card"),
    (b"not json", "not a chip read"),
])
def test_a_chip_that_fails_is_shown_and_recorded(app, proofed, document, message):
    response = upload(proofed, "/proofing/face/chip", "chip", document, "chip.json", **EN)
    assert response.status_code == 400 and message in response.text
    assert 'href="#chip"' in response.text
    assert the_case(app).checks["chip"] == "invalid"
    upload(proofed, "/proofing/face/selfie", "selfie", SOMCHAI_LIVE, "me.jpg")
    assert identity(app).evidence[0]["checks"] == ["registry_data", "face", "liveness"]  # no chip


def test_no_file_chosen(app, proofed):
    for path, name, message in (("/proofing/face/chip", "chip", "Choose the file"),
                                ("/proofing/face/selfie", "selfie", "Choose a photo")):
        page = proofed.get(path)
        response = proofed.post(path, headers=EN, data={"csrf_token": csrf_of(page.text)})
        assert response.status_code == 400 and message in response.text


def test_uploads_need_the_csrf_token(app, proofed):
    response = proofed.post("/proofing/face/selfie", content_type="multipart/form-data",
                            data={"selfie": (io.BytesIO(SOMCHAI_LIVE), "me.jpg")})
    assert response.status_code == 400
    assert "face" not in the_case(app).checks


def test_the_upload_limit_is_raised_for_these_pages_only(app, proofed):
    big = b"\xff\xd8\xff\xe0" + b"x" * 200_000  # over the 64 KB of other forms: accepted here, and compared
    response = upload(proofed, "/proofing/face/selfie", "selfie", big, "me.jpg")
    assert response.status_code == 400 and the_case(app).checks["face"] == "no_match"
    page = proofed.get("/proofing")
    assert proofed.post("/proofing/withdraw", data={"csrf_token": csrf_of(page.text), "x": "x" * 100_000}
                        ).status_code == 413
    huge = b"x" * (app.config["UPLOAD_MAX_CONTENT_LENGTH"] + 1)  # raw bytes: the test client spools no file
    assert proofed.post("/proofing/face/selfie", data=huge,
                        content_type="multipart/form-data; boundary=b").status_code == 413


def test_not_offered_before_the_registry_check(app, client):
    make_user(app, "new@example.com")
    sign_in(client, "new@example.com")
    assert "Check my face" not in client.get("/proofing", headers=EN).text
    for path in ("/proofing/face/chip", "/proofing/face/selfie"):
        assert client.get(path).headers["Location"].startswith("/proofing")
        page = client.get("/proofing")
        response = client.post(path, content_type="multipart/form-data",
                               data={"csrf_token": csrf_of(page.text), "selfie": (io.BytesIO(SOMCHAI_LIVE), "a.jpg")})
        assert response.status_code == 302
    assert client.get("/proofing/face/chip", follow_redirects=False).status_code == 302


def test_chip_pages_are_off_without_issuer_keys(app, proofed):
    app.config["PROOFING_CHIP_ISSUERS_JWKS"] = None
    app.extensions.pop("idp.chip_issuers", None)
    assert proofed.get("/proofing/face").headers["Location"].startswith("/proofing/face/selfie")
    assert proofed.get("/proofing/face/chip").headers["Location"].startswith("/proofing")


def test_staff_read_the_new_checks_in_words(app):
    with app.test_request_context(headers=EN):
        assert vocabulary.check("face") == "Face comparison"
        assert vocabulary.check_value("match", "face") == "Same person as the card's photo"
        assert vocabulary.check_value("match", "registry") == "Matches the registry"  # unchanged
        assert vocabulary.check_value("valid", "chip") == "Genuine, and agrees with the registry"
        assert vocabulary.check_value(["face_mismatch"], "face_reasons") == "The selfie does not match the card " \
                                                                            "holder's photo"
        assert vocabulary.check_value(None, "chip_issuer") == "—"


def test_the_waiting_eservice_is_named_on_the_face_pages(app, proofed):
    rp = make_client(app, name="Land Office", trusted=True)
    _, challenge = pkce_pair()
    nxt = authorize_url(rp.client.client_id, challenge)
    page = proofed.get("/proofing/face/selfie?next=" + quote(nxt), headers=EN)
    assert "You are on your way to Land Office" in page.text
    assert f'name="next" value="{nxt}"'.replace("&", "&amp;") in page.text


def test_the_app_may_post_the_chip_read_as_json(app, proofed):
    page = proofed.get("/proofing/face/chip")
    token = csrf_of(page.text)
    response = proofed.post("/proofing/face/chip", data=chip_document(), content_type="application/json",
                            headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json["outcome"] == "valid"
    assert response.json["next"].startswith("/proofing/face/selfie")
    assert the_case(app).checks["chip"] == "valid"
    refused = proofed.post("/proofing/face/chip", data=chip_document(cid="1999900001028"),
                           content_type="application/json", headers={"X-CSRFToken": token})
    assert refused.status_code == 400 and refused.json == {"outcome": "invalid", "reason": "chip_data_mismatch",
                                                           "next": response.json["next"]}
    no_token = proofed.post("/proofing/face/chip", data=chip_document(), content_type="application/json")
    assert no_token.status_code == 400 and the_case(app).checks["chip"] == "invalid"


def test_an_identity_approved_before_checks_were_recorded_is_offered_the_step(app, proofed):
    with app.app_context():
        db = get_session()
        row = db.scalars(select(VerifiedIdentity)).one()
        row.evidence = [{k: v for k, v in row.evidence[0].items() if k != "checks"}]
        db.commit()
    upload(proofed, "/proofing/face/selfie", "selfie", SOMCHAI_LIVE, "me.jpg")
    assert identity(app).evidence[0]["checks"] == ["registry_data", "face", "liveness"]


def test_an_upload_is_held_in_memory_however_large(app):
    image = b"\xff\xd8\xff\xe0" + b"x" * 700_000  # werkzeug would spill anything over 500 KB to a file
    body = (b"--b\r\nContent-Disposition: form-data; name=\"selfie\"; filename=\"me.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" + image + b"\r\n--b--\r\n")
    with app.test_request_context("/proofing/face/selfie", method="POST", data=body,
                                  content_type="multipart/form-data; boundary=b"):
        request.max_content_length = app.config["UPLOAD_MAX_CONTENT_LENGTH"]  # as idp.request_guard sets it
        storage = request.files["selfie"]
        assert isinstance(storage.stream, io.BytesIO) and storage.read() == image


def test_a_selfie_over_half_a_megabyte_is_compared_not_refused(app, proofed):
    token = csrf_of(proofed.get("/proofing/face/selfie").text).encode()
    image = b"\xff\xd8\xff\xe0" + b"x" * 700_000
    body = (b"--b\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + token + b"\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"selfie\"; filename=\"me.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" + image + b"\r\n--b--\r\n")
    response = proofed.post("/proofing/face/selfie", data=body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 400 and the_case(app).checks["face"] == "no_match"
