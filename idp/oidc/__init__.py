"""OpenID Provider: Authlib wiring (:mod:`idp.oidc.wiring`); the rules live in the services it calls."""
