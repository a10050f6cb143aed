"""A pluggable mailer: files in an outbox folder by default (dev, demo, tests), SMTP by configuration.

Every message is ``multipart/alternative``: the text the caller wrote as ``text/plain`` and the same
text as simple HTML (paragraphs, links made clickable), both ``quoted-printable`` so that links,
codes and English stay legible in the raw message (base64 would hide all of it). Thai letters are
still ``=E0=B8=..`` escapes there, so the outbox also keeps a ``.txt`` of each message beside its
``.eml``: headers decoded and the plain text as it reads, for ``cat`` during development.
"""

from __future__ import annotations

import re
import smtplib
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate
from email.utils import make_msgid
from pathlib import Path

from flask import current_app
from flask_babel import get_locale
from markupsafe import escape

_LINK = re.compile(r"https?://[^\s<>\"]+")


def send_mail(to: str, subject: str, body: str) -> None:
    msg = compose(to=to, subject=subject, body=body, sender=current_app.config["MAIL_FROM"], lang=_language())
    if current_app.config["MAIL_BACKEND"] == "smtp":
        _send_smtp(msg)
    else:
        _send_outbox(msg, Path(current_app.config["MAIL_OUTBOX_DIR"]))


def _language() -> str:
    """The language the words were written in (``lang`` of the HTML part)."""
    try:
        locale = get_locale()
    except RuntimeError:  # a command outside any request, without force_locale
        locale = None
    return str(locale or current_app.config["BABEL_DEFAULT_LOCALE"])


def compose(*, to: str, subject: str, body: str, sender: str, lang: str = "th") -> EmailMessage:
    """The message: plain text and HTML alternatives of ``body``, quoted-printable."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html_of(body, lang=lang), subtype="html", charset="utf-8", cte="quoted-printable")
    for part in msg.iter_parts():
        del part["MIME-Version"]  # belongs on the message only (RFC 2045 §4)
    return msg


def html_of(body: str, *, lang: str) -> str:
    """The plain text as HTML: blank lines part paragraphs, links become anchors, nothing else."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    parts = []
    for paragraph in paragraphs:
        html = ""
        last = 0
        for match in _LINK.finditer(paragraph):
            html += str(escape(paragraph[last:match.start()]))
            url = escape(match.group(0))
            html += f'<a href="{url}">{url}</a>'
            last = match.end()
        html += str(escape(paragraph[last:]))
        parts.append("<p>" + html.replace("\n", "<br>\n") + "</p>")
    return (f'<!doctype html>\n<html lang="{escape(lang)}">\n<head><meta charset="utf-8"></head>\n<body>\n'
            + "\n".join(parts) + "\n</body>\n</html>\n")


def readable(msg: EmailMessage) -> str:
    """Headers decoded and the plain text part as it reads (the outbox's ``.txt``)."""
    plain = msg.get_body(preferencelist=("plain",))
    text = plain.get_content() if plain is not None else ""
    head = "".join(f"{name}: {msg[name]}\n" for name in ("Date", "From", "To", "Subject") if msg[name])
    return head + "\n" + text


def _send_outbox(msg: EmailMessage, outbox: Path) -> None:
    outbox.mkdir(parents=True, exist_ok=True)
    stem = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
    (outbox / f"{stem}.txt").write_text(readable(msg), encoding="utf-8")
    # The .eml last: readers that poll for it find the .txt already there.
    (outbox / f"{stem}.eml").write_bytes(bytes(msg))


def _send_smtp(msg: EmailMessage) -> None:
    cfg = current_app.config
    with smtplib.SMTP(cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]), timeout=10) as smtp:
        if cfg["SMTP_STARTTLS"]:
            smtp.starttls()
        if cfg["SMTP_USERNAME"]:
            smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
        smtp.send_message(msg)
