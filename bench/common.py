"""Shared pieces of the benchmarks: the server subprocess, CPU/memory readings from /proc,
a small HTTP/1.1 client, a lean WebSocket client protocol, joining forum-live, percentiles
and the result table. Used by fanout.py, breakouts.py and votes.py.

Everything talks to 127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Coroutine, Generic, Iterable, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.process import rss_kib  # noqa: E402,F401  (shared with the soak test)
HOST = "127.0.0.1"
ORGANIZER_TOKEN = "bench-organizer-" + secrets.token_urlsafe(12)
CLK_TCK = os.sysconf("SC_CLK_TCK")
now = time.perf_counter  # CLOCK_MONOTONIC


# -- processes ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def raise_nofile(n: int) -> None:
    """Allow `n` open files in this process (clients) if the hard limit permits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n)), hard))


def cpu_s(pid: int) -> float:
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields_ = f.read().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / CLK_TCK


def runq_wait_s(pid: int) -> float:
    """How long the main thread of `pid` (a server's event loop) was runnable but waited
    for a CPU, in seconds (/proc/PID/schedstat; 0 where the kernel does not keep it)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def busy_s() -> float:
    """CPU seconds spent by everything on this machine (all CPUs, not idle, not iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class CpuMeter:
    """Server, client and everything-else CPU over one phase, in % of one core, and how
    long the server's event loop waited for a CPU: the machine is shared, so a run
    disturbed by other processes says so."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.t0, self.c0, self.s0, self.b0 = now(), time.process_time(), cpu_s(server_pid), \
            busy_s()
        self.w0 = runq_wait_s(server_pid)

    def stop(self, wall: float | None = None) -> dict[str, float]:
        wall = wall if wall is not None else now() - self.t0
        c, s, b = time.process_time() - self.c0, cpu_s(self.pid) - self.s0, busy_s() - self.b0
        pct_ = (lambda x: 100 * x / wall) if wall > 0 else (lambda x: 0.0)
        return {"server_cpu_pct": pct_(s), "client_cpu_pct": pct_(c),
                "other_cpu_pct": pct_(max(0.0, b - s - c)), "server_cpu_s": s,
                "client_cpu_s": c, "server_runq_wait_s": runq_wait_s(self.pid) - self.w0}


@dataclass
class ServerProc:
    name: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, **self.env}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = now() + timeout
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                conn = HttpConn()
                await conn.open(self.port)
                status, _ = await conn.request("GET", "/healthz")
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not come up: {self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def forum_server(tmpd: Path, env: dict[str, str]) -> ServerProc:
    """forum-live (`run.py`) on a free port with a fresh data dir under `tmpd`; `env` is
    added to the environment (organizer token, raised FORUM_LIMIT_*)."""
    port = free_port()
    return ServerProc("forum-live", [sys.executable, "run.py", "--port", str(port),
                                     "--data-dir", str(tmpd / "data"),
                                     "--recordings-dir", str(tmpd / "rec"),
                                     "--log-level", "warning"],
                      {"FORUM_ORGANIZER_TOKEN": ORGANIZER_TOKEN,
                       # the benches join hundreds from 127.0.0.1: no per-IP join limit
                       "FORUM_LIMIT_JOIN_RATE": "1000000", "FORUM_LIMIT_JOIN_BURST": "1000000",
                       **env}, port,
                      tmpd / "forum.log")


# -- a small HTTP/1.1 keep-alive client ------------------------------------------------------
class HttpConn:
    async def open(self, port: int) -> None:
        self.port = port
        self.reader, self.writer = await asyncio.open_connection(HOST, port)

    async def request(self, method: str, path: str, body: Any = None,
                      headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}",
                f"Content-Length: {len(data)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 30)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.strip().lower(): v.strip() for k, _, v in
                (ln.partition(":") for ln in lines[1:] if ln)}
        if "content-length" in hdrs:
            payload = await self.reader.readexactly(int(hdrs["content-length"]))
        else:  # chunked (not used by JSONResponse, kept for safety)
            payload = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                payload += chunk[:-2]
        return status, (json.loads(payload) if payload else None)

    def close(self) -> None:
        self.writer.close()


async def create_event(port: int, title: str, topics: list[str]) -> dict[str, Any]:
    """POST /api/events as the organizer; the 201 body (id, keys, plenary_room, topics)."""
    conn = HttpConn()
    await conn.open(port)
    try:
        status, body = await conn.request(
            "POST", "/api/events", {"title": title, "topics": [{"title": t} for t in topics]},
            {"Authorization": f"Bearer {ORGANIZER_TOKEN}"})
    finally:
        conn.close()
    if status != 201:
        raise RuntimeError(f"create event: {status} {body}")
    return body  # type: ignore[no-any-return]


# -- a lean WebSocket client ---------------------------------------------------------------
class WSClient(asyncio.Protocol):
    """RFC 6455 over an asyncio protocol: upgrade, unmasked server frames parsed by hand,
    masked client frames, pong on ping. Subclasses look at text frames in `on_text`
    (a few microseconds per frame: look at bytes, parse JSON only when needed)."""

    def __init__(self, path: str, port: int) -> None:
        self.path = path
        self.port = port
        self.buf = bytearray()
        self.upgraded = False
        self.loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.ready: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None
        self.frag = bytearray()
        self.lost: asyncio.Future[None] = self.loop.create_future()

    # hooks -------------------------------------------------------------------------------
    def on_text(self, payload: bytes, t: float) -> None:
        """A text frame `payload` arrived at `t` (now()). Default: resolve `ready`."""
        self.check_ready(payload)

    def on_close(self, payload: bytes) -> None:
        """The server sent a close frame (status code + reason in `payload`)."""

    def check_ready(self, payload: bytes) -> bool:
        if self.ready is not None and not self.ready.done() and \
                payload.startswith(b'{"type":"ready"'):
            self.ready.set_result(payload)
            return True
        return False

    # transport ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n")
        transport.write(req.encode())  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        for fut in (self.opened, self.ready):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError("socket closed"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(bytes(buf[:200]).decode("latin-1")))
                self.transport.close()  # type: ignore[union-attr]
                return
            del buf[:end + 4]
            self.upgraded = True
            self.opened.set_result(None)
        t = now()  # everything in this read arrived together
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            ln = b1 & 0x7F
            off = pos + 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2:pos + 4], "big")
                off = pos + 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2:pos + 10], "big")
                off = pos + 10
            if b1 & 0x80:  # servers never mask; refuse to guess
                raise ConnectionError("masked server frame")
            if n - off < ln:
                break
            payload = bytes(buf[off:off + ln])
            pos = off + ln
            op = b0 & 0x0F
            if not b0 & 0x80:  # fragment (not sent by uvicorn; handled anyway)
                self.frag += payload
                continue
            if op == 0:
                payload, self.frag = bytes(self.frag + payload), bytearray()
                op = 1
            if op == 1:
                self.on_text(payload, t)
            elif op == 9:
                self._send(0xA, payload)
            elif op == 8:
                self.on_close(payload)
                self._send(0x8, payload[:2])
                self.transport.close()  # type: ignore[union-attr]
        if pos:
            del buf[:pos]

    def _send(self, op: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | op, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | op, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | op, 0x80 | 127)) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        m = int.from_bytes((mask * (n // 4 + 1))[:n], "big") if n else 0
        body = (int.from_bytes(payload, "big") ^ m).to_bytes(n, "big") if n else b""
        self.transport.write(head + mask + body)  # type: ignore[union-attr]

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            try:
                self._send(0x8, (1000).to_bytes(2, "big"))
            except Exception:
                pass
            self.transport.close()


class Counts:
    """What every benchmark's clients count into, whatever else they look for: text frames,
    when the last one arrived (for settle()), error frames and closes by the server (for
    problems())."""

    def __init__(self) -> None:
        self.frames = 0
        self.t_last = 0.0
        self.errors: list[bytes] = []
        self.closed = 0


class CountingClient(WSClient):
    """A client of a benchmark that counts into shared Counts `tr` (a subclass of it with the
    benchmark's own bookkeeping); a close by the server is counted and kept as an error."""

    def __init__(self, tr: Any, path: str, port: int) -> None:
        super().__init__(path, port)
        self.tr = tr

    def on_close(self, payload: bytes) -> None:
        self.tr.closed += 1
        self.tr.errors.append(b"close " + payload[:120])


W = TypeVar("W", bound=WSClient)


async def ws_connect(port: int, factory: Callable[[], W]) -> W:
    """Open a socket with the protocol `factory()` makes and wait for the upgrade."""
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(factory, HOST, port)
    await asyncio.wait_for(proto.opened, 30)
    return proto  # type: ignore[return-value]


async def join_forum(http: HttpConn, port: int, event_id: str, key: str, name: str,
                     factory: Callable[[str], W], timeout: float = 60.0,
                     http_times: list[float] | None = None) -> tuple[W, dict[str, Any], bytes]:
    """One person into forum-live: POST /join on the keep-alive `http`, open the socket
    with `factory(path)`, `hello`, wait for `ready`. Returns (client, join body, ready);
    the duration of the HTTP join is appended to `http_times` if given."""
    t0 = now()
    status, body = await http.request("POST", f"/api/events/{event_id}/join",
                                      {"name": name, "key": key})
    if status != 200:
        raise RuntimeError(f"join {name}: {status} {body}")
    if http_times is not None:
        http_times.append(now() - t0)
    path = f"/ws/events/{event_id}"
    c = await ws_connect(port, lambda: factory(path))
    c.ready = asyncio.get_running_loop().create_future()
    c.send_text(json.dumps({"type": "hello", "token": body["token"]}))
    ready = await asyncio.wait_for(c.ready, timeout)
    return c, body, ready


async def join_many(port: int, event_id: str, key: str, n: int, concurrency: int,
                    factory: Callable[[int, str], W], timeout: float,
                    name: str = "Teilnehmer {i:04d}") -> list[tuple[W, dict[str, Any]]]:
    """`n` people joined by `concurrency` workers (one keep-alive HTTP connection each);
    `factory(i, path)` makes person i's protocol. Returns [(client, join body)] by i."""
    out: list[Any] = [None] * n
    nxt = iter(range(n))

    async def worker() -> None:
        http = HttpConn()
        await http.open(port)
        try:
            for i in nxt:
                c, body, _ = await join_forum(http, port, event_id, key, name.format(i=i),
                                              lambda path, i=i: factory(i, path))
                out[i] = (c, body)
        finally:
            http.close()

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(min(concurrency, n)))),
                           timeout)
    return out


