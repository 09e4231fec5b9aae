"""MediaService: peers, room mixers, video routing and recorders of the whole server,
plus the signaling handlers on the event socket (docs/protocol.md, "Media").

Built in create_app (app.state.media), started and closed in the lifespan. It follows the
journal through each runtime's after_commit hooks: moves and closed breakouts re-route a
peer's audio and video to its new room on the next 20 ms tick, a participant who left
loses their peer, recording.started/stopped open and finalize the files.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Annotated, Any, Callable, Literal

from pydantic import Field, StringConstraints

from ..domain.commands import Command, register_command
from ..domain.context import Context
from ..domain.entries import Entry
from ..domain.errors import Forbidden, Invalid, NotFound
from ..domain.model import EventState
from ..protocol import encode
from ..domain.features import handler as register_handler
from . import aiortc_internals as internals
from .mixer import MixerClock, RoomMixer
from .peers import MediaPeer
from .recorder import RoomRecorder, recorded_length
from ..domain.media import (RecordingStop, listen_entries, media_state, speaking_entry,
                            stop_entries)

if TYPE_CHECKING:
    from ..config import Settings
    from ..forum import Forum
    from ..hub import Connection
    from ..live import EventRuntime

log = logging.getLogger(__name__)

Sdp = Annotated[str, StringConstraints(min_length=1, max_length=60000)]


@register_command
class MediaJoin(Command):
    type: Literal["media.join"]
    video: bool = True  # False: audio-only mode (no video slots)


@register_command
class MediaAnswer(Command):
    type: Literal["media.answer"]
    sdp: Sdp


@register_command
class MediaCandidate(Command):
    type: Literal["media.candidate"]
    candidate: dict[str, Any] | None = None


@register_command
class MediaPublish(Command):
    type: Literal["media.publish"]
    kind: Literal["camera", "screen"]
    active: bool = True


@register_command
class MediaLeave(Command):
    type: Literal["media.leave"]


@register_command
class MediaPin(Command):
    """The tiles a viewer pinned: the server keeps their cameras among the viewer's
    `video_tiles_max` slots (before the active speakers)."""
    type: Literal["media.pin"]
    participants: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
                            Field(max_length=16)] = []


@register_command
class BreakoutsListen(Command):
    """A moderator listens in on a room (its audio mix, listen-only, and its chat) without
    leaving the room they are in; `room: null` stops. The routing is not journaled (like
    media.join, where a mix goes is not a state of the event), but that a moderator
    listens is: `breakouts.listening` tells the room's members (domain/media.py)."""
    type: Literal["breakouts.listen"]
    room: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


# room-audience entries a listening moderator is sent (as `listen.entry`, direct frames)
LISTEN_KINDS = frozenset({"chat.message", "chat.deleted"})


_frozen = False


