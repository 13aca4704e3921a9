"""``calendly-elt sim ...``: run the bundled Calendly simulator."""

from __future__ import annotations

import typer

from pipelines.cli.main import app

sim_app = typer.Typer(help="The bundled Calendly API simulator.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
