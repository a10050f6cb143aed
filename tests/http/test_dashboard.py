"""``/console/dashboard/``: who may read it, the numbers in its tables, its range, and its SVG charts."""

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from idp import audit
from idp.accounts.models import User
from idp.accounts.service import find_by_email
from idp.db import get_session
from idp.proofing.models import ProofingCase
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import REDIRECT_URI
from tests.flows import authorize_url
from tests.flows import follow_to_code
from tests.flows import pkce_pair
from tests.staff import browser
from tests.staff import staff_client
from tests.timeline import move_to
from tests.timeline import next_midnight

URL = "/console/dashboard/"
H = dt.timedelta(hours=1)
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>'


class Tables(HTMLParser):
    """Each table by id: its caption and rows of cell texts (header cells included)."""

    def __init__(self, html):
        super().__init__()
        self.tables, self._table, self._row, self._cell = {}, None, None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs)["id"], {"caption": "", "rows": []})
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table["rows"].append(self._row)
        elif tag in ("td", "th", "caption") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "caption" and self._cell is not None:
            self._table["caption"] = "".join(self._cell).strip()
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table(html, table_id):
    """Rows after the header, as {row header: [values]}."""
    rows = Tables(html).tables[table_id]["rows"]
    return {row[0]: row[1:] for row in rows[1:]}


def svgs(html):
    return {root.get("id"): root for root in (ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, re.S))}


def visible_text(root):
    """What each SVG ``<text>`` shows (a label's tooltip ``<title>`` left out)."""
    out = set()
    for text in root.iter(f"{SVG}text"):
        tip = text.find(f"{SVG}title")
        out.add(text.text if tip is None else tip.tail)
    return out


@pytest.fixture
def day0(clock):
    return next_midnight(clock)


def days(day, count):
    return [(day + dt.timedelta(days=i)).date().isoformat() for i in range(count)]


def user_id(app, email):
    if find_by_email_in(app, email) is None:
        make_user(app, email)
    return find_by_email_in(app, email)


def find_by_email_in(app, email):
    with app.app_context():
        user = find_by_email(get_session(), email)
        return None if user is None else user.id


def record(app, event, **details):
    with app.app_context():
        audit.record(get_session(), event, **details)


def add_case(app, user, *, created, status, officer=None, due=None, decided=None):
    with app.app_context():
        db = get_session()
        db.add(ProofingCase(user_id=user, level=2, channel="remote", evidence_kind="thai_id_card", status=status,
                            checks={}, reasons=[], created_at=created, submitted_at=created, due_at=due,
                            decided_by=officer, decided_at=decided))
        db.commit()


@pytest.fixture
def seeded(app, clock, day0):
    """Three days of activity (day0 to day0+2), with events the day before and after; the auditor signs in later."""
    ann, ben = user_id(app, "ann@example.com"), user_id(app, "ben@example.com")
    officer = user_id(app, "officer@example.com")
    tax = make_client(app, name="Tax filing", name_th="ยื่นภาษี").client.id
    hostile = make_client(app, name=HOSTILE).client.id
    move_to(clock, day0 - H)
    record(app, "signin", user_id=ann, amr=["pwd"], aal=1)
    record(app, "authorized", user_id=ann, client_id=tax, acr="a", amr=["pwd"])
    move_to(clock, day0 + H)
    record(app, "signin", user_id=ann, amr=["pwd"], aal=1)
    record(app, "step_up", user_id=ann, amr=["pwd", "otp", "mfa"], aal=2)
    record(app, "signin", user_id=ben, amr=["swk", "user", "mfa"], aal=2)
    record(app, "signin_failed", user_id=ben, factor="pwd")
    for _ in range(3):
        record(app, "authorized", user_id=ann, client_id=tax, acr="a", amr=["pwd", "otp", "mfa"])
    record(app, "authorization_refused", user_id=ann, client_id=tax, error="unmet_authentication_requirements")
    record(app, "authorized", user_id=ben, client_id=hostile, acr="a", amr=["swk", "user", "mfa"])
    record(app, "authorization_refused", user_id=ben, client_id=hostile, error="access_denied")
    record(app, "authorization_refused", user_id=None, client_id=hostile, error="login_required")
    move_to(clock, day0 + dt.timedelta(days=2, hours=22))
    record(app, "signin", user_id=ben, amr=["hwk", "user", "mfa"], aal=3)
    record(app, "signin", user_id=ann, amr=["pwd"], aal=1)
    due = day0 + 48 * H
    add_case(app, ann, created=day0 - H, status="approved", decided=day0)  # started before the range
    add_case(app, ann, created=day0 + H, status="approved", decided=day0 + 2 * H)
    add_case(app, ann, created=day0 + H, status="approved", officer=officer, due=due, decided=day0 + 11 * H)
    add_case(app, ben, created=day0 + H, status="rejected", officer=officer, due=due, decided=due + 3 * H)
    add_case(app, ben, created=day0 + H, status="approved", officer=officer, due=due, decided=day0 + 25 * H)
    add_case(app, ben, created=day0 + 2 * H, status="review", due=due)  # overdue once the auditor looks
    add_case(app, ben, created=day0 + 2 * H, status="withdrawn", decided=day0 + 3 * H)
    move_to(clock, day0 + dt.timedelta(days=3, hours=1))  # after the range
    record(app, "signin", user_id=ann, amr=["pwd"], aal=1)
    record(app, "authorized", user_id=ann, client_id=tax, acr="a", amr=["pwd"])
    move_to(clock, day0 + dt.timedelta(days=5))
    with app.app_context():
        db = get_session()
        db.get(User, ann).ial = 2
        db.get(User, ben).ial = 3
        db.get(User, officer).status = "disabled"
        db.commit()
    return {"tax": tax, "hostile": hostile}


