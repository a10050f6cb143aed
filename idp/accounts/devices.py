"""What the Security page says about a signed-in browser: its name, and roughly where it is.

Pure rules, no Flask and no database. Deliberately simple: the browser and system named in the
User-Agent (the first known token wins, in an order that puts the look-alikes first: Edge and Opera
also say "Chrome", Chrome also says "Safari"), and the place from the address class only (this
computer, a private network, the internet). No geolocation service is asked: that would send every
person's address to a third party, and the address class is all a person needs to tell "my phone
at home" from "somewhere else". Only these words are stored, never the User-Agent or the address.
"""

from __future__ import annotations

import ipaddress

LOOPBACK = "loopback"
PRIVATE = "private"
PUBLIC = "public"
UNKNOWN = ""

# (token in the User-Agent, the name shown); the first match wins.
BROWSERS = (
    ("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"), ("Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("FxiOS/", "Firefox"), ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"), ("Chromium/", "Chromium"), ("Chrome/", "Chrome"),
)
SYSTEMS = (
    ("Windows", "Windows"), ("Android", "Android"),
    ("iPhone", "iOS"), ("iPad", "iPadOS"), ("iPod", "iOS"),
    ("CrOS", "ChromeOS"), ("Macintosh", "macOS"), ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
MAX_USER_AGENT = 512


def browser_of(user_agent: str) -> str:
    """``"Firefox"``, ``"Chrome"``... or ``""`` when none is recognised."""
    ua = (user_agent or "")[:MAX_USER_AGENT]
    found = next((name for token, name in BROWSERS if token in ua), UNKNOWN)
    if not found and "Safari/" in ua and "Version/" in ua:  # Safari: "Version/17.4 Mobile/15E148 Safari/604.1"
        return "Safari"
    return found


def system_of(user_agent: str) -> str:
    """``"Android"``, ``"macOS"``... or ``""`` when none is recognised."""
    ua = (user_agent or "")[:MAX_USER_AGENT]
    return next((name for token, name in SYSTEMS if token in ua), UNKNOWN)


def place_of(address: str) -> str:
    """The class of a client address: :data:`LOOPBACK`, :data:`PRIVATE`, :data:`PUBLIC` or :data:`UNKNOWN`."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return UNKNOWN
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return LOOPBACK
    if ip.is_global:
        return PUBLIC
    if ip.is_private or ip.is_link_local or ip in ipaddress.ip_network("100.64.0.0/10"):
        return PRIVATE  # RFC 1918, ULA, link-local, carrier-grade NAT
    return UNKNOWN


def describe(user_agent: str, address: str) -> dict[str, str]:
    """What a session row keeps about its browser (``AuthSession.details["device"]``)."""
    return {"browser": browser_of(user_agent), "system": system_of(user_agent), "place": place_of(address)}
