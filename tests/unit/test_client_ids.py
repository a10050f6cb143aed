"""A new client_id never starts with "-": a command line (``idp clients check ID``) would read it as an option."""

from idp.oidc import clients


def test_an_id_starting_with_a_dash_is_drawn_again(monkeypatch):
    drawn = iter(["-looks-like-an-option", "_fine-id"])
    monkeypatch.setattr(clients, "random_token", lambda nbytes: next(drawn))
    assert clients.new_client_id() == "_fine-id"


def test_ids_are_random_and_long_enough():
    ids = {clients.new_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert not any(i.startswith("-") for i in ids) and all(len(i) == 24 for i in ids)
