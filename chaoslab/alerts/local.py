"""The local lab's Prometheus: the lab daemon scrapes every service and evaluates the alert rules.

``LocalAlerts`` runs one loop in the daemon: every ``interval_s`` it scrapes each service's /metrics
(in parallel, each within the interval) and the synthetic prober's results (chaoslab/alerts/synthetic.py,
which the daemon runs in its own process), then evaluates every rule of chaoslab/alerts/definitions.py
at that instant. It keeps only the series the rules read and only as far back as their longest window,
so its memory is bounded however long the lab runs. The daemon hands it the scrape targets
from its own supervisor (one source for ports), and serves ``snapshot()`` and ``events()`` on
``GET /api/alerts`` (chaoslab/alerts/api.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from chaoslab.alerts import promql
from chaoslab.alerts.evaluator import Evaluator
from chaoslab.alerts.history import History
from chaoslab.alerts.rules import Rule
from chaoslab.alerts.scrape import Scraper, Target
from chaoslab.alerts.synthetic import SyntheticProber

log = logging.getLogger("chaoslab.alerts")


def wanted_by(rules: list[Rule]) -> tuple[set[str], Callable[[dict[str, str]], bool]]:
    """The metric names the rules read, and a test keeping only samples some selector matches."""
    selectors = [s for rule in rules for s in promql.selectors(rule.ast)]
    by_name: dict[str, list[list[promql.Matcher]]] = {}
    for selector in selectors:
        by_name.setdefault(selector.name, []).append(list(selector.matchers))

    def wanted(labels: dict[str, str]) -> bool:
        return any(all(m.matches(labels) for m in matchers) for matchers in by_name.get(labels["__name__"], ()))

    return set(by_name) | {"up"}, wanted


class LocalAlerts:
    def __init__(
        self,
        targets: Callable[[], list[Target]],
        rules: list[Rule],
        interval_s: float = 5.0,
        prober: SyntheticProber | None = None,
    ):
        """``prober``'s current results are shown in ``snapshot()`` (its samples come in as a target's)."""
        self.targets = targets
        self.prober = prober
        self.listeners: list[Callable[[dict], None]] = []
        self.delivered = 0
        self.rules = rules
        self.interval_s = interval_s
        names, wanted = wanted_by(rules)
        longest = max(promql.longest_range_ms(rule.ast) for rule in rules)
        self.history = History(retention_ms=longest + int(2 * interval_s * 1000), wanted=wanted)
        self.scraper = Scraper(self.history, names, timeout_s=max(0.5, interval_s * 0.8))
        self.evaluator = Evaluator(rules)
        self.scrapes: dict[str, dict] = {}

    def subscribe(self, listener: Callable[[dict], None]) -> None:
        """Tell ``listener`` every transition once, in order, after the round that made it; listeners
        are told in the order they subscribed (the daemon's incident desk first, so a page has opened
        its incident before the shadow on-call looks). One that raises is logged; the rest are told."""
        self.listeners.append(listener)

    def round(self) -> None:
        """One scrape of every target (samples stamped with the scrape's start), then one evaluation."""
        scraped_ms = int(time.time() * 1000)
        targets = self.targets()
        errors = self.scraper.scrape(targets, scraped_ms)
        self.scrapes = {  # replaced whole: the API thread may be reading the previous one
            t.service: {"url": t.url, "up": errors[t.service] is None, "error": errors[t.service]} for t in targets
        }
        self.evaluator.evaluate(self.history, int(time.time() * 1000))
        self.history.forget_before(scraped_ms)
        for event in self.evaluator.events(self.delivered):
            self.delivered = event.seq
            for listener in self.listeners:
                try:
                    listener(asdict(event))
                except Exception:  # an incident record that cannot be written must not stop the paging
                    log.exception("alert %s: a listener failed", event.alert)

    def run(self, stopping: threading.Event) -> None:
        """Scrape and evaluate every interval until ``stopping`` is set; one failing round is logged, not fatal."""
        log.info("alert evaluation: %d rules every %gs", len(self.rules), self.interval_s)
        next_round = time.monotonic()
        while not stopping.is_set():
            try:
                self.round()
            except Exception:
                log.exception("alert evaluation round failed")
            next_round += self.interval_s
            stopping.wait(max(0.0, next_round - time.monotonic()))
        self.scraper.close()

    def snapshot(self, include_resolved: bool = True) -> dict:
        alerts = [a.to_json() for a in self.evaluator.alerts() if include_resolved or a.state != "resolved"]
        events = self.evaluator.events()
        return {
            "interval_s": self.interval_s,
            "evaluated_at": self.evaluator.last_evaluation,
            "rules": len(self.rules),
            "series": len(self.history),
            "targets": self.scrapes,
            "probes": self.prober.results() if self.prober is not None else {},
            "rule_errors": dict(self.evaluator.errors),
            "alerts": alerts,
            "last_seq": events[-1].seq if events else 0,
        }

    def events(self, since: int = 0) -> list[dict]:
        return [asdict(event) for event in self.evaluator.events(since)]
