"""The auditor's audit-log console: only auditors get in; search by time, event, actor, subject and
e-Service with keyset pages; a formula-safe CSV export; searches and exports are themselves audited
without emails; the chain box names the first broken link; bad input is a 400, never a 500."""

import csv
import datetime as dt
import html
import io
import json
import re

import pytest
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from idp import audit
from idp import csv_export
from idp.audit import search as audit_search
from idp.audit.models import AuditEvent
from idp.db import get_session
from idp.oidc.models import Client
from tests.factories import make_client
from tests.staff import browser
from tests.staff import make_staff
from tests.staff import staff_client

PAGE = "/console/audit/"
EXPORT = "/console/audit/export.csv"
VERIFY = "/console/audit/verify"
ROUTES = (PAGE, EXPORT, VERIFY)
NOBODY = 900001  # an internal id no account has: a subject filter by id needs no lookup


# -- helpers ---------------------------------------------------------------------------------------------


def record(app, event, **kwargs) -> int:
    """Append one event; its seq."""
    with app.app_context():
        db = get_session()
        audit.record(db, event, **kwargs)
        return audit_search.head_seq(db)


def logged(app, event):
    with app.app_context():
        return list(get_session().scalars(select(AuditEvent).where(AuditEvent.event == event)
                                          .order_by(AuditEvent.seq)))


def head(app) -> int:
    with app.app_context():
        return audit_search.head_seq(get_session())


def new_client(app, name="Restaurant licence"):
    """(clients.id, client_id string) of a new e-Service."""
    make_client(app, name=name)
    with app.app_context():
        row = get_session().scalar(select(Client).where(Client.name == name))
        return row.id, row.client_id


def rows_of(page_html):
    rows = []
    for seq, body in re.findall(r'<tr data-seq="(\d+)">(.*?)</tr>', page_html, re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                 for cell in re.findall(r"<td>(.*?)</td>", body, re.S)]
        rows.append({"seq": int(seq), "time": cells[1], "event": cells[2], "subject": cells[3], "actor": cells[4],
                     "client": cells[5], "details": cells[6]})
    return rows


def seqs_of(page_html):
    return [row["seq"] for row in rows_of(page_html)]


def link(page_html, rel):
    match = re.search(rf'<a rel="{rel}" href="([^"]+)"', page_html)
    return html.unescape(match.group(1)) if match else None


def results_table(page_html):
    match = re.search(r'<table class="audit-events">.*?</table>', page_html, re.S)
    return match.group(0) if match else ""


@pytest.fixture
def auditor(app, clock):
    return staff_client(app, clock, "auditor@example.com", "auditor")


# -- who gets in -----------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(app):
    client = browser(app)
    for route in ROUTES:
        response = client.get(route)
        assert response.status_code == 302 and "/signin" in response.headers["Location"], route


@pytest.mark.parametrize("roles", [(), ("admin",), ("support",), ("proofing_officer",)],
                         ids=["citizen", "admin", "support", "proofing_officer"])
def test_everyone_but_an_auditor_gets_403(app, clock, roles):
    client = staff_client(app, clock, "staff@example.com", *roles)
    for route in ROUTES:
        response = client.get(route)
        assert response.status_code == 403, route
        assert "Chain status" not in response.text and response.mimetype == "text/html"
    assert logged(app, "audit_searched") == [] and logged(app, "audit_exported") == []


def test_an_auditor_opens_every_route(app, auditor):
    for route in ROUTES:
        assert auditor.get(route).status_code == 200, route


def test_the_form_labels_every_input(auditor):
    page = auditor.get(PAGE).text
    for name in ("from", "to", "event", "actor", "subject", "client"):
        assert f'<label for="{name}">' in page and f'id="{name}"' in page
    assert "UTC" in page and 'type="datetime-local"' in page and 'method="get"' in page


# -- searching -------------------------------------------------------------------------------------------


