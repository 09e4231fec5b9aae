"""The demo forum of contract §1, created once per data dir."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .domain.commands import EventIn, TopicIn

if TYPE_CHECKING:
    from .forum import Forum

DEMO = EventIn(
    title="Regionales Digitalisierungszentrum – Diskussionsforum 1",
    description="Interkommunales Diskussionsforum mit Kommunen, Unternehmen und "
                "Zivilgesellschaft: drei Impulse, Diskussion in Themenräumen, Protokoll.",
    topics=[
        TopicIn(title="Arbeiten 4.0: Wie wollen wir morgen arbeiten?"),
        TopicIn(title="Geodaten im ländlichen Raum"),
        TopicIn(title="Smart Mobility im ländlichen Raum"),
    ],
)


async def ensure_demo(forum: "Forum") -> dict[str, str]:
    """The demo event's links; the event is created on the first call only."""
    marker = forum.settings.data_dir / "demo_event.json"
    event_id = None
    if marker.exists():
        event_id = json.loads(marker.read_text(encoding="utf-8")).get("id")
    row = await forum.store.event_row(event_id) if event_id else None
    if row is None:
        rt = await forum.create_event(DEMO)
        marker.write_text(json.dumps({"id": rt.id}), encoding="utf-8")
        row = await forum.store.event_row(rt.id)
        assert row is not None
    return {"id": row["id"], "title": row["title"], **forum.links(row)}
