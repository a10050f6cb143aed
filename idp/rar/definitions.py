"""Authorization-details type definitions: checked when registered, applied to each request.

A definition is what the operator registers for one ``type`` (RFC 9396 §2): a JSON Schema every
detail of the type must match, and the words that show a detail to the person on the consent page
(RFC 9396 §2: the AS "MUST ... present the authorization details to the user" when it asks for
consent). Nothing here touches the database or the request: the service stores definitions, the
protocol layer turns :class:`DetailRejected` into ``invalid_authorization_details``.

The definition file (``idp authz-types add --file``, docs/authorization-details.md)::

    {"type": "th_gov_service_request",
     "schema": {... JSON Schema ...},
     "display": {"title": {"en": ..., "th": ...},
                 "summary": {"en": "Pay a fee of {amount} for {service}", "th": ...},
                 "fields": {"amount": {"label": {"en": ..., "th": ...}, "format": "amount",
                                       "currency_field": "currency"},
                            "currency": {"hidden": true}, ...}},
     "clients": null, "active": true}
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from babel.numbers import format_decimal
from flask_babel import lazy_gettext as _l
from jsonschema import Draft7Validator
from jsonschema import Draft201909Validator
from jsonschema import Draft202012Validator
from jsonschema import exceptions as schema_errors
from referencing.exceptions import Unresolvable

# RFC 9396 §2: "type: ... a string ... It can be a URI" — letters, digits and URI punctuation.
TYPE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$")
FORMATS = ("text", "amount", "date")
LANGUAGES = ("th", "en")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
MAX_TEXT = 300  # a title, summary or label, in one language
MAX_SCHEMA = 20_000  # characters of the schema as JSON
# ``$schema`` values understood (without one: 2020-12); older drafts than 7 are not offered.
KNOWN_DRAFTS: dict[str, Any] = {v.META_SCHEMA["$id"].rstrip("#"): v
                                for v in (Draft7Validator, Draft201909Validator, Draft202012Validator)}


@dataclass(frozen=True)
class Problem:
    """What is wrong with one part of a definition: ``part`` names the form field
    (``type``, ``schema``, ``display``, ``clients``)."""

    part: str
    message: str


class DefinitionError(ValueError):
    """A definition that cannot be registered; ``problems`` says what, part by part."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.part}: {p.message}" for p in problems))
        self.problems = problems


class DetailRejected(ValueError):
    """A detail that does not match its type's schema. The message names where (a JSON path of
    the schema, never a value the e-Service sent), so it can go back as ``error_description``."""


@dataclass(frozen=True)
class Definition:
    name: str
    schema: dict[str, Any]
    display: dict[str, Any]
    clients: list[str] | None = None
    active: bool = True


@dataclass(frozen=True)
class Rendered:
    """A detail in the reader's language: a title, a sentence, and each field with its label."""

    type: str
    title: str
    summary: str | None
    rows: list[tuple[str, str]] = field(default_factory=list)


# -- checking a definition -----------------------------------------------------------------------


def parse_definition(data: Any) -> Definition:
    """Check a definition (the decoded JSON of a definition file) and return it.

    :raises DefinitionError: with every problem found, so a form can show them all at once
    """
    if not isinstance(data, dict):
        raise DefinitionError([Problem("type", str(_l("The definition must be a JSON object.")))])
    problems: list[Problem] = []
    name = data.get("type")
    if not isinstance(name, str) or not TYPE_NAME.match(name):
        problems.append(Problem("type", str(_l(
            "The type name must be 1 to 100 letters, digits or the characters _ . : / - (starting with "
            "a letter or digit)."))))
    problems.extend(_schema_problems(data.get("schema")))
    problems.extend(_display_problems(data.get("display")))
    clients = data.get("clients")
    if clients is not None and not (isinstance(clients, list) and all(isinstance(c, str) and c for c in clients)):
        problems.append(Problem("clients", str(_l(
            "The e-Services must be a list of client_id values, or null for all."))))
    active = data.get("active", True)
    if not isinstance(active, bool):
        problems.append(Problem("active", str(_l("active must be true or false."))))
    unknown = sorted(set(data) - {"type", "schema", "display", "clients", "active"})
    if unknown:
        problems.append(Problem("type", str(_l("Unknown member %(name)s.", name=unknown[0]))))
    if problems:
        raise DefinitionError(problems)
    return Definition(name=str(name), schema=data["schema"], display=data["display"],
                      clients=sorted(set(clients)) if clients is not None else None, active=active)


