"""Thailand's ETDA digital identity levels (IAL 1.1–3, AAL 1–3) and the operator's level policy.

Thai e-Services ask for ``min_ial: 2.3, min_aal: 2.2``: the levels of ETDA's digital identity
guideline as NDID implements them (``ndidplatform/api`` ``docker/start-api.sh``:
``set_supported_ial_list "[1.1, 1.2, 1.3, 2.1, 2.2, 2.3, 3]"``, ``set_supported_aal_list "[1, 2.1,
2.2, 3]"``; ``main-server/src/core/idp/create_response.js``: ``ial < request.min_ial``). They are a
total order compared as plain numbers, so here they are :class:`~decimal.Decimal` (``2.3`` is exact).

What a level *means* (which checks give IAL 2.3, which authenticators AAL 2.2) is not confirmed by
the normative text, so it is the operator's file (``idp/data/etda_levels.toml`` by default, see
docs/assurance.md §2a), parsed and checked here at start. Two rules keep the ETDA levels honest
against the NIST integers the IdP already states: an ETDA level never says more than the NIST level
of the same facts (AAL: the NIST level of the authenticators; IAL: a verified identity for 2.x and
a counter for 3), so an ETDA value implies its NIST "band" (2.3 → IAL2).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from enum import unique
from pathlib import Path
from typing import Any

from idp.assurance.levels import AAL_LEVELS
from idp.assurance.levels import IAL_LEVELS
from idp.assurance.levels import band
from idp.assurance.levels import level_text
from idp.assurance.levels import parse_level
from idp.assurance.policy import PASSWORD
from idp.assurance.policy import RECOVERY
from idp.assurance.policy import TOTP
from idp.assurance.policy import WEBAUTHN
from idp.assurance.policy import WINDOWS
from idp.assurance.policy import Enrolled
from idp.assurance.policy import Factor
from idp.assurance.policy import fresh_factors
from idp.assurance.policy import level_of

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "etda_levels.toml"
CHANNELS = ("remote", "counter")


@unique
class EvidenceCheck(StrEnum):
    """What proofing did about a person; ``VerifiedIdentity.evidence[*].checks`` holds these."""

    EMAIL = "email"  # self-asserted account, email confirmed (IAL1 here)
    REGISTRY_DATA = "registry_data"  # card data matched online against the registry (DOPA)
    CHIP = "chip"  # the card's chip read and its signature verified
    FACE = "face"  # the face compared with the chip's or the registry's photo
    LIVENESS = "liveness"
    IN_PERSON = "in_person"  # an officer at a service counter


@unique
class Authenticator(StrEnum):
    """What a factor counts as in the policy's ``[[aal]]`` rules (a stronger key counts as the weaker kinds too)."""

    PASSWORD = "password"
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"
    WEBAUTHN = "webauthn"  # any passkey or security key
    PASSKEY = "passkey"  # a key that verified the user
    HARDWARE_KEY = "hardware_key"  # hardware-bound, trusted attestation, verified the user


class PolicyError(ValueError):
    """The level policy file is not usable; the message names the file's entry at fault."""


def kinds_of(factor: Factor) -> frozenset[Authenticator]:
    """What one session factor counts as."""
    if factor.method == PASSWORD:
        return frozenset({Authenticator.PASSWORD})
    if factor.method == TOTP:
        return frozenset({Authenticator.TOTP})
    if factor.method == RECOVERY:
        return frozenset({Authenticator.RECOVERY_CODE})
    if factor.method == WEBAUTHN:
        kinds = {Authenticator.WEBAUTHN}
        if factor.uv:
            kinds.add(Authenticator.PASSKEY)
            if factor.hw:
                kinds.add(Authenticator.HARDWARE_KEY)
        return frozenset(kinds)
    return frozenset()


# The weakest factor that counts as each kind: what the NIST ceiling of a rule is judged on.
_WEAKEST: dict[Authenticator, Factor] = {
    Authenticator.PASSWORD: Factor(PASSWORD, 0.0),
    Authenticator.TOTP: Factor(TOTP, 0.0),
    Authenticator.RECOVERY_CODE: Factor(RECOVERY, 0.0),
    Authenticator.WEBAUTHN: Factor(WEBAUTHN, 0.0),
    Authenticator.PASSKEY: Factor(WEBAUTHN, 0.0, uv=True),
    Authenticator.HARDWARE_KEY: Factor(WEBAUTHN, 0.0, uv=True, hw=True),
}


