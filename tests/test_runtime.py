"""The runtime of one event on the in-memory store, with a clock the test moves by hand:
deadlines fire without waiting in real time, and a refused write leaves no trace."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest

from forum_live.config import Limits
from forum_live.domain import setup
from forum_live.domain.breakouts import BreakoutsOpen
from forum_live.domain.chat import ChatSend
from forum_live.domain.commands import EventIn, JoinIn, TopicIn
from forum_live.domain.context import Context
from forum_live.domain.errors import Unavailable
from forum_live.domain.model import Role
from forum_live.live import EventRuntime
from forum_live.store.memory import MemoryStore
from forum_live.timesource import ManualTime

LIMITS = Limits(presence_grace_s=0)


async def until(pred: Callable[[], bool], turns: int = 2000) -> None:
    """Let the loop run until `pred` holds (the clock task reacts to the manual clock)."""
    for _ in range(turns):
        if pred():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def runtime(store: MemoryStore, clock: ManualTime) -> tuple[EventRuntime, dict[str, Any]]:
    await store.open()
    first = setup.create_event(
        Context(clock.now(), LIMITS),
        EventIn(title="Forum", topics=[TopicIn(title="Geodaten"), TopicIn(title="Mobilität")]))
    first.seq = 1
    await store.create_event({"id": "ev", "title": "Forum", "created_at": first.at,
                              "participant_key": "p", "moderator_key": "m"}, first)
    rt = await EventRuntime.load(store, "ev", LIMITS, time_source=clock)
    people = {}
    for name, role in (("Mia", Role.MODERATOR), ("Anna", Role.PARTICIPANT),
                       ("Bernd", Role.PARTICIPANT)):
        entries = await rt.write(lambda s, ctx, n=name, r=role: setup.register(
            s, ctx, JoinIn(name=n, key="k"), r))
        pid = entries[0].data["participant"]["id"]
        await rt.write(lambda s, ctx, pid=pid: setup.presence(s, ctx, pid, True))
        people[name] = pid
    return rt, people


async def test_a_breakout_round_ends_on_the_manual_clock_without_waiting() -> None:
    clock = ManualTime()
    rt, people = await runtime(MemoryStore(), clock)
    try:
        await rt.submit(people["Mia"], BreakoutsOpen(type="breakouts.open", assign="auto",
                                                     duration_s=20 * 60))
        assert rt.state.breakout is not None
        clock.advance(19 * 60 - 1)  # a second before the one-minute warning: nothing yet
        for _ in range(50):
            await asyncio.sleep(0)
        assert not [e for e in rt.recent if e.kind == "breakouts.warning"]
        clock.advance(2)
        await until(lambda: any(e.kind == "breakouts.warning" for e in rt.recent))
        clock.advance(60)
        await until(lambda: rt.state.breakout is None)
        closed = [e for e in rt.recent if e.kind == "breakouts.closed"]
        assert len(closed) == 1  # exactly once
        assert all(rt.state.room_of(p) == rt.state.plenary_room for p in people.values())
    finally:
        await rt.close_all(1001, "test over")


async def test_a_refused_write_rolls_the_state_back_to_the_journal() -> None:
    store, clock = MemoryStore(), ManualTime()
    rt, people = await runtime(store, clock)
    try:
        room = rt.state.plenary_room
        ok = await rt.submit(people["Anna"], ChatSend(type="chat.send", room=room, text="eins"))
        head = ok[-1].seq
        store.refuse = lambda event_id: event_id == "ev"
        with pytest.raises(Unavailable):
            await rt.submit(people["Anna"], ChatSend(type="chat.send", room=room, text="zwei"))
        await rt.serving()  # the state is folded anew from the journal
        assert rt.state.seq == rt.committed_seq == head
        assert [m.text for m in rt.state.chat[room]] == ["eins"] and rt.recoveries == 1
        store.refuse = lambda event_id: False
        again = await rt.submit(people["Anna"], ChatSend(type="chat.send", room=room,
                                                         text="drei"))
        assert again[-1].seq == head + 1
        assert [e.seq async for e in store.journal("ev")] == list(range(1, head + 2))
    finally:
        await rt.close_all(1001, "test over")
