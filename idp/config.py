"""Configuration: safe defaults, then ``instance/config.py``, then ``IDP_*`` variables, then tests.

The IdP refuses to start on a setting that would make it unsafe, with a one-line reason,
because a misconfigured identity provider fails open in ways nobody notices until too late.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

DEFAULTS: dict[str, Any] = {
    "ISSUER": "http://localhost:5000",
    "DATABASE_URL": None,  # sqlite under instance/ when unset
    "KEYS_DIR": "keys",
    "SECRET_KEY": None,  # generated into instance/ when unset
    "KEYS_REFRESH_SECONDS": 10,  # how soon every instance sees `idp keys rotate` (at most)
    "KEYS_SECRET": None,  # encrypts private signing keys at rest; derived from SECRET_KEY when unset
    "AUDIT_SEALING": "inline",  # or "deferred": events chained by a sealer, not in each transaction (idp.audit.chain)
    "AUDIT_SEAL_INTERVAL": 0.5,  # seconds between a process's sealing passes (deferred only)
    "AUTH_CODE_LIFETIME": 60,
    "ACCESS_TOKEN_LIFETIME": 300,
    "ID_TOKEN_LIFETIME": 600,
    "REFRESH_TOKEN_LIFETIME": 14 * 24 * 3600,
    "CLIENT_ASSERTION_MAX_LIFETIME": 3600,  # RP libraries sign for 600–3,600 s (docs/registration.md)
    # FAPI 2.0 (docs/fapi.md): a pushed request_uri lives this long (RFC 9126 §2.2; FAPI 2.0 says < 600 s)
    "PAR_LIFETIME": 60,
    # Scopes whose dynamic registration is approved automatically only for a fapi_profile "fapi2" client
    "FAPI_HIGH_VALUE_SCOPES": ["national_id"],
    "MAIL_BACKEND": "outbox",  # or "smtp"
    "MAIL_OUTBOX_DIR": None,  # instance/outbox when unset
    "MAIL_FROM": "no-reply@idp.localhost",
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_STARTTLS": False,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "BABEL_DEFAULT_LOCALE": "th",
    "LANGUAGES": ["th", "en"],
    "BABEL_DEFAULT_TIMEZONE": "Asia/Bangkok",  # times shown to people without a zone of their own
    "SESSION_COOKIE_NAME": "idp_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 30 * 24 * 3600,  # the AAL1 window; higher levels expire sooner
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "WTF_CSRF_TIME_LIMIT": None,  # bound to the session, which already expires
    "TRUST_PROXY": 0,
    # Authenticators (docs/assurance.md)
    "SERVICE_NAME": "Thai Digital ID",  # shown in authenticator apps and passkey prompts
    "WEBAUTHN_RP_ID": None,  # the issuer's host when unset
    "WEBAUTHN_ORIGIN": None,  # the issuer's origin when unset
    "WEBAUTHN_TRUST_ANCHORS": [],  # PEM files of attestation roots whose hardware keys reach AAL3
    "WEBAUTHN_AAGUIDS": [],  # when set, only these authenticator models reach AAL3
    "WEBAUTHN_CHALLENGE_LIFETIME": 300,
    "THROTTLE_FREE_FAILURES": 5,  # per account and factor, before delays start
    "THROTTLE_IP_FREE_FAILURES": 20,  # per client address
    "THROTTLE_MAX_DELAY": 15 * 60,
    "THROTTLE_SUSPEND_AFTER": 100,  # consecutive failures that suspend a factor (SP 800-63B-4)
    # Optional Redis (docs/operations.md#redis), e.g. redis://127.0.0.1:6379/0: per-address throttles
    # shared by every instance, off the database. Unset: everything in the database.
    "REDIS_URL": None,
    # Identity proofing (docs/assurance.md, docs/registry-api.md)
    "PROOFING_VERIFIER": "idp.proofing.verifiers:FileRegistry",
    "PROOFING_REGISTRY_FILE": None,  # the packaged fictitious registry when unset
    "PROOFING_REGISTRY_URL": None,
    "PROOFING_REGISTRY_TIMEOUT": 5,
    "PROOFING_REGISTRY_RETRIES": 2,
    "PROOFING_REGISTRY_BACKOFF": 0.5,
    "PROOFING_REGISTRY_CLIENT_CERT": None,
    "PROOFING_REGISTRY_CLIENT_KEY": None,
    "PROOFING_REGISTRY_CA": None,
    "PROOFING_SLA_BUSINESS_DAYS": 2,
    "PROOFING_RETENTION_DAYS": 30,  # evidence and registry answers, after the decision
    "DISCLOSURE_RETENTION_DAYS": 365,  # the disclosure log on My data (idp db prune deletes older rows)
    "PROOFING_TRUST_FRAMEWORK": "nist_800_63A",
    # Face verification (docs/face-api.md): the fixture file by default, like the registry.
    "PROOFING_FACE_VERIFIER": "idp.proofing.face:FileFaceVerifier",
    "PROOFING_FACE_FILE": None,  # the packaged fictitious fixture when unset
    "PROOFING_FACE_URL": None,
    "PROOFING_FACE_TIMEOUT": 10,
    "PROOFING_FACE_RETRIES": 2,
    "PROOFING_FACE_BACKOFF": 0.5,
    "PROOFING_FACE_CLIENT_CERT": None,
    "PROOFING_FACE_CLIENT_KEY": None,
    "PROOFING_FACE_CA": None,
    "PROOFING_FACE_MAX_ATTEMPTS": 3,  # failed face checks per case before only a counter can help
    "PROOFING_CHIP_ISSUERS_JWKS": None,  # JWKS file of the card issuer's keys; unset: no chip reads
    "UPLOAD_MAX_CONTENT_LENGTH": 4 * 1024 * 1024,  # a selfie or a chip read (idp.request_guard)
    # ETDA levels (docs/assurance.md §2a): the level policy file, the packaged default when unset
    "ETDA_LEVELS_FILE": None,
    # The evidence checks remote proofing performs here (idp.assurance.etda.EvidenceCheck): what a
    # person can reach in one visit when an e-Service asks for an ETDA IAL. Unset: derived from the
    # face verifier and chip issuer settings (idp.levels.remote_checks).
    "PROOFING_REMOTE_CHECKS": None,
    # verified_claims.verification.trust_framework for the ETDA form (docs/thaid-migration.md)
    "ETDA_TRUST_FRAMEWORK": "th_etda_digital_id",
    "OPEN_DATA_MIN_COUNT": 10,  # /open-data/: counts from 1 to this minus one are suppressed
    # A rotated client secret keeps working this long, so the e-Service can deploy the new one.
    "CLIENT_SECRET_GRACE_SECONDS": 7 * 24 * 3600,
    "INITIAL_ACCESS_TOKEN_DAYS": 30,  # default lifetime of an agency's registration permission
    "AUDIT_VERIFY_INLINE_MAX": 10_000,  # the audit console checks the whole chain on each page up to this size
    "AUDIT_EXPORT_MAX": 100_000,  # rows in one CSV export of the audit log
    # Fetching URLs that clients registered (jwks_uri, sector_identifier_uri): docs/security.md#fetcher
    "OUTBOUND_ALLOW_LOOPBACK": None,  # http and loopback addresses; None: only when the issuer is loopback
    "OUTBOUND_DEADLINE": 3.0,  # seconds for resolving, connecting, TLS, headers and body together
    "OUTBOUND_MAX_BYTES": 64 * 1024,
    "OUTBOUND_CACHE_MIN": 60,  # a fetched document is kept per its Cache-Control max-age, within these bounds
    "OUTBOUND_CACHE_MAX": 24 * 3600,
    "OUTBOUND_CACHE_DEFAULT": 300,  # without max-age
    "OUTBOUND_FAILURE_TTL": 30,  # a failed fetch is not repeated before this
    "OUTBOUND_KEY_REFETCH_INTERVAL": 60,  # an unknown kid refetches a client's jwks_uri at most this often
    # Back-channel logout (docs/backchannel-logout.md): logout tokens posted to e-Services when a session ends
    "BACKCHANNEL_LOGOUT_TOKEN_LIFETIME": 120,  # seconds a logout token is valid (exp - iat)
    "BACKCHANNEL_LOGOUT_DEADLINE": 3.0,  # seconds for one POST (at most OUTBOUND_DEADLINE)
    "BACKCHANNEL_LOGOUT_MAX_ATTEMPTS": 8,  # then the delivery is given up (audited)
    "BACKCHANNEL_LOGOUT_RETRY_BASE": 30,  # seconds before the first retry, doubled each time …
    "BACKCHANNEL_LOGOUT_RETRY_MAX": 3600,  # … up to this
    "BACKCHANNEL_LOGOUT_IMMEDIATE": True,  # first attempt in a background thread right after the sign-out
    "BACKCHANNEL_LOGOUT_SWEEP_EVERY": 60,  # seconds between retry runs started by requests (0: only the CLI)
    # /metrics (docs/operations.md): shut (404) unless a bearer token or client networks are set
    "METRICS_TOKEN": None,  # at least 32 characters; Prometheus sends it as `Authorization: Bearer ...`
    "METRICS_ALLOW": [],  # networks allowed without a token, e.g. 127.0.0.1/32,::1/128
    # DPoP (RFC 9449, docs/fapi.md): proofs' iat may be this far from the server's time, either way
    "DPOP_PROOF_WINDOW": 60,
    "DPOP_NONCE_LIFETIME": 300,  # a new server nonce each period; the previous one still works
    "DPOP_NONCE_REQUIRED": False,  # True: of every client sending DPoP (FAPI 2.0 clients always)
}


LIST_SETTINGS = ("LANGUAGES", "WEBAUTHN_TRUST_ANCHORS", "WEBAUTHN_AAGUIDS", "METRICS_ALLOW", "PROOFING_REMOTE_CHECKS")


class ConfigError(RuntimeError):
    """A setting that makes the IdP unsafe or unusable; the message is one line for the operator."""


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Layer the configuration and fail early on anything unsafe."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("IDP")
    if test_config:
        app.config.from_mapping(test_config)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'idp.db'}"
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key")
    if not app.config["MAIL_OUTBOX_DIR"]:
        app.config["MAIL_OUTBOX_DIR"] = str(instance / "outbox")
    keys_dir = Path(app.config["KEYS_DIR"])
    if not keys_dir.is_absolute():
        keys_dir = Path(app.root_path).parent / keys_dir if _in_source_tree(app) else Path.cwd() / keys_dir
    app.config["KEYS_DIR"] = str(keys_dir)
    app.config["ISSUER"] = str(app.config["ISSUER"]).rstrip("/")
    for name in LIST_SETTINGS:  # IDP_X=a,b as well as IDP_X='["a", "b"]'
        if isinstance(app.config[name], str):
            app.config[name] = [v for v in app.config[name].replace(",", " ").split() if v]
    allow_loopback = app.config["OUTBOUND_ALLOW_LOOPBACK"]
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = (is_loopback_host(urlsplit(app.config["ISSUER"]).hostname or "")
                                             if allow_loopback is None else _flag(allow_loopback))
    check(app.config)
    from idp import levels

    levels.init_app(app)  # the ETDA level policy file: checked here, so a bad one stops the start
    app.config["METRICS_ALLOW_NETWORKS"] = [ipaddress.ip_network(v, strict=False) for v in app.config["METRICS_ALLOW"]]
    secure = app.config["ISSUER"].startswith("https://")
    if secure:
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["PREFERRED_URL_SCHEME"] = "https" if secure else "http"


def check(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for settings that would make the IdP unsafe."""
    issuer = config["ISSUER"]
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"IDP_ISSUER must be an absolute http(s) URL, got {issuer!r}")
    if parts.query or parts.fragment:
        raise ConfigError("IDP_ISSUER must not have a query or fragment (OpenID Discovery §2)")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(f"IDP_ISSUER {issuer!r} uses http:// on a host that is not loopback; use https://")
    if _flag(config.get("OUTBOUND_ALLOW_LOOPBACK")) and not is_loopback_host(parts.hostname):
        # Development only: a live IdP that fetched from loopback would let a client reach its own host.
        raise ConfigError("IDP_OUTBOUND_ALLOW_LOOPBACK is only for an issuer on this computer (localhost)")
    if len(str(config["SECRET_KEY"])) < 32:
        raise ConfigError("IDP_SECRET_KEY must be at least 32 characters")
    if config.get("REDIS_URL") and urlsplit(str(config["REDIS_URL"])).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("IDP_REDIS_URL must be a redis://, rediss:// or unix:// URL")
    if config["AUDIT_SEALING"] not in ("inline", "deferred"):
        raise ConfigError(f"IDP_AUDIT_SEALING must be inline or deferred, got {config['AUDIT_SEALING']!r}")
    if int(config["AUTH_CODE_LIFETIME"]) > 60:
        raise ConfigError("AUTH_CODE_LIFETIME must be at most 60 seconds")
    if not 1 <= int(config["PAR_LIFETIME"]) <= 60:
        raise ConfigError("PAR_LIFETIME must be between 1 and 60 seconds")
    if config.get("METRICS_TOKEN") and len(str(config["METRICS_TOKEN"])) < 32:
        raise ConfigError("IDP_METRICS_TOKEN must be at least 32 characters (e.g. `openssl rand -hex 32`)")
    for network in config.get("METRICS_ALLOW") or []:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"IDP_METRICS_ALLOW: {network!r} is not an address or network (CIDR)") from None
    for path in config["WEBAUTHN_TRUST_ANCHORS"]:
        if not Path(path).is_file():
            raise ConfigError(f"WEBAUTHN_TRUST_ANCHORS: {path!r} is not a readable PEM file")


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``*.localhost`` (RFC 6761) or a loopback address."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _flag(value: Any) -> bool:
    """A boolean setting, also as an environment string (``IDP_X=false``)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _instance_secret(path: Path) -> str:
    """Read the generated secret key, creating it (mode 0600) on first run."""
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def _in_source_tree(app: Flask) -> bool:
    return (Path(app.root_path).parent / "setup.cfg").exists()
