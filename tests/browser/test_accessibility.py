"""Every citizen page and every console page, checked by axe-core in Chromium, in Thai and English,
on a phone (390 px) and a laptop (1,280 px): no serious or critical violation of a WCAG 2.2 A/AA
rule, and nothing wider than the window (a wide table scrolls inside its own box).

axe-core is the npm package pinned in ``tests/browser/package.json`` (``npm ci`` there, as
``.ci/run`` does); Playwright adds it to each page as an init script, so the pages keep their own
Content-Security-Policy. One IdP and one signed-in browser profile serve the whole module: a
staff member holding every role who signed in with a passkey, so the admin pages open too. Each
check opens its own page and leaves a screenshot in ``tests/browser/screenshots/`` (gitignored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from idp.accounts import roles
from idp.accounts.service import find_by_email
from idp.db import get_session
from idp.disclosure import log
from idp.disclosure import receipts
from idp.oidc import resource_servers
from idp.oidc.clients import store_client
from idp.oidc.clients import validate_metadata
from idp.oidc.models import Client
from idp.proofing import service as proofing
from idp.proofing import thai_id
from idp.proofing.verifiers import Evidence
from idp.proofing.verifiers import FileRegistry
from idp.proofing.verifiers import RegistryResult
from idp.rar import service as rar_service
from idp.rar.definitions import parse_definition
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.conftest import LiveIdp
from tests.browser.conftest import add_authenticator
from tests.browser.conftest import new_context
from tests.browser.conftest import serve_idp
from tests.browser.test_passkeys import EMAIL
from tests.browser.test_passkeys import register_passkey
from tests.browser.test_passkeys import sign_in_with_password
from tests.conftest import fresh_database
from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import pkce_pair
from tests.support.chips import ISSUERS_JWKS

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).parent / "screenshots"
EXAMPLE_TYPE = Path(__file__).resolve().parents[2] / "docs" / "authorization-details" / "th_gov_service_request.json"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")
WIDTHS = {390: 844, 1280: 800}  # width: height
APPLICANT = "applicant@example.com"
LOCALES = {"th": "th-TH", "en": "en-US"}


@dataclass(frozen=True)
class Check:
    name: str
    path: str  # "{client}" and "{case}" and "{applicant}" are filled in from the seeded rows
    signed_in: bool = True


PAGES = (
    # citizens
    Check("signin", "/signin", signed_in=False),
    Check("signup", "/signup", signed_in=False),
    Check("forgot-password", "/password/forgot", signed_in=False),
    Check("start", "/", signed_in=False),
    Check("catalogue", "/services", signed_in=False),
    Check("opendata", "/open-data/", signed_in=False),
    Check("error", "/no-such-page", signed_in=False),
    Check("home", "/"),
    Check("security", "/security"),
    Check("password", "/security/password"),
    Check("step-up", "/signin/more?aal=3"),
    Check("consent", "{consent}"),
    Check("consent-transaction", "{consent_details}"),
    Check("proofing", "/proofing"),
    Check("proofing-form", "/proofing/start"),
    Check("face-chip", "/proofing/face/chip"),
    Check("face-selfie", "/proofing/face/selfie"),
    Check("my-data", "/my-data"),
    Check("connected", "/connected-services"),
    Check("disclosures", "/my-data/disclosures"),
    Check("disclosures-error", "/my-data/disclosures?from-day=31&from-month=2&from-year=2026"),
    Check("receipts", "/my-data/receipts"),
    # staff
    Check("console", "/console/"),
    Check("clients", "/console/clients/"),
    Check("client", "/console/clients/{client}"),
    Check("client-check", "/console/clients/{client}/check"),
    Check("client-form", "/console/clients/new"),
    Check("agencies", "/console/agencies/"),
    Check("audit", "/console/audit/"),
    Check("dashboard", "/console/dashboard/"),
    Check("staff", "/console/staff/"),
    Check("transaction-types", "/console/transaction-types/"),
    Check("transaction-type-form", "/console/transaction-types/new"),
    Check("support", "/console/support/"),
    Check("support-account", "/console/support/accounts/{applicant}"),
    Check("officer-queue", "/officer/cases"),
    Check("officer-case", "/officer/cases/{case}"),
    Check("officer-counter", "/officer/counter"),
)


class _Registry:
    """A registry that finds the birth date wrong: the case goes to an officer."""

    def verify(self, evidence: Evidence) -> RegistryResult:
        return RegistryResult(outcome="mismatch", reasons=("birthdate_mismatch",), record=None, issuer="test",
                              checked_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))


def _seed(live: LiveIdp) -> dict[str, str]:
    """A staff member with every role (proofed remotely), an e-Service, and an applicant whose case waits
    for review."""
    make_user(live.app, name="Somchai Jaidee")
    make_user(live.app, APPLICANT, name="Somsri Rakdee")
    rp = make_client(live.app, name="Land Office", name_th="สำนักงานที่ดิน",
                     default_acr_values=["urn:th:digitalid:ial2:aal2"])
    with live.app.app_context():
        db = get_session()
        staff = find_by_email(db, EMAIL)
        for role in roles.ROLES:
            roles.grant(db, staff, role)
        applicant = find_by_email(db, APPLICANT)
        first12 = f"19999{applicant.id:07d}"
        case = proofing.start_remote(
            db, applicant, Evidence(kind="thai_id_card", number=first12 + str(thai_id.national_id_check_digit(first12)),
                                    laser_code="JT0-1000001-01", given_name="Somsri", family_name="Rakdee",
                                    given_name_th="สมศรี", family_name_th="รักดี", birthdate="1985-03-14"),
            config=live.app.config, verifier=_Registry(), send_code=lambda to, code: None)
        assert case.status == "review"
        example = json.loads(EXAMPLE_TYPE.read_text(encoding="utf-8"))
        rar_service.save_type(db, parse_definition(example), by=None)
        # The staff member is Somchai of the demo registry, proofed remotely: the face step is offered.
        codes: list[str] = []
        own = proofing.start_remote(
            db, staff, Evidence(kind="thai_id_card", number="1999900001010", laser_code="JT0-1000001-01",
                                given_name="Somchai", family_name="Jaidee", given_name_th="สมชาย",
                                family_name_th="ใจดี", birthdate="1985-03-14"),
            config=live.app.config, verifier=FileRegistry({}), send_code=lambda to, code: codes.append(code))
        proofing.confirm_binding(db, own, codes[0], config=live.app.config)
        live.app.config["PROOFING_CHIP_ISSUERS_JWKS"] = str(ISSUERS_JWKS)
        _seed_agencies(db, staff.id, rp.client.client_id)
        _, challenge = pkce_pair()
        payment = [{"type": "th_gov_service_request", "service": "passport_renewal", "reference": "ABC-123",
                    "amount": "1250.00", "currency": "THB"}]
        rows = {"client": rp.client.client_id, "case": str(case.id), "applicant": str(applicant.id),
                "consent": authorize_url(rp.client.client_id, challenge),
                "consent_details": authorize_url(rp.client.client_id, challenge,
                                                 authorization_details=json.dumps(payment))}
    # A line in the staff member's disclosure log and a consent receipt (their pages have content).
    with live.app.test_request_context():
        db = get_session()
        client = db.merge(rp.client)
        staff = find_by_email(db, EMAIL)
        log.record_disclosure(db, user_id=staff.id, client=client, claims=["email", "name", "sub"],
                              acr="urn:th:digitalid:ial1:aal2", via=log.Via.AUTHORIZATION_CODE, reference="code:1")
        receipts.issue(db, user=staff, client=client, items=["email", "profile"], state=receipts.State.GIVEN,
                       now=dt.datetime.now(dt.UTC))
        db.commit()
    return rows


def _seed_agencies(db: Any, user_id: int, client_id: str) -> None:
    """An agency API, an allowed exchange and one exchange the citizen sees ("on your behalf")."""
    api = store_client(db, validate_metadata({"client_name": "Civil registration API",
                                              "redirect_uris": ["https://api.civil.example/cb"]}), join_sector=True)
    rp = db.scalar(select(Client).where(Client.client_id == client_id))
    server = resource_servers.register(db, identifier="https://api.civil.example/", name="Civil registration API",
                                       name_th="API ทะเบียนราษฎร", scopes=["profile"], client=api.client)
    resource_servers.allow_exchange(db, rp, server)
    resource_servers.set_machine_scopes(db, rp, ["land:read"])
    resource_servers.record_data_use(db, user_id=user_id, client=rp, source_client_id=rp.id, server=server,
                                     scope="profile")
    db.commit()


@dataclass
class Site:
    live: LiveIdp
    # per language: a browser profile signed in with a passkey (AAL2), holding every staff role
    signed_in: dict[str, Any]
    signed_out: dict[str, Any]
    rows: dict[str, str]


@pytest.fixture(scope="module")
def site(browser: Any, keys_dir: Path, migrated_template: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not AXE.is_file():
        message = f"the accessibility test needs axe-core: run `npm ci` in {AXE.parents[2]}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("a11y")
    for database_url in fresh_database(folder, migrated_template):
        with serve_idp(folder, keys_dir, database_url) as live:
            rows = _seed(live)
            first = new_context(browser)
            contexts: list[Any] = [first]
            try:
                _sign_in_with_passkey(first, live)
                session = first.storage_state()
                signed_in, signed_out = {}, {}
                for lang, locale in LOCALES.items():
                    # The browser's language (Accept-Language) is what each check reads the page in.
                    signed_in[lang] = browser.new_context(locale=locale, storage_state=session)
                    signed_out[lang] = browser.new_context(locale=locale)
                    for ctx in (signed_in[lang], signed_out[lang]):
                        contexts.append(ctx)
                        ctx.set_default_timeout(TIMEOUT_MS)
                        ctx.add_init_script(path=str(AXE))
                yield Site(live, signed_in, signed_out, rows)
            finally:
                for ctx in contexts:
                    ctx.close()


def _sign_in_with_passkey(ctx: Any, live: LiveIdp) -> None:
    """Password, a new passkey, then the passkey at the admin console's step-up: AAL2 with a passkey."""
    page = ctx.new_page()
    add_authenticator(page)
    sign_in_with_password(page, live, expect_url=f"{live.url}/")
    register_passkey(page, live, "Staff phone")
    page.goto(f"{live.url}/console/clients/")
    page.wait_for_url(re.compile(re.escape(f"{live.url}/signin/more?")))
    page.click("#passkey-stepup")
    page.wait_for_url(f"{live.url}/console/clients/")
    page.close()


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        lines.append(f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}x: {targets})")
    return "\n".join(lines)


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("lang", sorted(LOCALES))
@pytest.mark.parametrize("check", PAGES, ids=[c.name for c in PAGES])
def test_no_serious_accessibility_violation(site: Site, check: Check, lang: str, width: int) -> None:
    page = (site.signed_in if check.signed_in else site.signed_out)[lang].new_page()
    try:
        page.set_viewport_size({"width": width, "height": WIDTHS[width]})
        page.goto(site.live.url + check.path.format(**site.rows))
        assert page.get_attribute("html", "lang") == lang
        if check.signed_in:
            assert "/signin" not in page.url or check.name == "step-up", f"not signed in: {page.url}"
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{check.name}-{lang}-{width}.png"), full_page=True)
        result = page.evaluate("""tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                                             resultTypes: ["violations"]})""", WCAG_22_AA)
        blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
        assert not blocking, _describe(blocking)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the {width} px window"
    finally:
        page.close()
