"""The one definition of the lab's SLOs and alerts: every rule Prometheus and the lab daemon evaluate.

Two kinds of alerts, both ending up as ``Rule`` objects (``RULES``):

* **SLO alerts**, Sloth/Pyrra style: an ``SLO`` names its good and bad events as PromQL and an
  objective (events the services count, or the synthetic prober's probes of the front door,
  chaoslab/alerts/synthetic.py, so that a front door too hung to answer its own /metrics still pages
  P1); each gets the Google SRE Workbook's multi-window, multi-burn-rate alerts (ch. 5): page
  when the budget burns 14.4× too fast over both a long and a short window, ticket at 6×. The
  Workbook's windows (1 h / 5 min and 6 h / 30 min) are scaled down so a drill of a few minutes
  pages within 90 s; the short windows stay at or above 30 s so a 5 s scrape interval gives them
  enough samples.
* **Alerts on causes and saturation** (a service down or restarting, a queue backing up, the ledger
  drifting, CPU and memory, the prober itself down), written as PromQL directly. ``per_service``
  alerts are expanded into one rule per component, so each carries its service's owner team (from
  chaoslab/topology.py) without needing an owner label on the metrics.

Every alert has a tier (chaoslab/alerts/tiers.py), a ``for:`` window, an owner team, a runbook under
docs/runbooks/ and a summary with the value. Thresholds were sized with bench/alert_timing.py: each
catalogue scenario's primary alert fires within 90 s under the scenario's own load, and ten minutes
of baseline load fire nothing above P4.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaoslab.alerts import matchers
from chaoslab.alerts.rules import Rule
from chaoslab.alerts.synthetic import SUCCESS
from chaoslab.alerts.templates import render
from chaoslab.chaos.scenarios import ScenarioError
from chaoslab.telemetry import names
from chaoslab.topology import COMPONENTS, FRONT_DOOR, PROBER, component, owner

TEAM = ("team", "namespace")
"""Every alert is per team: ``team`` is on every sample, ``namespace`` comes from Kubernetes (absent locally)."""


def _by(*labels: str) -> str:
    return ", ".join((*labels, *TEAM))


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window burn-rate alert of every SLO."""

    suffix: str
    factor: float
    """How many times faster than sustainable the budget burns."""
    long: str
    short: str
    for_s: float
    page: bool
    """Page with the SLO's tier, or file a P3 ticket."""
    workbook: str
    """The unscaled windows, for the docs."""


BURN_WINDOWS = (
    BurnWindow("FastBurn", 14.4, "2m", "30s", 15, page=True, workbook="1h and 5m"),
    BurnWindow("SlowBurn", 6.0, "10m", "1m", 60, page=False, workbook="6h and 30m"),
)


