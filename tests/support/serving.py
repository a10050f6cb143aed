"""Starting and stopping real servers in tests: free loopback ports, the ``idp`` script, process groups.

Shared by the interop tests (one ``idp serve``) and the multi-instance test (three, behind nginx).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

STOP_TIMEOUT = 10

# No proxy for loopback, whatever http_proxy says.
direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def idp_script() -> str:
    """The ``idp`` console script of the interpreter running the tests."""
    script = Path(sys.executable).parent / "idp"
    found = str(script) if script.exists() else shutil.which("idp")
    if not found:
        pytest.fail("the `idp` console script is missing: pip install -e .", pytrace=False)
    assert found
    return found


def wait_until_answers(proc: subprocess.Popen[bytes], url: str, *, timeout: float, log: Path) -> None:
    """Poll ``url`` until it answers 2xx; fail with the log's tail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args!r} exited with {proc.returncode}:\n{tail(log)}", pytrace=False)
        try:
            with direct.open(url, timeout=2):
                return
        except OSError as exc:  # refused while the server boots
            last_error = exc
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout} s ({last_error}):\n{tail(log)}", pytrace=False)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started with ``start_new_session=True``: its whole process group, and nothing else."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)
    except ProcessLookupError:
        proc.wait(timeout=STOP_TIMEOUT)


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
