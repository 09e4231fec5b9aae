"""Microphone moderation over the socket: a moderator mutes one person or everyone but the
speaker, and asks one person to unmute; the request reaches that person (and the
moderators), nobody else; participants can do none of it, and nobody unmutes another.
Locked microphones: everyone but moderators and the speaker is muted, and only whoever has
the floor or was asked unmutes, until the moderator frees them; `ready` carries the lock."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from tests.support.live import Client, LiveServer, create_event, join

People = tuple[dict[str, Any], dict[str, str], list[Client]]


@pytest.fixture
async def people(server: LiveServer) -> AsyncIterator[People]:
    """An event with the moderator Mona and Anna, Bernd and Carla, each connected: the
    event, their participant ids by name, and their clients in that order."""
    ids: dict[str, str] = {}
    clients: list[Client] = []
    async with server.http() as http:
        event = await create_event(http)
        for name, mod in (("Mona", True), ("Anna", False), ("Bernd", False), ("Carla", False)):
            j = await join(http, event, name, moderator=mod)
            ids[name] = j["participant"]["id"]
            clients.append(await Client.connect(server, event["id"], j["token"]))
    try:
        yield event, ids, clients
    finally:
        for c in clients:
            await c.close()


async def test_mute_others_mute_all_and_ask_to_unmute(people: People) -> None:
    _, ids, (mona, anna, bernd, carla) = people
    # A moderator mutes Anna; everyone learns it; only Anna may switch it on again.
    assert (await mona.request("media.mute", participant=ids["Anna"], muted=True))["type"] == "ok"
    muted = await bernd.wait_for(lambda e: e["type"] == "media.muted")
    assert (muted["participant"], muted["muted"], muted["by"]) == (ids["Anna"], True, ids["Mona"])
    r = await mona.request("media.mute", participant=ids["Anna"], muted=False)
    assert r["type"] == "error" and r["code"] == "forbidden"
    r = await bernd.request("media.mute", participant=ids["Carla"], muted=True)
    assert r["type"] == "error" and r["code"] == "forbidden"

    # Asked to unmute: Anna hears it (with who asks), Bernd does not; Anna unmutes herself.
    assert (await mona.request("media.ask_unmute", participant=ids["Anna"]))["type"] == "ok"
    asked = await anna.wait_for(lambda e: e["type"] == "media.unmute_asked")
    assert (asked["participant"], asked["by"], asked["name"]) == (ids["Anna"], ids["Mona"], "Mona")
    assert (await anna.request("media.mute", muted=False))["type"] == "ok"
    await bernd.wait_for(lambda e: e["type"] == "media.muted" and not e["muted"])
    assert not bernd.of("media.unmute_asked")
    assert not carla.of("media.unmute_asked")
    r = await bernd.request("media.ask_unmute", participant=ids["Carla"])
    assert r["type"] == "error" and r["code"] == "forbidden"
    r = await mona.request("media.ask_unmute", participant="nobody")
    assert r["type"] == "error" and r["code"] == "not_found"

    # Everyone but the speaker (and the moderator) muted at once.
    assert (await mona.request("media.mute_all", keep=ids["Bernd"]))["type"] == "ok"
    await carla.wait_for(lambda e: e["type"] == "media.muted" and e["participant"] == ids["Carla"])
    state = (await mona.request("state.sync"))["state"]
    assert set(state["muted"]) == {ids["Anna"], ids["Carla"]}


async def test_locked_microphones(people: People) -> None:
    event, ids, (mona, anna, bernd, carla) = people
    r = await anna.request("media.lock", locked=True)
    assert r["type"] == "error" and r["code"] == "forbidden"
    assert (await mona.request("media.lock", locked=True))["type"] == "ok"
    locked = await anna.wait_for(lambda e: e["type"] == "media.locked")
    assert locked["locked"] is True and locked["room"] == event["plenary_room"]
    state = (await anna.request("state.sync"))["state"]
    assert state["mic"] == {"locked": True, "allowed": False}
    assert set(state["muted"]) == {ids["Anna"], ids["Bernd"], ids["Carla"]}

    # Nobody unmutes on their own now ...
    for c in (anna, bernd, carla):
        r = await c.request("media.mute", muted=False)
        assert r["type"] == "error" and r["code"] == "forbidden", r
    # ... but whoever is asked, and whoever has the floor, does; the moderator too.
    await mona.request("media.ask_unmute", participant=ids["Anna"])
    assert (await anna.request("media.mute", muted=False))["type"] == "ok"
    assert (await anna.request("state.sync"))["state"]["mic"]["allowed"] is True
    await bernd.request("hand.raise")
    await mona.request("floor.give", participant=ids["Bernd"])
    assert (await bernd.request("media.mute", muted=False))["type"] == "ok"
    r = await carla.request("media.mute", muted=False)
    assert r["type"] == "error" and r["code"] == "forbidden"

    # Freed: everyone unmutes again; a new lock forgets who was asked before.
    assert (await mona.request("media.lock", locked=False))["type"] == "ok"
    assert (await carla.request("media.mute", muted=False))["type"] == "ok"
    await mona.request("floor.end")
    assert (await mona.request("media.lock", locked=True))["type"] == "ok"
    r = await anna.request("media.mute", muted=False)
    assert r["type"] == "error" and r["code"] == "forbidden"