def query(day0, count=3):
    return f"{URL}?from={day0.date().isoformat()}&to={(day0 + dt.timedelta(days=count - 1)).date().isoformat()}"


@pytest.fixture
def auditor(app, clock):
    return staff_client(app, clock, "auditor@example.com", "auditor")


def test_anonymous_is_sent_to_sign_in(app):
    response = browser(app).get(URL)
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


@pytest.mark.parametrize("roles", [(), ("support",), ("proofing_officer",), ("support", "proofing_officer")])
def test_other_people_get_403(app, clock, roles):
    client = staff_client(app, clock, "someone@example.com", *roles)
    response = client.get(URL)
    assert response.status_code == 403
    assert "<svg" not in response.text and "Sign-ins" not in response.text


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditors_and_admins_read_it(app, clock, role):
    response = staff_client(app, clock, f"{role}@example.com", role).get(URL)
    assert response.status_code == 200
    assert 'id="chart-aal"' in response.text


def test_sign_ins_per_day_by_level_and_authenticator(app, clock, day0, seeded, auditor):
    page = auditor.get(query(day0))
    assert page.status_code == 200
    one, two, three = days(day0, 3)
    assert table(page.text, "table-chart-aal") == {one: ["1", "2", "0"], two: ["0", "0", "0"], three: ["1", "0", "1"]}
    assert table(page.text, "table-chart-authenticators") == {
        # password, one-time code, recovery code, passkey, certified security key
        one: ["1", "1", "0", "1", "0"], two: ["0", "0", "0", "0", "0"], three: ["1", "0", "0", "0", "1"]}
    caption = Tables(page.text).tables["table-chart-aal"]["caption"]
    assert caption == "Sign-ins per day by authentication level (AAL)"


def test_the_range_decides_what_is_counted(app, clock, day0, seeded, auditor):
    page = auditor.get(query(day0 - dt.timedelta(days=1), count=2))  # the day before, and day0
    assert table(page.text, "table-chart-aal") == {days(day0 - dt.timedelta(days=1), 1)[0]: ["1", "0", "0"],
                                                   days(day0, 1)[0]: ["1", "2", "0"]}
    assert table(page.text, "table-chart-services")["Tax filing"] == ["4", "1"]


def test_accounts_by_ial_are_today_whatever_the_range(app, clock, day0, seeded, auditor):
    expected = {"IAL1": ["1"], "IAL2": ["1"], "IAL3": ["1"]}  # the auditor, ann, ben; the officer is disabled
    assert table(auditor.get(query(day0)).text, "table-chart-ial") == expected
    assert table(auditor.get(f"{URL}?from=2001-01-01&to=2001-01-02").text, "table-chart-ial") == expected


def test_the_proofing_funnel_and_the_review_sla(app, clock, day0, seeded, auditor):
    page = auditor.get(query(day0))
    assert table(page.text, "table-chart-funnel") == {
        "Started": ["6"], "Approved automatically": ["1"], "Sent to review": ["4"], "Approved by an officer": ["2"],
        "Rejected": ["1"], "Withdrawn or expired": ["1"], "Still open": ["1"]}
    assert table(page.text, "table-sla") == {
        "Reviewed applications decided in the range": ["3"], "Decided by the due date": ["2"],
        "Decided after the due date": ["1"], "Share decided by the due date": ["66.7%"],
        "Median time from submission to decision (hours)": ["24.0"],
        "Waiting for review now": ["1"], "Overdue now": ["1"]}
    assert visible_text(svgs(page.text)["chart-sla"]) >= {"2", "1", "By the due date", "After the due date"}


