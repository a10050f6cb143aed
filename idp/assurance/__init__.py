"""Identity and authenticator assurance: pure rules, no Flask, no database."""
