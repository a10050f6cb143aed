"""The staff console: e-Services, staff roles, the dashboard, the audit log and support.

Each area is its own blueprint under ``/console`` and every view goes through
:func:`idp.accounts.roles.require_role`, so the role check is made on the server for each request.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Flask

AREAS = ("home", "clients", "agencies", "staff", "dashboard", "audit_log", "support", "authz_types")


def register(app: Flask) -> None:
    from idp.console import agencies
    from idp.console import audit_log
    from idp.console import authz_types
    from idp.console import clients
    from idp.console import dashboard
    from idp.console import home
    from idp.console import staff
    from idp.console import support

    blueprints: list[Blueprint] = [home.bp, clients.bp, staff.bp, dashboard.bp, audit_log.bp, support.bp,
                                   authz_types.bp, agencies.bp]
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
