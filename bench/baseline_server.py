#!/usr/bin/env python3
"""The fan-out baseline: the least a Starlette broadcast server can do.

One WebSocket route that accepts anyone and rebroadcasts every received text frame to all
connected sockets (the sender included). No auth, no storage, no queues. Served by uvicorn
with the same options as run.py, so the difference to forum-live is forum-live itself.

    python bench/baseline_server.py --port 8765 [--host 127.0.0.1] [--log-level warning]
                                    [--announce] [--ws websockets-sansio]

`--announce`: every new connection is announced to all connected sockets with a small
frame (the counterpart of forum-live's `participant.joined` in a room of 200). `--ws`:
uvicorn's WebSocket implementation (default: the one run.py uses).
"""

from __future__ import annotations

import argparse
import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

FRAME_MAX = 64 * 1024  # forum-live's default Limits.frame_max, for the same ws_max_size
WS_IMPL = "websockets-sansio"  # run.py's choice of uvicorn's WebSocket implementation (config `ws`)

clients: set[WebSocket] = set()
ANNOUNCE = False


async def broadcast(ws: WebSocket) -> None:
    await ws.accept()
    if ANNOUNCE:
        hello = json.dumps({"type": "joined", "n": len(clients) + 1})
        for c in list(clients):
            try:
                await c.send_text(hello)
            except Exception:
                clients.discard(c)
    clients.add(ws)
    try:
        while True:
            text = await ws.receive_text()
            for c in list(clients):
                try:
                    await c.send_text(text)
                except Exception:
                    clients.discard(c)
    except WebSocketDisconnect:
        pass
    finally:
        clients.discard(ws)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "clients": len(clients)})


app = Starlette(routes=[Route("/healthz", healthz), WebSocketRoute("/ws", broadcast)])


def main(argv: list[str] | None = None) -> int:
    global ANNOUNCE
    p = argparse.ArgumentParser(prog="baseline_server.py")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--log-level", default="warning")
    p.add_argument("--announce", action="store_true", help="announce each new connection")
    p.add_argument("--ws", default=WS_IMPL, help="uvicorn's ws implementation")
    args = p.parse_args(argv)
    ANNOUNCE = args.announce
    # exactly the uvicorn options of run.py's serve()
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            ws_max_size=max(4 * FRAME_MAX, 1 << 20),
                            ws_per_message_deflate=False, lifespan="on", ws=args.ws,
                            timeout_graceful_shutdown=5)
    print(f"baseline on http://{args.host}:{args.port}", flush=True)
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
