#!/usr/bin/env python3
"""Start forum-live: `python run.py [--demo] [--host H] [--port P] [--data-dir D] ...`.

`python run.py export EVENT_ID --format md|html|pdf|docx|json [--out FILE] [--data-dir D]`
writes the minutes of one event without a server."""

from __future__ import annotations

import argparse
import gc
import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from forum_live.app import create_app
from forum_live.config import Settings, settings_from_env
from forum_live.transport import redact
from forum_live.transport.ws import keep_server_send


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py", description="forum-live server")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--recordings-dir", type=Path)
    p.add_argument("--database-url", help="postgresql://USER:PASS@HOST:PORT/DB: the journal "
                   "in PostgreSQL instead of SQLite (FORUM_DATABASE_URL)")
    p.add_argument("--redis-url", help="redis://HOST:PORT/N: join the cluster of every node "
                   "with the same database and Redis URLs (FORUM_REDIS_URL; needs --database-url)")
    p.add_argument("--node-id", help="this node's name in the cluster (FORUM_NODE_ID)")
    p.add_argument("--demo", action="store_true", help="create the demo forum once, print links")
    p.add_argument("--log-level", default="info")
    return p.parse_args(argv)


class Server(uvicorn.Server):
    """On SIGTERM/SIGINT close our sockets with 1001 and flush the journal before uvicorn
    tears connections down (it would close them with 1012)."""

    def __init__(self, config: uvicorn.Config, app) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config)
        self._app = app
        self._closing: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._closing is not None or self.should_exit:
            super().handle_exit(sig, frame)
            return
        forum = self._app.state.forum

        async def close_then_exit() -> None:
            try:
                await forum.close_sockets(1001)
                await forum.store.flush()
            finally:
                super(Server, self).handle_exit(sig, frame)

        self._closing = asyncio.get_event_loop().create_task(close_then_exit())

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # What exists once the server is up lives as long as the process: keep it out of
        # the collector's full passes, which otherwise stall fan-out for tens of ms once
        # a thousand sockets are connected (docs/performance.md).
        gc.collect()
        gc.freeze()


def serve(settings: Settings, log_level: str) -> None:
    app = create_app(settings)
    frame_room = max(4 * settings.limits.frame_max, 1 << 20)
    # X-Forwarded-For/-Proto only from FORUM_TRUSTED_PROXIES (default: from nobody, so a
    # visitor cannot pick their own address for the join limit)
    # ws="websockets-sansio": the fastest of uvicorn's three under fan-out, and the one
    # whose frames ws.frame_writer writes in one syscall per socket (docs/performance.md)
    config = uvicorn.Config(keep_server_send(app), host=settings.host, port=settings.port,
                            log_level=log_level, ws="websockets-sansio",
                            ws_max_size=frame_room, ws_per_message_deflate=False,
                            ws_ping_interval=settings.limits.ws_ping_interval_s,
                            ws_ping_timeout=settings.limits.ws_ping_timeout_s,
                            proxy_headers=bool(settings.trusted_proxies),
                            forwarded_allow_ips=list(settings.trusted_proxies),
                            lifespan="on", timeout_graceful_shutdown=5)
    redact.install()  # after uvicorn.Config set up its loggers
    server = Server(config, app)
    forum = app.state.forum
    print(f"forum-live on {settings.base_url}", flush=True)
    # The organizer token goes to the console once, when it was just made; never again
    # (a console is often a log).
    token_file = settings.data_dir / "organizer_token"
    if settings.organizer_token:
        print("organizer token: the one in FORUM_ORGANIZER_TOKEN", flush=True)
    elif getattr(forum.auth, "token_created", False):
        print(f"organizer token (shown once, kept in {token_file}): "
              f"{forum.auth.organizer_token}", flush=True)
    else:
        print(f"organizer token: in {token_file}", flush=True)
    print(f"organizer page:  {settings.base_url}/organizer", flush=True)
    # uvicorn re-raises the signal that stopped it once it has shut down, which would make
    # the ordinary, graceful stop look like a kill (exit -15); SIGTERM fully handled exits 0.
    signal.signal(signal.SIGTERM, lambda sig, frame: None)
    server.run()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["export"]:  # `run.py export EVENT_ID --format ...`: no server
        from forum_live.export.cli import main as export_main
        return export_main(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    settings = settings_from_env(host=args.host, port=args.port, data_dir=args.data_dir,
                                 recordings_dir=args.recordings_dir, demo=args.demo or None,
                                 database_url=args.database_url, redis_url=args.redis_url,
                                 node_id=args.node_id)
    serve(settings, args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
