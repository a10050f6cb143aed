"""Reading ``verified_claims`` (OpenID Connect for Identity Assurance 1.0) for people to see.

The IdP releases the claims it has checked against an authoritative source, with ``verification``:
the trust framework, the assurance level, when, and the evidence (here a Thai ID card, and how it
was checked). This module turns that into rows for the licence application page. It reads only;
the ID token's signature, issuer and audience were checked by Authlib before the claims got here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

#: OIDC4IDA 1.0 check methods (its predefined values), in English and Thai.
CHECK_METHODS: dict[str, tuple[str, str]] = {
    "vri": ("Card checked against the issuer's registry", "ตรวจสอบบัตรกับทะเบียนของหน่วยงานผู้ออกบัตร"),
    "vpip": ("Card inspected in person", "ตรวจบัตรตัวจริงต่อหน้าเจ้าหน้าที่"),
    "vpiruv": ("Card inspected in person under UV light", "ตรวจบัตรต่อหน้าด้วยแสงยูวี"),
    "vdig": ("Digital document checked", "ตรวจสอบเอกสารดิจิทัล"),
    "vcrypt": ("Card chip checked cryptographically", "ตรวจสอบชิปบัตรด้วยวิธีการเข้ารหัส"),
    "data": ("Details checked against a reliable source", "ตรวจสอบข้อมูลกับแหล่งที่เชื่อถือได้"),
    "pvp": ("Person compared with the card photo, in person", "เจ้าหน้าที่เทียบตัวบุคคลกับรูปบนบัตร ต่อหน้า"),
    "pvr": ("Person compared with the card photo, remotely", "เจ้าหน้าที่เทียบตัวบุคคลกับรูปบนบัตร ทางไกล"),
    "bvp": ("Biometric comparison, in person", "เปรียบเทียบชีวมิติ ต่อหน้า"),
    "bvr": ("Biometric comparison, remotely", "เปรียบเทียบชีวมิติ ทางไกล"),
    "kbv": ("Questions only the person can answer", "คำถามที่มีเพียงเจ้าตัวตอบได้"),
}

#: Document types (OIDC4IDA 1.0 predefined values) this demo names in words.
DOCUMENT_TYPES: dict[str, tuple[str, str]] = {
    "idcard": ("National ID card", "บัตรประจำตัวประชาชน"),
    "passport": ("Passport", "หนังสือเดินทาง"),
}

#: The claims the licence application asks for, in the order shown: (claim, English, Thai).
CLAIM_ROWS: tuple[tuple[str, str, str], ...] = (
    ("given_name#th", "Given name (Thai)", "ชื่อ (ภาษาไทย)"),
    ("family_name#th", "Family name (Thai)", "นามสกุล (ภาษาไทย)"),
    ("given_name", "Given name (English)", "ชื่อ (ภาษาอังกฤษ)"),
    ("family_name", "Family name (English)", "นามสกุล (ภาษาอังกฤษ)"),
    ("birthdate", "Date of birth", "วันเกิด"),
)


@dataclass(frozen=True)
class Check:
    method: str
    label: str
    label_th: str
    organization: str | None = None


@dataclass(frozen=True)
class Evidence:
    type: str
    document: str | None = None
    document_label: tuple[str, str] | None = None
    issuer: str | None = None
    time: str | None = None
    checks: list[Check] = field(default_factory=list)


@dataclass(frozen=True)
class VerifiedIdentity:
    """One ``verified_claims`` object, ready for a template."""

    claims: dict[str, str]
    trust_framework: str | None
    assurance_level: str | None
    time: str | None
    evidence: list[Evidence]

    @property
    def name_th(self) -> str:
        return " ".join(filter(None, (self.claims.get("given_name#th"), self.claims.get("family_name#th"))))

    @property
    def name_en(self) -> str:
        return " ".join(filter(None, (self.claims.get("given_name"), self.claims.get("family_name"))))

    @property
    def check_methods(self) -> list[Check]:
        return [check for item in self.evidence for check in item.checks]


def read(value: Any) -> VerifiedIdentity | None:
    """The ``verified_claims`` member of an ID token (or UserInfo), or ``None`` if it says nothing.

    OIDC4IDA allows one object or an array of them; this page asked with one object, so it reads
    the first object that carries claims.
    """
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, Mapping):
            continue
        raw = item.get("claims")
        claims = {name: text for name, text in raw.items()
                  if isinstance(name, str) and isinstance(text, str)} if isinstance(raw, Mapping) else {}
        if not claims:
            continue
        verification = item.get("verification")
        verification = verification if isinstance(verification, Mapping) else {}
        evidence = verification.get("evidence")
        return VerifiedIdentity(
            claims=claims,
            trust_framework=_text(verification.get("trust_framework")),
            assurance_level=_text(verification.get("assurance_level")),
            time=format_time(verification.get("time")),
            evidence=[_evidence(e) for e in evidence if isinstance(e, Mapping)] if isinstance(evidence, list) else [],
        )
    return None


def _evidence(item: Mapping[str, Any]) -> Evidence:
    details = item.get("document_details")
    details = details if isinstance(details, Mapping) else {}
    document = _text(details.get("type"))
    issuer = details.get("issuer")
    issuer_name = _text(issuer.get("name")) if isinstance(issuer, Mapping) else None
    country = _text(issuer.get("country_code")) if isinstance(issuer, Mapping) else None
    checks = []
    for check in item.get("check_details") or []:
        method = _text(check.get("check_method")) if isinstance(check, Mapping) else None
        if method:
            label, label_th = CHECK_METHODS.get(method, (method, method))
            checks.append(Check(method, label, label_th, _text(check.get("organization"))))
    return Evidence(type=_text(item.get("type")) or "unknown", document=document,
                    document_label=DOCUMENT_TYPES.get(document or ""),
                    issuer=", ".join(filter(None, (issuer_name, country))) or None,
                    time=format_time(item.get("time")), checks=checks)


def format_time(value: Any) -> str | None:
    """An ISO 8601 time as ``YYYY-MM-DD HH:MM:SS UTC``; other text as it came."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
