"""Business panels: checkout success and p95, payment success, queue depth and outbox backlog, the
ledger's drift, statements per request; deploys from the change feed are marked on every chart. A tile
whose service is silent shows its stand-in's figure and names it ("from the prober's checkouts")."""

from __future__ import annotations

from markupsafe import Markup

from chaoslab.console.business import Figures
from chaoslab.console.panel import Context, Panel
from chaoslab.console.render import esc, ms, number, share, sparkline
from chaoslab.incident.mystery import redact

TILES: tuple[tuple[str, str, str], ...] = (
    # (figure, title, what it means)
    ("checkout_success", "Checkout success", "checkouts that did not fail (a declined card is an answer)"),
    ("checkout_p95_ms", "Checkout p95", "POST /checkout, service-a's own measure"),
    ("payment_success", "Payment success", "charges the gateway accepted"),
    ("queue_depth", "Queue depth", "paid orders waiting for the worker"),
    ("outbox_backlog", "Outbox backlog", "paid orders not yet published to the queue"),
    ("ledger_drift", "Ledger drift", "money requested minus money captured: anything but 0 is wrong"),
)


NONE_HAPPENED = {
    "checkout_success": ("checkouts", "no checkouts"),
    "checkout_p95_ms": ("checkouts", "no checkouts"),
    "payment_success": ("payments", "no charges"),
}
"""A share or a latency of nothing is no figure, yet a fact: what a tile says when its counter stood still."""


def _shown(figure: str, value: float | None, overall: Figures | None = None) -> str:
    if value is None and figure in NONE_HAPPENED and overall is not None:
        counter, said = NONE_HAPPENED[figure]
        if getattr(overall, counter) == 0:
            return said
    if figure in ("checkout_success", "payment_success"):
        return share(value)
    if figure == "checkout_p95_ms":
        return ms(value)
    if figure == "ledger_drift":
        return number(value, 2)
    return number(value)


def _bad(figure: str, value: float | None) -> bool:
    if value is None:
        return False
    return {
        "checkout_success": value < 0.99,
        "payment_success": value < 0.99,
        "checkout_p95_ms": value > 400,
        "ledger_drift": abs(value) >= 0.005,
        "queue_depth": value > 50,
        "outbox_backlog": value > 50,
    }[figure]


def render(ctx: Context) -> Markup:
    ctx.history.refresh(ctx.source.metrics)
    overall, series, silent = ctx.history.window(ctx.window_s)
    if overall is None:
        return Markup('<p class="muted">Collecting the services\' metrics (a few seconds)…</p>')
    end = series[-1][0] if series else 0.0
    start = end - ctx.window_s
    deploys = [(c["ts"], redact(f"{c.get('service', '')}: {c.get('summary', '')}")) for c in ctx.source.changes(start)]
    tiles = []
    for figure, title, meaning in TILES:
        value = getattr(overall, figure)
        points = [(t, getattr(f, figure)) for t, f in series]
        stand_in = overall.measured_by.get(figure)
        said = f'<div class="tile-source muted">from {esc(stand_in)}</div>' if stand_in else ""
        tiles.append(
            f'<div class="tile{" bad" if _bad(figure, value) else ""}{" stand-in" if stand_in else ""}" '
            f'data-figure="{figure}"><div class="tile-title" title="{esc(meaning)}">{esc(title)}</div>'
            f'<div class="tile-value">{esc(_shown(figure, value, overall))}</div>{said}'
            f"{sparkline(points, start, end, deploys)}</div>"
        )
    tiles.append(_statements(overall))
    warning = ""
    if silent:
        warning = f'<p class="alert-line">No /metrics answer from {esc(", ".join(sorted(silent)))} just now.</p>'
    return Markup(f'{warning}<div class="tiles">{"".join(tiles)}</div>')


def _statements(overall: Figures) -> str:
    routes = sorted(overall.statements_per_request.items(), key=lambda kv: -kv[1])[:3]
    rows = "".join(f"<tr><td>{esc(route)}</td><td>{value:g}</td></tr>" for route, value in routes)
    worst = routes[0][1] if routes else None
    stand_in = overall.measured_by.get("statements_per_request")
    said = f'<div class="tile-source muted">from {esc(stand_in)}</div>' if stand_in else ""
    return (
        f'<div class="tile{" bad" if worst is not None and worst > 10 else ""}{" stand-in" if stand_in else ""}" '
        'data-figure="statements"><div class="tile-title" title="PostgreSQL statements one request ran, per '
        'route: an N+1 query shows here">Queries per request</div>'
        f'<div class="tile-value">{esc(number(worst, 1))}</div>{said}'
        f'<table class="mini">{rows or "<tr><td class=muted>no requests</td></tr>"}</table></div>'
    )


PANEL = Panel("business", "Business", render, every_s=5.0, area="main")
