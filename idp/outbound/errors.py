"""Why an outbound fetch failed: one root, one subclass per failure.

Each message names the URL's part that failed and what the agency can change, because it goes
back to the agency in ``error_description`` (registration) or to the admin (console, CLI). It
never holds the address a name resolved to: telling a registrant which internal names resolve
would make the fetcher an oracle for the IdP's own network.
"""

from __future__ import annotations

__all__ = ["BadResponse", "FetchError", "NotAllowed", "Timeout", "TooLarge", "Unreachable"]


class FetchError(Exception):
    """The document at a client-controlled URL could not be used."""


class NotAllowed(FetchError):
    """The URL's scheme, form or resolved address is one this server never fetches from."""


class Unreachable(FetchError):
    """The name did not resolve, nothing answered, or TLS failed (certificate not valid for the host)."""


class Timeout(FetchError):
    """Resolving, connecting, the TLS handshake, the headers and the body together took too long."""


class TooLarge(FetchError):
    """The body is over the size limit."""


class BadResponse(FetchError):
    """Not a 200 (redirects are not followed), the wrong content type, or not JSON."""
