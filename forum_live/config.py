"""Settings: one frozen object built from CLI flags and FORUM_* env, passed to create_app.

Everything that the contract calls "configurable" lives here, so tests can tighten a limit
without monkeypatching module globals.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping


@dataclass(frozen=True)
class Limits:
    """The limits of contract §5 plus the protections around the socket."""

    text_max: int = 2000  # characters of a chat line or minutes entry
    frame_max: int = 64 * 1024  # bytes of one client frame
    chat_rate: float = 5.0  # chat messages a second per participant (token refill)
    chat_burst: int = 10  # bucket size
    outbound_queue: int = 2000  # frames waiting for one connection before it is cut off
    send_timeout_s: float = 10.0  # one frame may take this long to leave before the cut
    presence_broadcast_max: int = 200  # from this many online, presence goes to moderators only
    presence_grace_s: float = 3.0  # a socket gone this long before "participant.left"
    question_max: int = 500  # characters of a Q&A question
    question_rate: float = 0.2  # questions a second per person (one every 5 s) ...
    question_burst: int = 3  # ... in bursts of 3
    vote_rate: float = 10.0  # votes (polls, questions) a second per person
    vote_burst: int = 20
    reaction_rate: float = 2.0  # reactions a second per person
    reaction_burst: int = 5
    reactions_interval_s: float = 1.0  # reactions of a room go out batched this often
    poll_text_max: int = 280  # characters of a free-text poll answer
    open_polls_max: int = 50
    results_interval_s: float = 0.25  # poll results go out at most this often per poll
    breakout_warning_s: float = 60.0  # the "one minute left" signal before rooms close
    hello_timeout_s: float = 10.0  # a socket must say hello within this time
    # keepalive of every socket (uvicorn's ws_ping_interval/ws_ping_timeout): a peer that
    # does not answer a ping within the timeout (a dead network, a half-sent frame) is closed
    ws_ping_interval_s: float = 20.0
    ws_ping_timeout_s: float = 20.0
    resume_window: int = 10000  # entries kept in memory for resume; older -> full state
    # an event nobody is connected to (and with no deadline pending) is unloaded after
    # this long; the next access reloads it from its snapshot plus the journal tail
    idle_unload_s: float = 300.0
    snapshot_every: int = 5000  # a loaded event also saves a snapshot every this many entries
    # cluster (FORUM_REDIS_URL, issue 14): an event's owner holds a lease this long in
    # PostgreSQL and renews it every third of it; a dead owner's events move after it ran out
    owner_lease_s: float = 10.0
    # a command forwarded to its event's owner node unanswered this long (and not applied,
    # by its receipt in PostgreSQL): `unavailable`
    forward_timeout_s: float = 8.0
    chat_history: int = 200  # chat lines per room in the ready state
    body_max: int = 256 * 1024  # bytes of an HTTP request body
    slides_max_bytes: int = 30 * 1024 * 1024  # bytes of one uploaded PDF of impulse slides
    slides_max_pages: int = 80  # pages of one PDF of slides
    slides_px: int = 1600  # pixels on the long side of a rendered slide
    token_max_age_s: int = 30 * 24 * 3600
    token_after_end_s: int = 30 * 24 * 3600  # tokens end this long after the event ended
    joins_per_event: int = 5000  # participants one event can register
    # POST /join per client IP: a whole office behind one address (60 people clicking the
    # link in the same minute) gets in at once; a flood is held to join_rate a second.
    join_rate: float = 3.0  # a second (token bucket refill) ...
    join_burst: int = 60  # ... in bursts of 60; over it 429 rate_limited with Retry-After
    sockets_per_participant: int = 5  # open sockets of one person; one more is refused
    anonymous_step: int = 5  # anonymous results change by >= this many ballots (or at close)
    # video at forum size (issue 15): the video tiles (slots) the server sends one viewer:
    # screen shares, the viewer's pinned cameras, the active speakers first
    video_tiles_max: int = 8
    media_quality_interval_s: float = 2.0  # per-person connection report to moderators



@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    recordings_dir: Path = Path("recordings")
    organizer_token: str | None = None
    public_url: str | None = None  # base of participant/moderator links, default http://host:port
    demo: bool = False  # create the demo forum at start (once) and print its links
    synchronous: str = "FULL"  # SQLite's synchronous pragma: FULL survives power loss too
    limits: Limits = field(default_factory=Limits)
    # -- media (issue 7) -- see forum_live/media and docs/protocol.md "Media"
    media_enabled: bool = True
    # STUN/TURN servers handed to browsers: ({"urls": ..., "username"?, "credential"?}, ...)
    ice_servers: tuple[dict[str, Any], ...] = ()
    # local addresses the server gathers and offers as ICE host candidates (loopback by default)
    media_ice_addresses: tuple[str, ...] = ("127.0.0.1",)
    # address written into the offered candidates instead, for a server behind NAT (1:1)
    media_announced_address: str | None = None
    media_mix_max: int = 5  # loudest speakers mixed per room
    # reverse proxies whose X-Forwarded-For/-Proto are believed (FORUM_TRUSTED_PROXIES,
    # comma-separated addresses or networks); none by default
    trusted_proxies: tuple[str, ...] = ()
    # the journal, event index and ballot box in PostgreSQL instead of SQLite (issue 14):
    # FORUM_DATABASE_URL / --database-url, postgresql://USER:PASS@HOST:PORT/DB
    database_url: str | None = None
    # the process joins a cluster of nodes on the same database (issue 14): FORUM_REDIS_URL /
    # --redis-url, redis://HOST:PORT/N; FORUM_NODE_ID names this node (default: generated)
    redis_url: str | None = None
    node_id: str | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "forum.db"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def with_limits(self, **changes: Any) -> "Settings":
        return replace(self, limits=replace(self.limits, **changes))


ENV_PREFIX = "FORUM_"


def settings_from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from FORUM_* variables; explicit overrides (CLI flags) win over env.

    Limits are settable as FORUM_LIMIT_<NAME>, e.g. FORUM_LIMIT_TEXT_MAX=500.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if "FORUM_HOST" in env:
        values["host"] = env["FORUM_HOST"]
    if "FORUM_PORT" in env:
        values["port"] = int(env["FORUM_PORT"])
    if "FORUM_DATA_DIR" in env:
        values["data_dir"] = Path(env["FORUM_DATA_DIR"])
    if "FORUM_RECORDINGS_DIR" in env:
        values["recordings_dir"] = Path(env["FORUM_RECORDINGS_DIR"])
    if env.get("FORUM_ORGANIZER_TOKEN"):
        values["organizer_token"] = env["FORUM_ORGANIZER_TOKEN"]
    if env.get("FORUM_PUBLIC_URL"):
        values["public_url"] = env["FORUM_PUBLIC_URL"]
    if env.get("FORUM_SYNCHRONOUS", "").upper() in ("FULL", "NORMAL"):
        # NORMAL still survives a crash of the process (kill -9), not a power loss
        values["synchronous"] = env["FORUM_SYNCHRONOUS"].upper()
    if env.get("FORUM_ICE_SERVERS"):  # JSON list, or comma-separated stun:/turn: URLs
        raw = env["FORUM_ICE_SERVERS"].strip()
        values["ice_servers"] = tuple(
            json.loads(raw) if raw.startswith("[")
            else [{"urls": u.strip()} for u in raw.split(",") if u.strip()])
    if env.get("FORUM_MEDIA_ICE_ADDRESSES"):
        values["media_ice_addresses"] = tuple(
            a.strip() for a in env["FORUM_MEDIA_ICE_ADDRESSES"].split(",") if a.strip())
    if env.get("FORUM_MEDIA_ANNOUNCED_ADDRESS"):
        values["media_announced_address"] = env["FORUM_MEDIA_ANNOUNCED_ADDRESS"]
    if env.get("FORUM_DATABASE_URL"):
        values["database_url"] = env["FORUM_DATABASE_URL"]
    if env.get("FORUM_REDIS_URL"):
        values["redis_url"] = env["FORUM_REDIS_URL"]
    if env.get("FORUM_NODE_ID"):
        values["node_id"] = env["FORUM_NODE_ID"]
    if env.get("FORUM_TRUSTED_PROXIES"):
        values["trusted_proxies"] = tuple(
            a.strip() for a in env["FORUM_TRUSTED_PROXIES"].split(",") if a.strip())
    if env.get("FORUM_MEDIA_ENABLED"):

        values["media_enabled"] = env["FORUM_MEDIA_ENABLED"].lower() not in ("0", "false", "no")
    limits: dict[str, Any] = {}
    for f in fields(Limits):
        given = env.get(f"{ENV_PREFIX}LIMIT_{f.name.upper()}")
        if given is not None:
            limits[f.name] = float(given) if f.type == "float" else int(float(given))
    values.update({k: v for k, v in overrides.items() if v is not None})
    s = Settings(**values)
    return replace(s, limits=replace(s.limits, **limits)) if limits else s
