"""The platform's Prometheus as the Kubernetes target reads it: its alerts (GET /api/v1/alerts), for the
console (a team's pages reach its record through Alertmanager: chaoslab.kubernetes.receiver).

Prometheus is reached directly (the console and the pager run in the cluster), never through a proxy
from the environment: ``DIRECT`` ignores one, and chaoslab.kubernetes.alertmanager uses it too.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from chaoslab.errors import ChaoslabError

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""An opener that ignores proxies from the environment: every address here is in the cluster."""


class PrometheusUnreachable(ChaoslabError):
    """Prometheus did not answer: nothing is paged this time, nothing is lost (the next run catches up)."""


def alerts(prometheus_url: str, timeout_s: float = 5.0) -> list[dict]:
    """Every alert Prometheus holds (pending and firing); PrometheusUnreachable when it does not answer."""
    url = f"{prometheus_url.rstrip('/')}/api/v1/alerts"
    try:
        with DIRECT.open(url, timeout=timeout_s) as answer:
            found = json.loads(answer.read())["data"]["alerts"]
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as exc:
        raise PrometheusUnreachable(f"Prometheus at {url} did not answer: {exc}") from None
    return [a for a in found if isinstance(a, dict)]
