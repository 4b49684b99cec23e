"""``GET /openapi.json``: the HTTP contract (SPEC v1) as OpenAPI 3.1, one document per server: the front
door's and the status API's, each served by its own app and naming itself as its server (a relative URL,
so the document is right wherever it runs). Tests check that each names exactly the routes its app
serves, and fuzz each app against its own (``tests/integration/test_fuzzing.py``).

Every path parameter is declared, and every operation documents the error answers any request can get:
400 (a malformed request head), 503 (a backend away), and for those with a body 408, 413 and 415.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from aiohttp import web

from queue_config.kinds import KINDS, REGISTRY
from queue_config.planning.throttle import Throttle
from queue_config.web import contract
from queue_config.web.http import json_response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answers(*codes: int, ok: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes:
        schema = ok if ok is not None and code < 300 else _ref("Error")
        out[str(code)] = {"description": str(code), "content": {"application/json": {"schema": schema}}}
    return out


_OPERATOR: list[dict[str, list[str]]] = [{"operator": []}]
_ENTERPRISE: list[dict[str, list[str]]] = [{"enterprise": []}]
_CITIZEN: list[dict[str, list[str]]] = [{"citizen": []}]
# The spellings ``?dry_run=`` takes; any other is refused, so that a dry run never applies a change.
DRY_RUN_TRUE = ("true", "1", "yes")
DRY_RUN_FALSE = ("false", "0", "no")
_PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")
# What any request may be answered besides its own outcomes.
_ANY_REQUEST = (400, 503)
_WITH_BODY = (408, 413, 415)


def _op(summary: str, answers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": answers, **extra}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _completed(path: str, ops: dict[str, Any]) -> dict[str, Any]:
    """An operation as published: its path parameters declared, the answers any request can get added."""
    names = _PATH_PARAMETER.findall(path)
    out = {}
    for method, op in ops.items():
        op = dict(op)
        declared = [p for p in op.get("parameters", []) if p["in"] != "path"]
        path_parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}
            for name in names
        ]
        if path_parameters or declared:
            op["parameters"] = path_parameters + declared
        extra = _ANY_REQUEST + (_WITH_BODY if "requestBody" in op else ())
        if declared:
            extra += (422,)
        op["responses"] = {**_answers(*extra), **op["responses"]}
        out[method] = op
    return out


def schemas() -> dict[str, Any]:
    """Every body's schema, derived from its type (``contract``, ``queue_config.kinds``,
    ``queue_config.planning.throttle``), plus one schema per kind's submission."""
    bodies = (
        contract.Error,
        contract.Accepted,
        contract.Ticket,
        contract.BulkRequest,
        contract.BatchAccepted,
        contract.BatchStatus,
        contract.NewEnterprise,
        contract.Replay,
        contract.ThrottleDryRun,
        Throttle,
    )
    _, components = contract.schema_of(*bodies, *(spec.payload for spec in REGISTRY.values()))
    components["CitizenId"] = {
        "type": "string",
        "pattern": "^[0-9]{17}[0-9Xx]$",
        "description": "A resident ID: its birth date and ISO 7064 MOD 11-2 check character are checked too",
    }
    mapping = {}
    for spec in REGISTRY.values():
        name = spec.payload.__name__.removesuffix("Payload") + "Submission"
        mapping[spec.name] = f"#/components/schemas/{name}"
        components[name] = {
            "type": "object",
            "required": ["kind", "citizen_id", "payload"],
            "additionalProperties": False,
            "properties": {
                "kind": {"const": spec.name},
                "citizen_id": _ref("CitizenId"),
                "payload": _ref(spec.payload.__name__),
            },
        }
    components["Submission"] = {
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "kind", "mapping": mapping},
    }
    components["BulkRequest"]["properties"]["items"]["items"] = _ref("Submission")
    return components


