"""The approval rules as a table: registry outcome × duplicate × binding → what happens to the case."""

import datetime as dt

import pytest

from idp import clock
from idp.accounts.models import User
from idp.proofing import service
from idp.proofing.models import VerifiedIdentity
from idp.proofing.verifiers import Evidence
from idp.proofing.verifiers import RegistryResult
from tests.factories import make_user

CARD = Evidence(kind="thai_id_card", number="1999900001010", laser_code="JT0-1000001-01", given_name="Somchai",
                family_name="Jaidee", given_name_th="สมชาย", family_name_th="ใจดี", birthdate="1985-03-14")
RECORD = {"given_name": "Somchai", "family_name": "Jaidee", "given_name_th": "สมชาย", "family_name_th": "ใจดี",
          "birthdate": "1985-03-14", "contact_email": "somchai@example.com"}


class Registry:
    def __init__(self, outcome, reasons=(), record=None):
        self.outcome, self.reasons, self.record = outcome, reasons, record

    def verify(self, evidence):
        return RegistryResult(outcome=self.outcome, reasons=tuple(self.reasons), record=self.record,
                              issuer="test", checked_at=clock.utc_now())


@pytest.mark.parametrize("registry, duplicate, code_right, status, reasons, ial", [
    (Registry("match", record=RECORD), False, True, "approved", [], 2),  # every check passes: no person
    (Registry("match", record=RECORD), False, False, "binding", [], 1),  # waiting for the right code
    (Registry("match", record={**RECORD, "contact_email": None}), False, None, "review",
     ["no_contact_of_record"], 1),
    (Registry("mismatch", ["laser_code_mismatch"]), False, None, "review", ["laser_code_mismatch"], 1),
    (Registry("mismatch", ["card_revoked"]), False, None, "review", ["card_revoked"], 1),
    (Registry("not_found", ["document_not_found"]), False, None, "review", ["document_not_found"], 1),
    (Registry("unavailable", ["registry_unavailable"]), False, None, "pending_registry",
     ["registry_unavailable"], 1),
    (Registry("match", record=RECORD), True, None, "review", ["duplicate_identity"], 1),  # never automatic
])
def test_approval_rules(app, db, registry, duplicate, code_right, status, reasons, ial):
    user = db.get(User, make_user(app).id)
    if duplicate:
        other = make_user(app, "other@example.com")
        db.add(VerifiedIdentity(user_id=other.id, ial=2, national_id_index=service.national_id_index(
            app.config, CARD.number), claims_encrypted=b"x", evidence=[], trust_framework="nist_800_63A",
            verified_at=clock.utc_now()))
        db.commit()
    codes = []
    case = service.start_remote(db, user, CARD, config=app.config, verifier=registry,
                                send_code=lambda email, code: codes.append((email, code)))
    if code_right is not None:
        assert codes == [("somchai@example.com", codes[0][1])]  # to the contact of record
        with pytest.raises(service.ProofingError):
            service.confirm_binding(db, case, "not-it", config=app.config)
        if code_right:
            service.confirm_binding(db, case, codes[0][1], config=app.config)
    assert case.status == status
    assert case.reasons == reasons
    assert db.get(User, user.id).ial == ial
    assert (case.due_at is not None) == (status == "review")  # the SLA clock runs only for review


def test_five_wrong_codes_send_the_case_to_review(app, db):
    user = db.get(User, make_user(app).id)
    codes = []
    case = service.start_remote(db, user, CARD, config=app.config, verifier=Registry("match", record=RECORD),
                                send_code=lambda email, code: codes.append(code))
    for _ in range(service.BINDING_MAX_ATTEMPTS):
        with pytest.raises(service.ProofingError):
            service.confirm_binding(db, case, "000000" if codes[0] != "000000" else "111111", config=app.config)
    assert case.status == "review" and case.reasons == ["binding_failed"]
    with pytest.raises(service.ProofingError):
        service.confirm_binding(db, case, codes[0], config=app.config)  # too late: an officer decides


def test_sla_counts_business_days():
    friday = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    assert service.due_date(friday, 2) == dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)  # Tuesday
