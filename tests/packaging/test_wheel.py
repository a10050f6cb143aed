"""The wheel an operator installs: built from this checkout, installed (not editable) into a fresh venv.

Editable installs, as in ``make venv``, read templates and packages straight from the checkout and so hide
a package or a template that the wheel leaves out. This test installs the wheel the way an operator does
(``pip install idp-*.whl`` in a venv, configuration in ``IDP_*`` variables, working directory outside the
checkout), runs ``idp init`` and ``idp demo seed``, starts ``idp serve`` and reads the public pages.
It needs PyPI (or a pip cache) for the dependencies, as ``make venv`` does; it never skips.
"""

from __future__ import annotations

import ast
import http.client
import importlib.metadata
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("idp", "templates", "migrations")  # the folders whose every file the wheel must carry
# Where each shipped folder lands in the wheel (setup.py maps templates/ and migrations/ into idp/).
IN_WHEEL = {"idp": "idp", "templates": "idp/templates", "migrations": "idp/migrations"}
TEMPLATE_REF = re.compile(r"""\{%-?\s*(?:extends|include|import|from)\s+["']([^"']+)["']""")

PIP_TIMEOUT = 300
CLI_TIMEOUT = 60
START_TIMEOUT = 30
STOP_TIMEOUT = 10


def _run(args: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    command = [str(a) for a in args]
    done = subprocess.run(command, cwd=cwd, env=env, timeout=timeout, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return done


def _source_files() -> list[str]:
    """The checkout's files as a fresh clone plus uncommitted work has them (no build/, .venv/, keys…)."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        listed = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT).stdout
        return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]
    skip = {".git", ".venv", "build", "dist", "instance", "keys", "node_modules", "__pycache__", ".hypothesis"}
    files = (p.relative_to(ROOT) for p in ROOT.rglob("*") if p.is_file() and p.suffix != ".pyc")
    return [str(f) for f in files if not skip.intersection(f.parts) and not f.parts[0].endswith((".egg-info", "cache"))]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel --no-deps`` of a copy of the checkout, so no stale ``build/`` can fill the gaps."""
    src = tmp_path_factory.mktemp("src")
    for name in _source_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, src], timeout=PIP_TIMEOUT)
    (built,) = out.glob("idp-*.whl")
    return built


def _code_template_names() -> set[str]:
    """Every template the code names: ``"….html"`` literals in idp/ and the references between templates."""
    names: set[str] = set()
    for path in (ROOT / "idp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".html"):
                names.add(node.value)
    for path in (ROOT / "templates").rglob("*.html"):
        names.update(TEMPLATE_REF.findall(path.read_text(encoding="utf-8")))
    return names


def test_wheel_carries_every_named_template(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        contents = set(archive.namelist())
    names = _code_template_names()
    assert len(names) > 40, "the template scan found too few names; has the code's layout changed?"
    assert "console/clients/index.html" in names
    missing = sorted(n for n in names if f"idp/templates/{n}" not in contents)
    assert not missing, f"templates the code names but the wheel leaves out: {missing}"


def test_wheel_carries_every_package_and_file(wheel: Path) -> None:
    """Every module, template, translation, static and data file and migration, at any depth."""
    with zipfile.ZipFile(wheel) as archive:
        contents = set(archive.namelist())
    expected = set()
    for name in _source_files():
        top, _, rest = name.partition("/")
        if top in SHIPPED and rest and not Path(rest).name.startswith("."):
            expected.add(f"{IN_WHEEL[top]}/{rest}")
    assert "idp/console/__init__.py" in expected and "idp/migrations/env.py" in expected
    missing = sorted(expected - contents)
    assert not missing, f"files of idp/, templates/ or migrations/ that the wheel leaves out: {missing}"


@dataclass(frozen=True)
class Installed:
    venv: Path
    env: dict[str, str]
    cwd: Path

    def idp(self, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return _run([self.venv / "bin" / "idp", *args], env=env, cwd=self.cwd, timeout=CLI_TIMEOUT)


def _pinned_to_this_environment(path: Path) -> Path:
    """Constraints: the dependency versions the rest of the suite runs on (and pip has cached)."""
    pins = sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
                   if d.metadata["Name"] and d.metadata["Name"].lower() != "idp"})
    path.write_text("\n".join(pins) + "\n")
    return path


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh venv with the wheel installed, and an operator's environment outside the checkout."""
    root = tmp_path_factory.mktemp("operator")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
          "--disable-pip-version-check", "--constraint", _pinned_to_this_environment(root / "constraints.txt"),
          wheel], timeout=PIP_TIMEOUT)
    cwd = root / "work"
    cwd.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.defpath}",
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "IDP_SECRET_KEY": "s-" + secrets.token_urlsafe(32),
        "IDP_INSTANCE_PATH": str(root / "instance"),
        "IDP_KEYS_DIR": str(root / "keys"),
        "IDP_DATABASE_URL": f"sqlite:///{root / 'idp.db'}",
    }
    return Installed(venv=venv, env=env, cwd=cwd)


