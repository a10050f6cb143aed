"""Bad input stops at the door, once, before any view, service or database sees it.

A body over ``MAX_CONTENT_LENGTH`` gets 413, and a NUL character in the path, the query, the
form or a JSON body gets 400 (PostgreSQL cannot store one; the error handlers in
:mod:`idp.errors` answer protocol routes with OAuth JSON and people with a page). This runs on
every request, unknown paths included, and before CSRF protection, which reads the form.
Route ids (``<int:...>``) stop at the integer columns' range, and JSON bodies nested past
Python's recursion limit are bad JSON. The database boundary (:func:`idp.db._refuse_unstorable`)
catches what arrives inside tokens. See docs/security.md, section "input".
"""

from __future__ import annotations

import io
from typing import IO
from typing import Any

from flask import Flask
from flask import Request
from flask import current_app
from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from idp.db import INTEGER_MAX
from idp.errors import NulCharacter

NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Views that take a file upload (a selfie, a card's chip data): ``UPLOAD_MAX_CONTENT_LENGTH`` applies
# to their POSTs instead of ``MAX_CONTENT_LENGTH``. Blueprints add their endpoints (``allow_upload``).
UPLOAD_ENDPOINTS: set[str] = set()


def allow_upload(endpoint: str) -> None:
    """Let ``endpoint`` receive bodies up to ``UPLOAD_MAX_CONTENT_LENGTH``."""
    UPLOAD_ENDPOINTS.add(endpoint)


class InMemoryRequest(Request):
    """Flask's request, but an uploaded file stays in memory: werkzeug would spill one over 500 KB to a
    temporary file, and a selfie or a card's photo must never reach a disk (docs/face-api.md). Bodies
    are capped (``MAX_CONTENT_LENGTH``, ``UPLOAD_MAX_CONTENT_LENGTH``), so memory is bounded."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return io.BytesIO()


class RowId(IntegerConverter):
    """``<int:...>`` in routes: a row id, so at most PostgreSQL's ``integer`` (what ``Mapped[int]``
    primary keys are). A larger number is no row: 404, not a query that cannot be bound."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = INTEGER_MAX,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class RequestJSON(DefaultJSONProvider):
    """Flask's JSON, where a body nested past Python's recursion limit is bad JSON (a
    ``ValueError``: ``get_json`` answers 400, or ``None`` when silent), not a ``RecursionError``.
    64 KB of ``[`` is enough to reach the limit."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def has_nul(value: Any) -> bool:
    """Whether a JSON value holds NUL in any string, key or not."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def refuse_bad_input() -> None:
    """:raises RequestEntityTooLarge: the declared body is over the limit (a body without a
        declared length is cut off at the limit when it is read)
    :raises NulCharacter: a NUL anywhere a view could read it
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.method == "POST" and request.url_rule is not None and request.url_rule.endpoint in UPLOAD_ENDPOINTS:
        limit = int(current_app.config.get("UPLOAD_MAX_CONTENT_LENGTH") or limit)
        request.max_content_length = limit
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if NUL in request.path or _multidict_has_nul(request.args):
        raise NulCharacter()
    if request.mimetype in FORM_TYPES:
        if _multidict_has_nul(request.form):
            raise NulCharacter()
    elif request.is_json and has_nul(request.get_json(silent=True)):
        raise NulCharacter()


def _multidict_has_nul(data: Any) -> bool:
    return any(NUL in key or NUL in value for key, value in data.items(multi=True))


def init_app(app: Flask) -> None:
    """Register before anything that reads the request (CSRF protection, blueprints' routes)."""
    app.url_map.converters["int"] = RowId
    app.request_class = InMemoryRequest
    app.json = RequestJSON(app)
    app.before_request(refuse_bad_input)
