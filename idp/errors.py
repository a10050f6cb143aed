"""Error pages for people, OAuth-style JSON for protocol routes, and never a traceback."""

from __future__ import annotations

import logging

from authlib.integrations.flask_oauth2.errors import _HTTPException as AuthlibHTTPException
from flask import Flask
from flask import Response
from flask import jsonify
from flask import render_template
from flask import request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError
from werkzeug.exceptions import ServiceUnavailable

from idp.db import UnstorableValue

log = logging.getLogger(__name__)

PROTOCOL_PREFIXES = ("/token", "/userinfo", "/introspect", "/revoke", "/jwks", "/.well-known", "/register")

ERROR_CODES = {400: "invalid_request", 401: "invalid_client", 404: "not_found",
               405: "invalid_request", 413: "invalid_request", 415: "invalid_request",
               503: "temporarily_unavailable"}
RETRY_AFTER_SECONDS = 5


class InputError(BadRequest):
    """Bad input the IdP recognised: a relying party reads :attr:`description` (English, the
    characters RFC 6749 §5.2 allows in ``error_description``), a person reads :meth:`message`
    in their language."""

    def message(self) -> str:
        raise NotImplementedError


class NulCharacter(InputError):
    """A NUL character in the path, the query, the form or a JSON body.

    PostgreSQL cannot store NUL in text and refuses the whole statement; SQLite would keep it.
    Refused before any view reads the request, so both databases answer alike and nothing is
    half-written.
    """

    description = "The request contains a NUL character (0x00), which no parameter may contain."

    def message(self) -> str:
        return _("The request contains a character that is not allowed (NUL). Check what was entered and try again.")


class NumberOutOfRange(InputError):
    """A number beyond what the database can store (PostgreSQL ``integer``, 32 bits)."""

    description = "A number in the request is too large."

    def message(self) -> str:
        return _("A number in the request is too large.")


def _is_protocol() -> bool:
    return request.path.startswith(PROTOCOL_PREFIXES)


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        403: _("You do not have access to this page."),
        404: _("This page does not exist."),
        405: _("This address does not accept that kind of request."),
        413: _("The request is too large."),
        500: _("Something went wrong on our side. Please try again."),
        503: _("The service is briefly unavailable. Please try again in a moment."),
    }


def _default_message(status: int) -> str:
    return _messages().get(status, _("The request could not be completed."))


def render_error(status: int, message: str | None = None, *, title: str | None = None) -> tuple[str, int]:
    text = message or _default_message(status)
    return render_template("errors/error.html", status=status, title=title, message=text), status


def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
    """The error as JSON on protocol routes, as a page for people.

    Nothing here reads the request body: the error may be about that very body (413), and
    reading it again would raise again.
    """
    if isinstance(exc, AuthlibHTTPException):
        return exc.get_response()  # a protocol error Authlib already shaped (with WWW-Authenticate)
    status = exc.code or 500
    error = ERROR_CODES.get(status, "server_error" if status >= 500 else "invalid_request")
    message = exc.message() if isinstance(exc, InputError) else None
    if _is_protocol():
        body = {"error": error}
        if isinstance(exc, InputError):
            body["error_description"] = str(exc.description)
        return _json(body, status)
    if request.is_json:  # a page's script (the WebAuthn ceremonies) shows ``message`` to the person
        return _json({"error": error, "message": message or _default_message(status)}, status)
    return render_error(status, message)


def _json(body: dict[str, str], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _unstorable(exc: UnstorableValue) -> Response | tuple[str, int]:
    """A value the database cannot hold reached it from somewhere the request check cannot see
    (inside a token or an assertion, say): the same 400 as the request check's."""
    return _http_error(NulCharacter() if exc.nul else NumberOutOfRange())


def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return render_error(400, _("This form has expired. Go back, reload the page and try again."))


def _unexpected(exc: Exception) -> Response | tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _http_error(InternalServerError())


def _database_unreachable(exc: DBAPIError) -> Response | tuple[str, int]:
    """The database went away (a restart, a failover, the network): 503 with Retry-After, so that
    nginx tries another instance for a GET and clients retry, instead of a 500 and a stack trace
    per request while it is down. The pool's pre-ping reconnects once it is back. Any other
    database error is a bug and stays a 500."""
    if not exc.connection_invalidated and not _is_disconnect(exc):
        raise exc  # handled as any unexpected error (a 500, logged with its traceback)
    log.warning("database unreachable on %s %s: %s", request.method, request.path, type(exc.orig).__name__)
    response = _http_error(ServiceUnavailable())
    if isinstance(response, tuple):
        response = Response(response[0], status=response[1], mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _is_disconnect(exc: DBAPIError) -> bool:
    # SQLAlchemy marks the dropped connections it recognises (connection_invalidated) but not a
    # refused connect; psycopg raises OperationalError for both. SQLite's OperationalError is about
    # the file or the statement (locked, no such table), never the network: not this case.
    return any(cls.__module__.startswith("psycopg") and cls.__name__ == "OperationalError"
               for cls in type(exc.orig).__mro__)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DBAPIError, _database_unreachable)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(UnstorableValue, _unstorable)
    app.register_error_handler(HTTPException, _http_error)
    if not app.testing:
        app.register_error_handler(Exception, _unexpected)
