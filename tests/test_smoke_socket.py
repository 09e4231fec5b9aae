from tests.support.live import LiveServer, connected, create_event, join


async def test_chat_reaches_everyone_in_the_plenary(server: LiveServer) -> None:
    async with server.http() as http:
        ev = await create_event(http)
        a = await join(http, ev, "Anna")
        b = await join(http, ev, "Bernd")
    ca, cb = await connected(server, ev, a, b)
    reply = await ca.request("chat.send", room=ev["plenary_room"], text="Guten Morgen")
    assert reply["type"] == "ok"
    got = await cb.wait_for(lambda e: e["type"] == "chat.message")
    assert got["message"]["text"] == "Guten Morgen"
    assert got["message"]["author"]["name"] == "Anna"
    await ca.close()
    await cb.close()
