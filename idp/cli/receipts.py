"""``idp receipts verify FILE [--jwks FILE_OR_URL]``: check a consent receipt offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.cli import emit
from idp.cli import fail


@click.group("receipts")
def receipts_group() -> None:
    """Consent receipts (signed JWS, see docs/privacy.md)."""


def _jwks(source: str | None) -> dict[str, Any]:
    """The keys to check against: a file, a URL fetched through the guarded fetcher, or this IdP's own."""
    if source is None:
        keys: dict[str, Any] = current_app.extensions["idp.keyring"].jwks()
        return keys
    if source.startswith(("https://", "http://")):
        from idp import outbound

        try:
            value = outbound.fetcher().fetch_json(source, media_types=outbound.JWK_SET)
        except outbound.FetchError as exc:
            fail(f"could not fetch the JWKS: {exc}")
    else:
        try:
            value = json.loads(Path(source).read_text(encoding="utf-8"))
        except OSError as exc:
            fail(f"could not read the JWKS file: {exc.strerror or exc}")
        except ValueError:
            fail(f"{source} is not a JSON file")
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        fail("the JWKS is not a JSON Web Key Set (an object with \"keys\")")
    return dict(value)


@receipts_group.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_source", metavar="FILE_OR_URL",
              help="the issuer's JWKS: a file, or its URL (default: this IdP's published keys)")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def verify_command(file: Path, jwks_source: str | None, as_json: bool) -> None:
    """Check the signature of a consent receipt (.jws or .json) and print what it records.

    Exits 0 when it verifies; otherwise prints why on stderr and exits 1.
    """
    from idp.disclosure import receipts

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"could not read {file}: {getattr(exc, 'strerror', None) or exc}")
    try:
        verified = receipts.verify(text, _jwks(jwks_source))
    except receipts.ReceiptError as exc:
        fail(f"not a valid consent receipt: {exc}")
    emit({"valid": True, "kid": verified.kid, "alg": verified.alg, **receipts.summary(verified.claims)}, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(receipts_group)
