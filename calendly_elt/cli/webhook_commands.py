"""``calendly-elt webhooks subscribe | list | delete | serve | load``: thin commands."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from calendly_elt.calendly.config import build_client, resolve_settings
from calendly_elt.cli.main import app, sub_app
from calendly_elt.cli.options import (
    DestinationOption,
    DuckdbOption,
    PipelinesDirOption,
    SkipModelsOption,
    quiet_dlt,
)
from calendly_elt.cli.signals import stop_on_signals
from calendly_elt.runner import make_pipeline, run_webhook_job
from calendly_elt.runner.run_history import recorded_run
from calendly_elt.webhooks import subscriptions
from calendly_elt.webhooks.keys import SigningKeyStore, receiver_keys
from calendly_elt.webhooks.settings import DEFAULT_HOST, DEFAULT_PORT

KEY_STORE_NAME = "calendly.webhook-keys.json"

webhooks_app = sub_app("Calendly webhook subscriptions and the delivery receiver.")
app.add_typer(webhooks_app, name="webhooks")

KeyStoreOption = Annotated[
    Path | None,
    typer.Option(
        "--key-store",
        envvar="CALENDLY_WEBHOOK_KEY_STORE",
        help="Signing-key store (0600); default: beside the token store, "
        ".dlt/calendly.webhook-keys.json.",
    ),
]
LandingDirOption = Annotated[
    Path | None,
    typer.Option(
        "--landing-dir",
        help="Folder of the JSON Lines landing files (default: webhook_landing_dir, "
        "./webhook_landing).",
    ),
]
ScopeOption = Annotated[
    str,
    typer.Option("--scope", help="organization (an admin's token) or user (your own events)."),
]


def _key_store(path: Path | None) -> SigningKeyStore:
    if path is not None:
        return SigningKeyStore(path)
    token_store = resolve_settings(require_credentials=False).token_store_path
    return SigningKeyStore(token_store.parent / KEY_STORE_NAME)


def _client() -> tuple[Any, str | None]:
    settings = resolve_settings()
    return build_client(settings), settings.organization


def _events(values: list[str] | None) -> list[str]:
    if not values:
        return list(subscriptions.DEFAULT_EVENTS)
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@webhooks_app.command("subscribe")
def subscribe(
    url: Annotated[str, typer.Option("--url", help="The receiver's public HTTPS URL.")],
    scope: ScopeOption = "organization",
    events: Annotated[
        list[str] | None,
        typer.Option("--events", help="Event names (repeat or comma-separate); default: all."),
    ] = None,
    key_store: KeyStoreOption = None,
) -> None:
    """Create a webhook subscription with a new signing key, kept in the key store."""
    store = _key_store(key_store)
    client, organization = _client()
    with client:
        created = subscriptions.subscribe(
            client, store, url=url, scope=scope, events=_events(events), organization=organization
        )
    typer.echo(f"subscribed: {created.get('uri')}")
    typer.echo(f"events: {', '.join(created.get('events') or [])}")
    typer.echo(f"signing key stored in {store.path}")


@webhooks_app.command("list")
def list_command(scope: ScopeOption = "organization") -> None:
    """List the webhook subscriptions (URI, state, callback URL, events)."""
    client, organization = _client()
    with client:
        rows = subscriptions.list_subscriptions(client, scope=scope, organization=organization)
    if not rows:
        typer.echo("no webhook subscriptions")
    for row in rows:
        events = ",".join(row.get("events") or [])
        typer.echo(f"{row.get('uri')}  {row.get('state')}  {row.get('callback_url')}  {events}")


@webhooks_app.command("delete")
def delete(
    uri: Annotated[str, typer.Argument(help="The subscription URI (from `webhooks list`).")],
    key_store: KeyStoreOption = None,
) -> None:
    """Delete a webhook subscription and forget its signing key."""
    store = _key_store(key_store)
    client, _ = _client()
    with client:
        forgot = subscriptions.delete_subscription(client, store, uri)
    typer.echo(f"deleted: {uri}" + ("" if forgot else " (no signing key was stored for it)"))


@webhooks_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = DEFAULT_PORT,
    landing_dir: LandingDirOption = None,
    key_store: KeyStoreOption = None,
) -> None:
    """Receive signed deliveries at POST /webhooks/calendly and land them (Ctrl-C stops).

    The signing keys come from CALENDLY_WEBHOOK_SECRET if set, else the key store.
    Prints WEBHOOK_URL=... once listening.
    """
    from calendly_elt.errors import ConfigError
    from calendly_elt.webhooks.server import serve as run_server

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port (0-65535; 0 picks a free one)")
    keys = receiver_keys(_key_store(key_store))

    def ready(url: str) -> None:
        typer.echo(f"WEBHOOK_URL={url}")
        sys.stdout.flush()

    run_server(keys, _landing_dir(landing_dir), host=host, port=port, on_ready=ready)


@webhooks_app.command("load")
def load(
    landing_dir: LandingDirOption = None,
    duckdb: DuckdbOption = None,
    destination: DestinationOption = None,
    pipelines_dir: PipelinesDirOption = None,
    skip_models: SkipModelsOption = False,
) -> None:
    """Merge the deliveries landed since the last merge into the warehouse, then build the models.

    No request to Calendly: every `run` does the same as its last step.
    """
    quiet_dlt()
    settings = resolve_settings(require_credentials=False)
    if landing_dir is not None:
        settings = replace(settings, webhook_landing_dir=landing_dir)
    pipeline = make_pipeline(
        destination=destination, duckdb_path=duckdb, pipelines_dir=pipelines_dir
    )
    with recorded_run(pipeline, "webhooks load") as recorder, stop_on_signals():
        result = recorder.result = run_webhook_job(pipeline, settings, build=not skip_models)
    counts = result.extraction.row_counts
    typer.echo(
        f"webhooks merged from {settings.webhook_landing_dir}: "
        f"{counts.get('webhook_events', (0, 0))[0]} deliveries loaded in all"
    )
    if result.models is not None:
        typer.echo(f"models built: {len(result.models.models)}")


def _landing_dir(option: Path | None) -> Path:
    """``--landing-dir``, else the configured ``webhook_landing_dir``."""
    return option or resolve_settings(require_credentials=False).webhook_landing_dir
