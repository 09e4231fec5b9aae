"""Issue 16: a `kill -9` during a room recording leaves a playable audio file up to about
the last second (it used to be 0 bytes: FFmpeg kept the Ogg pages in its buffer), and
after the restart the minutes list the length that is on disk, not the time until the
restart. Recordings download and play with HTTP Range for those who may read the minutes
(organizer, people of the event), nobody else."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from forum_live.media.recorder import recorded_length
from tests.support.live import auth, create_event, join
from tests.support.media import Peer, Sig, has_tone
from tests.support.process import spawn

WRITER = """
import os, sys
import numpy as np
from pathlib import Path
from forum_live.media.recorder import AudioFile
from forum_live.media.mixer import RATE, SAMPLES
a = AudioFile(Path(sys.argv[1]))
t = np.arange(SAMPLES)
for i in range(int(3 * RATE / SAMPLES)):  # three seconds of 440 Hz
    a.write((8000 * np.sin(2 * np.pi * 440 * (t + i * SAMPLES) / RATE)).astype(np.int16))
os.kill(os.getpid(), 9)  # never closed: what a crash leaves
"""


def test_a_killed_audio_writer_leaves_a_playable_file(tmp_path: Path) -> None:
    path = tmp_path / "room.ogg"
    p = subprocess.run([sys.executable, "-c", WRITER, str(path)], cwd=Path(__file__).parents[1],
                       capture_output=True, timeout=60)
    assert p.returncode == -signal.SIGKILL, p.stderr
    with av.open(str(path)) as c:
        secs = sum(f.samples for f in c.decode(audio=0)) / 48000
    assert 2.0 <= secs <= 3.0  # all but well under a second of the three
    assert recorded_length(path) == pytest.approx(secs, abs=0.2)


@pytest.mark.slow
async def test_kill_9_during_a_recording(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sp = await spawn(data)
    try:
        async with sp.http() as http:
            ev = await create_event(http, topics=[{"title": "Mobilität"}])
            mod = await join(http, ev, "Mona Moderation", moderator=True)
            other = await create_event(http, title="Anderes Forum", topics=[])
            stranger = await join(http, other, "Fremd")
        sig = await Sig.connect(sp.ws_base, ev["id"], mod["token"])
        peer = Peer(sig, 440.0, record_audio=False)
        await peer.join(video_slots=False)
        assert (await sig.request("recording.start"))["type"] == "ok"
        started = await sig.wait_event(lambda e: e["type"] == "recording.started")
        audio = data / "rec" / started["file"]
        # the file grows while the room is heard: wait until two seconds are on disk
        for _ in range(600):
            if audio.exists() and (recorded_length(audio) or 0) >= 2.0:
                break
            await asyncio.sleep(0.05)
        sp.kill9()
        await peer.close()
        await sig.close()
    finally:
        if sp.proc.poll() is None:
            sp.proc.kill()
            sp.proc.wait(10)
    on_disk = recorded_length(audio)
    assert on_disk is not None and on_disk >= 2.0
    with av.open(str(audio)) as c:
        pcm = [f.to_ndarray() for f in c.decode(audio=0)]
    assert has_tone(np.concatenate(pcm, axis=1).reshape(-1).astype(np.float64), 440.0)

    sp = await spawn(data, port=sp.port)
    try:
        async with sp.http() as http:
            token = {"Authorization": f"Bearer {mod['token']}"}
            for _ in range(600):  # the restart journals the stop of the interrupted recording
                m = (await http.get(f"/api/events/{ev['id']}/minutes.json", headers=token)
                     ).json()
                if m["recordings"] and not m["recordings"][0]["active"]:
                    break
                await asyncio.sleep(0.05)
            [rec] = m["recordings"]
            assert rec["duration_s"] == on_disk  # what is on disk, not the downtime too

            url = f"/api/events/{ev['id']}/recordings/{rec['id']}/audio"
            r = await http.get(url, headers=token)
            assert r.status_code == 200 and r.headers["content-type"] == "audio/ogg"
            assert r.content == audio.read_bytes()
            assert r.headers["accept-ranges"] == "bytes"
            part = await http.get(url, headers={**token, "Range": "bytes=100-199"})
            assert part.status_code == 206 and part.content == audio.read_bytes()[100:200]
            assert (await http.get(url, params={"token": mod["token"]})).status_code == 200
            assert (await http.get(url, headers=auth())).status_code == 200
            assert (await http.get(url)).status_code == 401
            assert (await http.get(url, headers={
                "Authorization": f"Bearer {stranger['token']}"})).status_code == 401
            assert (await http.get(f"/api/events/{ev['id']}/recordings/nope/audio",
                                   headers=token)).status_code == 404
            assert (await http.get(f"/api/events/{ev['id']}/recordings/{rec['id']}/video",
                                   headers=token)).status_code == 404  # no video recorded
    finally:
        assert sp.terminate() in (0, -15)
