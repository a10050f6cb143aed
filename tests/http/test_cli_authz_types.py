"""``idp authz-types add|list``: a definition file in, one JSON object out; a bad one refused on stderr."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from idp.cli import authz_types
from idp.cli import cli
from idp.cli import demo

authz_types.register(cli)
demo.register(cli)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "authorization-details" / "th_gov_service_request.json"


@pytest.fixture
def run(app):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))

    return invoke


def test_add_then_list(run):
    added = run("authz-types", "add", "--file", str(EXAMPLE), "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"type": "th_gov_service_request", "created": True, "active": True}
    listed = run("authz-types", "list", "--json")
    [entry] = json.loads(listed.stdout)["types"]
    assert entry == json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert "th_gov_service_request  active" in run("authz-types", "list").stdout


def test_adding_twice_needs_replace(run, tmp_path):
    run("authz-types", "add", "--file", str(EXAMPLE))
    again = run("authz-types", "add", "--file", str(EXAMPLE))
    assert again.exit_code != 0 and "already registered" in again.stderr
    changed = json.loads(EXAMPLE.read_text(encoding="utf-8")) | {"clients": ["rp-1"]}
    path = tmp_path / "type.json"
    path.write_text(json.dumps(changed))
    replaced = run("authz-types", "add", "--file", str(path), "--replace", "--json")
    assert json.loads(replaced.stdout)["created"] is False
    assert json.loads(run("authz-types", "list", "--json").stdout)["types"][0]["clients"] == ["rp-1"]


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not JSON"),
    (json.dumps({"type": "x", "schema": {"type": "object", "minProperties": -1},
                 "display": {"title": {"en": "a", "th": "ก"}}}), "schema: This is not a valid JSON Schema"),
    (json.dumps({"type": "x", "schema": {}, "display": {}}), "display: The title needs a text in Thai"),
])
def test_bad_file_is_refused_in_english(run, tmp_path, content, message):
    path = tmp_path / "type.json"
    path.write_text(content)
    result = run("authz-types", "add", "--file", str(path))
    assert result.exit_code != 0 and message in result.stderr
    assert json.loads(run("authz-types", "list", "--json").stdout) == {"types": []}


def test_demo_seed_registers_the_example_once(run):
    assert run("demo", "seed", "--json").exit_code == 0
    assert run("demo", "seed", "--json").exit_code == 0
    types = json.loads(run("authz-types", "list", "--json").stdout)["types"]
    assert [t["type"] for t in types] == ["th_gov_service_request"]
