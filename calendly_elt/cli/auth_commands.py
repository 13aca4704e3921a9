"""``calendly-elt auth login | status | logout``: connect an OAuth app without copying tokens.

Thin commands over :mod:`calendly_elt.calendly.helpers.oauth_login` and
``oauth_session``. The app (``CALENDLY_CLIENT_ID`` / ``CALENDLY_CLIENT_SECRET``),
``auth_base_url``, ``base_url`` and ``token_store_path`` come from the same
configuration as ``run``. Results go to stdout, the authorize URL to stderr;
no token is ever printed.
"""

from __future__ import annotations

import re
import webbrowser
from datetime import datetime
from typing import Annotated, Any

import typer

from calendly_elt.calendly.config import CalendlySettings, resolve_settings
from calendly_elt.calendly.helpers.auth import TokenStore
from calendly_elt.calendly.helpers.oauth_login import (
    DEFAULT_TIMEOUT_SECONDS,
    LoginResult,
    OAuthApp,
    login,
)
from calendly_elt.calendly.helpers.oauth_session import connection_status, logout
from calendly_elt.calendly.helpers.scopes import BATCH_SCOPE_USES, DEFAULT_LOGIN_SCOPES
from calendly_elt.cli.main import app, sub_app
from calendly_elt.errors import ConfigError

auth_app = sub_app("Connect an OAuth app: login, status, logout.")
app.add_typer(auth_app, name="auth")

_SCOPE_SYNTAX = re.compile(r"^[a-z][a-z_]*:(read|write)$")


def _settings() -> CalendlySettings:
    return resolve_settings(require_credentials=False)


def _oauth_app(settings: CalendlySettings) -> OAuthApp:
    return OAuthApp(
        client_id=settings.client_id or "",
        client_secret=settings.client_secret or "",
        auth_base_url=settings.auth_base_url,
        base_url=settings.base_url,
    )


def _scopes(given: list[str] | None) -> tuple[str, ...]:
    if not given:
        return DEFAULT_LOGIN_SCOPES
    names = [name for item in given for name in re.split(r"[\s,]+", item) if name]
    bad = [name for name in names if not _SCOPE_SYNTAX.match(name)]
    if bad:
        raise ConfigError(f"--scope {bad[0]!r} is not a scope like scheduled_events:read")
    return tuple(dict.fromkeys(names))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else "unknown"


def _describe_user(user: dict[str, Any] | None, owner: str | None) -> str:
    if user is None:
        return f"{owner or 'unknown user'} (name not readable without users:read)"
    return f"{user.get('name')} <{user.get('email')}> ({user.get('uri')})"


@auth_app.command("login")
def login_command(
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="Scope to ask for (repeat, or space/comma separated); default: what batch"
            " runs and webhooks need.",
        ),
    ] = None,
    port: Annotated[
        int, typer.Option(help="Loopback callback port on 127.0.0.1 (0 picks a free one).")
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Only print the authorize URL.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the browser's redirect.")
    ] = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Authorize the OAuth app in a browser (PKCE) and store its tokens for `run`."""
    settings = _settings()
    oauth_app = _oauth_app(settings)
    wanted = _scopes(scope)

    def open_url(url: str) -> None:
        typer.echo(f"Open this URL to authorize calendly-elt:\n{url}", err=True)
        if not no_browser:
            webbrowser.open(url)

    result = login(
        oauth_app,
        TokenStore(settings.token_store_path),
        open_url,
        scopes=wanted,
        port=port,
        timeout=timeout,
    )
    _print_login(result, settings)


def _print_login(result: LoginResult, settings: CalendlySettings) -> None:
    typer.echo(f"connected: {_describe_user(result.user, None)}")
    typer.echo(f"organization: {result.organization or 'unknown'}")
    typer.echo(f"granted scopes: {' '.join(result.granted)}")
    for refused in result.refused:
        skipped = BATCH_SCOPE_USES.get(refused, "the commands that need it")
        typer.echo(f"refused scope: {refused} (without it, runs skip {skipped})")
    typer.echo(f"access token valid until: {_when(result.expires_at)} (runs refresh it)")
    typer.echo(f"tokens stored in: {settings.token_store_path}")
    if settings.refresh_token:
        typer.echo(
            "warning: CALENDLY_REFRESH_TOKEN is set and wins over the stored tokens; unset it",
            err=True,
        )
    if settings.access_token:
        typer.echo(
            "warning: CALENDLY_ACCESS_TOKEN is set: runs use that personal token, not this login",
            err=True,
        )


@auth_app.command("status")
def status_command() -> None:
    """Show the connected user, organization, scopes and token expiry (never a token)."""
    settings = _settings()
    status = connection_status(_oauth_app(settings), TokenStore(settings.token_store_path))
    typer.echo(f"user: {_describe_user(status.user, status.owner)}")
    typer.echo(f"organization: {status.organization or 'unknown'}")
    typer.echo(f"scopes: {' '.join(status.scopes) or 'unknown'}")
    states = {
        "active": f"valid until {_when(status.expires_at)}",
        "refreshable": f"expired {_when(status.expires_at)}; the next run refreshes it",
        "invalid": "revoked or no longer valid: run `calendly-elt auth login`",
    }
    typer.echo(f"access token: {states[status.state]}")
    typer.echo(f"token store: {settings.token_store_path}")


@auth_app.command("logout")
def logout_command(
    no_revoke: Annotated[
        bool,
        typer.Option("--no-revoke", help="Only forget the stored tokens; do not revoke them."),
    ] = False,
) -> None:
    """Revoke the stored OAuth grant at Calendly and forget the tokens."""
    settings = _settings()
    store = TokenStore(settings.token_store_path)
    done = logout(store, None if no_revoke else _oauth_app(settings))
    if not done:
        typer.echo(f"no OAuth tokens stored in {store.path}; nothing to do")
        return
    typer.echo(("forgot" if no_revoke else "revoked and forgot") + f" the tokens in {store.path}")