def test_e_services_in_the_reader_language_with_hostile_names_escaped(app, clock, day0, seeded, auditor):
    page = auditor.get(query(day0))
    assert "<script>alert" not in page.text
    assert table(page.text, "table-chart-services") == {"Tax filing": ["3", "1"], HOSTILE: ["1", "2"]}
    chart = svgs(page.text)["chart-services"]
    assert HOSTILE in [t.text for t in chart.iter(f"{SVG}title")] and HOSTILE in visible_text(chart)
    auditor.environ_base["HTTP_ACCEPT_LANGUAGE"] = "th"
    thai = auditor.get(query(day0))
    assert "ยื่นภาษี" in table(thai.text, "table-chart-services")


def test_every_chart_is_well_formed_svg_with_a_title_and_a_table(app, clock, day0, seeded, auditor):
    page = auditor.get(query(day0))
    charts = svgs(page.text)
    assert set(charts) == {"chart-aal", "chart-authenticators", "chart-ial", "chart-funnel", "chart-sla",
                           "chart-services"}
    for chart_id, root in charts.items():
        assert root.get("role") == "img"
        title = root.find(f"{SVG}title")
        assert root.get("aria-labelledby") == title.get("id") and title.text
        assert root.find(f"{SVG}desc").text
        if chart_id != "chart-sla":
            assert f'id="table-{chart_id}"' in page.text
    assert "<script" not in page.text.split("<main ")[1]  # drawn on the server: no script in the page


def test_a_range_without_data_says_so(app, clock, auditor):
    page = auditor.get(f"{URL}?from=2001-01-01&to=2001-01-31")
    assert page.status_code == 200
    assert page.text.count("No data in this range.") == 4  # sign-ins (two), funnel, e-Services
    assert set(svgs(page.text)) == {"chart-ial"}
    assert "No decision on a reviewed application in this range." in page.text
    assert "table-chart-aal" not in page.text


def test_the_default_range_is_the_last_30_days(app, clock, auditor):
    page = auditor.get(URL)
    today = clock.utc_now().date()
    assert f'name="from" type="date" value="{(today - dt.timedelta(days=29)).isoformat()}"' in page.text
    assert f'name="to" type="date" value="{today.isoformat()}"' in page.text
    rows = table(page.text, "table-chart-aal")
    assert len(rows) == 30 and rows[today.isoformat()] == ["1", "1", "0"]  # the auditor's own sign-in and step-up
    assert '<label for="from">' in page.text and '<label for="to">' in page.text


@pytest.mark.parametrize(("params", "message"), [
    ("from=yesterday", "From: enter a date written YYYY-MM-DD"),
    ("to=2024-02-30", "To: enter a date written YYYY-MM-DD"),
    ("from=2024-1-5", "From: enter a date written YYYY-MM-DD"),
    ("from=1999-12-31", "From: enter a date written YYYY-MM-DD"),
    ("to=9999-12-31", "To: enter a date written YYYY-MM-DD"),
    ("from=2024-03-02&to=2024-03-01", "The end of the range is before its start."),
    ("from=2023-01-01&to=2024-01-02", "Choose at most 366 days."),
])
def test_a_bad_range_is_400_with_the_reason_and_the_default_range(app, clock, auditor, params, message):
    response = auditor.get(f"{URL}?{params}")
    assert response.status_code == 400
    assert message in response.text and 'role="alert"' in response.text
    today = clock.utc_now().date()
    assert f'name="to" type="date" value="{today.isoformat()}"' in response.text
    assert len(table(response.text, "table-chart-aal")) == 30


def test_the_longest_range_is_accepted(app, clock, auditor):
    assert auditor.get(f"{URL}?from=2023-01-01&to=2024-01-01").status_code == 200


def test_a_real_authorization_and_a_refusal_reach_the_e_service_table(app, clock, auditor):
    make_user(app, "citizen@example.com")
    allowed = make_client(app, name="Allowed service")
    declined = make_client(app, name="Declined service")
    citizen = browser(app)
    for rp, decision in ((allowed, "allow"), (declined, "deny")):
        _, challenge = pkce_pair()
        callback = follow_to_code(citizen, authorize_url(rp.client.client_id, challenge), decision=decision,
                                  redirect_uri=REDIRECT_URI)
        assert ("code" in callback) == (decision == "allow")
    rows = table(auditor.get(URL).text, "table-chart-services")
    assert rows == {"Allowed service": ["1", "0"], "Declined service": ["0", "1"]}
