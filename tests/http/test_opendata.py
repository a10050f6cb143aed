"""/open-data/: aggregate counts as JSON and CSV, small cells suppressed, nobody identifiable."""

import csv
import datetime as dt
import io
import json
import statistics

import pytest

from idp import audit
from idp.oidc.models import Client
from idp.proofing.models import ProofingCase
from idp.stats import opendata
from tests.factories import make_client
from tests.factories import make_user

EN = {"Accept-Language": "en"}
DAY_A = dt.date(2025, 3, 10)
DAY_B = dt.date(2025, 3, 11)
BEFORE = dt.date(2025, 3, 9)  # outside the by-day range asked for below
RANGE = "start=2025-03-10&end=2025-03-11"
COUNT_COLUMNS = [c for c in opendata.COLUMNS if c not in ("auto_approval_rate", "median_decision_hours")]
PEOPLE = [("malee@example.com", "Malee Sukjai"), ("anan@example.com", "Anan Rakthai"),
          ("officer.pim@example.go.th", "Pim Officer")]
OFFICER_HOURS_A = list(range(1, 21))  # 10 approvals then 10 rejections, by officers on day A
OFFICER_HOURS_B = [2] * 20  # 20 approvals by officers on day B


def noon(day):
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)


def set_clock(clock, day):
    clock.reset()
    clock.advance((noon(day) - clock.utc_now()).total_seconds())


@pytest.fixture
def seeded(app, db, clock):
    """Sign-ins through the audit chain, proofing cases through the ORM, on fixed days."""
    app.config["OPEN_DATA_MIN_COUNT"] = 10
    users = [make_user(app, email, name=name) for email, name in PEOPLE]
    citizen, other, officer = (u.id for u in users)

    def signins(day, n, aal, event="signin"):
        set_clock(clock, day)
        for i in range(n):
            audit.record(db, event, user_id=citizen if i % 2 else other, aal=aal,
                         amr=["pwd", "otp"] if aal > 1 else ["pwd"])

    signins(DAY_A, 9, 1)  # below the threshold: null
    signins(DAY_A, 10, 2)  # at the threshold: shown
    signins(DAY_B, 1, 2)
    signins(DAY_B, 12, 3, event="step_up")
    signins(BEFORE, 10, 1)
    clock.reset()

    def case(day, status, *, by=None, hours=1.0):
        decided = noon(day) if status in ("approved", "rejected", "withdrawn") else None
        submitted = noon(day) - dt.timedelta(hours=hours)
        db.add(ProofingCase(user_id=citizen, level=2, channel="remote", evidence_kind="thai_id_card", status=status,
                            created_at=submitted, submitted_at=submitted, decided_at=decided, decided_by=by,
                            checks={}, reasons=[]))

    for _ in range(12):
        case(DAY_A, "approved")
    for h in OFFICER_HOURS_A[:10]:
        case(DAY_A, "approved", by=officer, hours=h)
    for h in OFFICER_HOURS_A[10:]:
        case(DAY_A, "rejected", by=officer, hours=h)
    for _ in range(3):
        case(DAY_A, "withdrawn")
    for _ in range(5):
        case(DAY_B, "approved")
    for h in OFFICER_HOURS_B:
        case(DAY_B, "approved", by=officer, hours=h)
    case(DAY_B, "review")
    db.commit()

    make_client(app, name="Restaurant licence")
    make_client(app, name="Tax refund")
    retired = make_client(app, name="Old service")
    db.get(Client, retired.client.id).active = False
    db.commit()
    return users


def rows_by_period(document):
    return {row["period"]: row for row in document["rows"]}


def parse_csv(text):
    comments = [line for line in text.splitlines() if line.startswith("#")]
    data = list(csv.DictReader(io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("#")))))
    return comments, data


def assert_no_small_cell(values, min_count):
    for value in values:
        assert value is None or value == 0 or value >= min_count, value


