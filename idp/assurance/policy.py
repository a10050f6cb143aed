"""Authentication assurance as pure functions: factors in, AAL, ``amr`` and ``acr`` out.

Nothing here touches a request or the database, so the whole policy is unit-tested as a
table (docs/assurance.md states the same rules in prose; keep the two in step).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

from idp.assurance.levels import AAL
from idp.assurance.levels import AAL_LEVELS
from idp.assurance.levels import ACR_PREFIX
from idp.assurance.levels import IAL_LEVELS
from idp.assurance.levels import acr_value
from idp.assurance.levels import band
from idp.assurance.levels import etda_acr_value
from idp.assurance.levels import parse_level

# Factor methods, as stored in the session.
PASSWORD = "pwd"
TOTP = "totp"
RECOVERY = "recovery"
WEBAUTHN = "webauthn"
METHODS = (PASSWORD, TOTP, RECOVERY, WEBAUTHN)

HOUR = 3600
DAY = 24 * HOUR

# What a person can reach by adding an authenticator in the middle of a sign-in: a TOTP app or a
# passkey gives AAL2. AAL3 needs a hardware key with attestation the operator trusts, which cannot
# be promised before the key is there, so it is never offered that way.
ENROLLABLE_AAL = 2


@dataclass(frozen=True)
class Window:
    """NIST SP 800-63B-4 §2.x.3 reauthentication: since authentication, and since last activity."""

    max_age: int
    idle: int | None


WINDOWS = {
    AAL.AAL1: Window(max_age=30 * DAY, idle=None),
    AAL.AAL2: Window(max_age=DAY, idle=HOUR),
    AAL.AAL3: Window(max_age=12 * HOUR, idle=15 * 60),
}


@dataclass(frozen=True)
class Factor:
    """One successful authentication in a session.

    :param uv: WebAuthn only: the authenticator verified the user (PIN or biometric)
    :param hw: WebAuthn only: a hardware-bound key with operator-trusted attestation
    """

    method: str
    at: float
    uv: bool = False
    hw: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"m": self.method, "at": self.at, "uv": self.uv, "hw": self.hw}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Factor:
        return cls(method=str(data["m"]), at=float(data["at"]), uv=bool(data.get("uv")), hw=bool(data.get("hw")))


def level_of(factors: Iterable[Factor]) -> int:
    """The AAL a set of factors reaches together, ignoring time (0 for none)."""
    factors = list(factors)
    if any(f.method == WEBAUTHN and f.uv and f.hw for f in factors):
        return AAL.AAL3
    if any(f.method == WEBAUTHN and f.uv for f in factors):
        return AAL.AAL2  # multi-factor cryptographic authenticator
    methods = {f.method for f in factors}
    if PASSWORD in methods and methods & {TOTP, RECOVERY, WEBAUTHN}:
        return AAL.AAL2
    return AAL.AAL1 if factors else 0


def fresh_factors(factors: Iterable[Factor], level: int, *, now: float, last_active: float | None,
                  breaks: Iterable[tuple[float, float]] = ()) -> list[Factor]:
    """The factors that still count toward ``level`` at ``now``.

    A factor counts within the level's window since it was presented, and only if it was
    presented after the last break in activity longer than the level's idle timeout (the
    current one included): after such a break the level has to be earned again.
    """
    window = WINDOWS[AAL(level)]
    cut = None
    if window.idle is not None:
        gaps = [*breaks, (last_active, now)] if last_active is not None else list(breaks)
        ends = [end for start, end in gaps if end - start > window.idle]
        cut = max(ends) if ends else None
    return [f for f in factors if now - f.at <= window.max_age and (cut is None or f.at >= cut)]


def current_aal(factors: Sequence[Factor], *, now: float, last_active: float | None,
                breaks: Iterable[tuple[float, float]] = ()) -> int:
    """The AAL a session counts at right now: the highest level whose window its factors are in."""
    breaks = list(breaks)
    for level in (AAL.AAL3, AAL.AAL2, AAL.AAL1):
        if level_of(fresh_factors(factors, level, now=now, last_active=last_active, breaks=breaks)) >= level:
            return level
    return 0


def amr_of(factors: Iterable[Factor]) -> list[str]:
    """RFC 8176 values for what was done; ``mfa`` when the factors reach AAL2 or more."""
    factors = list(factors)
    out: list[str] = []
    for f in factors:
        if f.method == PASSWORD:
            out.append("pwd")
        elif f.method in (TOTP, RECOVERY):
            out.append("otp")  # a look-up secret is a one-time code too
        elif f.method == WEBAUTHN:
            out.append("hwk" if f.hw else "swk")
            out.append("user")  # WebAuthn always tests presence; verification shows as ``mfa``
    if level_of(factors) >= AAL.AAL2:
        out.append("mfa")
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Enrolled:
    """What a person could authenticate with."""

    password: bool = False
    totp: bool = False
    recovery: bool = False
    webauthn: bool = False
    webauthn_uv: bool = False
    webauthn_hw: bool = False

    def reachable_aal(self) -> int:
        if self.webauthn_hw:
            return AAL.AAL3
        if self.webauthn_uv or (self.password and (self.totp or self.recovery or self.webauthn)):
            return AAL.AAL2
        return AAL.AAL1 if (self.password or self.webauthn) else 0


def missing_methods(fresh: Sequence[Factor], target: int, enrolled: Enrolled) -> list[str]:
    """Which one further factor would lift ``fresh`` to ``target`` (empty: start over).

    Step-up asks only for what is missing: with a fresh password, only the second factor.
    """
    options: list[str] = []
    for method, uv, hw, have in (
        (WEBAUTHN, True, True, enrolled.webauthn_hw),
        (WEBAUTHN, True, False, enrolled.webauthn_uv),
        (WEBAUTHN, False, False, enrolled.webauthn),
        (TOTP, False, False, enrolled.totp),
        (RECOVERY, False, False, enrolled.recovery),
        (PASSWORD, False, False, enrolled.password),
    ):
        if have and method not in options and level_of([*fresh, Factor(method, 0.0, uv=uv, hw=hw)]) >= target:
            options.append(method)
    return options


def parse_acr(value: str) -> tuple[int, int] | None:
    """``urn:th:digitalid:ial2:aal2`` → ``(2, 2)``; anything else → ``None`` (ignored)."""
    if not value.startswith(ACR_PREFIX):
        return None
    parts = value[len(ACR_PREFIX):].split(":")
    if len(parts) != 2 or parts[0] not in ("ial1", "ial2", "ial3") or parts[1] not in ("aal1", "aal2", "aal3"):
        return None
    return int(parts[0][3]), int(parts[1][3])


@dataclass(frozen=True)
class Requirement:
    """What one ``acr`` value asks for: a minimum on each axis it names.

    NIST values name both integers (``ial2:aal2``); ETDA values name one axis or both
    (``ial:2.3``, ``aal:2.2``, ``ial:2.3:aal:2.2``). An ETDA level implies its NIST band (2.3 →
    IAL2): the level policy never grants an ETDA level above the NIST level of the same facts.
    """

    ial: int = 0
    aal: int = 0
    etda_ial: Decimal | None = None
    etda_aal: Decimal | None = None

    @property
    def nist_ial(self) -> int:
        return max(self.ial, band(self.etda_ial))

    @property
    def nist_aal(self) -> int:
        return max(self.aal, band(self.etda_aal))

    @property
    def etda(self) -> bool:
        return self.etda_ial is not None or self.etda_aal is not None

    def implies(self, other: Requirement) -> bool:
        """Meeting this value always meets ``other`` (a request may raise the operator's floor only)."""
        return (self.nist_ial >= other.nist_ial and self.nist_aal >= other.nist_aal
                and _at_least(self.etda_ial, other.etda_ial) and _at_least(self.etda_aal, other.etda_aal))


def _at_least(have: Decimal | None, wanted: Decimal | None) -> bool:
    return wanted is None or (have is not None and have >= wanted)


def parse_requirement(value: str) -> Requirement | None:
    """Any ``acr`` value this IdP knows (NIST or ETDA form); ``None`` for anything else (ignored)."""
    nist = parse_acr(value)
    if nist is not None:
        return Requirement(ial=nist[0], aal=nist[1])
    if not value.startswith(ACR_PREFIX):
        return None
    parts = value[len(ACR_PREFIX):].split(":")
    if len(parts) not in (2, 4) or len(value) > 64:
        return None
    levels: dict[str, Decimal] = {}
    for axis, text in zip(parts[::2], parts[1::2], strict=True):
        allowed = {"ial": IAL_LEVELS, "aal": AAL_LEVELS}.get(axis)
        level = parse_level(text, allowed) if allowed and axis not in levels else None
        if level is None:
            return None
        levels[axis] = level
    if len(parts) == 4 and list(levels) != ["ial", "aal"]:
        return None
    return Requirement(etda_ial=levels.get("ial"), etda_aal=levels.get("aal"))


@dataclass(frozen=True)
class AcrRequest:
    """What the RP (``acr_values``, the ``claims`` parameter) and the operator (the client's
    ``default_acr_values``) asked for."""

    values: tuple[str, ...] = ()
    essential: bool = False
    floor: tuple[str, ...] = ()


@dataclass(frozen=True)
class AcrOutcome:
    """``acr`` to issue now; else ``step_up`` (the AAL to reach; ``step_up_etda`` the ETDA AAL, if
    named) or ``proof`` (the IAL to reach by remote proofing; ``proof_etda``); else ``unmet``."""

    acr: str | None = None
    step_up: int | None = None
    proof: int | None = None
    target: str | None = None
    unmet: bool = False
    step_up_etda: Decimal | None = None
    proof_etda: Decimal | None = None


@dataclass(frozen=True)
class Etda:
    """The person's ETDA levels beside the NIST integers (``None``: no rule of the policy applies).

    :param reachable_aal: what their enrolled authenticators could give
    :param provable_ial: what remote proofing in this visit can give
    """

    ial: Decimal | None = None
    aal: Decimal | None = None
    reachable_aal: Decimal | None = None
    provable_ial: Decimal | None = None


@dataclass(frozen=True)
class _Standing:
    ial: int
    aal: int
    reachable_aal: int
    provable_ial: int
    etda: Etda = field(default_factory=Etda)

    def identity(self, r: Requirement) -> bool:
        return self.ial >= r.nist_ial and _at_least(self.etda.ial, r.etda_ial)

    def sign_in(self, r: Requirement) -> bool:
        return self.aal >= r.nist_aal and _at_least(self.etda.aal, r.etda_aal)

    def reachable(self, r: Requirement) -> bool:
        return self.reachable_aal >= r.nist_aal and _at_least(_max(self.etda.reachable_aal, self.etda.aal), r.etda_aal)

    def provable(self, r: Requirement) -> bool:
        return (r.nist_ial <= max(self.ial, self.provable_ial)
                and _at_least(_max(self.etda.ial, self.etda.provable_ial), r.etda_ial))


def _max(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return b if a is None else a if b is None else max(a, b)


def decide_acr(request: AcrRequest, *, ial: int, aal: int, reachable_aal: int,
               provable_ial: int = 0, etda: Etda | None = None) -> AcrOutcome:
    """Choose the ``acr`` to issue, the AAL to step up to, or that the request cannot be met.

    Requested values below the operator's floor are dropped (a request raises the floor, never
    lowers it). Values are taken in the RP's order of preference: the first one that is already
    satisfied is issued, unless an earlier one can be reached with the person's enrolled
    authenticators, which then is the step-up target (proofing is offered only when no listed value
    is met). Voluntary values out of reach fall back to
    the floor, if there is one, else to what was achieved (never overstated); a floor or an
    essential request that cannot be reached is unmet. A value that needs a higher IAL than the
    account has is reachable when ``provable_ial`` (what proofing in this visit can give) covers it.
    ETDA values (``urn:th:digitalid:ial:2.3``) are judged on ``etda`` and their NIST band alike.
    """
    standing = _Standing(ial=ial, aal=aal, reachable_aal=reachable_aal, provable_ial=provable_ial,
                         etda=etda or Etda())
    floor = [(v, r) for v, r in ((v, parse_requirement(v)) for v in dict.fromkeys(request.floor)) if r]
    wanted = [(v, r) for v, r in ((v, parse_requirement(v)) for v in request.values) if r]
    achieved = _achieved(standing, etda_form=bool(wanted) and wanted[0][1].etda)
    if floor:
        wanted = [(v, r) for v, r in wanted if any(r.implies(f) for _, f in floor)]
    mandatory = request.essential and bool(request.values)
    if not wanted and floor:
        wanted = list(floor)
        mandatory = True
    if not wanted:
        if request.essential and request.values:
            return AcrOutcome(unmet=True)  # essential, but nothing this IdP knows
        return AcrOutcome(acr=achieved)
    outcome = _first_met_or_reachable(wanted, standing)
    if outcome is None and floor and not mandatory:
        # Voluntary values out of reach never fall below the floor.
        outcome = _first_met_or_reachable(list(floor), standing)
        mandatory = True
    if outcome is not None:
        return outcome
    return AcrOutcome(unmet=True) if mandatory else AcrOutcome(acr=achieved)


def _achieved(s: _Standing, *, etda_form: bool) -> str | None:
    """What the session achieved, never overstated: in ETDA form when the RP asked in it."""
    if not s.aal:
        return None
    if etda_form and s.etda.ial is not None and s.etda.aal is not None:
        return etda_acr_value(s.etda.ial, s.etda.aal)
    return acr_value(s.ial, s.aal)


def _first_met_or_reachable(wanted: list[tuple[str, Requirement]], s: _Standing) -> AcrOutcome | None:
    """The first value, in the RP's order of preference (OIDC Core §5.5.1.1), that is met or can be
    reached in this visit.

    When a listed value is already met, a more preferred one is offered only as a step-up with an
    authenticator the person already has (which they may decline, and get the met value); they are
    never sent into proofing for it, which is no small detour for a preference.
    """
    met = next((value for value, r in wanted if s.identity(r) and s.sign_in(r)), None)
    for value, r in wanted:
        if value == met:
            return AcrOutcome(acr=value)
        if s.identity(r) and s.reachable(r):
            return AcrOutcome(step_up=max(r.nist_aal, 1), step_up_etda=r.etda_aal, target=value)
        if met is None and not s.identity(r) and s.provable(r) and s.reachable(r):
            return AcrOutcome(proof=max(r.nist_ial, 2), proof_etda=r.etda_ial, target=value)
    return None
