"""Bad input stops at the door, once, before any view or service reads it.

A body over ``MAX_CONTENT_LENGTH`` gets 413 (the error handlers in :mod:`idp.errors` answer
protocol routes with OAuth JSON and people with a page). This runs on every request, unknown
paths included, and before CSRF protection, which reads the form. See docs/security.md,
section "input".
"""

from __future__ import annotations

from flask import Flask
from flask import current_app
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge


def refuse_bad_input() -> None:
    """:raises RequestEntityTooLarge: the declared body is over the limit (a body without a
        declared length is cut off at the limit when it is read)
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def init_app(app: Flask) -> None:
    """Register before anything that reads the request (CSRF protection, blueprints' routes)."""
    app.before_request(refuse_bad_input)
