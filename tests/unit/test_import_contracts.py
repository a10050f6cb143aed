"""The view-independence contract (setup.cfg, checked by ``lint-imports``) names every view module.

A module that defines a Blueprint and is missing from the contract's list could import another
domain's views unnoticed, so the list is checked against the code here.
"""

import ast
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _contract_modules() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config["importlinter:contract:views-independent"]["modules"].split()


def _defines_blueprint(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Blueprint":
            return True
    return False


def _blueprint_modules() -> list[str]:
    found = []
    for path in sorted((ROOT / "idp").rglob("*.py")):
        if _defines_blueprint(path):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_every_module_that_defines_a_blueprint_is_in_the_views_contract():
    listed = _contract_modules()
    blueprints = _blueprint_modules()
    assert "idp.oidc.views" in blueprints and "idp.console.clients" in blueprints
    unlisted = [m for m in blueprints if not any(m == v or m.startswith(v + ".") for v in listed)]
    assert not unlisted, f"add these view modules to [importlinter:contract:views-independent]: {unlisted}"
