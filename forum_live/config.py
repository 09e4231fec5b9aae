"""Settings: one frozen object built from CLI flags and FORUM_* env, passed to create_app.

Everything that the contract calls "configurable" lives here, so tests can tighten a limit
without monkeypatching module globals.
"""

from __future__ import annotations

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
    presence_grace_s: float = 3.0  # a socket gone this long before "participant.left"
    poll_text_max: int = 280  # characters of a free-text poll answer
    open_polls_max: int = 50
    results_interval_s: float = 0.25  # poll results go out at most this often per poll
    breakout_warning_s: float = 60.0  # the "one minute left" signal before rooms close
    hello_timeout_s: float = 10.0  # a socket must say hello within this time
    resume_window: int = 10000  # entries kept in memory for resume; older -> full state
    chat_history: int = 200  # chat lines per room in the ready state
    body_max: int = 256 * 1024  # bytes of an HTTP request body
    token_max_age_s: int = 30 * 24 * 3600
    joins_per_event: int = 5000  # participants one event can register


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
    limits: dict[str, Any] = {}
    for f in fields(Limits):
        raw = env.get(f"{ENV_PREFIX}LIMIT_{f.name.upper()}")
        if raw is not None:
            limits[f.name] = float(raw) if f.type == "float" else int(float(raw))
    values.update({k: v for k, v in overrides.items() if v is not None})
    s = Settings(**values)
    return replace(s, limits=replace(s.limits, **limits)) if limits else s
