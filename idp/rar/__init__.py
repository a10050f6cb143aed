"""Transaction context: the authorization-details types an operator registers (RFC 9396).

``definitions`` checks a type's definition and a detail against it and renders a detail for
people; ``service`` stores types; ``models`` is the table. The protocol side (the
``authorization_details`` parameter, ``invalid_authorization_details``) is in
:mod:`idp.oidc.authorization_details`.
"""
