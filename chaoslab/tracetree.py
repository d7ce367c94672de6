"""Renders a trace as an indented tree: service, operation, duration, status.

trace 4bf92f35…  POST /checkout  182.4 ms  ok  (14 spans: service-a, service-b, …)
└─ service-a  POST /checkout  182.4 ms
   ├─ service-a  /chaoslab.v1.Inventory/Reserve  120.1 ms
   │  └─ service-b  /chaoslab.v1.Inventory/Reserve  118.0 ms
"""

from __future__ import annotations


def _ms(span: dict) -> float:
    return max(0, span["end_ns"] - span["start_ns"]) / 1e6


def roots_and_children(spans: list[dict]) -> tuple[list[dict], dict[str, list[dict]]]:
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict]] = {}
    roots = []
    for span in sorted(spans, key=lambda s: s["start_ns"]):
        if span["parent_id"] and span["parent_id"] in ids:
            children.setdefault(span["parent_id"], []).append(span)
        else:
            roots.append(span)  # a true root, or a child whose parent has not arrived (yet)
    return roots, children


def render(spans: list[dict], *, show_db: bool = True) -> str:
    roots, children = roots_and_children(spans)
    first = roots[0]
    services = list(dict.fromkeys(s["service"] for s in sorted(spans, key=lambda s: s["start_ns"])))
    errors = sum(1 for s in spans if s["status"] == "error")
    still_open = sum(1 for s in spans if s.get("open"))
    status = f"{errors} error{'s' if errors != 1 else ''}" if errors else "ok"
    if still_open:
        status += f", {still_open} still open"
    end = max(s["end_ns"] for s in spans)
    start = min(s["start_ns"] for s in spans)
    lines = [
        f"trace {first['trace_id']}  {first['name']}  {(end - start) / 1e6:.1f} ms  {status}  "
        f"({len(spans)} spans: {', '.join(services)})"
    ]

    def visible(span: dict) -> bool:
        return show_db or not span["name"].startswith(("postgres ", "redis "))

    def walk(span: dict, prefix: str, last: bool) -> None:
        mark = "└─ " if last else "├─ "
        flag = ""
        if span["status"] == "error":
            flag = "  ERROR" + (f": {span['status_message']}" if span["status_message"] else "")
        took = f">= {_ms(span):.1f} ms, still open" if span.get("open") else f"{_ms(span):.1f} ms"
        lines.append(f"{prefix}{mark}{span['service']}  {span['name']}  {took}{flag}")
        kids = [k for k in children.get(span["span_id"], []) if visible(k)]
        for index, child in enumerate(kids):
            walk(child, prefix + ("   " if last else "│  "), index == len(kids) - 1)

    roots = [r for r in roots if visible(r)]
    for index, root in enumerate(roots):
        walk(root, "", index == len(roots) - 1)
    return "\n".join(lines)
