"""One render loop per view, shared by every stream watching it: the panels are rendered as they fall
due whatever the number of watchers, each watcher gets every frame, and the loop stops with the last."""

from __future__ import annotations

import threading

from markupsafe import Markup

from chaoslab.console.broadcast import Broadcast
from chaoslab.console.panel import Panel
from support import poll_until


def test_thirty_watchers_cost_what_one_does_and_the_loop_stops_with_the_last():
    ticks = {"n": 0}

    def draw(panel: Panel) -> str:
        ticks["n"] += 1
        return f"{panel.id} {ticks['n']}"

    panel = Panel("graph", "Graph", lambda ctx: Markup(""), every_s=0.05)
    shared = Broadcast([panel], draw, tick_s=0.01)
    got: dict[int, list[str]] = {i: [] for i in range(30)}

    def watch(i: int) -> None:
        seen = 0
        while len(got[i]) < 5:
            seen, frames = shared.wait(seen, timeout_s=5)
            got[i].append(frames["graph"])

    for _ in range(30):
        shared.join()
    watchers = [threading.Thread(target=watch, args=(i,)) for i in range(30)]
    for w in watchers:
        w.start()
    for w in watchers:
        w.join(timeout=30)
    assert all(len(frames) == 5 for frames in got.values())
    assert all(len(set(frames)) == 5 for frames in got.values())  # five different frames each, in order
    assert shared.renders == shared.version  # each render one frame for all thirty, none per watcher
    for _ in range(30):
        shared.leave()
    poll_until(lambda: shared._thread is None, "the loop to stop once nobody watches", timeout=5, interval=0.02)
    stopped = shared.renders
    shared.join()  # a new watcher starts it again
    poll_until(lambda: shared.renders > stopped, "the loop to start again", timeout=5, interval=0.02)
    shared.leave()
