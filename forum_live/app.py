"""create_app(settings) -> Starlette. Everything is built here and reached via app.state."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings, settings_from_env
from .domain.errors import DomainError
from .cluster import install as install_cluster, make_cluster
from .demo import ensure_demo
from .domain.features import Features, domain_features
from .forum import Forum
from .store import Store
from .store.sqlite import SqliteStore
from .transport import http
from .transport.auth import Auth
from .transport.errors import domain_error, http_error, internal_error
from .transport.i18n import catalog_endpoint
from .transport import ws as ws_module
from .transport.ws import SocketEndpoint

log = logging.getLogger("forum_live")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
     b"media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
     b"form-action 'self'; object-src 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"permissions-policy", b"camera=(self), microphone=(self), display-capture=(self)"),
]


class SecurityHeaders:
    """Adds the browser protections to every HTTP response (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _media_service(settings: Settings, forum: Forum):  # type: ignore[no-untyped-def]
    """Audio/video over WebRTC (forum_live/media); None when disabled or aiortc is missing."""
    if not settings.media_enabled:
        return None
    try:
        from .media.signaling import MediaService
    except ImportError:
        log.warning("aiortc is not installed: audio and video are off")
        return None
    return MediaService(settings, forum)


def build_features(media: bool = True) -> Features:
    """This app's feature set: the domain's capabilities, the socket's queries and, with
    media on, its signaling frames."""
    features = domain_features().install(ws_module)
    if media:
        try:
            from .media import signaling
        except ImportError:
            return features
        features.install(signaling)
    return features


def make_store(settings: Settings) -> Store:
    """PostgreSQL when a database URL is set (FORUM_DATABASE_URL), else SQLite in data_dir."""
    if settings.database_url:
        from .store.postgres import PostgresStore
        return PostgresStore(settings.database_url)
    return SqliteStore(settings.db_path, synchronous=settings.synchronous)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or settings_from_env()
    store = make_store(settings)
    auth = Auth(settings.data_dir, settings.organizer_token, settings.limits.token_max_age_s)
    forum = Forum(settings, store, auth)
    media = _media_service(settings, forum)
    forum.features = build_features(media is not None)
    cluster = make_cluster(forum)  # FORUM_REDIS_URL: one node of several (issue 14)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings.recordings_dir.mkdir(parents=True, exist_ok=True)
        await store.open()
        if cluster is not None:
            await cluster.start()
        if media is not None:
            await media.start()
        await forum.start()
        if settings.demo:
            links = await ensure_demo(forum)
            print(f"Demo forum: {links['title']}", flush=True)
            print(f"  participant link: {links['participant_url']}", flush=True)
            print(f"  moderator link:   {links['moderator_url']}", flush=True)
        try:
            yield
        finally:
            if media is not None:  # finalizes recordings while the journal is still open
                await media.close()
            await forum.close_sockets(1001)
            await store.flush()
            if cluster is not None:
                await cluster.close()
            await store.close()

    app = Starlette(
        routes=[
            *http.routes(),
            Route("/i18n/{lang}.json", catalog_endpoint),
            WebSocketRoute("/ws/events/{event_id}", SocketEndpoint()),
            Mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static"),
        ],
        exception_handlers={DomainError: domain_error, HTTPException: http_error,
                            Exception: internal_error},
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders)
    install_cluster(app, cluster)  # outermost: a forwarded answer has the owner's headers
    app.state.settings = settings
    app.state.forum = forum
    app.state.media = media
    app.state.cluster = cluster
    app.state.web_dir = WEB_DIR
    app.state.templates = Jinja2Templates(directory=WEB_DIR / "templates")
    return app
