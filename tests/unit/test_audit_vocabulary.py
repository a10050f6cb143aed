"""The audit vocabulary: one ``audit.Event`` member per name, and rows that hold the plain name."""

import re

from sqlalchemy import select

from idp import audit
from idp.audit.models import AuditEvent


def test_every_name_fits_the_column_and_reads_like_its_member():
    width = AuditEvent.__table__.c.event.type.length
    for member in audit.Event:
        assert re.fullmatch(r"[a-z][a-z_]*", member.value) and len(member.value) <= width
        assert member.name == member.value.upper()


def test_a_recorded_event_stores_and_hashes_the_plain_name(db):
    audit.record(db, audit.Event.SIGNIN, user_id=7, aal=1)
    db.expire_all()
    [(name, prev, digest)] = db.execute(select(AuditEvent.event, AuditEvent.prev_hash, AuditEvent.hash)).all()
    assert type(name) is str and name == "signin"  # old rows, the console's search and the stats match it
    row = db.scalars(select(AuditEvent)).one()
    assert digest == audit.chain_hash(prev, row)
    assert audit.verify(db) == (1, None)


def test_every_event_has_words_for_the_console_in_both_languages(app):
    from flask_babel import force_locale

    from idp.audit import labels

    assert set(labels.LABELS) == set(audit.Event)  # a new event gets its words with its name
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = {member: labels.label(member) for member in audit.Event}
        assert len(set(english.values())) == len(english)  # no two events read alike
        assert all(text != member.value for member, text in english.items())
        assert labels.label("signin") == "Signed in"
        assert labels.label("no_such_event") == "no_such_event"  # an older row's name, as it is
        with force_locale("th"):
            assert labels.label("signin") != "Signed in"
