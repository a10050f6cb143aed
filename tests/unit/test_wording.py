"""Levels in plain words (citizens) and with their codes in brackets (staff); the proofing codes'
words for the console; the form and layout macros' accessibility wiring."""

from __future__ import annotations

import re

from flask import render_template_string
from flask_babel import force_locale

from idp import wording
from idp.proofing import vocabulary

EN = {"Accept-Language": "en"}


def test_levels_in_plain_words_for_citizens_and_with_the_code_for_staff(app):
    with app.test_request_context(headers=EN):
        assert wording.ial_words(2) == "Verified identity"
        assert wording.aal_words(2) == "Two-step sign-in"
        assert wording.ial_words(2, staff=True) == "Verified identity (IAL2)"
        assert wording.aal_words(3, staff=True) == "Sign-in with a hardware security key (AAL3)"
        assert all("IAL" not in wording.ial_words(n) and "AAL" not in wording.aal_words(n) for n in (1, 2, 3))
        assert wording.acr_words("urn:th:digitalid:ial2:aal2") == "Verified identity; Two-step sign-in"
        assert wording.acr_words("urn:other") == "urn:other"
        assert wording.acr_sign_in_words("urn:th:digitalid:ial1:aal2") == "Two-step sign-in"
        with force_locale("th"):
            assert wording.ial_words(2, staff=True).endswith("(IAL2)")


def test_the_filters_are_the_same_words(app):
    with app.test_request_context(headers=EN):
        page = render_template_string("{{ 2|ial_words }}|{{ 2|aal_words(staff=True) }}|{{ 'review'|case_status }}"
                                      "|{{ 'registry'|check_label }}|{{ 'match'|check_value('registry') }}"
                                      "|{{ 'signin'|event_label }}")
        assert page.split("|") == ["Verified identity", "Two-step sign-in (AAL2)",
                                   "Waiting for an officer&#39;s review", "National registry check",
                                   "Matches the registry", "Signed in"]


def test_proofing_codes_have_words_and_unknown_codes_stay_readable(app):
    assert set(vocabulary.STATUS_LABELS) == set(vocabulary.CaseStatus)
    assert set(vocabulary.CHECK_LABELS) == set(vocabulary.Check)
    with app.test_request_context(headers=EN):
        assert vocabulary.status("binding") == "Waiting for the applicant's confirmation code"
        assert vocabulary.status("someday") == "someday"
        assert vocabulary.check("card_inspected") == "Card inspected by an officer"
        assert vocabulary.check_value(True) == "yes" and vocabulary.check_value(False) == "no"
        assert vocabulary.check_value(2, "binding_aal") == "Two-step sign-in (AAL2)"
        assert vocabulary.check_value("TH-DOPA", "registry_issuer") == "TH-DOPA"
        assert vocabulary.reason("birthdate_mismatch") == "Date of birth differs from the registry"
        assert vocabulary.reason("odd") == "Other (odd)"


FORM = """{% from "_forms.html" import field, error_summary, date_parts, choice %}
{{ error_summary({"email": "Enter an email address", "agree": "Tick the box"}) }}
{{ field("email", "Email", hint="We write to it", error="Enter an email address") }}
{{ field("name", "Name") }}
{{ choice("agree", "I agree", error="Tick the box") }}
{{ date_parts("birth", "Date of birth", value={"day": "14", "month": "3", "year": "2528"}, year_label="Year (B.E.)") }}
"""


def test_a_field_names_its_hint_and_error_and_the_summary_links_to_it(app):
    with app.test_request_context(headers=EN):
        page = render_template_string(FORM)
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S).group(0)
    assert 'role="alert"' in summary and "There is a problem" in summary
    assert re.findall(r'<a href="#([^"]+)">', summary) == ["email", "agree"]
    email = re.search(r'<input id="email"[^>]*>', page).group(0)
    assert 'aria-describedby="email-hint email-error"' in email and 'aria-invalid="true"' in email
    assert 'id="email-hint"' in page and 'id="email-error"' in page
    name = re.search(r'<input id="name"[^>]*>', page).group(0)
    assert "aria-describedby" not in name and "aria-invalid" not in name
    agree = re.search(r'<input id="agree"[^>]*>', page).group(0)
    assert 'type="checkbox"' in agree and 'aria-describedby="agree-error"' in agree
    for part, autocomplete in (("day", "bday-day"), ("month", "bday-month"), ("year", "bday-year")):
        box = re.search(rf'<input id="birth-{part}"[^>]*>', page).group(0)
        assert f'name="birth-{part}"' in box and 'inputmode="numeric"' in box and autocomplete in box
    assert 'value="2528"' in page and "Year (B.E.)" in page and "<legend>Date of birth</legend>" in page


def test_a_message_without_a_field_is_a_summary_without_a_link(app):
    with app.test_request_context(headers=EN):
        page = render_template_string('{% from "_forms.html" import error_box %}{{ error_box("Nope") }}'
                                      '{{ error_box(None) }}')
    assert page.count("<h2 id=\"error-summary-title\">") == 1 and "<p>Nope</p>" in page and "href" not in page


def test_a_table_scrolls_in_a_named_focusable_region(app):
    with app.test_request_context(headers=EN):
        page = render_template_string('{% from "_layout.html" import scroll_table %}'
                                      '{% call scroll_table("Sign-ins") %}<table></table>{% endcall %}')
    assert re.search(r'<div class="table-scroll" role="region" aria-label="Sign-ins" tabindex="0">\s*<table>', page)
