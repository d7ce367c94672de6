"""Where each node of the service graph sits: fixed places, so the picture never jumps between updates.

The lab's components have hand-placed spots in a left-to-right flow (callers left of callees, the
ring's services on top, datastores at the bottom); edges are drawn as gentle curves that bow to their
left, so the ring's back edge (service-c → service-a) and any pair of opposite edges never overlap.
A node the layout does not know (a callee named only by a span attribute) takes the next free spot in
a column on the right, in order of first appearance, and keeps it.
"""

from __future__ import annotations

import math

from chaoslab.servicegraph import CLIENT, UNKNOWN

WIDTH, HEIGHT = 980, 560
NODE_R = 26

PLACES: dict[str, tuple[float, float]] = {
    CLIENT: (70, 240),
    "service-a": (250, 240),
    "service-b": (450, 100),
    "service-c": (680, 100),
    "payment": (450, 240),
    "gateway": (680, 240),
    "worker": (640, 400),
    "redis": (300, 480),
    "postgres": (560, 490),
}
SPARE_COLUMN_X = 880


class Layout:
    """Positions by node name; unknown nodes are placed once and keep their spot."""

    def __init__(self) -> None:
        self._extra: dict[str, tuple[float, float]] = {}

    def place(self, name: str) -> tuple[float, float]:
        if name in PLACES:
            return PLACES[name]
        if name not in self._extra:
            index = len(self._extra)
            self._extra[name] = (SPARE_COLUMN_X, 80 + 90 * (index % 5)) if name != UNKNOWN else (SPARE_COLUMN_X, 500)
        return self._extra[name]


def curve(
    start: tuple[float, float], end: tuple[float, float], bend: float = 0.15, label_at: float = 0.5
) -> tuple[str, tuple[float, float]]:
    """An SVG path from node edge to node edge bowing left of its direction, and the point ``label_at``
    of the way along it (for a label)."""
    (x1, y1), (x2, y2) = start, end
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    nx, ny = dy / length, -dx / length  # left of the direction of travel (SVG's y points down)
    cx, cy = (x1 + x2) / 2 + nx * bend * length, (y1 + y2) / 2 + ny * bend * length
    sx, sy = _towards((x1, y1), (cx, cy), NODE_R + 2)
    ex, ey = _towards((x2, y2), (cx, cy), NODE_R + 6)
    t = label_at
    point = (
        (1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t**2 * ex,
        (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t**2 * ey,
    )
    return f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}", point


def _towards(point: tuple[float, float], target: tuple[float, float], distance: float) -> tuple[float, float]:
    (x, y), (tx, ty) = point, target
    length = math.hypot(tx - x, ty - y) or 1.0
    return x + (tx - x) / length * distance, y + (ty - y) / length * distance