def _schema_problems(schema: Any) -> list[Problem]:
    if not isinstance(schema, dict):
        return [Problem("schema", str(_l("The schema must be a JSON object (a JSON Schema).")))]
    if len(json.dumps(schema)) > MAX_SCHEMA:
        return [Problem("schema", str(_l("The schema is longer than %(n)d characters.", n=MAX_SCHEMA)))]
    declared = schema.get("$schema")
    if declared is not None and str(declared).rstrip("#") not in KNOWN_DRAFTS:
        return [Problem("schema", str(_l("The schema names a JSON Schema version this server does not know.")))]
    cls = KNOWN_DRAFTS.get(str(declared).rstrip("#"), Draft202012Validator) if declared else Draft202012Validator
    try:
        cls.check_schema(schema)
    except schema_errors.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(top)"
        return [Problem("schema", str(_l("This is not a valid JSON Schema (at %(where)s): %(message)s",
                                         where=where, message=exc.message[:200])))]
    if any(not ref.startswith("#") for ref in _refs(schema)):
        # Nothing is fetched while a request is checked: every reference stays inside the schema.
        return [Problem("schema", str(_l("The schema may only refer to its own parts ($ref starting with #).")))]
    if schema.get("type") not in (None, "object"):
        return [Problem("schema", str(_l(
            "An authorization detail is a JSON object: the schema's type must be object.")))]
    return []


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(v) for k, v in node.items() if k in ("$ref", "$dynamicRef", "$recursiveRef")]
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _words_problem(value: Any, what: str, *, required: bool) -> str | None:
    """A ``{"th": ..., "en": ...}`` mapping: both languages when required, each at most MAX_TEXT."""
    if value is None and not required:
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(lang), str) and value[lang].strip()
                                              for lang in LANGUAGES) or set(value) - set(LANGUAGES):
        return str(_l("%(what)s needs a text in Thai (th) and in English (en).", what=what))
    if any(len(value[lang]) > MAX_TEXT for lang in LANGUAGES):
        return str(_l("%(what)s is longer than %(n)d characters.", what=what, n=MAX_TEXT))
    return None


def _display_problems(display: Any) -> list[Problem]:
    if not isinstance(display, dict):
        return [Problem("display", str(_l("display must be a JSON object with a title, a summary and fields.")))]
    found = [_words_problem(display.get("title"), str(_l("The title")), required=True),
             _words_problem(display.get("summary"), str(_l("The summary")), required=False)]
    fields = display.get("fields", {})
    if not isinstance(fields, dict):
        found.append(str(_l("fields must be a JSON object, one member per field of the detail.")))
        fields = {}
    for name, spec in fields.items():
        found.extend(_field_problems(name, spec))
    if isinstance(display.get("summary"), dict):
        for text in display["summary"].values():
            missing = [p for p in PLACEHOLDER.findall(str(text)) if p not in fields]
            if missing:
                found.append(str(_l("The summary uses {%(name)s}, which has no entry under fields.", name=missing[0])))
    unknown = sorted(set(display) - {"title", "summary", "fields"})
    if unknown:
        found.append(str(_l("Unknown member %(name)s.", name=unknown[0])))
    return [Problem("display", message) for message in found if message]