@dataclass
class Crowd(Generic[W]):
    """What crowd() set up: the server, the event, its moderator and its participants."""

    server: ServerProc
    event: dict[str, Any] = field(default_factory=dict)
    mod: W | None = None
    mod_body: dict[str, Any] = field(default_factory=dict)  # the moderator's join answer
    joined: list[tuple[W, dict[str, Any]]] = field(default_factory=list)  # (client, answer)
    join: dict[str, Any] = field(default_factory=dict)  # the join phase's figures

    @property
    def clients(self) -> list[W]:
        return [c for c, _ in self.joined]


@asynccontextmanager
async def crowd(args: Any, env: dict[str, str], prefix: str, title: str, topics: list[str],
                factory: Callable[[str, int, bool], W], last_frame: Callable[[], float]
                ) -> AsyncIterator[Crowd[W]]:
    """forum-live in a fresh temp dir (`env` added), an event, its moderator "Moderation"
    and `args.participants` participants (`args.join_concurrency` at a time, within
    `args.timeout`) joined with `factory(path, port, moderator)`; the join phase metered
    (join_all_s, the CpuMeter's figures) and waited out until the presence frames settled
    (settle_s). Afterwards every client is closed and the server stopped."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        srv = forum_server(Path(tmp), env)
        await srv.start()
        c: Crowd[W] = Crowd(srv)
        try:
            port = srv.port
            c.event = ev = await create_event(port, title, topics)
            http = HttpConn()
            await http.open(port)
            c.mod, c.mod_body, _ = await join_forum(http, port, ev["id"], ev["moderator_key"],
                                                    "Moderation", lambda p: factory(p, port, True))
            http.close()
            meter = CpuMeter(srv.pid)
            t0 = now()
            c.joined = await join_many(port, ev["id"], ev["participant_key"], args.participants,
                                       args.join_concurrency,
                                       lambda i, p: factory(p, port, False), args.timeout)
            c.join = {"join_all_s": now() - t0, **meter.stop()}
            c.join["settle_s"] = await settle(last_frame)
            yield c
        finally:
            await stop_all(c.clients + ([c.mod] if c.mod else []), srv)


async def settle(last_frame: Callable[[], float], quiet: float = 0.5,
                 limit: float = 60.0) -> float:
    """Wait until no frame has arrived for `quiet` seconds (`last_frame()` is the now() of
    the latest one); return how long after the call the last frame came."""
    t0 = now()
    while now() - t0 < limit and now() - max(last_frame(), t0) < quiet:
        await asyncio.sleep(0.02)
    return max(0.0, last_frame() - t0)


# -- report ------------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def md_table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Markdown table with padded columns."""
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def install_uvloop() -> None:
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass


