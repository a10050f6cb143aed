"""Blueprint ``face``: after the registry check, the card's chip and a selfie (one thing per page).

The uploads are read into memory (``idp.request_guard.InMemoryRequest``) under
``UPLOAD_MAX_CONTENT_LENGTH`` and handed to :mod:`idp.proofing.face_check`; nothing of them is
stored or logged. Every page carries ``next``, so that an e-Service waiting for a higher level
gets the person back.
"""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response

from idp import journey
from idp.accounts.session import AuthContext
from idp.db import get_session
from idp.proofing import face_check
from idp.proofing import messages
from idp.proofing import service
from idp.proofing.chip import trusted_issuers
from idp.proofing.face import MAX_IMAGE_BYTES
from idp.proofing.face import UNAVAILABLE
from idp.proofing.face import FaceVerifier
from idp.proofing.face import load_face_verifier
from idp.request_guard import allow_upload

bp = Blueprint("face", __name__, url_prefix="/proofing/face")
allow_upload("face.chip")
allow_upload("face.selfie")


def face_verifier() -> FaceVerifier:
    """One face verifier per app, built from configuration (tests may put their own in ``extensions``)."""
    if "idp.face_verifier" not in current_app.extensions:
        current_app.extensions["idp.face_verifier"] = load_face_verifier(current_app.config)
    return current_app.extensions["idp.face_verifier"]  # type: ignore[no-any-return]


def chip_issuers() -> KeySet | None:
    """The card issuers' keys, or None when chip reads are not configured."""
    return trusted_issuers(current_app.extensions, current_app.config)


def _upload(name: str) -> bytes | None:
    """The uploaded file's bytes (in memory), or None when none was chosen."""
    storage = request.files.get(name)
    if storage is None or not storage.filename:
        return None
    data = storage.read()
    return data or None


def _closed(next_url: str) -> Response:
    """The step is not offered, done or closed: the status page says what is next."""
    return redirect(url_for("proofing.status", next=next_url))


@bp.route("", methods=["GET"])
@journey.signed_in
def start(*, ctx: AuthContext) -> Response:
    """The first page of the step: the chip when reads are configured, else the selfie."""
    next_url = journey.next_url()
    return redirect(url_for("face.chip" if chip_issuers() is not None else "face.selfie", next=next_url))


@bp.route("/chip", methods=["GET", "POST"])
@journey.signed_in
def chip(*, ctx: AuthContext) -> Response | str | tuple[str, int] | tuple[Response, int]:
    db = get_session()
    next_url = journey.next_url()
    found = face_check.offered(db, ctx.user)
    if found is None or face_check.done(found[1]) or chip_issuers() is None:
        return _closed(next_url)

    def page(error: str | None = None, status: int = 200) -> tuple[str, int]:
        return render_template("proofing/face_chip.html", next=next_url, error=error), status

    if request.method == "GET":
        return page()
    # The Digital ID app may post the read itself (JSON, with the CSRF token in X-CSRFToken) instead of a file.
    app_client = request.mimetype == "application/json"
    document = request.get_data() or None if app_client else _upload("chip")
    if document is None:
        return page(messages.face_error("no_chip_file"), 400)
    try:
        result = face_check.record_chip(db, ctx.user, document, config=current_app.config, issuers=chip_issuers())
    except service.ProofingError:
        return _closed(next_url)
    reason = result.reasons[0] if result.reasons else None
    if app_client:
        answer = {"outcome": result.outcome, "reason": reason, "next": url_for("face.selfie", next=next_url)}
        return jsonify(answer), 200 if result.valid else 400
    if not result.valid:
        return page(messages.face_error(reason or "chip_malformed"), 400)
    return redirect(url_for("face.selfie", next=next_url))


@bp.route("/selfie", methods=["GET", "POST"])
@journey.signed_in
def selfie(*, ctx: AuthContext) -> Response | str | tuple[str, int]:
    db = get_session()
    next_url = journey.next_url()
    found = face_check.offered(db, ctx.user)
    if found is None or face_check.done(found[1]):
        return _closed(next_url)
    case, _identity = found
    left = face_check.attempts_left(case, current_app.config)
    if left <= 0:
        return _closed(next_url)

    def page(error: str | None = None, status: int = 200, attempts: int | None = None) -> tuple[str, int]:
        return render_template("proofing/face_selfie.html", next=next_url, error=error, attempts_left=attempts,
                               chip_read=case.checks.get("chip") == "valid", chip_on=chip_issuers() is not None,
                               max_mb=MAX_IMAGE_BYTES // (1024 * 1024)), status

    if request.method == "GET":
        return page()
    image = _upload("selfie")
    if image is None:
        return page(messages.face_error("no_selfie_file"), 400)
    try:
        result = face_check.check_face(db, ctx.user, image, config=current_app.config, verifier=face_verifier())
    except service.ProofingError:
        return _closed(next_url)
    finally:
        del image  # the selfie lives in this call only
    if result.passed:
        if journey.is_authorization(next_url):
            return journey.resume(next_url)
        return redirect(url_for("proofing.status", next=next_url))
    if result.outcome == UNAVAILABLE:
        return page(messages.face_error("face_service_unavailable"), 503)
    left = face_check.attempts_left(case, current_app.config)
    if left <= 0:
        return _closed(next_url)
    code = "bad_image" if "bad_image" in result.reasons else "face_not_confirmed"
    return page(messages.face_error(code), 400, attempts=left)
