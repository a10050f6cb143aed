"""HTTP hygiene: security headers on every response, proxy headers, and safe local redirects."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import current_app
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def security_headers(issuer: str) -> list[tuple[str, str]]:
    """The headers every response carries (also the prepared documents, :mod:`idp.prepared`)."""
    headers = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        # Authorization responses carry codes in URLs: never leak them through Referer.
        ("Referrer-Policy", "no-referrer"),
    ]
    if issuer.startswith("https://"):
        headers.append(("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))
    return headers


def _security_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in security_headers(current_app.config["ISSUER"]):
        headers.setdefault(name, value)
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to continue to; anything else (``//evil``, ``https://...``) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def init_app(app: Flask) -> None:
    app.after_request(_security_headers)
    hops = int(app.config["TRUST_PROXY"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