@dataclass(frozen=True)
class SLO:
    name: str
    """CamelCase; the alerts are NameFastBurn and NameSlowBurn."""
    objective: float
    """Share of events that must be good, e.g. 0.99."""
    service: str
    """Whose SLO it is: the owner team comes from the topology."""
    bad: str
    """PromQL rate of bad events per team, with ``{w}`` where the window goes."""
    total: str
    """PromQL rate of all events per team, with ``{w}``."""
    events: str
    """What an event is, in a sentence: "checkouts that answer 5xx"."""
    severity: str
    """The page's tier; slow burns are always P3 tickets."""
    runbook: str
    headline: str
    """What is wrong, for an incident's title (``Rule.headline``)."""
    quorum: int = 0
    """Fewest events the long window must hold before a burn alerts, where ``total`` counts events (the
    probes'): a lab's first checkout probe is slow on a busy host, and one failure in its first five
    probes is a 20% "burn" of nothing but a cold start."""

    @property
    def slug(self) -> str:
        return "".join("-" + c.lower() if c.isupper() else c for c in self.name).lstrip("-")

    def ratio(self, window: str) -> str:
        return f"(\n  {self.bad.replace('{w}', window)}\n/\n  {self.total.replace('{w}', window)}\n)"

    def rules(self) -> list[Rule]:
        out = []
        for burn in BURN_WINDOWS:
            threshold = round(burn.factor * (1 - self.objective), 6)
            expr = f"{self.ratio(burn.long)} > {threshold:g}\nand\n{self.ratio(burn.short)} > {threshold:g}"
            enough = ""
            if self.quorum:
                expr += f"\nand\n{self.total.replace('{w}', burn.long)} >= {self.quorum}"
                enough = f" It needs {self.quorum} events or more in the {burn.long} window."
            budget = f"{1 - self.objective:.2%}".replace(".00%", "%")
            out.append(
                Rule(
                    alert=self.name + burn.suffix,
                    expr=expr,
                    for_s=burn.for_s,
                    severity=self.severity if burn.page else "P3",
                    owner=owner(self.service),
                    runbook=self.runbook,
                    summary=(
                        f"{{{{ $value | humanizePercentage }}}} of {self.events} over {burn.long} "
                        f"(budget {budget}, burning {burn.factor:g}x too fast; team {{{{ $labels.team }}}})"
                    ),
                    description=(
                        f"SLO {self.slug}: {self.objective:.1%} good over time. Both the {burn.long} and the "
                        f"{burn.short} window are above {threshold:.2%} ({burn.factor:g}x the error budget; the "
                        f"Workbook's {burn.workbook}, scaled for drills).{enough}"
                    ),
                    group="chaoslab.slo",
                    labels={"slo": self.slug},
                    headline=self.headline,
                )
            )
        return out


def _rate(metric: str, matchers: str, *by: str) -> str:
    return f"sum by ({_by(*by)}) (rate({metric}{{{matchers}}}[{{w}}]))"


CHECKOUT = 'service="service-a", route="/checkout"'
CHECKOUT_SLOW_S = 0.5
"""A checkout slower than this is a bad event of the latency SLO (a bucket of the request histogram), and
what an incident's impact counts as affected (chaoslab.incident.impact)."""

PROBES = f'service="{PROBER.name}"'
"""The synthetic prober's samples, whoever probes: the lab's own prober (scraped by the ``chaoslab`` job,
locally by the lab daemon) or the blackbox exporter (through its /probe jobs); each carries ``journey``."""


def _probes(function: str) -> str:
    return f"{function}({SUCCESS}{{{PROBES}}}[{{w}}])"


SLOS = (
    # A probe is a gauge sample (1 or 0, the blackbox exporter's way), so the events are samples: all
    # of them in the window, and those that were not 1. A probe that could not even connect is a 0.
    SLO(
        "JourneyAvailability",
        0.99,
        FRONT_DOOR,
        bad=f"sum by ({_by('journey')}) ({_probes('count_over_time')} - {_probes('sum_over_time')})",
        total=f"sum by ({_by('journey')}) ({_probes('count_over_time')})",
        events="synthetic {{ $labels.journey }} probes fail or time out",
        severity="P1",
        runbook="front-door",
        headline="Shoppers cannot {{ $labels.journey }}: the front door fails or hangs",
        quorum=12,  # a minute of probes, one every 5 s
    ),
    SLO(
        "CheckoutAvailability",
        0.99,
        "service-a",
        bad=_rate(names.HTTP_REQUESTS_TOTAL, CHECKOUT + ', status=~"5.."'),
        total=_rate(names.HTTP_REQUESTS_TOTAL, CHECKOUT),
        events="checkouts fail with 5xx",
        severity="P1",
        runbook="checkout-errors",
        headline="Checkouts fail",
    ),
    SLO(
        "CheckoutLatency",
        0.99,
        "service-a",
        bad=(
            "(\n    "
            + _rate(f"{names.HTTP_DURATION}_count", CHECKOUT)
            + "\n  -\n    "
            + _rate(f"{names.HTTP_DURATION}_bucket", CHECKOUT + f', le="{CHECKOUT_SLOW_S:g}"')
            + "\n  )"
        ),
        total=_rate(f"{names.HTTP_DURATION}_count", CHECKOUT),
        events=f"checkouts take longer than {CHECKOUT_SLOW_S * 1000:g}ms",
        severity="P2",
        runbook="high-latency",
        headline="Checkouts are slow",
    ),
    SLO(
        "PaymentSuccess",
        0.99,
        "payment",
        bad=_rate(names.PAYMENT_PROCESSED_TOTAL, 'service="payment", status="failed"'),
        total=_rate(names.PAYMENT_PROCESSED_TOTAL, 'service="payment", status=~"succeeded|failed"'),
        events="charges fail (declines excluded)",
        severity="P1",
        runbook="payment-failures",
        headline="Payments fail",
    ),
)


