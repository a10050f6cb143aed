"""Verifiers named in settings (``"package.module:Class"``), built once at start-up.

The registry verifier and the face verifier are both chosen this way, so an operator plugs in a
vendor's adapter without a code change, and a bad name fails when the IdP starts, not on the first
applicant.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def load_plugin(config: Mapping[str, Any], setting: str, default: str, protocol: type, needs: str) -> Any:
    """Build the object ``config[setting]`` names (``default`` when unset) with ``config``.

    :param protocol: a ``runtime_checkable`` Protocol the object must satisfy
    :param needs: what the object must have, for the error message (``"verify(evidence)"``)
    :raises ValueError, ImportError, TypeError: on a bad setting
    """
    spec = config.get(setting) or default
    if isinstance(spec, str):
        module_name, sep, attr = spec.partition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"{setting} must be 'package.module:Class', got {spec!r}")
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            try:
                target = getattr(target, part)
            except AttributeError:
                raise ValueError(f"{setting}: {module_name} has no {attr!r}") from None
    else:
        target = spec  # a class or factory given directly (tests, embedding)
    built = target(config)
    if not isinstance(built, protocol):
        raise ValueError(f"{setting}: {spec!r} does not build an object with {needs}")
    return built
