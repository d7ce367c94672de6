"""The chart's files generated from the alert definitions (``make docs`` writes them;
tests/unit/test_alert_definitions.py fails when one drifts): charts/chaoslab/files/alerts.yaml, every
rule for Prometheus, charts/chaoslab/files/inhibitions.yaml, the inhibitions as Alertmanager's
``inhibit_rules``, and charts/chaoslab/files/synthetic.yaml, the synthetic prober's journeys as the
chart's blackbox exporter needs them (chaoslab/alerts/synthetic.py)."""

from __future__ import annotations

import json
import sys

import yaml

from chaoslab.alerts.definitions import INHIBITIONS, RULES
from chaoslab.alerts.matchers import parse
from chaoslab.alerts.rules import ROOT, Dumper, render
from chaoslab.alerts.synthetic import chart_document

CHART_RULES = ROOT / "charts" / "chaoslab" / "files" / "alerts.yaml"
CHART_SYNTHETIC = ROOT / "charts" / "chaoslab" / "files" / "synthetic.yaml"
CHART_INHIBITIONS = ROOT / "charts" / "chaoslab" / "files" / "inhibitions.yaml"


SYNTHETIC_HEADER = """\
# The synthetic prober's journeys: GENERATED from chaoslab/alerts/synthetic.py by `make docs`; do not edit.
# `journeys` are the paths under the front door Prometheus has the blackbox exporter probe (one scrape job
# each); `blackbox` is the exporter's configuration, one module per journey (the chart sets the timeout).
"""


INHIBITIONS_HEADER = """\
# Alertmanager's inhibit_rules: GENERATED from INHIBITIONS in chaoslab/alerts/definitions.py by `make docs`;
# do not edit. The chart's Alertmanager applies them; the local lab applies the same definitions itself.
"""


def _alertmanager_matcher(text: str) -> str:
    """``alertname=~A|B`` as Alertmanager writes it: ``alertname=~"A|B"`` (its quoting is JSON's)."""
    name, op, value = parse(text)
    return f"{name}{op}{json.dumps(value)}"


def render_inhibitions() -> str:
    rules = [
        {
            "source_matchers": [_alertmanager_matcher(m) for m in rule.source],
            "target_matchers": [_alertmanager_matcher(m) for m in rule.target],
            "equal": list(rule.equal),
        }
        for rule in INHIBITIONS
    ]
    return INHIBITIONS_HEADER + yaml.dump(rules, Dumper=Dumper, sort_keys=False, width=200)


def render_synthetic() -> str:
    return SYNTHETIC_HEADER + yaml.dump(chart_document(), Dumper=Dumper, sort_keys=False, width=200)


def main(argv: list[str]) -> int:
    generated = {
        CHART_RULES: render(RULES),
        CHART_SYNTHETIC: render_synthetic(),
        CHART_INHIBITIONS: render_inhibitions(),
    }
    if "--check" in argv:
        stale = [path for path, text in generated.items() if not path.exists() or path.read_text() != text]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run `make docs`", file=sys.stderr)
        return 1 if stale else 0
    for path, text in generated.items():
        path.write_text(text)
    others = f"{CHART_INHIBITIONS.name} and {CHART_SYNTHETIC.name}"
    print(f"{CHART_RULES.relative_to(ROOT)} regenerated ({len(RULES)} rules), {others}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
