#!/usr/bin/env python3
"""Export benchmark (issue 6): time to build each minutes format for a big forum.

    python bench/export.py [--participants 60] [--rooms 6] [--chat 2000] [--minutes 300]
                           [--polls 20] [--repeat 3] [--json]

Builds the forum directly through the domain (real decisions and the real fold, no server,
no database): 60 participants (3 moderators among them) with organizations, 6 breakout
rooms in one round, 2,000 chat lines, 300 minutes entries of every kind, 20 closed polls
of all four kinds (half of them anonymous), people leaving and coming back. Then, for each
format (md, html, pdf, docx, json, polls.csv, attendance.csv) it times building the minutes
model and rendering it, `--repeat` times, and prints the best and the median.
Target: every format under 3 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forum_live.domain import setup  # noqa: E402
from forum_live.export import model, tables  # noqa: E402
from forum_live.export.formats import FORMATS  # noqa: E402
from tests.support.domain import Scenario  # noqa: E402

KINDS = ("note", "decision", "action", "question")
ORGS = ("Stadt Hof", "Landkreis Wunsiedel", "IHK Oberfranken", "Hochschule Hof", None)


def build_forum(participants: int = 60, rooms: int = 6, chat: int = 2000, minutes: int = 300,
                polls: int = 20) -> Scenario:
    sc = Scenario.event(topics=("Arbeiten 4.0: Wie wollen wir morgen arbeiten?",
                                "Geodaten im ländlichen Raum",
                                "Smart Mobility im ländlichen Raum"))
    s = sc.state
    mods = [sc.person(f"Moderation {i}", moderator=True) for i in range(3)]
    people = []
    for i in range(participants - len(mods)):
        pid = sc.person(f"Teilnehmerin {i:02d} Müller-Lüdenscheidt")
        s.participants[pid].organization = ORGS[i % len(ORGS)]
        people.append(pid)
        sc.tick(2)
    mod = mods[0]
    per_topic = max(1, rooms // len(s.topics))
    counts = {"chat": 0, "minutes": 0, "polls": 0}

    def talk(n_chat: int, n_minutes: int) -> None:
        for i in range(n_chat):
            who = people[i % len(people)]
            sc.do(who, "chat.send", room=s.room_of(who),
                  text=f"Beitrag {counts['chat']}: Breitband, Förderung & Ehrenamt – was fehlt?")
            counts["chat"] += 1
            if i % 20 == 0:
                sc.tick(5)
        for i in range(n_minutes):
            who = people[(i * 7) % len(people)]
            kind = KINDS[i % len(KINDS)]
            extra: dict[str, Any] = {"assignee": f"Teilnehmerin {i % 50:02d}",
                                     "due": "2026-04-30"} if kind == "action" else {}
            sc.do(who, "minutes.add", room=s.room_of(who), kind=kind,
                  text=f"Eintrag {counts['minutes']}: " + "Glasfaser bis ins Dorf, " * 4,
                  **extra)
            counts["minutes"] += 1
            sc.tick(3)

    def vote_round(n: int) -> None:
        for _ in range(n):
            k = counts["polls"]
            kind = ("single", "multiple", "rating", "text")[k % 4]
            body: dict[str, Any] = {"scope": "event", "question": f"Frage {k}: Was zuerst?",
                                    "kind": kind, "anonymous": k % 2 == 1}
            if kind in ("single", "multiple"):
                body["options"] = ["Glasfaser", "Coworking", "Rufbus", "Dorfladen", "Sonstiges"]
            if kind == "rating":
                body["scale"] = [1, 5]
            [opened, *_] = sc.do(mod, "poll.create", **body)
            poll = opened.data["poll"]["id"]
            for i, pid in enumerate(people):
                vote: dict[str, Any] = {"single": {"choice": i % 5},
                                        "multiple": {"choices": [i % 5, (i + 2) % 5]},
                                        "rating": {"rating": 1 + i % 5},
                                        "text": {"text": f"Mehr Mut {i % 7}"}}[kind]
                sc.do(pid, "poll.vote", poll=poll, **vote)
            sc.do(mod, "poll.close", poll=poll)
            counts["polls"] += 1
            sc.tick(30)

    half_chat, half_minutes = chat // 2, minutes // 2
    talk(half_chat, half_minutes)  # in the plenary
    vote_round(polls // 2)
    sc.do(mod, "breakouts.open", assign="auto", per_topic=per_topic)
    sc.tick(60)
    talk(chat - half_chat, minutes - half_minutes)  # in the breakout rooms
    for pid in people[:5]:  # some leave for a while and come back
        sc.commit(setup.presence(s, sc.ctx(), pid, False))
        sc.tick(30)
        sc.commit(setup.presence(s, sc.ctx(), pid, True))
    sc.tick(600)
    sc.do(mod, "breakouts.close")
    vote_round(polls - polls // 2)
    for pid in people[-5:]:
        sc.commit(setup.presence(s, sc.ctx(), pid, False))
    sc.tick(60)
    sc.commit(setup.end_event(s, sc.ctx(), None))
    assert counts == {"chat": chat, "minutes": minutes, "polls": polls}, counts
    return sc


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--participants", type=int, default=60)
    ap.add_argument("--rooms", type=int, default=6)
    ap.add_argument("--chat", type=int, default=2000)
    ap.add_argument("--minutes", type=int, default=300)
    ap.add_argument("--polls", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    t0 = time.perf_counter()
    sc = build_forum(args.participants, args.rooms, args.chat, args.minutes, args.polls)
    setup_s = time.perf_counter() - t0
    s = sc.state

    # Warm-up: imports and WeasyPrint's font setup are paid once per process.
    warm = model.build(s)
    FORMATS["pdf"].render(warm, "de")
    FORMATS["docx"].render(warm, "de")

    jobs: dict[str, Callable[[], Any]] = {
        name: (lambda f=f: f.render(model.build(s), "de")) for name, f in FORMATS.items()}
    jobs["polls.csv"] = lambda: tables.polls_csv(s)
    jobs["attendance.csv"] = lambda: tables.attendance_csv(s)
    rows = []
    for name, job in jobs.items():
        times, out = timed(job, args.repeat)
        rows.append({"format": name, "best_s": round(min(times), 3),
                     "median_s": round(statistics.median(times), 3),
                     "bytes": len(out.encode() if isinstance(out, str) else out)})
    rounds = len(s.rounds)
    breakout_rooms = sum(len(r.rooms) for r in s.rounds)
    meta = {"participants": len(s.participants), "breakout_rooms": breakout_rooms,
            "rounds": rounds, "chat_lines": s.chat_count, "minutes_entries": len(s.minutes),
            "polls": len(s.polls), "journal_entries": len(sc.journal),
            "setup_s": round(setup_s, 2)}
    if args.json:
        print(json.dumps({"forum": meta, "results": rows}, indent=2))
        return 0
    print("forum: " + ", ".join(f"{k}={v}" for k, v in meta.items()))
    print(f"{'format':<16}{'best s':>9}{'median s':>10}{'size':>11}")
    for r in rows:
        print(f"{r['format']:<16}{r['best_s']:>9.3f}{r['median_s']:>10.3f}{r['bytes']:>11,}")
    worst = max(r["median_s"] for r in rows)
    print(f"slowest median: {worst:.3f} s (target < 3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
