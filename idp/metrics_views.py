"""``/metrics``: the Prometheus scrape, for the operator's monitoring only.

Shut unless configured: it answers only a request with ``Authorization: Bearer <METRICS_TOKEN>``
or one from an address in ``METRICS_ALLOW``; everything else, including a wrong token, gets the
same 404 as a path that does not exist, so a stranger learns nothing, not even that it is there.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST

from idp import metrics

bp = Blueprint("metrics", __name__)


def _bearer_matches(expected: str | None) -> bool:
    if not expected:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def _address_allowed(networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    if not networks or not request.remote_addr:
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr)
    except ValueError:
        return False
    return any(address in network for network in networks)


@bp.get("/metrics")
def scrape() -> Response:
    config = current_app.config
    if not (_bearer_matches(config["METRICS_TOKEN"]) or _address_allowed(config["METRICS_ALLOW_NETWORKS"])):
        abort(404)
    response = Response(metrics.exposition(), mimetype=None, content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