def per_service(
    alert: str,
    expr: str,
    for_s: float,
    severity: str,
    runbook: str,
    summary: str,
    description: str,
    headline: str,
    services: tuple[str, ...] = tuple(c.name for c in COMPONENTS),
) -> list[Rule]:
    """One rule per service (``{service}`` in the texts, ``{role}`` too in the description), each owned by
    that service's team."""
    return [
        Rule(
            alert,
            expr.replace("{service}", name),
            for_s,
            severity,
            owner(name),
            runbook,
            summary.replace("{service}", name),
            description.replace("{service}", name).replace("{role}", component(name).role),
            group="chaoslab.services",
            labels={"service": name},  # the sample has it too; as a rule label it tells the rules apart
            headline=headline.replace("{service}", name),
        )
        for name in services
    ]


SERVICE_RULES = [
    *per_service(
        "TargetDown",
        f'avg by ({_by("service")}) (avg_over_time(up{{job="chaoslab", service="{{service}}"}}[1m])) < 0.5',
        30,
        "P2",
        "service-down",
        "{service} answered {{ $value | humanizePercentage }} of its scrapes in the last minute "
        "(team {{ $labels.team }})",
        "{service} ({role}) does not answer /metrics: it is down, restarting, or every handler is busy.",
        "{service} is not answering",
    ),
    *per_service(
        "ServiceRestarting",
        f'sum by ({_by("service")}) (changes({names.START_TIME}{{job="chaoslab", service="{{service}}"}}[5m])) >= 1',
        0,
        "P2",
        "service-down",
        "{service} restarted {{ $value }} time(s) in 5 minutes (team {{ $labels.team }})",
        "{service} ({role}) started again with a new process: it crashed, was killed, or was restarted.",
        "{service} keeps restarting",
    ),
    *per_service(
        "HighCPU",
        f'sum by ({_by("service")}) (rate({names.CPU_SECONDS_TOTAL}{{job="chaoslab", service="{{service}}"}}[1m])) '
        "> 0.5",
        30,
        "P4",
        "cpu-and-memory",
        '{service} uses {{ $value | printf "%.2f" }} CPU cores (team {{ $labels.team }})',
        "{service} ({role}) has been busy for a minute. Busy is not broken: check whether its requests got slower.",
        "{service} is busy on CPU",
    ),
    *per_service(
        "MemoryHigh",
        f'max by ({_by("service")}) ({names.RESIDENT_MEMORY}{{job="chaoslab", service="{{service}}"}}) > 200e6',
        30,
        "P3",
        "cpu-and-memory",
        "{service} holds {{ $value | humanize }}B of memory (team {{ $labels.team }})",
        "{service} ({role}) is above 200 MB resident; every service idles well under 100 MB.",
        "{service} holds too much memory",
    ),
    *per_service(
        "CircuitBreakerOpen",
        f'max by ({_by("service", "peer")}) (avg_over_time({names.BREAKER_OPEN}{{service="{{service}}"}}[1m])) > 0.3',
        30,
        "P3",
        "circuit-breaker",
        "{service}'s circuit breaker on {{ $labels.peer }} was open {{ $value | humanizePercentage }} of the last "
        "minute: it fails fast (team {{ $labels.team }})",
        "The breaker half-opens every few seconds to try the peer and opens again while the peer keeps "
        "failing, so it is never open for a whole minute; the peer is the one to look at.",
        "{service} fails fast on {{ $labels.peer }}: its circuit breaker is open",
        services=("payment", "service-c"),
    ),
]


