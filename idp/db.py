"""Database wiring: the declarative base, shared column types and one session per request.

Alembic owns the schema (``idp init`` / ``idp db upgrade``); nothing here creates tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Annotated
from typing import Any

from flask import Flask
from flask import current_app
from flask import g
from sqlalchemy import JSON
from sqlalchemy import DateTime
from sqlalchemy import Engine
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import TypeDecorator
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker

from idp import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> dt.datetime:
    return clock.utc_now()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


# Every integer column is PostgreSQL's ``integer`` (``Mapped[int]``; no BigInteger anywhere,
# tests/unit/test_db_boundary.py), so no integer beyond it can be stored or even compared with one.
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1


class UnstorableValue(ValueError):
    """A bound parameter that the backends cannot take alike, refused before it is sent.

    PostgreSQL refuses a NUL character in text, and an integer beyond its ``integer`` compared
    with an integer column ("integer out of range"), and so the whole statement; SQLite keeps
    the NUL, and cannot bind an integer beyond 64 bits (``OverflowError``). Each would be a 500 on
    one backend and not on the other. The message never holds the value.
    """

    def __init__(self, *, nul: bool) -> None:
        super().__init__("a NUL character in a text parameter" if nul else "an integer parameter beyond 32 bits")
        self.nul = nul


def parse_row_id(text: str | None) -> int | None:
    """A row id typed into a form or a query: ASCII digits within the column's range, else
    ``None`` (no such row). ``str.isdigit`` alone lets through ``"²"``, which ``int`` refuses."""
    if not text or len(text) > 10 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= INTEGER_MAX else None


def _refuse_unstorable(_conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any,
                       _executemany: bool) -> None:
    """The database boundary's check: the request check (:mod:`idp.request_guard`) sees the
    path, query, form and JSON; this sees what came out of tokens, assertions and headers too,
    and numbers a view parsed without :func:`parse_row_id`."""
    for value in _bound_values(parameters):
        if isinstance(value, str):
            if "\x00" in value:
                raise UnstorableValue(nul=True)
        elif isinstance(value, int) and not INTEGER_MIN <= value <= INTEGER_MAX:
            raise UnstorableValue(nul=False)


def _without_values(context: ExceptionContext) -> None:
    """Keep only the first line of a database error's message.

    ``hide_parameters`` leaves out the statement's parameters, but PostgreSQL quotes values
    itself in the lines after the first (``DETAIL:  Key (email)=(someone@example.com) already
    exists.``), in the driver's exception and so in SQLAlchemy's, which wraps it and chains it.
    The driver's ``diag`` still holds every field for code that needs one.
    """
    if context.sqlalchemy_exception is None:
        return
    for exc in (context.original_exception, context.sqlalchemy_exception):
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (exc.args[0].split("\n", 1)[0], *exc.args[1:])


def _bound_values(parameters: Any) -> Iterator[Any]:
    """Every value in one row, a batch of rows (``executemany``, insertmanyvalues) or an array."""
    if isinstance(parameters, Mapping):
        parameters = list(parameters.values())
    if not isinstance(parameters, (list, tuple)):
        return
    for item in parameters:
        if isinstance(item, (Mapping, list, tuple)):
            yield from _bound_values(item)
        else:
            yield item


Created = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=utc_now)]
Hash = Annotated[str, mapped_column(String(64))]


def make_engine(url: str) -> Engine:
    """An engine with foreign keys enforced on SQLite and psycopg 3 for ``postgresql://`` URLs.

    ``hide_parameters``: a failing statement's error (and so the log line that reports it) never
    shows the bound values, which are emails, names, token hashes and national IDs; nor does the
    server's own message (:func:`_without_values`). :func:`_refuse_unstorable` checks each
    statement's values before they are sent.
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 30}}
    engine = create_engine(url, hide_parameters=True, **kwargs)
    event.listen(engine, "before_cursor_execute", _refuse_unstorable)
    event.listen(engine, "handle_error", _without_values)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    # The session says how audit events join the hash chain (idp.audit.chain: inline or deferred).
    app.extensions["idp.db"] = sessionmaker(engine, expire_on_commit=False,
                                            info={"audit_sealing": app.config["AUDIT_SEALING"]})
    app.teardown_appcontext(_close_session)


def engine_of(app: Flask) -> Engine:
    factory: sessionmaker[Session] = app.extensions["idp.db"]
    bind = factory.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


def get_session() -> Session:
    """The request's session; rolled back (if left open) and closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["idp.db"]()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
