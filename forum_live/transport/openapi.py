"""The OpenAPI 3 document of the HTTP API, served at /openapi.json.

Hand-written: one entry per route, with who may call it and every error it answers. Request
bodies come from the same pydantic models that validate them (`model_json_schema()`), so
the document cannot drift from what the server accepts. Every error answers the one
envelope `{"error": {"code", "message"}}` (transport/errors.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.commands import EventIn, JoinIn
from ..export.formats import FORMATS

REF = "#/components/schemas/{model}"

ERROR_CODES = ["unauthorized", "forbidden", "not_found", "invalid", "conflict",
               "rate_limited", "too_large", "internal"]
ERROR_TEXT = {401: "no or a wrong token", 403: "wrong invitation key or event full",
              404: "no such event, page or format", 409: "conflict",
              413: "body over body_max", 422: "malformed JSON, wrong types, missing fields",
              429: "too many requests from this address"}


def _model_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """The JSON schemas of `models` and their nested models, for components.schemas."""
    out: dict[str, Any] = {}
    for m in models:
        schema = m.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[m.__name__] = schema
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


EVENT_ID = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}}
PARTICIPANT_ID = {"name": "participant_id", "in": "path", "required": True,
                  "schema": {"type": "string"}}
TOKEN_QUERY = {"name": "token", "in": "query", "required": False,
               "description": "the organizer token or a participant/moderator token of this "
                              "event, for links opened in a browser",
               "schema": {"type": "string"}}
LANG_QUERY = {"name": "lang", "in": "query", "required": False,
              "description": "en for English labels; anything else German",
              "schema": {"type": "string"}}
EXCEL_QUERY = {"name": "excel", "in": "query", "required": False,
               "description": "1/true/yes: semicolons and a byte-order mark for Excel",
               "schema": {"type": "string"}}

ORGANIZER: list[dict[str, list[str]]] = [{"organizer": []}]
EVENT_TOKEN: list[dict[str, list[str]]] = [{"organizer": []}, {"eventToken": []}, {"tokenQuery": []}]
PUBLIC: list[dict[str, list[str]]] = []

STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
LINKS = {"participant_url": STR, "moderator_url": STR}
TOPIC_OUT = {"type": "object", "required": ["id", "title"],
             "properties": {"id": STR, "title": STR, "speaker": NSTR, "description": NSTR}}
EVENT_CREATED = {
    "type": "object",
    "required": ["id", "title", "participant_url", "moderator_url", "participant_key",
                 "moderator_key", "plenary_room", "topics"],
    "properties": {"id": STR, "title": STR, **LINKS, "participant_key": STR,
                   "moderator_key": STR, "plenary_room": STR,
                   "topics": {"type": "array", "items": TOPIC_OUT}},
}
EVENT_LISTED = {"type": "object",
                "required": ["id", "title", "created_at", "status", *LINKS],
                "properties": {"id": STR, "title": STR, "created_at": STR, "status": STR,
                               **LINKS}}
EVENT_SUMMARY = {
    "type": "object",
    "required": ["id", "title", "status", "plenary_room", "topics", "rooms", "counts", "seq",
                 *LINKS],
    "properties": {
        "id": STR, "title": STR, "description": NSTR, "starts_at": NSTR, "series": NSTR,
        "status": STR, "plenary_room": STR, "created_at": NSTR,
        "topics": {"type": "array", "items": TOPIC_OUT},
        "rooms": {"type": "array", "items": {"type": "object", "required": ["id", "kind"]}},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "seq": {"type": "integer"}, **LINKS,
    },
}
JOINED = {
    "type": "object", "required": ["token", "participant"],
    "properties": {"token": STR, "participant": {
        "type": "object", "required": ["id", "name", "role"],
        "properties": {"id": STR, "name": STR, "organization": NSTR,
                       "role": {"type": "string", "enum": ["participant", "moderator"]},
                       "standing": STR}}},
}

ARRAY = {"type": "array", "items": {"type": "object"}}
EXPORT = {
    "type": "object",
    "required": ["event", "participant", "registration", "presence", "chat", "minutes",
                 "poll_votes", "questions", "anonymous_ballots"],
    "properties": {"event": {"type": "object"}, "participant": {"type": "object"},
                   "registration": {"type": "object"}, "presence": ARRAY, "chat": ARRAY,
                   "minutes": ARRAY, "poll_votes": ARRAY, "questions": ARRAY,
                   "other_actions": ARRAY, "anonymous_ballots": {
                       "type": "object", "required": ["took_part_in", "note"],
                       "properties": {"took_part_in": {"type": "array", "items": STR},
                                      "note": STR}}},
}


def _binary(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "headers": {"Content-Disposition": {"schema": STR,
                                                "description": "attachment; filename=..."}},
            "content": {media_type.split(";")[0]: {"schema": {
                "type": "object" if "json" in media_type else "string"}}}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": STR}}}


def _op(summary: str, security: list[dict[str, list[str]]], responses: dict[str, Any],
        *, parameters: list[dict[str, Any]] | None = None, body: str | None = None,
        op_id: str) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "security": security,
                          "responses": responses}
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _ref(body)}}}
    return op


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("liveness", PUBLIC, {
            "200": _json({"type": "object", "required": ["status"],
                          "properties": {"status": {"const": "ok"},
                                         "redis": {"enum": ["ok", "down"]}}},
                         "alive; a cluster node also tells whether Redis answers")},
            op_id="healthz")},
        "/openapi.json": {"get": _op("this document", PUBLIC, {
            "200": _json({"type": "object"}, "the OpenAPI document")}, op_id="openapi")},
        "/api/events": {
            "post": _op("create an event (organizer)", ORGANIZER, {
                "201": _json(EVENT_CREATED, "created; the links carry their keys"),
                **_errors(401, 404, 413, 422)}, body="EventIn", op_id="createEvent"),
            "get": _op("list events, newest first (organizer)", ORGANIZER, {
                "200": _json({"type": "array", "items": EVENT_LISTED}, "the events"),
                **_errors(401)}, op_id="listEvents"),
        },
        "/api/events/{event_id}": {
            "get": _op("one event: topics, rooms, status, counts (organizer)", ORGANIZER, {
                "200": _json(EVENT_SUMMARY, "the event"), **_errors(401, 404)},
                parameters=[EVENT_ID], op_id="getEvent"),
            "delete": _op("erase the event: its sockets are closed with 1001, then its "
                          "journal, ballot box and recordings are deleted; 404 everywhere "
                          "afterwards (organizer)", ORGANIZER, {
                              "200": _json({"type": "object", "required": ["deleted"],
                                            "properties": {"deleted": STR}}, "erased"),
                              **_errors(401, 404)},
                          parameters=[EVENT_ID], op_id="deleteEvent"),
        },
        "/api/events/{event_id}/join": {
            "post": _op("join with an invitation key (no token needed; the key decides the "
                        "role)", PUBLIC, {
                            "200": _json(JOINED, "joined: a signed token bound to this event "
                                                 "and participant"),
                            **_errors(403, 404, 413, 422, 429)},
                        parameters=[EVENT_ID], body="JoinIn", op_id="joinEvent"),
        },
        "/api/events/{event_id}/session": {
            "post": _op("exchange a token of this event (Authorization header) for an "
                        "HttpOnly, SameSite=Strict cookie scoped to the event's review page "
                        "and downloads and to its series' page and overview, so their links "
                        "carry no token", EVENT_TOKEN, {
                            "204": {"description": "cookie set (Set-Cookie: forum_token, "
                                                   "Path=/events/{id}, /api/events/{id}, "
                                                   "/series/{series_id} and "
                                                   "/api/series/{series_id})"},
                            **_errors(401)},
                        parameters=[EVENT_ID], op_id="openSession"),
            "delete": _op("forget the cookies of openSession", PUBLIC, {
                "204": {"description": "cookies cleared"}},
                parameters=[EVENT_ID], op_id="closeSession"),
        },
        "/api/events/{event_id}/revoke": {
            "post": _op("revoke every token of the event: new invitation keys, a new token "
                        "generation, its sockets closed with 4401 (organizer)", ORGANIZER, {
                            "200": _json({"type": "object",
                                          "required": ["participant_key", "moderator_key",
                                                       *LINKS],
                                          "properties": {"participant_key": STR,
                                                         "moderator_key": STR, **LINKS}},
                                         "the new keys and links"),
                            **_errors(401, 404)},
                        parameters=[EVENT_ID], op_id="revokeTokens"),
        },

        "/api/events/{event_id}/participants/{participant_id}/export": {
            "get": _op("everything stored about one participant, as JSON (GDPR access "
                       "request; anonymous ballots are unlinkable and never in it) "
                       "(organizer)", ORGANIZER, {
                           "200": _json(EXPORT, "the participant's data"),
                           **_errors(401, 404)},
                       parameters=[EVENT_ID, PARTICIPANT_ID], op_id="exportParticipant"),
        },
        "/api/events/{event_id}/end": {
            "post": _op("end the event (organizer)", ORGANIZER, {
                "200": _json(EVENT_SUMMARY, "the ended event"), **_errors(401, 404)},
                parameters=[EVENT_ID], op_id="endEvent"),
        },
        "/api/events/{event_id}/polls.csv": {
            "get": _op("poll results per room and in total (organizer or a moderator token "
                       "of this event)", EVENT_TOKEN, {
                           "200": _binary("text/csv", "CSV"), **_errors(401, 404)},
                       parameters=[EVENT_ID, TOKEN_QUERY, EXCEL_QUERY], op_id="pollsCsv"),
        },
        "/api/events/{event_id}/attendance.csv": {
            "get": _op("who was there, from when to when (organizer or a moderator token of "
                       "this event)", EVENT_TOKEN, {
                           "200": _binary("text/csv", "CSV"), **_errors(401, 404)},
                       parameters=[EVENT_ID, TOKEN_QUERY, EXCEL_QUERY],
                       op_id="attendanceCsv"),
        },
        "/events/{event_id}/review": {
            "get": _op("the read-only review page (organizer or any token of this event); "
                       "an HTML page also for 401 and 404", EVENT_TOKEN, {
                           "200": _html("the review page"),
                           "401": _html("access denied page"),
                           "404": _html("no such event page")},
                       parameters=[EVENT_ID, TOKEN_QUERY, LANG_QUERY], op_id="reviewPage"),
        },
        "/": {"get": _op("welcome page", PUBLIC, {"200": _html("page")}, op_id="indexPage")},
        "/organizer": {"get": _op("organizer page (the token is entered there)", PUBLIC,
                                  {"200": _html("page")}, op_id="organizerPage")},
        "/e/{event_id}": {"get": _op("the event page (join and take part); the same page for "
                                     "every id, the key travels in the fragment (#key=); an "
                                     "old link with ?key= is sent on (303) to that form",
                                     PUBLIC, {
            "200": _html("page"), "303": {"description": "to /e/{id}#key=..."}},

            parameters=[EVENT_ID, {"name": "key", "in": "query", "required": False,
                                   "schema": STR}], op_id="eventPage")},
        "/i18n/{lang}.json": {"get": _op("message catalog", PUBLIC, {
            "200": _json({"type": "object", "additionalProperties": STR}, "the catalog"),
            **_errors(404)},
            parameters=[{"name": "lang", "in": "path", "required": True, "schema": STR}],
            op_id="catalog")},
    }
    for name, fmt in FORMATS.items():
        paths[f"/api/events/{{event_id}}/minutes.{name}"] = {
            "get": _op(f"the minutes as {name} (organizer or any token of this event)",
                       EVENT_TOKEN, {"200": _binary(fmt.media_type, "the minutes"),
                                     **_errors(401, 404)},
                       parameters=[EVENT_ID, TOKEN_QUERY, LANG_QUERY],
                       op_id=f"minutes_{name}")}
    for path, methods in EXTRA_PATHS.items():
        paths.setdefault(path, {}).update(methods)
    error = {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string", "enum": ERROR_CODES},
                           "message": {"type": "string"}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "forum-live HTTP API", "version": "1",
                 "description": "The organizer API, joining and the downloads. The socket "
                                "protocol is documented in docs/protocol.md."},
        "paths": paths,
        "components": {
            "schemas": {**_model_schemas(EventIn, JoinIn), "Error": error},
            "responses": {f"E{s}": _json(_ref("Error"), text) for s, text in ERROR_TEXT.items()},
            "securitySchemes": {
                "organizer": {"type": "http", "scheme": "bearer",
                              "description": "the organizer token printed at start"},
                "eventToken": {"type": "http", "scheme": "bearer",
                               "description": "a participant or moderator token of this "
                                              "event (from join)"},
                "tokenQuery": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
    }


# Routes added by other modules describe themselves here: {path: {method: operation}}.
EXTRA_PATHS: dict[str, dict[str, Any]] = {}

_CACHE: dict[str, Any] = {}


async def openapi_endpoint(request: Request) -> Response:
    if "doc" not in _CACHE:
        _CACHE["doc"] = document()
    return JSONResponse(_CACHE["doc"])
