"""What a container or the local lab's supervisor runs: one component in the foreground, and the
schema migrations. Kept apart so that starting a service loads the service and nothing else of the
lab (chaoslab.cli imports a command's module only when it runs)."""

from __future__ import annotations

import importlib
import sys

import click
import psycopg

from chaoslab.cli import cli
from chaoslab.errors import Refused
from chaoslab.services.common.migrations import LATEST, apply, ensure_database
from chaoslab.topology import PROBER, SERVICE_NAMES, component


@cli.command()
@click.argument("name", type=click.Choice((*SERVICE_NAMES, PROBER.name)))
def serve(name: str) -> None:
    """Run one component in the foreground (the entry point of every container and local process).

    `prober` is the synthetic prober of the front door's journeys (its pod on Kubernetes; the local lab
    runs it inside its daemon)."""
    module = importlib.import_module("chaoslab.alerts.synthetic" if name == PROBER.name else component(name).module)
    sys.exit(module.main())


@cli.command()
@click.option(
    "--database-url", envvar="CHAOSLAB_DATABASE_URL", required=True, help="PostgreSQL URL (env CHAOSLAB_DATABASE_URL)."
)
@click.option(
    "--create-database/--no-create-database",
    default=False,
    help="Create the URL's database first if it does not exist.",
)
def migrate(database_url: str, create_database: bool) -> None:
    """Apply pending schema migrations (idempotent)."""
    try:
        if create_database and ensure_database(database_url):
            click.echo("created the database")
        applied = apply(database_url, say=click.echo)
    except psycopg.OperationalError as exc:
        raise Refused(f"cannot reach PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
    click.echo(f"schema at version {LATEST}" + ("" if applied else " (nothing to do)"))
