"""Audit events become counters with labels from closed vocabularies only."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from idp import audit
from idp import metrics


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("event,details,name,labels", [
    (audit.Event.PROOFING_APPROVED, {"case": 7, "level": 2, "by": None}, "idp_proofing_outcomes_total",
     {"outcome": "approved"}),
    (audit.Event.PROOFING_TO_REVIEW, {"case": 7, "reasons": ["photo"]}, "idp_proofing_outcomes_total",
     {"outcome": "to_review"}),
    (audit.Event.STEP_UP, {"aal": 2, "amr": ["pwd", "otp"]}, "idp_signins_total", {"outcome": "step_up", "aal": "2"}),
    (audit.Event.SIGNIN, {"aal": "someone@example.com"}, "idp_signins_total", {"outcome": "success", "aal": ""}),
    (audit.Event.SIGNIN_REFUSED, {"reason": "throttled"}, "idp_signins_total", {"outcome": "refused", "aal": ""}),
    (audit.Event.FACTOR_SUSPENDED, {"factor": "pwd"}, "idp_throttle_events_total",
     {"event": "suspended", "scope": "account"}),
    (audit.Event.THROTTLED, {"scope": "10.0.0.1"}, "idp_throttle_events_total", {"event": "delayed", "scope": "other"}),
])
def test_an_audit_event_counts_once_under_fixed_labels(event, details, name, labels):
    before = _value(name, **labels)
    metrics.count_audit_event(event, details)
    assert _value(name, **labels) == before + 1


@pytest.mark.parametrize("grant_type,label", [("authorization_code", "authorization_code"),
                                               ("refresh_token", "refresh_token"),
                                               ("client_credentials", "client_credentials"),
                                               ("urn:ietf:params:oauth:grant-type:token-exchange", "token_exchange"),
                                               ("password", "other"), (None, "other"),
                                               ("x" * 500, "other")])
def test_token_grant_types_outside_the_vocabulary_are_other(grant_type, label):
    before = _value("idp_tokens_issued_total", grant_type=label)
    metrics.count_token(grant_type)
    assert _value("idp_tokens_issued_total", grant_type=label) == before + 1
