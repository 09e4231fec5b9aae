"""A real PostgreSQL for the tests: `initdb` into a temp dir, started on a free loopback port
with its socket in that dir, stopped at the end of the session.

Skipped where PostgreSQL is not installed, but never in CI (CI=true): there it must run.
As root the server runs as the `postgres` user (or `nobody`): PostgreSQL refuses root.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import asyncpg
import pytest

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


USER = "forum"  # the database superuser initdb creates (trust auth on loopback only)


def bindir() -> Path | None:
    """Where initdb and pg_ctl are: PATH, else Debian's /usr/lib/postgresql/<major>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # Debian links some of them to /usr/bin
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not candidates:
        return None
    newest = max(candidates, key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit()
                 else 0)
    return Path(newest).parent


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    _names: Iterator[int] = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run([str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                              "-At", "-d", self.url(database), "-c", sql],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr}")
        return out.stdout

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        runuser = shutil.which("runuser") or next(
            (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), "runuser")
        return [runuser, "-u", user, "--"]
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


def start_postgres() -> PgServer:
    where = bindir()
    if where is None:
        raise FileNotFoundError("initdb not found (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="forum-pg-"))
    prefix = _as_server_user()
    if prefix:
        pw = pwd.getpwnam(prefix[2])
        os.chown(root, pw.pw_uid, pw.pw_gid)
    run = dict(cwd=root, capture_output=True, text=True, timeout=120, check=True)
    subprocess.run([*prefix, str(where / "initdb"), "-D", str(root / "data"), "-U", USER,
                    "--auth=trust", "-E", "UTF8", "--no-locale", "--no-instructions"], **run)
    port = free_port()
    opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on "
            "-c max_connections=200 -c shared_buffers=32MB")
    try:
        subprocess.run([*prefix, str(where / "pg_ctl"), "-D", str(root / "data"), "-l",
                        str(root / "log"), "-w", "-t", "60", "-o", opts, "start"], **run)
    except subprocess.CalledProcessError as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {exc.stderr}\n{log}") from None
    return PgServer(where, root, port)


async def sql(url: str, query: str, *args: Any) -> list[Any]:
    """The rows of one query on its own connection (what a test reads beside the store)."""
    con = await asyncpg.connect(url)
    try:
        return list(await con.fetch(query, *args))
    finally:
        await con.close()


def stop_postgres(server: PgServer) -> None:
    subprocess.run([*_as_server_user(), str(server.bindir / "pg_ctl"), "-D",
                    str(server.root / "data"), "-m", "immediate", "-w", "stop"],
                   cwd=server.root, capture_output=True, timeout=60)
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """One PostgreSQL for the session; tests take a fresh database with new_database()."""
    if bindir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have PostgreSQL (initdb) for the PostgreSQL store tests")
        pytest.skip("PostgreSQL is not installed here (no initdb)")
    server = start_postgres()
    try:
        yield server
    finally:
        stop_postgres(server)
