"""Authenticators (TOTP, WebAuthn, recovery codes), throttling and the sign-in steps that use them."""
