"""Where each node of the service graph sits: fixed places, so the picture never jumps between updates.

The lab's components have hand-placed spots in a left-to-right flow (callers left of callees, the
ring's services on top, datastores at the bottom); edges are drawn as gentle curves that bow to their
left, so the ring's back edge (service-c → service-a) and any pair of opposite edges never overlap.
A node the layout does not know (a callee named only by a span attribute) takes the next free spot in
a column on the right, in order of first appearance, and keeps it.

Edge labels are placed, not hoped for: each takes the first spot along or beside its edge where its box
(estimated from its text and font, never narrower than drawn) overlaps no node, no name and no label
placed before it (``place_label``); the shortest edges choose first, and a label still overlapping
something looks again with the others in place (chaoslab.console.panels.graph.labels). Projection
mode (``PRESENT``) draws larger text with the same rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chaoslab.servicegraph import CLIENT, UNKNOWN

WIDTH, HEIGHT = 980, 560
NODE_R = 26


@dataclass(frozen=True)
class Fonts:
    """Text sizes of the graph, in the drawing's own units."""

    label: float
    """An edge's figures and badges."""
    name: float
    """A node's name (and its process state under it)."""
    inner: float
    """The rate inside a node."""


NORMAL = Fonts(label=13, name=16, inner=12)
PRESENT = Fonts(label=14, name=17.5, inner=13)
"""Projection: the drawing fills a 1280×720 projector at about 1.2× its units (the header takes 40 px), so
an edge's figures come out at 17 px and a node's name at 21 px, readable from the back of a room."""
CHAR_EM = 0.64
"""The widest average glyph width of the fonts a browser falls back to for system-ui (DejaVu Sans's digits:
0.636 em), so an estimated box is never narrower than the text drawn in it."""
LINE_EM = 1.25


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    def overlaps(self, other: Box) -> bool:
        return (
            self.left < other.right and other.left < self.right and self.top < other.bottom and other.top < self.bottom
        )

    @property
    def inside(self) -> bool:
        return self.left >= 0 and self.top >= 0 and self.right <= WIDTH and self.bottom <= HEIGHT


def text_box(x: float, top: float, lines: list[str], size: float) -> Box:
    """The box of ``lines`` centred on ``x``, their first line's top at ``top``."""
    width = max((len(line) for line in lines), default=0) * CHAR_EM * size + 4
    return Box(x - width / 2, top, x + width / 2, top + len(lines) * size * LINE_EM)


def node_boxes(place: tuple[float, float], name: str, state: str, fonts: Fonts) -> list[Box]:
    """What a node draws: its circle, its name under it and its process state under that."""
    x, y = place
    boxes = [Box(x - NODE_R - 2, y - NODE_R - 2, x + NODE_R + 2, y + NODE_R + 2)]
    lines = [name] + ([state] if state else [])
    boxes.append(text_box(x, y + NODE_R + 2, lines, fonts.name))
    return boxes


def name_baseline(place: tuple[float, float], fonts: Fonts, line: int = 0) -> float:
    """Where the ``line``-th text under a node sits (its baseline), inside ``node_boxes``'s box."""
    return place[1] + NODE_R + 2 + fonts.name * (LINE_EM * line + 1.0)


OFFSETS = (0.0, -1.0, 1.0, -2.0, 2.0, -3.0, 3.0, -4.0, 4.0, -5.0, 5.0)
"""Where a label may sit across its edge, in lines of text (0: on the curve)."""
ALONG = tuple(round(0.1 + 0.05 * i, 2) for i in range(17))
"""And along it, as a share of the way from caller to callee (the nearest to its preferred share first)."""


def place_label(
    path: tuple[tuple[float, float], tuple[float, float], float],
    lines: list[str],
    size: float,
    taken: list[Box],
    prefer: float = 0.5,
) -> tuple[float, float, Box]:
    """A spot for an edge's label where its box overlaps no box in ``taken`` and stays in the drawing:
    the first free one near ``prefer`` along the edge, then further along and across it. Returns (x,
    the top of the first line, its box); with no free spot, the one that overlaps least."""
    start, end, bend = path
    along = sorted(ALONG, key=lambda t: abs(t - prefer))
    best: tuple[float, float, float, Box] | None = None
    for offset in OFFSETS:
        for t in along:
            (px, py), (nx, ny) = point_and_normal(start, end, bend, t)
            shift = offset * size * LINE_EM
            x, middle = px + nx * shift, py + ny * shift
            height = len(lines) * size * LINE_EM
            box = text_box(x, middle - height / 2, lines, size)
            clash = sum(_area(box, other) for other in taken if box.overlaps(other)) + (0 if box.inside else 1e6)
            if clash == 0:
                return x, box.top, box
            if best is None or clash < best[0]:
                best = (clash, x, box.top, box)
    assert best is not None
    return best[1], best[2], best[3]


def _area(a: Box, b: Box) -> float:
    return (min(a.right, b.right) - max(a.left, b.left)) * (min(a.bottom, b.bottom) - max(a.top, b.top))


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


def _controls(start: tuple[float, float], end: tuple[float, float], bend: float):
    """The quadratic curve's three points: from node edge to node edge, bowing left of its direction."""
    (x1, y1), (x2, y2) = start, end
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    nx, ny = dy / length, -dx / length  # left of the direction of travel (SVG's y points down)
    cx, cy = (x1 + x2) / 2 + nx * bend * length, (y1 + y2) / 2 + ny * bend * length
    return _towards((x1, y1), (cx, cy), NODE_R + 2), (cx, cy), _towards((x2, y2), (cx, cy), NODE_R + 6)


def curve(start: tuple[float, float], end: tuple[float, float], bend: float = 0.15) -> str:
    """An SVG path from node edge to node edge bowing left of its direction."""
    (sx, sy), (cx, cy), (ex, ey) = _controls(start, end, bend)
    return f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}"


def point_and_normal(
    start: tuple[float, float], end: tuple[float, float], bend: float, t: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The point ``t`` of the way along ``curve`` and the unit normal there (to the curve's left)."""
    (sx, sy), (cx, cy), (ex, ey) = _controls(start, end, bend)
    point = (
        (1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t**2 * ex,
        (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t**2 * ey,
    )
    tx, ty = 2 * (1 - t) * (cx - sx) + 2 * t * (ex - cx), 2 * (1 - t) * (cy - sy) + 2 * t * (ey - cy)
    length = math.hypot(tx, ty) or 1.0
    return point, (ty / length, -tx / length)


def _towards(point: tuple[float, float], target: tuple[float, float], distance: float) -> tuple[float, float]:
    (x, y), (tx, ty) = point, target
    length = math.hypot(tx - x, ty - y) or 1.0
    return x + (tx - x) / length * distance, y + (ty - y) / length * distance
