"""Keeps the README's reference tables true to the code: components and ports from
``topology``, environment variables from ``settings``, alerts from ``chaoslab.alerts.definitions``.

``python -m chaoslab.docs`` rewrites the generated sections and the chart's alert rules
(``make docs``); ``--check`` exits 1 when either is stale (tests/unit/test_docs.py and
tests/unit/test_alert_definitions.py check them).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from chaoslab import dashboards, settings
from chaoslab.alerts import chartfiles
from chaoslab.alerts.definitions import RULES
from chaoslab.alerts.rules import duration
from chaoslab.alerts.tiers import TIERS
from chaoslab.chaos.faults import DEFAULT_TTL_S, KINDS, MAX_TTL_S
from chaoslab.chaos.scenarios import catalogue
from chaoslab.loadtest.verify import BASELINE_SLO, RECONCILIATION
from chaoslab.topology import COMPONENTS, DEPENDENCIES

README = Path(__file__).resolve().parents[1] / "README.md"


def components_table() -> str:
    rows = ["| Component | Role | Owner | Ports (container / preferred local) | Calls |", "|---|---|---|---|---|"]
    for c in COMPONENTS:
        ports = ", ".join(f"{name} {port}" for name, port in c.ports.items())
        calls = (
            ", ".join(
                [peer + (" (deadlock drill only)" if peer in c.dormant else "") for peer, _ in c.peers.values()]
                + list(c.uses)
            )
            or "nothing"
        )
        rows.append(f"| `{c.name}` | {c.role} | {c.owner} | {ports} | {calls} |")
    for d in DEPENDENCIES:
        rows.append(f"| `{d.name}` | {d.role} | {d.owner} | {d.port} | |")
    return "\n".join(rows) + "\n"


def settings_tables() -> str:
    out: list[str] = []
    for group in settings.ALL_GROUPS:
        out += [f"**{group.__doc__.strip()}**", "", "| Variable | Default | Meaning |", "|---|---|---|"]
        for name, default, help_text in settings.describe(group):
            shown = f"`{default}`" if default != "" else "(empty)"
            out.append(f"| `{name}` | {shown} | {help_text} |")
        out.append("")
    out += ["**OpenTelemetry (read by the SDK itself)**", "", "| Variable | Meaning |", "|---|---|"]
    out += [f"| `{name}` | {help_text} |" for name, help_text in settings.OTEL_VARIABLES.items()]
    return "\n".join(out) + "\n"


def faults_table() -> str:
    rows = ["| Kind | What it does | Where | Parameters (default, range) |", "|---|---|---|---|"]
    scopes = {
        "service": "`--service`",
        "peer": "`--service` `--peer`",
        "route_or_peer": "`--service` `--route` or `--peer`",
    }
    for kind in KINDS.values():
        params = (
            "<br>".join(
                f"`{p.name}={p.default:g}` ({p.allowed()})"
                if isinstance(p.default, float)
                else f"`{p.name}={p.default}` ({p.allowed()})"
                for p in kind.params
            )
            or "none"
        )
        services = "any service" if len(kind.services) == 6 else ", ".join(kind.services)
        rows.append(f"| `{kind.name}` | {kind.summary} | {scopes[kind.scope]} on {services} | {params} |")
    rows.append("")
    rows.append(f"Every fault has a TTL: `--ttl` seconds, default {DEFAULT_TTL_S:g}, at most {MAX_TTL_S:g}.")
    return "\n".join(rows) + "\n"


def scenarios_table() -> str:
    rows = ["| Drill | Level | Trainees see | Fixes |", "|---|---|---|---|"]
    for s in catalogue():
        fixes = ", ".join(f"`{f.id}`" for f in s.fixes) or "diagnosis only"
        rows.append(f"| `{s.id}` | {s.difficulty} | {s.title} | {fixes} |")
    return "\n".join(rows) + "\n"


def baseline_slo() -> str:
    lines = [f"- `{c.describe()}`" for c in BASELINE_SLO]
    lines += [f"- `{c.describe()}` (every run)" for c in RECONCILIATION]
    return "\n".join(lines) + "\n"


def alerts_tables() -> str:
    rows = ["| Tier | Means | Notifies | Acknowledge within | Status updates |", "|---|---|---|---|---|"]
    for t in TIERS.values():
        ack = f"{t.ack_within_s / 60:g} min, then it escalates" if t.ack_within_s else "-"
        update = f"every {t.update_every_s / 60:g} min" if t.update_every_s else "-"
        rows.append(f"| {t.name} | {t.meaning} | {t.notifies} | {ack} | {update} |")
    rows += ["", "| Alert | Tier | For | Owner | Runbook |", "|---|---|---|---|---|"]
    by_name: dict[str, list] = {}
    for rule in RULES:
        by_name.setdefault(rule.alert, []).append(rule)
    for name, same in by_name.items():
        first = same[0]
        owners = sorted({r.owner for r in same})
        owner = "the service's team" if len(same) > 1 else owners[0]
        runbook = f"[{first.runbook}]({first.runbook_url})"
        rows.append(f"| `{name}` | {first.severity} | {duration(first.for_s)} | {owner} | {runbook} |")
    return "\n".join(rows) + "\n"


SECTIONS = {
    "components": components_table,
    "settings": settings_tables,
    "faults": faults_table,
    "scenarios": scenarios_table,
    "baseline-slo": baseline_slo,
    "alerts": alerts_tables,
}


def render(text: str) -> str:
    for name, build in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README has no generated section {name!r}")
        generated = build()
        text = pattern.sub(lambda m, generated=generated: m.group(1) + generated + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    """README's tables, the chart's alert rules and its Grafana dashboards: written, or with --check only
    compared (exit 1 when one is stale)."""
    current = README.read_text()
    wanted = render(current)
    if "--check" in argv:
        if wanted != current:
            print("README.md reference tables are stale: run `make docs`", file=sys.stderr)
            return 1
    else:
        README.write_text(wanted)
        print("README.md reference tables regenerated")
    return chartfiles.main(argv) or dashboards.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
