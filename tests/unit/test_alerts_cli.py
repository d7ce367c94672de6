"""`chaoslab runbook` and `chaoslab alerts` without a lab: one line and the right exit code."""

from __future__ import annotations

from click.testing import CliRunner

from chaoslab.cli import cli


def test_runbooks_are_printed_by_alert_name_and_unknown_names_exit_2():
    shown = CliRunner().invoke(cli, ["runbook", "QueueBacklog"])
    assert shown.exit_code == 0 and shown.output.startswith("# Worker and queue") and "## First checks" in shown.output
    wrong = CliRunner().invoke(cli, ["runbook", "NoSuchAlert"])
    assert wrong.exit_code == 2 and wrong.output.count("\n") == 1 and "QueueBacklog" in wrong.output


def test_alerts_without_a_lab_say_how_to_start_one(tmp_path):
    result = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), "alerts"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert f"chaoslab --state-dir {tmp_path} up" in result.output, "a hint that names the lab it was asked about"


def test_alerts_on_kubernetes_point_at_prometheus():
    result = CliRunner().invoke(cli, ["--target", "kubernetes", "alerts"])
    assert result.exit_code == 2 and "Prometheus" in result.output