def test_search_by_time_range(app, clock):
    start = clock.utc_now()
    first = record(app, "t_first")
    clock.advance(2 * 86400)
    middle = record(app, "t_middle")
    middle_at = clock.utc_now()
    clock.advance(2 * 86400)
    last = record(app, "t_last")
    client = staff_client(app, clock, "auditor@example.com", "auditor")

    day = (start + dt.timedelta(days=2)).strftime("%Y-%m-%d")
    page = client.get(PAGE, query_string={"from": day, "to": day})
    assert page.status_code == 200 and seqs_of(page.text) == [middle]

    minute = middle_at.strftime("%Y-%m-%dT%H:%M")  # "to" takes in its whole minute
    assert seqs_of(client.get(PAGE, query_string={"from": minute, "to": minute}).text) == [middle]
    after_middle = (middle_at + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    shown = seqs_of(client.get(PAGE, query_string={"from": after_middle}).text)
    assert last in shown and middle not in shown and first not in shown
    # The first event was recorded a few ms after ``start``, maybe in the next second: one second later
    # as the bound still leaves the middle one (two days on) out.
    until = (start + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    shown = seqs_of(client.get(PAGE, query_string={"to": until}).text)
    assert shown == [first]


def test_search_by_event_type(app, auditor):
    one = record(app, "alpha_done", user_id=NOBODY)
    record(app, "beta_done")
    two = record(app, "alpha_done")
    page = auditor.get(PAGE, query_string={"event": "alpha_done"})
    assert seqs_of(page.text) == [two, one]
    assert '<option value="alpha_done" selected>' in page.text and '<option value="beta_done">' in page.text
    anything = [row["event"] for row in rows_of(auditor.get(PAGE, query_string={"event": "any"}).text)]
    assert "alpha_done" in anything and "beta_done" in anything
    assert seqs_of(auditor.get(PAGE, query_string={"event": "never_happened"}).text) == []


def test_search_by_actor_email_or_id(app, auditor):
    officer = make_staff(app, "officer@example.com", "proofing_officer")
    other = make_staff(app, "other@example.com", "proofing_officer")
    mine = record(app, "case_decided", user_id=NOBODY, by=officer)
    theirs = record(app, "case_decided", user_id=NOBODY, by=other)
    for value in ("officer@example.com", "Officer@Example.COM", str(officer)):
        rows = rows_of(auditor.get(PAGE, query_string={"actor": value}).text)
        assert [row["seq"] for row in rows] == [mine], value
        assert rows[0]["actor"] == str(officer) and rows[0]["subject"] == str(NOBODY)
    assert seqs_of(auditor.get(PAGE, query_string={"actor": str(other)}).text) == [theirs]


def test_search_by_subject_email_or_id(app, auditor):
    citizen_id = make_staff(app, "citizen@example.com")  # no role: a plain citizen
    someone_id = make_staff(app, "someone@example.com")
    mine = record(app, "profile_viewed", user_id=citizen_id)
    theirs = record(app, "profile_viewed", user_id=someone_id)
    for value in ("citizen@example.com", str(citizen_id)):
        page = auditor.get(PAGE, query_string={"subject": value})
        rows = rows_of(page.text)
        assert mine in [row["seq"] for row in rows] and theirs not in [row["seq"] for row in rows]
        assert {row["subject"] for row in rows} == {str(citizen_id)}
        assert "@" not in results_table(page.text)  # ids in the results, never emails


def test_search_by_e_service_client_id(app, auditor):
    pk, client_id = new_client(app, "Restaurant licence")
    other_pk, _ = new_client(app, "Fishing permit")
    mine = record(app, "token_issued", user_id=NOBODY, client_id=pk)
    theirs = record(app, "token_issued", user_id=NOBODY, client_id=other_pk)
    rows = rows_of(auditor.get(PAGE, query_string={"client": client_id}).text)
    assert mine in [row["seq"] for row in rows] and theirs not in [row["seq"] for row in rows]
    assert {row["client"] for row in rows} == {client_id}  # the client_id string, not clients.id


def test_filters_combine(app, auditor):
    pk, client_id = new_client(app)
    wanted = record(app, "token_issued", user_id=NOBODY, client_id=pk)
    record(app, "token_revoked", user_id=NOBODY, client_id=pk)
    record(app, "token_issued", user_id=NOBODY + 1, client_id=pk)
    page = auditor.get(PAGE, query_string={"event": "token_issued", "subject": str(NOBODY), "client": client_id})
    assert seqs_of(page.text) == [wanted]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("actor", "nobody@example.com", "there is no account with that email"),
    ("subject", "nobody@example.com", "there is no account with that email"),
    ("client", "no-such-client", "There is no e-Service with that client_id"),
])
def test_an_unknown_email_or_client_shows_a_notice_and_nothing(app, auditor, field, value, message):
    record(app, "something_happened", user_id=NOBODY)
    page = auditor.get(PAGE, query_string={field: value})
    assert page.status_code == 200
    assert message in page.text and seqs_of(page.text) == [] and f'value="{value}"' in page.text


