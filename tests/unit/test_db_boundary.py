"""The database boundary: what a statement may carry, and what its errors may say
(docs/security.md, section "input"). On SQLite and on PostgreSQL (IDP_TEST_DATABASE_URL)."""

import logging

import pytest
from sqlalchemy import BigInteger
from sqlalchemy import Integer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.db import INTEGER_MAX
from idp.db import UnstorableValue
from idp.db import get_session
from idp.db import parse_row_id
from idp.models import Base
from idp.models import User
from tests.factories import make_user

EMAIL = "leak-check@example.com"


def test_a_failing_statement_logs_no_values(app, caplog):
    """``hide_parameters`` leaves the bound values out of SQLAlchemy's message, and PostgreSQL's
    ``DETAIL: Key (email)=(...)`` is cut from the driver's message, which is chained to it."""
    make_user(app, EMAIL, name="Leak Check Name")
    with app.app_context():
        db = get_session()
        db.add(User(email=EMAIL, name="Leak Check Name", subject_seed="seed-for-the-leak-check"))
        with pytest.raises(IntegrityError):
            try:
                db.commit()
            except IntegrityError:
                logging.getLogger("idp.errors").exception("unhandled error on POST /signup")  # as errors.py does
                raise
        db.rollback()
    assert "unhandled error" in caplog.text and "users" in caplog.text  # the statement is still there
    for value in (EMAIL, "Leak Check Name", "seed-for-the-leak-check"):
        assert value not in caplog.text
    assert "SQL parameters hidden" in caplog.text


@pytest.mark.parametrize(("value", "nul"), [("a\x00b", True), (INTEGER_MAX + 1, False), (-(2**31) - 1, False),
                                            (10**20, False)])
def test_values_no_backend_stores_alike_are_refused_before_they_are_sent(app, value, nul):
    column = User.email if nul else User.id
    with app.app_context():
        db = get_session()
        with pytest.raises(UnstorableValue) as refused:
            db.scalar(select(User).where(column == value))
        db.rollback()
        assert refused.value.nul is nul and str(value) not in str(refused.value)
        assert db.scalar(select(User).where(User.id == INTEGER_MAX)) is None  # the largest id is fine


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1), ("2147483647", INTEGER_MAX), ("2147483648", None), ("99999999999999999999", None), ("0", None),
    ("-1", None), ("²", None), ("١٢", None), (" 1", None), ("1.0", None), ("", None), (None, None)])
def test_parse_row_id(text, expected):
    assert parse_row_id(text) == expected


def test_every_integer_column_is_postgresql_integer():
    """The boundary refuses integers beyond 32 bits because no column holds more; a BigInteger
    column would need the check to look at the column (idp/db.py, ``INTEGER_MAX``)."""
    integers = [c for t in Base.metadata.tables.values() for c in t.columns if isinstance(c.type, Integer)]
    assert integers and not [f"{c.table.name}.{c.name}" for c in integers if isinstance(c.type, BigInteger)]
