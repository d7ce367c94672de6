"""The fault agent's admin API as an OpenAPI 3.1 document, served at ``GET /openapi.json``.

The fault spec's schema comes from the fault vocabulary (``chaos.faults``): kinds, services, the TTL
cap, the id format, so the document says what ``validate`` accepts. ``tests/fuzz`` feeds it to
Schemathesis.
"""

from __future__ import annotations

from chaoslab import __version__
from chaoslab.chaos.faults import FAULT_ID, KINDS, MAX_TTL_S
from chaoslab.topology import SERVICE_NAMES


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _body(schema: dict) -> dict:
    """A required JSON request body of ``schema``."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


REFUSED = {
    "400": _error("Malformed; the message names the field."),
    "401": _error("No token."),
    "403": _error("Wrong token."),
}


def document(service: str) -> dict:
    """The admin API of ``service``'s agent."""
    ttl = {"type": "number", "minimum": 1, "maximum": MAX_TTL_S}
    fault_id = {"name": "fault_id", "in": "path", "required": True, "schema": {"type": "string"}}
    spec = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "service"],
        "properties": {
            "kind": {"enum": list(KINDS)},
            "service": {"enum": list(SERVICE_NAMES)},
            "route": {"type": "string", "description": "An inbound route, a gRPC method, or *."},
            "peer": {"type": "string", "description": "A peer the service calls."},
            "params": {"type": "object", "description": "The kind's parameters (`chaoslab fault kinds`)."},
            "ttl_s": ttl,
            "id": {"type": "string", "pattern": f"^{FAULT_ID.pattern}$", "description": "The controller's id."},
            "scenario": {"type": "string"},
            "red_herring": {"type": "boolean"},
        },
    }
    reason = {
        "name": "reason",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": "^[a-z][a-z-]{0,19}$"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{service} fault agent admin API",
            "version": __version__,
            "description": "Add, list, extend and remove the faults of one service instance. Every call but this "
            "document needs the agent token. created_at, expires_at and actor are the agent's to set.",
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "FaultSpec": spec,
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
        "security": [{"token": []}],
        "paths": {
            "/faults": {
                "get": {"operationId": "listFaults", "responses": {"200": _json({"type": "object"}), **REFUSED}},
                "post": {
                    "operationId": "addFault",
                    "requestBody": _body({"$ref": "#/components/schemas/FaultSpec"}),
                    "responses": {"201": _json({"type": "object"}, "Added (or the same fault again)."), **REFUSED},
                },
            },
            "/faults/{fault_id}": {
                "delete": {
                    "operationId": "removeFault",
                    "parameters": [fault_id, reason],
                    "responses": {"200": _json({"type": "object"}), "404": _error("No such fault."), **REFUSED},
                },
                "patch": {
                    "operationId": "extendFault",
                    "parameters": [fault_id],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["ttl_s"],
                            "properties": {"ttl_s": ttl},
                        }
                    ),
                    "responses": {
                        "200": _json({"type": "object"}, "Extended: its life is ttl_s from its creation."),
                        "404": _error("No such fault."),
                        **REFUSED,
                    },
                },
            },
            "/faults/reset": {
                "post": {
                    "operationId": "reset",
                    "parameters": [reason],
                    "responses": {"200": _json({"type": "object"}), **REFUSED},
                }
            },
            "/flags": {"get": {"operationId": "flags", "responses": {"200": _json({"type": "object"}), **REFUSED}}},
            "/deploys": {
                "post": {
                    "operationId": "deploy",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["changes"],
                            "properties": {
                                "changes": {"type": "object", "minProperties": 1},
                                "note": {"type": "string", "maxLength": 200},
                            },
                        }
                    ),
                    "responses": {"201": _json({"type": "object"}), **REFUSED},
                }
            },
            "/records": {
                "get": {
                    "operationId": "records",
                    "parameters": [
                        {"name": "after", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}}
                    ],
                    "responses": {"200": _json({"type": "object"}), **REFUSED},
                }
            },
        },
    }
