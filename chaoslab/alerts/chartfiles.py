"""The chart's files generated from the alert definitions (``make docs`` writes them;
tests/unit/test_alert_definitions.py fails when one drifts): charts/chaoslab/files/alerts.yaml, every
rule for Prometheus, and charts/chaoslab/files/synthetic.yaml, the synthetic prober's journeys as the
chart's blackbox exporter needs them (chaoslab/alerts/synthetic.py)."""

from __future__ import annotations

import sys

import yaml

from chaoslab.alerts.definitions import RULES
from chaoslab.alerts.rules import ROOT, Dumper, render
from chaoslab.alerts.synthetic import chart_document

CHART_RULES = ROOT / "charts" / "chaoslab" / "files" / "alerts.yaml"
CHART_SYNTHETIC = ROOT / "charts" / "chaoslab" / "files" / "synthetic.yaml"


SYNTHETIC_HEADER = """\
# The synthetic prober's journeys: GENERATED from chaoslab/alerts/synthetic.py by `make docs`; do not edit.
# `journeys` are the paths under the front door Prometheus has the blackbox exporter probe (one scrape job
# each); `blackbox` is the exporter's configuration, one module per journey (the chart sets the timeout).
"""


def render_synthetic() -> str:
    return SYNTHETIC_HEADER + yaml.dump(chart_document(), Dumper=Dumper, sort_keys=False, width=200)


def main(argv: list[str]) -> int:
    generated = {CHART_RULES: render(RULES), CHART_SYNTHETIC: render_synthetic()}
    if "--check" in argv:
        stale = [path for path, text in generated.items() if not path.exists() or path.read_text() != text]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run `make docs`", file=sys.stderr)
        return 1 if stale else 0
    for path, text in generated.items():
        path.write_text(text)
    print(f"{CHART_RULES.relative_to(ROOT)} regenerated ({len(RULES)} rules), and {CHART_SYNTHETIC.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
