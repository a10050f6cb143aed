"""Thai and English: ui_locales, then the person's choice, then Accept-Language."""

from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import csrf_of
from tests.flows import pkce_pair


def test_default_is_thai(client):
    page = client.get("/signin").text
    assert '<html lang="th">' in page and "เข้าสู่ระบบ" in page


def test_accept_language_english(client):
    page = client.get("/signin", headers={"Accept-Language": "en-GB,en;q=0.8"}).text
    assert '<html lang="en">' in page and "Sign in" in page


def test_ui_locales_wins_over_accept_language_and_carries_to_sign_in(app, client):
    make_user(app)
    rp = make_client(app)
    _, challenge = pkce_pair()
    response = client.get(authorize_url(rp.client.client_id, challenge, ui_locales="en-US th"),
                          headers={"Accept-Language": "th"})
    page = client.get(response.headers["Location"], headers={"Accept-Language": "th"}).text
    assert '<html lang="en">' in page


def test_language_switch_is_remembered(client):
    page = client.get("/signin").text
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_of(page), "next": "/signin"})
    assert '<html lang="en">' in client.get("/signin", headers={"Accept-Language": "th"}).text


def test_every_thai_message_is_translated():
    from pathlib import Path

    po = (Path(__file__).parents[2] / "idp/translations/th/LC_MESSAGES/messages.po").read_text()
    blocks = po.split("\n\n")[1:]
    untranslated = [b for b in blocks if 'msgstr ""' in b and b.strip().endswith('msgstr ""')]
    assert not untranslated
    assert "#, fuzzy" not in po.split("\n\n", 1)[1]


def test_catalogue_covers_every_string_in_the_code(tmp_path):
    """Extracting again finds no message the Thai catalogue lacks, and the compiled catalogue is current."""
    import subprocess
    import sys
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).parents[2]
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
                    "-k", "lazy_gettext", "-o", str(pot), "."], cwd=root, check=True, capture_output=True)
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    po_path = root / "idp/translations/th/LC_MESSAGES/messages.po"
    with po_path.open("rb") as fh:
        catalogue = {m.id: m.string for m in read_po(fh) if m.id}
    assert wanted - catalogue.keys() == set()
    with po_path.with_suffix(".mo").open("rb") as fh:
        # read_mo gives plural ids and forms as lists, read_po as tuples
        compiled = {_tuple(m.id): _tuple(m.string) for m in read_mo(fh) if m.id}
    assert {k: catalogue[k] for k in wanted} == {k: compiled.get(k) for k in wanted}


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value


def test_consent_page_in_thai(app, client):
    from tests.flows import sign_in

    make_user(app)
    rp = make_client(app)
    sign_in(client)
    _, challenge = pkce_pair()
    page = client.get(authorize_url(rp.client.client_id, challenge)).text
    assert "อีเมลของคุณ" in page and "อนุญาต" in page
