"""``chaoslab console``: open the lab's console (service graph, traces, business panels) in a browser."""

from __future__ import annotations

import sys
import webbrowser
from urllib.parse import quote

import click

from chaoslab import console as console_pages
from chaoslab.backend import Options
from chaoslab.cli import cli
from chaoslab.cli.common import local_state, pass_options


@cli.command()
@click.option(
    "--instructor",
    is_flag=True,
    help="The instructor's view (faults, scenario, hints): signs in with the lab's token.",
)
@click.option("--open/--no-open", "open_browser", default=True, show_default=True, help="Open it in a browser.")
@pass_options
def console(options: Options, instructor: bool, open_browser: bool) -> None:
    """Open the lab's console: the live service graph, traces, business panels and the change feed."""
    from chaoslab.local.client import LabClient

    state = local_state(options)
    address = console_pages.url(LabClient(state).info()["api"], instructor)
    shown = address
    if instructor:
        address += "?token=" + quote(state.token(), safe="")
        shown += "?token=… (the lab's token, from " + str(state.token_file) + ")"
    click.echo(f"console: {shown if open_browser else address}")
    if open_browser and not webbrowser.open(address):
        click.echo(f"no browser found here; open the address yourself:\n  {address}")


@cli.command(name="console-server", hidden=True)
def console_server() -> None:
    """The platform's console: every team's console in one process (the chart's console Deployment runs
    this; settings CHAOSLAB_CONSOLE_*)."""
    from chaoslab.kubernetes.console import serve

    sys.exit(serve())
