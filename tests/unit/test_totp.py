"""TOTP (RFC 6238): codes, drift window, replay, seeds encrypted at rest."""

import base64

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy import text

from idp import clock
from idp.accounts.models import User
from idp.assurance import policy
from idp.audit.models import AuditEvent
from idp.authn import qr
from idp.authn import totp
from tests.factories import make_user

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238 appendix B, SHA-1



@pytest.fixture
def user(app, db):
    return db.get(User, make_user(app).id)


def _pin(ts: float) -> None:
    clock.advance(ts - clock.timestamp())


def _pin_mid_step() -> int:
    """Put the clock in the middle of a step, so a test never straddles a step boundary."""
    step = totp.current_step() + 1
    _pin(step * totp.STEP + totp.STEP / 2)
    return step


def _wrong_code(secret: str, step: int) -> str:
    window = {totp.code_at(secret, s) for s in range(step - 1, step + 2)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in window)


@pytest.mark.parametrize("when,code", [(59, "287082"), (1111111109, "081804"), (2000000000, "279037")])
def test_rfc6238_vectors_verify(app, db, user, when, code):
    # Appendix B gives 8 digits (94287082, 07081804, 69279037); six digits keep the last six.
    totp.import_secret(db, user, RFC_SECRET, name="RFC", config=app.config)
    _pin(when)
    factor = totp.verify(db, user, code, config=app.config)
    assert factor is not None and factor.method == policy.TOTP
    assert factor.at == pytest.approx(when, abs=1)


def test_enrol_needs_the_right_code_and_stores_nothing_otherwise(app, db, user):
    step = _pin_mid_step()
    secret = totp.new_secret()
    assert len(base64.b32decode(secret)) == 20  # 160 bits
    for code in (_wrong_code(secret, step), totp.code_at(secret, step - 2), "", "12345"):
        with pytest.raises(totp.TotpError) as info:
            totp.enrol(db, user, secret, code, name="Phone", config=app.config)
        assert info.value.code == "invalid"
    assert totp.list_for(db, user.id) == []
    assert db.scalars(select(AuditEvent).where(AuditEvent.event == "totp_enrolled")).all() == []

    credential = totp.enrol(db, user, secret, totp.code_at(secret, step), name=" Phone ", config=app.config)
    assert credential.name == "Phone" and credential.last_step == step
    assert [c.id for c in totp.list_for(db, user.id)] == [credential.id]
    events = db.scalars(select(AuditEvent).where(AuditEvent.event == "totp_enrolled")).all()
    assert [(e.user_id, e.details["totp_id"]) for e in events] == [(user.id, credential.id)]


def test_enrolment_code_cannot_be_replayed_at_sign_in(app, db, user):
    step = _pin_mid_step()
    secret = totp.new_secret()
    code = totp.code_at(secret, step)
    totp.enrol(db, user, secret, code, name="Phone", config=app.config)
    assert totp.verify(db, user, code, config=app.config) is None
    assert totp.verify(db, user, totp.code_at(secret, step + 1), config=app.config) is not None


def test_seed_is_not_stored_in_plaintext(app, db, user):
    secret = totp.new_secret()
    totp.import_secret(db, user, secret, name="Token", config=app.config)
    raw = db.execute(text("SELECT secret_encrypted FROM totp_credentials")).scalar_one()
    raw = bytes(raw)
    assert secret.encode() not in raw
    assert base64.b32decode(secret) not in raw
    assert len(raw) >= 12 + len(secret) + 16  # nonce, ciphertext, tag


def test_seed_is_bound_to_its_user(app, db, user):
    """A ciphertext copied onto another account does not decrypt there (AES-GCM context)."""
    other = db.get(User, make_user(app, "other@example.com").id)
    step = _pin_mid_step()
    secret = totp.new_secret()
    credential = totp.import_secret(db, user, secret, name="Token", config=app.config)
    stolen = totp.import_secret(db, other, totp.new_secret(), name="Token", config=app.config)
    stolen.secret_encrypted = credential.secret_encrypted
    db.commit()
    with pytest.raises(InvalidTag):
        totp.verify(db, other, totp.code_at(secret, step), config=app.config)


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_accepts_previous_current_and_next_step(app, db, user, offset):
    step = _pin_mid_step()
    secret = totp.new_secret()
    totp.import_secret(db, user, secret, name="Token", config=app.config)
    assert totp.verify(db, user, totp.code_at(secret, step + offset), config=app.config) is not None
    assert totp.list_for(db, user.id)[0].last_step == step + offset
    assert totp.list_for(db, user.id)[0].last_used_at is not None


