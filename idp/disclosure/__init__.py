"""What citizens see of their data: the disclosure log and consent receipts.

The disclosure log (:mod:`idp.disclosure.log`) keeps one row per release of claims to an
e-Service; consent receipts (:mod:`idp.disclosure.receipts`) are signed records of each consent
given or withdrawn. Both are the person's own and are shown on My data.
"""
