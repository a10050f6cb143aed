"""idp: an open-source national digital identity provider (OpenID Provider)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from idp.resources import resource_dir

__all__ = ["create_app", "resource_dir"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The one place that wires configuration, extensions and blueprints."""
    app = Flask(
        __name__,
        template_folder=str(resource_dir("templates")),
        instance_path=os.environ.get("IDP_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    from idp import config

    config.load(app, test_config)

    from idp import db
    from idp import errors
    from idp import http
    from idp import i18n
    from idp import outbound
    from idp import request_guard
    from idp.extensions import csrf

    db.init_app(app)
    try:
        from idp import redis_store

        redis_store.init_app(app)
        from idp.audit import sealer as audit_sealer

        audit_sealer.init_app(app)
        i18n.init_app(app)
        http.init_app(app)
        request_guard.init_app(app)  # before CSRF protection and the blueprints: it checks the input they read
        csrf.init_app(app)
        outbound.init_app(app)
        from idp import backchannel

        backchannel.init_app(app)

        from idp import console
        from idp import journey
        from idp import metrics
        from idp.accounts.recovery_views import bp as recovery_bp
        from idp.accounts.security_views import bp as account_security_bp
        from idp.accounts.views import bp as accounts_bp
        from idp.authn.views import bp as authn_bp
        from idp.disclosure.views import bp as disclosure_bp
        from idp.health import bp as health_bp
        from idp.metrics_views import bp as metrics_bp
        from idp.oidc import wiring as oidc
        from idp.oidc.catalogue import bp as catalogue_bp
        from idp.oidc.registration_views import bp as registration_bp
        from idp.proofing.face_views import bp as face_bp
        from idp.proofing.officer import bp as officer_bp
        from idp.proofing.privacy_views import bp as privacy_bp
        from idp.proofing.views import bp as proofing_bp
        from idp.stats.views import bp as opendata_bp

        oidc.init_app(app)
        journey.init_app(app)
        app.register_blueprint(accounts_bp)
        app.register_blueprint(oidc.bp)
        app.register_blueprint(authn_bp)
        app.register_blueprint(recovery_bp)
        app.register_blueprint(account_security_bp)
        app.register_blueprint(officer_bp)
        app.register_blueprint(proofing_bp)
        app.register_blueprint(face_bp)
        app.register_blueprint(privacy_bp)
        app.register_blueprint(disclosure_bp)
        app.register_blueprint(catalogue_bp)
        app.register_blueprint(opendata_bp)
        app.register_blueprint(registration_bp)
        console.register(app)
        app.register_blueprint(health_bp)
        app.register_blueprint(metrics_bp)
        metrics.init_app(app)
        errors.register_error_handlers(app)
        from idp import prepared

        prepared.init_app(app)  # outermost: nothing else runs for discovery and the JWKS
    except BaseException:
        # A setting refused after the engine exists (the level policy, say): no connection is left
        # open behind the error.
        db.engine_of(app).dispose()
        raise
    return app
