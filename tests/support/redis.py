"""A real Redis for the cluster tests: `redis-server` on a free loopback port, no
persistence, stopped at the end of the session. Skipped where it is not installed, but
never in CI (CI=true): there it must run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.pg import free_port


@dataclass
class RedisServer:
    port: int
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    _next_db: int = 0
    last_url: str = ""  # the URL new_url() handed out last

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def new_url(self) -> str:
        """A database number of its own for one test (16 of them; then reused, flushed)."""
        db, self._next_db = self._next_db % 16, self._next_db + 1
        subprocess.run(["redis-cli", "-p", str(self.port), "-n", str(db), "FLUSHDB"],
                       capture_output=True, timeout=10)
        self.last_url = self.url(db)
        return self.last_url

    def start(self) -> None:
        log = open(self.root / "redis.log", "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.root)],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have redis-server for the cluster tests")
        pytest.skip("redis-server is not installed here")
    server = RedisServer(free_port(), Path(tempfile.mkdtemp(prefix="forum-redis-")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
