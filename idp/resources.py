"""Where the templates and migrations are, installed or in a checkout.

A module of its own so that code needing only this (migrations, readiness) does not import the
``idp`` package's factory and, through it, every blueprint.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``templates``/``migrations``: inside the installed package, or at the top of a checkout."""
    installed = _HERE / name
    return installed if installed.is_dir() else _HERE.parent / name