def test_details_are_compact_json_and_escaped(app, auditor):
    seq = record(app, "odd_details", user_id=NOBODY, note="<script>alert(1)</script>", n=1)
    page = auditor.get(PAGE, query_string={"event": "odd_details"})
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    (row,) = rows_of(page.text)
    assert row["seq"] == seq and json.loads(row["details"]) == {"note": "<script>alert(1)</script>", "n": 1}
    assert row["details"] == '{"n":1,"note":"<script>alert(1)</script>"}'


# -- pages -----------------------------------------------------------------------------------------------


def test_pages_go_older_and_newer_keeping_the_filters(app, auditor):
    with app.app_context():
        db = get_session()
        for n in range(120):
            audit.record(db, "bulk_event", commit=False, n=n)
        db.commit()
        seqs = list(db.scalars(select(AuditEvent.seq).where(AuditEvent.event == "bulk_event")
                               .order_by(AuditEvent.seq.desc())))
    record(app, "not_bulk")

    first = auditor.get(PAGE, query_string={"event": "bulk_event"}).text
    assert seqs_of(first) == seqs[:50] and link(first, "prev") is None
    older = link(first, "next")
    assert "event=bulk_event" in older and f"before={seqs[49]}" in older

    second = auditor.get(older).text
    assert seqs_of(second) == seqs[50:100]
    third = auditor.get(link(second, "next")).text
    assert seqs_of(third) == seqs[100:] and link(third, "next") is None

    back = auditor.get(link(third, "prev")).text
    assert "event=bulk_event" in link(third, "prev") and seqs_of(back) == seqs[50:100]
    assert seqs_of(auditor.get(link(back, "prev")).text) == seqs[:50]


# -- the CSV export --------------------------------------------------------------------------------------


def test_export_is_exact_csv_with_safe_headers(app, auditor):
    pk, client_id = new_client(app)
    officer = make_staff(app, "officer@example.com", "proofing_officer")
    one = record(app, "case_decided", user_id=NOBODY, client_id=pk, by=officer, reason='a,b "quoted"')
    two = record(app, "=HYPERLINK(\"http://evil\")", user_id=NOBODY)
    with app.app_context():
        events = get_session().scalars(select(AuditEvent).where(AuditEvent.seq.in_([one, two])))
        at = {row.seq: row.at for row in events}

    response = auditor.get(EXPORT, query_string={"subject": str(NOBODY)})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="audit-start-now.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    assert list(csv.reader(io.StringIO(response.get_data(as_text=True)))) == [
        ["seq", "time_utc", "event", "subject_id", "actor_id", "client_id", "details"],
        [str(two), at[two].strftime(stamp), "'=HYPERLINK(\"http://evil\")", str(NOBODY), "", "", "{}"],
        [str(one), at[one].strftime(stamp), "case_decided", str(NOBODY), str(officer),
         csv_export.safe_cell(client_id),  # a random client_id may start with "-"
         f'{{"by":{officer},"reason":"a,b \\"quoted\\""}}'],
    ]


