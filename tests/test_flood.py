"""Rate limits under a flood (issue 9): one person floods chat, poll votes, question asks,
question votes and reactions from several tabs as fast as the server answers; each kind
is answered `rate_limited`, and every line of the others still goes through. Behaviour, not a
timed performance target (bench/flood.py measures the margin)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.flood import flood_run
from tests.support.process import spawn


@pytest.mark.slow
async def test_a_flooder_is_rate_limited_and_does_not_slow_the_others(tmp_path: Path) -> None:
    # the flooder floods every kind from a tab of its own (12 sockets): above the default
    # of 5 sockets a person, so that rate limits, not the socket limit, are what is tested
    proc = await spawn(tmp_path / "d", env={"FORUM_SYNCHRONOUS": "NORMAL",
                                            "FORUM_LIMIT_SOCKETS_PER_PARTICIPANT": "16"})
    try:
        r = await flood_run(proc.base, proc.ws_base, others=10, seconds=3.0,
                            window=8)  # the flooder shares this process with the observer
    finally:
        proc.terminate()
    print(f"\nquiet {r['quiet']}\nflood {r['flood']}\nflooder {r['flooder']}")
    for kind, answers in r["flooder"].items():
        assert answers.get("rate_limited", 0) > 0, (kind, answers)
        assert answers.get("ok", 0) > 0 or kind == "question.vote", (kind, answers)
    assert r["lost"] == {"quiet": 0, "flood": 0}, r["lost"]
    # every line of the others went through during the flood (`lost` above), and they
    # kept talking; how fast is bench/flood.py's job (docs/performance.md), not a test's
    assert r["flood"]["n"] > 0 and r["quiet"]["n"] > 0
