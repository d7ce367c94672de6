"""One place maps errors to exit codes: bad input 2, a lab not in the state asked for 1, one line each."""

from __future__ import annotations

from click.testing import CliRunner

from chaoslab.backend import Options
from chaoslab.cli import cli
from chaoslab.cli.common import open_backend


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_a_local_only_command_with_the_kubernetes_target_is_bad_input(tmp_path):
    result = run("--state-dir", str(tmp_path), "--target", "kubernetes", "status")
    assert result.exit_code == 2
    assert result.output.startswith("chaoslab: this command runs the local lab") and result.output.count("\n") == 1


def test_no_lab_is_exit_1_and_says_where_it_looked(tmp_path):
    result = run("--state-dir", str(tmp_path / "nowhere"), "status")
    assert result.exit_code == 1
    assert f"no lab is running in {tmp_path / 'nowhere'}" in result.output and "--state-dir" in result.output


def test_reap_on_the_local_lab_is_bad_input(tmp_path):
    result = run("--state-dir", str(tmp_path), "reap")
    assert result.exit_code == 2 and "use --target kubernetes" in result.output


def test_reset_without_a_lab_clears_saved_faults(tmp_path):
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "payment.faults.json").write_text('[{"id": "f-00000001", "kind": "db_outage"}]')
    result = run("--state-dir", str(tmp_path), "reset")
    assert result.exit_code == 0 and "cleared 1 saved fault(s)" in result.output
    assert (agents / "payment.faults.json").read_text() == "[]"


def test_team_options_point_at_the_team_namespace_without_touching_a_cluster(tmp_path):
    options = Options(tmp_path).for_team("red")
    assert (options.target, options.namespace) == ("kubernetes", "chaoslab-red")
    assert Options(tmp_path).for_team(None).target == "local"
    backend = open_backend(options)  # lazy: no API call until a method needs one
    assert backend.target == "kubernetes" and backend.where == "namespace chaoslab-red"
    assert open_backend(Options(tmp_path)).front_door  # the local backend, also without a lab


def test_every_command_is_mapped_to_the_module_that_registers_it():
    """`chaoslab X` loads X's module from COMMANDS on demand: a command missing there is "No such
    command" in a shell, however well its module defines it."""
    import importlib
    import pkgutil

    import chaoslab.cli as package
    from chaoslab.cli import COMMANDS

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"chaoslab.cli.{module.name}")
    for name, command in cli.commands.items():
        module = command.callback.__module__.removeprefix("chaoslab.cli.")
        assert COMMANDS.get(name) == module, f"`{name}` (chaoslab/cli/{module}.py) is not in COMMANDS"
    assert set(COMMANDS) <= set(cli.commands), sorted(set(COMMANDS) - set(cli.commands))


def test_the_pager_on_the_local_lab_is_bad_input(tmp_path):
    result = run("--state-dir", str(tmp_path), "pager")
    assert result.exit_code == 2 and "the local lab daemon" in result.output


def test_more_time_for_a_drill_is_a_number_and_a_unit_up_to_two_hours(tmp_path):
    for command in (("scenario", "extend"), ("gameday", "extend")):
        for by, message in (("3h", "between 1 s and 2 h"), ("soon", "use a number and a unit"), ("0s", "between")):
            result = run("--state-dir", str(tmp_path / "nowhere"), *command, "--by", by)
            assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1, result.output