@pytest.mark.parametrize("evil", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_export_defuses_formula_cells(app, auditor, evil):
    pk, _ = new_client(app)
    with app.app_context():
        db = get_session()
        db.execute(update(Client).where(Client.id == pk).values(client_id=evil))
        db.commit()
    record(app, "token_issued", user_id=NOBODY, client_id=pk)
    body = auditor.get(EXPORT, query_string={"subject": str(NOBODY)}).get_data(as_text=True)
    (row,) = list(csv.reader(io.StringIO(body, newline="")))[1:]
    assert row[5] == "'" + evil


def test_export_file_name_follows_the_range(auditor):
    response = auditor.get(EXPORT, query_string={"from": "2024-05-01", "to": "2024-05-31T12:30"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="audit-20240501T000000Z-20240531T123059Z.csv"'
    assert list(csv.reader(io.StringIO(response.get_data(as_text=True)))) == [list(audit_search.CSV_HEADER)]


def test_export_is_bounded(app, auditor):
    for n in range(4):
        record(app, "bulk_event", user_id=NOBODY, n=n)
    app.config["AUDIT_EXPORT_MAX"] = 3
    response = auditor.get(EXPORT, query_string={"subject": str(NOBODY)})
    assert response.status_code == 400 and "4 events match; at most 3 can be exported" in response.text
    assert logged(app, "audit_exported") == []
    app.config["AUDIT_EXPORT_MAX"] = 4
    body = auditor.get(EXPORT, query_string={"subject": str(NOBODY)}).get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(body)))) == 5


def test_export_of_an_unknown_email_is_refused_with_the_notice(auditor):
    response = auditor.get(EXPORT, query_string={"subject": "nobody@example.com"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "there is no account with that email" in response.text


# -- searching and exporting are audited, without emails -------------------------------------------------


def test_search_and_export_are_audited_without_emails(app, auditor):
    auditor_id = make_staff(app, "auditor@example.com", "auditor")
    officer = make_staff(app, "officer@example.com", "proofing_officer")
    citizen = make_staff(app, "citizen@example.com")
    record(app, "case_decided", user_id=citizen, by=officer)
    record(app, "case_decided", user_id=citizen, by=officer)

    assert auditor.get(PAGE, query_string={"actor": "officer@example.com", "subject": "citizen@example.com",
                                           "event": "case_decided", "from": "2000-01-01"}).status_code == 200
    assert auditor.get(PAGE, query_string={"actor": "ghost@example.com"}).status_code == 200
    before_export = head(app)
    export = auditor.get(EXPORT, query_string={"subject": "citizen@example.com", "event": "case_decided"})
    assert len(list(csv.reader(io.StringIO(export.get_data(as_text=True))))) == 3

    searched = logged(app, "audit_searched")
    assert [event.details["filters"] for event in searched] == [
        ["from", "event", "actor_email", "subject_email"], ["actor_email"]]
    assert all(event.actor_id == auditor_id and event.details["by"] == auditor_id for event in searched)
    assert searched[0].user_id == citizen and searched[1].user_id is None
    (exported,) = logged(app, "audit_exported")
    assert exported.seq == before_export + 1 and exported.actor_id == auditor_id and exported.user_id == citizen
    assert exported.details == {"by": auditor_id, "filters": ["event", "subject_email"], "rows": 2}
    for event in [*searched, exported]:
        assert "@" not in json.dumps(event.details) and "example.com" not in json.dumps(event.details)


def test_the_export_leaves_out_its_own_event(app, auditor):
    body = auditor.get(EXPORT).get_data(as_text=True)
    events = [row[2] for row in list(csv.reader(io.StringIO(body)))[1:]]
    assert "audit_exported" not in events
    (exported,) = logged(app, "audit_exported")
    assert exported.details["rows"] == len(events) > 0


# -- the chain -------------------------------------------------------------------------------------------


def test_the_page_shows_the_chain_intact(app, auditor):
    record(app, "something_happened")
    page = auditor.get(PAGE).text
    assert 'data-chain="intact"' in page
    assert f"Chain intact up to seq {head(app)}." in page  # the search's own event included


def test_an_edited_event_shows_as_the_broken_link(app, auditor):
    record(app, "something_happened", user_id=NOBODY, outcome="denied")
    tampered = record(app, "something_happened", user_id=NOBODY, outcome="denied")
    record(app, "something_happened", user_id=NOBODY)
    with app.app_context():
        db = get_session()
        db.execute(update(AuditEvent).where(AuditEvent.seq == tampered).values(details={"outcome": "allowed"}))
        db.commit()
    page = auditor.get(PAGE).text
    assert 'data-chain="broken"' in page
    assert f"The chain is broken at seq {tampered}: the event was changed after it was written." in page
    assert f"The {tampered - 1} events before it are intact." in page
    assert f"The chain is broken at seq {tampered}" in auditor.get(VERIFY).text


def test_a_removed_event_shows_as_missing(app, auditor):
    record(app, "something_happened")
    removed = record(app, "something_happened")
    record(app, "something_happened")
    with app.app_context():
        db = get_session()
        db.execute(delete(AuditEvent).where(AuditEvent.seq == removed))
        db.commit()
    assert f"The chain is broken at seq {removed}: an event is missing." in auditor.get(PAGE).text


def test_a_long_log_is_checked_on_the_verify_page_instead(app, auditor):
    app.config["AUDIT_VERIFY_INLINE_MAX"] = 1
    tampered = record(app, "something_happened", outcome="denied")
    with app.app_context():
        db = get_session()
        db.execute(update(AuditEvent).where(AuditEvent.seq == tampered).values(details={"outcome": "allowed"}))
        db.commit()
    page = auditor.get(PAGE).text
    assert 'data-chain="unchecked"' in page and f'href="{VERIFY}"' in page and "broken" not in page
    verify = auditor.get(VERIFY)
    assert verify.status_code == 200 and 'data-chain="broken"' in verify.text
    assert f"The chain is broken at seq {tampered}: the event was changed" in verify.text


# -- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "refilled"), [
    ({"from": "yesterday"}, "yesterday"),
    ({"to": "2024-02-30"}, "2024-02-30"),
    ({"from": "2024-05-01T25:00"}, "2024-05-01T25:00"),
    ({"to": "9999-12-31"}, "9999-12-31"),
    ({"from": "2024-05-02", "to": "2024-05-01"}, "2024-05-02"),
    ({"actor": "bob"}, "bob"),
    ({"subject": "12x"}, "12x"),
    ({"subject": "-5"}, "-5"),
    ({"actor": "9" * 20}, "9" * 20),
    ({"client": "c" * 65}, "c" * 65),
    ({"event": "e" * 65}, None),
    ({"before": "abc", "subject": "7"}, "7"),
    ({"after": "1.5"}, None),
])
def test_bad_input_is_a_readable_400_with_the_form_refilled(app, auditor, query, refilled):
    paging = "before" in query or "after" in query  # page keys are the page's; the export takes all
    for route in (PAGE,) if paging else (PAGE, EXPORT):
        response = auditor.get(route, query_string=query)
        assert response.status_code == 400, (route, response.text)
        assert response.mimetype == "text/html" and 'role="alert"' in response.text
        assert "<form" in response.text
        if refilled is not None:
            assert f'value="{html.escape(refilled)}"' in response.text
    assert logged(app, "audit_searched") == [] and logged(app, "audit_exported") == []