@dataclass(frozen=True)
class IalRule:
    level: Decimal
    checks: frozenset[str]
    channel: str | None = None
    note: str = ""


@dataclass(frozen=True)
class AalRule:
    level: Decimal
    authenticators: frozenset[str]
    note: str = ""


@dataclass(frozen=True)
class LevelPolicy:
    """The operator's mapping from what was done to ETDA levels; every method is pure."""

    ial_rules: tuple[IalRule, ...]
    aal_rules: tuple[AalRule, ...]

    # -- identity --------------------------------------------------------------------------------
    def ial_for(self, checks: Iterable[str], channel: str | None = None) -> Decimal | None:
        """The highest IAL whose checks were all performed (``None``: no rule applies)."""
        done = frozenset(checks)
        levels = [r.level for r in self.ial_rules
                  if r.checks <= done and (r.channel is None or r.channel == channel)]
        return max(levels, default=None)

    def ial_rule(self, level: Decimal) -> IalRule | None:
        """The rule that gives ``level`` or the least above it: how a person reaches that level."""
        rules = sorted((r for r in self.ial_rules if r.level >= level), key=lambda r: (r.level, len(r.checks)))
        return rules[0] if rules else None

    def provable_ial(self, remote_checks: Iterable[str]) -> Decimal | None:
        """What remote proofing that performs ``remote_checks`` can give a person in one visit."""
        return self.ial_for(remote_checks, "remote")

    # -- authentication --------------------------------------------------------------------------
    def aal_of_kinds(self, kinds: Iterable[str]) -> Decimal | None:
        have = frozenset(kinds)
        return max((r.level for r in self.aal_rules if r.authenticators <= have), default=None)

    def aal_for(self, factors: Iterable[Factor]) -> Decimal | None:
        """The AAL a set of factors reaches together, ignoring time."""
        kinds: set[str] = set()
        for factor in factors:
            kinds |= kinds_of(factor)
        return self.aal_of_kinds(kinds)

    def session_aal(self, factors: Iterable[Factor], *, now: float, last_active: float | None,
                    breaks: Iterable[tuple[float, float]] = ()) -> Decimal | None:
        """The AAL a session counts at now: at each NIST window, what the factors still inside it
        reach, held to that window's band (a hardware key past AAL3's 12 hours counts as a key)."""
        factors, breaks = list(factors), list(breaks)
        best: Decimal | None = None
        for window in WINDOWS:
            fresh = fresh_factors(factors, window, now=now, last_active=last_active, breaks=breaks)
            level = self._capped(self.aal_for(fresh), int(window))
            if level is not None and (best is None or level > best):
                best = level
        return best

    def _capped(self, level: Decimal | None, window: int) -> Decimal | None:
        if level is None or band(level) <= window:
            return level
        return max((lv for lv in (r.level for r in self.aal_rules) if band(lv) <= window), default=None)

    def reachable_aal(self, enrolled: Enrolled) -> Decimal | None:
        """The AAL the person's enrolled authenticators could give in one sign-in."""
        kinds: set[str] = set()
        for have, kind in ((enrolled.password, Authenticator.PASSWORD), (enrolled.totp, Authenticator.TOTP),
                           (enrolled.recovery, Authenticator.RECOVERY_CODE),
                           (enrolled.webauthn, Authenticator.WEBAUTHN), (enrolled.webauthn_uv, Authenticator.PASSKEY),
                           (enrolled.webauthn_hw, Authenticator.HARDWARE_KEY)):
            if have:
                kinds.add(kind)
        return self.aal_of_kinds(kinds)

    def aal_from_amr(self, amr: Iterable[str]) -> Decimal | None:
        """The AAL an issued ``amr`` (RFC 8176) stands for, for tokens that carry only that.

        ``otp`` is a TOTP code or a recovery code, which the policy may rank apart: the lower is
        taken, so nothing is said above what the policy allows.
        """
        values = set(amr)
        kinds: set[str] = set()
        if "pwd" in values:
            kinds.add(Authenticator.PASSWORD)
        if "hwk" in values:
            kinds |= {Authenticator.WEBAUTHN, Authenticator.PASSKEY, Authenticator.HARDWARE_KEY}
        if "swk" in values:
            kinds.add(Authenticator.WEBAUTHN)
            if "mfa" in values and "pwd" not in values and "otp" not in values:
                kinds.add(Authenticator.PASSKEY)  # a key alone gives mfa only when it verified the user
        if "otp" not in values:
            return self.aal_of_kinds(kinds)
        options = [self.aal_of_kinds(kinds | {k}) for k in (Authenticator.TOTP, Authenticator.RECOVERY_CODE)]
        known = [o for o in options if o is not None]
        return min(known) if len(known) == len(options) else None

    def enrollable_aal(self) -> Decimal | None:
        """What adding a passkey on the way gives, with the password (``policy.ENROLLABLE_AAL``)."""
        return self.aal_of_kinds({Authenticator.PASSWORD, Authenticator.WEBAUTHN, Authenticator.PASSKEY})


