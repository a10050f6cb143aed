"""The public service catalogue (/services): active e-Services only, what each asks for and the
assurance each needs in plain words, and nothing an attacker could use."""

from flask import Flask
from flask.testing import FlaskClient

from idp.db import get_session
from idp.oidc.catalogue import assurance_words
from idp.oidc.models import Client
from tests.factories import REDIRECT_URI
from tests.factories import make_client

EN = {"Accept-Language": "en"}


def disable(app: Flask, client_id: str) -> None:
    with app.app_context():
        db = get_session()
        row = db.query(Client).filter_by(client_id=client_id).one()
        row.active = False
        db.commit()


def test_lists_active_services_by_name_and_never_disabled_ones(app: Flask, client: FlaskClient) -> None:
    make_client(app, name="Tax filing")
    make_client(app, name="Business registration")
    gone = make_client(app, name="Retired pension portal")
    disable(app, gone.client.client_id)

    page = client.get("/services", headers=EN).text

    assert "Tax filing" in page and "Business registration" in page
    assert page.index("Business registration") < page.index("Tax filing")
    assert "Retired pension portal" not in page


def test_assurance_in_plain_words(app: Flask, client: FlaskClient) -> None:
    make_client(app, name="Land office", default_acr_values=["urn:th:digitalid:ial1:aal2"])
    make_client(app, name="Social security", default_acr_values=["urn:th:digitalid:ial2:aal1"])
    make_client(app, name="Library card")

    page = client.get("/services", headers=EN).text
    land, social, library = (page.index(n) for n in ("Land office", "Social security", "Library card"))
    # Sorted: Land office, Library card, Social security.
    land_part, library_part, social_part = page[land:library], page[library:social], page[social:]

    assert "Two-step sign-in: a second factor or a passkey" in land_part
    assert "Verified identity:" not in land_part
    assert "Verified identity: your national ID card" in social_part.split("What the levels mean")[0]
    assert "Any sign-in" in library_part and "Two-step" not in library_part
    services = page.split("What the levels mean")[0]
    assert "IAL" not in services and "AAL" not in services  # codes only in the glossary below


def test_assurance_words_for_unknown_and_several_values(app: Flask) -> None:
    with app.test_request_context(headers=EN):
        assert assurance_words([]) == [["Any sign-in"]]
        assert assurance_words(["urn:example:other"]) == [["Any sign-in"]]
        both = assurance_words(["urn:th:digitalid:ial2:aal2", "urn:th:digitalid:ial3:aal3"])
        assert len(both) == 2 and len(both[0]) == 2 and "hardware security key" in both[1][1]


def test_what_each_asks_for(app: Flask, client: FlaskClient) -> None:
    make_client(app, name="Email only", scope="openid email offline_access")
    make_client(app, name="With national ID", scope="openid profile", national_id_allowed=True)

    page = client.get("/services", headers=EN).text
    split = page.index("With national ID")
    email_part, nid_part = page[page.index("Email only"):split], page[split:].split("What the levels mean")[0]

    assert "Your email address and whether it is verified" in email_part
    assert "Your name and profile details" not in email_part
    assert "Keep access while you are signed out" not in page  # offline_access is not listed
    assert "openid" not in email_part
    assert "national ID number, with your consent" not in email_part
    assert "Your name and profile details" in nid_part
    assert "national ID number, with your consent" in nid_part


def test_no_client_ids_redirect_uris_or_secrets(app: Flask, client: FlaskClient) -> None:
    new = make_client(app, name="Tax filing")
    assert new.client_secret

    page = client.get("/services", headers=EN).text

    assert "Tax filing" in page
    assert new.client.client_id not in page
    assert new.client_secret not in page
    assert REDIRECT_URI not in page and "rp.example" not in page


def test_explains_levels_and_protection(client: FlaskClient) -> None:
    page = client.get("/services", headers=EN).text
    for word in ("IAL1", "IAL2", "IAL3", "AAL1", "AAL2", "AAL3", "How your data is protected",
                 "different identifier", 'href="/my-data"'):
        assert word in page


def test_thai_by_default_english_on_request_and_cacheable(client: FlaskClient) -> None:
    thai = client.get("/services")
    assert thai.status_code == 200 and '<html lang="th">' in thai.text

    english = client.get("/services", headers=EN)
    assert english.status_code == 200 and english.mimetype == "text/html"
    assert '<html lang="en">' in english.text
    assert "e-Services that use this ID" in english.text
    assert english.headers["Cache-Control"] == "private, max-age=300"
    assert "Accept-Language" in english.headers["Vary"]


def test_linked_from_every_page(client: FlaskClient) -> None:
    assert 'href="/services"' in client.get("/", headers=EN).text


def test_a_thai_reader_sees_the_thai_name_and_the_logo(app, client):
    make_client(app, name="Land Office", name_th="สำนักงานที่ดิน", logo_uri="https://land.example.go.th/logo.png")
    thai = client.get("/services", headers={"Accept-Language": "th"})
    assert "สำนักงานที่ดิน" in thai.text and "Land Office" not in thai.text
    assert 'src="https://land.example.go.th/logo.png"' in thai.text
    assert "img-src 'self' data: https:" in thai.headers["Content-Security-Policy"]
    english = client.get("/services", headers={"Accept-Language": "en"})
    assert "Land Office" in english.text and "สำนักงานที่ดิน" not in english.text


def test_the_consent_page_names_the_e_service_in_thai_for_a_thai_reader(app, client):
    from tests.factories import make_user
    from tests.flows import authorize_url
    from tests.flows import pkce_pair
    from tests.flows import sign_in

    make_user(app)
    rp = make_client(app, name="Land Office", name_th="สำนักงานที่ดิน")
    sign_in(client)
    _, challenge = pkce_pair()
    page = client.get(authorize_url(rp.client.client_id, challenge, ui_locales="th"))
    assert page.status_code == 200 and "สำนักงานที่ดิน" in page.text and "Land Office" not in page.text
