"""Every module of the package imports on its own, first, in a fresh interpreter.

A service module imported first (a CLI command, a worker, a test that starts there) must not run
into a half-initialised module through a cycle; the application factory's order hid one such cycle
(``idp.accounts.support`` -> ``idp.oidc`` package -> views -> ``idp.accounts.sessions`` -> support).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "idp"

# One interpreter: third-party packages stay imported, every idp module is forgotten before the next.
PROBE = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "idp" or m.startswith("idp.")]:
        del sys.modules[loaded]
    if "prometheus_client" in sys.modules:  # idp.metrics registers its metrics again when imported again
        registry = sys.modules["prometheus_client"].REGISTRY
        for collector in list(registry._collector_to_names):
            registry.unregister(collector)
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc().strip().splitlines()[-1])
print("\\n".join(failed))
"""


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_first() -> None:
    modules = _modules()
    assert "idp.accounts.support" in modules and len(modules) > 50
    done = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, timeout=120,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", done.stdout
