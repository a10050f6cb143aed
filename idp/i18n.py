"""Thai and English: ``ui_locales`` first, then the person's choice, then ``Accept-Language``."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from flask import Flask
from flask import current_app
from flask import g
from flask import has_request_context
from flask import request
from flask import session
from flask_babel import get_locale
from flask_babel import get_timezone

from idp.accounts.models import User
from idp.extensions import babel


def select_locale() -> str | None:
    """The language of this response.

    ``ui_locales`` is read from the query string only, never the body: a POSTed authorization
    request continues as a GET (``oidc.views``), and the locale is also chosen for the error
    page about a body that could not be read (413), which must not read it again.
    """
    if not has_request_context():  # a command or a background job: the default language
        return None
    languages: list[str] = current_app.config["LANGUAGES"]
    # OIDC Core §3.1.2.1 ui_locales: space-separated BCP 47 tags in preference order.
    for tag in (request.args.get("ui_locales") or session.get("ui_locales") or "").split():
        base = tag.split("-")[0].lower()
        if base in languages:
            return base
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> dt.tzinfo | None:
    """The signed-in person's own zone (``accounts.session.current`` puts it in ``g``) when it is a
    known one; else ``None``: ``BABEL_DEFAULT_TIMEZONE`` (Asia/Bangkok)."""
    zone = g.get("time_zone")
    if not isinstance(zone, str) or not zone:
        return None
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def locale_of(user: User) -> str:
    """The language to write to a person in when they are not the one making the request (an
    email an officer's or support's action sends): theirs, not the staff member's."""
    if user.locale and user.locale in current_app.config["LANGUAGES"]:
        return user.locale
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def init_app(app: Flask) -> None:
    from idp import wording

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["get_timezone"] = get_timezone
    wording.register(app)
