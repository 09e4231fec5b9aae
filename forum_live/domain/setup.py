"""Decisions outside the socket: creating an event, registering a participant."""

from __future__ import annotations


from .commands import EventIn, JoinIn
from .context import Context
from .entries import Audience, Entry
from .errors import Forbidden
from .model import EventState, Role, RoomKind, Standing


# Capabilities that react to someone coming online (e.g. late joiners placed in a room).


def create_event(ctx: Context, body: EventIn) -> Entry:
    """The first entry of every journal: the event with its topics and its plenary room."""
    topics = [
        {"id": ctx.make_id(), "title": t.title, "speaker": t.speaker, "description": t.description}
        for t in body.topics
    ]
    plenary = {"id": ctx.make_id(), "title": "Plenum", "kind": RoomKind.PLENARY.value,
               "topic": None, "capacity": None}
    event = {"title": body.title, "description": body.description, "starts_at": body.starts_at,
             "series": body.series, "topics": topics, "rooms": [plenary],
             "lobby": body.lobby, "lobby_note": body.lobby_note}
    return Entry("event.created", {"event": event}, ctx.at, audience=Audience.INTERNAL)


def register(state: EventState, ctx: Context, body: JoinIn, role: Role) -> list[Entry]:
    """A new person; with the waiting room on, participants start out waiting and the
    moderators are told (`lobby.waiting`)."""
    if len(state.participants) >= ctx.limits.joins_per_event:
        raise Forbidden("this event is full")
    pid = ctx.make_id()
    waiting = state.lobby and role is Role.PARTICIPANT
    standing = Standing.WAITING if waiting else Standing.ADMITTED
    participant = {"id": pid, "name": body.name, "organization": body.organization or None,
                   "role": role.value, "standing": standing.value}
    out = [Entry("participant.registered", {"participant": participant}, ctx.at,
                 audience=Audience.INTERNAL, actor=pid)]
    if waiting:
        public = {k: participant[k] for k in ("id", "name", "organization", "role")}
        out.append(Entry("lobby.waiting", {"participant": public}, ctx.at,
                         audience=Audience.MODERATORS, actor=pid))
    return out


def presence(state: EventState, ctx: Context, pid: str, online: bool) -> list[Entry]:
    """participant.joined / .left; leaving also takes a raised hand out of the queue."""
    p = state.participants[pid]
    if p.online == online or (online and not p.admitted):
        return []
    kind = "participant.joined" if online else "participant.left"
    # In a large audience, presence goes to the moderators only: otherwise every join is
    # sent to everyone, N² frames, and a big event's arrival floods every socket.
    crowd = state.online_count >= ctx.limits.presence_broadcast_max
    audience = Audience.MODERATORS if crowd and not p.is_moderator else Audience.EVENT
    out = [Entry(kind, {"participant": p.public(),
                        "online": state.online_count + (1 if online else -1)},
                 ctx.at, audience=audience, actor=pid)]
    if online:
        for hook in state.features.on_online:
            out += hook(state, ctx, pid)
    hand = state.hand_of(pid)
    if not online and hand is not None:
        out.append(Entry("hand.lowered", {"participant": pid, "reason": "left"}, ctx.at,
                         room=hand.room, audience=Audience.EVENT, actor=pid))
    return out


def end_event(state: EventState, ctx: Context, actor: str | None) -> list[Entry]:
    """Mark the event as ended: participants can no longer act; moderators can still
    correct the minutes, and every correction is journaled."""
    from .model import EventStatus
    if state.status is EventStatus.ENDED:
        return []
    return [Entry("event.ended", {"by": actor}, ctx.at, actor=actor)]