def freeze_heap() -> None:
    """Move what exists at start (modules, classes, the app: ~85,000 objects) out of the
    cyclic garbage collector's sight, once per process. A full collection then walks only
    what the event created: at 40 speakers it paused the loop, and with it the mixer, for
    68-78 ms (up to 115 ms on a busy machine); frozen, 11 ms (docs/performance.md)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


class MediaService:
    def __init__(self, settings: "Settings", forum: "Forum") -> None:
        self.settings = settings
        self.forum = forum
        self.peers: dict[tuple[str, str], MediaPeer] = {}
        self.mixers: dict[tuple[str, str], RoomMixer] = {}
        self.recorders: dict[str, tuple[str, RoomRecorder]] = {}
        self.speakers: dict[tuple[str, str], str | None] = {}  # active speaker per room
        self._last_speaking: dict[tuple[str, str], tuple[str, ...]] = {}
        self._refresh = 0
        # (event, room) -> who spoke, most recent first (the viewers' tiles follow them)
        self.recent: dict[tuple[str, str], list[str]] = {}
        # (event, pid) -> (audio packets received, lost, frames decoded) at the last report
        self._quality_seen: dict[tuple[str, str], tuple[int, int, int]] = {}
        # (event, moderator) -> the room listened to (kept across the person's reconnects,
        # ended by participant.left, the room closing, entering it, or breakouts.listen null);
        # the journal's `breakouts.listening` tells the room's members of each start and end
        self.listening: dict[tuple[str, str], str] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.clock = MixerClock(lambda: list(self.mixers.values()), self._speaking_tick)
        self.closed = False
        forum.on_runtime.append(self.attach_runtime)

    # -- life ----------------------------------------------------------------------------
    async def start(self) -> None:
        internals.check()
        freeze_heap()
        self.clock.start()
        self.spawn(self._quality_loop())

    async def close(self) -> None:
        """Finalize recordings (journaling their stop), close every peer. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.listening.clear()  # nobody hears another room from here on: the rooms are told
        for rt in list(self.forum.runtimes.values()):
            await self._write(rt, self._stops(lambda s, rec: True, "shutdown"))
            if media_state(rt.state).listening:
                await self._write(rt, self._unlistened(rt.id, "shutdown"))
        for peer in list(self.peers.values()):
            await self.close_peer(peer, "shutdown")
        for rec_id in list(self.recorders):
            self._stop_recorder(rec_id)
        await self.clock.stop()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _stops(self, which: Callable[[EventState, Any], bool], reason: str,
               video: bool = True, lengths: dict[str, float | None] | None = None
               ) -> Callable[[EventState, Context], list[Entry]]:
        """A decision: stop the active recordings that `which` picks (`lengths`: what a
        crash left on disk, by recording id)."""
        def decision(s: EventState, ctx: Context) -> list[Entry]:
            return [e for rec in list(media_state(s).recordings.values())
                    if rec.active and which(s, rec)
                    for e in stop_entries(s, ctx, rec.room, None, reason,
                                          **({"video": self._has_video(rec.id)}
                                             if video else {}),
                                          duration_s=(lengths or {}).get(rec.id))]
        return decision

    async def _write(self, rt: "EventRuntime",
                     decision: Callable[[EventState, Context], list[Entry]]) -> None:
        try:
            await rt.write(decision)
        except Exception as exc:
            log.warning("media: could not journal (%s)", exc)

    def attach_runtime(self, rt: "EventRuntime") -> None:
        rt.services["media"] = self
        rt.after_commit.append(self._on_commit)
        rt.on_detach.append(self._on_detach)
        # Recordings a crash left open: the files end where the process died, and their
        # length is what is on disk (not the time until this restart).
        open_ = [rec for rec in media_state(rt.state).recordings.values() if rec.active]
        if open_:
            lengths = {rec.id: recorded_length(self.settings.recordings_dir / rec.file)
                       for rec in open_}
            self.spawn(self._write(rt, self._stops(lambda s, rec: True, "interrupted",
                                                   video=False, lengths=lengths)))
        # Listening the journal still shows but nobody routes (a crash, another node that
        # owned the event): the rooms are told it ended.
        if media_state(rt.state).listening:
            self.spawn(self._write(rt, self._unlistened(rt.id, "interrupted")))

    # -- queries -------------------------------------------------------------------------
    def ice_servers(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.settings.ice_servers]

    def is_muted(self, event_id: str, pid: str) -> bool:
        rt = self.forum.runtimes.get(event_id)
        return bool(rt and pid in media_state(rt.state).muted)

    def mixer(self, event_id: str, room: str) -> RoomMixer:
        m = self.mixers.get((event_id, room))
        if m is None:
            m = self.mixers[(event_id, room)] = RoomMixer(room, self.settings.media_mix_max)
        return m

    def speaking_time(self, event_id: str) -> dict[str, float]:
        """Seconds each participant spoke: journaled plus what the mixers counted since."""
        rt = self.forum.runtimes.get(event_id)
        out = dict(media_state(rt.state).speaking_s) if rt else {}
        for (ev, pid), peer in self.peers.items():
            if ev == event_id:
                out[pid] = out.get(pid, 0.0) + peer.audio_in.speaking_s
        return out

    def stats(self) -> dict[str, Any]:
        return {"peers": len(self.peers), "rooms": len(self.mixers),
                "ticks": self.clock.ticks, "underruns": self.clock.underruns,
                "skipped": self.clock.skipped, "caught_up": self.clock.caught_up,
                "max_late_ms": round(self.clock.max_late_ms, 1),
                "recordings": len(self.recorders)}

    # -- peers ---------------------------------------------------------------------------
    async def join(self, rt: "EventRuntime", conn: "Connection", cmd: MediaJoin) -> dict[str, Any]:
        if not self.settings.media_enabled or self.closed:
            raise Forbidden("media is not enabled on this server")
        old = self.peers.get((rt.id, conn.pid))
        if old is not None:
            if old.conn is not conn:
                old.push({"type": "media.closed", "reason": "replaced"})
            await self.close_peer(old, "replaced")
        room = rt.state.room_of(conn.pid)
        slots = self.settings.limits.video_tiles_max if cmd.video else 0
        peer = MediaPeer(self, rt.id, conn.pid, conn, room, slots)
        self.peers[(rt.id, conn.pid)] = peer
        self._place(peer)
        peer.spawn(self._negotiate(peer))
        rec = media_state(rt.state).active_recording(room)
        return {"ice_servers": self.ice_servers(), "slots": slots,
                "recording": rec.id if rec else None}

    async def _negotiate(self, peer: MediaPeer) -> None:
        try:
            await peer.negotiate()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("media negotiation failed")
            peer.push({"type": "media.closed", "reason": "failed"})
            self.spawn(self.close_peer(peer, "failed"))
            return
        self.relayout(peer.event_id, peer.room)

    def peer(self, rt: "EventRuntime", conn: "Connection") -> MediaPeer:
        peer = self.peers.get((rt.id, conn.pid))
        if peer is None or peer.closed or peer.conn is not conn:
            raise Invalid("join media first (media.join)")
        return peer

    async def close_peer(self, peer: MediaPeer, reason: str) -> None:
        key = (peer.event_id, peer.pid)
        if self.peers.get(key) is peer:
            del self.peers[key]
        if peer.closed:
            return
        self._unplace(peer)
        spoke = peer.audio_in.speaking_s
        peer.audio_in.speaking_s = 0.0
        await peer.close()
        self.relayout(peer.event_id, peer.room)
        rt = self.forum.runtimes.get(peer.event_id)
        if rt is not None and spoke:
            pid = peer.pid
            await self._write(rt, lambda s, ctx: speaking_entry(s, ctx, {pid: spoke}))

    def _hears(self, peer: MediaPeer) -> str:
        """The room whose mix this peer hears: the one listened to, else its own."""
        return self.listening.get((peer.event_id, peer.pid), peer.room)

    def _place(self, peer: MediaPeer) -> None:
        m = self.mixer(peer.event_id, peer.room)
        m.inputs[peer.pid] = peer.audio_in
        # a listener's output sits in the other room's mixer: not one of its inputs, so it
        # gets the shared mix of that room (listen-only), at no extra encode
        peer.hears = self._hears(peer)
        self.mixer(peer.event_id, peer.hears).outputs[peer.pid] = peer.mix

    def _unplace(self, peer: MediaPeer) -> None:
        for room in {peer.room, peer.hears}:
            key = (peer.event_id, room)
            m = self.mixers.get(key)
            if m is None:
                continue
            if m.inputs.get(peer.pid) is peer.audio_in:
                del m.inputs[peer.pid]
            if m.outputs.get(peer.pid) is peer.mix:
                del m.outputs[peer.pid]
            if m.empty:
                del self.mixers[key]

    def reconcile(self, rt: "EventRuntime") -> None:
        """Put every peer of the event into the mix of the room the journal says."""
        changed = set()
        for (ev, pid), peer in list(self.peers.items()):
            if ev != rt.id or peer.closed:
                continue
            room = rt.state.room_of(pid)
            if room != peer.room or self._hears(peer) != peer.hears:
                self._unplace(peer)
                changed |= {peer.room, room}
                peer.room = room
                self._place(peer)
        for room in changed:
            self.relayout(rt.id, room)

    # -- video routing -------------------------------------------------------------------
    def relayout(self, event_id: str, room: str) -> None:
        """Each viewer's slots (at most `video_tiles_max`): screen shares, the cameras the
        viewer pinned, the active speaker, then whoever spoke most recently, then the other
        cameras; a source that stays wanted keeps its slot (no needless switches)."""
        peers = [p for (ev, _), p in self.peers.items()
                 if ev == event_id and p.room == room and not p.closed]
        speaker = self.speakers.get((event_id, room))
        recent = {pid: i for i, pid in enumerate(self.recent.get((event_id, room), ()))}
        sources = [p.sources[k] for k in ("screen", "camera") for p in peers
                   if p.sources[k].published]
        sources.sort(key=lambda s: (s.kind != "screen", s.pid != speaker,
                                    recent.get(s.pid, len(recent))))
        for viewer in peers:
            if not viewer.slots:
                continue
            pinned = viewer.pinned
            mine = sorted((s for s in sources if s.pid != viewer.pid),
                          key=lambda s: (s.kind != "screen", s.pid not in pinned))
            wanted = mine[: len(viewer.slots)]
            assign = [sl.source if sl.source in wanted else None for sl in viewer.slots]
            rest = [s for s in wanted if s not in assign]
            for i, cur in enumerate(assign):
                if cur is None and rest:
                    assign[i] = rest.pop(0)
            for slot, src in zip(viewer.slots, assign):
                slot.switch(src)
            layout = [{"mid": tr.mid, "participant": src.pid if src else None,
                       "kind": src.kind if src else None}
                      for tr, src in zip(viewer.slot_trs, assign)]
            if layout != viewer.layout_sent and viewer.pc.remoteDescription is not None:
                viewer.layout_sent = layout
                viewer.push({"type": "media.layout", "room": room, "slots": layout,
                             "speaker": speaker})
        for _, rec in self.recorders.values():
            if rec.room == room and rec.video.source is None and not rec.video.closed \
                    and sources:
                rec.video.attach(sources[0])

    async def publish(self, rt: "EventRuntime", conn: "Connection",
                      cmd: MediaPublish) -> dict[str, Any]:
        peer = self.peer(rt, conn)
        src = peer.sources[cmd.kind]
        src.published = cmd.active
        if not cmd.active:
            src.close()
            for _, rec in self.recorders.values():
                if rec.video.source is src:
                    rec.video.detach(src)
        self.relayout(rt.id, peer.room)
        return {}

    def _speaking_tick(self) -> None:
        self._refresh += 1
        for (event_id, room), m in list(self.mixers.items()):
            now = tuple(sorted(m.speaking))
            key = (event_id, room)
            before = self._last_speaking.get(key, ())
            if now == before and not (now and self._refresh % 4 == 0):
                continue
            self._last_speaking[key] = now
            rt = self.forum.runtimes.get(event_id)
            if rt is None:
                continue
            frame = encode({"type": "media.speaking", "room": room, "speakers": list(now),
                            "levels": {p: round(v, 2) for p, v in m.speaking.items()}})
            for conn in rt.hub.connections:
                if conn.room == room and conn.live:
                    conn.push(frame)
            loudest = max(m.speaking, key=m.speaking.__getitem__) if m.speaking else None
            order = self.recent.setdefault(key, [])
            top = set(order[: self.settings.limits.video_tiles_max])
            for pid in sorted(m.speaking, key=m.speaking.__getitem__):
                if pid in order:
                    order.remove(pid)
                order.insert(0, pid)
            del order[64:]
            moved = set(order[: self.settings.limits.video_tiles_max]) != top
            if loudest is not None and loudest != self.speakers.get(key):
                self.speakers[key] = loudest
                moved = True
            if moved:
                self.relayout(event_id, room)

    async def pin(self, rt: "EventRuntime", conn: "Connection", cmd: MediaPin
                  ) -> dict[str, Any]:
        peer = self.peer(rt, conn)
        peer.pinned = [p for p in dict.fromkeys(cmd.participants) if p != peer.pid]
        self.relayout(rt.id, peer.room)
        return {"pinned": peer.pinned}

    # -- connection quality (moderators) --------------------------------------------------
    async def _quality_loop(self) -> None:
        every = self.settings.limits.media_quality_interval_s
        while True:
            await asyncio.sleep(every)
            try:
                await self.publish_quality()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media: connection quality report failed")

    async def quality(self, peer: MediaPeer) -> dict[str, Any]:
        """One person's connection since the last report, from the server's
        RTCPeerConnection stats: the share of their microphone's packets lost on the way
        in, whether any audio arrived at all, and what their browser reports of ours."""
        key = (peer.event_id, peer.pid)
        received = lost = 0
        for st in (await peer.audio_tr.receiver.getStats()).values():
            if st.type == "inbound-rtp":
                received += st.packetsReceived
                lost += max(0, st.packetsLost)
        out: dict[str, Any] = {}
        for st in (await peer.audio_tr.sender.getStats()).values():
            if st.type == "remote-inbound-rtp":  # fields stay None until an RTCP report came
                if st.roundTripTime is not None:
                    out["rtt_ms"] = round(st.roundTripTime * 1000)
                if st.fractionLost is not None:
                    out["loss_out"] = round(st.fractionLost, 3)
        frames = peer.audio_in.received
        r0, l0, f0 = self._quality_seen.get(key, (0, 0, 0))
        self._quality_seen[key] = (received, lost, frames)
        dr, dl = received - r0, lost - l0
        out["loss"] = round(dl / (dr + dl), 3) if dr + dl > 0 else 0.0
        out["audio"] = frames > f0
        out["connected"] = peer.pc.connectionState == "connected"
        return out

    async def publish_quality(self) -> None:
        """`media.quality` to every moderator of each event with peers (direct, not
        journaled): {participant: {loss, audio, connected, rtt_ms?, loss_out?}}."""
        by_event: dict[str, dict[str, Any]] = {}
        for (ev, pid), peer in list(self.peers.items()):
            if peer.closed or peer.pc.remoteDescription is None:
                continue
            try:
                by_event.setdefault(ev, {})[pid] = await self.quality(peer)
            except Exception:  # one peer's stats must not silence the others'
                log.exception("media: stats of one peer failed")
        for key in [k for k in self._quality_seen if k not in self.peers]:
            del self._quality_seen[key]
        for ev, people in by_event.items():
            rt = self.forum.runtimes.get(ev)
            if rt is None:
                continue
            frame = encode({"type": "media.quality", "peers": people})
            for pid in rt.state.moderators:
                for conn in rt.hub.of(pid):
                    if conn.live:
                        conn.push(frame)

    # -- listening in (moderators) -------------------------------------------------------
    async def listen(self, rt: "EventRuntime", conn: "Connection",
                     cmd: BreakoutsListen) -> dict[str, Any]:
        me = rt.state.participants.get(conn.pid)
        if me is None or not me.is_moderator:
            raise Forbidden("only moderators listen in on a room")
        pid, key = conn.pid, (rt.id, conn.pid)
        if cmd.room is None:
            if self.listening.pop(key, None) is not None:
                self.reconcile(rt)  # the audio first, then the room is told
            await rt.write(lambda s, ctx: listen_entries(s, ctx, pid, None))
            return {"room": None}
        want = cmd.room

        def decision(s: EventState, ctx: Context) -> list[Entry]:
            room = s.rooms.get(want)
            if room is None or not room.open:
                raise NotFound(f"no open room {want!r}")
            if room.id == s.room_of(pid):
                raise Invalid("room: you are in this room already")
            return listen_entries(s, ctx, pid, room.id)

        # the room's members are told (committed) before its mix reaches the moderator
        await rt.write(decision)
        self.listening[key] = want
        self.reconcile(rt)
        self._forward_listened(rt, [])  # the room closed or they left meanwhile: it ends
        return {"room": want, "chat": [m.public() for m in rt.state.chat.get(want, ())]}

    def _unlistened(self, event_id: str, reason: str,
                    only: tuple[str, str] | None = None
                    ) -> Callable[[EventState, Context], list[Entry]]:
        """A decision: the listening the journal shows ends (`only`: that moderator's on
        that room, if it still does), unless this service still routes it."""
        def decision(s: EventState, ctx: Context) -> list[Entry]:
            return [e for pid, room in list(media_state(s).listening.items())
                    if (only is None or only == (pid, room))
                    and self.listening.get((event_id, pid)) != room
                    for e in listen_entries(s, ctx, pid, None, reason)]
        return decision

    def _stop_listening(self, rt: "EventRuntime", key: tuple[str, str], reason: str) -> None:
        """From the journal's hooks: the routing ends now, the room is told in a write of
        its own; the moderator's sockets hear why (but not of their own going)."""
        room = self.listening.pop(key, None)
        if room is None:
            return
        if reason != "left":
            frame = encode({"type": "listen.stopped", "room": room, "reason": reason})
            for conn in rt.hub.of(key[1]):
                conn.push(frame)
        self.reconcile(rt)
        self.spawn(self._write(rt, self._unlistened(rt.id, reason, (key[1], room))))

    def _forward_listened(self, rt: "EventRuntime", entries: list[Entry]) -> None:
        """Chat of a listened room to its listeners, as direct frames (no seq)."""
        state = rt.state
        for (ev, pid), room in list(self.listening.items()):
            if ev != rt.id:
                continue
            me = state.participants.get(pid)
            if me is None or not me.online:
                self._stop_listening(rt, (ev, pid), "left")  # gone (participant.left)
                continue
            if not me.is_moderator:
                self._stop_listening(rt, (ev, pid), "role")
                continue
            if not state.rooms.get(room) or not state.rooms[room].open:
                self._stop_listening(rt, (ev, pid), "closed")
                continue
            if state.room_of(pid) == room:  # went there: hears and reads it anyway
                self._stop_listening(rt, (ev, pid), "entered")
                continue
            for e in entries:
                if e.room == room and e.kind in LISTEN_KINDS:
                    body = {"type": e.kind, "seq": e.seq, "at": e.at, "room": e.room,
                            **e.data}
                    frame = encode({"type": "listen.entry", "room": room, "entry": body})
                    for conn in rt.hub.of(pid):
                        if conn.live:
                            conn.push(frame)

    # -- recordings ----------------------------------------------------------------------
    def _start_recorder(self, rt: "EventRuntime", e: Entry) -> None:
        d = e.data
        if d["id"] in self.recorders:
            return
        base = self.settings.recordings_dir
        try:
            rec = RoomRecorder(d["id"], d["room"], base / d["file"], base / d["video_file"])
        except Exception:
            log.exception("could not open recording files for %s", d["file"])
            return
        self.recorders[d["id"]] = (rt.id, rec)
        self.mixer(rt.id, d["room"]).recorders.append(rec)
        self.relayout(rt.id, d["room"])

    def _has_video(self, rec_id: str) -> bool | None:
        item = self.recorders.get(rec_id)
        return item[1].video.frames > 0 if item else None

    def _stop_recorder(self, rec_id: str) -> None:
        item = self.recorders.pop(rec_id, None)
        if item is None:
            return
        event_id, rec = item
        m = self.mixers.get((event_id, rec.room))
        if m is not None and rec in m.recorders:
            m.recorders.remove(rec)
            if m.empty:
                del self.mixers[(event_id, rec.room)]
        rec.close()

    async def stop_recording(self, rt: "EventRuntime", conn: "Connection",
                             cmd: RecordingStop) -> dict[str, Any]:
        me = rt.state.participants.get(conn.pid)
        if me is None or not me.is_moderator:
            raise Forbidden("only moderators record")
        room = cmd.room or rt.state.room_of(conn.pid)
        rec = media_state(rt.state).active_recording(room)
        if rec is None:
            raise Invalid("room: this room is not being recorded")
        video = self._has_video(rec.id)
        entries = await rt.write(lambda s, ctx: stop_entries(s, ctx, room, me.id, video=video))
        return {"seq": entries[-1].seq, "duration_s": entries[-1].data["duration_s"]}

    # -- the journal ---------------------------------------------------------------------
    def _on_commit(self, rt: "EventRuntime", entries: list[Entry]) -> None:
        if self.closed and not any(e.kind == "recording.stopped" for e in entries):
            return
        reroute = False
        for e in entries:
            k = e.kind
            if k == "media.muted":
                peer = self.peers.get((rt.id, e.data["participant"]))
                if peer is not None:
                    peer.audio_in.muted = bool(e.data.get("muted", True))
            elif k in ("participant.moved", "breakouts.closed", "breakouts.opened",
                       "breakouts.room_closed"):
                reroute = True
            elif k == "participant.left":
                peer = self.peers.get((rt.id, e.data["participant"]["id"]))
                if peer is not None:
                    self.spawn(self.close_peer(peer, "left"))
            elif k == "recording.started":
                self._start_recorder(rt, e)
            elif k == "recording.stopped":
                self._stop_recorder(e.data["id"])
            if k in ("breakouts.closed", "breakouts.room_closed", "event.ended"):
                ended = k == "event.ended"
                self.spawn(self._write(rt, self._stops(
                    lambda s, rec: ended or not s.rooms[rec.room].open,
                    "event_ended" if ended else "room_closed")))
        if self.listening:
            self._forward_listened(rt, entries)
        if reroute:
            self.reconcile(rt)

    def _on_detach(self, rt: "EventRuntime", conn: "Connection") -> None:
        peer = self.peers.get((rt.id, conn.pid))
        if peer is not None and peer.conn is conn:
            self.spawn(self.close_peer(peer, "socket_closed"))