def run_crowd(run: Callable[[Any], Coroutine[Any, Any, dict[str, Any]]],
              args: Any) -> dict[str, Any]:
    """`run(args)` on uvloop with room for two sockets per `args.participants` (their
    clients here, the server's ends): a crowd benchmark's results."""
    install_uvloop()
    raise_nofile(2 * args.participants + 256)
    return asyncio.run(run(args))


def print_json(out: dict[str, Any]) -> int:
    """--json: the results as JSON; the exit status."""
    print(json.dumps(out, indent=2, default=str))
    return 0


def problems(errors: list[bytes], closed: int) -> dict[str, Any]:
    """What went wrong at the clients: the first error frames, their count, and how many
    sockets the server closed."""
    return {"errors": [e.decode("utf-8", "replace") for e in errors[:5]],
            "error_count": len(errors), "closed_by_server": closed}


async def stop_all(clients: Iterable[Any], server: Any) -> None:
    """Close every client (a little time for the closes to leave), then stop the server."""
    for c in clients:
        if c is not None:
            c.close()
    await asyncio.sleep(0.2)
    server.stop()


def warn_disturbed(other_pct: float, used: str) -> None:
    """Warn when other processes took more than a quarter of a core while measuring
    (`used`: how much, and when)."""
    if other_pct > 25:
        print(f"WARNING: other processes used {used}; the figures are disturbed, run again "
              "on a quiet machine")


def print_problems(out: dict[str, Any]) -> None:
    """Say so when clients saw error frames or the server closed sockets."""
    if out["error_count"] or out["closed_by_server"]:
        print(f"{out['error_count']} error frames, {out['closed_by_server']} closed by the "
              f"server, e.g. {out['errors'][:2]}")
