"""The public status page as HTML: a page a customer can read, refreshed every 30 s, styled inline so
it stands alone (it is the one console page meant to be linked from outside the team)."""

from __future__ import annotations

import time

from markupsafe import Markup

from chaoslab.console.render import esc

COLOURS = {
    "operational": "#1a7f37",
    "degraded performance": "#9a6700",
    "partial outage": "#bc4c00",
    "major outage": "#cf222e",
}
STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.6rem}.banner{padding:.8rem 1rem;border-radius:6px;color:#fff;font-weight:600}
ul{list-style:none;padding:0}li.component{display:flex;justify-content:space-between;
padding:.6rem 0;border-bottom:1px solid #d0d7de}.state{font-weight:600;text-transform:capitalize}
.incident{margin:1.5rem 0}.update{margin:.4rem 0 .4rem 1rem}.when{color:#59636e;font-size:.9rem}
"""


def _clock(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def status_html(doc: dict) -> str:
    worst = doc["status"]
    colour = COLOURS.get(worst, COLOURS["operational"] if worst == "all systems operational" else "#0969da")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='refresh' content='30'><meta name='viewport' content='width=device-width'>",
        f"<title>Shop status: {esc(worst)}</title><style>{STYLE}</style></head><body>",
        "<h1>Shop status</h1>",
        Markup("<p class='banner' style='background:{}'>{}</p>").format(colour, worst.capitalize()),
        "<ul>",
    ]
    for c in doc["components"]:
        parts.append(
            Markup(
                "<li class='component'><span>{} <span class='when'>({})</span></span>"
                "<span class='state' style='color:{}'>{}</span></li>"
            ).format(c["name"], c["description"], COLOURS[c["status"]], c["status"])
        )
    parts.append("</ul>")
    if not doc["incidents"]:
        parts.append("<p>No incidents in the last day.</p>")
    for i in doc["incidents"]:
        parts.append(
            Markup("<section class='incident'><h2>{}</h2><p><span class='state'>{}</span> · since {}{}</p>").format(
                i["title"],
                i["state"],
                _clock(i["started_at"]),
                Markup(" · resolved {}").format(_clock(i["resolved_at"])) if i["resolved_at"] else "",
            )
        )
        for u in i["updates"]:
            parts.append(
                Markup("<p class='update'><span class='when'>{}</span><br>{}</p>").format(_clock(u["at"]), u["text"])
            )
        parts.append("</section>")
    parts.append(Markup("<p class='when'>Updated {}</p></body></html>").format(_clock(doc["generated_at"])))
    return "".join(str(p) for p in parts)