def test_installed_idp_comes_from_the_venv(installed: Installed) -> None:
    done = _run([installed.venv / "bin" / "python", "-c",
                 "import json, idp; print(json.dumps([idp.__file__, str(idp.resource_dir('templates')),"
                 " str(idp.resource_dir('migrations'))]))"], env=installed.env, cwd=installed.cwd)
    module, templates, migrations = (Path(p) for p in json.loads(done.stdout))
    package = module.parent
    assert package.is_relative_to(installed.venv), f"idp imported from {module}, not from the venv"
    assert templates == package / "templates" and templates.is_dir()
    assert migrations == package / "migrations" and (migrations / "versions").is_dir()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One GET on loopback: no proxy, no redirect followed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@dataclass(frozen=True)
class Server:
    port: int
    issuer: str
    log: Path


@pytest.fixture(scope="module")
def served(installed: Installed) -> Iterator[Server]:
    """``idp init`` and ``idp demo seed`` as ``make run`` does, then ``idp serve`` on a free loopback port."""
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {**installed.env, "IDP_ISSUER": issuer}
    init = json.loads(installed.idp("init", "--json", env=env).stdout)
    assert init["database"] == "at head" and init["keys_created"] > 0
    installed.idp("demo", "seed", "--eservice-url", "http://localhost:5001", env=env)
    log = installed.cwd / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [installed.venv / "bin" / "idp", "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
            env=env, cwd=installed.cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(port=port, issuer=issuer, log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"idp serve exited {proc.returncode}:\n{log.read_text()}", pytrace=False)
            try:
                _get(port, "/.well-known/openid-configuration")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"idp serve did not answer within {START_TIMEOUT} s:\n{log.read_text()}",
                                pytrace=False)
                time.sleep(0.2)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # gunicorn and its worker: the group started here, nothing else
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
    assert proc.returncode == 0, f"idp serve stopped with {proc.returncode}:\n{log.read_text()}"
    assert "Traceback" not in log.read_text(), log.read_text()


def test_installed_wheel_serves_discovery(served: Server) -> None:
    status, _, body = _get(served.port, "/.well-known/openid-configuration")
    assert status == 200
    assert json.loads(body)["issuer"] == served.issuer
    status, _, body = _get(served.port, "/jwks.json")
    assert status == 200 and json.loads(body)["keys"]


@pytest.mark.parametrize("path", ["/services", "/open-data/", "/signin", "/static/idp.css"])
def test_installed_wheel_serves_public_pages(served: Server, path: str) -> None:
    status, _, _ = _get(served.port, path)
    assert status == 200


def test_installed_wheel_speaks_thai(served: Server) -> None:
    """The compiled catalogue ships: the sign-in page in Thai, not the English msgid."""
    status, _, body = _get(served.port, "/signin", **{"Accept-Language": "th"})
    assert status == 200
    assert "เข้าสู่ระบบ" in body.decode()


def test_installed_wheel_sends_strangers_from_console_to_signin(served: Server) -> None:
    status, headers, _ = _get(served.port, "/console/")
    assert 300 <= status < 400
    assert "/signin" in headers["Location"]
