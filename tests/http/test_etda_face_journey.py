"""An e-Service asks for ETDA IAL 2.3 (``essential`` acr). A citizen proofed remotely on the
registry's data alone (ETDA 1.3 by the shipped policy) is sent to proofing in the same journey, reads
the card's chip and checks the face there (the face verifier's file fixture, the test card issuer),
and goes back to the e-Service, which now gets a code and ``acr`` ``urn:th:digitalid:ial:2.3``."""

from __future__ import annotations

import html
import io
import json
import re

import pytest

from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import pkce_pair
from tests.flows import sign_in
from tests.http.test_assurance import callback
from tests.http.test_assurance import follow
from tests.http.test_assurance import id_token_of
from tests.http.test_proofing import confirm
from tests.http.test_proofing import last_code
from tests.http.test_proofing import submit
from tests.support.chips import ISSUERS_JWKS
from tests.support.chips import SOMCHAI_LIVE
from tests.support.chips import chip_document

IAL23 = "urn:th:digitalid:ial:2.3"
EN = {"Accept-Language": "en"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PROOFING_CHIP_ISSUERS_JWKS": str(ISSUERS_JWKS)}


def _link(page, text: str) -> str:
    found = re.search(r'<a[^>]+href="([^"]+)"[^>]*>\s*' + re.escape(text), page.text)
    assert found, f"no link {text!r} on {page.request.path}:\n{page.text}"
    return html.unescape(found.group(1))


def _upload(client, url, name, data, filename):
    page = client.get(url, headers=EN)
    assert page.status_code == 200, page.text
    upload_form = re.search(r'<form[^>]+action="([^"]+)"[^>]+multipart/form-data.*?</form>', page.text, re.S)
    assert upload_form, page.text
    nxt = re.search(r'name="next" value="([^"]*)"', upload_form.group(0))
    return client.post(html.unescape(upload_form.group(1)), content_type="multipart/form-data",
                       data={"next": html.unescape(nxt.group(1)) if nxt else "", "csrf_token": csrf_of(page.text),
                             name: (io.BytesIO(data), filename)})


def test_the_face_step_in_the_journey_raises_a_remote_case_to_ial_2_3(app, client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the links are found by their English text
    make_user(app, "somchai@example.com")
    rp = make_client(app, trusted=True)
    sign_in(client, "somchai@example.com")
    submit(client)
    confirm(client, last_code(app))  # proofed remotely on the registry's data: ETDA 1.3

    verifier, challenge = pkce_pair()
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": [IAL23]}}})
    page = follow(client, client.get(authorize_url(rp.client.client_id, challenge, claims=claims), headers=EN))
    assert page.status_code == 200 and page.request.path == "/proofing", page.request.path
    assert "etda_ial=2.3" in page.request.url

    step = follow(client, client.get(_link(page, "Check my face"), headers=EN))
    assert step.request.path == "/proofing/face/chip"
    read = _upload(client, step.request.full_path, "chip", chip_document(), "chip.json")
    assert read.status_code == 302, read.text
    selfie_page = read.headers["Location"]
    assert selfie_page.startswith("/proofing/face/selfie")
    done = _upload(client, selfie_page, "selfie", SOMCHAI_LIVE, "me.jpg")
    assert done.status_code == 302, done.text

    # The level is reached: the journey goes on to the waiting e-Service by itself.
    back = follow(client, client.get(done.headers["Location"]))
    params = callback(back)
    assert "code" in params, params
    _, id_claims = id_token_of(client, rp, params["code"], verifier)
    assert id_claims["acr"] == IAL23
