"""A real `intake serve` process on free loopback ports, for tests that talk to it as its users would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import SERVICE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    def __init__(self, folder: Path, **env: str) -> None:
        self.folder = folder
        self.smtp_port, self.http_port = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        self.env.update(
            INTAKE_DATABASE_URL=f"sqlite:///{folder}/intake.db",
            INTAKE_SERVICE_ADDRESSES=SERVICE,
            INTAKE_OUTBOX_DIR=str(folder / "outbox"),
            INTAKE_SMTP_LISTEN=f"127.0.0.1:{self.smtp_port}",
            INTAKE_HTTP_LISTEN=f"127.0.0.1:{self.http_port}",
            INTAKE_SCHEDULER_INTERVAL_S="0.2",
            INTAKE_PLAN_INTERVAL_S="0.2",
        )
        self.env.update(env)
        self.log_path = folder / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def database_url(self) -> str:
        return self.env["INTAKE_DATABASE_URL"]

    def start(self, timeout_s: float = 30) -> ServeProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline", "serve"], cwd=self.folder, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1)
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"serve did not answer /healthz in {timeout_s}s: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.stop()


def wait_for(predicate, timeout_s: float = 10, interval_s: float = 0.05):
    """Poll until predicate() is truthy; return its value or raise AssertionError."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(interval_s)
