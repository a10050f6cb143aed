"""The design system's promises that a page's HTML can show: a skip link to the main content, one
console navigation on every staff page (the officer's review queue too), wide tables in a
scrolling region, audit events and proofing codes in words (Thai and English), errors summarised
at the top of a form and linked to their fields, and levels in plain words for citizens."""

from __future__ import annotations

import re

from tests.factories import make_user
from tests.flows import sign_in
from tests.http.test_officer import seed_case
from tests.staff import staff_client

TH = {"Accept-Language": "th"}


def test_every_page_starts_with_a_skip_link_to_main(client):
    for path in ("/signin", "/signup", "/services", "/open-data/", "/no-such-page"):
        page = client.get(path).text
        assert re.search(r'<body[^>]*>\s*<a class="skip-link" href="#main">', page), path
        assert '<main id="main" tabindex="-1">' in page, path


def test_the_officers_pages_share_the_console_navigation(app, clock):
    case_id = seed_case(app, clock)
    officer = staff_client(app, clock, "officer@example.com", "proofing_officer", "auditor")
    for path in ("/officer/cases", f"/officer/cases/{case_id}", "/officer/counter", "/console/audit/"):
        page = officer.get(path).text
        nav = re.search(r'<nav class="console-nav".*?</nav>', page, re.S)
        assert nav, path
        assert 'href="/officer/cases"' in nav.group(0) and 'href="/console/audit/"' in nav.group(0)
        assert 'href="/console/clients/"' not in nav.group(0)  # only the sections this person's roles open
    queue = officer.get("/officer/cases").text
    assert re.search(r'<a href="/officer/cases" aria-current="page">', queue)
    assert re.search(r'<div class="table-scroll" role="region" aria-label="[^"]+" tabindex="0">\s*'
                     r'<table class="signins cases">', queue)


def test_a_case_shows_its_status_checks_and_level_in_words(app, clock):
    case_id = seed_case(app, clock)
    officer = staff_client(app, clock, "officer@example.com", "proofing_officer")
    page = officer.get(f"/officer/cases/{case_id}").text
    assert re.search(r'<dd data-status="review">Waiting for an officer&#39;s review</dd>', page)
    assert '<dt data-check="registry">National registry check</dt><dd>Differs from the registry</dd>' in page
    assert "Verified identity (IAL2)" in page


def test_audit_events_are_shown_in_words_with_their_name(app, clock):
    auditor = staff_client(app, clock, "auditor@example.com", "auditor")
    page = auditor.get("/console/audit/").text
    table = re.search(r'<table class="audit-events">.*?</table>', page, re.S).group(0)
    assert 'Signed in <code class="event-code">signin</code>' in table
    assert '<option value="signin">Signed in</option>' in page
    thai = auditor.get("/console/audit/", headers=TH).text
    assert '<option value="signin">เข้าสู่ระบบแล้ว</option>' in thai


def test_a_bad_filter_is_summarised_and_linked_to_its_field(app, clock):
    auditor = staff_client(app, clock, "auditor@example.com", "auditor")
    response = auditor.get("/console/audit/", query_string={"from": "yesterday"})
    assert response.status_code == 400
    summary = re.search(r'<div class="error-summary"[^>]*role="alert".*?</div>', response.text, re.S).group(0)
    assert '<a href="#from">' in summary
    field = re.search(r'<input id="from"[^>]*>', response.text).group(0)
    assert 'aria-describedby="from-error"' in field and 'aria-invalid="true"' in field
    assert re.search(r'<p class="error-message" id="from-error">', response.text)
    untouched = re.search(r'<input id="to"[^>]*>', response.text).group(0)
    assert 'aria-describedby="to-hint"' in untouched and "aria-invalid" not in untouched


def test_the_counter_form_lists_each_problem_linked_to_its_field(app, clock):
    officer = staff_client(app, clock, "officer@example.com", "proofing_officer")
    page = officer.get("/officer/counter").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = officer.post("/officer/counter", data={"csrf_token": token, "email": "nobody@example.com",
                                                      "number": "1", "laser_code": "x"})
    assert response.status_code == 400
    links = re.findall(r'<li><a href="#([^"]+)">', response.text)
    assert {"email", "card_inspected", "person_matches"} <= set(links)
    for name in links:
        assert re.search(rf'<input id="{name}"[^>]*aria-describedby="[^"]*{name}-error"', response.text), name


def test_citizens_read_levels_in_plain_words(app, client):
    make_user(app)
    sign_in(client)
    for path in ("/", "/proofing", "/my-data", "/security"):
        main = client.get(path, headers={"Accept-Language": "en"}).text.split("<main ")[1]
        assert not re.search(r"\b[IA]AL\d", main), path
    assert "Identity not verified" in client.get("/", headers={"Accept-Language": "en"}).text
