"""Demo e-Service: a relying party that signs citizens in through the IdP.

It lives outside ``idp/`` on purpose: it talks to the IdP only over HTTP, exactly as a
government agency's own e-Service would, so it doubles as an integration guide.
"""
