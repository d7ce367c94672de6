"""The fault agent's admin API, on its own port: a small resettable API in the manner of Toxiproxy.

    GET    /faults             the active faults
    POST   /faults             add one (a fault spec as JSON) → 201, or 400 naming the bad field
    PATCH  /faults/<id>        {"ttl_s": N}: extend one, N seconds from its creation → 200, or 404
    DELETE /faults/<id>        remove one → 200, or 404
    POST   /faults/reset       remove every fault and every deploy
    GET    /flags              runtime settings: baseline, changes, effective values, version
    POST   /deploys            {"changes": {...}, "note": "..."}: ship a configuration change (a fix)
    GET    /records?after=N    the agent's own record: faults started and reverted, settings revised
    GET    /openapi.json       this API as an OpenAPI 3.1 document (no token needed)

Every other call needs the bearer token, as ``Authorization: Bearer <token>`` or, when
the call comes through the Kubernetes API server's pod proxy (which keeps the
Authorization header for itself), as ``X-Chaoslab-Token: <token>``. None is a
401, a wrong one a 403, and neither changes anything. State never changes on GET.

Who did it: the token is the only credential the agent can check, so a change is
recorded as made by ``agent-token``, with the name the caller gave in
``X-Chaoslab-Actor`` kept beside it as a claim (``alice@agent-token``). The
Kubernetes API server authenticates the person behind a pod-proxy call but does
not tell the pod; the controller's own audit entries carry that identity.
Bodies are read by ``chaoslab.inputs`` (bounded nesting, no duplicate keys) and
faults by ``chaos.faults.validate``: a wrong type anywhere is a 400 naming the field.
"""

from __future__ import annotations

import hmac
import re
import time

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from chaoslab.chaos.agent import FaultAgent, listed
from chaoslab.chaos.agent_openapi import document
from chaoslab.chaos.faults import FAULT_ID, FaultSpecError
from chaoslab.inputs import InputError, has_control, parse_json, text_int
from chaoslab.services.common.web import error_headers

PRINCIPAL = "agent-token"
"""Who a caller authenticated as: the holder of the agents' token, the one credential the agent checks."""
_CLAIMED = re.compile(r"[\w.@:+-]{1,100}", re.ASCII)
_REASON = re.compile(r"[a-z][a-z-]{0,19}")


def create_admin_app(agent: FaultAgent, token: str) -> Flask:
    app = Flask(f"{agent.service}-agent")
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = 65536
    expected = token.encode()

    def actor() -> str:
        """``<claimed name>@agent-token``: what the token proves, with the name the caller gave (if it
        is a plain name) as a claim."""
        claimed = request.headers.get("X-Chaoslab-Actor", "")
        return f"{claimed}@{PRINCIPAL}" if _CLAIMED.fullmatch(claimed) else PRINCIPAL

    def reason(default: str) -> str:
        given = request.args.get("reason", default)
        if not _REASON.fullmatch(given):
            raise FaultSpecError(f"reason={given[:40]!r}: must be a short lowercase word such as stop")
        return given

    @app.before_request
    def authenticate():
        if request.path == "/openapi.json":
            return None
        if has_control(request.path):
            return jsonify(error="invalid_fault", message="the path contains a control character"), 400
        header = request.headers.get("Authorization", "")
        supplied = (
            header.removeprefix("Bearer ").strip()
            if header.startswith("Bearer ")
            else request.headers.get("X-Chaoslab-Token", "").strip()
        )
        if not supplied:
            return (
                jsonify(error="unauthorised", message="missing bearer token (Authorization: Bearer <token>)"),
                401,
                {"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(supplied.encode(), expected):
            return jsonify(error="forbidden", message="wrong token"), 403

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), exc.code, error_headers(exc)

    @app.errorhandler(FaultSpecError)
    @app.errorhandler(InputError)
    def bad_spec(exc: ValueError):
        return jsonify(error="invalid_fault", message=str(exc)), 400

    def body() -> dict:
        payload = parse_json(request.get_data(cache=True))
        if not isinstance(payload, dict):
            raise FaultSpecError("expected a JSON object body")
        return payload

    spec = document(agent.service)

    @app.get("/openapi.json")
    def openapi():
        return jsonify(spec)

    @app.get("/faults")
    def list_faults():
        return jsonify(service=agent.service, faults=agent.faults())

    @app.post("/faults")
    def add_fault():
        fault = agent.add(body(), actor=actor())
        return jsonify(fault.to_dict()), 201

    @app.delete("/faults/<fault_id>")
    def remove_fault(fault_id: str):
        if not FAULT_ID.fullmatch(fault_id):
            raise FaultSpecError(f"fault id {fault_id[:40]!r}: must look like f-1a2b3c4d")
        if not agent.remove(fault_id, reason("stop"), actor()):
            return jsonify(error="not_found", message=f"no active fault {fault_id} in {agent.service}"), 404
        return jsonify(removed=fault_id)

    @app.patch("/faults/<fault_id>")
    def extend_fault(fault_id: str):
        if not FAULT_ID.fullmatch(fault_id):
            raise FaultSpecError(f"fault id {fault_id[:40]!r}: must look like f-1a2b3c4d")
        payload = body()
        if set(payload) != {"ttl_s"}:
            raise FaultSpecError('a fault\'s ttl_s is all that changes, and only to extend it: {"ttl_s": seconds}')
        fault = agent.extend(fault_id, payload["ttl_s"], actor())
        if fault is None:
            return jsonify(error="not_found", message=f"no active fault {fault_id} in {agent.service}"), 404
        return jsonify(listed(fault, time.time()))

    @app.post("/faults/reset")
    def reset():
        faults, deploys, revised = agent.reset(reason("reset"), actor())
        return jsonify(service=agent.service, removed=faults, deploys_removed=deploys, version_changed=revised)

    @app.get("/records")
    def records():
        after = text_int(request.args.get("after", "0"), "after", 0)
        return jsonify(service=agent.service, records=agent.records(after))

    @app.get("/flags")
    def flags():
        if agent.flags is None:
            return jsonify(service=agent.service, version=None, effective={}, baseline={}, changes=[])
        return jsonify(agent.flags.describe())

    @app.post("/deploys")
    def deploy():
        payload = body()
        unknown = sorted(set(payload) - {"changes", "note"})
        if unknown:
            raise FaultSpecError(f"unknown field {unknown[0][:40]!r}; a deploy has changes and note")
        note = payload.get("note", "")
        if not isinstance(note, str) or len(note) > 200 or has_control(note):
            raise FaultSpecError("note must be one line of at most 200 characters")
        return jsonify(agent.deploy(payload.get("changes"), note, actor())), 201

    return app
