"""Open data: aggregate, anonymous statistics about sign-ins and identity proofing."""
