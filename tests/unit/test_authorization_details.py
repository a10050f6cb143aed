"""Authorization-details definitions and the request parameter, without HTTP (RFC 9396)."""

import json
from pathlib import Path

import pytest
from flask_babel import force_locale

from idp.db import get_session
from idp.oidc.authorization_details import InvalidAuthorizationDetails
from idp.oidc.authorization_details import parse_authorization_details
from idp.rar import service
from idp.rar.definitions import DefinitionError
from idp.rar.definitions import DetailRejected
from idp.rar.definitions import check_detail
from idp.rar.definitions import parse_definition
from idp.rar.definitions import render
from tests.factories import make_client

EXAMPLE = json.loads((Path(__file__).resolve().parents[2] / "docs" / "authorization-details"
                      / "th_gov_service_request.json").read_text(encoding="utf-8"))
PAYMENT = {"type": "th_gov_service_request", "service": "passport_renewal", "reference": "ABC-123",
           "amount": "1250.00", "currency": "THB"}


@pytest.fixture
def ctx(app):
    with app.app_context(), force_locale("en"):
        yield


def test_the_example_definition_is_valid(ctx):
    definition = parse_definition(EXAMPLE)
    assert definition.name == "th_gov_service_request" and definition.clients is None and definition.active


@pytest.mark.parametrize(("changes", "part"), [
    ({"type": ""}, "type"),
    ({"type": "a b"}, "type"),
    ({"schema": []}, "schema"),
    ({"schema": {"type": "object", "properties": {"a": {"type": "money"}}}}, "schema"),
    ({"schema": {"allOf": [{"$ref": "other.json"}]}}, "schema"),
    ({"schema": {"$defs": {"a": {}}, "properties": {"x": {"$ref": "#/$defs/a"}}}}, None),  # local refs are fine
    ({"display": {"title": {"en": "x", "th": "ก"}, "fields": {"a": {"format": "money"}}}}, "display"),
    ({"display": {"title": {"en": "x", "th": "ก"}, "fields": {"a": {"values": {"c": {"en": "only"}}}}}}, "display"),
    ({"display": {"title": {"en": "x" * 301, "th": "ก"}}}, "display"),
    ({"clients": "all"}, "clients"),
    ({"active": "yes"}, "active"),
    ({"colour": "red"}, "type"),
])
def test_definition_problems_name_their_part(ctx, changes, part):
    data = EXAMPLE | changes
    if part is None:
        parse_definition(data)
        return
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data)
    assert part in [p.part for p in caught.value.problems]


def test_every_problem_is_reported_at_once(ctx):
    with pytest.raises(DefinitionError) as caught:
        parse_definition({"type": "", "schema": None, "display": None})
    assert {p.part for p in caught.value.problems} == {"type", "schema", "display"}


def test_check_detail_names_where_but_never_the_value():
    schema = EXAMPLE["schema"]
    check_detail(schema, PAYMENT)
    with pytest.raises(DetailRejected) as caught:
        check_detail(schema, {**PAYMENT, "reference": 'sec"ret\\value'})
    assert "reference" in str(caught.value) and "sec" not in str(caught.value)
    assert '"' not in str(caught.value) and "\\" not in str(caught.value)


def test_render_formats_the_amount_per_locale(ctx):
    definition = parse_definition(EXAMPLE)
    english = render(definition, PAYMENT, "en")
    thai = render(definition, PAYMENT, "th")
    assert english.summary == "Pay a fee of THB\u00a01,250.00 for passport renewal, reference ABC-123"
    assert thai.summary == "ชำระค่าธรรมเนียม ฿1,250.00 สำหรับการต่ออายุหนังสือเดินทาง เลขอ้างอิง ABC-123"
    assert ("Fee", "THB\u00a01,250.00") in english.rows and ("ค่าธรรมเนียม", "฿1,250.00") in thai.rows
    assert not any(label == "currency" for label, _ in english.rows)  # hidden: it only formats the amount


def test_render_shows_unlabelled_members_and_skips_a_summary_it_cannot_fill(ctx):
    definition = parse_definition(EXAMPLE)
    shown = render(definition, {"type": "th_gov_service_request", "service": "dog_licence", "reference": "R1",
                                "note": {"a": 1}}, "en")
    assert shown.summary is None  # {amount} is missing
    assert ("Service", "dog_licence") in shown.rows and ("note", '{"a": 1}') in shown.rows


@pytest.mark.parametrize("amount", ["1e999999999", "NaN", "Infinity", "abc", "1e-99"])
def test_render_shows_an_amount_it_cannot_format_as_sent(ctx, amount):
    shown = render(parse_definition(EXAMPLE), {**PAYMENT, "amount": amount}, "en")
    assert ("Fee", amount) in shown.rows


@pytest.fixture
def registered(app):
    rp = make_client(app)
    with app.app_context():
        service.save_type(get_session(), parse_definition(EXAMPLE), by=None)
        service.save_type(get_session(), parse_definition(EXAMPLE | {"type": "private", "clients": ["other"]}),
                          by=None)
    return rp.client


@pytest.mark.parametrize(("raw", "expected"), [
    (None, []),
    ("", []),
    ("[]", []),
    (json.dumps([PAYMENT]), [PAYMENT]),
])
def test_parse_accepts(app, registered, raw, expected):
    with app.app_context():
        assert parse_authorization_details(raw, registered) == expected


@pytest.mark.parametrize("raw", [
    "{", "{}", '"x"', "[1]", "[{}]", '[{"type": ""}]', '[{"type": null}]', '[{"type": "nope"}]',
    json.dumps([{**PAYMENT, "type": "private"}]),  # registered, but for another e-Service
    json.dumps([{**PAYMENT, "amount": 5}]),
    "[" * 100_000 + "]" * 100_000,  # too long
    "[" * 2000 + "]" * 2000,  # too deep for the parser
    "[Infinity]",
    json.dumps([PAYMENT] * 11),
])
def test_parse_refuses_with_invalid_authorization_details(app, registered, raw):
    with app.app_context(), pytest.raises(InvalidAuthorizationDetails) as caught:
        parse_authorization_details(raw, registered)
    assert caught.value.error == "invalid_authorization_details" and caught.value.redirect_uri is None
    assert caught.value.get_body()[0] == ("error", "invalid_authorization_details")  # PAR answers it as JSON


def test_parse_carries_the_redirect_uri_for_the_authorization_endpoint(app, registered):
    with app.app_context(), pytest.raises(InvalidAuthorizationDetails) as caught:
        parse_authorization_details("[1]", registered, redirect_uri="https://rp.example/cb")
    assert caught.value.redirect_uri == "https://rp.example/cb"