# -- the service, without HTTP ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\t1", "'\t1"), ("\r1", "'\r1"),
    ("a=b", "a=b"), ("{}", "{}"), ("", ""), (None, ""), (12, "12"),
])
def test_safe_cell(value, cell):
    assert csv_export.safe_cell(value) == cell


@pytest.mark.parametrize(("value", "end"), [
    ("2024-05-01", dt.datetime(2024, 5, 2, tzinfo=dt.UTC)),
    ("2024-05-01T10:30", dt.datetime(2024, 5, 1, 10, 31, tzinfo=dt.UTC)),
    ("2024-05-01T10:30:15", dt.datetime(2024, 5, 1, 10, 30, 16, tzinfo=dt.UTC)),
])
def test_an_end_takes_in_its_whole_unit(value, end):
    assert audit_search.parse_time(value, field="to", end=True) == end


def test_filter_names_never_carry_values():
    filters = audit_search.parse_filters({"actor": "a@example.com", "subject": "12", "client": "x", "event": "any"})
    assert filters.names() == ["actor_email", "subject_id", "client"] and filters.event is None


def test_export_rows_stop_at_the_limit_and_the_snapshot(app, db):
    for n in range(5):
        audit.record(db, "bulk_event", user_id=NOBODY, n=n)
    upto = audit_search.head_seq(db)
    audit.record(db, "bulk_event", user_id=NOBODY, n=5)
    criteria = audit_search.Criteria(user_id=NOBODY)
    assert [row.details["n"] for row in audit_search.export_rows(db, criteria, upto=upto)] == [4, 3, 2, 1, 0]
    assert [row.details["n"] for row in audit_search.export_rows(db, criteria, upto=upto, limit=2)] == [4, 3]