def _field_problems(name: str, spec: Any) -> list[str | None]:
    label = str(_l("The label of %(name)s", name=name))
    if not isinstance(spec, dict):
        return [str(_l("The field %(name)s must be a JSON object.", name=name))]
    found = [_words_problem(spec.get("label"), label, required=False)]
    if spec.get("format", "text") not in FORMATS:
        found.append(str(_l("The format of %(name)s must be one of: %(formats)s.", name=name,
                            formats=", ".join(FORMATS))))
    if not isinstance(spec.get("hidden", False), bool):
        found.append(str(_l("hidden of %(name)s must be true or false.", name=name)))
    if spec.get("currency_field") is not None and not isinstance(spec["currency_field"], str):
        found.append(str(_l("currency_field of %(name)s must be a field name.", name=name)))
    values = spec.get("values", {})
    if not isinstance(values, dict):
        found.append(str(_l("values of %(name)s must map each code to its words.", name=name)))
    else:
        found.extend(_words_problem(words, str(_l("The words for %(code)s", code=code)), required=True)
                     for code, words in values.items())
    unknown = sorted(set(spec) - {"label", "format", "hidden", "currency_field", "values"})
    if unknown:
        found.append(str(_l("Unknown member %(name)s.", name=unknown[0])))
    return found


# -- checking a detail ------------------------------------------------------------------------------


_SAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def check_detail(schema: dict[str, Any], detail: dict[str, Any]) -> None:
    """Check one detail against its type's schema.

    :raises DetailRejected: naming the first failing keyword and where in the detail, in characters
        RFC 6749 §5.2 allows in ``error_description`` (values the e-Service sent are never quoted)
    """
    declared = str(schema.get("$schema", "")).rstrip("#")
    validator = KNOWN_DRAFTS.get(declared, Draft202012Validator)(schema)
    try:
        error = schema_errors.best_match(validator.iter_errors(detail))
    except (Unresolvable, schema_errors.SchemaError, RecursionError) as exc:
        raise DetailRejected("the registered schema of this type cannot be applied") from exc
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "(top)"
    raise DetailRejected(_SAFE.sub("?", f"does not match the schema of its type: '{error.validator}' "
                                        f"failed at {where}"[:200]))


# -- showing a detail ---------------------------------------------------------------------------------


def _pick(words: Any, locale: str) -> str | None:
    if not isinstance(words, dict):
        return None
    lang = "th" if locale.startswith("th") else "en"
    value = words.get(lang) or words.get("en") or words.get("th")
    return str(value) if value else None


def _format(value: Any, spec: dict[str, Any], detail: dict[str, Any], locale: str) -> str:
    babel_locale = "th_TH" if locale.startswith("th") else "en"
    label = _pick(spec.get("values", {}).get(str(value)) if isinstance(value, (str, int)) else None, locale)
    if label:
        return label
    kind = spec.get("format", "text")
    if kind == "amount" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        if not amount.is_finite() or not -6 <= amount.adjusted() <= 15:
            return str(value)  # "1e999999999" would be written out digit by digit
        currency = detail.get(spec.get("currency_field") or "currency")
        if isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency):
            text = format_currency(amount, currency, locale=babel_locale)
            # CLDR's English pattern puts an alphabetic code right against the number ("THB1,250.00").
            return re.sub(r"^([A-Z]{3})(?=\d)", "\\1\u00a0", text)
        return format_decimal(amount, locale=babel_locale)
    if kind == "date" and isinstance(value, str):
        try:
            return format_date(dt.date.fromisoformat(value[:10]), format="long", locale=babel_locale)
        except ValueError:
            return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def render(definition: Definition, detail: dict[str, Any], locale: str) -> Rendered:
    """The detail as the consent page shows it in ``locale``: every member the e-Service sent
    (except ``type``) appears in the rows, labelled when the definition labels it, so the person
    sees everything they approve; hidden fields only feed another's format (a currency)."""
    display = definition.display
    fields: dict[str, Any] = display.get("fields", {})
    values = {name: _format(value, fields.get(name, {}), detail, locale)
              for name, value in detail.items() if name != "type"}
    rows = [(_pick(fields.get(name, {}).get("label"), locale) or name, text)
            for name, text in values.items() if not fields.get(name, {}).get("hidden")]
    template = _pick(display.get("summary"), locale)
    summary = None
    if template and all(p in values for p in PLACEHOLDER.findall(template)):
        summary = PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    return Rendered(type=definition.name, title=_pick(display.get("title"), locale) or definition.name,
                    summary=summary, rows=rows)
