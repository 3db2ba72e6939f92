"""The API in a real server process (granian) on 127.0.0.1, for the kill -9 tests.

Why a real process: a laptop killed in the middle of a sync talks to a server that keeps running
on its own — an in-process TestClient would die with it. The server uses the test database and
the test process's secrets folder (same master key), so both sides read the same sealed records.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """``with LiveServer(database_url) as server: server.url`` — stopped (and its workers) on exit."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.database_url = database_url
        self.log_path = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveServer:
        env = {
            **os.environ,
            "CPTS_DATABASE_URL": self.database_url,
            "CPTS_SECRETS_DIR": os.environ["CPTS_SECRETS_DIR"],
            "PYTHONPATH": str(PROJECT),
        }
        command = [
            str(Path(sys.executable).with_name("granian")),
            "--interface",
            "asgi",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            "cpts_app.api.app:build_api",
        ]
        with self.log_path.open("ab") as log:
            # Its own process group: stopping it also stops granian's worker process.
            self.process = subprocess.Popen(
                command, cwd=PROJECT, env=env, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"le serveur s'est arrêté : {self.log_path.read_text(errors='replace')}")
            with contextlib.suppress(httpx.HTTPError):  # not listening yet: try again below
                if httpx.get(f"{self.url}/api/sync/heure", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"le serveur n'a pas démarré : {self.log_path.read_text(errors='replace')}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
