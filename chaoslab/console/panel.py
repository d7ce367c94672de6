"""A console panel's contract: the ``Context`` it renders from and the ``Panel`` it declares (each panel
module under chaoslab/console/panels/ defines one ``PANEL``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup

from chaoslab.console.business import MetricsHistory
from chaoslab.console.layout import Layout
from chaoslab.console.source import Source

TRAINEE, INSTRUCTOR = "trainee", "instructor"


@dataclass
class Context:
    """What a panel may read while it renders."""

    source: Source
    window_s: float
    instructor: bool
    history: MetricsHistory
    layout: Layout
    present: bool = False
    """Projection mode: the graph drawn for a room's screen (larger text)."""
    now: Callable[[], float] = time.time
    """The page's clock: wall time, or the replay's position in a recording."""


@dataclass(frozen=True)
class Panel:
    id: str
    title: str
    render: Callable[[Context], Markup]
    every_s: float = 5.0
    audience: str = TRAINEE
    area: str = "side"
    """Where on the page: main (under the graph), side (right column), graph (the graph itself)."""

    def visible_to(self, instructor: bool) -> bool:
        return instructor or self.audience == TRAINEE
