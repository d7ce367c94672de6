"""Small HTML helpers shared by the panels: escaping, number formats, a sparkline.

Everything printed from data goes through ``esc`` (markupsafe, Flask's own): a span attribute or a
journal line can hold any text."""

from __future__ import annotations

import time
from collections.abc import Sequence

from markupsafe import Markup, escape

esc = escape


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 10_000:
        return f"{value / 1000:.0f} s"
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def share(value: float | None) -> str:
    if value is None:
        return "–"
    percent = value * 100
    return f"{percent:.0f}%" if percent >= 10 or percent == 0 else f"{percent:.1f}%"


def rate(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}/s" if value >= 10 else f"{value:.1f}/s"


def number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def ago(ts: float, now: float | None = None) -> str:
    seconds = max(0, (now or time.time()) - ts)
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def sparkline(
    points: Sequence[tuple[float, float | None]],
    start: float,
    end: float,
    markers: Sequence[tuple[float, str]] = (),
    width: int = 220,
    height: int = 44,
    floor: float | None = 0.0,
) -> Markup:
    """An inline SVG line of (time, value) points between ``start`` and ``end``; gaps where a value is
    None; ``markers`` (time, label) are vertical lines (deploys from the change feed)."""
    span = max(end - start, 1e-9)
    values = [v for _, v in points if v is not None]
    low = min(values + ([floor] if floor is not None else [])) if values else 0.0
    high = max(values) if values else 1.0
    if high - low < 1e-9:
        high = low + 1.0

    def x(t: float) -> float:
        return (t - start) / span * (width - 2) + 1

    def y(v: float) -> float:
        return height - 3 - (v - low) / (high - low) * (height - 6)

    segments, current = [], []
    for t, v in points:
        if v is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(f"{x(t):.1f},{y(v):.1f}")
    if current:
        segments.append(current)
    lines = "".join(f'<polyline points="{" ".join(seg)}"/>' for seg in segments if len(seg) > 1)
    dots = "".join(f'<circle cx="{seg[0].split(",")[0]}" cy="{seg[0].split(",")[1]}" r="1.5"/>' for seg in segments)
    marks = "".join(
        f'<line class="deploy" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="0" y2="{height}"><title>{esc(label)}</title></line>'
        for t, label in markers
        if start <= t <= end
    )
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
        f"{marks}{lines}{dots}</svg>"
    )