def _dependency_errors(peer: str) -> str:
    """More than half of the calls each service makes to ``peer`` fail, over a minute."""
    failing = _rate(names.OUTBOUND_REQUESTS_TOTAL, f'peer="{peer}", outcome!="ok"', "service").replace("{w}", "1m")
    every = _rate(names.OUTBOUND_REQUESTS_TOTAL, f'peer="{peer}"', "service").replace("{w}", "1m")
    return f"(\n  {failing}\n/\n  {every}\n) > 0.5"


BUSINESS_RULES = [  # dependencies and the business flows: orders to fulfilment, money to the ledger
    Rule(
        "DatabaseErrors",
        _dependency_errors("postgres"),
        30,
        "P2",
        owner("postgres"),
        "database",
        "{{ $value | humanizePercentage }} of {{ $labels.service }}'s PostgreSQL calls fail (team {{ $labels.team }})",
        "More than half of a service's statements fail or time out: PostgreSQL is down, unreachable, or out of "
        "connections.",
        group="chaoslab.dependencies",
        headline="{{ $labels.service }} cannot use the database",
    ),
    Rule(
        "RedisErrors",
        _dependency_errors("redis"),
        30,
        "P2",
        owner("redis"),
        "worker-and-queue",
        "{{ $value | humanizePercentage }} of {{ $labels.service }}'s Redis calls fail (team {{ $labels.team }})",
        "More than half of a service's Redis commands fail: the fulfilment queue is unreachable.",
        group="chaoslab.dependencies",
        headline="{{ $labels.service }} cannot reach Redis",
    ),
    Rule(
        "QueriesPerRequestHigh",
        f"(\n  sum by ({_by('route')}) "
        f'(rate({names.HTTP_DB_STATEMENTS}_sum{{service="service-a", route!="/checkout"}}[1m]))\n/\n'
        f"  sum by ({_by('route')}) "
        f'(rate({names.HTTP_DB_STATEMENTS}_count{{service="service-a", route!="/checkout"}}[1m]))\n) > 8',
        30,
        "P3",
        owner("service-a"),
        "database",
        "{{ $labels.route }} runs {{ $value | humanize }} PostgreSQL statements per request (team {{ $labels.team }})",
        "A read route of service-a runs many statements per request (it needs one or two): an N+1 query.",
        group="chaoslab.dependencies",
        headline="{{ $labels.route }} runs too many database queries per request",
    ),
    Rule(
        "QueueBacklog",
        f'sum by ({_by()}) ({names.QUEUE_DEPTH}{{service="worker"}}) > 50',
        30,
        "P2",
        owner("worker"),
        "worker-and-queue",
        "{{ $value }} paid orders wait on the fulfilment queue (team {{ $labels.team }})",
        "The worker takes orders off the queue more slowly than checkouts put them on: paid orders do not ship.",
        group="chaoslab.fulfilment",
        headline="Paid orders are not shipping: the fulfilment queue backs up",
    ),
    Rule(
        "OutboxBacklog",
        f'sum by ({_by()}) ({names.OUTBOX_BACKLOG}{{service="service-a"}}) > 20',
        30,
        "P2",
        owner("service-a"),
        "worker-and-queue",
        "{{ $value }} paid orders are not yet on the fulfilment queue (team {{ $labels.team }})",
        "service-a's outbox relay cannot publish paid orders to the Redis stream; they wait, safe, in the outbox.",
        group="chaoslab.fulfilment",
        headline="Paid orders are stuck before the fulfilment queue",
    ),
    Rule(
        "LedgerDrift",
        f'sum by ({_by("currency")}) (abs({names.LEDGER_DRIFT}{{service="payment"}})) > 0\n'
        f'and\nsum by ({_by("currency")}) (changes({names.LEDGER_DRIFT}{{service="payment"}}[5m])) > 0',
        0,
        "P3",
        owner("payment"),
        "ledger-drift",
        'The ledger differs from the amounts charged by {{ $value | printf "%.2f" }} {{ $labels.currency }} '
        "and still moves (team {{ $labels.team }})",
        "payment captured a different amount than it was asked to charge, in the last 5 minutes: money math.",
        group="chaoslab.fulfilment",
        headline="The ledger does not match the amounts charged",
    ),
]

