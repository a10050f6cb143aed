import pytest

from idp.accounts.passwords import PasswordRejected
from idp.accounts.passwords import check_password_rules
from idp.accounts.passwords import hash_password
from idp.accounts.passwords import verify_password


def test_hash_and_verify():
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password("correct horse battery", expected_hash=hashed)
    assert not verify_password("wrong", expected_hash=hashed)
    assert not verify_password("anything", expected_hash=None)
    assert not verify_password("anything", expected_hash="not a hash")


def test_unicode_is_normalised():
    hashed = hash_password("ｐａｓｓｐｈｒａｓｅ ไทย")  # full-width letters
    assert verify_password("passphrase ไทย", expected_hash=hashed)


@pytest.mark.parametrize("password,code", [("1234567", "too_short"), ("qwertyuiop", "common"),
                                           ("x" * 257, "too_long"), ("somchai@example.com", "matches_email")])
def test_rules(password, code):
    with pytest.raises(PasswordRejected) as info:
        check_password_rules(password, email="somchai@example.com")
    assert info.value.code == code


def test_long_passphrases_with_spaces_and_thai_are_fine():
    check_password_rules("ข้าวมันไก่ อร่อยมาก " * 3)
