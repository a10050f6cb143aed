"""The admin console in a real browser: an admin signs in with a password, is asked for their passkey
(Chromium's virtual authenticator), and reaches the e-Services page; the dashboard's charts render
as SVG without JavaScript."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from idp.accounts import roles
from idp.accounts.service import find_by_email
from tests.browser.conftest import Authenticator
from tests.browser.conftest import LiveIdp
from tests.browser.test_passkeys import EMAIL
from tests.browser.test_passkeys import register_passkey
from tests.browser.test_passkeys import sign_in_with_password
from tests.browser.test_passkeys import sign_out
from tests.factories import make_client
from tests.factories import make_user

pytestmark = pytest.mark.browser


def make_admin(live: LiveIdp) -> None:
    make_user(live.app)
    with live.db() as db:
        roles.grant(db, find_by_email(db, EMAIL), "admin")


def test_an_admin_reaches_the_console_with_a_passkey(live_idp: LiveIdp, page: Any, authenticator: Authenticator,
                                                    tmp_path: Path) -> None:
    make_admin(live_idp)
    make_client(live_idp.app, name="Land Office", name_th="สำนักงานที่ดิน")
    sign_in_with_password(page, live_idp, expect_url=f"{live_idp.url}/")
    register_passkey(page, live_idp, "Admin phone")
    sign_out(page, live_idp)

    page.goto(f"{live_idp.url}/console/clients/")
    page.wait_for_url(re.compile(re.escape(f"{live_idp.url}/signin?")))
    sign_in_with_password(page, live_idp, expect_url=re.compile(re.escape(f"{live_idp.url}/signin/more?")))
    assert page.locator("#passkey-stepup").is_visible()
    page.click("#passkey-stepup")
    page.wait_for_url(f"{live_idp.url}/console/clients/")
    assert "Land Office" in page.inner_text("main")

    page.goto(f"{live_idp.url}/console/dashboard/")
    assert page.locator("main svg").count() >= 1
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert (tmp_path / "dashboard.png").stat().st_size > 0


def test_a_password_alone_never_opens_the_admin_console(live_idp: LiveIdp, page: Any,
                                                       authenticator: Authenticator) -> None:
    make_admin(live_idp)
    page.goto(f"{live_idp.url}/console/clients/")
    sign_in_with_password(page, live_idp, expect_url=re.compile(re.escape(f"{live_idp.url}/signin/more?")))
    assert "You have no authenticator that can give this level" in page.inner_text("main")
    page.goto(f"{live_idp.url}/console/clients/")
    assert "/signin/more" in page.url
