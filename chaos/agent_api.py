"""The fault agent's admin API, on its own port: a small resettable API in the manner of Toxiproxy.

    GET    /faults             the active faults
    POST   /faults             add one (a fault spec as JSON) → 201, or 400 naming the bad field
    DELETE /faults/<id>        remove one → 200, or 404
    POST   /faults/reset       remove every fault and every deploy
    GET    /flags              runtime settings: baseline, changes, effective values, version
    POST   /deploys            {"changes": {...}, "note": "..."}: ship a configuration change (a fix)

Every call needs the bearer token, as ``Authorization: Bearer <token>`` or, when
the call comes through the Kubernetes API server's pod proxy (which keeps the
Authorization header for itself), as ``X-Chaoslab-Token: <token>``. None is a
401, a wrong one a 403, and neither changes anything. State never changes on GET.
"""

from __future__ import annotations

import hmac

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from chaoslab.chaos.agent import FaultAgent
from chaoslab.chaos.faults import FaultSpecError


def create_admin_app(agent: FaultAgent, token: str) -> Flask:
    app = Flask(f"{agent.service}-agent")
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = 65536
    expected = token.encode()

    def actor() -> str:
        return request.headers.get("X-Chaoslab-Actor", "")[:100]

    @app.before_request
    def authenticate():
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
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), exc.code

    @app.errorhandler(FaultSpecError)
    def bad_spec(exc: FaultSpecError):
        return jsonify(error="invalid_fault", message=str(exc)), 400

    def body() -> dict:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            raise FaultSpecError("expected a JSON object body")
        return payload

    @app.get("/faults")
    def list_faults():
        return jsonify(service=agent.service, faults=agent.faults())

    @app.post("/faults")
    def add_fault():
        fault = agent.add(body(), actor=actor())
        return jsonify(fault.to_dict()), 201

    @app.delete("/faults/<fault_id>")
    def remove_fault(fault_id: str):
        if not agent.remove(fault_id, request.args.get("reason", "stop")[:20]):
            return jsonify(error="not_found", message=f"no active fault {fault_id} in {agent.service}"), 404
        return jsonify(removed=fault_id)

    @app.post("/faults/reset")
    def reset():
        faults, deploys = agent.reset(request.args.get("reason", "reset")[:20])
        return jsonify(service=agent.service, removed=faults, deploys_removed=deploys)

    @app.get("/flags")
    def flags():
        if agent.flags is None:
            return jsonify(service=agent.service, version=None, effective={}, baseline={}, changes=[])
        return jsonify(agent.flags.describe())

    @app.post("/deploys")
    def deploy():
        payload = body()
        return jsonify(agent.deploy(payload.get("changes"), str(payload.get("note", ""))[:200])), 201

    return app
