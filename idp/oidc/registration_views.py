"""Placeholder: RFC 7591 / 7592 endpoints, being built."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("registration", __name__)
