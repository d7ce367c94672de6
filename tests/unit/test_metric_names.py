"""One source for metric names (chaoslab/telemetry/names.py): every name there is a series the services
really expose, every metric the services register is named there, and every metric the alert rules read
is one of them (or the scrape's own ``up``, or the synthetic prober's)."""

from __future__ import annotations

import importlib

import pytest
from prometheus_client import REGISTRY

from chaoslab.alerts import promql, synthetic
from chaoslab.alerts.definitions import RULES
from chaoslab.chaos.checks import Check, CheckError
from chaoslab.telemetry import names

SUFFIXES = {"counter": "_total", "info": "_info"}
DEFAULT_COLLECTORS = ("python_", "process_")
"""prometheus-client's own collectors: names holds the two of them the lab reads."""


def exposed() -> set[str]:
    """The series names as scraped (a histogram by its base): the services register on import."""
    for service in ("service_a", "service_b", "service_c", "payment", "gateway", "worker"):
        importlib.import_module(f"chaoslab.services.{service}.app")
    return {family.name + SUFFIXES.get(family.type, "") for family in REGISTRY.collect()}


def test_every_name_is_exposed_and_every_service_metric_is_named():
    found = exposed()
    assert names.EXPOSED - found == set()
    assert {name for name in found if not name.startswith(DEFAULT_COLLECTORS)} - names.EXPOSED == set()


def _series_of_histogram(name: str) -> bool:
    return any(name == f"{base}{suffix}" for base in names.EXPOSED for suffix in ("_bucket", "_count", "_sum"))


def test_every_metric_an_alert_reads_is_a_named_one():
    prober = {synthetic.SUCCESS, synthetic.DURATION, synthetic.STATUS}
    read = {selector.name for rule in RULES for selector in promql.selectors(rule.ast)}
    assert len(read) >= 10
    known = names.EXPOSED | prober | {"up"}
    unknown = {name for name in read if name not in known and not _series_of_histogram(name)}
    assert unknown == set()


def test_a_scenario_check_naming_an_unknown_metric_is_refused():
    with pytest.raises(CheckError, match="no service exposes it"):
        Check.parse({"measure": "metric_value", "service": "payment", "metric": "payment_processed", "max": 0})
    assert Check.parse({"measure": "metric_value", "service": "worker", "metric": names.QUEUE_DEPTH, "max": 50})
