"""run.py as a real subprocess on 127.0.0.1, for crash (kill -9) and shutdown tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.live import ORGANIZER, OnLoopback, free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServerProcess(OnLoopback):
    proc: subprocess.Popen[str]
    port: int
    log: Path

    async def healthy(self, tries: int, pause: float, timeout: float = 1.0) -> bool:
        """Whether /healthz answers 200 within `tries` polls `pause` s apart (no longer
        once the process has exited)."""
        async with httpx.AsyncClient(base_url=self.base, timeout=timeout) as c:
            for _ in range(tries):
                if self.proc.poll() is not None:
                    return False
                try:
                    if (await c.get("/healthz")).status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(pause)
        return False

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


async def spawn(data_dir: Path, *args: str, port: int | None = None,
                env: dict[str, str] | None = None) -> ServerProcess:
    """Start run.py and wait until /healthz answers."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"server-{port}.log"
    full_env = {**os.environ, "FORUM_ORGANIZER_TOKEN": ORGANIZER,
                "FORUM_LIMIT_PRESENCE_GRACE_S": "0", "FORUM_LIMIT_JOIN_RATE": "1000000",
                "FORUM_LIMIT_JOIN_BURST": "1000000", **(env or {})}
    out = open(log, "a", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "--port", str(port), "--data-dir", str(data_dir),
         "--recordings-dir", str(data_dir / "rec"), "--log-level", "warning", *args],
        cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT, text=True)
    out.close()
    sp = ServerProcess(proc, port, log)
    if await sp.healthy(300, 0.05):
        return sp
    if proc.poll() is not None:
        raise RuntimeError(f"server exited: {sp.output()}")
    proc.kill()
    raise RuntimeError(f"server did not start: {sp.output()}")


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")
