"""Identity proofing (IAL2 remote, IAL3 in person) and the verified claims it yields."""