SYNTHETIC_RULES = [  # the prober itself: without it a hung front door pages only P2 (TargetDown)
    Rule(
        "ProberDown",
        f'avg by ({_by()}) (avg_over_time(up{{job="chaoslab", {PROBES}}}[1m])) < 0.5',
        30,
        "P3",
        PROBER.owner,
        "front-door",
        "the synthetic prober answered {{ $value | humanizePercentage }} of its scrapes in the last minute "
        "(team {{ $labels.team }})",
        "The front door's user journeys are not being probed: a front door that hangs would page only P2 "
        "(TargetDown), not P1 (JourneyAvailabilityFastBurn).",
        group="chaoslab.synthetic",
        headline="The synthetic prober is not answering",
    ),
]

RULES: list[Rule] = [
    *(rule for slo in SLOS for rule in slo.rules()),
    *SERVICE_RULES,
    *BUSINESS_RULES,
    *SYNTHETIC_RULES,
]
"""Every alert rule, in the order of the generated rule file."""


@dataclass(frozen=True)
class Inhibition:
    """Alertmanager's inhibit rule: while an alert matching ``source`` fires, an alert matching ``target``
    with the same values of the ``equal`` labels notifies nobody. It still goes on the incident's
    timeline, marked, and still counts as firing: the cause has paged, and its downstream symptom
    would only page the same people again for the same outage."""

    source: tuple[str, ...]
    """Matchers (chaoslab.alerts.matchers) on the cause's labels."""
    target: tuple[str, ...]
    """Matchers on the symptom's labels."""
    equal: tuple[str, ...]
    """Labels both must share (a label neither carries counts as equal, as in Alertmanager)."""
    why: str

    def holds(self, source: dict[str, str], target: dict[str, str]) -> bool:
        return (
            matchers.matches([matchers.parse(m) for m in self.source], source)
            and matchers.matches([matchers.parse(m) for m in self.target], target)
            and all(source.get(label, "") == target.get(label, "") for label in self.equal)
        )


INHIBITIONS = (
    Inhibition(
        ("alertname=RedisErrors",),
        ("alertname=~QueueBacklog|OutboxBacklog",),
        ("team",),
        "paid orders wait because Redis cannot be reached",
    ),
    Inhibition(
        ("alertname=TargetDown", "service=worker"),
        ("alertname=QueueBacklog",),
        ("team",),
        "a worker that is down takes nothing off the queue",
    ),
    Inhibition(
        ("alertname=ServiceRestarting",),
        ("alertname=TargetDown",),
        ("team", "service"),
        "a service that is restarting misses its scrapes",
    ),
)
"""What a firing cause keeps quiet: the lab applies them to every page (chaoslab.incident.alerting)."""


def inhibitor(target: dict[str, str], firing: list[dict[str, str]]) -> tuple[Inhibition, dict[str, str]] | None:
    """The inhibition and the firing alert (its labels, ``alertname`` among them) that keep ``target``
    quiet, if any."""
    for rule in INHIBITIONS:
        for source in firing:
            if rule.holds(source, target):
                return rule, source
    return None


def headline(alert: str, labels: dict[str, str]) -> str:
    """The plain title of a firing ``alert`` with these labels (``Rule.headline``), or its name when the
    lab does not define it (an alert paged by hand)."""
    for rule in RULES:
        if rule.alert == alert and all(labels.get(k, v) == v for k, v in rule.labels.items()):
            return render(rule.headline, labels, float("nan"))
    return alert


def check_alerts(scenario) -> None:
    """ScenarioError unless every alert a scenario names (its primary alert, those it accepts) is one of
    the lab's: the catalogue is the control plane's and may not import the alerts, so the training plane
    checks it before a drill starts (and a test checks the whole catalogue)."""
    for alert in (scenario.alert, *scenario.accepted_alerts):
        if alert not in alert_names():
            raise ScenarioError(
                f"{scenario.path.name}: alert {alert!r} is not an alert; alerts: {', '.join(alert_names())}"
            )


def alert_names() -> list[str]:
    """Each alert name once, in definition order."""
    return list(dict.fromkeys(rule.alert for rule in RULES))
