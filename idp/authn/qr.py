"""QR codes drawn here, as inline SVG: a provisioning URI carries a TOTP seed, so it must never
reach an outside service, and the page needs no script or image request to show it."""

from __future__ import annotations

import segno


def svg(data: str, *, scale: int = 4) -> str:
    """An ``<svg>`` element (no XML declaration, no namespace) for embedding in HTML.

    Dark modules on an opaque white background with the standard quiet zone, so it scans in
    dark mode too. Accessibility (``role="img"``, a label) and the text alternative are the
    caller's.
    """
    return str(segno.make(data, error="m").svg_inline(scale=scale, dark="#000", light="#fff"))
