#!/usr/bin/env python3
"""The limit of the stack: a websockets server using websockets' own `broadcast()`.

One WebSocket endpoint (any path) that accepts anyone and rebroadcasts every received text
frame to all connected sockets (the sender included) with `websockets.broadcast()`, which
frames the message and writes it straight to each transport: no task per connection, no
queue, no ASGI. `GET /healthz` answers `{"status": "ok"}`. Same frame size limit and no
per-message deflate, like run.py. On uvloop, like uvicorn's default loop.

    python bench/ws_broadcast_server.py --port 8766 [--host 127.0.0.1] [--announce]

`--announce`: every new connection is announced to all connected sockets with a small
frame (the counterpart of forum-live's `participant.joined` in a room of 200).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

FRAME_MAX = 64 * 1024  # forum-live's default Limits.frame_max, for the same max_size

clients: set[ServerConnection] = set()
ANNOUNCE = False


def healthz(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return connection.respond(HTTPStatus.OK, json.dumps({"status": "ok",
                                                             "clients": len(clients)}))
    return None


async def handler(ws: ServerConnection) -> None:
    if ANNOUNCE:
        broadcast(clients, json.dumps({"type": "joined", "n": len(clients) + 1}))
    clients.add(ws)
    try:
        async for message in ws:
            if isinstance(message, str):
                broadcast(clients, message)
    except Exception:
        pass
    finally:
        clients.discard(ws)


async def amain(host: str, port: int) -> None:
    kw: dict[str, Any] = {"max_size": max(4 * FRAME_MAX, 1 << 20), "compression": None,
                          "process_request": healthz}
    async with serve(handler, host, port, **kw) as server:
        print(f"websockets broadcast on ws://{host}:{port}", flush=True)
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    global ANNOUNCE
    p = argparse.ArgumentParser(prog="ws_broadcast_server.py")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--announce", action="store_true")
    p.add_argument("--log-level", default="warning")  # accepted for symmetry, unused
    args = p.parse_args(argv)
    ANNOUNCE = args.announce
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(amain(args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