@pytest.mark.parametrize("offset", [-2, 2, -10])
def test_refuses_codes_two_steps_away(app, db, user, offset):
    step = _pin_mid_step()
    secret = totp.new_secret()
    totp.import_secret(db, user, secret, name="Token", config=app.config)
    code = totp.code_at(secret, step + offset)
    if code in {totp.code_at(secret, s) for s in (step - 1, step, step + 1)}:
        pytest.skip("one-in-a-million code collision")
    assert totp.verify(db, user, code, config=app.config) is None


def test_replay_of_the_same_code_is_refused(app, db, user):
    step = _pin_mid_step()
    secret = totp.new_secret()
    totp.import_secret(db, user, secret, name="Token", config=app.config)
    code = totp.code_at(secret, step)
    assert totp.verify(db, user, code, config=app.config) is not None
    assert totp.verify(db, user, code, config=app.config) is None
    clock.advance(totp.STEP)  # still inside the window one step later
    assert totp.verify(db, user, code, config=app.config) is None


def test_an_earlier_code_is_refused_after_a_later_one(app, db, user):
    step = _pin_mid_step()
    secret = totp.new_secret()
    totp.import_secret(db, user, secret, name="Token", config=app.config)
    assert totp.verify(db, user, totp.code_at(secret, step + 1), config=app.config) is not None
    assert totp.verify(db, user, totp.code_at(secret, step), config=app.config) is None
    assert totp.verify(db, user, totp.code_at(secret, step - 1), config=app.config) is None


def test_code_formatting(app, db, user):
    step = _pin_mid_step()
    secret = totp.new_secret()
    totp.import_secret(db, user, secret, name="Token", config=app.config)
    code = totp.code_at(secret, step)
    for bad in (code + "0", code[:5], "abcdef", "๑๒๓๔๕๖", "", "   "):
        assert totp.verify(db, user, bad, config=app.config) is None
    assert totp.verify(db, user, f" {code[:3]} {code[3:]}\n", config=app.config) is not None


def test_every_credential_is_tried_and_others_codes_fail(app, db, user):
    other = db.get(User, make_user(app, "other@example.com").id)
    step = _pin_mid_step()
    first, second = totp.new_secret(), totp.new_secret()
    totp.import_secret(db, user, first, name="App", config=app.config)
    totp.import_secret(db, user, second, name="Token", config=app.config)
    assert totp.verify(db, user, totp.code_at(second, step), config=app.config) is not None
    assert totp.verify(db, user, totp.code_at(first, step), config=app.config) is not None
    assert totp.verify(db, other, totp.code_at(first, step + 1), config=app.config) is None


@pytest.mark.parametrize("secret", ["not base32!", "GEZDGNBVGY3TQOJQ", "", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
                                    "ก" * 32])
def test_import_refuses_bad_secrets(app, db, user, secret):
    with pytest.raises(totp.TotpError) as info:
        totp.import_secret(db, user, secret, name="Token", config=app.config)
    assert info.value.code == "bad_secret"
    assert totp.list_for(db, user.id) == []


def test_import_accepts_spaced_lower_case_secrets(app, db, user):
    _pin(59)
    spaced = " ".join(RFC_SECRET[i:i + 4] for i in range(0, len(RFC_SECRET), 4)).lower()
    totp.import_secret(db, user, spaced, name="Token", config=app.config)
    assert totp.verify(db, user, "287082", config=app.config) is not None


def test_remove_only_the_owners_credential(app, db, user):
    other = db.get(User, make_user(app, "other@example.com").id)
    credential = totp.import_secret(db, user, totp.new_secret(), name="Token", config=app.config)
    assert not totp.remove(db, other, credential.id)
    assert totp.remove(db, user, credential.id)
    assert totp.list_for(db, user.id) == []
    assert not totp.remove(db, user, credential.id)


def test_provisioning_uri_and_qr():
    uri = totp.provisioning_uri(RFC_SECRET, account="somchai@example.com", issuer="Thai Digital ID")
    assert uri.startswith("otpauth://totp/Thai%20Digital%20ID:somchai%40example.com?")
    assert f"secret={RFC_SECRET}" in uri and "issuer=Thai%20Digital%20ID" in uri
    image = qr.svg(uri)
    assert image.startswith("<svg") and image.endswith("</svg>")
    assert "<?xml" not in image and "<script" not in image and "http" not in image


def test_two_processes_cannot_both_spend_one_code(app, db, user):
    """A second session that loaded the credential before the first spent the code is refused too."""
    step = _pin_mid_step()
    secret = totp.new_secret()
    totp.import_secret(db, user, secret, name="Token", config=app.config)
    code = totp.code_at(secret, step)
    other = app.extensions["idp.db"]()
    try:
        assert other.get(User, user.id) is not None
        stale = totp.list_for(other, user.id)  # last_step 0 held in the other session
        assert stale[0].last_step == 0
        assert totp.verify(db, user, code, config=app.config) is not None
        assert totp.verify(other, other.get(User, user.id), code, config=app.config) is None
    finally:
        other.close()
