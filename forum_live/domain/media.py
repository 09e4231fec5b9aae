"""The journaled side of media, pure like the rest of the domain: microphone mutes,
recordings (start/stop per room) and who listens in on a room, their fold and their part
of the ready state.

Imported by forum_live.domain, so the export CLI folds these entries without aiortc.
Media state hangs off EventState as `state.media` (created on first use), so the core
model needs no field for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .commands import Command, Id, register_command
from .context import Context
from .decide import register_decider
from .entries import Audience, Entry
from .errors import Conflict, Forbidden, Invalid, NotFound
from .model import EventState, Participant, register_apply
from .features import state_part


@dataclass
class Recording:
    id: str
    room: str
    file: str  # relative to the recordings dir: <event>/<room>/<start>.ogg
    video_file: str  # the same stem, .webm (exists when a video stream was recorded)
    started_at: str
    started_by: str | None = None
    stopped_at: str | None = None
    duration_s: float | None = None
    video: bool | None = None

    @property
    def active(self) -> bool:
        return self.stopped_at is None

    def public(self, s: EventState) -> dict[str, Any]:
        room = s.rooms.get(self.room)
        return {"id": self.id, "room": self.room, "room_title": room.title if room else None,
                "title": f"{room.title if room else self.room} {self.started_at[:16]}",
                "file": self.file, "video_file": self.video_file if self.video else None,
                "started_at": self.started_at, "stopped_at": self.stopped_at,
                "duration_s": self.duration_s, "active": self.active}


@dataclass
class MediaState:
    muted: set[str] = field(default_factory=set)
    recordings: dict[str, Recording] = field(default_factory=dict)
    speaking_s: dict[str, float] = field(default_factory=dict)
    listening: dict[str, str] = field(default_factory=dict)  # moderator -> room listened to

    def active_recording(self, room: str) -> Recording | None:
        return next((r for r in self.recordings.values() if r.room == room and r.active), None)


def media_state(s: EventState) -> MediaState:
    m = s.__dict__.get("media")
    if m is None:
        m = s.__dict__["media"] = MediaState()
    return m


# -- commands -----------------------------------------------------------------------------
@register_command
class MediaMute(Command):
    """Mute (or unmute) your microphone; moderators may mute (not unmute) others."""
    type: Literal["media.mute"]
    muted: bool
    participant: Id | None = None


@register_command
class MediaMuteAll(Command):
    """Moderators: mute everyone in your room except `keep` (the speaker) and yourself."""
    type: Literal["media.mute_all"]
    keep: Id | None = None


@register_command
class RecordingStart(Command):
    type: Literal["recording.start"]
    room: Id | None = None


@register_command
class RecordingStop(Command):
    type: Literal["recording.stop"]
    room: Id | None = None


def _muted(pid: str, by: str, muted: bool, at: str) -> Entry:
    return Entry("media.muted", {"participant": pid, "by": by, "muted": muted}, at,
                 audience=Audience.EVENT, actor=by)


@register_decider(MediaMute)
def media_mute(s: EventState, ctx: Context, me: Participant, cmd: MediaMute) -> list[Entry]:
    target = cmd.participant or me.id
    if target not in s.participants:
        raise NotFound("participant: no such participant")
    if target != me.id:
        if not me.is_moderator:
            raise Forbidden("only moderators mute others")
        if not cmd.muted:
            raise Forbidden("only the person themself unmutes their microphone")
    elif not cmd.muted and me.id in media_state(s).muted:
        from .mic import may_unmute  # mic builds on this module
        if not may_unmute(s, me):
            raise Forbidden("the microphones are locked: raise your hand, or a moderator "
                            "asks you to unmute")
    m = media_state(s)
    if (target in m.muted) == cmd.muted:
        return []
    return [_muted(target, me.id, cmd.muted, ctx.at)]


@register_decider(MediaMuteAll)
def media_mute_all(s: EventState, ctx: Context, me: Participant,
                   cmd: MediaMuteAll) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators mute everyone")
    room = s.room_of(me.id)
    m = media_state(s)
    return [_muted(p.id, me.id, True, ctx.at) for p in s.online()
            if s.room_of(p.id) == room and p.id not in (me.id, cmd.keep)
            and p.id not in m.muted]


def recording_file(event: str, room: str, at: str) -> str:
    stamp = datetime.fromisoformat(at.replace("Z", "+00:00")).strftime("%Y%m%dT%H%M%SZ")
    return f"{event}/{room}/{stamp}"


@register_decider(RecordingStart)
def recording_start(s: EventState, ctx: Context, me: Participant,
                    cmd: RecordingStart) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators record")
    room = cmd.room or s.room_of(me.id)
    r = s.rooms.get(room)
    if r is None or not r.open:
        raise NotFound("room: no such open room")
    if media_state(s).active_recording(room) is not None:
        raise Conflict("this room is already being recorded")
    stem = recording_file(s.id, room, ctx.at)
    return [Entry("recording.started", {"room": room, "id": ctx.make_id(),
                                        "file": f"{stem}.ogg", "video_file": f"{stem}.webm",
                                        "by": me.id}, ctx.at, room=room,
                  audience=Audience.ROOM, actor=me.id)]


def stop_entries(s: EventState, ctx: Context, room: str, by: str | None,
                 reason: str = "stopped", video: bool | None = None,
                 duration_s: float | None = None) -> list[Entry]:
    """`duration_s`: the length actually on disk (a recording a crash cut short), instead
    of the time since the start."""
    rec = media_state(s).active_recording(room)
    if rec is None:
        return []
    start = datetime.fromisoformat(rec.started_at.replace("Z", "+00:00"))
    duration = duration_s if duration_s is not None else round(
        (ctx.now - start).total_seconds(), 1)
    data: dict[str, Any] = {"room": room, "id": rec.id, "duration_s": max(0.0, duration),
                            "reason": reason, "by": by}
    if video is not None:
        data["video"] = video
    return [Entry("recording.stopped", data, ctx.at, room=room, audience=Audience.ROOM,
                  actor=by)]


@register_decider(RecordingStop)
def recording_stop(s: EventState, ctx: Context, me: Participant,
                   cmd: RecordingStop) -> list[Entry]:
    if not me.is_moderator:
        raise Forbidden("only moderators record")
    room = cmd.room or s.room_of(me.id)
    entries = stop_entries(s, ctx, room, me.id)
    if not entries:
        raise Invalid("room: this room is not being recorded")
    return entries


def speaking_entry(s: EventState, ctx: Context, seconds: dict[str, float]) -> list[Entry]:
    """Speaking time measured by the mixer since the last such entry (internal)."""
    data = {pid: round(v, 1) for pid, v in seconds.items() if v >= 0.1 and pid in s.participants}
    if not data:
        return []
    return [Entry("media.spoke", {"seconds": data}, ctx.at, audience=Audience.INTERNAL)]


def listen_entries(s: EventState, ctx: Context, pid: str, room: str | None,
                   reason: str = "stopped") -> list[Entry]:
    """Moderator `pid` now listens in on `room` (None: on no room). Where they are heard
    is routing of the media service; that they listen is told to the room's members
    (`breakouts.listening`, audience room), so a late joiner, a resume and the ready
    state show it too. `reason` says why an earlier listening ended: "stopped" (they
    stopped it), "switched" (another room), "closed", "entered", "left", "role",
    "interrupted" (the server restarted), "shutdown"."""
    before = media_state(s).listening.get(pid)
    if before == room:
        return []
    p = s.participants.get(pid)
    name = p.name if p else ""
    if room is not None:
        reason = "switched"
    out = []
    if before is not None:
        out.append(Entry("breakouts.listening",
                         {"room": before, "participant": pid, "name": name, "listening": False,
                          "reason": reason},
                         ctx.at, room=before, audience=Audience.ROOM,
                         actor=pid if reason in ("stopped", "switched") else None))
    if room is not None:
        out.append(Entry("breakouts.listening",
                         {"room": room, "participant": pid, "name": name, "listening": True},
                         ctx.at, room=room, audience=Audience.ROOM, actor=pid))
    return out


# -- the fold -----------------------------------------------------------------------------
@register_apply("media.muted")
def _apply_muted(s: EventState, e: Entry) -> None:
    m = media_state(s)
    if e.data.get("muted", True):
        m.muted.add(e.data["participant"])
    else:
        m.muted.discard(e.data["participant"])


@register_apply("recording.started")
def _apply_started(s: EventState, e: Entry) -> None:
    d = e.data
    media_state(s).recordings[d["id"]] = Recording(
        d["id"], d["room"], d["file"], d.get("video_file", d["file"][:-4] + ".webm"), e.at,
        d.get("by"))


@register_apply("recording.stopped")
def _apply_stopped(s: EventState, e: Entry) -> None:
    rec = media_state(s).recordings.get(e.data["id"])
    if rec is not None and rec.active:
        rec.stopped_at = e.at
        rec.duration_s = e.data.get("duration_s")
        rec.video = e.data.get("video")


@register_apply("media.spoke")
def _apply_spoke(s: EventState, e: Entry) -> None:
    acc = media_state(s).speaking_s
    for pid, v in e.data["seconds"].items():
        acc[pid] = acc.get(pid, 0.0) + float(v)


@register_apply("breakouts.listening")
def _apply_listening(s: EventState, e: Entry) -> None:
    listening = media_state(s).listening
    pid = e.data["participant"]
    if e.data.get("listening"):
        listening[pid] = e.data["room"]
    elif listening.get(pid) == e.data["room"]:
        del listening[pid]


# -- views --------------------------------------------------------------------------------
def listeners(s: EventState, room: str) -> list[dict[str, Any]]:
    """Who listens in on `room` now: the moderators the journal says, online (one who
    is gone hears nothing, whatever a lost stop entry left behind)."""
    out = []
    for pid, heard in media_state(s).listening.items():
        p = s.participants.get(pid)
        if heard == room and p is not None and p.online:
            out.append({"participant": pid, "name": p.name})
    return sorted(out, key=lambda x: x["name"])


def recordings_public(s: EventState) -> list[dict[str, Any]]:
    return [r.public(s) for r in media_state(s).recordings.values()]


def offset(rec: dict[str, Any], at: str) -> str | None:
    """"00:12:34" into recording `rec` for a moment `at`, or None when outside it."""
    a = datetime.fromisoformat(rec["started_at"].replace("Z", "+00:00"))
    b = datetime.fromisoformat(at.replace("Z", "+00:00"))
    secs = (b - a).total_seconds()
    end = rec.get("duration_s")
    if secs < 0 or (rec.get("stopped_at") and end is not None and secs > end + 1):
        return None
    secs = int(secs)
    return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


_part_recordings = state_part("recordings")(lambda s, pid: recordings_public(s))
_part_muted = state_part("muted")(lambda s, pid: sorted(media_state(s).muted))
# the listeners of my room only: like the room's chat, nobody else learns of them
_part_listening = state_part("listening")(lambda s, pid: listeners(s, s.room_of(pid)))
