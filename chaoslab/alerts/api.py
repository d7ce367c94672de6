"""``GET /api/alerts`` on the lab daemon: the alert state and its transitions, for the CLI and incidents.

GET /api/alerts                  pending, firing and recently resolved alerts, scrape health
GET /api/alerts?since=SEQ        also every transition after sequence number SEQ (0: all kept)
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from chaoslab.alerts.local import LocalAlerts


def blueprint(alerts: LocalAlerts) -> Blueprint:
    api = Blueprint("alerts", __name__)

    @api.get("/api/alerts")
    def state():
        body = alerts.snapshot()
        since = request.args.get("since")
        if since is not None:
            if not since.isdigit() or not since.isascii():
                return jsonify(error="bad_request", message="since must be a sequence number (0 for all)"), 400
            body["events"] = alerts.events(int(since))
        return jsonify(body)

    return api
