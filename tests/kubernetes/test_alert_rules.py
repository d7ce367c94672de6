"""The generated alert rules pass promtool's checks and unit tests, and the lab daemon's evaluator fires
exactly what Prometheus fires: the same alerts, labels and summaries, at every evaluation step, for every
series of the unit tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import yaml

from chaoslab.alerts import promql
from chaoslab.alerts.chartfiles import CHART_RULES
from chaoslab.alerts.definitions import RULES, alert_names
from chaoslab.alerts.evaluator import Evaluator
from chaoslab.alerts.history import History
from chaoslab.alerts.scrape import JOB

UNIT_TESTS = Path(__file__).parent / "alerts_test.yaml"


def run_promtool_tests(promtool: str, tests: dict, work: Path) -> subprocess.CompletedProcess:
    shutil.copy(CHART_RULES, work / "alerts.yaml")
    (work / "alerts_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False, width=1000))
    return subprocess.run([promtool, "test", "rules", "alerts_test.yaml"], capture_output=True, text=True, cwd=work)


def test_rules_pass_promtool_check(promtool):
    result = subprocess.run([promtool, "check", "rules", str(CHART_RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_pass_their_unit_tests(promtool, tmp_path: Path):
    result = run_promtool_tests(promtool, yaml.safe_load(UNIT_TESTS.read_text()), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing():
    firing = {
        case["alertname"]
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    missing = [name for name in alert_names() if name not in firing]
    assert not missing, f"no promtool test shows these alerts firing: {missing}"


# ---- promtool's series notation, fed to the lab daemon's evaluator ----------------------------------

_EXPANDING = re.compile(r"^(-?[0-9.eE+]+?)(?:([+-])([0-9.eE+]+))?x(\d+)$")


def expand(values: str) -> list[float | None]:
    """promtool's input series notation: ``a``, ``a+bxn`` / ``a-bxn`` (n+1 values), ``axn``, ``_``,
    ``_xn`` (n gaps), ``stale``. None is a gap."""
    out: list[float | None] = []
    for token in values.split():
        if token == "_":
            out.append(None)
        elif token.startswith("_x"):
            out.extend([None] * int(token[2:]))
        elif token == "stale":
            out.append(promql.STALE)
        else:
            match = _EXPANDING.match(token)
            if match is None:
                out.append(float(token))
                continue
            start, sign, step, count = match.groups()
            delta = (float(step) if step else 0.0) * (-1 if sign == "-" else 1)
            out.extend(float(start) + i * delta for i in range(int(count) + 1))
    return out


def parse_series(text: str) -> dict[str, str]:
    selector = promql.parse(text)
    assert isinstance(selector, promql.Selector) and all(m.op == "=" for m in selector.matchers), text
    return {"__name__": selector.name, **{m.name: m.value for m in selector.matchers}}


def seconds(duration: str) -> int:
    return promql.parse_duration(duration) // 1000


def local_firing(test: dict, interval_s: int, until_s: int) -> dict[int, list[dict]]:
    """Every evaluation step from 0 to ``until_s``: the alerts the lab's evaluator has firing."""
    history = History(retention_ms=24 * 3_600_000)
    step_ms = seconds(test.get("interval", "1m")) * 1000
    for series in test["input_series"]:
        labels = parse_series(series["series"])
        for i, value in enumerate(expand(series["values"])):
            if value is not None:
                history.append(labels, i * step_ms, value)
    evaluator = Evaluator(RULES)
    firing = {}
    for t in range(0, until_s + 1, interval_s):
        evaluator.evaluate(history, t * 1000)
        firing[t] = [replace(a, labels=dict(a.labels)) for a in evaluator.alerts() if a.state == "firing"]
    return firing


def test_the_series_notation_is_read_like_promtool():
    assert expand("1 _ 2+3x2 _x2 5x1 4-1x1 stale")[:10] == [1, None, 2, 5, 8, None, None, 5, 5, 4]
    assert promql.is_stale(expand("stale")[0])


def test_the_lab_evaluator_fires_what_promtool_fires_at_every_step(promtool, tmp_path: Path):
    """For each unit test's series, the lab daemon's evaluator decides, at every evaluation step, which
    alerts fire with which labels and annotations; promtool must agree at every one of those steps."""
    suite = yaml.safe_load(UNIT_TESTS.read_text())
    interval_s = seconds(suite["evaluation_interval"])
    names = alert_names()
    rewritten = []
    fired_somewhere = set()
    for test in suite["tests"]:
        until = max(seconds(case["eval_time"]) for case in test["alert_rule_test"])
        cases = []
        for t, alerts in local_firing(test, interval_s, until).items():
            for name in names:
                expected = [
                    {"exp_labels": {k: v for k, v in a.labels.items()}, "exp_annotations": _annotations(a)}
                    for a in alerts
                    if a.alert == name
                ]
                fired_somewhere.update(a.alert for a in alerts)
                cases.append({"eval_time": f"{t}s", "alertname": name, "exp_alerts": expected})
        rewritten.append({**test, "alert_rule_test": cases})
    assert fired_somewhere == set(names), f"never fire locally: {set(names) - fired_somewhere}"
    result = run_promtool_tests(promtool, {**suite, "tests": rewritten}, tmp_path)
    assert result.returncode == 0, "promtool disagrees with the lab's evaluator:\n" + result.stdout[-6000:]


def _annotations(alert) -> dict[str, str]:
    return {"summary": alert.summary, "description": alert.description, "runbook_url": alert.runbook_url}


# ---- the chart ships these rules ---------------------------------------------------------------------


def prometheus_config(helm: str, *args: str) -> dict:
    from kubesupport import render

    (config,) = [d for d in render(helm, *args) if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "prometheus"]
    return config["data"]


def test_the_chart_ships_the_generated_rules_and_honours_the_services_own_labels(helm):
    data = prometheus_config(helm)
    assert yaml.safe_load(data["alerts.yaml"]) == yaml.safe_load(CHART_RULES.read_text())
    (job,) = [j for j in yaml.safe_load(data["prometheus.yml"])["scrape_configs"] if j["job_name"] == JOB]
    assert job["honor_labels"] is True, "the samples' own service and team labels must win over exported_*"
    assert {"service", "team", "namespace"} <= {r.get("target_label") for r in job["relabel_configs"]}, (
        "up needs its target labels"
    )


def test_the_chart_can_turn_runbook_paths_into_urls(helm):
    base = "https://git.example.com/chaoslab/blob/main/"
    rules = yaml.safe_load(
        prometheus_config(helm, "--set", f"observability.prometheus.runbookBaseUrl={base}")["alerts.yaml"]
    )
    urls = [r["annotations"]["runbook_url"] for g in rules["groups"] for r in g["rules"]]
    assert urls and all(u.startswith(base + "docs/runbooks/") and u.endswith(".md") for u in urls)
