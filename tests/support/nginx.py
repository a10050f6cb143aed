"""nginx configurations for tests, made from deploy/nginx/ so the tests run what operators install.

deploy/nginx/idp.conf is a site file for ``/etc/nginx/conf.d``; tests wrap it (or its ``upstream``
block and deploy/nginx/idp-proxy.conf) in a main configuration whose pid file, logs and temporary
paths all lie in the test's own folder.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "nginx"
SITE = DEPLOY / "idp.conf"
PROXY = DEPLOY / "idp-proxy.conf"
UPSTREAM = re.compile(r"^upstream idp \{\n.*?^\}\n", re.S | re.M)
UPSTREAM_SERVER = re.compile(r"^\s*server 127\.0\.0\.1:\d+([^;]*);\n", re.M)
# Each request's upstream, so a test can see which instance served it.
LOG_FORMAT = 'log_format upstreams "$request_method $uri $status $upstream_addr";'


def binary() -> str | None:
    """Debian's nginx (in /usr/sbin, which is not on every user's PATH), or None."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    return found


def upstream_block(servers: Iterable[str]) -> str:
    """deploy's ``upstream idp`` block (balancing, keepalive, failure settings) with ``servers`` instead."""
    found = UPSTREAM.search(SITE.read_text())
    assert found, f"no `upstream idp {{ ... }}` block in {SITE}"
    block = found.group(0)
    options = UPSTREAM_SERVER.search(block)
    assert options, f"no `server 127.0.0.1:PORT ...;` line in the upstream block of {SITE}"
    lines = "".join(f"    server {server}{options.group(1)};\n" for server in servers)
    return UPSTREAM_SERVER.sub("", block).replace("upstream idp {\n", "upstream idp {\n" + lines, 1)


def main_config(folder: Path, http: str) -> Path:
    """``folder/nginx.conf``: a foreground nginx with ``http`` as its http block's contents."""
    folder.mkdir(parents=True, exist_ok=True)
    temp = {name: folder / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    # As root, nginx's workers would otherwise run as nobody and could not use the test's folders.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    config = folder / "nginx.conf"
    config.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    {LOG_FORMAT}\n"
        f"    access_log {folder / 'access.log'} upstreams;\n"
        + "".join(f"    {name}_temp_path {path};\n" for name, path in temp.items())
        + http + "\n}\n")
    return config


def command(config: Path, *extra: str) -> list[str]:
    """``nginx -p FOLDER -e ERROR_LOG -c CONFIG ...``: nothing read or written outside the config's folder."""
    nginx = binary()
    assert nginx
    folder = config.parent
    return [nginx, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(config), *extra]
