"""The console: the lab's service graph, its traces, its business figures and the incident in one page.

Server-rendered HTML and SVG, refreshed over Server-Sent Events; no front-end build and nothing
fetched from outside the lab (static/ holds the only script and style sheet). The pages read their
data through a ``Source`` (chaoslab/console/source.py), which each target's wing implements: locally
the lab daemon's own stores (chaoslab/local/console.py), on Kubernetes the platform's Jaeger and
Prometheus and the team's ConfigMaps (chaoslab/kubernetes/console.py).

Two audiences: the trainee's view shows what an on-call engineer would see (graph, traces, metrics,
alerts, the change feed) and never a fault, the scenario or anything from the fault journals; the
instructor's view (the lab's token) adds the active faults, the scenario and the hints given.

A panel is one module under chaoslab/console/panels/ and one line in its ``panels`` list.
"""

PREFIX = "/console"
"""Where the console is mounted on the host's HTTP API."""


def url(api: str, instructor: bool = False) -> str:
    """The console's address on a host whose API is at ``api`` (the trainee's view, or the instructor's)."""
    return f"{api.rstrip('/')}{PREFIX}/" + ("instructor" if instructor else "")