def parse_policy(data: Mapping[str, Any]) -> LevelPolicy:
    """Check a policy document (the parsed TOML) and build it; :class:`PolicyError` says what is wrong."""
    unknown = set(data) - {"ial", "aal"}
    if unknown:
        raise PolicyError(f"unknown section {sorted(unknown)[0]!r} (expected [[ial]] and [[aal]])")
    ial_rules = tuple(_ial_rule(entry, n) for n, entry in enumerate(_entries(data, "ial"), 1))
    aal_rules = tuple(_aal_rule(entry, n) for n, entry in enumerate(_entries(data, "aal"), 1))
    return LevelPolicy(ial_rules=ial_rules, aal_rules=aal_rules)


def load_policy(path: str | Path | None = None) -> LevelPolicy:
    """Read and check the policy file (the shipped default when ``path`` is empty)."""
    source = Path(path) if path else DEFAULT_FILE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{source}: cannot be read ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML ({exc})") from exc
    try:
        return parse_policy(data)
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}") from exc


def _entries(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    entries = data.get(name)
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise PolicyError(f"needs at least one [[{name}]] entry")
    return entries


def _strings(entry: Mapping[str, Any], key: str, where: str, vocabulary: type[StrEnum]) -> frozenset[str]:
    values = entry.get(key)
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{where}: '{key}' must be a non-empty list of strings")
    known = {str(v) for v in vocabulary}
    bad = [v for v in values if v not in known]
    if bad:
        raise PolicyError(f"{where}: unknown {key[:-1]} {bad[0]!r} (known: {', '.join(sorted(known))})")
    return frozenset(values)


def _level(entry: Mapping[str, Any], where: str, allowed: tuple[Decimal, ...]) -> Decimal:
    level = parse_level(entry.get("level"), allowed)
    if level is None:
        raise PolicyError(f"{where}: level must be one of {', '.join(level_text(v) for v in allowed)}"
                          f" written as a string, got {entry.get('level')!r}")
    return level


def _check_keys(entry: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise PolicyError(f"{where}: unknown key {sorted(unknown)[0]!r}")


def _ial_rule(entry: Mapping[str, Any], n: int) -> IalRule:
    where = f"[[ial]] entry {n}"
    _check_keys(entry, where, {"level", "checks", "channel", "note"})
    level = _level(entry, where, IAL_LEVELS)
    checks = _strings(entry, "checks", where, EvidenceCheck)
    channel = entry.get("channel")
    if channel is not None and channel not in CHANNELS:
        raise PolicyError(f"{where}: channel must be remote or counter, got {channel!r}")
    # Never above the NIST level of the same facts: 2.x needs a verified identity, 3 a counter.
    if band(level) >= 2 and checks <= {EvidenceCheck.EMAIL}:
        raise PolicyError(f"{where}: IAL {level_text(level)} needs a check of the person, not only 'email'")
    if band(level) >= 3 and EvidenceCheck.IN_PERSON not in checks:
        raise PolicyError(f"{where}: IAL 3 needs the 'in_person' check (a service counter)")
    return IalRule(level=level, checks=checks, channel=channel, note=str(entry.get("note", "")))


def _aal_rule(entry: Mapping[str, Any], n: int) -> AalRule:
    where = f"[[aal]] entry {n}"
    _check_keys(entry, where, {"level", "authenticators", "note"})
    level = _level(entry, where, AAL_LEVELS)
    kinds = _strings(entry, "authenticators", where, Authenticator)
    ceiling = level_of(_WEAKEST[Authenticator(k)] for k in kinds)
    if band(level) > ceiling:
        raise PolicyError(f"{where}: AAL {level_text(level)} is above what {' + '.join(sorted(kinds))}"
                          f" reach (AAL{ceiling} in SP 800-63B terms)")
    return AalRule(level=level, authenticators=kinds, note=str(entry.get("note", "")))
