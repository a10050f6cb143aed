#!/usr/bin/env python3
"""Run the peers' load driver with py-spy sampling the server during the measured window only.

  python bench/profiled_driver.py --driver PEERS/driver/oidc_load.py --py-spy BIN --pid PID \
      --out results/profile-run1-idp-userinfo-aiohttp.txt -- <the driver's own arguments>

The driver (a shared, read-only file outside this repository) says nothing when its warm-up ends,
and its set-up (pre-check flows, one code flow per refresh chain) runs right before. Starting
py-spy from run.sh would catch both. So this wrapper imports the driver as a module and wraps its
two load loops: the aiohttp one (``_load_loop(unit, res, concurrency, warmup, duration, pids)``
measures from ``warmup`` seconds after its call until it returns) and the autocannon one (one
autocannon process: its own warm-up, then the run; measured from ``warmup`` + ``AUTOCANNON_START``
seconds). py-spy starts at that moment and gets SIGINT when the loop returns, so it writes the
samples of the measured window and nothing else. Everything else is the driver, unchanged.

py-spy runs ``--nonblocking`` (it reads the server's memory without stopping it, so the server's
throughput is not taxed; a few stacks may be torn) and ``--subprocesses`` (the gunicorn master
and every worker), in the collapsed-stack ("raw") format that speedscope and flamegraph.pl read.
It inherits this process's CPU affinity (the driver's core), so its own cost lands there.
A JSON sidecar (``<out>.json``) records the window, py-spy's exit status and its last words.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO
from typing import Any

AUTOCANNON_START = 0.5  # seconds autocannon (Node) takes to start before its own warm-up begins
STOP_GRACE = 30.0  # seconds py-spy may take to write its file after SIGINT


class Window:
    """One py-spy recording over one measured window; started from a timer, stopped once."""

    def __init__(self, py_spy: str, pid: int, out: Path, rate: int, extra: list[str]) -> None:
        self.cmd = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
                    "--format", "raw", "--rate", str(rate), "--output", str(out), *extra]
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None
        self.called = self.started = self.returned = self.stopped = 0.0
        self.lock = threading.Lock()
        self.done = False

    def start(self) -> None:
        with self.lock:
            if self.done or self.proc is not None:
                return
            self.started = time.time()
            self.log = open(f"{self.out}.log", "wb")  # closed in stop()
            # the py-spy binary run.sh chose and the PID of the server it started
            self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)  # noqa: S603

    def stop(self) -> None:
        """SIGINT (py-spy then writes its file) and the sidecar; the second and later calls do nothing."""
        self.returned = self.returned or time.time()
        with self.lock:
            if self.done:
                return
            self.done = True
            if self.proc is None:
                return
            self.stopped = time.time()
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
            try:
                rc = self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            if self.log is not None:
                self.log.close()
            words = Path(f"{self.out}.log").read_text(errors="replace").strip().splitlines()[-3:]
            Path(f"{self.out}.json").write_text(json.dumps({
                "window_s": round(self.stopped - self.started, 3), "loop_called": self.called,
                "started": self.started, "loop_returned": self.returned, "stopped": self.stopped,
                "py_spy_rc": rc, "py_spy_says": words, "cmd": self.cmd}) + "\n")
            if rc != 0 or not self.out.exists():
                print(f"profile: py-spy failed (rc={rc}): {' / '.join(words)}", file=sys.stderr)


def load_driver(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("oidc_load", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the driver from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["oidc_load"] = module
    spec.loader.exec_module(module)
    return module


def wrap(driver: Any, window: Window) -> None:
    aiohttp_loop = driver._load_loop
    autocannon_run = driver.run_simple_autocannon

    async def load_loop(unit, res, concurrency, warmup, duration, server_pids):  # type: ignore[no-untyped-def]
        window.called = time.time()
        timer = threading.Timer(warmup, window.start)  # a thread: Popen must not stall the event loop
        timer.start()
        try:
            await aiohttp_loop(unit, res, concurrency, warmup, duration, server_pids)
            window.returned = time.time()
        finally:
            timer.cancel()
            await asyncio.get_running_loop().run_in_executor(None, window.stop)

    def run_autocannon(spec, a, server_pids):  # type: ignore[no-untyped-def]
        window.called = time.time()
        timer = threading.Timer(a.warmup + AUTOCANNON_START, window.start)
        timer.start()
        try:
            result = autocannon_run(spec, a, server_pids)
            window.returned = time.time()
            return result
        finally:
            timer.cancel()
            window.stop()

    driver._load_loop = load_loop
    driver.run_simple_autocannon = run_autocannon


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", required=True, help="path of the peers' driver/oidc_load.py")
    ap.add_argument("--py-spy", required=True, help="path of the py-spy binary")
    ap.add_argument("--pid", type=int, required=True, help="the gunicorn master (its workers are followed)")
    ap.add_argument("--out", required=True, type=Path, help="collapsed-stack file to write")
    ap.add_argument("--rate", type=int, default=100, help="samples per second (py-spy's default, 100)")
    ap.add_argument("--py-spy-arg", action="append", default=[], help="one more py-spy record argument, e.g. --idle")
    ap.add_argument("driver_args", nargs=argparse.REMAINDER, help="-- then the driver's arguments")
    a = ap.parse_args(argv)
    rest = a.driver_args[1:] if a.driver_args[:1] == ["--"] else a.driver_args
    driver = load_driver(a.driver)
    window = Window(a.py_spy, a.pid, a.out, a.rate, a.py_spy_arg)
    wrap(driver, window)
    try:
        driver.main(rest)
    finally:
        window.stop()  # a driver that failed before or during its window leaves no py-spy behind


if __name__ == "__main__":
    main()
