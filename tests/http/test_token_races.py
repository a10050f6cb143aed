"""Two redemptions of one code or one refresh token at the same moment, through real threads.

RFC 6749 §4.1.2: a code used twice is refused and what it issued is revoked; RFC 9700 §4.14.2:
a refresh token used twice revokes its family. Both must hold however close together the two
requests come, also when the loser arrives while the winner's transaction is still open.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.factories import make_client
from tests.factories import make_user
from tests.flows import authorize_url
from tests.flows import basic
from tests.flows import exchange
from tests.flows import follow_to_code
from tests.flows import full_flow
from tests.flows import pkce_pair

ROUNDS = 20


@pytest.fixture
def rp(app):
    make_user(app)
    return make_client(app)


def _together(app, send) -> list[Any]:
    """Run ``send(test_client)`` in two threads released at the same instant; both responses."""
    barrier = threading.Barrier(2)
    responses: list[Any] = [None, None]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        own = app.test_client()
        try:
            barrier.wait(timeout=10)
            responses[i] = send(own)
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return responses


def _one_winner(responses: list[Any]) -> dict[str, Any]:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 400], [r.get_data(as_text=True) for r in responses]
    loser = next(r for r in responses if r.status_code == 400)
    assert loser.json["error"] == "invalid_grant"
    return dict(next(r for r in responses if r.status_code == 200).json)


def _assert_dead(client, rp, won: dict[str, Any]) -> None:
    auth = {"Authorization": basic(rp.client.client_id, rp.client_secret)}
    assert client.post("/introspect", data={"token": won["access_token"]}, headers=auth).json == {"active": False}
    refresh = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": won["refresh_token"]},
                          headers=auth)
    assert refresh.status_code == 400 and refresh.json["error"] == "invalid_grant"
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + won["access_token"]})
    assert info.status_code == 401


def test_a_code_redeemed_twice_at_once_revokes_what_the_winner_got(app, client, rp):
    for _ in range(ROUNDS):
        verifier, challenge = pkce_pair()
        code = follow_to_code(client, authorize_url(rp.client.client_id, challenge,
                                                    scope="openid offline_access"))["code"]
        responses = _together(app, lambda own: exchange(own, code, client_id=rp.client.client_id,
                                                        secret=rp.client_secret, verifier=verifier))
        _assert_dead(client, rp, _one_winner(responses))


def test_a_refresh_token_used_twice_at_once_revokes_its_family(app, client, rp):
    auth = {"Authorization": basic(rp.client.client_id, rp.client_secret)}
    for _ in range(ROUNDS):
        first = full_flow(client, rp.client.client_id, rp.client_secret, scope="openid offline_access")
        data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        responses = _together(app, lambda own, data=data: own.post("/token", data=data, headers=auth))
        won = _one_winner(responses)
        _assert_dead(client, rp, won)
        # the tokens from the code are dead too (one family)
        introspected = client.post("/introspect", data={"token": first["access_token"]}, headers=auth)
        assert introspected.json == {"active": False}


def test_tokens_written_after_their_family_was_revoked_are_revoked(app, client, rp):
    """The mark covers what a winner writes after it (a loser may mark before the winner commits)."""
    from sqlalchemy import select

    from idp.crypto import hash_secret
    from idp.db import get_session
    from idp.oidc import tokens
    from idp.oidc.models import AuthorizationCode

    verifier, challenge = pkce_pair()
    code = follow_to_code(client, authorize_url(rp.client.client_id, challenge, scope="openid offline_access"))["code"]
    with app.app_context():
        db = get_session()
        row = db.scalar(select(AuthorizationCode).where(AuthorizationCode.code_hash == hash_secret(code)))
        assert tokens.revoke_family(db, tokens.family_of(row)) is True
        db.commit()
    late = exchange(client, code, client_id=rp.client.client_id, secret=rp.client_secret, verifier=verifier)
    assert late.status_code == 200
    _assert_dead(client, rp, late.json)
