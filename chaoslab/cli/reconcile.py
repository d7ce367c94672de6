"""``chaoslab reconcile``: every order in the database against payment's ledger, now."""

from __future__ import annotations

import json

import click

from chaoslab.backend import Options
from chaoslab.chaos.reconcile import SETTLE_S, float_drill_ended_at
from chaoslab.chaos.reconcile import reconcile as run_reconcile
from chaoslab.cli import cli
from chaoslab.cli.common import backend, pass_options, team_option
from chaoslab.errors import BadInput, Refused


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="The full reconciliation as JSON.")
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=SETTLE_S,
    show_default=True,
    help="Spare orders younger than this many seconds (checkouts still in flight).",
)
@team_option
@pass_options
def reconcile(options: Options, team: str | None, as_json: bool, settle: float) -> None:
    """Reconcile every order with payment's ledger, over the whole database (what verify checks after
    load). Pending orders inside service-a's recovery window are in flight: listed, not counted. Exit 0
    when the books balance, 1 when any money is wrong or an order is stuck, 2 without a lab."""
    lab = backend(options, team)
    try:
        probe = lab.probe()
    except Refused as exc:
        raise BadInput(str(exc)) from None  # no lab: nothing to reconcile
    if "data" not in probe.sources:
        raise BadInput(f"reconciliation reads the lab's database, which {lab.where} does not expose to the CLI")
    since = float_drill_ended_at(lab.journals().audit.entries())
    books = run_reconcile(probe.query, since=since, settle_s=settle)
    if as_json:
        click.echo(json.dumps(books.to_json(), indent=2))
    else:
        click.echo(
            f"{books.orders} orders, {books.charges} charges, {books.charged} charged; "
            f"{books.mischarged.count} mischarged"
        )
        click.echo(books.summary())
        if books.in_flight.count:
            click.echo(books.in_flight_note())
        if books.explained_drift:
            click.echo(f"(plus {books.explained_drift} drift from the float-money drill, explained by the ledger)")
    if not books.ok:
        raise SystemExit(1)