def test_by_day_counts_suppression_rate_and_median(client, seeded):
    response = client.get(f"/open-data/stats.json?period=day&{RANGE}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    document = response.get_json()
    assert document["period"] == "day"
    assert (document["start"], document["end"]) == ("2025-03-10", "2025-03-11")
    assert document["licence"]["url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert "CC BY 4.0" in document["licence"]["name"]
    assert document["suppression"].startswith("Counts from 1 to 9 are replaced by null")
    rows = rows_by_period(document)
    assert list(rows) == ["2025-03-10", "2025-03-11"]
    a, b = rows["2025-03-10"], rows["2025-03-11"]

    assert (a["signins_aal1"], a["signins_aal2"], a["signins_aal3"]) == (None, 10, 0)
    assert (b["signins_aal1"], b["signins_aal2"], b["signins_aal3"]) == (0, None, 12)
    # Started when submitted: those submitted more than 12 hours before noon started the day before.
    assert a["proofing_started"] == 12 + len([h for h in OFFICER_HOURS_A if h <= 12]) + 3 == 27
    assert (a["proofing_approved_auto"], a["proofing_approved_by_officer"], a["proofing_rejected"]) == (12, 10, 10)
    assert a["proofing_withdrawn"] is None  # 3
    assert a["auto_approval_rate"] == 37.5  # 12 of 32
    assert a["median_decision_hours"] == statistics.median(OFFICER_HOURS_A) == 10.5
    # Day B: 25 decisions, but the 5 automatic approvals are hidden, so the rate (which would give them away) is too.
    assert b["proofing_approved_auto"] is None
    assert b["proofing_approved_by_officer"] == 20
    assert b["auto_approval_rate"] is None
    assert b["median_decision_hours"] == 2.0
    assert b["proofing_started"] == 26
    # 2 active e-Services: under the threshold.
    assert a["active_eservices"] is None and b["active_eservices"] is None
    for row in document["rows"]:
        assert_no_small_cell([row[c] for c in COUNT_COLUMNS], 10)


def test_by_month_and_a_lower_threshold(app, client, db, seeded):
    document = client.get("/open-data/stats.json?period=month&start=2025-03-15&end=2025-03-20").get_json()
    assert (document["start"], document["end"]) == ("2025-03-01", "2025-03-31")
    (row,) = document["rows"]
    assert row["period"] == "2025-03"
    assert (row["signins_aal1"], row["signins_aal2"], row["signins_aal3"]) == (19, 11, 12)
    assert row["proofing_approved_auto"] == 17
    assert row["auto_approval_rate"] == round(100 * 17 / 57, 1)
    assert row["median_decision_hours"] == statistics.median(OFFICER_HOURS_A + OFFICER_HOURS_B)

    app.config["OPEN_DATA_MIN_COUNT"] = 2
    document = client.get(f"/open-data/stats.json?period=day&{RANGE}").get_json()
    a, b = document["rows"]
    assert document["suppression"].startswith("Counts from 1 to 1 are replaced by null")
    assert (a["signins_aal1"], a["proofing_withdrawn"], b["signins_aal2"]) == (9, 3, None)
    assert a["active_eservices"] == b["active_eservices"] == 2
    assert b["auto_approval_rate"] == 20.0


def test_no_personal_identifier_in_json_or_csv(client, seeded):
    json_body = client.get(f"/open-data/stats.json?period=day&{RANGE}").get_data(as_text=True)
    csv_body = client.get(f"/open-data/stats.csv?period=day&{RANGE}").get_data(as_text=True)

    def keys(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from keys(v)
        elif isinstance(value, list):
            for v in value:
                yield from keys(v)

    forbidden = {"user_id", "actor_id", "email", "name_of", "decided_by", "claimed_by", "sub", "national_id",
                 "client_id", "case", "id"}
    assert not forbidden & set(keys(json.loads(json_body)))
    _, data = parse_csv(csv_body)
    assert not forbidden & set(data[0])
    for body in (json_body, csv_body):
        for email, name in PEOPLE:
            assert email not in body and name not in body
            assert name.split()[0] not in body
        assert "@" not in body
        for service_name in ("Restaurant licence", "Tax refund", "Old service"):
            assert service_name not in body


def test_csv_states_rule_and_licence_and_parses(client, seeded):
    response = client.get(f"/open-data/stats.csv?period=day&{RANGE}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    comments, data = parse_csv(response.get_data(as_text=True))
    text = "\n".join(comments)
    assert "Counts from 1 to 9 are replaced by null" in text
    assert "https://creativecommons.org/licenses/by/4.0/" in text
    assert [row["period"] for row in data] == ["2025-03-10", "2025-03-11"]
    assert list(data[0]) == ["period", *opendata.COLUMNS]
    a, b = data
    assert (a["signins_aal1"], a["signins_aal2"], a["signins_aal3"]) == ("", "10", "0")
    assert a["auto_approval_rate"] == "37.5"
    assert (b["signins_aal3"], b["auto_approval_rate"], b["median_decision_hours"]) == ("12", "", "2.0")
    for row in data:
        assert_no_small_cell([int(row[c]) if row[c] else None for c in COUNT_COLUMNS], 10)


def test_defaults_are_the_last_30_days_by_day(client, clock):
    set_clock(clock, DAY_A)
    document = client.get("/open-data/stats.json").get_json()
    assert document["period"] == "day"
    assert (document["start"], document["end"]) == ("2025-02-08", "2025-03-09")
    assert len(document["rows"]) == 30
    assert all(row["signins_aal1"] == 0 for row in document["rows"])
    document = client.get("/open-data/stats.json?period=month").get_json()
    assert [row["period"] for row in document["rows"]][0::11] == ["2024-04", "2025-03"]


@pytest.mark.parametrize("query", [
    "period=week",
    "start=2025-13-01",
    "start=yesterday",
    "start=2025-03-10T00:00",
    "start=2025-03-11&end=2025-03-10",
    "period=day&start=2024-01-01&end=2025-01-01",  # 367 days
    "period=month&start=2015-01-01&end=2025-01-31",  # 121 months
])
def test_bad_parameters_are_400(client, query):
    response = client.get(f"/open-data/stats.json?{query}", headers=EN)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert response.get_json()["error_description"]
    response = client.get(f"/open-data/stats.csv?{query}", headers=EN)
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True).strip()


def test_largest_ranges_are_accepted(client):
    assert client.get("/open-data/stats.json?period=day&start=2024-01-01&end=2024-12-31").status_code == 200
    assert client.get("/open-data/stats.csv?period=month&start=2015-01-01&end=2024-12-31").status_code == 200


@pytest.mark.parametrize("lang", ["en", "th"])
def test_page_explains_data_rule_and_licence_without_sign_in(app, client, lang):
    app.config["OPEN_DATA_MIN_COUNT"] = 10
    response = client.get("/open-data/", headers={"Accept-Language": lang})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "/open-data/stats.json" in page and "/open-data/stats.csv" in page
    assert "https://creativecommons.org/licenses/by/4.0/" in page
    if lang == "en":
        assert "every count from 1 to 9 is replaced by null" in page
