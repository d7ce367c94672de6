"""The lab's Prometheus alert rules pass promtool's checks and its unit tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kubesupport import CHART
from support import tool

RULES = CHART / "files" / "alerts.yaml"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = tool("promtool")
    if path is None:
        pytest.skip("promtool is not installed: `make tools` installs it (CI always does)")
    return path


def test_rules_pass_promtool_check(promtool):
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_pass_their_unit_tests(promtool, tmp_path: Path):
    shutil.copy(RULES, tmp_path / "alerts.yaml")
    shutil.copy(Path(__file__).parent / "alerts_test.yaml", tmp_path / "alerts_test.yaml")
    result = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yaml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_has_a_severity_from_p1_to_p4_and_is_unit_tested():
    rules = [r for group in yaml.safe_load(RULES.read_text())["groups"] for r in group["rules"]]
    tested = {
        case["alertname"]
        for test in yaml.safe_load((Path(__file__).parent / "alerts_test.yaml").read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    for rule in rules:
        assert rule["labels"]["severity"] in ("P1", "P2", "P3", "P4"), rule["alert"]
        assert rule["annotations"].get("summary") and rule["annotations"].get("runbook"), rule["alert"]
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool unit test"
