"""One order by hand through the front door: ``checkout`` for a trainee, ``smoke`` for ``helm test``."""

from __future__ import annotations

import json

import click

from chaoslab import command
from chaoslab.backend import Options
from chaoslab.cli import cli
from chaoslab.cli.common import backend, pass_options
from chaoslab.shop import place_order


@cli.command()
@click.option("--url", default=None, help="service-a's base URL (default: the lab's front door).")
@click.option("--customer", type=click.IntRange(1), default=1, show_default=True, help="Customer id (seeded 1-50).")
@click.option("--sku", default="SKU-1001", show_default=True)
@click.option("--quantity", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--wait", "wait_fulfilled", is_flag=True, help="Wait until the worker has fulfilled it.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Seconds to keep trying (the lab may still be starting) and to wait for fulfilment.",
)
@pass_options
def checkout(
    options: Options, url: str | None, customer: int, sku: str, quantity: int, wait_fulfilled: bool, timeout: float
) -> None:
    """Place one order through the front door and print it (with its trace id for `chaoslab traces`)."""
    order = place_order(url or backend(options).front_door(), customer, sku, quantity, wait_fulfilled, timeout)
    click.echo(json.dumps(order["order"], indent=2))
    click.echo(f"trace: {command('traces --trace ' + order['trace_id'])}" if order["trace_id"] else "")


@cli.command(hidden=True)
@click.option("--url", required=True, help="service-a's base URL, e.g. http://service-a:8080.")
@click.option("--timeout", type=click.FloatRange(min=1), default=60, show_default=True)
def smoke(url: str, timeout: float) -> None:
    """One checkout end to end: created, priced, charged, fulfilled (what `helm test` runs)."""
    order = place_order(url, 1, "SKU-1001", 1, wait_fulfilled=True, timeout_s=timeout)["order"]
    click.echo(f"order {order['id']} ({order['total']} {order['currency']}) was fulfilled")
