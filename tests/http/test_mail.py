"""Mail: multipart/alternative with quoted-printable parts, and a readable .txt beside each .eml."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from tests.flows import csrf_of

TH = {"Accept-Language": "th"}


def _signup(client, address="new@example.com"):
    page = client.get("/signup", headers=TH)
    return client.post("/signup", headers=TH, data={"email": address, "name": "Malee", "password": "plenty long phrase",
                                                    "csrf_token": csrf_of(page.text)})


def test_a_message_is_multipart_alternative_with_quoted_printable_text_and_html(app, client):
    assert _signup(client).status_code == 302
    [path] = sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))
    raw = path.read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in parts)
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert b"base64" not in raw
    plain, html = (p.get_content() for p in parts)
    link = next(word for word in plain.split() if "/verify-email/" in word)
    assert f'<a href="{link}">' in html and '<html lang="th">' in html
    assert "ยืนยัน" in plain  # Thai, decoded
    assert b"http://localhost/verify-email/" in raw  # the link stays legible in the raw message
    assert message["Message-ID"] and message["Date"]


def test_the_outbox_keeps_a_readable_txt_of_each_message(app, client):
    _signup(client)
    outbox = Path(app.config["MAIL_OUTBOX_DIR"])
    [eml] = sorted(outbox.glob("*.eml"))
    txt = eml.with_suffix(".txt")
    text = txt.read_text(encoding="utf-8")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert f"Subject: {message['Subject']}\n" in text and "To: new@example.com\n" in text
    assert message.get_body(("plain",)).get_content() in text
    assert "ยืนยัน" in text and "=E0=B8" not in text