def document(server: Literal["front", "status"] = "front", base_url: str = "/") -> dict[str, Any]:
    """The document of one server, which ``base_url`` names (from the settings of the running one)."""
    health = {
        "/healthz": {"get": _op("The process answers", _answers(200, ok={"type": "object"}))},
        "/readyz": {"get": _op("Broker and Redis answer", _answers(200, 503, ok={"type": "object"}))},
        "/metrics": {"get": _op("Prometheus metrics", {"200": {"description": "text exposition"}})},
        "/openapi.json": {"get": _op("This document", _answers(200, ok={"type": "object"}))},
    }
    front: dict[str, Any] = {
        "/v1/submissions": {
            "post": _op(
                "Submit one of " + ", ".join(KINDS) + "; answered once durable in RabbitMQ and Redis. "
                "With AUTH_REQUIRED (the default) it carries the citizen's token from the portal's login: "
                "401 without a valid one, 403 when its sub is not the submission's citizen_id",
                _answers(200, 202, 400, 401, 403, 409, 413, 415, 422, 429, 503, ok=_ref("Accepted")),
                security=_CITIZEN,
                requestBody=_json_body(_ref("Submission")),
                parameters=[
                    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}},
                    {
                        "name": "Ticketgate-Proof",
                        "in": "header",
                        "description": "<challenge>:<nonce>, the answer to a 429 challenge_required "
                        "(under attack only; /v1/challenge/solver.js solves it)",
                        "schema": {"type": "string"},
                    },
                ],
            )
        },
        "/v1/bulk": {
            "post": _op(
                "Submit up to 10,000 items (JSON or NDJSON); items beyond what may run now are scheduled",
                _answers(200, 202, 400, 401, 409, 413, 415, 422, 429, 503, ok=_ref("BatchAccepted")),
                security=_ENTERPRISE,
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("BulkRequest")},
                        "application/x-ndjson": {"schema": {"type": "string"}},
                    },
                },
                parameters=[
                    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}},
                    {"name": "callback_url", "in": "query", "schema": {"type": "string"}},
                ],
            )
        },
        "/v1/admin/throttle": {
            "get": _op("The throttle document", _answers(200, 401, ok=_ref("Throttle")), security=_OPERATOR),
            "put": _op(
                "Merge changes into the throttle; ?dry_run=true predicts without applying",
                _answers(200, 401, 422, ok={"oneOf": [_ref("Throttle"), _ref("ThrottleDryRun")]}),
                security=_OPERATOR,
                requestBody=_json_body(_ref("Throttle")),
                parameters=[
                    {"name": "dry_run", "in": "query", "schema": {"enum": [*DRY_RUN_TRUE, *DRY_RUN_FALSE]}}
                ],
            ),
        },
        "/v1/admin/audit": {
            "get": _op(
                "Operator changes, newest first",
                _answers(200, 401, ok={"type": "object"}),
                security=_OPERATOR,
            )
        },
        "/v1/admin/forecast": {
            "get": _op(
                "Arrivals, forecast with interval, capacity, queue depth, recommended workers per kind",
                _answers(200, 401, ok={"type": "object"}),
                security=_OPERATOR,
            )
        },
        "/v1/admin/enterprises": {
            "get": _op(
                "Enterprises, without secrets", _answers(200, 401, ok={"type": "object"}), security=_OPERATOR
            ),
            "post": _op(
                "Create an enterprise; its api_key and webhook_secret are shown only in this answer",
                _answers(201, 401, 422, ok={"type": "object"}),
                security=_OPERATOR,
                requestBody=_json_body(_ref("NewEnterprise")),
            ),
        },
        "/v1/admin/enterprises/{enterprise_id}": {
            "delete": _op(
                "Revoke the enterprise's key",
                _answers(200, 401, 404, ok={"type": "object"}),
                security=_OPERATOR,
            )
        },
        "/v1/admin/dead-letters": {
            "get": _op(
                "Failed tickets of a kind",
                _answers(200, 401, 422, ok={"type": "object"}),
                security=_OPERATOR,
                parameters=[
                    {"name": "kind", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                ],
            )
        },
        "/v1/admin/dead-letters/{ticket_id}": {
            "get": _op(
                "One dead letter with its message",
                _answers(200, 401, 404, ok={"type": "object"}),
                security=_OPERATOR,
            )
        },
        "/v1/admin/dead-letters/replay": {
            "post": _op(
                "Queue dead letters again (some, or all of a kind)",
                _answers(200, 401, 422, ok={"type": "object"}),
                security=_OPERATOR,
                requestBody=_json_body(_ref("Replay")),
            )
        },
        "/dashboard": {"get": _op("The operator dashboard (HTML)", {"200": {"description": "HTML"}})},
        "/v1/challenge/solver.js": {
            "get": _op(
                "The proof-of-work solver for portal pages (a 429 challenge_required names its challenge)",
                {"200": {"description": "JavaScript: ticketgateProof.solve(challenge, difficulty)"}},
            )
        },
    }
    status: dict[str, Any] = {
        "/v1/tickets/{ticket_id}": {
            "get": _op(
                "A ticket's status, position, ETA and result; ?wait=N (<= 30) waits for a change. Anyone "
                "with the ticket ID reads its status; a done ticket's result needs its owner's token "
                "(the citizen's, or the enterprise key of its batch)",
                _answers(200, 404, 422, ok=_ref("Ticket")),
                security=[{}, *_CITIZEN, *_ENTERPRISE],
                parameters=[{"name": "wait", "in": "query", "schema": {"type": "number", "maximum": 30}}],
            )
        },
        "/v1/batches/{batch_id}": {
            "get": _op(
                "A batch's counts per status and failed items, for its own enterprise",
                _answers(200, 401, 403, 404, ok=_ref("BatchStatus")),
                security=_ENTERPRISE,
            )
        },
        "/v1/stats/eta": {"get": _op("How often ETAs held", _answers(200, ok={"type": "object"}))},
        "/t/{ticket_id}": {
            "get": _op(
                "The citizen's page (HTML)",
                {"200": {"description": "HTML"}, "404": {"description": "HTML: no such ticket"}},
            )
        },
    }
    own = front if server == "front" else status
    paths = {path: _completed(path, ops) for path, ops in {**own, **health}.items()}
    title = "front door" if server == "front" else "status API"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"ticketgate {title}",
            "version": "1",
            "description": "Queue-based front for public services: the "
            + ("front door (submissions, bulk, operator API)" if server == "front" else "status API"),
        },
        "servers": [{"url": base_url, "description": title}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "operator": {"type": "http", "scheme": "bearer", "description": "OPERATOR_TOKEN"},
                "citizen": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "the portal login's token (RS256 or ES256, from AUTH_ISSUER's JWKS); "
                    "its sub is the resident ID",
                },
                "enterprise": {"type": "http", "scheme": "bearer", "description": "an enterprise API key"},
            },
            "schemas": schemas(),
        },
    }


def openapi_route(server: Literal["front", "status"], base_url: str) -> Any:
    """The ``GET /openapi.json`` handler of one server (the document is built once)."""
    body = document(server, base_url)

    async def get_openapi(_: web.Request) -> web.Response:
        return json_response(body)

    return get_openapi
