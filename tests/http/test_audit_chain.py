"""The audit log is a hash chain: `idp audit verify` passes on an honest log and names the first
edited, deleted or reordered event; concurrent writers never fork it."""

import itertools
import json
import threading
import time

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from idp import audit
from idp import migrate
from idp.audit.models import AuditEvent
from idp.cli import audit as audit_cli
from idp.cli import cli
from idp.db import engine_of
from idp.db import get_session
from tests.factories import make_user
from tests.flows import sign_in

audit_cli.register(cli)


@pytest.fixture
def run(app):
    def invoke(*args):
        return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))

    return invoke


def seed(app, n=5):
    with app.app_context():
        db = get_session()
        for i in range(n):
            audit.record(db, "test_event", user_id=i, n=i, by=99)


def test_an_honest_log_verifies_and_real_events_are_chained(app, client, run):
    make_user(app)
    sign_in(client)  # a real sign-in writes its event into the chain
    seed(app)
    result = run("audit", "verify", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"events": 6, "ok": True}
    with app.app_context():
        rows = get_session().scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == list(range(1, 7))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert rows[-1].actor_id == 99 and rows[0].event == "signin"


@pytest.mark.parametrize("tamper, problem", [
    (lambda db: db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(details={"n": 42})), "edited"),
    (lambda db: db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(user_id=7)), "edited"),
    (lambda db: db.execute(delete(AuditEvent).where(AuditEvent.seq == 3)), "missing"),
])
def test_tampering_is_found_at_its_link(app, run, tamper, problem):
    seed(app)
    with app.app_context():
        db = get_session()
        tamper(db)
        db.commit()
    result = run("audit", "verify", "--json")
    assert result.exit_code == 1
    broken = json.loads(result.stdout)["broken"]
    assert broken["seq"] == 3 and broken["problem"] == problem


def test_reordered_events_are_found(app, run):
    seed(app)
    with app.app_context():
        db = get_session()
        db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(seq=-2))
        db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=2))
        db.execute(update(AuditEvent).where(AuditEvent.seq == -2).values(seq=3))
        db.commit()
    result = run("audit", "verify")
    assert result.exit_code == 1 and "seq 2" in result.output


def test_deleting_the_newest_events_is_found_from_the_head(app, run):
    seed(app)
    with app.app_context():
        db = get_session()
        db.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))
        db.commit()
    result = run("audit", "verify", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["broken"]["problem"] == "missing"


def test_concurrent_writers_never_fork_the_chain(app, run):
    def write(k):
        with app.app_context():
            db = get_session()
            for i in range(10):
                audit.record(db, "concurrent", n=k * 100 + i)
            db.close()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = run("audit", "verify", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 40


def test_events_recorded_before_the_chain_are_chained_by_the_migration(app, run):
    migrate.downgrade(app, "0003")
    with engine_of(app).begin() as conn:
        for i in range(3):
            conn.execute(text("INSERT INTO audit_events (at, event, user_id, details) "
                              "VALUES (:at, 'old_event', :uid, '{}')"), {"at": f"2026-11-0{i + 1} 10:00:00", "uid": i})
    migrate.upgrade(app)
    seed(app, 2)
    result = run("audit", "verify", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 5


def _head(app):
    with app.app_context():
        return get_session().execute(select(audit.AuditHead.seq, audit.AuditHead.hash)).one()


class TestDeferredSealing:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "AUDIT_SEALING": "deferred", "AUDIT_SEAL_INTERVAL": 3600}

    def test_events_wait_unchained_and_verify_seals_them_in_the_order_recorded(self, app, run):
        head_before = _head(app)
        seed(app, 4)
        with app.app_context():
            db = get_session()
            rows = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
            assert [r.seq for r in rows] == [None] * 4 and audit.pending(db) == 4
        assert _head(app) == head_before  # recording did not touch the head row
        result = run("audit", "verify", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"events": 4, "ok": True}
        with app.app_context():
            rows = get_session().scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4]
        assert [r.details["n"] for r in rows] == [0, 1, 2, 3]
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))

    def test_a_sealed_event_edited_afterwards_is_found(self, app, run):
        seed(app)
        assert run("audit", "verify").exit_code == 0
        with app.app_context():
            db = get_session()
            db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(details={"n": 42}))
            db.commit()
        result = run("audit", "verify", "--json")
        assert result.exit_code == 1
        assert json.loads(result.stdout)["broken"] == {"seq": 2, "event_id": 2, "problem": "edited"}

    def test_concurrent_writers_and_sealers_never_fork_the_chain(self, app, run):
        def write(k):
            with app.app_context():
                db = get_session()
                for i in range(10):
                    audit.record(db, "concurrent", n=k * 100 + i)
                    if i % 3 == 0:
                        audit.seal(db)
                db.close()

        threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result = run("audit", "verify", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["events"] == 40
        with app.app_context():
            seqs = sorted(get_session().scalars(select(AuditEvent.seq)))
        assert seqs == list(range(1, 41))

    def test_the_console_shows_an_event_recorded_a_moment_ago(self, app, clock):
        from tests.staff import staff_client

        client = staff_client(app, clock, "auditor@example.com", "auditor")
        seed(app, 1)
        page = client.get("/console/audit/?event=test_event", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        assert "test_event" in page.text


def test_the_background_sealer_chains_events_within_its_interval(app_config, make_app):
    application = make_app({**app_config, "AUDIT_SEALING": "deferred", "AUDIT_SEAL_INTERVAL": 0.05})
    migrate.upgrade(application)
    application.test_client().get("/signin")  # the first request starts this process's sealer
    seed(application, 3)
    deadline = time.monotonic() + 5
    with application.app_context():
        db = get_session()
        while audit.pending(db) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert audit.pending(db) == 0
        checked, broken = audit.verify(db)
    assert (checked, broken) == (3, None)


def test_an_unknown_sealing_mode_is_refused_at_start(app_config, make_app):
    from idp.config import ConfigError

    with pytest.raises(ConfigError, match="AUDIT_SEALING"):
        make_app({**app_config, "AUDIT_SEALING": "later"})
