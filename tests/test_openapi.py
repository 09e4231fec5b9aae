"""/openapi.json describes the whole HTTP API, and schemathesis finds no 500 and no response
that breaks the document, run against the live server with the organizer token."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from schemathesis.generation import GenerationMode
from starlette.routing import Route

from tests.support.live import ORGANIZER, auth, create_event, join, start_server

CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance,
          checks.response_headers_conformance, checks.negative_data_rejection]


async def test_every_http_route_is_in_the_document(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data")
    try:
        async with server.http() as http:
            r = await http.get("/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        assert doc["openapi"].startswith("3.")
        documented = set(doc["paths"])
        for route in server.app.routes:
            if not isinstance(route, Route):
                continue
            if route.path == "/api/events/{event_id}/minutes.{fmt}":
                assert {p for p in documented if "/minutes." in p}, "minutes downloads"
                continue
            assert route.path in documented, f"{route.path} is not in /openapi.json"
            for method in (route.methods or set()) - {"HEAD"}:
                assert method.lower() in doc["paths"][route.path], (route.path, method)
        # every operation names its auth and answers errors in the one envelope
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                assert "security" in op, (path, method)
                for status, resp in op["responses"].items():
                    if status.startswith("4") and "$ref" in resp:
                        assert resp["$ref"].startswith("#/components/responses/E")
        schemathesis.openapi.from_dict(doc)  # loads as a valid document
    finally:
        await server.stop()


def _run_schemathesis(base: str, event_id: str, examples: int) -> int:
    """Positive and negative cases for every operation, with random and real event ids."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    headers = {"Authorization": f"Bearer {ORGANIZER}"}
    calls = 0
    for result in schema.get_all_operations():
        op = result.ok()
        params = [None]
        if any(p.name == "event_id" for p in op.iter_parameters()):
            params.append({"event_id": event_id})
        for path_parameters in params:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = op.as_strategy(generation_mode=mode,
                                          path_parameters=path_parameters)

                @settings(max_examples=examples, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
                @given(case=strategy)
                def run(case: Any) -> None:
                    nonlocal calls
                    if op.method.upper() == "POST" and op.path.endswith("/end") \
                            and path_parameters:
                        return  # ending the real event would stop the other cases' writes
                    response = case.call(base_url=base, headers=headers, timeout=30)
                    calls += 1
                    assert response.status_code < 500, (case.as_curl_command(),
                                                        response.text[:500])
                    case.validate_response(response, checks=CHECKS)

                try:
                    run()
                except Unsatisfiable:
                    if mode is GenerationMode.POSITIVE:
                        raise  # negative: nothing to break in an operation without input
    return calls


@pytest.mark.slow
async def test_schemathesis_finds_no_500_and_no_nonconforming_answer(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data")
    try:
        async with server.http() as http:
            event = await create_event(http)
            await join(http, event, "Ada")
            r = await http.get("/openapi.json", headers=auth())
            assert r.status_code == 200
        calls = await asyncio.to_thread(_run_schemathesis, server.base, event["id"], 15)
        assert calls > 100
        async with httpx.AsyncClient(base_url=server.base) as http:
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await server.stop()