def _service(rt: Any) -> MediaService:
    svc = rt.services.get("media")
    if svc is None:
        raise Forbidden("media is not enabled on this server")
    return svc  # type: ignore[no-any-return]


@register_handler(MediaJoin)
async def _join(rt: Any, conn: "Connection", cmd: Command) -> dict[str, Any]:
    return await _service(rt).join(rt, conn, cmd)  # type: ignore[arg-type]


@register_handler(MediaAnswer)
async def _answer(rt: Any, conn: "Connection", cmd: Command) -> dict[str, Any]:
    _service(rt).peer(rt, conn).answer(cmd.sdp)  # type: ignore[attr-defined]
    return {}


@register_handler(MediaCandidate)
async def _candidate(rt: Any, conn: "Connection", cmd: Command) -> dict[str, Any]:
    await _service(rt).peer(rt, conn).add_candidate(cmd.candidate)  # type: ignore[attr-defined]
    return {}


@register_handler(MediaPublish)
async def _publish(rt: Any, conn: "Connection", cmd: Command) -> dict[str, Any]:
    return await _service(rt).publish(rt, conn, cmd)  # type: ignore[arg-type]


@register_handler(MediaLeave)
async def _leave(rt: Any, conn: "Connection", cmd: Command) -> dict[str, Any]:
    svc = _service(rt)
    peer = svc.peers.get((rt.id, conn.pid))
    if peer is not None and peer.conn is conn:
        await svc.close_peer(peer, "left")
    return {}


@register_handler(MediaPin)
async def _pin(rt: Any, conn: "Connection", cmd: Command) -> dict[str, Any]:
    return await _service(rt).pin(rt, conn, cmd)  # type: ignore[arg-type]


@register_handler(BreakoutsListen)
async def _listen(rt: Any, conn: "Connection", cmd: Command) -> dict[str, Any]:
    return await _service(rt).listen(rt, conn, cmd)  # type: ignore[arg-type]


@register_handler(RecordingStop)
async def _recording_stop(rt: Any, conn: "Connection", cmd: Command) -> dict[str, Any]:
    return await _service(rt).stop_recording(rt, conn, cmd)  # type: ignore[arg-type]
